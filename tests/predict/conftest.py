"""Planted-accuracy zoos: the accuracy is a noiseless, monotone function of the weights.

Every model is a 4 -> 6 -> 3 MLP (``l0``, ``l1``, weights and biases: 51 numbers) with standard
normal weights, the kernel of ``l1`` shifted by a per-model offset. Its accuracy is
``0.5 + 0.2 * mean(l1.weight)``: exactly linear in one of Unterthiner's statistics (the mean of
that tensor), so the true ranking of any set of models is known. Models alternate between two
datasets (``digits``, ``shapes``) for the out-of-distribution rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from weightspace import Library, WeightSet

SHAPES = {"l0.weight": (6, 4), "l0.bias": (6,), "l1.weight": (3, 6), "l1.bias": (3,)}
#: Another architecture: a wider hidden layer.
OTHER_SHAPES = {"l0.weight": (8, 4), "l0.bias": (8,), "l1.weight": (3, 8), "l1.bias": (3,)}


def planted_arrays(
    rng: np.random.Generator, shapes: dict[str, tuple[int, ...]] = SHAPES
) -> dict[str, np.ndarray]:
    arrays = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
    arrays["l1.weight"] = arrays["l1.weight"] + np.float32(rng.uniform(-1.5, 1.5))
    return arrays


def planted_accuracy(arrays: dict[str, np.ndarray]) -> float:
    return 0.5 + 0.2 * float(np.mean(arrays["l1.weight"], dtype=np.float64))


def make_planted(path: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    lib = Library.create(path)
    items = []
    for i in range(n):
        arrays = planted_arrays(rng)
        items.append(
            {
                "weights": WeightSet.from_arrays(arrays),
                "hparams": {"dataset": ("digits", "shapes")[i % 2], "seed": i},
                "metrics": {"test_acc": planted_accuracy(arrays)},
            }
        )
    lib.add_many(items)
    lib.close()
    return path


@pytest.fixture(scope="package")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 planted models (the training zoo)."""
    return make_planted(tmp_path_factory.mktemp("predict") / "zoo", 40, seed=0)


@pytest.fixture(scope="package")
def planted_other(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 other planted models of the same architecture (a zoo to rank)."""
    return make_planted(tmp_path_factory.mktemp("predict") / "other", 20, seed=1)


@pytest.fixture(scope="package")
def planted_large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 planted models: the NFN split trains on 32, more than the 28 statistics."""
    return make_planted(tmp_path_factory.mktemp("predict") / "large", 80, seed=2)
