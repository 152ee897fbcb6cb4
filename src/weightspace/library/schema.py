"""The library's SQLite schema, its version, and the user columns of the models table.

Why SQLite (and not DuckDB): it ships with Python (no dependency), a library is one portable file,
and in WAL mode any number of reader processes work while one writer appends, which a zoo generator
and an atlas server on the same library need; DuckDB allows one writing process and no concurrent
readers from other processes. Analytics over a few hundred thousand rows are fast in either.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from weightspace.errors import LibraryError

__all__ = [
    "BUILTIN_MODEL_COLUMNS",
    "COLUMN_KINDS",
    "DB_NAME",
    "SCHEMA_VERSION",
    "check_column_name",
    "check_version",
    "create_schema",
    "ensure_columns",
    "insert_layers",
    "insert_model",
    "insert_snapshots",
    "sql_value",
    "user_columns",
]

SCHEMA_VERSION = 1
DB_NAME = "weightspace.db"
COLUMN_KINDS = ("hparam", "metric", "meta")

# Each table's CREATE statement with the INSERT that writes it. The statements are stored verbatim
# in the database (sqlite_master): change them only with a new SCHEMA_VERSION.

_META = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_INSERT_META = "INSERT INTO meta (key, value) VALUES (?, ?)"

_MODELS = """CREATE TABLE models (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT,
    source TEXT,
    file TEXT NOT NULL UNIQUE,
    architecture TEXT NOT NULL,
    arch_id TEXT NOT NULL,
    n_params INTEGER NOT NULL,
    n_tensors INTEGER NOT NULL,
    n_snapshots INTEGER NOT NULL,
    nonfinite INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
)"""
_MODELS_INDEX = "CREATE INDEX models_arch ON models(arch_id)"
# INSERT INTO models: built by insert_model, since user columns are added with ALTER TABLE.

_COLUMNS = """CREATE TABLE columns (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('hparam', 'metric', 'meta')),
    type TEXT NOT NULL
)"""
_INSERT_COLUMN = "INSERT INTO columns (name, kind, type) VALUES (?, ?, ?)"

_SNAPSHOTS = """CREATE TABLE snapshots (
    model INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    epoch INTEGER,
    step INTEGER,
    progress REAL,
    train_acc REAL,
    val_acc REAL,
    test_acc REAL,
    train_loss REAL,
    val_loss REAL,
    test_loss REAL,
    nonfinite INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (model, idx)
)"""
_INSERT_SNAPSHOT = (
    "INSERT INTO snapshots (model, idx, epoch, step, progress, train_acc, val_acc,"
    " test_acc, train_loss, val_loss, test_loss, nonfinite)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_LAYERS = """CREATE TABLE layers (
    model INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    layer TEXT NOT NULL,
    role TEXT NOT NULL,
    shape TEXT NOT NULL,
    dtype TEXT NOT NULL,
    offset INTEGER,
    length INTEGER NOT NULL,
    PRIMARY KEY (model, idx)
)"""
_INSERT_LAYER = (
    "INSERT INTO layers (model, idx, name, layer, role, shape, dtype, offset, length)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_DDL = (_META, _MODELS, _MODELS_INDEX, _COLUMNS, _SNAPSHOTS, _LAYERS)

BUILTIN_MODEL_COLUMNS = frozenset(
    {
        "id",
        "name",
        "source",
        "file",
        "architecture",
        "arch_id",
        "n_params",
        "n_tensors",
        "n_snapshots",
        "nonfinite",
        "created",
    }
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def create_schema(conn: sqlite3.Connection, *, created: str, version: str) -> None:
    """Create the tables of an empty library and stamp its schema version."""
    conn.executescript("".join(f"{statement};\n" for statement in _DDL))
    conn.executemany(_INSERT_META, [("created", created), ("weightspace_version", version)])
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def check_version(conn: sqlite3.Connection, where: str) -> int:
    """Return the schema version, refusing libraries newer than this code."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version == 0:
        raise LibraryError(f"{where}: the database has no weightspace schema; not a library")
    if version > SCHEMA_VERSION:
        raise LibraryError(
            f"{where}: library schema v{version} is newer than this weightspace supports "
            f"(v{SCHEMA_VERSION}); upgrade weightspace (pip install -U weightspace)"
        )
    return version


def _sql_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, float):
        return "REAL"
    return "TEXT"


def check_column_name(name: str) -> None:
    """Refuse a user column name that is not an SQL identifier or clashes with a built-in column."""
    if not _IDENTIFIER.match(name):
        raise LibraryError(
            f"metadata key {name!r} is not a valid column name; use letters, digits and "
            "underscores, starting with a letter (e.g. 'learning_rate')"
        )
    if name.lower() in BUILTIN_MODEL_COLUMNS:
        raise LibraryError(
            f"metadata key {name!r} clashes with a built-in column of the models table; rename it"
        )


def sql_value(key: str, value: Any) -> Any:
    """A metadata value as stored in SQLite (JSON text for lists and dicts)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    raise LibraryError(
        f"metadata key {key!r}: a value of type {type(value).__name__} cannot be stored; "
        "use a number, text, or a list/dict of them"
    )


def user_columns(conn: sqlite3.Connection) -> dict[str, tuple[str, str]]:
    """``name -> (kind, type)`` of the user columns of the models table, in creation order."""
    rows = conn.execute("SELECT name, kind, type FROM columns ORDER BY rowid").fetchall()
    return {name: (kind, type_) for name, kind, type_ in rows}


def ensure_columns(conn: sqlite3.Connection, values: dict[str, tuple[str, Any]]) -> None:
    """Add missing user columns to the models table; ``values`` maps name -> (kind, example)."""
    existing = user_columns(conn)
    for name, (kind, example) in values.items():
        check_column_name(name)
        if name in existing:
            if existing[name][0] != kind:
                raise LibraryError(
                    f"metadata key {name!r} is already a {existing[name][0]} column; "
                    f"it cannot also be a {kind}"
                )
            continue
        clash = next((n for n in existing if n.lower() == name.lower()), None)
        if clash:
            raise LibraryError(f"metadata key {name!r} differs from column {clash!r} only by case")
        type_ = _sql_type(example)
        declared = "INTEGER" if type_ == "bool" else type_
        conn.execute(f'ALTER TABLE models ADD COLUMN "{name}" {declared}')
        conn.execute(_INSERT_COLUMN, (name, kind, type_))
        existing[name] = (kind, type_)


def insert_model(conn: sqlite3.Connection, values: Mapping[str, Any]) -> int:
    """Insert one row of the models table (built-in and user columns); return its id."""
    names = ", ".join(f'"{k}"' for k in values)
    marks = ", ".join("?" for _ in values)
    cur = conn.execute(f"INSERT INTO models ({names}) VALUES ({marks})", list(values.values()))
    return int(cur.lastrowid or 0)


def insert_snapshots(
    conn: sqlite3.Connection, model_id: int, rows: Iterable[Sequence[Any]]
) -> None:
    """Insert a model's snapshot rows: ``(epoch, step, progress, train_acc, val_acc, test_acc,
    train_loss, val_loss, test_loss, nonfinite)`` each, in snapshot order."""
    conn.executemany(_INSERT_SNAPSHOT, [(model_id, i, *row) for i, row in enumerate(rows)])


def insert_layers(conn: sqlite3.Connection, model_id: int, rows: Iterable[Sequence[Any]]) -> None:
    """Insert a model's layer rows: ``(name, layer, role, shape JSON, dtype, offset, length)``
    each, in tensor order."""
    conn.executemany(_INSERT_LAYER, [(model_id, i, *row) for i, row in enumerate(rows)])
