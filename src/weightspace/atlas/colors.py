"""Colourings of the atlas: per-dataset normalized accuracy, palettes, colour scales.

Every renderer (the web app, the HTML export, matplotlib) reads the colours from the
:class:`~weightspace.atlas.model.Coloring` records made here, so a category has the same colour
everywhere.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from weightspace.errors import WeightspaceError

__all__ = [
    "FILTERED_COLOR",
    "MISSING_COLOR",
    "MAGMA",
    "VIRIDIS",
    "categorical_palette",
    "normalized_accuracy",
]

#: Colour of points with no value in the colouring column.
MISSING_COLOR = "#b4b4b4"
#: Colour of points hidden by a filter (drawn faintly, not selectable in summaries).
FILTERED_COLOR = "#e6e6e6"
#: Viridis (perceptually uniform, readable in grey scale), 11 stops as (position, colour).
VIRIDIS: tuple[tuple[float, str], ...] = tuple(
    (i / 10, c)
    for i, c in enumerate(
        [
            "#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c",
            "#22a884", "#44bf70", "#7ad151", "#bddf26", "#fde725",
        ]
    )
)  # fmt: skip
#: Magma (the descriptor heat maps, as in :mod:`weightspace.represent.figures`), 11 stops.
MAGMA: tuple[tuple[float, str], ...] = tuple(
    (i / 10, c)
    for i, c in enumerate(
        [
            "#000004", "#140e36", "#3b0f70", "#641a80", "#8c2981", "#b73779",
            "#de4968", "#f7705c", "#fe9f6d", "#fecf92", "#fcfdbf",
        ]
    )
)  # fmt: skip
# Tableau 10, then the light Tableau 20 companions; the greys are left out (grey means "missing").
_QUALITATIVE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
    "#dbdb8d", "#9edae5",
)  # fmt: skip


def categorical_palette(n: int) -> tuple[str, ...]:
    """``n`` distinct colours: Tableau's, then hues spaced by the golden angle.

    Parameters
    ----------
    n : int
        Number of categories (>= 0).

    Returns
    -------
    tuple of str
        ``n`` colours as ``#rrggbb``.

    Examples
    --------
    >>> categorical_palette(3)
    ('#1f77b4', '#ff7f0e', '#2ca02c')
    """
    if n < 0:
        raise WeightspaceError(f"n must be >= 0; got {n}")
    colors = list(_QUALITATIVE[:n])
    for k in range(n - len(colors)):
        hue = (0.11 + k * 0.381966) % 1.0
        r, g, b = colorsys.hls_to_rgb(hue, 0.45 + 0.15 * (k % 2), 0.65)
        colors.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return tuple(colors)


def normalized_accuracy(accuracy: npt.ArrayLike, groups: npt.ArrayLike | None = None) -> np.ndarray:
    """Accuracies normalized per group (dataset): ``(p - min_d) / (max_d - min_d)``.

    The normalization of Eilertsen et al. (2024), Results, "Model library": it aligns models trained
    on datasets of different difficulty, so that one colour scale compares them.

    Parameters
    ----------
    accuracy : array-like of shape (n,)
        Accuracies (any scale); NaN where unknown.
    groups : array-like of shape (n,), optional
        The dataset (or any group label) of each model; one group when omitted.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        In [0, 1]. NaN where the accuracy is NaN. A group whose known accuracies are all equal
        (including a group of one model) has no spread to normalize: its models get 0.5.

    Examples
    --------
    >>> normalized_accuracy([0.5, 0.75, 1.0, 0.25, 0.5], ["a", "a", "a", "b", "b"]).tolist()
    [0.0, 0.5, 1.0, 0.0, 1.0]
    """
    p = np.asarray(accuracy, dtype=np.float64)
    if p.ndim != 1:
        raise WeightspaceError(f"accuracy must be 1-D; got shape {p.shape}")
    if groups is None:
        codes = np.zeros(p.shape[0], dtype=np.intp)
    else:
        g = np.asarray(groups, dtype=object)
        if g.shape != p.shape:
            raise WeightspaceError(
                f"groups must have the shape of accuracy {p.shape}; got {g.shape}"
            )
        codes = _group_codes(g)
    n_groups = int(codes.max()) + 1 if codes.size else 0
    known = ~np.isnan(p)
    lo = np.full(n_groups, np.inf)
    hi = np.full(n_groups, -np.inf)
    np.minimum.at(lo, codes[known], p[known])
    np.maximum.at(hi, codes[known], p[known])
    span = hi - lo
    out = np.full(p.shape[0], np.nan)
    flat = span[codes] <= 0
    ok = known & ~flat
    out[ok] = (p[ok] - lo[codes[ok]]) / span[codes[ok]]
    out[known & flat] = 0.5
    return out


def _group_codes(groups: np.ndarray) -> np.ndarray:
    """Integer codes of group labels; missing labels (None, NaN) form one group of their own."""
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(groups, dtype=object), use_na_sentinel=True)
    out = np.asarray(codes, dtype=np.intp)
    out[out < 0] = len(uniques)
    return out


def colorscale_of(stops: Sequence[tuple[float, str]]) -> list[list[float | str]]:
    """A plotly colour scale (``[[position, colour], ...]``) from (position, colour) stops."""
    return [[float(p), str(c)] for p, c in stops]
