"""NumPy ``.npy`` (one array, memory-mapped) and ``.npz`` (named arrays) checkpoints."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from weightspace.errors import CheckpointError
from weightspace.io.naming import assign_roles
from weightspace.io.weightset import WeightSet

__all__ = ["read_npy", "read_npz"]


def read_npy(path: Path) -> WeightSet:
    """One array, named ``weights``, role ``other`` (a bare vector says nothing of its layers)."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise CheckpointError(
            path, f"cannot read as .npy ({exc}); pickled objects are refused"
        ) from None
    return assign_roles({"weights": array}, source=str(path), roles={"weights": "other"})


def read_npz(path: Path) -> WeightSet:
    """Named arrays in the order they were saved; names follow the PyTorch/Keras conventions."""
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for name in data.files:
                arrays[name] = data[name]
    except ValueError as exc:
        raise CheckpointError(
            path, f"cannot read as .npz ({exc}); object arrays need pickle, which is refused"
        ) from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise CheckpointError(path, f"corrupt or truncated .npz ({exc})") from None
    if not arrays:
        raise CheckpointError(path, "the .npz holds no arrays")
    return assign_roles(arrays, source=str(path))
