"""Representations of a library selection for the probes, and what each feature column means.

:func:`load_features` stacks one representation over several snapshots of every model (rows carry
their model id, for splits by model). :class:`FeatureLayout` maps feature columns back to where
they come from: ``(layer, weight type, statistic)`` for layer-wise statistics, ``(window, bin)``
for MI-WD, the statistic for the global statistics; :func:`importance_figure` draws an importance
vector in that layout (NWS Figs. 3/16; an ``S x B`` map for MI-WD). :func:`bar_chance_figure` draws
the probes' scores per target as bars beside chance (the SVM and linear probes' main figure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weightspace.library import Library
from weightspace.probe.common import ProbeError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FeatureLayout",
    "bar_chance_figure",
    "feature_layout",
    "importance_figure",
    "load_features",
]

_ROLE_ORDER = ("kernel", "bias", "bn_gamma", "bn_beta", "bn_mean", "bn_var", "other")
#: How NWS Fig. 16 names the weight types.
_ROLE_LABEL = {
    "kernel": "mult",
    "bias": "bias",
    "bn_gamma": "BN γ",
    "bn_beta": "BN β",
    "bn_mean": "BN mean",
    "bn_var": "BN var",
    "other": "other",
}


def load_features(
    lib: Library,
    representation: str,
    ids: Sequence[int],
    *,
    params: dict[str, Any] | None = None,
    snapshots: Sequence[int] = (-1,),
    cache: bool = True,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A representation of ``ids`` at several snapshots, stacked.

    Returns
    -------
    X : numpy.ndarray of shape (len(ids) * len(snapshots), n_features), float64
        Snapshot by snapshot, models in the order of ``ids``.
    groups : numpy.ndarray of int
        The model id of each row.
    snapshot : numpy.ndarray of int
        The snapshot index of each row (as given, e.g. -1).
    """
    from weightspace.represent.registry import describe_library

    chosen = [int(i) for i in ids]
    if not chosen:
        raise ProbeError("no models left to probe; relax the selection or the failure filter")
    if not snapshots:
        raise ProbeError("give at least one snapshot index (e.g. -1, the last)")
    frame = lib.query()
    counts = frame.set_index("id").loc[chosen, "n_snapshots"].to_numpy()
    need = max(-s if s < 0 else s + 1 for s in snapshots)
    if int(counts.min()) < need:
        raise ProbeError(
            f"snapshot(s) {list(snapshots)} need {need} snapshots per model; some selected models "
            f"have {int(counts.min())}: ask for fewer snapshots"
        )
    parts, groups, snaps = [], [], []
    for s in snapshots:
        _, X = describe_library(
            lib, representation, ids=chosen, snapshot=int(s), params=params, cache=cache,
            progress=progress,
        )  # fmt: skip
        parts.append(np.asarray(X, dtype=np.float64))
        groups.append(np.asarray(chosen))
        snaps.append(np.full(len(chosen), int(s)))
    return np.concatenate(parts), np.concatenate(groups), np.concatenate(snaps)


@dataclass(frozen=True)
class FeatureLayout:
    """Names of a representation's features and, where known, their structure.

    Attributes
    ----------
    representation : str
    names : tuple of str
    grid : (int, int), optional
        ``(S, B)`` for MI-WD (features in row-major window, bin order).
    value_range : (float, float), optional
        The bins' value range for MI-WD.
    """

    representation: str
    names: tuple[str, ...]
    grid: tuple[int, int] | None = None
    value_range: tuple[float, float] | None = None

    @property
    def kind(self) -> str:
        """``layer-stats``, ``swstats``, ``stats``, ``miwd`` or ``generic``."""
        if self.grid is not None:
            return "miwd"
        if self.representation in ("layer-stats", "swstats", "stats"):
            return self.representation
        return "generic"

    def columns(self) -> pd.DataFrame:
        """One row per feature: ``feature`` and its coordinates (layer/role/stat, window/bin)."""
        out = pd.DataFrame({"feature": list(self.names)})
        if self.kind == "layer-stats":
            parts = [n.rsplit("/", 2) for n in self.names]
            out["layer"] = [p[0] for p in parts]
            out["role"] = [p[1] for p in parts]
            out["stat"] = [p[2] for p in parts]
        elif self.kind == "swstats":
            parts = [n.rsplit("/", 1) for n in self.names]
            out["layer"] = [p[0] for p in parts]
            out["stat"] = [p[1] for p in parts]
        elif self.kind == "stats":
            out["stat"] = list(self.names)
        elif self.grid is not None:
            index = np.arange(len(self.names))
            out["window"] = index // self.grid[1]
            out["bin"] = index % self.grid[1]
        return out


def feature_layout(
    lib: Library, representation: str, params: dict[str, Any] | None, model_id: int, n_features: int
) -> FeatureLayout:
    """The :class:`FeatureLayout` of ``representation`` for models like ``model_id``."""
    from weightspace.represent import GLOBAL_STAT_NAMES, layer_stats_names, swstats_names
    from weightspace.represent.registry import create_representation

    params = dict(params or {})
    names: list[str]
    if representation == "layer-stats":
        names = layer_stats_names([lib.get(model_id)])
    elif representation == "swstats":
        names = swstats_names([lib.get(model_id)])
    elif representation == "stats":
        names = list(GLOBAL_STAT_NAMES)
    elif representation == "miwd":
        est = create_representation("miwd", **params)
        S, B = int(est.S), int(est.B)
        lo, hi = (float(v) for v in est.value_range)
        names = [f"s{s}_b{b}" for s in range(S) for b in range(B)]
        if len(names) == n_features:
            return FeatureLayout(representation, tuple(names), (S, B), (lo, hi))
    else:
        names = [f"{representation}{i}" for i in range(n_features)]
    if len(names) != n_features:  # an unexpected layout: plain numbered features
        names = [f"{representation}{i}" for i in range(n_features)]
        return FeatureLayout("generic", tuple(names))
    return FeatureLayout(representation, tuple(names))


# ---------------------------------------------------------------------------------- figures
def bar_chance_figure(
    labels: Sequence[str],
    means: Sequence[float],
    stds: Sequence[float],
    chances: Sequence[float],
    *,
    ylabel: str,
    title: str,
    colors: Sequence[str] | None = None,
    legend: str | None = None,
    rotate_labels: bool = False,
    inches_per_bar: float = 1.2,
    capsize: float = 4,
    chance_halfwidth: float = 0.35,
    chance_lw: float = 1.2,
) -> Figure:
    """Scores per target as bars (mean, std as error bar) with each target's chance as a dashed
    line over its bar (none where chance is NaN); the y axis runs from ``min(0, means)`` to 1.05.

    Parameters
    ----------
    labels, means, stds, chances : sequences of the same length
        One per bar: the target, its mean score and standard deviation, its chance level.
    ylabel, title : str
    colors : sequence of str, optional
        A colour per bar (default: the first of the colour cycle for all).
    legend : str, optional
        Label of the bars; with it, a legend (bars and chance) at the lower right.
    rotate_labels : bool, default=False
        Tick labels at 30 degrees (long or many targets).
    inches_per_bar : float, default=1.2
        Figure width per bar (plus 2 inches, at least 4 in all).
    capsize, chance_halfwidth, chance_lw : float
        Error-bar caps (points), the chance line's half width (bar units) and line width.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.0, inches_per_bar * len(labels) + 2), 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(labels))
    style: dict[str, Any] = {}
    if colors is not None:
        style["color"] = list(colors)
    if legend is not None:
        style["label"] = legend
    ax.bar(x, list(means), 0.6, yerr=list(stds), capsize=capsize, **style)
    for i, chance in enumerate(chances):
        if not np.isnan(chance):
            ax.hlines(
                chance, i - chance_halfwidth, i + chance_halfwidth, colors="k", linestyles="--",
                lw=chance_lw,
            )  # fmt: skip
    if legend is not None:
        ax.plot([], [], "k--", label="chance")
    if rotate_labels:
        ax.set_xticks(x, list(labels), rotation=30, ha="right")
    else:
        ax.set_xticks(x, list(labels))
    ax.set_ylim(min([0.0, *(m for m in means if not np.isnan(m))]), 1.05)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if legend is not None:
        ax.legend(fontsize=8, loc="lower right")
    return fig


def importance_figure(importance: pd.DataFrame, layout: FeatureLayout, title: str) -> Figure:
    """Draw ``importance`` (columns ``feature, importance[, importance_std]``) in ``layout``.

    Layer-wise statistics: a heat map statistic x (layer, weight type) and the mean per layer and
    weight type (NWS Figs. 3/16); MI-WD: an ``S x B`` map (window = depth, bin = weight value);
    global statistics: bars; others: the importance along the feature index.
    """
    from matplotlib.figure import Figure

    values = importance.set_index("feature")["importance"].reindex(list(layout.names))
    table = layout.columns().assign(importance=values.to_numpy())
    kind = layout.kind
    if kind == "layer-stats":
        return _layer_stats_figure(table, title)
    if kind == "miwd" and layout.grid is not None:
        S, B = layout.grid
        fig = Figure(figsize=(6.4, 5.2), layout="constrained")
        ax = fig.add_subplot()
        lo, hi = layout.value_range or (0.0, float(B))
        image = ax.imshow(
            table["importance"].to_numpy().reshape(S, B),
            aspect="auto",
            cmap="magma",
            extent=(lo, hi, S - 0.5, -0.5),
            interpolation="nearest",
        )
        ax.set_xlabel("weight value (histogram bin)")
        ax.set_ylabel("window s (depth: first layers at the top)")
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, label="coefficient norm over classes")
        return fig
    fig = Figure(figsize=(max(6.0, min(16.0, 0.35 * len(table))), 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(table))
    std = importance.set_index("feature").get("importance_std")
    err = None if std is None else std.reindex(list(layout.names)).to_numpy()
    if len(table) <= 64:
        ax.bar(x, table["importance"], yerr=err, color="tab:blue", capsize=2)
        ax.set_xticks(x, table["feature"], rotation=90, fontsize=7)
    else:
        ax.plot(x, table["importance"], lw=0.8)
        ax.set_xlabel("feature index")
    ax.set_ylabel("coefficient norm over classes")
    ax.set_title(title, fontsize=10)
    return fig


def _layer_stats_figure(table: pd.DataFrame, title: str) -> Figure:
    import matplotlib
    from matplotlib.figure import Figure

    layers = list(dict.fromkeys(table["layer"]))
    roles = [r for r in _ROLE_ORDER if r in set(table["role"])]
    roles += [r for r in dict.fromkeys(table["role"]) if r not in roles]
    stats = list(dict.fromkeys(table["stat"]))
    groups = list(dict.fromkeys(zip(table["layer"], table["role"], strict=True)))
    full = table.set_index(["layer", "role", "stat"])["importance"]
    grid = np.array([[full.get((g[0], g[1], s), np.nan) for g in groups] for s in stats])
    per_type = table.groupby(["layer", "role"])["importance"].mean()
    mean = np.array([[per_type.get((layer, r), np.nan) for r in roles] for layer in layers])

    cmap = matplotlib.colormaps["magma"].with_extremes(bad="0.85")
    fig = Figure(figsize=(max(9.0, 0.32 * len(groups) + 4.0), 5.4), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[max(3.0, len(groups) / 4), 2.0])
    image = left.imshow(grid, aspect="auto", cmap=cmap, interpolation="nearest")
    left.set_yticks(range(len(stats)), stats, fontsize=7)
    left.set_xticks(
        range(len(groups)), [f"{g[0]} {_ROLE_LABEL.get(g[1], g[1])}" for g in groups],
        rotation=90, fontsize=7,
    )  # fmt: skip
    left.set_title(f"{title}\nper feature (statistic x layer and weight type)", fontsize=9)
    fig.colorbar(image, ax=left, label="coefficient norm", shrink=0.8)
    image = right.imshow(mean, aspect="auto", cmap=cmap, interpolation="nearest")
    right.set_xticks(range(len(roles)), [_ROLE_LABEL.get(r, r) for r in roles], rotation=45)
    right.set_yticks(range(len(layers)), layers, fontsize=8)
    right.set_title("mean over the 16 statistics\n(layer x weight type)", fontsize=9)
    fig.colorbar(image, ax=right, shrink=0.8)
    return fig
