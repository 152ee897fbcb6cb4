"""Linear probes of model properties from any representation (Schürholt et al.'s protocol).

Samples are snapshots: every chosen snapshot of every (successful) model is a row, its features the
representation of that snapshot, its targets the snapshot's own record (``test_acc``, ``epoch``,
``ggap = train_acc - test_acc``, ... from the snapshots table) or the model's columns
(hyper-parameters). For each of ``n_seeds`` seeded splits by model (70/15/15: a model's snapshots
stay together), a continuous target gets closed-form ridge regression on standardized features with
the penalty chosen on the validation models from ``1e3 ... 1e-5`` and is scored on the test models
by R^2 and Kendall's tau; a categorical one (text or boolean columns, or any named in
``categorical``) gets a one-vs-rest ridge classifier chosen the same way and is scored by accuracy.
Scores are mean +- standard deviation over the seeds (:mod:`weightspace.probe.linear_engine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weightspace.library import Library
from weightspace.probe.common import (
    ProbeError,
    Selection,
    chance_level,
    filter_notes,
)
from weightspace.probe.features import bar_chance_figure, load_features
from weightspace.probe.linear_engine import (
    ALPHAS,
    fit_ridge,
    fit_ridge_classifier,
    kendall_tau,
    r2_score,
    split_by_model,
)
from weightspace.probe.report import ProbeResult
from weightspace.probe.targets import resolve_target

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "SNAPSHOT_TARGETS",
    "LinearProbeResult",
    "TargetResult",
    "linear_probe",
    "probe_rows",
    "score_targets",
]

#: Targets read per snapshot (``ggap`` is ``train_acc - test_acc``); others come from the models.
SNAPSHOT_TARGETS = (
    "epoch", "step", "progress", "train_acc", "val_acc", "test_acc", "train_loss", "val_loss",
    "test_loss", "ggap",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class TargetResult:
    """Scores of one target over the split seeds (NaN where a score does not apply)."""

    target: str
    kind: str
    n_models: int
    n_samples: int
    r2: np.ndarray
    tau: np.ndarray
    accuracy: np.ndarray
    chance: float
    alphas: tuple[float, ...]

    def mean_std(self, score: str) -> tuple[float, float]:
        """Mean and standard deviation over seeds of ``r2``, ``tau`` or ``accuracy``."""
        values = np.asarray(getattr(self, score), dtype=np.float64)
        if np.isnan(values).all():
            return float("nan"), float("nan")
        return float(np.nanmean(values)), float(np.nanstd(values))

    @property
    def main(self) -> str:
        """``"r2"`` for continuous targets, ``"accuracy"`` for categorical ones."""
        return "r2" if self.kind == "continuous" else "accuracy"


def probe_rows(
    lib: Library,
    representation: str,
    ids: Sequence[int],
    *,
    params: dict[str, Any] | None = None,
    snapshots: Sequence[int] | None = None,
    cache: bool = True,
    progress: bool = False,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Features and targets of every chosen snapshot of ``ids``.

    Parameters
    ----------
    snapshots : sequence of int, optional
        Snapshot indices (negative from the end); default every snapshot index the models share.

    Returns
    -------
    X : numpy.ndarray of shape (n_rows, n_features), float64
    frame : pandas.DataFrame
        One row per row of ``X``: ``model``, ``snapshot`` (0-based index), the snapshot columns, ``ggap``
        and the models' columns.
    """
    chosen = [int(i) for i in ids]
    models = lib.query().set_index("id").loc[chosen]
    if snapshots is None:
        snapshots = list(range(int(models["n_snapshots"].min())))
    X, groups, given = load_features(
        lib, representation, chosen, params=params, snapshots=snapshots, cache=cache,
        progress=progress,
    )  # fmt: skip
    counts = models.loc[groups, "n_snapshots"].to_numpy()
    index = np.where(given < 0, counts + given, given).astype(np.int64)
    snaps = lib.snapshot_table(chosen).rename(columns={"idx": "snapshot"})
    snaps["ggap"] = snaps["train_acc"] - snaps["test_acc"]
    rows = pd.DataFrame({"model": groups.astype(np.int64), "snapshot": index})
    frame = rows.merge(snaps, on=["model", "snapshot"], how="left")
    extra = models.drop(columns=[c for c in models.columns if c in frame.columns]).reset_index()
    frame = frame.merge(extra.rename(columns={"id": "model"}), on="model", how="left")
    return X, frame


def _kind(values: pd.Series, target: str, categorical: Sequence[str]) -> str:
    if target in categorical:
        return "categorical"
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        return "continuous"
    converted = pd.to_numeric(values, errors="coerce")
    return "continuous" if converted.notna().all() else "categorical"


def _constant(values: np.ndarray, kind: str) -> bool:
    if kind == "categorical" or values.size == 0:
        return bool(np.unique(values.astype(str)).size < 2)
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    return bool(np.nanstd(v) <= 1e-9 * max(1.0, float(np.nanmax(np.abs(v)))))


def score_targets(
    X: np.ndarray,
    frame: pd.DataFrame,
    targets: Sequence[str],
    *,
    categorical: Sequence[str] = (),
    n_seeds: int = 3,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    alphas: Sequence[float] = ALPHAS,
    random_state: int = 0,
) -> tuple[list[TargetResult], list[str]]:
    """Probe every target of ``frame`` (rows aligned with ``X``) over ``n_seeds`` splits.

    Returns
    -------
    results : list of TargetResult
    skipped : list of str
        One line per target left out (a single value, too few models), and why.
    """
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ProbeError(f"n_seeds must be a positive integer; got {n_seeds!r}")
    seeds = [int(s) for s in np.random.SeedSequence(random_state).generate_state(n_seeds)]
    results, skipped = [], []
    for target in targets:
        column = resolve_target(
            [c for c in frame.columns if c not in ("model", "snapshot")], target
        )
        if column is None:
            known = sorted(set(frame.columns) - {"model", "snapshot"})
            raise ProbeError(
                f"unknown target {target!r}; the rows have {', '.join(map(str, known))}"
            )
        values = frame[column]
        present = values.notna().to_numpy()
        kind = _kind(values[present], target, categorical)
        y_all = values.to_numpy()
        groups = frame["model"].to_numpy()
        rows = np.flatnonzero(present)
        if _constant(y_all[rows], kind):
            skipped.append(f"{target}: one value only ({y_all[rows][0] if rows.size else 'none'})")
            continue
        if np.unique(groups[rows]).size < 3:
            skipped.append(f"{target}: fewer than 3 models with a value")
            continue
        r2s, taus, accs, chosen = [], [], [], []
        for seed in seeds:
            tr, va, te = (
                rows[i] for i in split_by_model(groups[rows], fractions=fractions, seed=seed)
            )
            if kind == "continuous":
                y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
                # clipped to the training targets' range: R^2 of the clipped predictions, tau of
                # the unclipped scores (clipping only ties); a few exploded models (weights of
                # 1e4) otherwise give predictions far outside any accuracy
                bounds = (float(y[tr].min()), float(y[tr].max()))
                model, _ = fit_ridge(X[tr], y[tr], X[va], y[va], alphas, clip=bounds)
                pred = model.predict(X[te])
                r2s.append(r2_score(y[te], np.clip(pred, *bounds)))
                taus.append(kendall_tau(y[te], pred))
                accs.append(np.nan)
                chosen.append(model.alpha)
            else:
                y = y_all.astype(str)
                if np.unique(y[tr]).size < 2:
                    continue
                clf, _ = fit_ridge_classifier(X[tr], y[tr], X[va], y[va], alphas)
                accs.append(float(np.mean(clf.predict(X[te]) == y[te])))
                r2s.append(np.nan)
                taus.append(np.nan)
                chosen.append(clf.ridge.alpha)
        if not chosen:
            skipped.append(f"{target}: every training split held a single class")
            continue
        results.append(
            TargetResult(
                target=target,
                kind=kind,
                n_models=int(np.unique(groups[rows]).size),
                n_samples=int(rows.size),
                r2=np.asarray(r2s),
                tau=np.asarray(taus),
                accuracy=np.asarray(accs),
                chance=chance_level(y_all[rows]) if kind == "categorical" else float("nan"),
                alphas=tuple(chosen),
            )
        )
    return results, skipped


@dataclass(frozen=True, eq=False)
class LinearProbeResult(ProbeResult):
    """Result of :func:`linear_probe`: test scores per target, mean +- std over split seeds."""

    representation: str
    params: dict[str, Any]
    snapshots: tuple[int, ...]
    n_seeds: int
    fractions: tuple[float, ...]
    n_features: int
    scores: tuple[TargetResult, ...]
    skipped: tuple[str, ...] = ()
    filter_report: pd.DataFrame | None = None
    remarks: tuple[str, ...] = field(default_factory=tuple)

    probe = "linear"
    title = "Linear probes of model properties"

    def to_frame(self) -> pd.DataFrame:
        """One row per target: R^2, Kendall tau (continuous) or accuracy and chance (categorical)."""
        rows = []
        for s in self.scores:
            r2, r2_sd = s.mean_std("r2")
            tau, tau_sd = s.mean_std("tau")
            acc, acc_sd = s.mean_std("accuracy")
            rows.append(
                {
                    "target": s.target,
                    "kind": s.kind,
                    "representation": self.representation,
                    "n_features": self.n_features,
                    "n_models": s.n_models,
                    "n_samples": s.n_samples,
                    "r2_mean": r2,
                    "r2_std": r2_sd,
                    "tau_mean": tau,
                    "tau_std": tau_sd,
                    "accuracy_mean": acc,
                    "accuracy_std": acc_sd,
                    "chance": s.chance,
                    "seeds": len(s.alphas),
                    "alphas": " ".join(f"{a:g}" for a in s.alphas),
                }
            )
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """One line per target."""
        lines = [
            f"Linear probes on {self.representation} ({self.n_features} features), snapshots "
            f"{_span(self.snapshots)}; {self.n_seeds} splits by model "
            f"{'/'.join(f'{round(100 * f)}' for f in self.fractions)}; ridge penalty from 1e3..1e-5 "
            "on validation",
            f"{'target':<16}{'kind':<12}{'models':>7}{'rows':>7}  {'test R2':<16}{'Kendall tau':<16}"
            f"{'accuracy':<16}chance",
        ]
        for s in self.scores:
            cells = []
            for score in ("r2", "tau", "accuracy"):
                mean, sd = s.mean_std(score)
                cells.append("-" if np.isnan(mean) else f"{mean:.3f} ± {sd:.3f}")
            chance = "-" if np.isnan(s.chance) else f"{s.chance:.3f}"
            lines.append(
                f"{s.target:<16}{s.kind:<12}{s.n_models:>7}{s.n_samples:>7}  {cells[0]:<16}"
                f"{cells[1]:<16}{cells[2]:<16}{chance}"
            )
        lines += [f"skipped {line}" for line in self.skipped]
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Test R^2 (continuous) and accuracy (categorical) per target, with the std over seeds."""
        means = [s.mean_std(s.main) for s in self.scores]
        return bar_chance_figure(
            [s.target for s in self.scores],
            [m for m, _ in means],
            [sd for _, sd in means],
            [s.chance for s in self.scores],
            ylabel="test R² (blue) / accuracy (orange)",
            title=f"Linear probes on {self.representation}",
            colors=["tab:blue" if s.kind == "continuous" else "tab:orange" for s in self.scores],
            rotate_labels=True,
            inches_per_bar=0.9,
            capsize=3,
            chance_halfwidth=0.3,
            chance_lw=1,
        )

    def notes(self) -> list[str]:
        """Choices and counts behind the numbers."""
        out = [
            "Rows are snapshots; a model's snapshots are always on one side of a split.",
            "Continuous targets: closed-form ridge on standardized features (penalty chosen on "
            "validation R^2; predictions clipped to the training targets' range: R^2 of the "
            "clipped predictions, Kendall tau of the unclipped ones). Categorical: one-vs-rest "
            "ridge classifier (penalty chosen on "
            "validation accuracy); chance is the majority class's share.",
        ]
        out += list(self.remarks) + [f"skipped {s}" for s in self.skipped]
        return out + filter_notes(self.filter_report)


def _span(snapshots: Sequence[int]) -> str:
    s = list(snapshots)
    if len(s) > 3 and s == list(range(s[0], s[0] + len(s))):
        return f"{s[0]}..{s[-1]}"
    return ",".join(map(str, s))


def linear_probe(
    lib: Library,
    targets: str | Sequence[str],
    *,
    representation: str = "swstats",
    params: dict[str, Any] | None = None,
    snapshots: Sequence[int] | None = None,
    categorical: Sequence[str] = (),
    n_seeds: int = 3,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    alphas: Sequence[float] = ALPHAS,
    selection: Selection = Selection(),  # noqa: B008
    random_state: int = 0,
    cache: bool = True,
    progress: bool = False,
) -> LinearProbeResult:
    """Predict snapshot and model properties from a representation with linear probes.

    Parameters
    ----------
    lib : Library
    targets : str or sequence of str
        Snapshot columns (:data:`SNAPSHOT_TARGETS`, e.g. ``test_acc``, ``epoch``, ``ggap``) or model
        columns (hyper-parameters).
    representation : str, default="swstats"
        Any registered representation (``hyper`` with ``params={"encoder": DIR}``).
    params : dict, optional
    snapshots : sequence of int, optional
        Snapshot indices used as rows (default: every index the models share).
    categorical : sequence of str, default=()
        Targets to classify even if numeric (text and boolean columns always are).
    n_seeds : int, default=3
    fractions : (float, float, float), default=(0.7, 0.15, 0.15)
    alphas : sequence of float, default=ALPHAS
    selection : Selection, default=Selection()
        The models probed (failure filter, ``where``, ``ids``).
    random_state : int, default=0
    cache : bool, default=True
    progress : bool, default=False

    Returns
    -------
    LinearProbeResult
    """
    names = [targets] if isinstance(targets, str) else list(targets)
    if not names:
        raise ProbeError("give at least one target, e.g. test_acc")
    models, report = selection.models(lib)
    known = [*SNAPSHOT_TARGETS, *models.columns]
    for name in names:
        if resolve_target(known, name) is None:
            raise ProbeError(
                f"unknown target {name!r}; choose a snapshot column ({', '.join(SNAPSHOT_TARGETS)}) "
                f"or a model column ({', '.join(sorted(map(str, models.columns)))})"
            )
    chosen = models["id"].astype(int).tolist()
    X, frame = probe_rows(
        lib, representation, chosen, params=params, snapshots=snapshots, cache=cache,
        progress=progress,
    )  # fmt: skip
    results, skipped = score_targets(
        X, frame, names, categorical=categorical, n_seeds=n_seeds, fractions=fractions,
        alphas=alphas, random_state=random_state,
    )  # fmt: skip
    used = sorted(set(frame["snapshot"].astype(int)))
    return LinearProbeResult(
        representation=representation,
        params=dict(params or {}),
        snapshots=tuple(used),
        n_seeds=n_seeds,
        fractions=tuple(float(f) for f in fractions),
        n_features=int(X.shape[1]),
        scores=tuple(results),
        skipped=tuple(skipped),
        filter_report=report,
    )
