"""Plotly figures (plain dictionaries) of the cluster panel: descriptors, parallel coordinates,
category shifts.

Dictionaries rather than ``plotly.graph_objects``: the Dash app sends them as they are, and building
them costs microseconds instead of plotly's validation of every property.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from weightspace.atlas.colors import MAGMA, VIRIDIS, colorscale_of
from weightspace.atlas.model import Atlas, Column
from weightspace.atlas.summary import SelectionSummary
from weightspace.represent.miwd import DEFAULT_VALUE_RANGE

__all__ = [
    "descriptor_figure",
    "empty_figure",
    "example_label",
    "parcoords_figure",
    "shifts_figure",
]

_FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 11}
#: Parallel coordinates draw at most this many lines (a seeded sample of larger selections).
MAX_LINES = 2000
_EXAMPLE_COLUMNS = ("dataset", "optimizer", "activation", "init")
_SCALES = {"magma": colorscale_of(MAGMA), "viridis": colorscale_of(VIRIDIS)}


def empty_figure(message: str = "", height: int = 120) -> dict[str, Any]:
    """A blank figure with a centred message."""
    return {
        "data": [],
        "layout": {
            "height": height,
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "annotations": [
                {"text": message, "showarrow": False, "font": {**_FONT, "color": "#777"}}
            ],
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
        },
    }


def _value_range(atlas: Atlas) -> tuple[float, float]:
    params = dict(atlas.representation).get("params", {})
    lo, hi = (params or {}).get("value_range", DEFAULT_VALUE_RANGE)
    return float(lo), float(hi)


def descriptor_figure(
    atlas: Atlas,
    matrices: Sequence[np.ndarray],
    titles: Sequence[str],
    *,
    colorscale: str | Sequence[str] = "magma",
    sqrt: bool | Sequence[bool] = True,
    height: int = 230,
    colorbar: bool = False,
    shared: bool = True,
) -> dict[str, Any]:
    """Descriptors as heat maps in a row, depth downwards (window 1, the first layers, at the top).

    Parameters
    ----------
    atlas : Atlas
        For the value range of the bins (the x axis).
    matrices : sequence of numpy.ndarray of shape (S, B) or (K,)
        The descriptors; 1-D ones are drawn as one row.
    titles : sequence of str
        One title per heat map (``<br>`` breaks lines).
    colorscale : {"magma", "viridis"} or a sequence of them, default="magma"
        The colour scale (of every heat map, or of each).
    sqrt : bool or sequence of bool, default=True
        Colour by the square root (a histogram's few large bins would hide the rest).
    height : int, default=230
        Figure height in pixels.
    colorbar : bool, default=False
        Draw a colour bar beside the last heat map.
    shared : bool, default=True
        One colour range for all heat maps (else each is scaled to its own maximum).
    """
    k = len(matrices)
    if k == 0:
        return empty_figure("no descriptors")
    lo, hi = _value_range(atlas)
    mats = [np.atleast_2d(np.asarray(m, dtype=np.float64)) for m in matrices]
    roots = [sqrt] * k if isinstance(sqrt, bool) else list(sqrt)
    scales = [colorscale] * k if isinstance(colorscale, str) else list(colorscale)
    shown = [np.sqrt(np.maximum(m, 0.0)) if r else m for m, r in zip(mats, roots, strict=True)]
    tops = [float(m.max()) or 1.0 for m in shown]
    if shared:
        tops = [max(tops)] * k
    gap = 0.05 if k > 1 else 0.0
    width = (1.0 - gap * (k - 1)) / k
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "height": height,
        "margin": {"l": 34, "r": 8 if not colorbar else 60, "t": 16 * _lines(titles) + 6, "b": 30},
        "font": _FONT,
        "paper_bgcolor": "#ffffff",
        "annotations": [],
    }
    for i, (m, title) in enumerate(zip(shown, titles, strict=True)):
        S, B = m.shape
        suffix = "" if i == 0 else str(i + 1)
        x0 = i * (width + gap)
        centers = lo + (np.arange(B) + 0.5) * (hi - lo) / B
        data.append(
            {
                "type": "heatmap",
                "z": np.round(m, 5).tolist(),
                "x": np.round(centers, 4).tolist(),
                "y": list(range(1, S + 1)),
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
                "colorscale": _SCALES[scales[i]],
                "zmin": 0.0,
                "zmax": tops[i],
                "showscale": bool(colorbar and i == k - 1),
                "hovertemplate": "window %{y}, weight %{x}: %{z:.3f}<extra></extra>",
                **({"colorbar": _colorbar(roots[i])} if colorbar else {}),
            }
        )
        layout[f"xaxis{suffix}"] = {
            "domain": [x0, x0 + width],
            "anchor": f"y{suffix}",
            "showgrid": False,
            "tickvals": [lo, 0.0, hi] if lo < 0 < hi else [lo, hi],
            "title": {"text": "weight" if i == 0 else ""},
            "title_standoff": 2,
        }
        layout[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}",
            "autorange": "reversed",
            "showgrid": False,
            "showticklabels": i == 0,
            "title": {"text": "depth" if i == 0 else ""},
            "tickvals": [1, S] if S > 1 else [1],
            "ticktext": ["first", "last"] if S > 1 else ["all"],
        }
        layout["annotations"].append(
            {
                "text": title,
                "x": x0 + width / 2,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {**_FONT, "size": 10},
            }
        )
    return {"data": data, "layout": layout}


def _colorbar(sqrt: bool) -> dict[str, Any]:
    title = "√ fraction" if sqrt else ""
    return {"thickness": 10, "len": 0.9, "title": {"text": title, "side": "right"}}


def _lines(titles: Sequence[str]) -> int:
    return max((t.count("<br>") + 1 for t in titles), default=1)


def example_label(atlas: Atlas, row: int) -> str:
    """A short label of one model: id, accuracy, dataset, optimizer, activation, init."""
    parts = [f"<b>#{int(atlas.ids[row])}</b>"]
    for col in atlas.columns:
        if col.kind == "derived":
            parts[0] += f" acc {_fmt(col.values[row])}"
            break
    names = [n for n in _EXAMPLE_COLUMNS if n in atlas.column_names]
    values = [_cell(atlas.column(n), row) for n in names]
    if values:
        half = (len(values) + 1) // 2
        parts.append(" · ".join(values[:half]))
        if values[half:]:
            parts.append(" · ".join(values[half:]))
    return "<br>".join(parts)


def _cell(col: Column, row: int) -> str:
    v = col.values[row]
    if col.type == "categorical":
        return "–" if v < 0 else col.categories[int(v)]
    return _fmt(float(v))


def _fmt(v: float) -> str:
    if v != v:
        return "–"
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"


def parcoords_figure(
    atlas: Atlas,
    summary: SelectionSummary,
    columns: Sequence[str],
    *,
    max_lines: int = MAX_LINES,
    height: int = 300,
) -> dict[str, Any]:
    """Parallel coordinates of the selected models' hyper-parameters and accuracy.

    Axes span the whole atlas (categorical axes list every category), so selections can be
    compared; lines are coloured by the normalized accuracy as on the map. Selections larger than
    ``max_lines`` are drawn as a seeded random sample of that many lines.
    """
    idx = summary.indices
    if idx.size == 0 or not columns:
        return empty_figure("no models selected" if idx.size == 0 else "no axes chosen", height)
    if idx.size > max_lines:
        idx = np.sort(np.random.default_rng(0).choice(idx, max_lines, replace=False))
    dims = [_dimension(atlas.column(name), idx) for name in columns]
    line: dict[str, Any] = {"color": "#1f77b4"}
    acc = next((c for c in atlas.columns if c.kind == "derived"), None)
    if acc is not None:
        colored = (
            atlas.coloring(acc.name) if acc.name in [c.column for c in atlas.colorings] else None
        )
        line = {
            "color": np.round(np.nan_to_num(acc.values[idx], nan=0.0), 4).tolist(),
            "colorscale": colorscale_of(colored.colorscale if colored else VIRIDIS),
            "cmin": 0.0,
            "cmax": 1.0,
            "showscale": False,
        }
    title = (
        f"{idx.size:,} of {summary.count:,} models (random sample)"
        if idx.size < summary.count
        else ""
    )
    return {
        "data": [{"type": "parcoords", "dimensions": dims, "line": line, "labelangle": -20,
                  "labelside": "top", "labelfont": {**_FONT, "size": 11},
                  "tickfont": {**_FONT, "size": 9}}],
        "layout": {
            "height": height,
            "margin": {"l": 60, "r": 70, "t": 64, "b": 20},
            "font": _FONT,
            "paper_bgcolor": "#ffffff",
            "title": {"text": title, "font": {**_FONT, "size": 10}, "x": 0.01, "y": 0.99},
        },
    }  # fmt: skip


def _dimension(col: Column, idx: np.ndarray) -> dict[str, Any]:
    if col.type == "categorical":
        m = len(col.categories)
        values = col.values[idx].astype(np.float64)
        ticks = list(range(m))
        text = list(col.categories)
        if np.any(values < 0):
            values[values < 0] = m
            ticks.append(m)
            text.append("–")
        top = max(ticks[-1], 1) if ticks else 1
        return {
            "label": col.label,
            "values": values.tolist(),
            "tickvals": ticks,
            "ticktext": text,
            "range": [0, top],
        }
    values = col.values
    finite = values[np.isfinite(values)]
    label = col.label
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    shown = values[idx]
    if lo > 0 and hi / lo > 50:  # spans decades: a log axis with readable ticks
        shown = np.log10(shown)
        lo, hi = math.log10(lo), math.log10(hi)
        exps = np.arange(math.floor(lo), math.ceil(hi) + 1)
        tickvals = [float(e) for e in exps if lo - 1e-9 <= e <= hi + 1e-9]
        extra = {"tickvals": tickvals, "ticktext": [f"1e{int(e)}" for e in tickvals]}
        label = f"{label} (log)"
    else:
        lo, hi = _nice(lo, math.floor), _nice(hi, math.ceil)
        extra = {}
    shown = np.where(np.isfinite(shown), shown, lo)
    if hi <= lo:
        hi = lo + 1.0
    return {
        "label": label,
        "values": np.round(shown, 6).tolist(),
        "range": [lo, hi],
        **extra,
    }


def _nice(value: float, rounding: Any) -> float:
    """``value`` rounded (down or up) to two significant digits."""
    if value == 0 or not math.isfinite(value):
        return value
    step = 10.0 ** (math.floor(math.log10(abs(value))) - 1)
    return float(rounding(value / step) * step)


def shifts_figure(summary: SelectionSummary, *, top: int = 12) -> dict[str, Any]:
    """Horizontal bars: the categories most over- and under-represented in the selection."""
    shifts = [s for s in summary.shifts if abs(s.difference) > 1e-12][:top]
    if not shifts:
        return empty_figure("the selection has the library's mix of categories", 80)
    shifts = shifts[::-1]  # plotly draws the first bar at the bottom
    labels = [f"{s.column} = {s.category}" for s in shifts]
    diffs = [round(100 * s.difference, 2) for s in shifts]
    text = [f"{100 * s.fraction:.0f}% vs {100 * s.library_fraction:.0f}%" for s in shifts]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": diffs,
                "y": labels,
                "text": text,
                "textposition": "auto",
                "marker": {"color": ["#2b6cb0" if d > 0 else "#c0504d" for d in diffs]},
                "hovertemplate": "%{y}: %{text} of models (%{x:+.1f} points)<extra></extra>",
            }
        ],
        "layout": {
            "height": 40 + 22 * len(shifts),
            "margin": {"l": 8, "r": 8, "t": 8, "b": 30},
            "font": _FONT,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "xaxis": {
                "title": {"text": "selection − library (percentage points)"},
                "zeroline": True,
                "zerolinecolor": "#888",
                "gridcolor": "#eee",
            },
            "yaxis": {"automargin": True},
            "bargap": 0.25,
        },
    }
