"""A cache of computed arrays (descriptors, embeddings) inside a library directory.

Entries live in ``LIB/cache/<name>-<key>.npz`` where the key hashes the entry's name, its
parameters and the model ids it covers, so adding models or changing a parameter never returns a
stale result. Writes are atomic (temporary file, then rename); a corrupt entry is treated as a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ArrayCache"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class ArrayCache:
    """Named arrays cached under a directory, keyed by parameters and model ids.

    Parameters
    ----------
    root : path
        The cache directory (created on the first write).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> cache = ArrayCache(tempfile.mkdtemp())
    >>> cache.get("miwd", {"S": 32}, [1, 2]) is None
    True
    >>> cache.put("miwd", {"S": 32}, [1, 2], {"X": np.ones((2, 3))}).suffix
    '.npz'
    >>> cache.get("miwd", {"S": 32}, [1, 2])["X"].shape
    (2, 3)
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, name: str, params: Mapping[str, Any], ids: Sequence[int]) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"cache entry name {name!r}: use letters, digits, '.', '_' or '-'")
        text = json.dumps(
            {"params": params, "ids": [int(i) for i in ids]}, sort_keys=True, default=str
        )
        key = hashlib.sha1(f"{name}|{text}".encode()).hexdigest()[:20]
        return self.root / f"{name}-{key}.npz"

    def get(
        self, name: str, params: Mapping[str, Any], ids: Sequence[int]
    ) -> dict[str, np.ndarray] | None:
        """The cached arrays, or None when absent (or unreadable)."""
        path = self._path(name, params, ids)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            return None

    def put(
        self,
        name: str,
        params: Mapping[str, Any],
        ids: Sequence[int],
        arrays: Mapping[str, np.ndarray],
    ) -> Path:
        """Store arrays atomically; return the file."""
        path = self._path(name, params, ids)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as f:
                payload: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
                np.savez(f, **payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def clear(self, name: str | None = None) -> int:
        """Remove entries (all, or those of one name); return how many."""
        if not self.root.is_dir():
            return 0
        pattern = f"{name}-*.npz" if name else "*.npz"
        removed = 0
        for path in self.root.glob(pattern):
            path.unlink(missing_ok=True)
            removed += 1
        return removed
