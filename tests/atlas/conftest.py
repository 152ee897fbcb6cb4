"""Fixtures of the atlas tests: a small library of random networks in three weight families, and its
atlas (built once per session: the first UMAP fit in a process compiles numba code, ~10 s)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from weightspace import Library

#: Three families of weights with clearly different distributions (they form three clusters).
FAMILIES = {
    "constant": lambda rng, shape: np.full(shape, 0.05) + rng.normal(0, 0.01, shape),
    "normal": lambda rng, shape: rng.normal(0, 1.0, shape),
    "uniform": lambda rng, shape: rng.uniform(-0.4, 0.4, shape),
}
N_MODELS = 48
SHAPES = {"0.weight": (16, 12), "0.bias": (16,), "1.weight": (10, 16), "1.bias": (10,)}


def _state(rng: np.random.Generator, family: str, width: int) -> dict[str, np.ndarray]:
    shapes = dict(SHAPES)
    shapes["0.weight"] = (width, 12)
    shapes["0.bias"] = (width,)
    shapes["1.weight"] = (10, width)
    return {k: FAMILIES[family](rng, s).astype(np.float32) for k, s in shapes.items()}


def make_library(path: Path, n: int = N_MODELS, seed: int = 0) -> Library:
    """A library of ``n`` random two-layer networks with NWS-like hyper-parameters and accuracy."""
    rng = np.random.default_rng(seed)
    families = list(FAMILIES)
    items = []
    for i in range(n):
        family = families[i % 3]
        dataset = ("digits", "shapes")[(i // 3) % 2]
        acc = float(rng.uniform(0.1, 0.5) if dataset == "digits" else rng.uniform(0.4, 0.95))
        items.append(
            {
                "weights": _state(rng, family, 16 + 8 * (i % 2)),
                "hparams": {
                    "dataset": dataset,
                    "init": family,
                    "optimizer": ("adam", "sgd", "rmsprop", "adam")[i % 4],
                    "activation": ("relu", "tanh")[(i // 2) % 2],
                    "learning_rate": float(10 ** rng.uniform(-4, -1)),
                    "batch_size": (32, 64, 128)[(i // 2) % 3],
                },
                "metrics": {"test_acc": acc},
            }
        )
    lib = Library.create(path)
    lib.add_many(items)
    return lib


@pytest.fixture(scope="session")
def atlas_library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    return make_library(tmp_path_factory.mktemp("atlas") / "lib")


@pytest.fixture(scope="session")
def atlas(atlas_library: Library):  # type: ignore[no-untyped-def]
    from weightspace.atlas import build_atlas

    return build_atlas(atlas_library, n_neighbors=8)
