"""Exceptions raised for bad input.

Every message says what is wrong, where (the file, tensor or field) and how to fix it. All subclass
:class:`ValueError` so that callers who only know the standard library can still catch them; the CLI
prints them as one line and exits with a non-zero code.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CheckpointError",
    "LibraryError",
    "LibraryLockedError",
    "UnsafeCheckpointError",
    "WeightLimitError",
    "WeightspaceError",
]


class WeightspaceError(ValueError):
    """Base class of the errors weightspace raises for bad input or bad state."""


class CheckpointError(WeightspaceError):
    """A checkpoint file (or in-memory source) cannot be read as weights.

    Parameters
    ----------
    source : str or path-like
        The file (or a description of the in-memory object) that failed.
    problem : str
        What is wrong and, where there is one, the fix.
    """

    def __init__(self, source: str | PathLike[str], problem: str) -> None:
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class UnsafeCheckpointError(CheckpointError):
    """A pickle-based checkpoint needs code to load; weightspace refuses to run it."""


class WeightLimitError(CheckpointError):
    """A checkpoint declares more weights than the limit (``max_weights``); nothing was allocated."""


class LibraryError(WeightspaceError):
    """A model library is missing, corrupt, of an unsupported schema, or misused."""


class LibraryLockedError(LibraryError):
    """Another process holds the library's write lock for longer than the timeout."""
