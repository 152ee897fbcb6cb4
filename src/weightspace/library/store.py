"""The model library: a directory of safetensors weight files and one SQLite database.

::

    LIB/
      weightspace.db            models, snapshots, layers, columns, meta (SQLite, WAL mode)
      weights/<uuid>.safetensors one file per model, all its snapshots (see weightfile.py)
      .write.lock               the writer lock

Atomicity: a model's weight file is written to a temporary name, fsynced and renamed, and only then
are its rows committed in one transaction. The database is the source of truth: a model exists when
its rows are committed, so after a crash at any point the library opens consistent and holds no
partial model; weight files that a crashed writer left without rows are removed by the next writer,
under the writer lock. Readers never take the lock and see only committed models.

:class:`Library` is the facade; the write path (a frozen staged record per model, checked before
anything touches the disk, then one transaction) is in :mod:`weightspace.library.write`, the tables
and their INSERT statements in :mod:`weightspace.library.schema`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors import SafetensorError

from weightspace._version import __version__
from weightspace.errors import LibraryError, WeightspaceError
from weightspace.io.limits import DEFAULT_MAX_WEIGHTS
from weightspace.io.safetensors_format import weightset_metadata, write_safetensors
from weightspace.io.weightset import WeightSet
from weightspace.library import schema
from weightspace.library.cache import ArrayCache
from weightspace.library.lock import sigterm_as_exit, write_lock
from weightspace.library.records import LibraryInfo, SnapshotRecord
from weightspace.library.weightfile import ModelFile, read_vector
from weightspace.library.write import (
    WEIGHTS_DIR,
    StagedModel,
    commit_staged,
    remove_orphans,
    stage_model,
    timestamp,
)
from weightspace.vectors import stack_resampled

__all__ = ["Batch", "Library"]


@dataclass(frozen=True)
class Batch:
    """A batch of models read by :meth:`Library.iter_batches`.

    Attributes
    ----------
    ids : tuple of int
        Model ids, in the order of ``vectors``.
    vectors : list of numpy.ndarray or numpy.ndarray
        Canonical vectors (ragged list), or a 2-D array when a common ``length`` was asked for.
    """

    ids: tuple[int, ...]
    vectors: list[np.ndarray] | np.ndarray


class Library:
    """A model library on disk.

    Open an existing library with ``Library(path)``; make a new one with :meth:`Library.create`.

    Parameters
    ----------
    path : str or path-like
        The library directory.
    timeout : float, default=60.0
        Seconds a writer waits for another writer before :class:`LibraryLockedError`.

    Examples
    --------
    >>> import tempfile, torch
    >>> from weightspace import Library
    >>> lib = Library.create(tempfile.mkdtemp() + "/lib")
    >>> model_id = lib.add(torch.nn.Linear(4, 2), hparams={"lr": 0.01})
    >>> lib.get(model_id).n_params
    10
    >>> lib.query()[["id", "n_params", "lr"]].to_dict("records")
    [{'id': 1, 'n_params': 10, 'lr': 0.01}]
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.timeout = float(timeout)
        self._local = threading.local()
        self._cleaned = False
        db = self.path / schema.DB_NAME
        if not self.path.exists():
            raise LibraryError(
                f"{self.path}: no library here; create one with "
                f"`weightspace library create {self.path}`"
            )
        if not db.is_file():
            raise LibraryError(
                f"{self.path}: not a weightspace library (no {schema.DB_NAME}); create one with "
                f"`weightspace library create PATH` in an empty directory"
            )
        try:
            self.schema_version = schema.check_version(self._conn(), str(self.path))
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"{db}: corrupt library database ({exc})") from None

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, path: str | os.PathLike[str], *, exist_ok: bool = False) -> Library:
        """Create an empty library in ``path`` (a new or empty directory) and open it."""
        target = Path(path)
        db = target / schema.DB_NAME
        if db.exists():
            if exist_ok:
                return cls(target)
            raise LibraryError(
                f"{target}: a library already exists here; open it with Library(path)"
            )
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise LibraryError(
                f"{target}: exists and is not an empty directory; choose a new path for the library"
            )
        (target / WEIGHTS_DIR).mkdir(parents=True, exist_ok=True)
        tmp = target / f".{schema.DB_NAME}.{os.getpid()}.tmp"
        conn = sqlite3.connect(tmp)
        try:
            with conn:
                schema.create_schema(conn, created=timestamp(), version=__version__)
        finally:
            conn.close()
        os.replace(tmp, db)  # the library appears whole or not at all
        return cls(target)

    # ------------------------------------------------------------------ connections
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path / schema.DB_NAME, timeout=self.timeout)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            self._local.conn = conn
        return conn

    def _readonly_conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "ro", None)
        if conn is None:
            uri = f"{(self.path / schema.DB_NAME).resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=self.timeout)
            self._local.ro = conn
        return conn

    @property
    def cache(self) -> ArrayCache:
        """Computed arrays (descriptors, embeddings) cached in ``LIB/cache``, keyed by parameters
        and model ids (see :class:`weightspace.library.cache.ArrayCache`)."""
        return ArrayCache(self.path / "cache")

    def close(self) -> None:
        """Close this thread's database connections (they reopen on the next use)."""
        for attr in ("conn", "ro"):
            conn = getattr(self._local, attr, None)
            if conn is not None:
                conn.close()
                setattr(self._local, attr, None)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r}, models={len(self)})"

    # ------------------------------------------------------------------ writing
    def add(
        self,
        weights: Any,
        *,
        name: str | None = None,
        source: str | None = None,
        hparams: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        snapshots: Sequence[SnapshotRecord | Mapping[str, Any]] | None = None,
        max_weights: int | None = DEFAULT_MAX_WEIGHTS,
    ) -> int:
        """Add one model (one or more snapshots of one training) atomically; return its id.

        Parameters
        ----------
        weights : WeightSet, path, nn.Module, state dict, or a sequence of them
            The model; a sequence holds its snapshots in training order (all of one structure).
        name : str, optional
            A name for the model (default: the file name of a path source).
        source : str, optional
            Provenance (default: the WeightSet's source).
        hparams, metrics, metadata : mapping, optional
            Hyper-parameters, final metrics and other facts; each key becomes a column of the
            models table (letters, digits, underscores).
        snapshots : sequence of SnapshotRecord or mapping, optional
            One record per snapshot (epoch, progress, accuracies, losses).
        max_weights : int or None, default=2**31 - 1
            Refuse checkpoint files that declare more weights (see :func:`load_weights`).
        """
        return self.add_many(
            [
                {
                    "weights": weights,
                    "name": name,
                    "source": source,
                    "hparams": hparams,
                    "metrics": metrics,
                    "metadata": metadata,
                    "snapshots": snapshots,
                }
            ],
            max_weights=max_weights,
        )[0]

    def add_many(
        self,
        items: Iterable[Mapping[str, Any]],
        *,
        progress: bool = False,
        total: int | None = None,
        max_weights: int | None = DEFAULT_MAX_WEIGHTS,
    ) -> list[int]:
        """Add several models in one transaction: all of them, or (on any error) none.

        ``items`` yields mappings of the keyword arguments of :meth:`add`; weights given as paths
        are read one at a time, so memory stays bounded however many models are added. Files that
        declare more than ``max_weights`` weights are refused (see :func:`load_weights`). The
        progress bar shows only on a terminal. The weight files staged so far are removed on any
        error, Ctrl-C, or SIGTERM.
        """
        staged: list[StagedModel] = []
        committed = False
        with write_lock(self.path, self.timeout), sigterm_as_exit():
            self._remove_orphans()
            try:
                iterator: Iterable[Mapping[str, Any]] = items
                if progress:
                    from weightspace._progress import progress_bar

                    iterator = progress_bar(items, total=total, unit="model", desc="adding")
                for item in iterator:
                    staged.append(stage_model(self.path, item, max_weights=max_weights))
                ids = self._commit(staged)
                committed = True
                return ids
            except BaseException:
                if not committed:
                    for model in staged:
                        (self.path / model.file).unlink(missing_ok=True)
                raise

    def _commit(self, staged: Sequence[StagedModel]) -> list[int]:
        return commit_staged(self._conn(), staged)

    def _remove_orphans(self) -> None:
        """Remove weight files without committed rows (left by a crashed writer). Needs the lock."""
        if self._cleaned:
            return
        remove_orphans(self._conn(), self.path)
        self._cleaned = True

    def remove(self, model_id: int) -> None:
        """Remove a model, its snapshots and its weight file."""
        with write_lock(self.path, self.timeout):
            file = self._file_of(model_id)
            conn = self._conn()
            with conn:
                conn.execute("DELETE FROM models WHERE id = ?", (model_id,))
            (self.path / file).unlink(missing_ok=True)

    # ------------------------------------------------------------------ reading one model
    def _file_of(self, model_id: int) -> str:
        row = (
            self._conn()
            .execute("SELECT file FROM models WHERE id = ?", (int(model_id),))
            .fetchone()
        )
        if row is None:
            raise LibraryError(
                f"{self.path}: no model with id {model_id}; list them with "
                f"`weightspace library list {self.path}`"
            )
        return str(row[0])

    def _model_file(self, model_id: int) -> ModelFile:
        return ModelFile(self.path / self._file_of(model_id))

    def get(self, model_id: int, snapshot: int = -1) -> WeightSet:
        """One snapshot of a model as a WeightSet (default: the last snapshot).

        The tensors are read-only views of the memory-mapped weight file.
        """
        return self._model_file(model_id).weightset(snapshot, source=f"{self.path}#{model_id}")

    def snapshots_of(self, model_id: int) -> list[WeightSet]:
        """All snapshots of a model, in training order."""
        mf = self._model_file(model_id)
        return [
            mf.weightset(i, source=f"{self.path}#{model_id}/{i}") for i in range(mf.n_snapshots)
        ]

    def vector(self, model_id: int, snapshot: int = -1) -> np.ndarray:
        """The canonical vector of one snapshot (read-only, memory-mapped)."""
        return self._model_file(model_id).vector(snapshot)

    def snapshot_matrix(self, model_id: int) -> np.ndarray:
        """All snapshots of a model as a read-only ``(n_snapshots, n_params)`` array."""
        return self._model_file(model_id).matrix

    # ------------------------------------------------------------------ reading many
    def ids(self, where: str | None = None, params: Sequence[Any] = ()) -> list[int]:
        """Model ids, optionally filtered by an SQL condition on the models table."""
        sql = "SELECT id FROM models" + (f" WHERE {where}" if where else "") + " ORDER BY id"
        return [int(r[0]) for r in self._run_readonly(sql, params)[1]]

    def _files(self, ids: Sequence[int]) -> list[Path]:
        known = dict(self._conn().execute("SELECT id, file FROM models").fetchall())
        missing = [i for i in ids if i not in known]
        if missing:
            raise LibraryError(
                f"{self.path}: no model(s) with id {missing[:10]}; list them with "
                f"`weightspace library list {self.path}`"
            )
        return [self.path / known[i] for i in ids]

    def vectors(self, ids: Sequence[int] | None = None, *, snapshot: int = -1) -> list[np.ndarray]:
        """Canonical vectors (copies) of many models: a ragged list."""
        chosen = self.ids() if ids is None else [int(i) for i in ids]
        return [read_vector(path, snapshot) for path in self._files(chosen)]

    def matrix(
        self, ids: Sequence[int] | None = None, *, snapshot: int = -1, length: int | None = None
    ) -> np.ndarray:
        """Canonical vectors of many models as one ``(n_models, length)`` float32 array.

        Without ``length`` all models need the same number of weights; with it, each vector is
        resampled to ``length`` by linear interpolation (:func:`weightspace.resample`).
        """
        return stack_resampled(self.vectors(ids, snapshot=snapshot), length)

    def iter_batches(
        self,
        ids: Sequence[int] | None = None,
        *,
        batch_size: int = 256,
        snapshot: int = -1,
        length: int | None = None,
    ) -> Iterator[Batch]:
        """Iterate over models in batches; only one batch of vectors is in memory at a time."""
        if batch_size < 1:
            raise LibraryError(f"batch_size must be >= 1; got {batch_size}")
        chosen = self.ids() if ids is None else [int(i) for i in ids]
        files = self._files(chosen)
        for start in range(0, len(chosen), batch_size):
            part = tuple(chosen[start : start + batch_size])
            vecs = [read_vector(p, snapshot) for p in files[start : start + batch_size]]
            yield Batch(part, stack_resampled(vecs, length) if length is not None else vecs)

    # ------------------------------------------------------------------ queries
    def _run_readonly(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """``(column names, rows)`` of a read-only query; any SQL error (also one that happens
        while rows are fetched) is a :class:`LibraryError`."""
        try:
            cur = self._readonly_conn().execute(sql, tuple(params))
            return [d[0] for d in cur.description or ()], cur.fetchall()
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:  # not the query's fault: a damaged file
                raise _corrupt(self.path, exc) from None
            raise LibraryError(f"{self.path}: SQL error: {exc} (in: {sql})") from None

    def sql(self, query: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a read-only SQL query (tables models, snapshots, layers, columns); a DataFrame."""
        names, rows = self._run_readonly(query, params)
        frame = pd.DataFrame.from_records(rows, columns=names)
        return self._restore_types(frame)

    def query(
        self, where: str | None = None, params: Sequence[Any] = (), **equals: Any
    ) -> pd.DataFrame:
        """The models table (one row per model), filtered.

        Parameters
        ----------
        where : str, optional
            An SQL condition, e.g. ``"optimizer = 'adam' AND test_acc > 0.9"``.
        params : sequence, optional
            Values for ``?`` placeholders in ``where``.
        **equals
            Column equality filters, e.g. ``query(activation="relu")``.
        """
        clauses = [f"({where})"] if where else []
        values = list(params)
        columns = set(self.columns()) | schema.BUILTIN_MODEL_COLUMNS
        for key, value in equals.items():
            if key not in columns:
                raise LibraryError(f"unknown column {key!r}; columns are {sorted(columns)}")
            clauses.append(f'"{key}" IS ?')
            values.append(schema.sql_value(key, value))
        sql = "SELECT * FROM models" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return self.sql(sql + " ORDER BY id", values)

    def snapshot_table(self, ids: Sequence[int] | None = None) -> pd.DataFrame:
        """The snapshots table (one row per snapshot) for all models or the given ids."""
        if ids is None:
            return self.sql("SELECT * FROM snapshots ORDER BY model, idx")
        marks = ", ".join("?" for _ in ids)
        return self.sql(
            f"SELECT * FROM snapshots WHERE model IN ({marks}) ORDER BY model, idx", ids
        )

    def layer_table(self, model_id: int) -> pd.DataFrame:
        """The layers table of one model (one row per tensor, with offsets in the vector)."""
        self._file_of(model_id)
        return self.sql("SELECT * FROM layers WHERE model = ? ORDER BY idx", [model_id])

    def columns(self) -> dict[str, str]:
        """User columns of the models table: ``name -> kind`` (hparam, metric or meta)."""
        return {n: k for n, (k, _) in schema.user_columns(self._conn()).items()}

    def _restore_types(self, frame: pd.DataFrame) -> pd.DataFrame:
        for name, (_, type_) in schema.user_columns(self._conn()).items():
            if type_ == "bool" and name in frame.columns:
                # a model without the value reads back as NaN (a numeric column) or None
                frame[name] = frame[name].map(lambda v: None if pd.isna(v) else bool(v))
        return frame

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM models").fetchone()[0])

    def __contains__(self, model_id: object) -> bool:
        if not isinstance(model_id, int | np.integer):
            return False
        row = self._conn().execute("SELECT 1 FROM models WHERE id = ?", (int(model_id),)).fetchone()
        return row is not None

    def info(self) -> LibraryInfo:
        """Counts, size on disk, columns and models with non-finite weights."""
        try:
            return self._info()
        except sqlite3.DatabaseError as exc:
            raise _corrupt(self.path, exc) from None

    def _info(self) -> LibraryInfo:
        conn = self._conn()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        n_models, n_snap, n_weights, n_arch = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(n_snapshots), 0), COALESCE(SUM(n_params * n_snapshots), 0),"
            " COUNT(DISTINCT arch_id) FROM models"
        ).fetchone()
        bad = tuple(
            int(r[0]) for r in conn.execute("SELECT id FROM models WHERE nonfinite > 0 ORDER BY id")
        )
        disk = sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return LibraryInfo(
            path=str(self.path),
            schema_version=self.schema_version,
            weightspace_version=meta.get("weightspace_version", "?"),
            created=meta.get("created", "?"),
            n_models=int(n_models),
            n_snapshots=int(n_snap),
            n_weights=int(n_weights),
            n_architectures=int(n_arch),
            disk_bytes=int(disk),
            nonfinite_models=bad,
            columns=self.columns(),
        )

    # ------------------------------------------------------------------ export
    def export(self, model_id: int, out: str | os.PathLike[str], *, snapshot: int = -1) -> Path:
        """Write one snapshot as a plain safetensors state dict (original names and shapes)."""
        ws = self.get(model_id, snapshot)
        target = Path(out)
        if target.suffix != ".safetensors":
            raise WeightspaceError(f"{target}: export writes safetensors; use a .safetensors name")
        if not target.parent.is_dir():
            raise WeightspaceError(
                f"{target}: the folder {target.parent} does not exist; create it first"
            )
        try:
            write_safetensors(target, dict(ws.to_numpy()), metadata=weightset_metadata(ws))
        except (OSError, SafetensorError) as exc:
            raise WeightspaceError(f"{target}: cannot write the file ({exc})") from None
        return target


def _corrupt(path: Path, exc: sqlite3.DatabaseError) -> LibraryError:
    return LibraryError(
        f"{path / schema.DB_NAME}: corrupt library database ({exc}); restore it from a backup"
    )
