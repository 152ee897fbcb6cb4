"""Shared fixtures: small real networks, libraries in temporary directories."""

from __future__ import annotations

import os
from pathlib import Path

# Keras writes the test files with its PyTorch backend (no TensorFlow); set before keras imports.
os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

from weightspace import Library


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
def lib(tmp_path: Path) -> Library:
    return Library.create(tmp_path / "lib")
