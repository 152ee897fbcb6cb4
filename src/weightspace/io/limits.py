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
    "UPLOAD_MAX_WEIGHTS",
    "check_declared_weights",
]

#: Default limit of :func:`weightspace.load_weights` and the CLI (``--max-weights``): 2**31 - 1
#: elements, 8 GiB as float32: more than any model this toolkit trains, less than a bomb needs.
DEFAULT_MAX_WEIGHTS = 2**31 - 1

#: Default limit of the atlas upload (``weightspace atlas serve --max-weights``): 50 million
#: elements (200 MB as float32), far above the models a zoo holds.
UPLOAD_MAX_WEIGHTS = 50_000_000


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
