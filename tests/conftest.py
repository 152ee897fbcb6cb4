"""Shared fixtures: small real networks, libraries in temporary directories."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Keras writes the test files with its PyTorch backend (no TensorFlow); set before keras imports.
os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

from weightspace import Library
from weightspace.cli.main import main


def make_cnn(seed: int = 0) -> torch.nn.Sequential:
    """A small CNN with batch norm whose running statistics are not the defaults."""
    gen = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 10),
    )
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
        model(torch.randn(8, 1, 8, 8, generator=gen))  # updates running mean/var in train mode
    return model.eval()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def cnn() -> torch.nn.Sequential:
    return make_cnn(0)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``weightspace ARGV...`` in this process: ``(exit code, stdout, stderr)``, with argparse's
    usage errors (exit 2) returned like any other code."""

    def run(*argv: object) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def lib(tmp_path: Path) -> Library:
    return Library.create(tmp_path / "lib")


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """One real local Ray runtime (2 CPUs, a small object store) shared by the Ray tests of the
    session: starting one takes seconds. Skipped where Ray is not installed."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'weightspace[ray]'")
    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            object_store_memory=128 * 2**20,
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,
        )
    yield ray
    ray.shutdown()
