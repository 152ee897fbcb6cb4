"""NumPy ``.npy`` (one array, memory-mapped) and ``.npz`` (named arrays) checkpoints.

Each array's header (shape and dtype) is read and checked first: against the bytes the file (or the
zip member) holds, and against the weight limit, so a header that claims gigabytes is refused
before ``np.load`` allocates anything. Object arrays (pickles) are refused.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from weightspace.errors import CheckpointError
from weightspace.io.archive import ZIP_ERRORS, check_zip_members, describe
from weightspace.io.limits import DEFAULT_MAX_WEIGHTS, check_declared_weights
from weightspace.io.naming import assign_roles
from weightspace.io.weightset import WeightSet

__all__ = ["read_npy", "read_npz"]


def read_npy(path: Path, *, max_weights: int | None = DEFAULT_MAX_WEIGHTS) -> WeightSet:
    """One array, named ``weights``, role ``other`` (a bare vector says nothing of its layers)."""
    with path.open("rb") as f:
        elements, _ = _checked_header(f, path, "the array", path.stat().st_size)
    check_declared_weights(path, elements, max_weights, what="the .npy header")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise CheckpointError(path, f"cannot read as .npy ({exc})") from None
    return assign_roles({"weights": array}, source=str(path), roles={"weights": "other"})


def read_npz(path: Path, *, max_weights: int | None = DEFAULT_MAX_WEIGHTS) -> WeightSet:
    """Named arrays in the order they were saved; names follow the PyTorch/Keras conventions."""
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as z:
            check_zip_members(path, z, max_weights)
            infos = z.infolist()
            total = 0
            for info in infos:
                with z.open(info) as f:
                    total += _checked_header(f, path, repr(info.filename), info.file_size)[0]
            check_declared_weights(path, total, max_weights, what=".npz arrays")
            for info in infos:
                with z.open(info) as f:
                    arrays[info.filename.removesuffix(".npy")] = np.lib.format.read_array(
                        f, allow_pickle=False
                    )
    except CheckpointError:
        raise
    except ZIP_ERRORS as exc:
        raise CheckpointError(path, f"corrupt or truncated .npz ({describe(exc)})") from None
    if not arrays:
        raise CheckpointError(path, "the .npz holds no arrays")
    return assign_roles(arrays, source=str(path))


def _checked_header(f: IO[bytes], path: Path, what: str, size: int) -> tuple[int, np.dtype[Any]]:
    """Read a ``.npy`` header from ``f``; return ``(elements, dtype)`` once they are plausible.

    Raises
    ------
    CheckpointError
        Not a ``.npy`` header, an object dtype (pickle), or a shape needing more bytes than the
        file (or zip member) of ``size`` bytes holds after its header.
    """
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as exc:  # numpy's header parser also raises SyntaxError, TokenError...
        raise CheckpointError(path, f"{what} has no valid .npy header ({describe(exc)})") from None
    if dtype.hasobject:
        raise CheckpointError(
            path, f"{what} holds Python objects: reading it needs pickle, which is refused"
        )
    if any(int(n) < 0 for n in shape):
        raise CheckpointError(path, f"{what} declares a negative dimension in {tuple(shape)}")
    elements = math.prod(int(n) for n in shape)
    held = size - f.tell()
    if elements * dtype.itemsize > held:
        raise CheckpointError(
            path,
            f"{what} declares shape {tuple(shape)} of {dtype} ({elements * dtype.itemsize:,} "
            f"bytes) but holds {held:,} bytes of data; the file is truncated or corrupt",
        )
    return elements, dtype
