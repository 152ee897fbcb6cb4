"""Parsers of the papers' datasets in their standard on-disk formats; no downloads, no general pickle.

Each reader checks magic numbers and sizes and raises :class:`DatasetFormatError` naming the file.
Images come back as uint8 ``(N, C, H, W)``, labels as int64 starting at 0.
"""

from __future__ import annotations

import gzip
import importlib
import pickle
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from weightspace.zoo.data.core import DatasetFormatError, DatasetNotFoundError

__all__ = [
    "IDX_MAGIC_IMAGES",
    "IDX_MAGIC_LABELS",
    "find_file",
    "read_cifar10_bin",
    "read_cifar10_py",
    "parse_idx",
    "read_idx",
    "read_idx_pair",
    "read_stl10_images",
    "read_stl10_labels",
    "read_svhn_mat",
]

IDX_MAGIC_IMAGES = 0x00000803  # unsigned bytes, 3 dimensions (N, rows, cols)
IDX_MAGIC_LABELS = 0x00000801  # unsigned bytes, 1 dimension (N,)
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_CIFAR_RECORD = 1 + 3 * 32 * 32
_STL_IMAGE = 3 * 96 * 96


def _error(path: Path | str, problem: str) -> DatasetFormatError:
    return DatasetFormatError(f"{path}: {problem}")


def find_file(
    directories: Sequence[Path], name: str, *, dataset: str, hint: str, gz: bool = True
) -> Path:
    """Return the first of ``directory / name`` (or ``name.gz``) that exists.

    Raises
    ------
    DatasetNotFoundError
        None exists; the message names the first expected path, the other places looked in and
        ``hint`` (where to get the data).
    """
    names = [name, f"{name}.gz"] if gz else [name]
    for directory in directories:
        for candidate in names:
            path = directory / candidate
            if path.is_file():
                return path
    expected = directories[0] / (f"{name}(.gz)" if gz else name)
    others = ", ".join(str(d) for d in directories[1:])
    also = f" (also looked in {others})" if others else ""
    raise DatasetNotFoundError(
        f"{dataset}: {name} not found; put it at {expected}{also}. {hint} weightspace never downloads datasets."
    )


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise _error(
            path, f"cannot read ({exc}); the file is truncated or not gzip, download it again"
        ) from exc


def read_idx(path: Path, *, magic: int | None = None) -> NDArray[Any]:
    """Read an IDX file (the MNIST and Fashion-MNIST format), plain or gzipped.

    Parameters
    ----------
    path : Path
        ``*-idx3-ubyte``/``*-idx1-ubyte`` file, optionally ending in ``.gz``.
    magic : int, optional
        Required magic number, e.g. :data:`IDX_MAGIC_IMAGES` (``0x00000803``).

    Returns
    -------
    ndarray
        Of the shape and type the header declares, in native byte order.
    """
    return parse_idx(_read_bytes(path), path, magic=magic)


def parse_idx(raw: bytes, where: Path | str, *, magic: int | None = None) -> NDArray[Any]:
    """Parse the bytes of an IDX file (see :func:`read_idx`); ``where`` names the source in errors.

    Examples
    --------
    >>> header = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big")
    >>> parse_idx(header + bytes([7, 8, 9]), "labels", magic=IDX_MAGIC_LABELS).tolist()
    [7, 8, 9]
    """
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise _error(
            where,
            f"not an IDX file: bad magic number {raw[:4].hex() or 'none'} (expected 0000080N)",
        )
    found = int.from_bytes(raw[:4], "big")
    if magic is not None and found != magic:
        raise _error(where, f"wrong IDX magic number 0x{found:08x}, expected 0x{magic:08x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise _error(where, f"truncated IDX header ({len(raw)} bytes for {ndim} dimensions)")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise _error(
            where,
            f"{len(raw)} bytes, expected {expected} for shape {dims}; the file is truncated or corrupt",
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def read_idx_pair(
    images: Path, labels: Path, *, n_classes: int = 10
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Read matching IDX image and label files as ``(N, 1, H, W)`` uint8 and ``(N,)`` int64."""
    x = read_idx(images, magic=IDX_MAGIC_IMAGES)
    y = read_idx(labels, magic=IDX_MAGIC_LABELS).astype(np.int64)
    if len(x) != len(y):
        raise _error(labels, f"{len(y)} labels for {len(x)} images in {images.name}")
    if y.size and int(y.max()) >= n_classes:
        raise _error(labels, f"label {int(y.max())} out of range [0, {n_classes})")
    return x[:, None].astype(np.uint8), y


def read_cifar10_bin(path: Path) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Read one CIFAR-10 binary batch (``data_batch_1.bin``): records of 1 label byte + 3072 pixel bytes.

    Returns
    -------
    images : ndarray of shape (N, 3, 32, 32), uint8
    labels : ndarray of shape (N,), int64
    """
    raw = _read_bytes(path)
    if not raw or len(raw) % _CIFAR_RECORD:
        raise _error(
            path,
            f"{len(raw)} bytes is not a whole number of {_CIFAR_RECORD}-byte CIFAR-10 records; "
            "the file is truncated or not the binary version (cifar-10-binary.tar.gz)",
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if int(labels.max()) > 9:
        raise _error(
            path, f"label byte {int(labels.max())} out of range 0..9; not a CIFAR-10 batch"
        )
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only; any other global is refused."""

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def _get(batch: dict[Any, Any], key: str) -> Any:
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    return None


def read_cifar10_py(path: Path) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Read one batch of the CIFAR-10 python version (a pickled dict with ``data`` and ``labels``).

    The pickle is read by a restricted unpickler that only builds dicts, lists, bytes and numpy arrays;
    a file that needs any other code is refused.

    Returns
    -------
    images : ndarray of shape (N, 3, 32, 32), uint8
    labels : ndarray of shape (N,), int64
    """
    try:
        with path.open("rb") as fh:
            batch = _RestrictedUnpickler(fh, encoding="bytes").load()
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{path}: file not found") from None
    except pickle.UnpicklingError as exc:
        raise _error(
            path, f"refused or corrupt pickle ({exc}); only dicts, lists and arrays are read"
        ) from exc
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise _error(path, f"corrupt or truncated pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(batch, dict):
        raise _error(path, f"expected a pickled dict, got {type(batch).__name__}")
    data, labels = _get(batch, "data"), _get(batch, "labels")
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
    ):
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise _error(path, f"'data' must be a uint8 array of shape (N, 3072), got {got}")
    if not isinstance(labels, list | np.ndarray) or len(labels) != len(data):
        raise _error(path, f"'labels' must be a list of {len(data)} ints")
    y = np.asarray(labels)
    if y.dtype.kind not in "iu" or (y.size and (int(y.min()) < 0 or int(y.max()) > 9)):
        raise _error(path, "'labels' must be ints in 0..9")
    return data.reshape(-1, 3, 32, 32).copy(), y.astype(np.int64)


def read_svhn_mat(path: Path) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Read an SVHN cropped-digits file (``train_32x32.mat``); label 10 means the digit 0.

    Returns
    -------
    images : ndarray of shape (N, 3, 32, 32), uint8
    labels : ndarray of shape (N,), int64 in 0..9
    """
    loadmat = importlib.import_module("scipy.io").loadmat  # scipy ships no type stubs

    if not path.is_file():
        raise DatasetNotFoundError(f"{path}: file not found")
    try:
        mat = loadmat(path, variable_names=["X", "y"])
    except Exception as exc:  # scipy raises ValueError, MatReadError, OSError, ... for bad files
        raise _error(path, f"not a readable MATLAB file ({type(exc).__name__}: {exc})") from exc
    x, y = mat.get("X"), mat.get("y")
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        got = x.shape if isinstance(x, np.ndarray) else None
        raise _error(path, f"variable 'X' must have shape (32, 32, 3, N), got {got}")
    if not isinstance(y, np.ndarray) or y.size != x.shape[3]:
        raise _error(path, f"variable 'y' must hold {x.shape[3]} labels")
    labels = y.reshape(-1).astype(np.int64)
    if labels.size and (int(labels.min()) < 1 or int(labels.max()) > 10):
        raise _error(path, "labels must lie in 1..10 (10 is the digit 0)")
    labels[labels == 10] = 0
    images = np.ascontiguousarray(np.transpose(x, (3, 2, 0, 1))).astype(np.uint8)
    return images, labels


def read_stl10_images(path: Path) -> NDArray[np.uint8]:
    """Read an STL-10 image file (``train_X.bin``): 96x96x3 uint8 images stored column-major.

    Returns
    -------
    ndarray of shape (N, 3, 96, 96), uint8, rows first (the usual orientation).
    """
    raw = _read_bytes(path)
    if not raw or len(raw) % _STL_IMAGE:
        raise _error(
            path,
            f"{len(raw)} bytes is not a whole number of {_STL_IMAGE}-byte STL-10 images; truncated or corrupt",
        )
    images = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3, 96, 96)
    return np.ascontiguousarray(images.transpose(0, 1, 3, 2))


def read_stl10_labels(path: Path, *, n_images: int | None = None) -> NDArray[np.int64]:
    """Read an STL-10 label file (``train_y.bin``): one byte per image, 1..10, returned as 0..9."""
    labels = np.frombuffer(_read_bytes(path), dtype=np.uint8).astype(np.int64)
    if n_images is not None and labels.size != n_images:
        raise _error(path, f"{labels.size} labels for {n_images} images")
    if labels.size and (int(labels.min()) < 1 or int(labels.max()) > 10):
        raise _error(path, "STL-10 labels must lie in 1..10")
    return labels - 1
