"""The model library: weights in safetensors files, metadata in SQLite."""

from weightspace.library.records import LibraryInfo, SnapshotRecord
from weightspace.library.schema import SCHEMA_VERSION
from weightspace.library.store import Batch, Library

__all__ = [
    "Batch",
    "Library",
    "LibraryInfo",
    "SCHEMA_VERSION",
    "SnapshotRecord",
]
