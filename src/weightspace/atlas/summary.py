"""Selections on the map and their cluster summaries (Eilertsen et al. 2024, Figs. 1 right and 5).

A selection is a box or a lasso drawn on the map (plotly's ``selectedData`` geometry, without its
per-point list), optionally intersected with a filter. Its summary holds the mean and standard
deviation descriptors, a few example descriptors spread over the selection's accuracies, and how
its category counts differ from the whole atlas.

Everything is vectorized over models: point-in-polygon tests run in matplotlib's C code; sums of
descriptors are one matrix-vector product over a precomputed (descriptors, squared descriptors)
pair for large selections, or a gather for small ones, so a summary of any part of a 100,000-model
atlas takes tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from weightspace.atlas.model import Atlas, AtlasError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CategoryShift",
    "SelectionSummary",
    "filter_mask",
    "select",
    "summarize",
]

#: Selections up to this many models are summed by gathering their rows (faster than a full pass).
GATHER_LIMIT = 4096


@dataclass(frozen=True)
class CategoryShift:
    """How often one category occurs in a selection compared with the whole atlas."""

    column: str
    category: str
    count: int
    fraction: float
    library_fraction: float

    @property
    def difference(self) -> float:
        """``fraction - library_fraction`` (positive: over-represented in the selection)."""
        return self.fraction - self.library_fraction


@dataclass(frozen=True, eq=False)
class SelectionSummary:
    """The cluster panel's content for one selection.

    Attributes
    ----------
    indices : numpy.ndarray of shape (k,)
        Sorted row indices of the selected models (``atlas.ids[indices]`` are their ids).
    mean, std : numpy.ndarray of shape descriptor_shape
        Mean and standard deviation of the selected descriptors (float32; zeros when empty).
    examples : numpy.ndarray of shape (<= 4,)
        Row indices of example models: from the best to the worst accuracy of the selection.
    shifts : tuple of CategoryShift
        Every category of the categorical hyper-parameters, by decreasing absolute difference.
    accuracy : float or None
        Mean of the atlas's accuracy column over the selection (None when unknown).
    """

    indices: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    examples: np.ndarray
    shifts: tuple[CategoryShift, ...]
    accuracy: float | None

    @property
    def count(self) -> int:
        """Number of selected models."""
        return int(self.indices.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """The category shifts as a table (column, category, count, fraction, library, difference)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "column": s.column,
                    "category": s.category,
                    "count": s.count,
                    "fraction": s.fraction,
                    "library_fraction": s.library_fraction,
                    "difference": s.difference,
                }
                for s in self.shifts
            ],
            columns=["column", "category", "count", "fraction", "library_fraction", "difference"],
        )


class _Index:
    """Per-atlas precomputations: squared descriptors, category counts, the accuracy column."""

    def __init__(self, atlas: Atlas) -> None:
        n = len(atlas)
        self.flat = atlas.descriptors.reshape(n, -1)
        self.flat_sq = np.square(self.flat)
        self.categorical = [
            c for c in atlas.columns if c.type == "categorical" and c.kind in ("hparam", "derived")
        ]
        self.library_counts = [
            np.bincount(c.values + 1, minlength=len(c.categories) + 1)[1:] for c in self.categorical
        ]
        self.accuracy = _accuracy_values(atlas)


def _index(atlas: Atlas) -> _Index:
    with atlas._lock:
        index = atlas._state.get("summary_index")
        if index is None:
            index = _Index(atlas)
            atlas._state["summary_index"] = index
    return index


def _accuracy_values(atlas: Atlas) -> np.ndarray | None:
    """The first continuous accuracy-like column (normalized accuracy first)."""
    for col in atlas.columns:
        if col.type == "continuous" and col.kind == "derived":
            return col.values
    for col in atlas.columns:
        if col.type == "continuous" and "acc" in col.name:
            return col.values
    return None


def summarize(atlas: Atlas, indices: npt.ArrayLike, *, n_examples: int = 4) -> SelectionSummary:
    """The summary of the models at row ``indices`` of ``atlas``.

    Parameters
    ----------
    atlas : Atlas
    indices : array-like of int
        Row indices (not model ids; see :meth:`Atlas.index_of`); order and repeats do not matter.
    n_examples : int, default=4
        Example descriptors to pick.

    Returns
    -------
    SelectionSummary
    """
    n = len(atlas)
    idx = np.unique(np.asarray(indices, dtype=np.intp).reshape(-1))
    if idx.size and (idx[0] < 0 or idx[-1] >= n):
        raise AtlasError(f"indices must be in [0, {n - 1}]; got [{idx[0]}, {idx[-1]}]")
    index = _index(atlas)
    k = int(idx.shape[0])
    shape = atlas.descriptors.shape[1:]
    if k == 0:
        zeros = np.zeros(shape, dtype=np.float32)
        return SelectionSummary(idx, zeros, zeros.copy(), idx, (), None)
    if k <= GATHER_LIMIT:
        sub = index.flat[idx]
        total = sub.sum(axis=0, dtype=np.float64)
        total_sq = np.einsum("ij,ij->j", sub, sub, dtype=np.float64)
    else:  # one pass over all rows: a matrix-vector product with a 0/1 weight vector
        weights = np.zeros(n, dtype=np.float32)
        weights[idx] = 1.0
        total = (weights @ index.flat).astype(np.float64)
        total_sq = (weights @ index.flat_sq).astype(np.float64)
    mean = total / k
    var = np.maximum(total_sq / k - mean * mean, 0.0)
    examples = _examples(idx, index.accuracy, n_examples)
    accuracy = None
    if index.accuracy is not None:
        acc = index.accuracy[idx]
        acc = acc[~np.isnan(acc)]
        accuracy = float(acc.mean()) if acc.size else None
    return SelectionSummary(
        indices=idx,
        mean=mean.astype(np.float32).reshape(shape),
        std=np.sqrt(var).astype(np.float32).reshape(shape),
        examples=examples,
        shifts=_shifts(index, idx, n),
        accuracy=accuracy,
    )


def _examples(idx: np.ndarray, accuracy: np.ndarray | None, n_examples: int) -> np.ndarray:
    """Up to ``n_examples`` rows spread evenly from the best to the worst accuracy."""
    if idx.shape[0] <= n_examples:
        order = idx
        if accuracy is not None:
            order = idx[np.argsort(-np.nan_to_num(accuracy[idx], nan=-1.0), kind="stable")]
        return order
    ranked = idx
    if accuracy is not None:
        ranked = idx[np.argsort(-np.nan_to_num(accuracy[idx], nan=-1.0), kind="stable")]
    picks = np.round(np.linspace(0, idx.shape[0] - 1, n_examples)).astype(np.intp)
    return ranked[picks]


def _shifts(index: _Index, idx: np.ndarray, n: int) -> tuple[CategoryShift, ...]:
    k = idx.shape[0]
    rows: list[CategoryShift] = []
    for col, lib_counts in zip(index.categorical, index.library_counts, strict=True):
        counts = np.bincount(col.values[idx] + 1, minlength=len(col.categories) + 1)[1:]
        for c, label in enumerate(col.categories):
            if lib_counts[c] == 0:
                continue
            rows.append(
                CategoryShift(
                    col.name, label, int(counts[c]), float(counts[c] / k), float(lib_counts[c] / n)
                )
            )
    rows.sort(key=lambda s: (-abs(s.difference), s.column, s.category))
    return tuple(rows)


# ---------------------------------------------------------------------------------- selecting
def select(atlas: Atlas, geometry: Mapping[str, Any], mask: np.ndarray | None = None) -> np.ndarray:
    """Row indices of the models inside a box or lasso drawn on the map.

    Parameters
    ----------
    atlas : Atlas
    geometry : mapping
        Plotly's ``selectedData`` (only its geometry is read): ``{"range": {"x": [x0, x1],
        "y": [y0, y1]}}`` for a box, ``{"lassoPoints": {"x": [...], "y": [...]}}`` for a lasso.
    mask : numpy.ndarray of bool, optional
        Models eligible for selection (a filter); all when None.

    Returns
    -------
    numpy.ndarray of int
        Sorted row indices.
    """
    xy = atlas.coords
    if geometry.get("range"):
        box = geometry["range"]
        try:
            x0, x1 = sorted(float(v) for v in box["x"])
            y0, y1 = sorted(float(v) for v in box["y"])
        except (KeyError, TypeError, ValueError):
            raise AtlasError(f"a box selection needs range x and y pairs; got {box!r}") from None
        inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    elif geometry.get("lassoPoints"):
        inside = _in_lasso(xy, geometry["lassoPoints"])
    else:
        raise AtlasError(
            "a selection needs a 'range' (box) or 'lassoPoints' (lasso); got keys "
            f"{sorted(geometry)}"
        )
    if mask is not None:
        inside &= mask
    return np.flatnonzero(inside)


def _in_lasso(xy: np.ndarray, points: Mapping[str, Sequence[float]]) -> np.ndarray:
    from matplotlib.path import Path

    try:
        poly = np.column_stack([np.asarray(points["x"], float), np.asarray(points["y"], float)])
    except (KeyError, TypeError, ValueError):
        raise AtlasError(f"a lasso needs lists x and y of its points; got {points!r}") from None
    inside = np.zeros(xy.shape[0], dtype=bool)
    if poly.shape[0] < 3:
        return inside
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    near = np.flatnonzero(np.all((xy >= lo) & (xy <= hi), axis=1))
    inside[near] = Path(poly).contains_points(xy[near])
    return inside


def filter_mask(atlas: Atlas, filters: Mapping[str, Any] | None) -> np.ndarray | None:
    """The models that pass a filter, or None when nothing is filtered.

    Parameters
    ----------
    filters : mapping, optional
        ``{column: [allowed category labels]}`` for categorical columns and
        ``{column: [lo, hi]}`` (inclusive) for continuous ones; empty or None lists are ignored.

    Returns
    -------
    numpy.ndarray of bool of shape (n,), or None
    """
    if not filters:
        return None
    mask = np.ones(len(atlas), dtype=bool)
    used = False
    for name, allowed in filters.items():
        if allowed is None or (isinstance(allowed, Sequence) and len(allowed) == 0):
            continue
        col = atlas.column(name)
        used = True
        if col.type == "categorical":
            labels = {str(a) for a in allowed}
            codes = [i for i, c in enumerate(col.categories) if c in labels]
            mask &= np.isin(col.values, np.asarray(codes, dtype=np.int32))
        else:
            try:
                lo, hi = (float(v) for v in allowed)
            except (TypeError, ValueError):
                raise AtlasError(
                    f"filter on continuous column {name!r} needs [lo, hi]; got {allowed!r}"
                ) from None
            mask &= (col.values >= lo) & (col.values <= hi)
    return mask if used else None
