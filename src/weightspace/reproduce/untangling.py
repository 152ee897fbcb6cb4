"""Untangling hyper-parameters with linear SVMs on weight representations (MI-WD paper, Fig. 3).

Eilertsen et al. (EuroVis 2024, sec. 3) train linear SVMs with 5-fold cross-validation to classify
five hyper-parameters from five representations: global statistics (16 features), raw weights
resampled to K values, the first K principal components (PCA) and a K-dimensional random
projection of the weights resampled to 65,536 values, and MI-WD with S = B = sqrt(K), for
K in {64, 256, 1024}. The paper's bars are lost from the text; it states that MI-WD is overall
significantly better and that most baselines cannot separate the variations.

Choices here:

- The targets are dataset, optimizer, activation, initialization and augmentation. The paper's
  fifth is not named in the text; of the NWS zoo's remaining training choices, batch size is the
  one that NWS (sec. 5.2) found that not even the deep meta-classifiers predict, so it would show
  every representation at chance; augmentation is predictable from the weights there and is a
  property of the training data, like the dataset. ``targets`` takes any columns.
- Each target's models are class-balanced (chance = 1/k); failed trainings are rejected first.
- Features are standardized inside each fold's pipeline (as every probe here).
- PCA: the paper fits it on the 8,035 models of the NWS training set and evaluates on the test
  set. Here it is fitted, without labels, on the last snapshots of the probed models: as many
  per model as make at least max(K) vectors (one when there are enough models), and all K use the
  first K components of that one fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weightspace.library import Library
from weightspace.probe.common import (
    ProbeError,
    Selection,
    chance_level,
    filter_notes,
    target_labels,
    usable_classes,
)
from weightspace.probe.report import ProbeResult
from weightspace.probe.svm import cross_validate_svm
from weightspace.reproduce.papers import MIWD_FIG3

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_TARGETS", "REPRESENTATIONS", "UntanglingResult", "untangling_experiment"]

#: The five hyper-parameters classified (the fifth, augmentation, is our choice: see the notes).
DEFAULT_TARGETS: tuple[str, ...] = ("dataset", "optimizer", "activation", "init", "augmentation")
#: The representations of Fig. 3, in its order.
REPRESENTATIONS: tuple[str, ...] = ("global stats", "raw", "pca", "random projection", "mi-wd")
_COLORS = {
    "global stats": "tab:gray",
    "raw": "tab:orange",
    "pca": "tab:green",
    "random projection": "tab:purple",
    "mi-wd": "tab:blue",
}


@dataclass(frozen=True, eq=False)
class UntanglingResult(ProbeResult):
    """Accuracy of linear SVMs per target, representation and K, beside chance."""

    table: pd.DataFrame
    n_splits: int
    pca_vectors: int
    filter_report: pd.DataFrame | None = None
    remarks: tuple[str, ...] = ()
    standardized: bool = True

    probe = "untangling"
    title = "Untangling hyper-parameters with linear SVMs (MI-WD Fig. 3)"

    def to_frame(self) -> pd.DataFrame:
        """Columns: target, representation, K, accuracy_mean, accuracy_std, chance, n_models,
        n_classes, paper_accuracy (NaN: Fig. 3's values are lost)."""
        return self.table.copy()

    def summary(self) -> str:
        """Accuracy (mean ± std over folds) per representation and K (rows) and target."""
        targets = list(dict.fromkeys(self.table.target))
        lines = [
            f"Untangling (MI-WD Fig. 3): linear SVM, {self.n_splits}-fold CV by model, balanced "
            f"classes, {'standardized' if self.standardized else 'raw'} features; accuracy mean "
            "± std over folds",
            f"{'representation':<28}" + "".join(f"{t:>16}" for t in targets),
        ]
        cell = self.table.set_index(["representation", "K", "target"])
        rows = self.table.drop_duplicates(["representation", "K"])[["representation", "K"]]
        for rep, k in rows.itertuples(index=False):
            cells = []
            for t in targets:
                m = float(cell["accuracy_mean"].get((rep, k, t), math.nan))
                s = float(cell["accuracy_std"].get((rep, k, t), math.nan))
                cells.append("-".rjust(16) if math.isnan(m) else f"{m:.3f} ± {s:.3f}".rjust(16))
            lines.append(f"{f'{rep} (K={k})':<28}" + "".join(cells))
        chance = self.table.groupby("target", sort=False)["chance"].first()
        models = self.table.groupby("target", sort=False)["n_models"].first()
        lines.append(f"{'chance':<28}" + "".join(f"{chance[t]:>16.3f}" for t in targets))
        lines.append(f"{'models':<28}" + "".join(f"{models[t]:>16d}" for t in targets))
        lines.append(f"paper: {MIWD_FIG3}")
        return "\n".join(lines)

    def plot(self) -> Figure:
        """One panel per target: bars per representation at each K, error bars, chance."""
        from matplotlib.figure import Figure

        targets = list(dict.fromkeys(self.table.target))
        fig = Figure(figsize=(3.1 * len(targets) + 1, 3.8), layout="constrained")
        axes = fig.subplots(1, len(targets), sharey=True, squeeze=False)[0]
        for ax, t in zip(axes, targets, strict=True):
            sub = self.table[self.table.target == t]
            x = 0.0
            ticks, labels = [], []
            for rep in REPRESENTATIONS:
                part = sub[sub.representation == rep].sort_values("K")
                if part.empty:
                    continue
                n = len(part)
                xs = x + 0.28 * (np.arange(n) - (n - 1) / 2)
                shades = np.linspace(0.45, 1.0, n) if n > 1 else np.ones(1)
                for xi, (_, r), a in zip(xs, part.iterrows(), shades, strict=True):
                    ax.bar(
                        xi, r.accuracy_mean, 0.26, yerr=r.accuracy_std, capsize=2,
                        color=_COLORS.get(rep, "tab:cyan"), alpha=float(a),
                    )  # fmt: skip
                ticks.append(x)
                labels.append(rep.replace("random projection", "rand. proj."))
                x += 1.0
            ax.axhline(float(sub.chance.iloc[0]), color="k", ls="--", lw=1, label="chance")
            ax.set_xticks(ticks, labels, rotation=40, ha="right", fontsize=8)
            ax.set_title(f"{t} ({int(sub.n_models.iloc[0])} models)", fontsize=10)
            ax.set_ylim(0, 1.05)
        axes[0].set_ylabel("test accuracy (5-fold CV)")
        axes[0].legend(fontsize=7, loc="upper left")
        dims = sorted({int(k) for k in self.table.K if k != 16} or {16})
        fig.suptitle(
            f"Linear SVMs on {'standardized' if self.standardized else 'unscaled'} weight "
            "representations; bars left to right: K = " + ", ".join(map(str, dims)),
            fontsize=10,
        )
        return fig

    def figures(self) -> dict[str, Figure]:
        """``fig3``: the grouped bar chart (:meth:`plot`)."""
        return {"fig3": self.plot()}

    def notes(self) -> list[str]:
        """Choices behind the numbers."""
        out = [
            "Fifth hyper-parameter: augmentation (the paper's is not named in the text; batch "
            "size, the other candidate, is not predictable from the weights even by the NWS deep "
            "meta-classifiers).",
            f"PCA is fitted without labels on {self.pca_vectors} weight vectors: the last "
            "snapshots of the probed models (the paper fits it on a separate training set).",
            "Error bars: standard deviation over the folds, as in the paper.",
            "Features are standardized in each fold's pipeline"
            + (
                ": every PCA component then weighs alike, the trailing (noise) ones too, which is "
                "why PCA loses accuracy as K grows; --no-standardize shows the other side."
                if self.standardized
                else "; not in this run (--no-standardize: features weigh by their own scale)."
            ),
        ]
        return out + filter_notes(self.filter_report) + list(self.remarks)


def _pca_features(
    lib: Library,
    ids: list[int],
    n_snapshots: dict[int, int],
    dims: Sequence[int],
    resample_to: int,
    random_state: int,
    cache: bool,
) -> tuple[np.ndarray, int]:
    """The first max(dims) principal components of the final weights, fitted on a pool of the
    last snapshots; returns (X, number of vectors fitted on)."""
    from weightspace.represent import PCABaseline

    k_max = max(dims)
    per_model = max(1, math.ceil(k_max / len(ids)))
    pool_ids = [(i, s) for i in ids for s in range(1, min(per_model, n_snapshots[i]) + 1)]
    k_fit = min(k_max, len(pool_ids))
    key = {"K": k_fit, "resample_to": resample_to, "random_state": random_state, "m": per_model}
    if cache:
        hit = lib.cache.get("untangling-pca", key, ids)
        if hit is not None:
            return hit["X"], len(pool_ids)
    pool = [lib.vector(i, -s) for i, s in pool_ids]
    pca = PCABaseline(K=k_fit, resample_to=resample_to, random_state=random_state).fit(pool)
    del pool
    X = np.asarray(pca.transform(lib.vectors(ids)), dtype=np.float32)
    if cache:
        lib.cache.put("untangling-pca", key, ids, {"X": X})
    return X, len(pool_ids)


def untangling_experiment(
    lib: Library,
    *,
    targets: Sequence[str] = DEFAULT_TARGETS,
    dims: Sequence[int] = (64, 256, 1024),
    n_splits: int = 5,
    C: float = 1.0,
    balance: bool = True,
    standardize: bool = True,
    selection: Selection = Selection(),  # noqa: B008
    resample_to: int = 65536,
    random_state: int = 0,
    cache: bool = True,
    progress: bool = False,
) -> UntanglingResult:
    """Run the untangling experiment on the last snapshot of a library's models.

    Parameters
    ----------
    lib : Library
    targets : sequence of str, default=DEFAULT_TARGETS
        Categorical hyper-parameter columns.
    dims : sequence of int, default=(64, 256, 1024)
        Sizes K (perfect squares: MI-WD uses S = B = sqrt(K)).
    n_splits : int, default=5
    C : float, default=1.0
    balance : bool, default=True
    standardize : bool, default=True
        Standardize the features inside each fold's pipeline. This weighs every PCA component
        alike, the trailing (noise) ones too, which costs PCA much of its accuracy at large K.
    selection : Selection, default=Selection()
        The models probed: failed trainings rejected (``Selection(failed=None)`` keeps all),
        ``where`` (SQL), ``ids``.
    resample_to : int, default=65536
        Length of the resampled weights for PCA and random projection (the paper's 65,536).
    random_state : int, default=0
    cache : bool, default=True
    progress : bool, default=False
    """
    from weightspace.represent.registry import describe_library

    sides = {int(k): math.isqrt(int(k)) for k in dims}
    bad = [k for k, s in sides.items() if s * s != k or k < 1]
    if bad or not sides:
        raise ProbeError(f"dims must be perfect squares (MI-WD: S = B = sqrt(K)); got {list(dims)}")
    models, report = selection.models(lib)
    labels = {t: target_labels(models, t) for t in targets}
    ids = models["id"].astype(int).tolist()

    def describe(name: str, params: dict[str, Any]) -> np.ndarray:
        _, X = describe_library(lib, name, ids=ids, params=params, cache=cache, progress=progress)
        return X

    reps: list[tuple[str, int, np.ndarray]] = [("global stats", 16, describe("stats", {}))]
    counts = dict(zip(ids, models["n_snapshots"].astype(int), strict=True))
    pca, n_pool = _pca_features(lib, ids, counts, dims, resample_to, random_state, cache)
    remarks = []
    for k, s in sorted(sides.items()):
        reps.append(("raw", k, describe("raw", {"K": k})))
        if k <= pca.shape[1]:
            reps.append(("pca", k, pca[:, :k]))
        else:
            remarks.append(f"PCA K={k}: needs {k} weight vectors, the library has {n_pool}")
        rp = {"K": k, "resample_to": resample_to, "random_state": random_state}
        reps.append(("random projection", k, describe("randproj", rp)))
        reps.append(("mi-wd", k, describe("miwd", {"S": s, "B": s})))

    rng = np.random.default_rng(random_state)
    rows = []
    for t in targets:
        y = labels[t]
        pos = models.index.get_indexer(y.index)
        y_t = y.to_numpy(dtype=object)
        keep, small = usable_classes(y_t, t, n_splits=n_splits, balance=balance, random_state=rng)
        pos, y_t = pos[keep], y_t[keep]
        if small:
            remarks.append(f"{t}: classes {list(small)} dropped (fewer than {n_splits})")
        seed = int(rng.integers(2**31))
        for name, k, X in reps:
            cv = cross_validate_svm(
                X[pos], y_t, np.asarray(ids)[pos], kernel="linear", C=C, n_splits=n_splits,
                random_state=seed, importance=False, standardize=standardize,
            )  # fmt: skip
            rows.append(
                {
                    "target": t,
                    "representation": name,
                    "K": k,
                    "accuracy_mean": float(cv.accuracy.mean()),
                    "accuracy_std": float(cv.accuracy.std()),
                    "chance": chance_level(y_t),
                    "n_models": len(y_t),
                    "n_classes": int(np.unique(y_t).size),
                    "paper_accuracy": float("nan"),
                }
            )
    return UntanglingResult(
        pd.DataFrame(rows), n_splits, n_pool, report, tuple(remarks), standardize
    )
