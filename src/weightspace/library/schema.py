"""The library's SQLite schema, its version, and the user columns of the models table.

Why SQLite (and not DuckDB): it ships with Python (no dependency), a library is one portable file,
and in WAL mode any number of reader processes work while one writer appends, which a zoo generator
and an atlas server on the same library need; DuckDB allows one writing process and no concurrent
readers from other processes. Analytics over a few hundred thousand rows are fast in either.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from weightspace.errors import LibraryError

__all__ = [
    "BUILTIN_MODEL_COLUMNS",
    "COLUMN_KINDS",
    "DB_NAME",
    "SCHEMA_VERSION",
    "check_version",
    "create_schema",
    "ensure_columns",
    "user_columns",
]

SCHEMA_VERSION = 1
DB_NAME = "weightspace.db"
COLUMN_KINDS = ("hparam", "metric", "meta")

_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE models (
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
);
CREATE INDEX models_arch ON models(arch_id);
CREATE TABLE columns (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('hparam', 'metric', 'meta')),
    type TEXT NOT NULL
);
CREATE TABLE snapshots (
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
);
CREATE TABLE layers (
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
);
"""

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
    conn.executescript(_DDL)
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("created", created), ("weightspace_version", version)],
    )
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


def user_columns(conn: sqlite3.Connection) -> dict[str, tuple[str, str]]:
    """``name -> (kind, type)`` of the user columns of the models table, in creation order."""
    rows = conn.execute("SELECT name, kind, type FROM columns ORDER BY rowid").fetchall()
    return {name: (kind, type_) for name, kind, type_ in rows}


def ensure_columns(conn: sqlite3.Connection, values: dict[str, tuple[str, Any]]) -> None:
    """Add missing user columns to the models table; ``values`` maps name -> (kind, example)."""
    existing = user_columns(conn)
    for name, (kind, example) in values.items():
        if not _IDENTIFIER.match(name):
            raise LibraryError(
                f"metadata key {name!r} is not a valid column name; use letters, digits and "
                "underscores, starting with a letter (e.g. 'learning_rate')"
            )
        if name.lower() in BUILTIN_MODEL_COLUMNS:
            raise LibraryError(
                f"metadata key {name!r} clashes with a built-in column of the models table; rename it"
            )
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
        conn.execute("INSERT INTO columns (name, kind, type) VALUES (?, ?, ?)", (name, kind, type_))
        existing[name] = (kind, type_)
