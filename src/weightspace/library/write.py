"""The library's write path: stage a model (read, validate, write its weight file), then commit.

One :meth:`Library.add <weightspace.library.Library.add>` is three steps:

1. :func:`plan_model` reads the weights and checks every argument, and returns a frozen
   :class:`StagedModel`: all the rows the add will insert and the name of its weight file. Nothing
   has touched the disk yet; any error here leaves no trace.
2. :func:`stage_model` then writes the weight file (temporary name, fsync, rename).
3. :func:`commit_staged` inserts the rows of one or more staged models in one transaction.

The caller holds the writer lock around all three and removes the weight files it staged when
anything fails before the commit (see :meth:`Library.add_many`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from weightspace.errors import LibraryError
from weightspace.io.limits import DEFAULT_MAX_WEIGHTS
from weightspace.io.load import load_weights
from weightspace.io.weightset import WeightSet
from weightspace.library import schema
from weightspace.library.records import SnapshotRecord
from weightspace.library.weightfile import structure_of, write_model_file

__all__ = [
    "ADD_ARGUMENTS",
    "WEIGHTS_DIR",
    "StagedModel",
    "arch_id",
    "commit_staged",
    "plan_model",
    "remove_orphans",
    "stage_model",
    "timestamp",
]

WEIGHTS_DIR = "weights"
ADD_ARGUMENTS = frozenset(
    {"weights", "name", "source", "hparams", "metrics", "metadata", "snapshots"}
)
_KIND_ARGUMENT = {"hparam": "hparams", "metric": "metrics", "meta": "metadata"}


def timestamp() -> str:
    """The current UTC time as stored in the library (ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def arch_id(ws: WeightSet) -> str:
    """Hash of the roles, shapes and dtypes in order: names do not matter (Keras and PyTorch
    copies of one architecture share an id)."""
    text = json.dumps([[r, list(s), d] for _, _, r, s, d in ws.structure()])
    return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class StagedModel:
    """Everything one ``add`` writes, checked before anything touches the disk.

    Attributes
    ----------
    file : str
        The weight file, relative to the library (``weights/<uuid>.safetensors``).
    row : mapping
        The built-in columns of the model's row in ``models`` (name, source, file, ...).
    columns : mapping
        User columns: ``name -> (kind, value as stored)``, kind ``hparam``, ``metric`` or ``meta``.
    snapshots : tuple of SnapshotRecord
        One record per snapshot, in training order.
    nonfinite : tuple of int
        Non-finite weights per snapshot.
    layers : tuple of mapping
        One entry per tensor (name, layer, role, shape, dtype, offset, length), in order.
    """

    file: str
    row: Mapping[str, Any]
    columns: Mapping[str, tuple[str, Any]]
    snapshots: tuple[SnapshotRecord, ...]
    nonfinite: tuple[int, ...]
    layers: tuple[Mapping[str, Any], ...]

    def insert(self, conn: sqlite3.Connection) -> int:
        """Insert the rows (in the caller's transaction) and return the new model id."""
        schema.ensure_columns(conn, dict(self.columns))
        values = dict(self.row)
        values.update({k: v for k, (_, v) in self.columns.items()})
        model_id = schema.insert_model(conn, values)
        schema.insert_snapshots(
            conn,
            model_id,
            [
                (r.epoch, r.step, r.progress, r.train_acc, r.val_acc, r.test_acc,
                 r.train_loss, r.val_loss, r.test_loss, bad)
                for r, bad in zip(self.snapshots, self.nonfinite, strict=True)
            ],
        )  # fmt: skip
        schema.insert_layers(
            conn,
            model_id,
            [
                (e["name"], e["layer"], e["role"], json.dumps(e["shape"]), e["dtype"],
                 e["offset"], e["length"])
                for e in self.layers
            ],
        )  # fmt: skip
        return model_id


def _read_snapshots(raw: Any, max_weights: int | None) -> list[WeightSet]:
    if isinstance(raw, WeightSet | str | os.PathLike | Mapping) or not isinstance(raw, Sequence):
        raw = [raw]
    sets = [load_weights(w, max_weights=max_weights) for w in raw]
    if not sets:
        raise LibraryError("add() needs at least one snapshot of weights")
    first = sets[0]
    reference = first.structure()
    for i, ws in enumerate(sets[1:], start=1):
        if ws.structure() != reference:
            raise LibraryError(
                f"snapshot {i} ({ws.source}) has a different structure than snapshot 0 "
                f"({first.source}); all snapshots of a model need the same tensors and shapes"
            )
    return sets


def _snapshot_records(given: Any, n_snapshots: int) -> tuple[SnapshotRecord, ...]:
    if given is None:
        return tuple(SnapshotRecord() for _ in range(n_snapshots))
    records = tuple(SnapshotRecord.coerce(r) for r in given)
    if len(records) != n_snapshots:
        raise LibraryError(
            f"got {n_snapshots} snapshot(s) of weights but {len(records)} snapshot record(s); "
            "pass one record per snapshot"
        )
    return records


def _user_columns(item: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    columns: dict[str, tuple[str, Any]] = {}
    for kind in schema.COLUMN_KINDS:
        for key, value in (item.get(_KIND_ARGUMENT[kind]) or {}).items():
            if key in columns:
                raise LibraryError(f"key {key!r} given twice (in hparams/metrics/metadata)")
            columns[str(key)] = (kind, schema.sql_value(key, value))
    for key in columns:
        schema.check_column_name(key)
    return columns


def plan_model(
    item: Mapping[str, Any], *, max_weights: int | None = DEFAULT_MAX_WEIGHTS
) -> tuple[StagedModel, list[WeightSet], np.ndarray]:
    """Read and check the arguments of one ``add``; write nothing.

    Parameters
    ----------
    item : mapping
        The keyword arguments of :meth:`Library.add` (``weights`` required).
    max_weights : int or None
        Refuse checkpoint files that declare more weights (see :func:`load_weights`).

    Returns
    -------
    staged : StagedModel
        The rows to insert and the weight file to write.
    snapshots : list of WeightSet
        The weights, one WeightSet per snapshot.
    matrix : numpy.ndarray of shape (n_snapshots, n_params)
        The canonical vectors (float32), as the weight file will hold them.
    """
    unknown = set(item) - ADD_ARGUMENTS
    if unknown:
        raise LibraryError(f"unknown argument(s) to add: {sorted(unknown)}")
    sets = _read_snapshots(item["weights"], max_weights)
    records = _snapshot_records(item.get("snapshots"), len(sets))
    columns = _user_columns(item)
    matrix = np.stack([ws.vector() for ws in sets]).astype(np.float32, copy=False)
    nonfinite = (~np.isfinite(matrix)).sum(axis=1)
    first = sets[0]
    source = item.get("source") or first.source
    name = item.get("name") or (
        Path(source).name if source and not source.startswith("<") else None
    )
    file = f"{WEIGHTS_DIR}/{uuid.uuid4().hex}.safetensors"
    row = {
        "name": name,
        "source": source,
        "file": file,
        "architecture": first.summary(),
        "arch_id": arch_id(first),
        "n_params": first.n_params,
        "n_tensors": len(first),
        "n_snapshots": len(sets),
        "nonfinite": int(nonfinite.sum()),
        "created": timestamp(),
    }
    staged = StagedModel(
        file=file,
        row=MappingProxyType(row),
        columns=MappingProxyType(columns),
        snapshots=records,
        nonfinite=tuple(int(n) for n in nonfinite),
        layers=tuple(MappingProxyType(e) for e in structure_of(first)),
    )
    return staged, sets, matrix


def stage_model(
    root: Path, item: Mapping[str, Any], *, max_weights: int | None = DEFAULT_MAX_WEIGHTS
) -> StagedModel:
    """:func:`plan_model`, then write the model's weight file under ``root`` (atomically).

    The file has no rows yet: the caller commits it with :func:`commit_staged` or removes it.
    """
    staged, sets, matrix = plan_model(item, max_weights=max_weights)
    write_model_file(root / staged.file, sets, matrix=matrix)
    return staged


def commit_staged(conn: sqlite3.Connection, staged: Sequence[StagedModel]) -> list[int]:
    """Insert the rows of staged models in one transaction (all or none); their new ids."""
    ids: list[int] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for model in staged:
            ids.append(model.insert(conn))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return ids


def remove_orphans(conn: sqlite3.Connection, root: Path) -> None:
    """Remove weight files without committed rows and temporary database files (left by a
    crashed writer). Needs the writer lock."""
    known = {r[0] for r in conn.execute("SELECT file FROM models")}
    for path in (root / WEIGHTS_DIR).iterdir():
        if f"{WEIGHTS_DIR}/{path.name}" not in known:
            path.unlink(missing_ok=True)
    for path in root.glob(f".{schema.DB_NAME}.*.tmp"):
        path.unlink(missing_ok=True)
