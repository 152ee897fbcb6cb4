"""SVM meta-classifiers: predict a hyper-parameter from a representation of the weights.

Eilertsen et al. 2020 (sec. 5.1-5.2, appendix E): linear and RBF support vector machines trained
one-vs-rest on statistics of the weights; the norm over classes of the linear SVMs' one-vs-rest
coefficient vectors tells which features separate the classes (Figs. 3 and 16).

:func:`cross_validate_svm` is the engine (arrays in, fold accuracies and coefficient norms out);
:func:`svm_probe` runs it on a library selection: failed trainings rejected, classes balanced,
features standardized inside the pipeline (fitted on each training fold only), repeated k-fold
cross-validation with folds grouped by model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from weightspace.library import Library
from weightspace.probe.common import (
    ProbeError,
    Selection,
    chance_level,
    filter_notes,
    model_splits,
    target_labels,
    usable_classes,
)
from weightspace.probe.features import (
    FeatureLayout,
    bar_chance_figure,
    feature_layout,
    importance_figure,
    load_features,
)
from weightspace.probe.report import ProbeResult, Reference

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CVScores",
    "SVMResult",
    "TargetScores",
    "cross_validate_svm",
    "svm_probe",
]

Kernel = Literal["linear", "rbf"]


@dataclass(frozen=True, eq=False)
class CVScores:
    """Accuracies and (linear kernel) coefficient norms of a repeated cross-validation.

    Attributes
    ----------
    accuracy : numpy.ndarray of shape (n_repeats, n_splits)
    coef_norms : numpy.ndarray of shape (n_repeats * n_splits, n_features) or None
        Per fit, the L2 norm over classes of the one-vs-rest coefficients (standardized features);
        NaN for features dropped as non-finite. None for the RBF kernel.
    dropped : numpy.ndarray of bool of shape (n_features,)
        Features left out because some value was NaN or infinite.
    """

    accuracy: np.ndarray
    coef_norms: np.ndarray | None
    dropped: np.ndarray


def _pipeline(kernel: Kernel, C: float, standardize: bool) -> Any:
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    svm = OneVsRestClassifier(SVC(kernel=kernel, C=C))
    return make_pipeline(StandardScaler(), svm) if standardize else make_pipeline(svm)


def cross_validate_svm(
    X: np.ndarray,
    y: Sequence[Any] | np.ndarray,
    groups: Sequence[int] | np.ndarray,
    *,
    kernel: Kernel = "linear",
    C: float = 1.0,
    n_splits: int = 5,
    n_repeats: int = 1,
    random_state: Any = 0,
    importance: bool = True,
    standardize: bool = True,
) -> CVScores:
    """Repeated k-fold accuracy of a one-vs-rest SVM on standardized features, folds by group.

    Parameters
    ----------
    X : array of shape (n, d)
        Features; columns with a non-finite value are dropped.
    y : sequence of shape (n,)
        Class labels.
    groups : sequence of int of shape (n,)
        Model of each row: rows of one model stay on one side of every split.
    kernel : {"linear", "rbf"}, default="linear"
    C : float, default=1.0
        SVM regularization.
    n_splits, n_repeats : int
        Folds, and repeats with new shuffles.
    random_state : int or None, default=0
    importance : bool, default=True
        Keep the coefficient norms (linear kernel only).
    standardize : bool, default=True
        Scale every feature to zero mean and unit variance, fitted on each training fold. Without
        it, features weigh by their own scale (coefficient norms are then in those units).

    Returns
    -------
    CVScores

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["a", "b"], 20)
    >>> X = rng.normal(size=(40, 3)) + (y == "b")[:, None] * [4.0, 0, 0]
    >>> s = cross_validate_svm(X, y, np.arange(40), n_splits=4)
    >>> float(s.accuracy.mean()) > 0.8, int(np.argmax(s.coef_norms.mean(axis=0)))
    (True, 0)
    """
    if kernel not in ("linear", "rbf"):
        raise ProbeError(f"kernel must be 'linear' or 'rbf'; got {kernel!r}")
    if not (isinstance(C, int | float) and C > 0):
        raise ProbeError(f"C must be a positive number; got {C!r}")
    data = np.asarray(X, dtype=np.float64)
    if data.ndim != 2:
        raise ProbeError(f"X must be 2-D (rows x features); got shape {data.shape}")
    labels = np.asarray(y, dtype=object).astype(str)
    dropped = ~np.isfinite(data).all(axis=0)
    if dropped.all():
        raise ProbeError("every feature has a NaN or infinite value; nothing to classify on")
    data = data[:, ~dropped]
    splits = model_splits(
        labels, groups, n_splits=n_splits, n_repeats=n_repeats, random_state=random_state
    )
    accuracy = np.empty(len(splits))
    norms = []
    for i, (train, test) in enumerate(splits):
        if np.unique(labels[train]).size < 2:
            raise ProbeError("a training fold holds a single class; use fewer folds")
        model = _pipeline(kernel, float(C), standardize).fit(data[train], labels[train])
        accuracy[i] = float(model.score(data[test], labels[test]))
        if importance and kernel == "linear":
            coef = np.vstack([est.coef_ for est in model[-1].estimators_])
            full = np.full(dropped.shape[0], np.nan)
            full[~dropped] = np.linalg.norm(coef, axis=0)
            norms.append(full)
    return CVScores(
        accuracy.reshape(n_repeats, n_splits),
        np.array(norms) if norms else None,
        np.asarray(dropped),
    )


@dataclass(frozen=True, eq=False)
class TargetScores:
    """The SVM probe's result for one target hyper-parameter."""

    target: str
    classes: tuple[str, ...]
    n_models: int
    n_samples: int
    chance: float
    accuracy: np.ndarray
    importance: pd.DataFrame | None
    dropped_classes: tuple[str, ...] = ()

    @property
    def mean(self) -> float:
        """Mean accuracy over all folds of all repeats."""
        return float(np.mean(self.accuracy))

    @property
    def std(self) -> float:
        """Standard deviation of the fold accuracies (all repeats)."""
        return float(np.std(self.accuracy))

    def top_features(self, n: int = 3) -> list[str]:
        """The ``n`` most important features (linear kernel), most important first."""
        if self.importance is None:
            return []
        return list(self.importance.nlargest(n, "importance")["feature"])


@dataclass(frozen=True, eq=False)
class SVMResult(ProbeResult):
    """Result of :func:`svm_probe`: accuracy per target beside chance, feature importance."""

    representation: str
    kernel: str
    C: float
    n_splits: int
    n_repeats: int
    snapshots: tuple[int, ...]
    balanced: bool
    layout: FeatureLayout
    scores: tuple[TargetScores, ...]
    filter_report: pd.DataFrame | None = None
    params: dict[str, Any] = field(default_factory=dict)
    standardized: bool = True
    #: Published findings: ``values`` by target (accuracy), ``words`` by target (the most
    #: important features), ``texts["row"]`` (after each accuracy row), ``texts["note"]``.
    reference: Reference | None = None

    probe = "svm"
    title = "SVM meta-classifiers"

    def to_frame(self) -> pd.DataFrame:
        """One row per target: accuracy mean and std beside chance (and the published accuracy,
        ``paper_accuracy``, with a reference)."""
        ref = self.reference
        return pd.DataFrame(
            [
                {
                    "target": s.target,
                    "representation": self.representation,
                    "kernel": self.kernel,
                    "n_features": len(self.layout.names),
                    "n_classes": len(s.classes),
                    "n_models": s.n_models,
                    "n_samples": s.n_samples,
                    "folds": self.n_splits,
                    "repeats": self.n_repeats,
                    "accuracy_mean": s.mean,
                    "accuracy_std": s.std,
                    "chance": s.chance,
                    **({} if ref is None else {"paper_accuracy": ref.value(s.target)}),
                    "top_features": ", ".join(s.top_features()),
                }
                for s in self.scores
            ]
        )

    def importance_frame(self) -> pd.DataFrame:
        """Feature importance of every target (linear kernel): target, feature, coordinates,
        importance (mean over folds and repeats), importance_std, rank."""
        parts = [
            s.importance.assign(target=s.target) for s in self.scores if s.importance is not None
        ]
        if not parts:
            return pd.DataFrame(columns=["target", "feature", "importance", "importance_std"])
        frame = pd.concat(parts, ignore_index=True)
        return frame[["target"] + [c for c in frame.columns if c != "target"]]

    def summary(self) -> str:
        """Accuracy beside chance per target; the most important features beside the paper's."""
        head = (
            f"SVM probe: {self.kernel} SVM, one-vs-rest, C={self.C:g}, "
            f"{'standardized ' if self.standardized else ''}{self.representation} features ({len(self.layout.names)}); {self.n_splits}-fold x "
            f"{self.n_repeats} repeats grouped by model; snapshots {list(self.snapshots)}; "
            + ("classes balanced" if self.balanced else "classes not balanced")
        )
        lines = [head]
        if self.filter_report is not None:
            kept, total = self.filter_report.n_kept.sum(), self.filter_report.n_models.sum()
            lines.append(f"failed trainings rejected: {kept} of {total} models kept")
        ref = self.reference
        lines.append(
            f"{'target':<14}{'classes':>8}{'models':>8}  {'accuracy':<16}{'chance':>7}"
            + ("" if ref is None else "  paper")
        )
        for s in self.scores:
            acc = f"{s.mean:.3f} ± {s.std:.3f}"
            lines.append(
                f"{s.target:<14}{len(s.classes):>8}{s.n_models:>8}  {acc:<16}{s.chance:>7.3f}"
                + ("" if ref is None else f"  {ref.text('row')}")
            )
        if self.kernel == "linear":
            lines.append("Most important features (norm over classes of the coefficients):")
            for s in self.scores:
                lines.append(f"  {s.target:<12} ours:  {', '.join(s.top_features())}")
                finding = None if ref is None else ref.word(s.target)
                if finding is not None:
                    lines.append(f"  {'':<12} paper: {finding}")
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Accuracy per target with the standard deviation and chance (as NWS Fig. 2)."""
        return bar_chance_figure(
            [s.target for s in self.scores],
            [s.mean for s in self.scores],
            [s.std for s in self.scores],
            [s.chance for s in self.scores],
            ylabel="test accuracy",
            title=f"SVM meta-classifiers ({self.n_splits}-fold x {self.n_repeats}, by model)",
            legend=f"{self.kernel} SVM, {self.representation}",
        )

    def figures(self) -> dict[str, Figure]:
        """``accuracy`` and, for the linear kernel, ``importance-<target>`` per target."""
        out = {"accuracy": self.plot()}
        for s in self.scores:
            if s.importance is not None:
                title = f"{s.target}: linear SVM on {self.representation}"
                out[f"importance-{s.target}"] = importance_figure(s.importance, self.layout, title)
        return out

    def tables(self) -> dict[str, pd.DataFrame]:
        """The 15 most important features of each target."""
        frame = self.importance_frame()
        if frame.empty:
            return {}
        top = frame.sort_values(["target", "rank"]).groupby("target").head(15)
        return {"Most important features (top 15 per target)": top}

    def notes(self) -> list[str]:
        """Choices and counts behind the numbers."""
        out = [
            "Chance is the share of the majority class among the probed models (1/k when balanced).",
            "Accuracy std is over all folds of all repeats."
            + ("" if self.reference is None else " " + self.reference.text("note")),
        ]
        out += filter_notes(self.filter_report)
        for s in self.scores:
            if s.dropped_classes:
                out.append(
                    f"{s.target}: classes {list(s.dropped_classes)} dropped (fewer models "
                    f"than folds)"
                )
        return out


def svm_probe(
    lib: Library,
    targets: str | Sequence[str],
    *,
    representation: str = "layer-stats",
    params: dict[str, Any] | None = None,
    kernel: Kernel = "linear",
    C: float = 1.0,
    n_splits: int = 5,
    n_repeats: int = 3,
    snapshots: Sequence[int] = (-1,),
    balance: bool = True,
    standardize: bool = True,
    selection: Selection = Selection(),  # noqa: B008
    random_state: int = 0,
    cache: bool = True,
    progress: bool = False,
) -> SVMResult:
    """Classify categorical hyper-parameters from a representation with SVMs.

    Parameters
    ----------
    lib : Library
    targets : str or sequence of str
        Categorical columns of the models table (e.g. ``"optimizer"``).
    representation : str, default="layer-stats"
        A registered representation (``miwd``, ``stats``, ``layer-stats``, ``raw``, ...).
    params : dict, optional
        Its parameters (e.g. ``{"S": 16, "B": 16}``).
    kernel : {"linear", "rbf"}, default="linear"
    C : float, default=1.0
    n_splits : int, default=5
    n_repeats : int, default=3
    snapshots : sequence of int, default=(-1,)
        Snapshots of each model used as samples (NWS' DMCs use the last 4: ``(-1, -2, -3, -4)``);
        all snapshots of a model fall in the same fold.
    balance : bool, default=True
        Cut every class to the size of the smallest (per target).
    standardize : bool, default=True
        Standardize the features inside the pipeline (see :func:`cross_validate_svm`).
    selection : Selection, default=Selection()
        The models probed: failed trainings rejected (``Selection(failed=None)`` keeps all),
        ``where`` (SQL), ``ids``.
    random_state : int, default=0
        Seeds balancing and folds.
    cache : bool, default=True
        Use the library's representation cache.
    progress : bool, default=False

    Returns
    -------
    SVMResult
    """
    names = [targets] if isinstance(targets, str) else list(targets)
    if not names:
        raise ProbeError("give at least one target hyper-parameter (e.g. optimizer)")
    models, report = selection.models(lib)
    labels = {t: target_labels(models, t) for t in names}
    ids_all = models["id"].astype(int).tolist()
    X, groups, _ = load_features(
        lib, representation, ids_all, params=params, snapshots=snapshots, cache=cache,
        progress=progress,
    )  # fmt: skip
    layout = feature_layout(lib, representation, params, ids_all[0], X.shape[1])
    rng = np.random.default_rng(random_state)
    scores = []
    for t in names:
        y = labels[t]
        ids_t = models.loc[y.index, "id"].astype(int).to_numpy()
        y_t = y.to_numpy(dtype=object)
        keep, small = usable_classes(y_t, t, n_splits=n_splits, balance=balance, random_state=rng)
        ids_t, y_t = ids_t[keep], y_t[keep]
        label_of = dict(zip(ids_t.tolist(), y_t.tolist(), strict=True))
        rows = np.flatnonzero(np.isin(groups, ids_t))
        y_rows = np.array([label_of[int(g)] for g in groups[rows]], dtype=object)
        cv = cross_validate_svm(
            X[rows], y_rows, groups[rows], kernel=kernel, C=C, n_splits=n_splits,
            n_repeats=n_repeats, random_state=int(rng.integers(2**31)), standardize=standardize,
        )  # fmt: skip
        scores.append(
            TargetScores(
                target=t,
                classes=tuple(sorted(set(y_t))),
                n_models=len(ids_t),
                n_samples=len(rows),
                chance=chance_level(y_t),
                accuracy=cv.accuracy,
                importance=_importance(cv, layout),
                dropped_classes=small,
            )
        )
    return SVMResult(
        representation=representation,
        kernel=kernel,
        C=float(C),
        n_splits=n_splits,
        n_repeats=n_repeats,
        snapshots=tuple(int(s) for s in snapshots),
        balanced=balance,
        layout=layout,
        scores=tuple(scores),
        filter_report=report,
        params=dict(params or {}),
        standardized=standardize,
    )


def _importance(cv: CVScores, layout: FeatureLayout) -> pd.DataFrame | None:
    if cv.coef_norms is None:
        return None
    frame = layout.columns()
    ok = ~cv.dropped
    mean, std = np.full(ok.shape[0], np.nan), np.full(ok.shape[0], np.nan)
    mean[ok] = cv.coef_norms[:, ok].mean(axis=0)
    std[ok] = cv.coef_norms[:, ok].std(axis=0)
    frame["importance"] = mean
    frame["importance_std"] = std
    frame["rank"] = frame["importance"].rank(ascending=False, method="first").astype("Int64")
    return frame
