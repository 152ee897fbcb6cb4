"""Figures of MI-WD descriptors (Eilertsen et al. 2024 and its supplement, Figs. 5 and 6).

A descriptor is drawn as a heat map with depth downwards (window 1, the first layers, at the top)
and the weight value along x, or as one histogram line per window, offset downwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from weightspace.represent.miwd import DEFAULT_BINS, DEFAULT_VALUE_RANGE, DEFAULT_WINDOWS, miwd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["descriptor_figure", "plot_descriptor", "plot_descriptor_lines"]


def plot_descriptor(
    desc: np.ndarray,
    *,
    value_range: tuple[float, float] = DEFAULT_VALUE_RANGE,
    ax: Axes | None = None,
    title: str = "",
) -> Axes:
    """Heat map of one ``(S, B)`` descriptor, depth downwards, on a square-root colour scale."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    S = desc.shape[0]
    ax.imshow(
        np.sqrt(desc),
        aspect="auto",
        cmap="magma",
        extent=(value_range[0], value_range[1], 100.0, 0.0),
        interpolation="nearest",
    )
    ax.set_xlabel("weight value")
    ax.set_ylabel(f"depth (%), {S} windows")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_descriptor_lines(
    desc: np.ndarray,
    *,
    value_range: tuple[float, float] = DEFAULT_VALUE_RANGE,
    ax: Axes | None = None,
    title: str = "",
) -> Axes:
    """One histogram line per window, offset downwards with depth."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    S, B = desc.shape
    centers = value_range[0] + (np.arange(B) + 0.5) * (value_range[1] - value_range[0]) / B
    scale = 1.0 / max(float(desc.max()), 1e-12)
    colors = __import__("matplotlib").colormaps["viridis"](np.linspace(0, 1, S))
    for s in range(S):
        ax.plot(centers, -s + 2.5 * scale * desc[s], color=colors[s], linewidth=0.8)
    ax.set_yticks([0, -(S - 1)], ["first", "last"])
    ax.set_xlabel("weight value")
    ax.set_ylabel("window")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def descriptor_figure(
    snapshots: Sequence[np.ndarray],
    *,
    progress: Sequence[float] | None = None,
    S: int = DEFAULT_WINDOWS,
    B: int = DEFAULT_BINS,
    value_range: tuple[float, float] = DEFAULT_VALUE_RANGE,
    sizes: Sequence[int] = (8, 16, 32, 64),
    title: str = "",
) -> Figure:
    """One model's descriptor as heat map and lines, across training, and at several sizes.

    Parameters
    ----------
    snapshots : sequence of 1-D arrays
        The model's weight vectors in training order (the last one is the trained model).
    progress : sequence of float, optional
        Training progress of each snapshot, for the labels.
    S, B : int
        Descriptor size of the main panels.
    sizes : sequence of int
        ``S = B`` of the granularity row (supplement Fig. 6).
    """
    import matplotlib.pyplot as plt

    final = snapshots[-1]
    shown = _pick(len(snapshots), 6)
    fig = plt.figure(figsize=(max(12.0, 2.2 * len(shown)), 9.5), layout="constrained")
    subfigs = fig.subfigures(3, 1, height_ratios=[1.2, 1, 1])
    top, middle, bottom = subfigs[0], subfigs[1], subfigs[2]  # type: ignore[index]
    axes = top.subplots(1, 2)
    desc = miwd([final], S=S, B=B, value_range=value_range)[0]
    plot_descriptor(desc, value_range=value_range, ax=axes[0], title=f"MI-WD {S} x {B} (trained)")
    plot_descriptor_lines(desc, value_range=value_range, ax=axes[1], title="per-window histograms")
    row = middle.subplots(1, len(shown), squeeze=False)[0]
    descs = miwd([snapshots[i] for i in shown], S=S, B=B, value_range=value_range)
    for ax, i, d in zip(row, shown, descs, strict=True):
        label = f"{100 * progress[i]:.0f}%" if progress is not None else f"snapshot {i}"
        plot_descriptor(d, value_range=value_range, ax=ax, title=label)
        ax.set_ylabel("")
    middle.suptitle("during training (supplement Fig. 5)", fontsize=10)
    row = bottom.subplots(1, len(sizes), squeeze=False)[0]
    for ax, n in zip(row, sizes, strict=True):
        plot_descriptor(
            miwd([final], S=n, B=n, value_range=value_range)[0],
            value_range=value_range,
            ax=ax,
            title=f"{n} x {n}",
        )
        ax.set_ylabel("")
    bottom.suptitle("granularity S x B (supplement Fig. 6)", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _pick(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({round(float(x)) for x in np.linspace(0, n - 1, k)})


def save(fig: Any, path: str) -> None:
    """Save a figure (PNG at 120 dpi) and close it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=120)
    plt.close(fig)
