"""Zip archives (NumPy ``.npz``, Keras ``.keras``, ``torch.save`` files): the sizes their members
declare, checked before any member is decompressed.

A zip member's header declares its size once decompressed, and :mod:`zipfile` never inflates past
it, so checking the declared sizes bounds what reading the archive can allocate: their total must
fit ``max_weights`` weights (at most 8 bytes each, plus the archive's small non-weight members) and
must not inflate like a decompression bomb (:func:`weightspace.io.limits.check_compression`).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from weightspace.errors import WeightLimitError
from weightspace.io.limits import RATIO_CHECK_BYTES, check_compression

__all__ = ["ZIP_ERRORS", "check_zip_members", "describe"]

#: What :mod:`zipfile` raises on a corrupt, truncated, encrypted or exotic archive.
ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    RuntimeError,  # encrypted members
    NotImplementedError,  # compression methods zipfile lacks
)

#: Bytes per weight at most (float64), to turn ``max_weights`` into a byte limit.
_MAX_ITEMSIZE = 8


def check_zip_members(path: Path, archive: zipfile.ZipFile, max_weights: int | None) -> int:
    """Check the sizes the members of ``archive`` declare; return their total in bytes.

    Parameters
    ----------
    path : Path
        The archive, named in errors.
    archive : zipfile.ZipFile
        The opened archive (nothing is read from it but its directory).
    max_weights : int or None
        The weight limit; ``None`` turns the checks off.

    Raises
    ------
    WeightLimitError
        The members declare more bytes than ``max_weights`` weights take, or inflate more than
        :data:`~weightspace.io.limits.MAX_COMPRESSION_RATIO` times.
    """
    infos = archive.infolist()
    declared = sum(info.file_size for info in infos)
    stored = sum(info.compress_size for info in infos)
    if max_weights is not None and declared > max_weights * _MAX_ITEMSIZE + RATIO_CHECK_BYTES:
        largest = max(infos, key=lambda info: info.file_size)
        raise WeightLimitError(
            path,
            f"zip members declare {declared:,} bytes (the largest, {largest.filename!r}, "
            f"{largest.file_size:,}), more than {max_weights:,} weights take; raise the limit "
            "with --max-weights (or max_weights=) if you trust this file",
        )
    check_compression(path, declared, stored, max_weights, what="zip members")
    return declared


def describe(exc: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
