"""The result of the embedding reproductions (MI-WD Fig. 4, NWS Fig. 13): scores, table, figures.

:func:`neighbour_score` measures what a map shows: how well a point's k nearest neighbours (in the
2-D map, or in the features that were embedded) predict its hyper-parameter (k-NN accuracy) or a
number such as the training progress (k-NN R²), optionally counting only neighbours from other
trainings. :class:`EmbeddingsResult` holds the maps (as :class:`~weightspace.atlas.model.Atlas`
objects, drawn by the atlas's renderers) and one row of scores per panel and colouring. The
experiments are in :mod:`weightspace.reproduce.embeddings`.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from weightspace.atlas.columns import Column
from weightspace.atlas.model import Atlas
from weightspace.probe.common import filter_notes
from weightspace.probe.report import ProbeResult
from weightspace.reproduce.papers import MIWD_FIGURES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["EmbeddingsResult", "neighbour_score", "score_row"]

_SILHOUETTE_SAMPLE = 4000


# ---------------------------------------------------------------------------------- scores
def neighbour_score(
    X: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    categorical: bool,
    groups: npt.ArrayLike | None = None,
    k: int = 5,
) -> float:
    """How well a point's ``k`` nearest neighbours predict its value (Euclidean distance).

    Parameters
    ----------
    X : array-like of shape (n, d)
        Points (map coordinates or features).
    values : array-like of shape (n,)
        Category codes (``-1``: missing) or numbers (NaN: missing); missing points are left out.
    categorical : bool
        Codes: the accuracy of the neighbours' majority vote (ties go to the nearer neighbour).
        Numbers: R² of the neighbours' mean, ``1 - SSE / SST`` (0 for predicting the mean).
    groups : array-like of shape (n,), optional
        Neighbours in the point's own group (snapshots of one training) are not counted; default:
        every point its own group (leave-one-out).
    k : int, default=5

    Returns
    -------
    float
        NaN when fewer than ``k`` points lie outside a group, or the numbers do not vary.
    """
    from sklearn.neighbors import NearestNeighbors

    Z = np.asarray(X, dtype=np.float64)
    v = np.asarray(values)
    known = v >= 0 if categorical else np.isfinite(v)
    Z, v = Z[known], v[known]
    g = np.arange(v.shape[0]) if groups is None else np.asarray(groups)[known]
    if v.shape[0] == 0:
        return math.nan
    largest = int(np.unique(g, return_counts=True)[1].max())
    if v.shape[0] - largest < k:
        return math.nan
    nn = NearestNeighbors(n_neighbors=min(v.shape[0], k + largest)).fit(Z)
    idx = nn.kneighbors(Z, return_distance=False)
    order = np.argsort(g[idx] == g[:, None], axis=1, kind="stable")[:, :k]
    near = v[np.take_along_axis(idx, order, axis=1)]
    if categorical:
        codes = near.astype(np.intp)
        votes = np.zeros((v.shape[0], int(v.max()) + 1))
        rows = np.repeat(np.arange(v.shape[0]), k)
        np.add.at(votes, (rows, codes.ravel()), np.tile(1.0 + 1e-3 * np.arange(k, 0, -1), len(v)))
        return float(np.mean(votes.argmax(axis=1) == v))
    sst = float(np.sum((v - v.mean()) ** 2))
    return math.nan if sst <= 0 else 1.0 - float(np.sum((v - near.mean(axis=1)) ** 2)) / sst


def _silhouette(X: np.ndarray, codes: np.ndarray, random_state: int) -> float:
    from sklearn.metrics import silhouette_score

    known = codes >= 0
    n_labels = np.unique(codes[known]).size
    if not 2 <= n_labels < int(known.sum()):
        return math.nan
    sample = None if known.sum() <= _SILHOUETTE_SAMPLE else _SILHOUETTE_SAMPLE
    return float(
        silhouette_score(X[known], codes[known], sample_size=sample, random_state=random_state)
    )


def score_row(
    figure: str,
    panel: str,
    maps: np.ndarray,
    features: np.ndarray,
    col: Column,
    groups: np.ndarray | None,
    k: int,
    random_state: int,
) -> dict[str, Any]:
    """One row of the result table: the scores of colouring ``col`` in one panel.

    ``maps`` are the panel's 2-D coordinates, ``features`` what was embedded; ``groups`` (one per
    point, or None) keep a training's own snapshots out of its neighbours.
    """
    cat = col.type == "categorical"
    known = col.values >= 0 if cat else np.isfinite(col.values)
    row: dict[str, Any] = {
        "figure": figure,
        "panel": panel,
        "n_features": int(features.shape[1]),
        "color_by": col.name,
        "type": col.type,
        "score": "kNN accuracy" if cat else "kNN R²",
        "knn_map": neighbour_score(maps, col.values, categorical=cat, groups=groups, k=k),
        "knn_features": neighbour_score(features, col.values, categorical=cat, groups=groups, k=k),
        "chance": 0.0,
        "silhouette_map": math.nan,
        "silhouette_features": math.nan,
        "n_points": int(known.sum()),
        "n_classes": 0,
        "paper": math.nan,
    }
    if cat:
        counts = np.bincount(col.values[known], minlength=len(col.categories))
        row["chance"] = float(counts.max() / max(1, counts.sum()))
        row["n_classes"] = int((counts > 0).sum())
        row["silhouette_map"] = _silhouette(maps, col.values, random_state)
        row["silhouette_features"] = _silhouette(features, col.values, random_state)
    return row


# ---------------------------------------------------------------------------------- the result
@dataclass(frozen=True, eq=False)
class EmbeddingsResult(ProbeResult):
    """Maps of weight representations (MI-WD Fig. 4, NWS Fig. 13) and their neighbour scores.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (figure, panel, colouring); see :meth:`to_frame`.
    maps : mapping of str to Atlas
        The maps drawn, ``"4/mi-wd"``, ..., ``"13/umap"``, ``"13/pca"``: atlases that every
        renderer draws (``maps["4/mi-wd"].display()`` in a notebook).
    color_by : str
        The colouring of Fig. 4.
    colors : tuple of str
        The colourings of Fig. 13.
    facts : mapping of str to str
        One line per figure: models, sizes, parameters.
    """

    table: pd.DataFrame
    maps: Mapping[str, Atlas]
    color_by: str = "init"
    colors: tuple[str, ...] = ()
    facts: Mapping[str, str] = field(default_factory=dict)
    filter_report: pd.DataFrame | None = None
    remarks: tuple[str, ...] = ()
    k: int = 5

    probe = "embeddings"
    title = "Embeddings of weight representations (MI-WD Fig. 4, NWS Fig. 13)"

    def merge(self, other: EmbeddingsResult) -> EmbeddingsResult:
        """One result holding both figures (this one's first)."""
        return replace(
            self,
            table=pd.concat([self.table, other.table], ignore_index=True),
            maps={**self.maps, **other.maps},
            color_by=self.color_by if "4" in self._figures_run() else other.color_by,
            colors=self.colors or other.colors,
            facts={**self.facts, **other.facts},
            filter_report=self.filter_report
            if self.filter_report is not None
            else other.filter_report,
            remarks=self.remarks + other.remarks,
        )

    def _figures_run(self) -> list[str]:
        return list(dict.fromkeys(self.table.figure))

    def to_frame(self) -> pd.DataFrame:
        """Columns: figure, panel (representation or embedding), n_features, color_by, type,
        score (kNN accuracy or kNN R²), knn_map, knn_features (the score in the 2-D map and in the
        embedded features), chance (majority class; 0 for R²), silhouette_map,
        silhouette_features, n_points, n_classes, paper (NaN: the figures have no numbers)."""
        return self.table.copy()

    def summary(self) -> str:
        """Fig. 4: the scores of the colouring per representation, and the map's kNN accuracy of
        every target; Fig. 13: the scores of every colouring in both maps."""
        lines: list[str] = []
        for fig in self._figures_run():
            part = self.table[self.table.figure == fig]
            if lines:
                lines.append("")
            lines += [self.facts.get(fig, f"Fig. {fig}")]
            lines += self._summary_4(part) if fig == "4" else self._summary_13(part)
            lines.append(f"paper: {MIWD_FIGURES[fig]}")
        return "\n".join(lines)

    def _summary_4(self, part: pd.DataFrame) -> list[str]:
        k = part[part.color_by == self.color_by]
        head = f"{'representation':<20}{'K':>6}{'kNN map':>10}{'kNN repr':>10}{'silh map':>10}{'silh repr':>11}"
        lines = [f"coloured by {self.color_by}: k-NN (k={self.k}) accuracy and silhouette", head]
        for r in k.itertuples(index=False):
            lines.append(
                f"{r.panel:<20}{r.n_features:>6}{r.knn_map:>10.3f}{r.knn_features:>10.3f}"
                f"{r.silhouette_map:>10.3f}{r.silhouette_features:>11.3f}"
            )
        if not k.empty:
            lines.append(f"{'chance (majority)':<26}{float(k.chance.iloc[0]):>10.3f}")
        targets = list(dict.fromkeys(part.color_by))
        lines += ["k-NN accuracy in the map / in the representation, every target:"]
        lines.append(f"{'representation':<20}" + "".join(f"{t[:13]:>15}" for t in targets))
        cell = part.set_index(["panel", "color_by"])
        for rep in dict.fromkeys(part.panel):
            lines.append(
                f"{rep:<20}"
                + "".join(
                    f"{cell.loc[(rep, t), 'knn_map']:.2f} / {cell.loc[(rep, t), 'knn_features']:.2f}".rjust(
                        15
                    )
                    for t in targets
                )
            )
        chance = part.groupby("color_by", sort=False)["chance"].first()
        lines.append(f"{'chance':<20}" + "".join(f"{chance[t]:>15.2f}" for t in targets))
        return lines

    def _summary_13(self, part: pd.DataFrame) -> list[str]:
        n_pcs = int(part.n_features.iloc[0])
        lines = [
            f"{'colour':<20}{'score':<14}{'PCA map':>9}{'UMAP map':>10}{f'{n_pcs} PCs':>9}{'chance':>8}"
        ]
        cell = part.set_index(["panel", "color_by"])
        for name in dict.fromkeys(part.color_by):
            pca, umap = cell.loc[("pca", name)], cell.loc[("umap", name)]
            lines.append(
                f"{name:<20}{umap.score:<14}{pca.knn_map:>9.3f}{umap.knn_map:>10.3f}"
                f"{umap.knn_features:>9.3f}{umap.chance:>8.3f}"
            )
        lines.append(f"(k = {self.k} nearest points of other trainings; R²: of their mean value)")
        return lines

    def plot(self) -> Figure:
        """The first figure of :meth:`figures`."""
        return next(iter(self.figures().values()))

    def figures(self) -> dict[str, Figure]:
        """``fig4`` (five maps), ``fig4-scores`` (kNN accuracy per target), ``fig13-umap`` and
        ``fig13-pca`` (one panel per colouring), for the figures that were run."""
        out: dict[str, Figure] = {}
        if "4" in self._figures_run():
            out["fig4"] = self._plot_4()
            out["fig4-scores"] = self._plot_scores()
        if "13" in self._figures_run():
            out["fig13-umap"] = self._plot_13("umap")
            out["fig13-pca"] = self._plot_13("pca")
        return out

    def _plot_4(self) -> Figure:
        from matplotlib.figure import Figure

        from weightspace.atlas.figures import plot_atlas

        part = self.table[(self.table.figure == "4") & (self.table.color_by == self.color_by)]
        fig = Figure(figsize=(3.4 * len(part) + 1.6, 3.9), layout="constrained")
        axes = fig.subplots(1, len(part), squeeze=False)[0]
        for i, (ax, r) in enumerate(zip(axes, part.itertuples(index=False), strict=True)):
            title = (
                f"{r.panel} (K={r.n_features})\nkNN {r.knn_map:.2f} map, {r.knn_features:.2f} repr; "
                f"silh. {r.silhouette_map:.2f}"
            )
            plot_atlas(self.maps[f"4/{r.panel}"], self.color_by, ax=ax, title=title)
            legend = ax.get_legend()
            if legend is not None and i < len(part) - 1:
                legend.remove()
        fig.suptitle(f"UMAP of five weight representations, coloured by {self.color_by}")
        return fig

    def _plot_scores(self) -> Figure:
        from matplotlib.figure import Figure

        part = self.table[self.table.figure == "4"]
        targets = list(dict.fromkeys(part.color_by))
        reps = list(dict.fromkeys(part.panel))
        fig = Figure(figsize=(1.6 * len(targets) + 2.5, 3.6), layout="constrained")
        ax = fig.subplots()
        width = 0.8 / len(reps)
        cell = part.set_index(["panel", "color_by"])
        for j, rep in enumerate(reps):
            xs = np.arange(len(targets)) - 0.4 + width * (j + 0.5)
            ax.bar(xs, [cell.loc[(rep, t), "knn_map"] for t in targets], width * 0.9, label=rep)
            ax.scatter(
                xs, [cell.loc[(rep, t), "knn_features"] for t in targets], marker="_", s=80, c="k",
                zorder=3, label="in the representation" if j == 0 else None,
            )  # fmt: skip
        for i, t in enumerate(targets):
            ax.hlines(cell.loc[(reps[0], t), "chance"], i - 0.45, i + 0.45, colors="k", ls="--")
        ax.set_xticks(range(len(targets)), targets)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(f"k-NN (k={self.k}) accuracy in the map")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.set_title(
            "Bars: in the 2-D map; ticks: in the representation; dashes: chance", fontsize=9
        )
        return fig

    def _plot_13(self, name: str) -> Figure:
        from matplotlib.figure import Figure

        from weightspace.atlas.figures import plot_atlas

        atlas = self.maps[f"13/{name}"]
        part = self.table[(self.table.figure == "13") & (self.table.panel == name)]
        cols = min(4, len(part))
        rows = math.ceil(len(part) / cols)
        fig = Figure(figsize=(4.4 * cols, 3.6 * rows), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for letter, ax, r in zip(
            string.ascii_lowercase, axes, part.itertuples(index=False), strict=False
        ):
            color_by = str(r.color_by)
            label = atlas.column(color_by).label
            score = f"kNN acc. {r.knn_map:.2f} (chance {r.chance:.2f})"
            if r.type == "continuous":
                score = f"kNN R² {r.knn_map:.2f}"
            plot_atlas(atlas, color_by, ax=ax, title=f"({letter}) {label}\n{score}")
            if name == "pca":
                ax.set_xlabel("PC 1")
                ax.set_ylabel("PC 2")
        for ax in axes[len(part) :]:
            ax.set_axis_off()
        fig.suptitle(self.facts.get("13", ""), fontsize=9)
        return fig

    def notes(self) -> list[str]:
        """Choices behind the numbers."""
        out = [
            f"k-NN scores: a point's value predicted from its {self.k} nearest points "
            "(Euclidean) in the 2-D map or in the features that were embedded; categories by "
            "majority vote (accuracy, beside the majority-class rate), numbers by the neighbours' "
            "mean (R²: 0 is as good as the overall mean). In Fig. 13 only points of other "
            "trainings count as neighbours. Without any footprint, a number scores between "
            f"-1/k = {-1 / self.k:.2f} (neighbours from k trainings) and -1 (all from one other "
            "training, as where a training's snapshots lie together), and leaving the point out "
            "puts a label a little below chance (its class has one member fewer among the rest).",
            "Silhouette: by the colouring's categories (sklearn, Euclidean; a sample of 4,000 "
            "points when there are more).",
            "UMAP: the atlas's seeded embedding (umap-learn, PCA initialization), same settings "
            "for every panel; representations are not standardized.",
        ]
        return out + filter_notes(self.filter_report) + list(self.remarks)
