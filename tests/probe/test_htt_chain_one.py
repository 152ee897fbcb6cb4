"""Why chain 1 of a CNN task zoo identifies its tasks poorly: the first layer keeps its seed's
random initialization.

A CNN's chain 1 is the Gram matrix of its (row-normalized) first-layer filters. The controlled
experiment trains the same small CNN on binary tasks of bar images:

- orientation: task k separates bars at angle 22.5 k degrees from bars at 22.5 k + 90 degrees (the
  tasks differ in their local statistics, so they need different filters);
- position: every image is a horizontal bar, and task k separates two halves of the image (every
  task has the same local statistics).

Measured (2026-12-07, 4 tasks x 6 trainings, every network at 100% test accuracy), chain-1 top-1 of
the HTT classification protocol (chance 25%): orientation 35% with a random initialization per
training, 95% when all trainings start from one initialization; position 37.5% and 85%.
So chain 1 fails to identify even tasks with different local statistics while each training
keeps its own random filters (in the 28x28 MNIST task zoo a first-layer filter still has median
cosine 0.54 with its initialization after 12 epochs): the seeds' spread, not the tasks' likeness,
hides the task (`docs/results/htt-mnist/README.md`).
"""

from __future__ import annotations

import numpy as np
import pytest

from weightspace.probe.htt import network_features
from weightspace.probe.htt_protocols import classification_protocol
from weightspace.zoo.architectures import create_architecture
from weightspace.zoo.data.core import Dataset
from weightspace.zoo.early_stopping import EarlyStopping
from weightspace.zoo.train import TrainConfig, train_model

SIZE = 16
SEEDS = 6


def bar_images(angles: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """One bar (length 9, width ~1.5 pixels) per image at the given angle (degrees) and centre."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    out = np.empty((len(angles), 1, SIZE, SIZE), dtype=np.float32)
    for i, (angle, (cy, cx)) in enumerate(zip(angles, centres, strict=True)):
        t = np.deg2rad(angle)
        along = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)
        across = -(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)
        out[i, 0] = ((np.abs(across) <= 0.75) & (np.abs(along) <= 4.5)).astype(np.float32)
    return out


def task_data(
    family: str, k: int, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n)
    if family == "orientation":
        angles = 22.5 * k + 90.0 * y
        centres = rng.uniform(5.5, SIZE - 6.5, (n, 2))
    else:  # position: horizontal bars; task k splits the image along one of four directions
        angles = np.zeros(n)
        centres = rng.uniform(5.5, SIZE - 6.5, (n, 2))
        axis, flip = divmod(k, 2)
        half = SIZE / 2 - 0.5
        low, high = (3.0, half - 1.0), (half + 1.0, SIZE - 4.0)
        side = np.where(y == 1 - flip, 1, 0)
        rows = np.where(side == 1, rng.uniform(*high, n), rng.uniform(*low, n))
        centres[:, axis] = rows
    return bar_images(angles, centres), y.astype(np.int64)


def dataset(family: str, k: int) -> Dataset:
    rng = np.random.default_rng(1000 * (family == "position") + k)
    parts = [task_data(family, k, n, rng) for n in (600, 200, 200)]
    return Dataset(
        name=f"bars-{family}-{k}",
        x_train=parts[0][0], y_train=parts[0][1],
        x_val=parts[1][0], y_val=parts[1][1],
        x_test=parts[2][0], y_test=parts[2][1],
        n_classes=2, input_shape=(1, SIZE, SIZE), class_names=("a", "b"),
    )  # fmt: skip


def chain_one_top1(family: str, *, shared_init: bool = False) -> tuple[float, float]:
    """(HTT chain-1 top-1 over the 4 tasks, the worst test accuracy of the trainings).

    ``shared_init``: every training starts from one initialization (only the data order and
    dropout differ), so no seed's random filters are left in the features."""
    features, tasks, worst = [], [], 1.0
    for k in range(4):
        data = dataset(family, k)
        for seed in range(SEEDS):
            net = create_architecture(
                "plain-cnn",
                seed=0 if shared_init else seed,
                input_size=SIZE,
                widths=(16, 32),
                dataset="" if shared_init else data.name,
            )
            config = TrainConfig(
                optimizer="sgd", lr=0.05, momentum=0.9, batch_size=32, seed=seed,
                stopping=EarlyStopping(min_epochs=6, max_epochs=6), n_snapshots=2,
            )  # fmt: skip
            result = train_model(net, data, config)
            worst = min(worst, result.final.test_acc)
            features.append(network_features(result.states[-1], "chain", [1])[0])
            tasks.append(k)
    scores = classification_protocol(
        np.stack(features), np.array(tasks), n_repeats=5, random_state=0
    )
    return scores.mean, worst


@pytest.mark.slow
def test_chain_one_finds_the_task_once_the_seeds_random_filters_are_gone():
    random_init, worst_random = chain_one_top1("orientation")
    shared_init, worst_shared = chain_one_top1("orientation", shared_init=True)
    assert min(worst_random, worst_shared) >= 0.95  # every network solves its task
    assert shared_init >= 0.85  # chance 0.25
    assert random_init <= 0.55
