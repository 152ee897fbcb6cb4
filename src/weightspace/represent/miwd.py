"""MI-WD: model-invariant weight distribution descriptors (Eilertsen et al., EuroVis 2024, sec. 2.1).

The canonical weight vector ``theta`` (length N, any N) is cut into S consecutive, non-overlapping
windows; window ``s = 1..S`` holds the elements ``floor(N (s-1) / S) + 1 .. floor(N s / S)`` (1-based,
as in the paper). Each window becomes a normalized histogram over B equal-width bins of a fixed value
range, and the S histograms are the rows of an ``S x B`` descriptor (top row: first layers).

:func:`miwd` is the engine: one vectorized pass over all weights of a batch of models, chunk by chunk
(no Python loop per window or per value; per model, only the slicing of its array).
:class:`MIWD` is the scikit-learn adapter.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from weightspace.errors import WeightspaceError
from weightspace.represent import _miwd_kernel as _kernel

__all__ = [
    "DEFAULT_BINS",
    "DEFAULT_VALUE_RANGE",
    "DEFAULT_WINDOWS",
    "MIWD",
    "RepresentationError",
    "miwd",
]

#: The MI-WD defaults of the paper (Eilertsen et al. 2024): S = 32 windows, B = 32 bins over the
#: value range (-5, 5). Every default elsewhere (describe, the atlas, figures) is one of these.
DEFAULT_WINDOWS = 32
DEFAULT_BINS = 32
DEFAULT_VALUE_RANGE: tuple[float, float] = (-5.0, 5.0)

Outliers = Literal["clip", "drop"]
_OUTLIERS = ("clip", "drop")
#: Values per vectorized pass: large enough that Python's per-pass overhead is small, small enough
#: that the pass's temporaries (~30 bytes per value) stay near the CPU's L2 cache.
DEFAULT_CHUNK_SIZE = 1 << 17
_MAGIC = 1.5 * 2.0**52  # float64 integers k + _MAGIC, |k| < 2**51, have the bits _MAGIC_BITS + k
_MAGIC_BITS = int(np.array(_MAGIC).view(np.int64))


class RepresentationError(WeightspaceError):
    """A representation got a bad parameter or input (says which, what was expected, what was got)."""


# ---------------------------------------------------------------------------------- validation
def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise RepresentationError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def _check_params(
    S: object, B: object, value_range: object, outliers: object
) -> tuple[int, int, float, float]:
    s, b = _check_positive_int(S, "S"), _check_positive_int(B, "B")
    try:
        lo, hi = (float(v) for v in value_range)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise RepresentationError(
            f"value_range must be a pair (lo, hi) of numbers; got {value_range!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise RepresentationError(
            f"value_range must be (lo, hi) with finite lo < hi; got {value_range!r}"
        )
    if outliers not in _OUTLIERS:
        raise RepresentationError(f"outliers must be 'clip' or 'drop'; got {outliers!r}")
    return s, b, lo, hi


def _as_vector_list(
    X: Any, *, name: str = "vectors", estimator: bool = False, finite: bool = False
) -> list[np.ndarray]:
    """A batch of models as a list of 1-D numeric arrays, not copied (memmaps stay memmaps).

    X: a sequence of 1-D array-likes or WeightSets (anything with ``vector()``), or a 2-D
    array-like checked by ``check_array``. ``estimator``: at least one model and one weight per
    model (scikit-learn's contract for fit); ``finite``: no NaN or inf.
    """
    if isinstance(X, np.ndarray) and X.ndim == 1:
        raise RepresentationError(
            f"{name} must be a sequence of 1-D arrays or a 2-D array (one model per row); got a "
            f"1-D array of shape {X.shape}. Reshape your data: pass [v] for a single model"
        )
    if not isinstance(X, Sequence) or isinstance(X, str | bytes):
        minimum = 1 if estimator else 0
        array = check_array(
            X,
            dtype="numeric",
            ensure_all_finite=finite,
            ensure_min_samples=minimum,
            ensure_min_features=minimum,
            input_name=name,
        )
        return list(array)
    out = []
    for i, item in enumerate(X):
        vec = item.vector() if hasattr(item, "vector") else item
        array = vec if isinstance(vec, np.ndarray) else np.asarray(vec)
        if array.ndim != 1 or array.dtype.kind not in "fiub":
            raise RepresentationError(
                f"{name}[{i}] must be a 1-D array of real numbers (or a WeightSet); "
                f"got shape {array.shape}, dtype {array.dtype}"
            )
        if finite and not np.isfinite(array).all():
            raise RepresentationError(
                f"{name}[{i}] contains NaN or inf; this representation needs finite weights"
            )
        out.append(array)
    if estimator and not out:
        raise RepresentationError(f"{name} must hold at least one model; got 0 (n_samples=0)")
    return out


# ---------------------------------------------------------------------------------- engine
def miwd(
    vectors: Sequence[npt.ArrayLike] | np.ndarray,
    S: int = DEFAULT_WINDOWS,
    B: int = DEFAULT_BINS,
    value_range: tuple[float, float] = DEFAULT_VALUE_RANGE,
    outliers: Outliers = "clip",
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    engine: Literal["auto", "numba", "numpy"] = "auto",
) -> np.ndarray:
    """MI-WD descriptors of a batch of weight vectors of any lengths.

    Parameters
    ----------
    vectors : sequence of array-like of shape (N_i,) or of WeightSet, or array of shape (n, N)
        One canonical weight vector per model; lengths may differ. Numpy memmaps are read chunk by
        chunk, never copied whole.
    S : int, default=32
        Number of windows (rows). Window ``s = 1..S`` holds the 1-based elements
        ``floor(N (s-1) / S) + 1 .. floor(N s / S)``.
    B : int, default=32
        Number of equal-width bins (columns) over ``value_range``.
    value_range : (float, float), default=(-5.0, 5.0)
        ``(lo, hi)``. Bins are those of ``np.histogram(..., bins=B, range=value_range)``: left-closed,
        the last bin also closed on the right.
    outliers : {"clip", "drop"}, default="clip"
        Values outside ``value_range`` (including +-inf): ``"clip"`` counts them in the first or last
        bin, ``"drop"`` ignores them. The default keeps every weight in the histogram, so that a few
        extreme weights (the paper's range is about the 5th..95th percentile) still weigh in the
        edge bins instead of silently shrinking the window.
    engine : {"auto", "numba", "numpy"}, default="auto"
        ``"auto"`` uses the compiled one-pass kernel (:mod:`._miwd_kernel`) when numba is installed
        and the vectors are float32/float64, else the NumPy engine; both give identical results.
    chunk_size : int, default=131072
        Values per vectorized pass of the NumPy engine. Memory is bounded whatever the batch size: about
        ``32 * chunk_size`` bytes of temporaries, plus ``8 * (B + 1)`` bytes of counts and ~150
        bytes of plan per window (model x S), plus the output.

    Returns
    -------
    numpy.ndarray of shape (n, S, B), float32
        Row ``[i, s]`` is the histogram of window s of model i, normalized to sum 1. NaN values are
        not counted; a window with no counted value (``N < S`` leaves some windows empty, or all its
        values are NaN or dropped) is a row of zeros.

    Examples
    --------
    >>> import numpy as np
    >>> d = miwd([np.zeros(10), np.linspace(-1, 1, 1000)], S=2, B=4, value_range=(-1, 1))
    >>> d.shape
    (2, 2, 4)
    >>> d[0].tolist()
    [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    """
    S, B, lo, hi = _check_params(S, B, value_range, outliers)
    chunk_size = _check_positive_int(chunk_size, "chunk_size")
    if isinstance(vectors, np.ndarray) and vectors.ndim == 2 and vectors.flags.c_contiguous:
        if vectors.dtype.kind not in "fiub":
            raise RepresentationError(f"vectors must hold real numbers; got dtype {vectors.dtype}")
        lengths = np.full(vectors.shape[0], vectors.shape[1], dtype=np.int64)
        source: list[np.ndarray] | np.ndarray = vectors.reshape(-1)  # a view, even of a memmap
    else:
        source = _as_vector_list(vectors)
        lengths = np.array([a.shape[0] for a in source], dtype=np.int64)
    if engine != "numpy" and _kernel.available():
        clip = outliers == "clip"
        if isinstance(source, np.ndarray):  # one 2-D batch: its rows are views, read in place
            if source.dtype in (np.float32, np.float64):
                rows = list(source.reshape(lengths.shape[0], -1))
                return _kernel.miwd_rows(rows, S, B, lo, hi, clip)
        elif all(a.dtype in (np.float32, np.float64) for a in source):
            return _kernel.miwd_rows(source, S, B, lo, hi, clip)
    if engine == "numba" and not _kernel.available():
        raise RepresentationError("engine='numba' needs numba: pip install numba")
    counts = _Histogrammer(source, lengths, S, B, lo, hi, outliers == "drop", chunk_size).run()
    totals = counts.sum(axis=1) - counts[:, B]  # without the trash bin
    np.maximum(totals, 1, out=totals)  # an empty window has only zeros: 0 / 1
    out = np.empty((counts.shape[0], B), dtype=np.float32)
    np.divide(counts[:, :B], totals[:, None], out=out, casting="same_kind")
    return out.reshape(lengths.shape[0], S, B)


class _Histogrammer:
    """Counts of every (model, window, bin) of a batch, computed chunk by chunk.

    The batch is one stream (the vectors one after another) cut into chunks; a plan made once splits
    the windows at chunk boundaries into pieces. Per chunk, ``t = floor((x - e0) / w)`` is each
    value's bin relative to the edge ``e0`` nearest zero (tiny values beside a zero edge keep their
    sign; a value on an edge divides exactly); NaN and dropped values go to a trash bin B. Long
    windows count pairs of neighbouring values into a joint histogram per piece with one
    ``np.add.at`` (half the scattered increments, no stall on runs of equal bins) and take its two
    marginals; short windows add each value at ``row * (B + 1) + bin`` of the flat counts.
    """

    def __init__(
        self,
        source: list[np.ndarray] | np.ndarray,
        lengths: np.ndarray,
        S: int,
        B: int,
        lo: float,
        hi: float,
        drop: bool,
        chunk: int,
    ) -> None:
        self.source, self.B, self.lo, self.hi = source, B, lo, hi
        self.drop, self.chunk = drop, chunk
        self.n_rows = lengths.shape[0] * S
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.offsets, self.total = offsets.tolist(), int(offsets[-1])
        self.edges = edges = np.linspace(lo, hi, B + 1)  # np.histogram's edges
        self._exact: dict[np.dtype, bool] = {}
        self.k0 = int(np.argmin(np.abs(edges)))
        # float64 scalars: with a Python float NumPy would compute float32 inputs in float32
        self.e0, self.width = np.float64(edges[self.k0]), np.float64((hi - lo) / B)
        # the plan: windows [start, stop) in stream coordinates, split at chunk boundaries
        bounds = offsets[:-1, None] + lengths[:, None] * np.arange(S + 1) // S
        start, stop = bounds[:, :-1].ravel(), bounds[:, 1:].ravel()
        row = np.flatnonzero(stop > start)
        start, stop = start[row], stop[row]
        first = start // chunk
        n_pieces = (stop - 1) // chunk - first + 1
        run = np.repeat(np.arange(row.shape[0]), n_pieces)
        cum = np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
        c = first[run] + np.arange(run.shape[0]) - cum
        chunk_pieces = np.searchsorted(c, np.arange(0, self.total // chunk + 2))
        self.chunk_pieces = chunk_pieces.tolist()
        self.piece_row = row[run]
        self.piece_start = np.maximum(start[run], c * chunk) - c * chunk  # in its chunk
        self.piece_len = np.minimum(stop[run], (c + 1) * chunk) - c * chunk - self.piece_start
        self.piece_base = (self.piece_row * (B + 1) + self.k0).astype(np.float64) + _MAGIC
        # for chunks counted by pairs: pairs per piece (a pair belongs to the piece of its first
        # value) and the flat index of the piece's joint histogram in its chunk
        even_end = np.minimum(self.total - c * chunk, chunk) // 2 * 2
        pair_stop = np.minimum(self.piece_start + self.piece_len, even_end)
        self.piece_pairs = (pair_stop + 1) // 2 - (self.piece_start + 1) // 2
        bi = B + 1
        local = np.arange(c.shape[0]) - chunk_pieces[c]
        self.pair_base = (local * bi * bi + self.k0 * bi + self.k0).astype(np.float64) + _MAGIC
        size = max(1, min(chunk, self.total))
        self.t, self.half = np.empty(size), np.empty(size // 2 + 1)
        self.pair_weights = np.array([B + 1.0, 1.0])  # pair (a, b) -> a * (B + 1) + b

    def run(self) -> np.ndarray:
        """Counts, shape ``(n * S, B + 1)`` (the last column is the trash bin)."""
        counts = np.zeros((self.n_rows, self.B + 1), dtype=np.int64)
        for c, c0 in enumerate(range(0, self.total, self.chunk)):
            x = self._values(c0, min(c0 + self.chunk, self.total))
            p0, p1 = self.chunk_pieces[c], self.chunk_pieces[c + 1]
            t = self._bins(x)
            if t.shape[0] >= (p1 - p0) * (self.B + 1) ** 2:
                self._count_pairs(t, p0, p1, counts)
            else:
                self._count_values(t, p0, p1, counts.reshape(-1))
        return counts

    def _values(self, c0: int, c1: int) -> np.ndarray:
        """stream[c0:c1], a view where it lies in one array."""
        if isinstance(self.source, np.ndarray):
            return self.source[c0:c1]
        offsets = self.offsets
        m0 = bisect.bisect_right(offsets, c0) - 1
        m1 = bisect.bisect_left(offsets, c1) - 1
        if m0 == m1:
            return self.source[m0][c0 - offsets[m0] : c1 - offsets[m0]]
        return np.concatenate(  # slices of the models of this chunk (each model is sliced once)
            [
                self.source[m][
                    max(c0, offsets[m]) - offsets[m] : min(c1, offsets[m + 1]) - offsets[m]
                ]
                for m in range(m0, m1 + 1)
            ]
        )

    def _bins(self, x: np.ndarray) -> np.ndarray:
        """Float64 bins minus k0 (integers in ``[-k0, B - k0]``; ``B - k0`` is the trash bin)."""
        B, k0 = self.B, self.k0
        t = self.t[: x.shape[0]]
        if self._division_is_exact(x.dtype):
            self._divide(x, t)
        else:  # comparisons with the edges, as np.histogram: exact, slower
            np.subtract(np.searchsorted(self.edges, x, side="right"), 1 + k0, out=t)
            np.clip(t, -k0, B - 1 - k0, out=t)
        if self.drop:
            keep = np.greater_equal(x, np.float64(self.lo))
            keep &= np.less_equal(x, np.float64(self.hi))  # NaN compares False: dropped too
            np.copyto(t, B - k0, where=~keep)
        elif x.dtype.kind == "f" and np.isnan(np.maximum.reduce(x)):  # max propagates NaN
            np.copyto(t, B - k0, where=np.isnan(x))
        return t

    def _divide(self, x: np.ndarray, t: np.ndarray) -> None:
        """``t = clip(floor((x - e0) / w), -k0, B - 1 - k0)``, in float64."""
        if self.e0 == 0.0:
            np.divide(x, self.width, out=t)
        else:
            np.subtract(x, self.e0, out=t)
            np.divide(t, self.width, out=t)
        np.clip(t, -self.k0, self.B - 1 - self.k0 + 0.5, out=t)
        np.floor(t, out=t)

    def _division_is_exact(self, dtype: np.dtype) -> bool:
        """Whether :meth:`_divide` bins every value of ``dtype`` as comparisons with the edges do:
        both are monotone, so checking the values just below and above each inner edge suffices
        (a division can miss by one bin only within a few float64 ulps of an inexact edge)."""
        if dtype not in self._exact:
            edges = self.edges[1:-1]
            if dtype.kind == "f":
                c = edges[np.abs(edges) <= np.finfo(dtype).max].astype(dtype)
                inf = dtype.type(np.inf)
                near = np.concatenate([c, np.nextafter(c, -inf), np.nextafter(c, inf)])
            elif dtype.kind == "b":
                near = np.array([False, True])
            else:
                info, f = np.iinfo(dtype), np.floor(edges)
                near = np.concatenate([f - 1, f, f + 1])
                near = near[(near >= info.min) & (near <= info.max)].astype(dtype)
            t = np.empty(near.shape[0])
            self._divide(near, t)
            exact = np.searchsorted(self.edges, near, side="right") - 1
            self._exact[dtype] = bool(np.array_equal(t + self.k0, np.clip(exact, 0, self.B - 1)))
        return self._exact[dtype]

    def _count_values(self, t: np.ndarray, p0: int, p1: int, flat: np.ndarray) -> None:
        if p1 - p0 == 1:
            t += self.piece_base[p0]
        else:
            t += np.repeat(self.piece_base[p0:p1], self.piece_len[p0:p1])
        np.add.at(flat, _as_int(t), 1)

    def _count_pairs(self, t: np.ndarray, p0: int, p1: int, counts: np.ndarray) -> None:
        bi, n_pieces, m = self.B + 1, p1 - p0, t.shape[0] // 2
        pair = np.matmul(t[: 2 * m].reshape(m, 2), self.pair_weights, out=self.half[:m])
        if n_pieces == 1:
            pair += self.pair_base[p0]
        else:
            pair += np.repeat(self.pair_base[p0:p1], self.piece_pairs[p0:p1])
        joint = np.zeros((n_pieces, bi, bi), dtype=np.int64)
        np.add.at(joint.reshape(-1), _as_int(pair), 1)
        hist = joint.sum(axis=2) + joint.sum(axis=1)
        if n_pieces > 1:  # a piece starting at an odd position lent its first value to the
            starts = self.piece_start[p0:p1]  # previous piece's last pair: give it back
            odd = np.flatnonzero(starts % 2)
            b = t[starts[odd]].astype(np.intp) + self.k0
            np.subtract.at(hist, (odd - 1, b), 1)
            np.add.at(hist, (odd, b), 1)
        if t.shape[0] % 2:
            hist[n_pieces - 1, int(t[-1]) + self.k0] += 1
        counts[self.piece_row[p0:p1]] += hist


def _as_int(t: np.ndarray) -> np.ndarray:
    """Integers ``k + _MAGIC`` (float64) as int64 ``k``, in place: 3x faster than a cast."""
    keys = t.view(np.int64)
    keys -= _MAGIC_BITS
    return keys


# ---------------------------------------------------------------------------------- adapter
class MIWD(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Scikit-learn transformer computing MI-WD descriptors (see :func:`miwd`).

    Parameters
    ----------
    S, B : int, default=32
        Windows and bins; the descriptor has ``K = S * B`` dimensions.
    value_range : (float, float), default=(-5.0, 5.0)
        Range of the bins.
    outliers : {"clip", "drop"}, default="clip"
        What happens to values outside ``value_range``.
    flatten : bool, default=True
        Return ``(n, S * B)`` (row-major: window, then bin) instead of ``(n, S, B)``.

    Attributes
    ----------
    n_features_out_ : int
        ``S * B``.

    Examples
    --------
    >>> import numpy as np
    >>> X = [np.random.default_rng(0).normal(size=500), np.ones(40)]
    >>> MIWD(S=4, B=8).fit_transform(X).shape
    (2, 32)
    """

    def __init__(
        self,
        *,
        S: int = DEFAULT_WINDOWS,
        B: int = DEFAULT_BINS,
        value_range: tuple[float, float] = DEFAULT_VALUE_RANGE,
        outliers: Outliers = "clip",
        flatten: bool = True,
    ) -> None:
        self.S = S
        self.B = B
        self.value_range = value_range
        self.outliers = outliers
        self.flatten = flatten

    def fit(self, X: Any, y: Any = None) -> MIWD:
        """Check the parameters and X (1-D arrays or WeightSets, or a 2-D array); return self."""
        S, B, _, _ = _check_params(self.S, self.B, self.value_range, self.outliers)
        _as_vector_list(X, name="X", estimator=True)
        self.n_features_out_ = S * B
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Descriptors of X: ``(n, S * B)`` float32, or ``(n, S, B)`` when ``flatten=False``."""
        check_is_fitted(self)
        vectors: list[np.ndarray] | np.ndarray = _as_vector_list(X, name="X", estimator=True)
        if isinstance(X, np.ndarray) and X.dtype.kind in "fiub":
            vectors = X  # checked; as a 2-D array it keeps miwd's contiguous (memmap) path
        out = miwd(vectors, self.S, self.B, self.value_range, self.outliers)
        return out.reshape(len(vectors), -1) if self.flatten else out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``"miwd_s{s}_b{b}"`` (0-based window s and bin b) in the flattened order."""
        check_is_fitted(self)
        return np.array(
            [f"miwd_s{s}_b{b}" for s in range(self.S) for b in range(self.B)], dtype=object
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
