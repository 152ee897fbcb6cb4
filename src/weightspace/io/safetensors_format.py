"""safetensors checkpoints, memory-mapped: tensors are zero-copy views of the file.

The header is parsed and validated here (8-byte little-endian length, then JSON), and every float32
tensor becomes a read-only ``numpy.memmap`` view, so a multi-GB checkpoint costs no RAM until its
values are used; the ``safetensors`` package's NumPy API returns copies. Writing uses the
``safetensors`` package.

The header is untrusted input and is checked in full before any data is mapped: its size (at most
100 MB, inside the file) and its JSON (nesting that would exhaust the parser is refused), every tensor's dtype, shape
(whole non-negative numbers) and data offsets (inside the data section, no two tensors overlapping,
exactly the bytes that shape and dtype need), ``__metadata__`` (text to text), the weightspace
metadata, and the total number of elements against ``max_weights``. Any problem is a one-line
:class:`~weightspace.errors.CheckpointError` naming the file and the tensor or field.

Tensor order: the order the writer laid the tensors out in the file (their data offsets). The
``safetensors`` package (and so ``transformers``) sorts tensors by dtype and name when writing, which
keeps no save order; such files (each dtype's tensors in name order) are read in natural name order
instead (``layers.2`` before ``layers.10``). Files written by weightspace store their order under the
``weightspace.order`` metadata key.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weightspace.errors import CheckpointError
from weightspace.io.limits import DEFAULT_MAX_WEIGHTS, check_declared_weights
from weightspace.io.naming import assign_roles, natural_key, to_float32
from weightspace.io.weightset import ROLES, Role, WeightSet, WeightTensor

__all__ = [
    "LAYERS_KEY",
    "MAX_HEADER_BYTES",
    "ORDER_KEY",
    "ROLES_KEY",
    "SafetensorsHeader",
    "TensorEntry",
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
#: Largest header accepted (the limit of the ``safetensors`` package itself).
MAX_HEADER_BYTES = 100_000_000
#: Largest byte size a tensor may declare (the format's offsets are 64-bit).
_MAX_BYTES = 2**64 - 1

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
#: safetensors dtypes that weightspace does not read.
_UNREAD_DTYPES = {"F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"}


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header declares it (validated)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class SafetensorsHeader:
    """A validated safetensors header.

    Attributes
    ----------
    data_start : int
        Byte offset of the data section in the file.
    entries : tuple of TensorEntry
        The tensors in data-offset order (the order the writer laid them out).
    metadata : dict of str to str
        The ``__metadata__`` of the file (empty when there is none).
    """

    data_start: int
    entries: tuple[TensorEntry, ...]
    metadata: dict[str, str]

    @property
    def n_weights(self) -> int:
        """Elements the header declares, over all tensors."""
        return sum(e.size for e in self.entries)


def read_header(path: Path) -> SafetensorsHeader:
    """Read and validate the header of a safetensors file; no tensor data is read.

    Raises
    ------
    CheckpointError
        The framing, JSON, nesting, a tensor entry or the metadata is invalid.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise CheckpointError(path, "truncated safetensors file (no header length)")
        n = int.from_bytes(prefix, "little")
        if n > size - 8:
            raise CheckpointError(
                path,
                f"truncated safetensors file: header of {n} bytes, file of {size} bytes; "
                "copy or save it again",
            )
        if n > MAX_HEADER_BYTES:
            raise CheckpointError(
                path,
                f"safetensors header of {n:,} bytes is over the format's limit of "
                f"{MAX_HEADER_BYTES:,}; not a checkpoint",
            )
        raw = f.read(n)
    header = _parse_json(path, raw)
    data_len = size - 8 - n
    metadata = _metadata(path, header.pop("__metadata__", None))
    entries = [_entry(path, name, info, data_len) for name, info in header.items()]
    entries.sort(key=lambda e: (e.begin, e.end))
    previous: TensorEntry | None = None
    for entry in entries:
        if entry.end == entry.begin:
            continue  # an empty tensor occupies no bytes
        if previous is not None and entry.begin < previous.end:
            raise CheckpointError(
                path,
                f"corrupt safetensors header: tensors {previous.name!r} (bytes {previous.begin}-"
                f"{previous.end}) and {entry.name!r} (bytes {entry.begin}-{entry.end}) overlap",
            )
        previous = entry
    return SafetensorsHeader(8 + n, tuple(entries), metadata)


def _parse_json(path: Path, raw: bytes) -> dict[str, Any]:
    """Parse the header; deep nesting ends in a caught RecursionError (the C parser checks the
    recursion limit), and every value is then checked for the type the format needs, so nothing
    nested deeper than the format's three levels is used."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            dup = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
            raise CheckpointError(path, f"corrupt safetensors header: {dup[:80]!r} appears twice")
        return out

    try:
        header = json.loads(raw, object_pairs_hook=unique)
    except RecursionError:
        raise CheckpointError(
            path,
            "corrupt safetensors header: JSON nested far deeper than the format's three levels; "
            "not a checkpoint",
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"corrupt safetensors header ({exc})") from None
    if not isinstance(header, dict):
        raise CheckpointError(path, "corrupt safetensors header (not a JSON object)")
    return header


def _metadata(path: Path, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CheckpointError(
            path,
            f"corrupt safetensors header: __metadata__ must be an object of text values; "
            f"got {_kind(value)}",
        )
    for key, item in value.items():
        if not isinstance(item, str):
            raise CheckpointError(
                path,
                f"corrupt safetensors header: __metadata__ {key!r} must be text; got {_kind(item)}",
            )
    return dict(value)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(
        type(value), f"a number ({value!r})" if isinstance(value, int | float) else "?"
    )


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _entry(path: Path, name: str, info: Any, data_len: int) -> TensorEntry:
    where = f"corrupt safetensors header: tensor {name!r}"
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
        raise CheckpointError(path, f"{where} lacks dtype/shape/data_offsets")
    dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype_name, str):
        raise CheckpointError(
            path, f"{where}: dtype must be text like 'F32'; got {_kind(dtype_name)}"
        )
    if dtype_name in _UNREAD_DTYPES:
        raise CheckpointError(
            path,
            f"tensor {name!r} has dtype {dtype_name}, which weightspace does not read "
            "(float8, float6, float4 and complex types); convert the checkpoint to float16/float32",
        )
    dtype = _DTYPES.get(dtype_name)
    if dtype is None:
        raise CheckpointError(
            path,
            f"{where}: unknown dtype {dtype_name[:40]!r} (expected one of {', '.join(_DTYPES)})",
        )
    if not isinstance(shape, list) or not all(_whole(n) for n in shape):
        raise CheckpointError(
            path,
            f"{where}: shape must be a list of whole non-negative numbers; got {str(shape)[:60]}",
        )
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_whole(n) for n in offsets)):
        raise CheckpointError(
            path,
            f"{where}: data_offsets must be two whole non-negative numbers [begin, end]; "
            f"got {str(offsets)[:60]}",
        )
    begin, end = offsets
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > _MAX_BYTES:
        raise CheckpointError(path, f"{where}: shape {tuple(shape)} overflows (over 2**64 bytes)")
    if end < begin or end - begin != nbytes:
        raise CheckpointError(
            path,
            f"{where} of shape {tuple(shape)} and dtype {dtype_name} needs {nbytes} bytes, "
            f"offsets give {end - begin}",
        )
    if end > data_len:
        raise CheckpointError(
            path,
            f"truncated safetensors file: tensor {name!r} ends at byte {end} of the data section, "
            f"which has {data_len}; copy or save it again",
        )
    return TensorEntry(name, dtype_name, tuple(shape), begin, end)


def map_tensors(
    path: Path, *, max_weights: int | None = None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Map every tensor of a safetensors file without reading it: ``(name -> array, metadata)``.

    The arrays (in data-offset order) are read-only views of one memory map of the file (BF16 as
    raw 2-byte values); files under :data:`MMAP_THRESHOLD` bytes are read into memory in one call
    instead. The header is validated first, and its declared total checked against
    ``max_weights`` (``None``: no limit) before anything is mapped.
    """
    header = read_header(path)
    check_declared_weights(path, header.n_weights, max_weights, what="safetensors tensors")
    size = path.stat().st_size
    buffer: np.ndarray
    if size >= MMAP_THRESHOLD:
        buffer = np.memmap(path, dtype=np.uint8, mode="r")
    else:  # one read beats setting up a memory map for small files
        buffer = np.fromfile(path, dtype=np.uint8)
        buffer.flags.writeable = False
    start = header.data_start
    arrays = {
        e.name: buffer[start + e.begin : start + e.end].view(_DTYPES[e.dtype]).reshape(e.shape)
        for e in header.entries
    }
    return arrays, header.metadata


def read_safetensors(path: Path, *, max_weights: int | None = DEFAULT_MAX_WEIGHTS) -> WeightSet:
    """Read a safetensors checkpoint as a :class:`WeightSet` backed by a memory map.

    Parameters
    ----------
    path : Path
        The file.
    max_weights : int or None, default=DEFAULT_MAX_WEIGHTS
        Refuse a file whose header declares more elements (checked before mapping any data).

    Returns
    -------
    WeightSet
        Tensors in the order the file stores them: the weightspace order metadata when present,
        else the data-offset order, else (for files whose writer sorted tensors by name, as the
        ``safetensors`` package does) natural name order.

    Raises
    ------
    CheckpointError
        The header is invalid (see the module docstring), or the file holds no tensors.
    WeightLimitError
        The header declares more than ``max_weights`` elements.
    """
    arrays, metadata = map_tensors(path, max_weights=max_weights)
    if not arrays:
        raise CheckpointError(path, "the safetensors file holds no tensors")
    order = _saved_order(path, metadata, arrays)
    ordered = {name: arrays[name] for name in order}
    roles: dict[str, Role] | None = None
    if ROLES_KEY in metadata:
        roles = _json_meta(path, metadata, ROLES_KEY, dict)
        bad = next(((n, r) for n, r in roles.items() if r not in ROLES), None)
        if bad is not None:
            raise CheckpointError(
                path,
                f"metadata {ROLES_KEY!r}: tensor {bad[0]!r} has role {str(bad[1])[:40]!r}; "
                f"expected one of {', '.join(ROLES)}",
            )
    if roles is not None and LAYERS_KEY in metadata:
        layers = _json_meta(path, metadata, LAYERS_KEY, dict)
        if set(layers) == set(ordered) == set(roles):
            if not all(isinstance(v, str) for v in layers.values()):
                raise CheckpointError(path, f"metadata {LAYERS_KEY!r}: layer names must be text")
            tensors = [
                WeightTensor(n, layers[n], roles[n], to_float32(a, name=n, source=str(path)))
                for n, a in ordered.items()
            ]
            return WeightSet.from_tensors(tensors, source=str(path))
    return assign_roles(ordered, source=str(path), roles=roles)


def _json_meta(path: Path, metadata: dict[str, str], key: str, kind: type) -> Any:
    try:
        value = json.loads(metadata[key])
    except (json.JSONDecodeError, RecursionError):
        value = None
    if not isinstance(value, kind):
        what = "an object" if kind is dict else "a list"
        raise CheckpointError(
            path,
            f"metadata {key!r} is not {what} in JSON; remove the key or write the file again "
            "with weightspace",
        )
    return value


def _saved_order(path: Path, metadata: dict[str, str], arrays: dict[str, np.ndarray]) -> list[str]:
    if ORDER_KEY in metadata:
        order = _json_meta(path, metadata, ORDER_KEY, list)
        if sorted(map(str, order)) == sorted(arrays):
            return [str(n) for n in order]
    names = list(arrays)  # data-offset order
    by_dtype: dict[str, list[str]] = {}
    for name in names:
        by_dtype.setdefault(str(arrays[name].dtype), []).append(name)
    if all(group == sorted(group) for group in by_dtype.values()):
        return sorted(names, key=natural_key)  # the writer sorted by name: no save order kept
    return names


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
