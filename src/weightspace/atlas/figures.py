"""Static matplotlib figures of an atlas, for papers: the map (Fig. 1 left) and a cluster's
descriptors (Figs. 1 right and 5).

The colours come from the atlas's :class:`~weightspace.atlas.model.Coloring` records, so a
category has the colour it has in the web app and the HTML export.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from weightspace.atlas.model import Atlas
from weightspace.represent.miwd import DEFAULT_VALUE_RANGE

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_atlas", "plot_selection", "save_png"]


def _point_size(n: int) -> float:
    return 18.0 if n <= 2000 else 6.0 if n <= 20000 else 1.5


def plot_atlas(
    atlas: Atlas,
    color_by: str | None = None,
    *,
    ax: Axes | None = None,
    selections: Mapping[str, Mapping[str, Any]] | None = None,
    title: str | None = None,
) -> Axes:
    """The map, coloured by a column, with a legend (categories) or a colour bar (numbers).

    Parameters
    ----------
    atlas : Atlas
    color_by : str, optional
        A colouring of the atlas (default: its first, the normalized accuracy).
    ax : matplotlib Axes, optional
        Where to draw (default: a new 7 x 6 inch figure).
    selections : mapping, optional
        Named selections to outline, ``{"A": geometry}`` with plotly's box or lasso geometry
        (``{"range": {"x": [..], "y": [..]}}`` or ``{"lassoPoints": {"x": [..], "y": [..]}}``).
    title : str, optional
        Axes title (default: the atlas's title).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap

    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 6.0), layout="constrained")
    xy = atlas.coords
    size = _point_size(len(atlas))
    coloring = atlas.coloring(color_by) if atlas.colorings else None
    style: dict[str, Any] = {"s": size, "linewidths": 0, "rasterized": len(atlas) > 5000}
    if coloring is None:
        ax.scatter(xy[:, 0], xy[:, 1], color="#1f77b4", **style)
    elif coloring.type == "categorical":
        col = atlas.column(coloring.column)
        for code, label in enumerate(col.categories):
            rows = col.values == code
            if rows.any():
                ax.scatter(
                    xy[rows, 0], xy[rows, 1], color=coloring.colors[code], label=label, **style
                )
        missing = col.values < 0
        if missing.any():
            ax.scatter(
                xy[missing, 0],
                xy[missing, 1],
                color=coloring.missing_color,
                label="(missing)",
                **style,
            )
        ax.legend(
            title=coloring.label, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
            markerscale=max(1.0, 6.0 / np.sqrt(size)), fontsize=8, title_fontsize=9,
        )  # fmt: skip
    else:
        values = atlas.column(coloring.column).values
        known = np.isfinite(values)
        if (~known).any():
            ax.scatter(xy[~known, 0], xy[~known, 1], color=coloring.missing_color, **style)
        cmap = LinearSegmentedColormap.from_list(coloring.column, list(coloring.colorscale))
        points = ax.scatter(
            xy[known, 0], xy[known, 1], c=values[known], cmap=cmap,
            vmin=coloring.cmin, vmax=coloring.cmax, **style,
        )  # fmt: skip
        ax.figure.colorbar(points, ax=ax, label=coloring.label, shrink=0.8)
    for name, geometry in (selections or {}).items():
        _outline(ax, name, geometry)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("UMAP 1" if atlas.embedding.get("method") == "umap" else "")
    ax.set_ylabel("UMAP 2" if atlas.embedding.get("method") == "umap" else "")
    ax.set_title(atlas.title if title is None else title, fontsize=10)
    return ax


def _outline(ax: Axes, name: str, geometry: Mapping[str, Any]) -> None:
    from matplotlib.patches import Polygon, Rectangle

    style: dict[str, Any] = {
        "fill": False,
        "linestyle": ":",
        "linewidth": 1.5,
        "edgecolor": "#111111",
    }
    if geometry.get("range"):
        x0, x1 = sorted(geometry["range"]["x"])
        y0, y1 = sorted(geometry["range"]["y"])
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, **style))
        anchor = (x0, y1)
    elif geometry.get("lassoPoints"):
        pts = np.column_stack([geometry["lassoPoints"]["x"], geometry["lassoPoints"]["y"]])
        ax.add_patch(Polygon(pts, closed=True, **style))
        anchor = tuple(pts[np.argmax(pts[:, 1])])
    else:
        return
    ax.annotate(name, anchor, fontsize=12, fontweight="bold", va="bottom", ha="left")


def plot_selection(
    atlas: Atlas, indices: npt.ArrayLike, *, title: str = "", n_examples: int = 4
) -> Figure:
    """A cluster's descriptors: examples (best to worst accuracy), mean and standard deviation.

    Heat maps with depth downwards (the first layers at the top) and the weight value across,
    as in Eilertsen et al. (2024), Fig. 5. The mean and examples use the square-root magma scale of
    :func:`weightspace.represent.figures.plot_descriptor`.
    """
    import matplotlib.pyplot as plt

    from weightspace.atlas.panels import example_label
    from weightspace.atlas.summary import summarize

    summary = summarize(atlas, indices, n_examples=n_examples)
    params = dict(atlas.representation).get("params") or {}
    lo, hi = (float(v) for v in params.get("value_range", DEFAULT_VALUE_RANGE))
    panels = [
        *[(atlas.descriptors[i], example_label(atlas, int(i)), "magma", True) for i in summary.examples],
        (summary.mean, "mean", "magma", True),
        (summary.std, "standard deviation", "viridis", False),
    ]  # fmt: skip
    fig, axes = plt.subplots(
        1, len(panels), figsize=(1.9 * len(panels), 2.9), layout="constrained", squeeze=False
    )
    for ax, (matrix, label, cmap, root) in zip(axes[0], panels, strict=True):
        m = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
        ax.imshow(
            np.sqrt(np.maximum(m, 0.0)) if root else m, aspect="auto", cmap=cmap,
            extent=(lo, hi, 100.0, 0.0), interpolation="nearest",
        )  # fmt: skip
        ax.set_title(label.replace("<br>", "\n").replace("<b>", "").replace("</b>", ""), fontsize=7)
        ax.set_xlabel("weight", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_yticks([])
    axes[0][0].set_ylabel("depth ↓", fontsize=7)
    head = f"{summary.count:,} models"
    if summary.accuracy is not None:
        head += f", mean normalized accuracy {summary.accuracy:.2f}"
    fig.suptitle(f"{title}: {head}" if title else head, fontsize=9)
    return fig


def save_png(
    atlas: Atlas, path: str | os.PathLike[str], *, color_by: str | None = None, dpi: int = 200
) -> Path:
    """Write the map of :func:`plot_atlas` as a PNG; return the path (no pyplot state is used)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 6.0), layout="constrained")
    plot_atlas(atlas, color_by, ax=fig.add_subplot())
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=dpi)
    return target
