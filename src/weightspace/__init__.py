"""weightspace: build, store, describe, compare, probe and map trained networks from their weights.

The public Python API is re-exported here; everything else lives in modules whose layout may change.
"""

from weightspace._version import __version__
from weightspace.errors import (
    CheckpointError,
    LibraryError,
    LibraryLockedError,
    UnsafeCheckpointError,
    WeightLimitError,
    WeightspaceError,
)
from weightspace.io import ROLES, Role, WeightSet, WeightTensor, detect_format, load_weights
from weightspace.library import Batch, Library, LibraryInfo, SnapshotRecord
from weightspace.vectors import resample

__all__ = [
    "Batch",
    "CheckpointError",
    "Library",
    "LibraryError",
    "LibraryInfo",
    "LibraryLockedError",
    "ROLES",
    "Role",
    "SnapshotRecord",
    "UnsafeCheckpointError",
    "WeightLimitError",
    "WeightSet",
    "WeightTensor",
    "WeightspaceError",
    "__version__",
    "detect_format",
    "load_weights",
    "resample",
]
