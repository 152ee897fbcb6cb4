"""The result of the accuracy-prediction benchmark: tables, figures, summary and report."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weightspace.probe.report import ProbeResult, Report
from weightspace.reproduce.papers import ACCURACY_PREDICTION

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["AccuracyPredictionResult", "published_table"]


def published_table() -> pd.DataFrame:
    """The published numbers (:data:`weightspace.reproduce.papers.ACCURACY_PREDICTION`)."""
    return pd.DataFrame(
        [
            {"paper": p.paper, "method": p.method, "zoo": p.zoo, "metric": p.metric,
             "value": p.value, "note": p.note}
            for p in ACCURACY_PREDICTION
        ]
    )  # fmt: skip


def _mean_std(values: pd.Series) -> tuple[float, float]:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=0))


@dataclass(frozen=True, eq=False)
class AccuracyPredictionResult(ProbeResult):
    """Every fit of the benchmark and its summary per method.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per zoo, method and seed: test ``kendall_tau`` and ``r2``, split sizes, fit time
        (wall and CPU seconds), the selected hyper-parameter, ``tau_<dataset>`` per dataset.
    ood : pandas.DataFrame
        One row per method, seed and (training dataset, test dataset) pair.
    predictions : pandas.DataFrame
        The test predictions of every in-distribution fit.
    costs : pandas.DataFrame
        Wall and CPU seconds of computing each representation (or the NFN inputs) of a zoo.
    skipped : pandas.DataFrame
        Methods that could not run on a zoo, and why.
    zoos : tuple of str
    settings : dict
    """

    runs: pd.DataFrame
    ood: pd.DataFrame
    predictions: pd.DataFrame
    costs: pd.DataFrame
    skipped: pd.DataFrame
    zoos: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    probe = "accuracy-prediction"
    title = "Predicting test accuracy from weights: ranking benchmark (NFN protocol)"

    def to_frame(self) -> pd.DataFrame:
        """One row per zoo and method: mean and std over seeds of test tau and R^2, the cost."""
        if self.runs.empty:
            return pd.DataFrame(columns=["zoo", "method", "kendall_tau", "r2"])
        rows = []
        for (zoo, method), part in self.runs.groupby(["zoo", "method"], sort=False):
            first = part.iloc[0]
            tau, tau_sd = _mean_std(part["kendall_tau"])
            rsq, rsq_sd = _mean_std(part["r2"])
            key = "nfn" if str(first["model"]).startswith("nfn") else first["representation"]
            feat = self.costs[(self.costs["zoo"] == zoo) & (self.costs["features"] == key)]
            feat_wall = float(feat["wall_s"].sum()) if not feat.empty else 0.0
            feat_cpu = float(feat["cpu_s"].sum()) if not feat.empty else 0.0
            fit_wall = float(part["fit_wall_s"].mean())
            fit_cpu = float(part["fit_cpu_s"].mean())
            row: dict[str, Any] = {
                "zoo": zoo, "method": method, "family": first["family"],
                "representation": first["representation"], "model": first["model"],
                "kendall_tau": tau, "kendall_tau_std": tau_sd, "r2": rsq, "r2_std": rsq_sd,
                "n_seeds": len(part), "n_train": int(first["n_train"]),
                "n_val": int(first["n_val"]), "n_test": int(first["n_test"]),
                "features_wall_s": feat_wall, "fit_wall_s": fit_wall,
                "total_wall_s": feat_wall + fit_wall, "features_cpu_s": feat_cpu,
                "fit_cpu_s": fit_cpu, "total_cpu_s": feat_cpu + fit_cpu,
            }  # fmt: skip
            for column in sorted(c for c in part.columns if c.startswith("tau_")):
                row[column] = _mean_std(part[column])[0]
            rows.append(row)
        frame = pd.DataFrame(rows)
        return frame.sort_values(
            ["zoo", "kendall_tau"], ascending=[True, False], kind="stable"
        ).reset_index(drop=True)

    def ood_frame(self) -> pd.DataFrame:
        """Out of distribution: mean test tau over seeds per method and dataset pair."""
        if self.ood.empty:
            return pd.DataFrame()
        keys = ["method", "family", "train_dataset", "test_dataset"]
        return (
            self.ood.groupby(keys, sort=False)
            .agg(kendall_tau=("kendall_tau", "mean"), r2=("r2", "mean"), n_test=("n_test", "first"))
            .reset_index()
        )

    def goal(self) -> list[str]:
        """Per zoo: the best of ours against NFN-HNP (tau and cost), by how much either way."""
        frame = self.to_frame()
        lines = []
        for zoo, part in frame.groupby("zoo", sort=False):
            ours = part[part["family"] == "ours"]
            hnp = part[part["method"] == "nfn-hnp"]
            if ours.empty:
                continue
            best = ours.iloc[0]
            if hnp.empty:
                lines.append(f"{zoo}: best of ours {best['method']} tau {best['kendall_tau']:.3f}; "
                             "NFN-HNP did not run (see the skipped methods)")  # fmt: skip
                continue
            peer = hnp.iloc[0]
            diff = float(best["kendall_tau"] - peer["kendall_tau"])
            verdict = "better than" if diff > 0 else "not better than"
            ratio = float(best["total_cpu_s"]) / max(float(peer["total_cpu_s"]), 1e-9)
            lines.append(
                f"{zoo}: best of ours {best['method']} tau {best['kendall_tau']:.3f} "
                f"(+-{best['kendall_tau_std']:.3f}) is {verdict} NFN-HNP "
                f"{peer['kendall_tau']:.3f} (+-{peer['kendall_tau_std']:.3f}) by {diff:+.3f}, "
                f"at {100 * ratio:.1f}% of its CPU time ({best['total_cpu_s']:.2f} s vs "
                f"{peer['total_cpu_s']:.2f} s per seed, features included)"
            )
        return lines

    def summary(self) -> str:
        """Ours beside the published Small CNN Zoo numbers (another zoo), the goal, OOD."""
        seeds = self.settings.get("seeds", [])
        lines = [
            "Predicting test accuracy from weights (NFN protocol: final checkpoints, 50% test, "
            f"the rest 80/20 train/validation; seeds {seeds}); test Kendall tau and R^2, "
            "mean +- std over seeds",
            *self.zoos,
            "",
            f"{'method':<20}{'tau':>7} {'+-':>6} {'R^2':>7}  {'CPU s/seed':>10} {'wall s':>8}",
        ]
        frame = self.to_frame()
        for zoo, part in frame.groupby("zoo", sort=False):
            if len(self.zoos) > 1:
                lines.append(f"[{zoo}]")
            for r in part.to_dict("records"):
                lines.append(
                    f"{r['method']:<20}{r['kendall_tau']:>7.3f} {r['kendall_tau_std']:>6.3f} "
                    f"{r['r2']:>7.3f}  {r['total_cpu_s']:>10.2f} {r['total_wall_s']:>8.2f}"
                )
        lines += ["", "Goal (our best vs NFN-HNP on the same splits):", *self.goal()]
        lines += ["", "PUBLISHED, ANOTHER ZOO (Small CNN Zoo; not our zoos, not comparable "
                      "row by row):"]  # fmt: skip
        for p in ACCURACY_PREDICTION:
            metric = "tau" if p.metric == "kendall_tau" else "R^2"
            lines.append(f"  {p.method:<38}{p.zoo:<28}{metric} {p.value:.3f}  ({p.paper})")
        ood = self.ood_frame()
        if not ood.empty:
            lines += ["", "Out of distribution (fit on one dataset's zoo, rank another's), "
                          "mean tau over dataset pairs:"]  # fmt: skip
            means = (
                ood.groupby("method", sort=False)["kendall_tau"].mean().sort_values(ascending=False)
            )
            lines += [f"  {m:<20}{v:>7.3f}" for m, v in means.items()]
        if not self.skipped.empty:
            lines += ["", "Not run:"]
            for r in self.skipped.drop_duplicates(["zoo", "reason"]).to_dict("records"):
                lines.append(f"  {r['method']} on {r['zoo']}: {r['reason']}")
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Test tau per method (mean and std over seeds), ours and the peer NFNs."""
        from matplotlib.figure import Figure

        frame = self.to_frame()
        zoos = list(dict.fromkeys(frame["zoo"])) or [""]
        fig = Figure(figsize=(7.5, 0.35 * max(len(frame), 4) + 1.5))
        axes = fig.subplots(len(zoos), 1, squeeze=False)[:, 0]
        for ax, zoo in zip(axes, zoos, strict=True):
            part = frame[frame["zoo"] == zoo].iloc[::-1]
            colors = ["tab:orange" if f == "peer" else "tab:blue" for f in part["family"]]
            ax.barh(part["method"], part["kendall_tau"], xerr=part["kendall_tau_std"],
                    color=colors)  # fmt: skip
            ax.set_xlabel("test Kendall tau (mean +- std over seeds)")
            ax.set_title(os.path.basename(str(zoo)) or "zoo", fontsize=9)
            ax.set_xlim(min(0.0, float(np.nanmin(part["kendall_tau"])) - 0.05), 1.0)
        fig.tight_layout()
        return fig

    def scatter(self) -> Figure:
        """Predicted against true test accuracy: our best method and NFN-HNP, first seed."""
        from matplotlib.figure import Figure

        frame = self.to_frame()
        fig = Figure(figsize=(8, 3.8))
        axes = fig.subplots(1, 2)
        ours = frame[frame["family"] == "ours"]
        picks = [ours.iloc[0]["method"] if not ours.empty else None, "nfn-hnp"]
        seed = self.settings.get("seeds", [0])[0]
        for ax, method in zip(axes, picks, strict=True):
            part = self.predictions[
                (self.predictions["method"] == method) & (self.predictions["seed"] == seed)
            ] if not self.predictions.empty else pd.DataFrame()  # fmt: skip
            if part.empty:
                ax.set_axis_off()
                continue
            for name, group in part.groupby("dataset"):
                ax.scatter(group["true"], group["predicted"], s=10, label=str(name))
            lo, hi = float(part["true"].min()), float(part["true"].max())
            ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
            ax.set_xlabel("true test accuracy")
            ax.set_ylabel("predicted")
            ax.set_title(f"{method} (seed {seed})", fontsize=9)
            ax.legend(fontsize=7)
        fig.tight_layout()
        return fig

    def ood_heatmap(self) -> Figure | None:
        """Tau of our best in-distribution method per (training, test) dataset pair."""
        ood = self.ood_frame()
        frame = self.to_frame()
        ours = frame[frame["family"] == "ours"]
        if ood.empty or ours.empty:
            return None
        from matplotlib.figure import Figure

        method = str(ours.iloc[0]["method"])
        part = ood[ood["method"] == method]
        if part.empty:
            return None
        table = part.pivot_table(index="train_dataset", columns="test_dataset",
                                 values="kendall_tau")  # fmt: skip
        fig = Figure(figsize=(5, 4))
        ax = fig.subplots()
        image = ax.imshow(table.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu")
        ax.set_xticks(range(len(table.columns)), [str(c) for c in table.columns], rotation=30)
        ax.set_yticks(range(len(table.index)), [str(i) for i in table.index])
        for (i, j), value in np.ndenumerate(table.to_numpy(dtype=float)):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
        ax.set_xlabel("ranked (test) dataset")
        ax.set_ylabel("fitted on")
        ax.set_title(f"out of distribution: {method}", fontsize=9)
        fig.colorbar(image, ax=ax, label="Kendall tau")
        fig.tight_layout()
        return fig

    def figures(self) -> dict[str, Figure]:
        """``tau`` (main), ``scatter`` and, with OOD rows, ``ood``."""
        out = {"tau": self.plot(), "scatter": self.scatter()}
        heat = self.ood_heatmap()
        if heat is not None:
            out["ood"] = heat
        return out

    def tables(self) -> dict[str, pd.DataFrame]:
        """Published numbers, OOD pairs, per-seed runs, feature costs, skipped methods."""
        out = {"Published numbers (another zoo: the Small CNN Zoo)": published_table()}
        if not self.ood.empty:
            out["Out of distribution: mean over seeds per dataset pair"] = self.ood_frame()
        out["Every fit (one row per seed)"] = self.runs
        if not self.costs.empty:
            out["Cost of the inputs (representations, NFN conversion), whole zoo"] = self.costs
        if not self.skipped.empty:
            out["Not run, and why"] = self.skipped
        return out

    def notes(self) -> list[str]:
        """Protocol, what the peers are, what was changed."""
        return [
            "Split (NFN protocol): per seed the models are shuffled; the second half is the "
            "test split, the first half is cut 80/20 into training and validation models. "
            "Unlike the NFN code (one fixed split, seeds only for the model), the seed also "
            "draws the split, so the spread includes the split's.",
            "Model selection on the validation models' Kendall tau (NFN's test_metric=tau): "
            "ridge penalty (1e-6..1e5), number of boosting iterations (<= 200, learning rate 0.1), MLP/NFN epoch "
            "(of 50). Features standardized with the training models' mean and std.",
            "StatNN = an MLP (2 x 1,000 ReLU, sigmoid output, BCE, Adam 1e-3, batch 8, 50 epochs) "
            "on the 'unterthiner' statistics (nfn's StatFeaturizer: per tensor mean, unbiased "
            "variance, 0/25/50/75/100 percentiles); nfn's StatNet reads them unstandardized.",
            "NFN-NP / NFN-HNP: nfn's NPLinear (with input/output position embeddings and "
            "per-weight normalization) / HNPLinear layers of 16, 16, 5 channels, HNP pooling, "
            "MLP head (2 x 1,000), sigmoid + BCE, Adam 1e-3, batch 8, 50 epochs, as the authors' "
            "predict_gen configs; run on the CPU. Changed: a linear layer after a flatten is read "
            "as a convolution over the flattened positions, and batch norm is "
            + (
                "IGNORED (a control: the NFN reads the kernels and biases as stored, not the "
                "network's function)."
                if self.settings.get("nfn_batch_norm") == "ignore"
                else "folded into the weights (exact in evaluation mode; NWS order: "
                "conv-BN-activation, linear-activation-BN), so that the NWS CNNs are plain "
                "chains an NFN reads."
            ),
            f"Settings replaced: {self.settings.get('model_params') or 'none (published)'}.",
            *(
                [f"Representation parameters: {self.settings['representation_params']}."]
                if self.settings.get("representation_params")
                else []
            ),
            "Our predictions are clipped to the range of the training models' accuracies: R^2 is "
            "of the clipped predictions, Kendall tau of the unclipped scores (clipping only ties "
            "models); the NFN peers are left unclipped, as published.",
            "Cost: CPU seconds (process time) of computing the zoo's inputs plus one seed's fit "
            "and model selection; wall seconds on a shared machine are shown too.",
            "Out of distribution: fitted on 80% of one dataset's models (20% validation), "
            "ranking all models of another dataset; "
            + ("the NFNs too." if self.settings.get("ood_peers") else "without the NFNs "
               "(--ood-peers adds them)."),
        ]  # fmt: skip

    def write_report(self, out_dir: str | os.PathLike[str], *, stem: str | None = None) -> Report:
        """The Markdown report, plus ``STEM-runs.csv``, ``-ood.csv`` and ``-predictions.csv``."""
        report = super().write_report(out_dir, stem=stem)
        base = report.table.with_suffix("")
        self.runs.to_csv(f"{base}-runs.csv", index=False)
        if not self.ood.empty:
            self.ood.to_csv(f"{base}-ood.csv", index=False)
        if not self.predictions.empty:
            self.predictions.to_csv(f"{base}-predictions.csv", index=False)
        return report
