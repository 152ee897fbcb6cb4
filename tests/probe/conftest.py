"""A library with a planted footprint: the "init" column sets the scale of one layer's weights.

Every model has four 6x6 layers ``l0 .. l3`` (144 weights, so MI-WD with S=4 has one layer per
window). Weights are standard normal, except layer ``l1``, whose distribution is set by the
categorical column ``init``: narrow N(0, 0.3), wide N(0, 3) or shifted N(1.5, 1). (Three scales
alone would leave the middle one separable from the others by no single hyperplane, which is what
a one-vs-rest linear SVM needs.) ``label`` is a random column with three values and
no footprint. Each model has three snapshots (small noise around the final weights). Accuracy is
a planted linear function of ``init`` and ``learning_rate`` plus noise; a few models are failed
trainings (accuracy below the 2x-chance threshold of ``digits``, 0.2).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from weightspace import Library, WeightSet

#: A small conv + FC network (1,290 weights) for the DMC and performance-map tests.
DMC_SHAPES = {
    "conv1.weight": (16, 4, 3, 3),
    "conv1.bias": (16,),
    "fc1.weight": (16, 32),
    "fc1.bias": (16,),
    "fc2.weight": (10, 16),
    "fc2.bias": (10,),
}
INITS = {"narrow": (0.0, 0.3), "wide": (0.0, 3.0), "shifted": (1.5, 1.0)}
ACC_EFFECT = {"narrow": -0.15, "wide": 0.10, "shifted": 0.05}
N_MODELS = 120
N_FAILED = 6


def _weights(rng: np.random.Generator, init: str) -> dict[str, np.ndarray]:
    arrays = {f"l{i}.weight": rng.normal(size=(6, 6)) for i in range(4)}
    mean, std = INITS[init]
    arrays["l1.weight"] = mean + std * arrays["l1.weight"]
    return arrays


@pytest.fixture(scope="package")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(1234)
    path = tmp_path_factory.mktemp("probe") / "lib"
    lib = Library.create(path)
    inits = np.array(list(INITS))[np.arange(N_MODELS) % 3]
    labels = rng.choice(["x", "y", "z"], size=N_MODELS)
    items = []
    for i in range(N_MODELS):
        final = _weights(rng, str(inits[i]))
        snaps = [
            WeightSet.from_arrays({k: v + rng.normal(0, 0.05, v.shape) for k, v in final.items()})
            for _ in range(2)
        ] + [WeightSet.from_arrays(final)]
        lr = float(rng.uniform(0.0002, 0.005))
        acc = 0.6 + ACC_EFFECT[str(inits[i])] + 20 * lr + rng.normal(0, 0.02)
        if i < N_FAILED:
            acc = 0.1
        items.append(
            {
                "weights": snaps,
                "hparams": {
                    "dataset": "digits",
                    "init": str(inits[i]),
                    "label": str(labels[i]),
                    "learning_rate": lr,
                    "seed": i,
                },
                "metrics": {"test_acc": float(np.clip(acc, 0, 1))},
            }
        )
    lib.add_many(items)
    lib.close()
    return path


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a module of tiny networks: one thread is fastest, and on a busy 2-core
    machine two threads spin against each other (tens of times slower). Restored after the module."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------------------ the HTT task zoo
#: The planted task zoo (see ``test_htt.py``): tasks, trainings per task, layer sizes.
N_TASKS, RUNS, IN, HIDDEN, OUT = 5, 20, 6, 12, 3


def _network(rng: np.random.Generator, templates: np.ndarray | None) -> dict[str, np.ndarray]:
    if templates is None:
        w1 = rng.normal(size=(HIDDEN, IN))
    else:
        w1 = np.concatenate([templates, -templates]) + rng.normal(0, 0.15, (HIDDEN, IN))
    w2 = rng.normal(size=(OUT, HIDDEN))
    perm = rng.permutation(HIDDEN)
    return {"l1.weight": w1[perm], "l2.weight": w2[:, perm]}


@pytest.fixture(scope="module")
def task_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("htt") / "zoo"
    lib = Library.create(path)
    templates = rng.normal(size=(N_TASKS, HIDDEN // 2, IN))
    items = []
    for task in range(N_TASKS):
        for run in range(RUNS):
            snaps = [_network(rng, None), _network(rng, templates[task])]
            items.append(
                {
                    "weights": [WeightSet.from_arrays(s) for s in snaps],
                    "hparams": {"task": task, "seed": run, "random_task": int(rng.integers(5))},
                    "metrics": {"test_acc": 0.9},
                }
            )
    lib.add_many(items)
    lib.close()
    return path


# ------------------------------------------------------------------------------ the map library
#: Models per class and the DMC window of the planted map library: ``init = "b"`` scales the
#: ``fc1`` kernel by 3 from the third of four snapshots on (see ``test_performance_map.py``).
MAP_PER_CLASS = 40
MAP_WINDOW = 64


@pytest.fixture(scope="module")
def planted_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("maps") / "lib"
    lib = Library.create(path)
    inits = np.repeat(["a", "b"], MAP_PER_CLASS)
    items = []
    for init in inits:
        snaps = []
        for s in range(4):
            arrays = {k: rng.normal(size=v).astype(np.float32) for k, v in DMC_SHAPES.items()}
            if init == "b" and s >= 2:
                arrays["fc1.weight"] *= 3.0
            snaps.append(WeightSet.from_arrays(arrays))
        items.append(
            {
                "weights": snaps,
                "hparams": {"dataset": "digits", "init": str(init)},
                "metrics": {"test_acc": 0.9},
                "snapshots": [{"epoch": s, "progress": s / 3} for s in range(4)],
            }
        )
    lib.add_many(items)
    lib.close()
    return path
