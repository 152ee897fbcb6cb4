"""Size limits checked before a reader allocates: the defence against allocation and
decompression bombs in untrusted checkpoints.

Every reader learns the sizes a file *declares* (shape products, dataset sizes, compressed-member
sizes) before it reads any data, and calls :func:`check_declared_weights` with the total. A file
that declares more than ``max_weights`` elements is refused with :class:`WeightLimitError` before
anything is allocated.
"""

from __future__ import annotations

from os import PathLike

from weightspace.errors import WeightLimitError

__all__ = [
    "DEFAULT_MAX_WEIGHTS",
    "MAX_COMPRESSION_RATIO",
    "RATIO_CHECK_BYTES",
    "UPLOAD_MAX_WEIGHTS",
    "check_compression",
    "check_declared_weights",
]

#: Default limit of :func:`weightspace.load_weights` and the CLI (``--max-weights``): 2**31 - 1
#: elements, 8 GiB as float32: more than any model this toolkit trains, less than a bomb needs.
DEFAULT_MAX_WEIGHTS = 2**31 - 1

#: Default limit of the atlas upload (``weightspace atlas serve --max-weights``): 50 million
#: elements (200 MB as float32), far above the models a zoo holds.
UPLOAD_MAX_WEIGHTS = 50_000_000

#: Compressed data (zip members, chunked HDF5 datasets) that would inflate more than this ratio is
#: refused: trained weights compress about 1.1:1, and even pruned or mostly-zero tensors stay far
#: below 100:1, while deflate bombs reach 1000:1.
MAX_COMPRESSION_RATIO = 100

#: The ratio is only checked when the decompressed data would exceed this many bytes (64 MiB):
#: smaller files cannot hurt, and tiny all-zero tensors compress well.
RATIO_CHECK_BYTES = 64 * 2**20


def check_declared_weights(
    source: str | PathLike[str], declared: int, max_weights: int | None, *, what: str = "tensors"
) -> None:
    """Refuse ``source`` when the elements it declares exceed ``max_weights``.

    Parameters
    ----------
    source : str or path-like
        The file, named in the error.
    declared : int
        Elements the file declares (before any data is read).
    max_weights : int or None
        The limit; ``None`` means no limit.
    what : str, default "tensors"
        What was counted, for the message (e.g. ``"HDF5 datasets"``).

    Raises
    ------
    WeightLimitError
        ``declared`` is over the limit (or negative).
    """
    if declared < 0:
        raise WeightLimitError(
            source, f"{what} declare a negative size ({declared}); not a checkpoint"
        )
    if max_weights is not None and declared > max_weights:
        raise WeightLimitError(
            source,
            f"{what} declare {declared:,} weights, over the limit of {max_weights:,}; "
            "raise it with --max-weights (or max_weights=) if you trust this file",
        )


def check_compression(
    source: str | PathLike[str],
    declared_bytes: int,
    stored_bytes: int,
    max_weights: int | None,
    *,
    what: str = "compressed members",
) -> None:
    """Refuse data that would inflate from ``stored_bytes`` to ``declared_bytes`` like a bomb.

    Above :data:`RATIO_CHECK_BYTES` decompressed bytes, a ratio over :data:`MAX_COMPRESSION_RATIO`
    is refused. ``max_weights=None`` (no limit) turns this check off too.

    Parameters
    ----------
    source : str or path-like
        The file, named in the error.
    declared_bytes : int
        Bytes the data declares once decompressed (zip member sizes, HDF5 dataset sizes).
    stored_bytes : int
        Bytes it takes in the file.
    max_weights : int or None
        The caller's weight limit; ``None`` skips the check.
    what : str, default "compressed members"
        What was counted, for the message.

    Raises
    ------
    WeightLimitError
        The ratio is over :data:`MAX_COMPRESSION_RATIO`.
    """
    if max_weights is None or declared_bytes <= RATIO_CHECK_BYTES:
        return
    if declared_bytes > MAX_COMPRESSION_RATIO * max(stored_bytes, 1):
        ratio = declared_bytes / max(stored_bytes, 1)
        raise WeightLimitError(
            source,
            f"{what} declare {declared_bytes:,} bytes but store {stored_bytes:,} "
            f"({ratio:,.0f}:1, over the {MAX_COMPRESSION_RATIO}:1 a real checkpoint stays under); "
            "a decompression bomb? Pass --max-weights none (max_weights=None) if you trust this "
            "file",
        )
