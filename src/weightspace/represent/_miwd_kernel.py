"""A compiled MI-WD kernel (numba): binning and counting in one pass over the weights.

NumPy needs several passes and a scatter-add per weight (about 1.8 ns per weight here, see
bench/RESULTS.md); this kernel reads each weight once, and runs the (model, window) pairs in
parallel. Bins are exactly those of ``np.histogram(x, bins=B, range=(lo, hi))``: a first guess from
the scaled value, corrected by comparing with the same float64 edges ``np.histogram`` uses for the
values converted to float64. Used by :func:`weightspace.represent.miwd` when numba is installed (umap-learn, the
atlas' dependency, brings it); the NumPy engine is the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["available", "miwd_rows"]

_KERNEL: Any = None


def available() -> bool:
    """Whether numba can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _kernel() -> Any:
    global _KERNEL  # the compiled functions, built once per process
    if _KERNEL is None:
        import numba

        @numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
        def window(data, begin, end, B, lo, hi, norm, e_lo, e_hi, clip, row):  # type: ignore[no-untyped-def]
            # four interleaved sub-histograms: consecutive weights of a concentrated window hit
            # the same bin, and one counter would serialize on its own increments
            lanes = np.zeros(4 * B, dtype=np.int64)
            top = B - 0.5
            for i in range(begin, end):
                v = np.float64(data[i])
                if v != v:
                    continue  # NaN: not counted
                if not clip and (v < lo or v > hi):
                    continue
                t = min(max((v - lo) * norm, 0.0), top)
                b = int(t)
                f = t - b
                if f < 1e-6 or f > 0.999999:  # near an edge: decide with the edges themselves
                    if v < e_lo[b] and b > 0:
                        b -= 1
                    elif v >= e_hi[b]:
                        b += 1
                lanes[(i & 3) * B + b] += 1
            total = 0
            for b in range(B):
                c = lanes[b] + lanes[B + b] + lanes[2 * B + b] + lanes[3 * B + b]
                lanes[b] = c
                total += c
            scale = 1.0 / max(total, 1)  # an empty window is all zeros
            for b in range(B):
                row[b] = np.float32(lanes[b] * scale)

        @numba.njit(parallel=True, cache=True, nogil=True, boundscheck=False)
        def count_list(arrays, S, B, lo, hi, norm, e_lo, e_hi, clip, out):  # type: ignore[no-untyped-def]
            for task in numba.prange(len(arrays) * S):
                m, s = task // S, task % S
                data = arrays[m]
                n = data.shape[0]
                window(
                    data,
                    (n * s) // S,
                    (n * (s + 1)) // S,
                    B,
                    lo,
                    hi,
                    norm,
                    e_lo,
                    e_hi,
                    clip,
                    out[m, s],
                )

        @numba.njit(parallel=True, cache=True, nogil=True, boundscheck=False)
        def count_flat(data, starts, lengths, S, B, lo, hi, norm, e_lo, e_hi, clip, out):  # type: ignore[no-untyped-def]
            for task in numba.prange(starts.shape[0] * S):
                m, s = task // S, task % S
                n, base = lengths[m], starts[m]
                begin, end = base + (n * s) // S, base + (n * (s + 1)) // S
                window(data, begin, end, B, lo, hi, norm, e_lo, e_hi, clip, out[m, s])

        _KERNEL = (count_list, count_flat)
    return _KERNEL


#: Vectors shorter than this are concatenated and counted from one buffer (cheap to copy, costly
#: to pass one by one); longer ones are read in place.
SMALL = 1 << 16


def miwd_rows(
    vectors: Sequence[np.ndarray], S: int, B: int, lo: float, hi: float, clip: bool
) -> np.ndarray:
    """MI-WD descriptors ``(n, S, B)`` (float32, rows normalized to sum 1 in the kernel) of float32
    or float64 vectors, in one parallel kernel call per dtype.

    The vectors are passed as they are (a memory map is read, not copied); one call per dtype, so
    a shared machine's scheduler stalls the parallel region once, not once per model.
    """
    import numba.typed

    count_list, count_flat = _kernel()
    out = np.empty((len(vectors), S, B), dtype=np.float32)
    norm = B / (hi - lo)
    e_lo, e_hi = _edges(lo, hi, B)
    for dtype in {v.dtype for v in vectors}:
        large = [i for i, v in enumerate(vectors) if v.dtype == dtype and v.shape[0] >= SMALL]
        small = [i for i, v in enumerate(vectors) if v.dtype == dtype and v.shape[0] < SMALL]
        if large:
            arrays = numba.typed.List([np.ascontiguousarray(vectors[i]) for i in large])
            part = np.empty((len(large), S, B), dtype=np.float32)
            count_list(arrays, S, B, float(lo), float(hi), norm, e_lo, e_hi, clip, part)
            out[large] = part
        if small:
            lengths = np.array([vectors[i].shape[0] for i in small], dtype=np.int64)
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
            data = np.concatenate([vectors[i] for i in small])
            part = np.empty((len(small), S, B), dtype=np.float32)
            count_flat(
                data, starts, lengths, S, B, float(lo), float(hi), norm, e_lo, e_hi, clip, part
            )
            out[small] = part
    return out


def _edges(lo: float, hi: float, B: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of every bin, float64 as np.histogram's; the last bin is closed."""
    edges = np.linspace(lo, hi, B + 1)
    upper = np.append(edges[1:B], np.inf)  # a value equal to hi stays in the last bin
    return edges[:B].copy(), upper
