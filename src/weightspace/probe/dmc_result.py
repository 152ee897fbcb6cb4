"""The result of :func:`weightspace.probe.dmc.dmc_probe`: scores per target, figures, summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from weightspace.probe.common import filter_notes
from weightspace.probe.dmc_models import DMCArchitecture
from weightspace.probe.report import ProbeResult, Reference

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from weightspace.probe.dmc import DMCConfig

__all__ = ["DMCResult", "DMCScores", "r2_score", "scores_row"]


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:.3f}" if np.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def r2_score(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (NaN for a constant truth)."""
    t, p = np.asarray(truth, dtype=np.float64), np.asarray(prediction, dtype=np.float64)
    total = float(np.sum((t - t.mean()) ** 2))
    return float("nan") if total == 0 else 1.0 - float(np.sum((t - p) ** 2)) / total


def scores_row(out: np.ndarray, y: np.ndarray, task: str) -> tuple[dict[str, float], np.ndarray]:
    """Scores of outputs ``(n, k[, n_classes])`` of ``k`` windows per model against ``y``.

    Returns the metrics (``accuracy``, ``window_accuracy`` or ``r2``, ``window_r2``, ``pearson``;
    window metrics NaN when ``k == 1``) and the model-level predictions (window outputs averaged).
    """
    nan = float("nan")
    k = out.shape[1]
    if task == "classification":
        pred = out.mean(axis=1).argmax(axis=-1)
        window = float(np.mean(out.argmax(axis=-1) == y[:, None])) if k > 1 else nan
        row = {"accuracy": float(np.mean(pred == y)), "window_accuracy": window}
        return row | {"r2": nan, "window_r2": nan, "pearson": nan}, pred
    pred = out.mean(axis=1)
    window = r2_score(np.repeat(y, k), out.reshape(-1)) if k > 1 else nan
    pearson = float(np.corrcoef(y, pred)[0, 1]) if np.std(pred) > 0 and np.std(y) > 0 else nan
    row = {"accuracy": nan, "window_accuracy": nan, "r2": r2_score(y, pred), "window_r2": window}
    return row | {"pearson": pearson}, pred


@dataclass(frozen=True, eq=False)
class DMCScores:
    """One target's DMC: scores per (round, test snapshot), predictions, training curves."""

    target: str
    task: str
    classes: tuple[str, ...]
    n_models: int
    chance: float
    table: pd.DataFrame
    predictions: pd.DataFrame
    history: np.ndarray
    train_seconds: float
    architecture: DMCArchitecture
    dropped_classes: tuple[str, ...] = ()
    log_scale: bool = False
    steps: int = 0
    epochs: float = 0.0

    def aggregate(self) -> pd.DataFrame:
        """Mean and std over rounds per test snapshot."""
        metrics = ["accuracy", "window_accuracy", "r2", "window_r2", "pearson"]
        grouped = self.table.groupby("snapshot", sort=False)
        out = grouped[metrics].mean().add_suffix("_mean")
        std = grouped[metrics].std(ddof=0).where(grouped.size() > 1).add_suffix("_std")
        counts = grouped[["n_train", "n_test"]].mean().round().astype(int)
        return pd.concat([counts, out, std], axis=1).reset_index()


@dataclass(frozen=True, eq=False)
class DMCResult(ProbeResult):
    """Result of :func:`~weightspace.probe.dmc.dmc_probe`."""

    config: DMCConfig
    region: str
    train_snapshots: tuple[int, ...]
    test_snapshots: tuple[int, ...]
    n_splits: int
    scores: tuple[DMCScores, ...]
    filter_report: pd.DataFrame | None = None
    device: str = "cpu"
    #: Published findings: ``values`` by target (``paper_accuracy``), ``words`` by target,
    #: ``texts["row"]`` (before a target's words on each row), ``texts["note"]``.
    reference: Reference | None = None

    probe = "dmc"
    title = "Deep meta-classifiers"

    @property
    def label(self) -> str:
        """``local DMC (W=5000, all weights)`` or ``global DMC (conv, FC weights)``."""
        where = {"all": "all weights", "conv": "conv weights", "fc": "FC weights"}[self.region]
        if self.config.kind == "local":
            return f"local DMC (W={self.config.window}, {where})"
        return f"global DMC ({self.config.net}, {where})"

    def to_frame(self) -> pd.DataFrame:
        """One row per target and test snapshot: accuracy (or R^2) mean and std over rounds,
        beside chance (with a reference, the published accuracy ``paper_accuracy``)."""
        rows = []
        local = self.config.kind == "local"
        for s in self.scores:
            head = {
                "target": s.target,
                "kind": self.config.kind,
                "net": self.config.net,
                "region": self.region,
                "task": s.task,
                "window": self.config.window if local else s.architecture.input_length,
                "n_classes": len(s.classes),
                "n_models": s.n_models,
                "rounds": int(s.table["round"].nunique()),
            }
            paper = (
                {} if self.reference is None else {"paper_accuracy": self.reference.value(s.target)}
            )
            tail = {
                "chance": s.chance,
                **paper,
                "steps": s.steps,
                "epochs": s.epochs,
                "train_seconds": s.train_seconds,
            }
            rows += [head | rec | tail for rec in s.aggregate().to_dict("records")]
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Accuracy (R^2 for regression) beside chance (and a paper's words), per target."""
        c = self.config
        ref = self.reference
        arch = self.scores[0].architecture.describe() if self.scores else ""
        steps = self.scores[0].steps if self.scores else 0
        ensemble = f"; a model's prediction averages {c.eval_windows} windows"
        lines = [
            f"{self.label}: {arch}",
            f"Adam {c.learning_rate:g} (decayed x1/{c.lr_decay:g}), batch {c.batch_size}, {steps} "
            f"steps, trained on snapshots {list(self.train_snapshots)}, {self.n_splits}-fold "
            f"splits by model, device {self.device}" + (ensemble if c.kind == "local" else ""),
        ]
        if self.filter_report is not None:
            kept, total = self.filter_report.n_kept.sum(), self.filter_report.n_models.sum()
            lines.append(f"failed trainings rejected: {kept} of {total} models kept")
        lines.append(
            f"{'target':<14}{'snap':>5}{'models':>7}  {'model score':<27} {'window':<9} "
            f"{'chance':>7}{'train s':>9}" + ("" if ref is None else "  paper")
        )
        for s in self.scores:
            paper = "" if ref is None else f"  {ref.text('row')}; {ref.word(s.target) or '-'}"
            for rec in s.aggregate().to_dict("records"):
                key = "accuracy" if s.task == "classification" else "r2"
                prefix = "" if s.task == "classification" else "R2 "
                score = prefix + _mean_std(rec[f"{key}_mean"], rec[f"{key}_std"])
                window = rec[f"window_{key}_mean"]
                win = "-" if np.isnan(window) else f"{prefix}{window:.3f}"
                chance = f"{s.chance:.3f}" if s.task == "classification" else "R2 0"
                if s.task == "regression":
                    score += f" r {rec['pearson_mean']:.2f}"
                lines.append(
                    f"{s.target:<14}{rec['snapshot']:>5}{s.n_models:>7}  {score:<27} {win:<9} "
                    f"{chance:>7}{s.train_seconds:>9.1f}{paper}"
                )
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Accuracy per target (model and window level) with chance, as NWS Figs. 2/4."""
        from matplotlib.figure import Figure

        frame = self.to_frame()
        cls = frame[frame.task == "classification"].drop_duplicates("target", keep="last")
        reg = frame[frame.task == "regression"].drop_duplicates("target", keep="last")
        n = len(cls) + len(reg)
        fig = Figure(figsize=(max(4.5, 1.3 * n + 2.5), 3.8), layout="constrained")
        ax = fig.add_subplot()
        x = np.arange(len(cls))
        local = self.config.kind == "local"
        label = "model (windows averaged)" if local else "model"
        err = cls.accuracy_std.fillna(0)
        ax.bar(x - 0.18 * local, cls.accuracy_mean, 0.36, yerr=err, capsize=3, label=label)
        if local:
            window = cls.window_accuracy_mean
            ax.bar(x + 0.18, window, 0.36, color="tab:orange", label="single window")
        for i, chance in enumerate(cls.chance):
            ax.hlines(chance, i - 0.4, i + 0.4, colors="k", linestyles="--", lw=1.2)
        if len(reg):
            xr = np.arange(len(reg)) + len(cls)
            err = reg.r2_std.fillna(0)
            ax.bar(xr, reg.r2_mean, 0.5, yerr=err, capsize=3, color="tab:green", label="R²")
        ax.plot([], [], "k--", label="chance")
        ax.set_xticks(np.arange(n), [*cls.target, *reg.target])
        ax.set_ylim(min(0.0, float(np.nanmin([0.0, *reg.r2_mean]))), 1.05)
        ax.set_ylabel("test accuracy / R²")
        ax.set_title(f"{self.label}, last test snapshot", fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
        return fig

    def training_figure(self) -> Figure:
        """Training loss along the steps of every target (mean over rounds)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.5, 3.4), layout="constrained")
        ax = fig.add_subplot()
        for s in self.scores:
            curve = s.history.mean(axis=0)
            ax.plot(np.linspace(0, s.steps, len(curve)), curve, label=s.target)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("training loss (CE, or MSE of the standardized target)")
        ax.legend(fontsize=7)
        return fig

    def regression_figure(self, scores: DMCScores) -> Figure:
        """Predicted against true target (test models, last test snapshot)."""
        from matplotlib.figure import Figure

        pred = scores.predictions[scores.predictions.snapshot == self.test_snapshots[-1]]
        fig = Figure(figsize=(4.2, 4.0), layout="constrained")
        ax = fig.add_subplot()
        ax.scatter(pred.truth, pred.prediction, s=10, alpha=0.7)
        lo, hi = float(pred.truth.min()), float(pred.truth.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        unit = f"log10 {scores.target}" if scores.log_scale else scores.target
        ax.set_xlabel(f"true {unit}")
        ax.set_ylabel(f"predicted {unit}")
        ax.set_title(f"{self.label}: {scores.target}", fontsize=9)
        return fig

    def figures(self) -> dict[str, Figure]:
        """``accuracy``, ``training`` and ``regression-<target>`` for regressed targets."""
        out = {"accuracy": self.plot(), "training": self.training_figure()}
        for s in self.scores:
            if s.task == "regression":
                out[f"regression-{s.target}"] = self.regression_figure(s)
        return out

    def notes(self) -> list[str]:
        """Choices and counts behind the numbers."""
        out: list[str] = [] if self.reference is None else [self.reference.text("note")]
        out += [
            "Chance: the majority-class share among the probed models (1/k when balanced); a "
            "regression's baseline is R² = 0 (predicting the mean).",
            "Std over rounds (train/test splits by model); one round has none.",
        ]
        out += filter_notes(self.filter_report)
        for s in self.scores:
            if s.dropped_classes:
                dropped = list(s.dropped_classes)
                out.append(f"{s.target}: classes {dropped} dropped (fewer models than folds)")
        return out
