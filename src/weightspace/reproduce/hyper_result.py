"""The result of ``weightspace reproduce hyper-representations``: our probes beside the paper's.

:class:`HyperReproduction` holds, per representation (the baselines W, s(W), layer-stats, MI-WD and
the encoders E_cD, E_c, E_D), the linear-probe scores of every target over the split seeds, the
out-of-distribution rows, the encoders' training summaries and the wall time of every step; it
prints one table beside :data:`~weightspace.reproduce.papers.HYP_RESULTS` and writes the
Markdown + CSV + PNG report (the :class:`~weightspace.probe.report.ProbeResult` contract).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from weightspace.probe.common import filter_notes
from weightspace.probe.linear import TargetResult
from weightspace.probe.report import ProbeResult
from weightspace.reproduce.papers import HYP_RESULTS, HYP_TARGETS, HYP_ZOO

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["HyperReproduction"]

_LABELS = dict(HYP_TARGETS)


@dataclass(frozen=True, eq=False)
class HyperReproduction(ProbeResult):
    """Linear probes of every representation on one zoo, beside the paper (see the module notes).

    Attributes
    ----------
    zoo : str
    representations : tuple of str
        Column order: baselines, then encoders.
    scores : dict of str to list of TargetResult
        Per representation.
    targets : tuple of str
    n_models, n_samples : int
        Models (after the failed-training filter) and rows (snapshots) probed.
    encoders : pandas.DataFrame
        One row per encoder: folder, epochs, best epoch, validation loss and R^2, seconds.
    timings : pandas.DataFrame
        ``step, seconds`` (wall time of each training and probe in this run).
    ood : pandas.DataFrame or None
        Out-of-distribution rows (Kendall tau of test accuracy).
    """

    zoo: str
    representations: tuple[str, ...]
    scores: dict[str, list[TargetResult]]
    targets: tuple[str, ...]
    n_models: int
    n_samples: int
    n_seeds: int
    encoders: pd.DataFrame
    timings: pd.DataFrame
    ood: pd.DataFrame | None = None
    filter_report: pd.DataFrame | None = None
    remarks: tuple[str, ...] = field(default_factory=tuple)

    probe = "hyper-representations"
    title = "Hyper-representations (Schürholt et al. 2021): linear probes, ours beside the paper's"

    def _score(self, rep: str, target: str) -> tuple[float, float, str]:
        for r in self.scores.get(rep, []):
            if r.target == target:
                mean, sd = r.mean_std(r.main)
                return 100 * mean, 100 * sd, "R2" if r.main == "r2" else "accuracy"
        return float("nan"), float("nan"), ""

    def _tau(self, rep: str, target: str) -> tuple[float, float]:
        for r in self.scores.get(rep, []):
            if r.target == target and r.kind == "continuous":
                return r.mean_std("tau")
        return float("nan"), float("nan")

    def to_frame(self) -> pd.DataFrame:
        """One row per target: ours per representation (percent, mean and std over seeds) and the
        paper's MNIST-HYP W, s(W), E_cD."""
        rows = []
        for target in self.targets:
            row: dict[str, object] = {"target": target, "paper_label": _LABELS.get(target, "")}
            metric = ""
            for rep in self.representations:
                mean, sd, kind = self._score(rep, target)
                metric = metric or kind
                row[rep] = mean
                row[f"{rep}_std"] = sd
            if not metric:
                continue  # skipped (a single value in this zoo): listed in the notes
            row["metric"] = metric
            paper = HYP_RESULTS.get(target, (float("nan"),) * 3)
            row["paper_W"], row["paper_s(W)"], row["paper_E_cD"] = paper
            rows.append(row)
        frame = pd.DataFrame(rows)
        first = ["target", "paper_label", "metric"]
        return frame[first + [c for c in frame.columns if c not in first]]

    def verdict(self) -> str:
        """Does E_cD beat W and s(W) on test-accuracy R^2 here, and by how much."""
        ecd, _, _ = self._score("E_cD", "test_acc")
        w, _, _ = self._score("W", "test_acc")
        sw, _, _ = self._score("s(W)", "test_acc")
        if np.isnan(ecd):
            return "E_cD was not probed on test_acc."
        parts = []
        for name, value in (("W", w), ("s(W)", sw)):
            if np.isnan(value):
                continue
            word = "beats" if ecd > value else "does not beat"
            parts.append(f"{word} {name} ({ecd:.1f} vs {value:.1f}, {ecd - value:+.1f} points)")
        return (
            f"Test-accuracy R2: E_cD {' and '.join(parts)}; paper (MNIST-HYP): 94.9 vs 74.7 / 81.5."
        )

    def summary(self) -> str:
        """The comparison table, tau of test accuracy, OOD rows, encoders and timings."""
        frame = self.to_frame()
        reps = list(self.representations)
        head = (
            f"Linear probes on {self.zoo}: {self.n_models} models, {self.n_samples} snapshots, "
            f"{self.n_seeds} splits by model 70/15/15; percent (test R2 for numeric targets, "
            f"accuracy for categorical ones), mean over seeds; paper: {HYP_ZOO}"
        )
        widths = [max(8, len(r) + 1) for r in reps]
        lines = [
            head,
            f"{'target':<15}{'metric':<9}"
            + "".join(f"{r:>{w}}" for r, w in zip(reps, widths, strict=True))
            + " | paper W  s(W)  E_cD",
        ]
        for row in frame.to_dict("records"):
            cells = "".join(f"{_pct(row[r]):>{w}}" for r, w in zip(reps, widths, strict=True))
            paper = (
                f"{_pct(row['paper_W']):>8}{_pct(row['paper_s(W)']):>6}{_pct(row['paper_E_cD']):>6}"
            )
            lines.append(f"{row['target']:<15}{row['metric']:<9}{cells} |{paper}")
        taus = ", ".join(
            f"{r} {self._tau(r, 'test_acc')[0]:.3f}"
            for r in reps
            if not np.isnan(self._tau(r, "test_acc")[0])
        )
        if taus:
            lines.append(f"Kendall tau of test_acc (in distribution): {taus}")
        if self.ood is not None and not self.ood.empty:
            lines.append("Out of distribution (Kendall tau of test_acc):")
            for r in self.ood.to_dict("records"):
                lines.append(f"  {r['setting']}: " + ", ".join(
                    f"{rep} {_num(r.get(rep))}" for rep in reps if rep in r
                ) + (f"  | paper {r['paper']}" if r.get("paper") else ""))  # fmt: skip
        lines.append(self.verdict())
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Grouped bars per target and representation, the paper's E_cD / W / s(W) as markers."""
        from matplotlib.figure import Figure

        frame = self.to_frame()
        reps = list(self.representations)
        fig = Figure(figsize=(max(7.0, 1.3 * len(frame) + 3), 4.2), layout="constrained")
        ax = fig.add_subplot()
        x = np.arange(len(frame))
        width = 0.8 / max(1, len(reps))
        for k, rep in enumerate(reps):
            ax.bar(x - 0.4 + (k + 0.5) * width, frame[rep], width, yerr=frame[f"{rep}_std"],
                   capsize=1.5, label=rep)  # fmt: skip
        for col, marker in (("paper_E_cD", "*"), ("paper_W", "v"), ("paper_s(W)", "^")):
            ax.scatter(x, frame[col], marker=marker, color="k", s=40, zorder=3,
                       label=col.replace("_", " "))  # fmt: skip
        ax.set_xticks(x, [f"{t}\n({m})" for t, m in zip(frame["target"], frame["metric"], strict=True)],
                      fontsize=8)  # fmt: skip
        ax.set_ylabel("percent")
        ax.set_ylim(min(0.0, float(np.nanmin(frame[reps].to_numpy(dtype=float), initial=0.0))), 105)
        ax.legend(fontsize=7, ncol=4, loc="lower left")
        ax.set_title(f"Linear probes on {self.zoo} (ours: bars; paper, {HYP_ZOO}: markers)",
                     fontsize=10)  # fmt: skip
        return fig

    def tables(self) -> dict[str, pd.DataFrame]:
        """Kendall tau per continuous target, OOD rows, encoders and wall times."""
        taus = []
        for target in self.targets:
            row: dict[str, object] = {"target": target}
            for rep in self.representations:
                row[rep] = self._tau(rep, target)[0]
            taus.append(row)
        out = {"Kendall tau of the continuous targets (in distribution)": pd.DataFrame(taus)}
        if self.ood is not None and not self.ood.empty:
            out["Out of distribution: Kendall tau of test accuracy"] = self.ood
        out["Encoders"] = self.encoders
        out["Wall times (this run, seconds)"] = self.timings
        return out

    def notes(self) -> list[str]:
        """Choices behind the numbers."""
        return [
            self.verdict(),
            "Rows are snapshots (every kept snapshot of every kept model); splits are by "
            "model; continuous targets by closed-form ridge (penalty from 1e3..1e-5 chosen on the "
            "validation models), categorical ones by a one-vs-rest ridge classifier (the paper: a "
            "linear layer trained with Adam). Ridge predictions are clipped to the range of the "
            "training rows' targets (R^2 of the clipped predictions, Kendall tau of the unclipped "
            "ones): models whose weights exploded (|w| up to 1e4) otherwise get predictions far "
            "outside any accuracy, and R^2 of -70 for W.",
            "The encoders are self-supervised on every model of the zoo (weights only, no labels), "
            "so most probe test models were seen by them, as in the paper; the OOD rows show models "
            "no encoder saw.",
            "W is the flattened weight vector (`raw` at K = the number of weights); s(W) is "
            "`swstats` (7 statistics per layer, biases included; the paper's MNIST-HYP baseline "
            "uses kernels only).",
            *self.remarks,
            *filter_notes(self.filter_report),
        ]


def _pct(value: object) -> str:
    v = float(value) if isinstance(value, int | float) else float("nan")
    return "-" if np.isnan(v) else f"{v:.1f}"


def _num(value: object) -> str:
    v = float(value) if isinstance(value, int | float) else float("nan")
    return "-" if np.isnan(v) else f"{v:.3f}"
