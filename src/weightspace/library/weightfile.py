"""The weight file of one library model: all its snapshots in one safetensors file.

Layout: a float32 tensor ``snapshots`` of shape ``(n_snapshots, n_params)`` whose rows are the
canonical vectors (so reading a snapshot's vector is one contiguous, memory-mapped read), plus
``extra/<snapshot>/<name>`` for integer tensors (``num_batches_tracked``...). The safetensors metadata
holds the tensor structure (names, layers, roles, shapes), so a file is self-describing and can be
opened by any safetensors reader.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from weightspace.errors import LibraryError
from weightspace.io.safetensors_format import map_tensors, write_safetensors
from weightspace.io.weightset import WeightSet, WeightTensor

__all__ = ["ModelFile", "read_vector", "structure_of", "write_model_file"]

_STRUCTURE_KEY = "weightspace.structure"
_FORMAT_KEY = "weightspace.format"
_FORMAT = "library-model-v1"


def structure_of(ws: WeightSet) -> list[dict[str, Any]]:
    """One dict per tensor: name, layer, role, shape, dtype, offset (None if not float), length."""
    rows = []
    for t in ws.tensors:
        offset = ws.offsets[t.name][0] if t.is_float else None
        rows.append(
            {
                "name": t.name,
                "layer": t.layer,
                "role": t.role,
                "shape": list(t.shape),
                "dtype": str(t.array.dtype),
                "offset": offset,
                "length": t.size,
            }
        )
    return rows


def write_model_file(
    path: Path, snapshots: Sequence[WeightSet], *, matrix: np.ndarray | None = None
) -> np.ndarray:
    """Write the snapshots of one model to ``path`` (atomically); return the stacked vectors.

    ``matrix``, when given, is the stacked float32 vectors of ``snapshots`` already computed.
    """
    if matrix is None:
        matrix = np.stack([ws.vector() for ws in snapshots]).astype(np.float32, copy=False)
    arrays: dict[str, np.ndarray] = {"snapshots": matrix}
    for i, ws in enumerate(snapshots):
        for t in ws.tensors:
            if not t.is_float:
                arrays[f"extra/{i}/{t.name}"] = t.array
    metadata = {
        _FORMAT_KEY: _FORMAT,
        _STRUCTURE_KEY: json.dumps(structure_of(snapshots[0])),
    }
    write_safetensors(path, arrays, metadata=metadata)
    return matrix


def read_vector(path: Path, snapshot: int = -1) -> np.ndarray:
    """Read one snapshot's vector from a model file: one open, two reads, no memory map.

    The fast path for batch reads of many small models; returns a new, writable array.
    """
    try:
        with path.open("rb", buffering=0) as f:
            head = f.read(8)
            header = json.loads(f.read(int.from_bytes(head, "little")))
            info = header["snapshots"]
            n_snap, n_params = (int(n) for n in info["shape"])
            if not -n_snap <= snapshot < n_snap:
                raise LibraryError(
                    f"{path}: snapshot {snapshot} out of range; the model has {n_snap} snapshot(s)"
                )
            f.seek(8 + int.from_bytes(head, "little") + int(info["data_offsets"][0])
                   + (snapshot % n_snap) * n_params * 4)  # fmt: skip
            out = np.empty(n_params, dtype="<f4")
            if f.readinto(out.data.cast("B")) != out.nbytes:
                raise LibraryError(f"{path}: truncated weight file")
    except FileNotFoundError:
        raise LibraryError(
            f"{path}: weight file missing; the library was changed by hand"
        ) from None
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, LibraryError):
            raise
        raise LibraryError(f"{path}: not a weightspace model file ({exc})") from None
    return out


class ModelFile:
    """A memory-mapped library weight file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._arrays, metadata = map_tensors(path)
            self.structure: list[dict[str, Any]] = json.loads(metadata[_STRUCTURE_KEY])
        except FileNotFoundError:
            raise LibraryError(
                f"{path}: weight file missing; the library was changed by hand. "
                "Remove the model or restore the file"
            ) from None
        except (KeyError, json.JSONDecodeError, ValueError) as exc:
            raise LibraryError(f"{path}: not a weightspace model file ({exc})") from None
        self.matrix = self._arrays["snapshots"]

    @property
    def n_snapshots(self) -> int:
        """Number of stored snapshots."""
        return int(self.matrix.shape[0])

    def index(self, snapshot: int) -> int:
        """Normalize a snapshot index (negative counts from the end)."""
        n = self.n_snapshots
        if not -n <= snapshot < n:
            raise LibraryError(
                f"{self.path}: snapshot {snapshot} out of range; the model has {n} snapshot(s) "
                f"(0..{n - 1}, or -1 for the last)"
            )
        return snapshot % n

    def vector(self, snapshot: int = -1) -> np.ndarray:
        """The canonical vector of one snapshot (a read-only memory-mapped view)."""
        row: np.ndarray = self.matrix[self.index(snapshot)]
        return row

    def weightset(self, snapshot: int = -1, *, source: str = "") -> WeightSet:
        """The snapshot as a WeightSet whose float tensors are views of the file."""
        i = self.index(snapshot)
        row = self.matrix[i]
        tensors = []
        for entry in self.structure:
            if entry["offset"] is None:
                array = self._arrays[f"extra/{i}/{entry['name']}"]
            else:
                start = int(entry["offset"])
                array = row[start : start + int(entry["length"])].reshape(entry["shape"])
            tensors.append(WeightTensor(entry["name"], entry["layer"], entry["role"], array))
        return WeightSet(tuple(tensors), source=source or str(self.path))
