"""Operations on canonical weight vectors shared by the library and the representations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from weightspace.errors import WeightspaceError

__all__ = ["resample", "stack_resampled"]


def resample(vector: npt.ArrayLike, length: int) -> np.ndarray:
    """Resample a 1-D vector to ``length`` values by linear interpolation.

    The first and last values are kept; value ``i`` of the result is read at the fractional position
    ``i * (N - 1) / (length - 1)`` of the input (the raw baseline of Eilertsen et al., 2024).

    Parameters
    ----------
    vector : array-like of shape (N,)
        The values, N >= 1.
    length : int
        The number of values wanted, >= 1.

    Returns
    -------
    numpy.ndarray of shape (length,), float32

    Examples
    --------
    >>> resample([0.0, 1.0], 5).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    values = np.asarray(vector, dtype=np.float32).reshape(-1)
    if isinstance(length, bool) or not isinstance(length, int | np.integer) or length < 1:
        raise WeightspaceError(f"length must be a positive integer; got {length!r}")
    n = values.shape[0]
    if n == 0:
        raise WeightspaceError("cannot resample an empty vector")
    if n == length:
        return values.copy()
    if n == 1:
        return np.full(length, values[0], dtype=np.float32)
    positions = np.linspace(0.0, n - 1, int(length))
    return np.interp(positions, np.arange(n), values).astype(np.float32)


def stack_resampled(vectors: Sequence[npt.ArrayLike], length: int | None) -> np.ndarray:
    """Stack vectors into a 2-D float32 array, resampling each to ``length`` when given.

    Without ``length`` all vectors must have the same size.
    """
    arrays = [np.asarray(v, dtype=np.float32).reshape(-1) for v in vectors]
    if length is not None:
        out = np.empty((len(arrays), length), dtype=np.float32)
        for i, a in enumerate(arrays):
            out[i] = resample(a, length)
        return out
    sizes = sorted({a.shape[0] for a in arrays})
    if len(sizes) > 1:
        raise WeightspaceError(
            f"vectors have {len(sizes)} different lengths ({sizes[0]}..{sizes[-1]}); "
            "pass length=K to resample them to a common length"
        )
    if not arrays:
        return np.empty((0, 0), dtype=np.float32)
    return np.stack(arrays)
