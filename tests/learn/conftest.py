"""Tiny zoos of real libraries for the hyper-representation tests.

``tiny_zoo``: 12 MLPs 4 -> 6 -> 3 (51 weights) with 4 snapshots each; every snapshot's weights are
the model's initialization scaled by ``1 + 0.5 * epoch`` plus a little noise, and its record plants
``test_acc = 0.5 + 0.1 * epoch`` and ``train_acc = test_acc + gap`` with a per-model gap; the
categorical column ``optimizer`` alternates. ``other_zoo``: 4 MLPs 4 -> 5 -> 3 (another
architecture).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from weightspace import Library, load_weights
from weightspace.zoo.architectures import create_architecture

N_MODELS = 12
N_SNAPSHOTS = 4


def make_zoo(path: Path, *, n_models: int, hidden: int, seed: int = 0) -> Library:
    lib = Library.create(path)
    rng = np.random.default_rng(seed)
    for m in range(n_models):
        net = create_architecture("mlp", seed=seed * 1000 + m, in_features=4, hidden=(hidden,),
                                  n_classes=3)  # fmt: skip
        base = load_weights(net)
        gap = float(rng.uniform(0.0, 0.2))
        snaps, records = [], []
        for epoch in range(N_SNAPSHOTS):
            v = base.vector() * (1 + 0.5 * epoch) + rng.normal(0, 0.01, base.n_params)
            snaps.append(base.with_vector(v.astype(np.float32)))
            acc = 0.5 + 0.1 * epoch
            records.append({"epoch": epoch, "test_acc": acc, "train_acc": min(1.0, acc + gap)})
        lib.add(snaps, hparams={"optimizer": "adam" if m % 2 else "sgd", "seed": m},
                metrics={"test_acc": records[-1]["test_acc"]}, snapshots=records)  # fmt: skip
    return lib


@pytest.fixture(scope="package")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("learn") / "zoo"
    make_zoo(path, n_models=N_MODELS, hidden=6)
    return path


@pytest.fixture(scope="package")
def other_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("learn") / "other"
    make_zoo(path, n_models=4, hidden=5, seed=1)
    return path


def small_settings(**changes: Any) -> Any:
    """Small, fast training settings for the tests (``changes`` override them)."""
    from weightspace.learn import TrainSettings

    base: dict[str, Any] = dict(d_model=16, n_heads=2, d_ff=32, latent=8, projection=8,
                                batch_size=8, epochs=3, encoder_layers=1, decoder_layers=1)  # fmt: skip
    base.update(changes)
    return TrainSettings(**base)


@pytest.fixture(scope="package")
def settings() -> Callable[..., Any]:
    """:func:`small_settings`, for the test modules."""
    return small_settings


@pytest.fixture(scope="package")
def encoder_dir(tiny_zoo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from weightspace.learn import train_encoder

    out = tmp_path_factory.mktemp("learn") / "encoder"
    train_encoder(tiny_zoo, out, small_settings(), progress=False)
    return out


@pytest.fixture(scope="package")
def chunk_encoder_dir(tiny_zoo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from weightspace.learn import train_encoder

    out = tmp_path_factory.mktemp("learn") / "chunk-encoder"
    train_encoder(tiny_zoo, out, small_settings(tokens="chunk", chunk=4, epochs=2), progress=False)
    return out
