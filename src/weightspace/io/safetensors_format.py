"""safetensors checkpoints, memory-mapped: tensors are zero-copy views of the file.

The header is parsed here (8-byte little-endian length, then JSON), and every float32 tensor becomes a
read-only ``numpy.memmap`` view, so a multi-GB checkpoint costs no RAM until its values are used; the
``safetensors`` package's NumPy API returns copies. Writing uses the ``safetensors`` package.

Tensor order: safetensors files keep no save order (the writer sorts by name). Files written by
weightspace store the order under the ``weightspace.order`` metadata key; other files are read in
natural name order (``layers.2`` before ``layers.10``).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from weightspace.errors import CheckpointError
from weightspace.io.limits import DEFAULT_MAX_WEIGHTS, check_declared_weights
from weightspace.io.naming import assign_roles, natural_key, to_float32
from weightspace.io.weightset import Role, WeightSet, WeightTensor

__all__ = [
    "LAYERS_KEY",
    "ORDER_KEY",
    "ROLES_KEY",
    "map_tensors",
    "read_header",
    "read_safetensors",
    "weightset_metadata",
    "write_safetensors",
]

ORDER_KEY = "weightspace.order"
ROLES_KEY = "weightspace.roles"
LAYERS_KEY = "weightspace.layers"
#: Files at least this large are memory-mapped; smaller ones are read in one call.
MMAP_THRESHOLD = 16 * 2**20

_DTYPES: dict[str, np.dtype[Any]] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("V2"),  # converted to float32 by assign_roles
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "U16": np.dtype("<u2"),
    "U32": np.dtype("<u4"),
    "U64": np.dtype("<u8"),
    "BOOL": np.dtype("?"),
}


def read_header(path: Path) -> tuple[int, dict[str, Any]]:
    """Return ``(data_start, header)`` of a safetensors file, validating its framing."""
    size = path.stat().st_size
    with path.open("rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise CheckpointError(path, "truncated safetensors file (no header length)")
        n = int.from_bytes(prefix, "little")
        if n > size - 8:
            raise CheckpointError(
                path, f"truncated safetensors file: header of {n} bytes, file of {size} bytes"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"corrupt safetensors header ({exc})") from None
    if not isinstance(header, dict):
        raise CheckpointError(path, "corrupt safetensors header (not a JSON object)")
    return 8 + n, header


def map_tensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Map every tensor of a safetensors file without reading it: ``(name -> array, metadata)``.

    The arrays are read-only views of one memory map of the file (BF16 as raw 2-byte values);
    files under :data:`MMAP_THRESHOLD` bytes are read into memory in one call instead.
    """
    data_start, header = read_header(path)
    metadata = header.pop("__metadata__", None) or {}
    size = path.stat().st_size
    data_len = size - data_start
    buffer: np.ndarray
    if size >= MMAP_THRESHOLD:
        buffer = np.memmap(path, dtype=np.uint8, mode="r")
    else:  # one read beats setting up a memory map for small files
        buffer = np.fromfile(path, dtype=np.uint8)
        buffer.flags.writeable = False
    arrays = {
        name: _tensor(path, name, info, buffer, data_start, data_len)
        for name, info in header.items()
    }
    return arrays, {str(k): str(v) for k, v in metadata.items()}


def read_safetensors(path: Path, *, max_weights: int | None = DEFAULT_MAX_WEIGHTS) -> WeightSet:
    """Read a safetensors checkpoint as a :class:`WeightSet` backed by a memory map."""
    arrays, metadata = map_tensors(path)  # views of the file's bytes
    check_declared_weights(path, sum(a.size for a in arrays.values()), max_weights)
    if not arrays:
        raise CheckpointError(path, "the safetensors file holds no tensors")
    order = _saved_order(metadata, arrays)
    ordered = {name: arrays[name] for name in order}
    roles: dict[str, Role] | None = None
    if ROLES_KEY in metadata:
        roles = json.loads(metadata[ROLES_KEY])
    if roles is not None and LAYERS_KEY in metadata:
        layers = json.loads(metadata[LAYERS_KEY])
        if set(layers) == set(ordered) == set(roles):
            tensors = [
                WeightTensor(n, layers[n], roles[n], to_float32(a, name=n, source=str(path)))
                for n, a in ordered.items()
            ]
            return WeightSet.from_tensors(tensors, source=str(path))
    return assign_roles(ordered, source=str(path), roles=roles)


def _saved_order(metadata: dict[str, str], arrays: dict[str, np.ndarray]) -> list[str]:
    if ORDER_KEY in metadata:
        try:
            order = json.loads(metadata[ORDER_KEY])
        except json.JSONDecodeError:
            order = None
        if isinstance(order, list) and sorted(order) == sorted(arrays):
            return [str(n) for n in order]
    return sorted(arrays, key=natural_key)


def _tensor(
    path: Path, name: str, info: Any, buffer: np.ndarray, data_start: int, data_len: int
) -> np.ndarray:
    try:
        dtype_name = info["dtype"]
        shape = tuple(int(n) for n in info["shape"])
        begin, end = (int(n) for n in info["data_offsets"])
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(
            path, f"corrupt safetensors header: entry {name!r} lacks dtype/shape/data_offsets"
        ) from None
    dtype = _DTYPES.get(dtype_name)
    if dtype is None:
        raise CheckpointError(
            path,
            f"tensor {name!r} has dtype {dtype_name}, which weightspace does not read "
            "(float8 and complex types); convert the checkpoint to float16/float32",
        )
    expected = math.prod(shape) * dtype.itemsize
    if end - begin != expected or begin < 0:
        raise CheckpointError(
            path,
            f"corrupt safetensors header: tensor {name!r} of shape {shape} and dtype {dtype_name} "
            f"needs {expected} bytes, offsets give {end - begin}",
        )
    if end > data_len:
        raise CheckpointError(
            path,
            f"truncated safetensors file: tensor {name!r} ends at byte {data_start + end}, "
            f"file has {data_start + data_len}; copy or save it again",
        )
    raw = buffer[data_start + begin : data_start + end]
    return raw.view(dtype).reshape(shape)


def write_safetensors(
    path: Path, arrays: dict[str, np.ndarray], *, metadata: dict[str, str] | None = None
) -> None:
    """Write ``arrays`` to ``path`` atomically (temporary file, fsync, rename).

    The save order and roles are stored in the metadata, so :func:`read_safetensors` gives back the
    same WeightSet. Never leaves a partial file at ``path``.
    """
    from safetensors.numpy import save_file

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(
            {k: np.require(v, requirements="C") for k, v in arrays.items()},
            str(tmp),
            metadata=metadata,
        )
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def weightset_metadata(ws: WeightSet) -> dict[str, str]:
    """The metadata that lets :func:`read_safetensors` restore order and roles of ``ws``."""
    return {
        ORDER_KEY: json.dumps(list(ws.names)),
        ROLES_KEY: json.dumps({t.name: t.role for t in ws.tensors}),
        LAYERS_KEY: json.dumps({t.name: t.layer for t in ws.tensors}),
    }
