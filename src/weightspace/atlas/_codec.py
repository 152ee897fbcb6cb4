"""Arrays in JSON: little-endian bytes in base64, with dtype and shape.

``{"dtype": "float32", "shape": [n, 2], "b64": "..."}`` round-trips exactly (every bit) and is read
in the browser as a typed array without parsing numbers (``assets/atlas.js``: ``decodeArray``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np

from weightspace.errors import WeightspaceError

__all__ = ["decode_array", "encode_array"]

#: dtypes that have a JavaScript typed array of the same layout
_DTYPES = ("float32", "float64", "int8", "int16", "int32", "uint8", "uint16", "uint32")


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """A numeric array as a JSON-ready mapping (``dtype``, ``shape``, ``b64``)."""
    a = np.asarray(array)
    if a.dtype == np.int64:  # JavaScript has no int64 typed array in plotly's reach
        if a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
            raise WeightspaceError("cannot encode int64 values outside the int32 range")
        a = a.astype(np.int32)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    name = a.dtype.name
    if name not in _DTYPES:
        raise WeightspaceError(f"cannot encode an array of dtype {name}; expected one of {_DTYPES}")
    data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    return {
        "dtype": name,
        "shape": list(a.shape),
        "b64": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def decode_array(obj: Mapping[str, Any], *, name: str = "array") -> np.ndarray:
    """The array of :func:`encode_array` (a new, writable array)."""
    try:
        dtype = np.dtype(str(obj["dtype"])).newbyteorder("<")
        shape = tuple(int(s) for s in obj["shape"])
        raw = base64.b64decode(str(obj["b64"]), validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightspaceError(
            f"{name}: expected an encoded array {{dtype, shape, b64}}; got {type(obj).__name__} "
            f"({exc})"
        ) from None
    if dtype.name not in _DTYPES:
        raise WeightspaceError(f"{name}: unsupported dtype {dtype.name}")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise WeightspaceError(
            f"{name}: {len(raw)} bytes do not fit shape {list(shape)} of {dtype.name} "
            f"({expected} bytes expected)"
        )
    return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)
