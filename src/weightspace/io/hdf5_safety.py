"""Safe access to the objects of an untrusted HDF5 file, before any data is read.

HDF5 lets a dataset keep its bytes outside the file: external storage (raw bytes of any file, such
as ``/etc/passwd`` or ``/dev/zero``), external links (an object of another HDF5 file) and virtual
datasets (a view of other files). A checkpoint must hold its own weights, so every object is
reached one link at a time (:func:`open_object`) and every dataset is checked (:func:`check_dataset`)
before anything is read: only hard links and soft links that stay inside the file are followed, and
only datasets stored inside the file, of a numeric type, are accepted. Their declared sizes are
summed and checked against the weight limit (:func:`check_planned`) before the first read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from weightspace.errors import CheckpointError
from weightspace.io.limits import check_compression, check_declared_weights

__all__ = [
    "check_dataset",
    "check_planned",
    "has_link",
    "is_group",
    "open_object",
    "read_names",
    "read_planned",
]

#: Soft links followed in a row before a path is called a loop (HDF5's own limit is 16).
_MAX_SOFT_LINKS = 16
#: Entries a name list attribute (``layer_names``, ``weight_names``) may hold.
_MAX_NAMES = 1_000_000


def _h5py() -> Any:
    import h5py

    return h5py


def is_group(obj: Any) -> bool:
    """Whether an opened HDF5 object is a group (else a dataset or a named type)."""
    return bool(isinstance(obj, _h5py().Group))


def has_link(group: Any, name: str) -> bool:
    """Whether ``group`` has a link ``name`` (without following it, unlike ``name in group``)."""
    return group.get(name, getlink=True) is not None


def open_object(group: Any, relpath: str, path: Path, *, what: str = "object") -> Any:
    """Open ``group/relpath`` one link at a time, following only links inside the file.

    Parameters
    ----------
    group : h5py.Group
        Where ``relpath`` starts.
    relpath : str
        A ``/``-separated path (an absolute one starts at the file's root).
    path : Path
        The checkpoint, named in errors.
    what : str, default "object"
        What is being opened, for the message (``"layer 'dense'"``).

    Raises
    ------
    CheckpointError
        The object is missing, or a link on the way is an external or user-defined link, or soft
        links loop.
    """
    return _walk(group, relpath, path, what, hops=0)


def _walk(group: Any, relpath: str, path: Path, what: str, hops: int) -> Any:
    h5py = _h5py()
    current = group.file["/"] if relpath.startswith("/") else group
    for part in (p for p in relpath.split("/") if p and p != "."):
        if not isinstance(current, h5py.Group):
            raise CheckpointError(path, f"{what}: {current.name!r} is a dataset, not a group")
        link = current.get(part, getlink=True)
        if link is None:
            raise CheckpointError(
                path,
                f"{what} is missing ({_join(current.name, part)!r} does not exist); the file is "
                "incomplete or was not written by Keras: save it again",
            )
        name = _join(current.name, part)
        if isinstance(link, h5py.ExternalLink):
            raise CheckpointError(
                path,
                f"{name!r} is an external link to {link.path!r} in {link.filename!r}; weightspace "
                "reads only data stored inside the checkpoint: copy it in (h5py.File.copy) first",
            )
        if isinstance(link, h5py.SoftLink):
            if hops >= _MAX_SOFT_LINKS:
                raise CheckpointError(path, f"{name!r}: soft links loop; not a valid checkpoint")
            current = _walk(current, link.path, path, what, hops + 1)
        elif isinstance(link, h5py.HardLink):
            current = current[part]
        else:
            raise CheckpointError(
                path, f"{name!r} is a user-defined link; weightspace reads only hard and soft links"
            )
    return current


def _join(parent: str | None, part: str) -> str:
    return f"{(parent or '').rstrip('/')}/{part}"


def check_dataset(obj: Any, path: Path, name: str) -> tuple[int, int, int]:
    """Check that a dataset is stored inside the file and holds numbers.

    Returns
    -------
    (elements, bytes, stored_bytes) : tuple of int
        Elements and bytes its shape declares, and bytes it takes in the file.

    Raises
    ------
    CheckpointError
        Not a dataset, external storage, a virtual dataset, or not a numeric type.
    """
    h5py = _h5py()
    if not isinstance(obj, h5py.Dataset):
        raise CheckpointError(path, f"weight {name!r} ({obj.name}) is a group, not a dataset")
    if obj.is_virtual:
        raise CheckpointError(
            path,
            f"dataset {obj.name!r} is a virtual dataset (a view of other files); weightspace "
            "reads only data stored inside the checkpoint",
        )
    if obj.external:
        files = ", ".join(sorted({str(f[0]) for f in obj.external}))
        raise CheckpointError(
            path,
            f"dataset {obj.name!r} keeps its data outside the file (external storage in {files}); "
            "weightspace reads only data stored inside the checkpoint",
        )
    if obj.dtype.kind not in "fiub" and not _is_bfloat16(obj):
        raise CheckpointError(
            path, f"dataset {obj.name!r} holds {obj.dtype} values, not numbers; not a weight"
        )
    shape = obj.shape or ()
    elements = math.prod(int(n) for n in shape)
    return elements, elements * obj.dtype.itemsize, int(obj.id.get_storage_size())


def _is_bfloat16(obj: Any) -> bool:
    """Keras 3 stores bfloat16 variables as 2-byte opaque data with ``attrs["dtype"] = "bfloat16"``
    (read as raw 2-byte values, converted to float32 like safetensors' BF16)."""
    if obj.dtype.kind != "V" or obj.dtype.itemsize != 2 or "dtype" not in obj.attrs:
        return False
    tag = obj.attrs["dtype"]
    return (tag.decode("utf8", "replace") if isinstance(tag, bytes) else str(tag)) == "bfloat16"


def check_planned(path: Path, datasets: Mapping[str, Any], max_weights: int | None) -> None:
    """Check every planned dataset and their total size, before any of them is read."""
    elements = declared = stored = 0
    for name, obj in datasets.items():
        n, size, on_disk = check_dataset(obj, path, name)
        elements, declared, stored = elements + n, declared + size, stored + on_disk
    check_declared_weights(path, elements, max_weights, what="HDF5 datasets")
    check_compression(path, declared, stored, max_weights, what="HDF5 datasets")


def read_planned(datasets: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Read checked datasets (call :func:`check_planned` first)."""
    return {name: np.asarray(obj[()]) for name, obj in datasets.items()}


def read_names(obj: Any, key: str, path: Path, *, required: bool) -> list[str]:
    """A list-of-names attribute (``layer_names``, ``weight_names``) as text, checked first.

    Raises
    ------
    CheckpointError
        The attribute is missing (when ``required``), too large, or not a list of names.
    """
    if key not in obj.attrs:
        if required:
            raise CheckpointError(path, f"{obj.name!r} has no {key!r} attribute")
        return []
    shape = obj.attrs.get_id(key).shape
    if shape is None or len(shape) != 1 or shape[0] > _MAX_NAMES:
        raise CheckpointError(
            path, f"attribute {key!r} of {obj.name!r} has shape {shape}; expected a list of names"
        )
    values = obj.attrs[key]
    names: list[str] = []
    for value in np.asarray(values).ravel().tolist():
        if isinstance(value, bytes):
            names.append(value.decode("utf8", errors="replace"))
        elif isinstance(value, str):
            names.append(value)
        else:
            raise CheckpointError(
                path,
                f"attribute {key!r} of {obj.name!r} holds {type(value).__name__} values; "
                "expected a list of names",
            )
    return names
