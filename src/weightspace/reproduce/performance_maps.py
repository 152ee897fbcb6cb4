"""NWS Fig. 5 (performance maps) and Fig. 18 (subset size) on a library.

Eilertsen et al. 2020 (sec. 5.3, appendix F.2/F.4):

- **Performance maps** (Fig. 5, Figs. 20-21): a local DMC per hyper-parameter, scored at every
  depth position and training snapshot (:func:`weightspace.probe.performance_map.performance_maps`).
- **Subset size** (Fig. 18): local DMCs trained on windows of 100 to 20,000 weights, the networks'
  pooling adjusted so that their size stays about constant; the paper finds accuracy about linear in
  the logarithm of the window size, with a steeper slope for the activation function than for the
  dataset. :func:`subset_size_study` trains one DMC per target and size on the same splits.
  ``vary="models"`` instead varies the number of training models at a fixed window (a learning
  curve; not in the paper).

Scale: the paper's 5,000-weight window is about 5% of its average model. The default window here is
the same share of the probed models (5% of the median vector length, at most 5,000): 432 weights on
the demo zoo's 8,642-weight CNNs. The subset sizes default to 64, 256, 1,024, ... up to half the
shortest vector (the paper's 100-20,000 span 0.1-20% of its models).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from weightspace.library import Library
from weightspace.probe.common import (
    ProbeError,
    Selection,
    filter_notes,
)
from weightspace.probe.dmc import DMCConfig, evaluate_models, fit_dmc, resolve_device
from weightspace.probe.dmc_data import load_windows, target_with_splits
from weightspace.probe.dmc_result import scores_row
from weightspace.probe.performance_map import PerformanceMapResult, performance_maps
from weightspace.probe.report import ProbeResult, Report
from weightspace.reproduce.papers import NWS_FIG18, with_paper

if TYPE_CHECKING:
    import os

    from matplotlib.figure import Figure

__all__ = [
    "MAP_TARGETS",
    "STUDY_TARGETS",
    "PerformanceMapsReport",
    "SubsetSizeResult",
    "default_window",
    "performance_maps_experiment",
    "subset_size_study",
]

#: Targets of the maps, in the order of NWS Figs. 20-21 (those the library has are used).
MAP_TARGETS: tuple[str, ...] = (
    "dataset", "batch_size", "augmentation", "optimizer", "activation", "init",
    "filter_size", "conv_layers", "fc_layers", "conv_width", "fc_width",
)  # fmt: skip
#: Targets of the subset-size study (Fig. 18 has five; the text names dataset and activation).
STUDY_TARGETS: tuple[str, ...] = ("dataset", "optimizer", "activation", "init", "augmentation")
Vary = Literal["window", "models"]


def default_window(lengths: Sequence[int] | np.ndarray) -> int:
    """The paper's share of a model: 5% of the median vector length, in [64, 5000].

    Examples
    --------
    >>> default_window([8642] * 3), default_window([100_000, 200_000])
    (432, 5000)
    """
    return int(min(5000, max(64, round(0.05 * float(np.median(lengths))))))


def default_sizes(shortest: int) -> list[int]:
    """64, 256, 1024, ... up to half of ``shortest`` (at least one size)."""
    sizes = [64]
    while sizes[-1] * 4 <= shortest // 2:
        sizes.append(sizes[-1] * 4)
    return sizes


@dataclass(frozen=True, eq=False)
class SubsetSizeResult(ProbeResult):
    """Test accuracy of local DMCs against the window size (or the number of training models)."""

    table: pd.DataFrame
    vary: str
    config: DMCConfig
    filter_report: pd.DataFrame | None = None
    device: str = "cpu"

    probe = "subset-size"
    title = "Impact of subset size on DMC performance (NWS Fig. 18)"

    def to_frame(self) -> pd.DataFrame:
        """One row per target and size: accuracy (model and single window) mean and std over
        rounds, chance; ``paper_accuracy`` NaN (lost)."""
        keys = ["target", "size"]
        g = self.table.groupby(keys, sort=False)
        out = g.agg(
            task=("task", "first"),
            n_train=("n_train", "mean"),
            n_test=("n_test", "mean"),
            rounds=("round", "nunique"),
            accuracy_mean=("accuracy", "mean"),
            accuracy_std=("accuracy", "std"),
            window_accuracy_mean=("window_accuracy", "mean"),
            r2_mean=("r2", "mean"),
            window_r2_mean=("window_r2", "mean"),
            chance=("chance", "first"),
            steps=("steps", "first"),
            train_seconds=("train_seconds", "mean"),
        ).reset_index()
        out.insert(1, "vary", self.vary)
        out["paper_accuracy"] = float("nan")
        return out

    def slopes(self) -> pd.DataFrame:
        """Per target: least-squares slope of the window accuracy (R^2) per decade of size."""
        rows = []
        for target, part in self.to_frame().groupby("target", sort=False):
            y = part["window_accuracy_mean"].where(
                part["task"] == "classification", part["window_r2_mean"]
            )
            x = np.log10(part["size"].to_numpy(dtype=np.float64))
            ok = np.isfinite(y.to_numpy(dtype=np.float64))
            slope = float(np.polyfit(x[ok], y[ok], 1)[0]) if ok.sum() >= 2 else float("nan")
            rows.append({"target": target, "slope_per_decade": slope})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Accuracy per size and target, the slopes, the paper's finding."""
        frame = self.to_frame()
        what = "window size W" if self.vary == "window" else "training models"
        lines = [
            f"Subset size (NWS Fig. 18): local DMC accuracy against the {what}; "
            f"{int(frame['steps'].iloc[0]) if len(frame) else 0} steps each, device {self.device}",
            "model accuracy (windows averaged) / single-window accuracy per size",
        ]
        sizes = list(dict.fromkeys(frame["size"]))
        head = "".join(f"{s:>12}" for s in sizes)
        lines.append(f"{'target (chance)':<22}{head}{'slope/decade':>14}")
        slopes = self.slopes().set_index("target")["slope_per_decade"]
        for target, part in frame.groupby("target", sort=False):
            cells = part.set_index("size")
            row = []
            for s in sizes:
                if s not in cells.index:
                    text = "-"
                elif cells.loc[s, "task"] == "classification":
                    model, window = (
                        cells.loc[s, "accuracy_mean"],
                        cells.loc[s, "window_accuracy_mean"],
                    )
                    text = f"{model:.2f}/{window:.2f}"
                else:
                    text = f"R2 {cells.loc[s, 'window_r2_mean']:.2f}"
                row.append(f"{text:>12}")
            name = f"{target} ({float(part['chance'].iloc[0]):.2f})"
            lines.append(f"{name:<22}{''.join(row)}{slopes[target]:>14.3f}")
        if self.vary == "window":
            lines.append(f"paper: {NWS_FIG18} (values lost in the text)")
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Accuracy against size (log axis), one line per target, chance dashed (Fig. 18)."""
        from matplotlib.figure import Figure

        frame = self.to_frame()
        fig = Figure(figsize=(6.0, 4.0), layout="constrained")
        ax = fig.add_subplot()
        for i, (target, part) in enumerate(frame.groupby("target", sort=False)):
            color = f"C{i}"
            y = (
                part["window_accuracy_mean"]
                if part["task"].iloc[0] == "classification"
                else part["window_r2_mean"]
            )
            ax.plot(part["size"], y, "o-", color=color, label=target)
            ax.plot(part["size"], part["accuracy_mean"], "s:", color=color, alpha=0.6, ms=3)
            ax.axhline(float(part["chance"].iloc[0]), color=color, ls="--", lw=0.8, alpha=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("subset size W (weights)" if self.vary == "window" else "training models")
        ax.set_ylabel("test accuracy (lines: one window; dotted: averaged)")
        ax.set_title("Impact of subset size on DMC performance; dashed: chance", fontsize=9)
        ax.legend(fontsize=7)
        return fig

    def figures(self) -> dict[str, Figure]:
        """``fig18``: :meth:`plot`."""
        return {"fig18": self.plot()}

    def notes(self) -> list[str]:
        """Choices behind the numbers."""
        out = [
            "One DMC per target and size on the same splits by model; pooling adapts to the size "
            "(appendix F.2) so the networks stay about equally large.",
            "Slope: least-squares fit of the single-window accuracy on log10(size).",
        ]
        return out + filter_notes(self.filter_report)


def subset_size_study(
    lib: Library,
    targets: str | Sequence[str] = STUDY_TARGETS,
    config: DMCConfig = DMCConfig(steps=1000),  # noqa: B008
    *,
    selection: Selection = Selection(),  # noqa: B008
    sizes: Sequence[int] | None = None,
    vary: Vary = "window",
    window: int | None = None,
    region: str = "all",
    train_snapshots: Sequence[int] = (-1, -2),
    test_snapshot: int = -1,
    n_splits: int = 5,
    rounds: int = 1,
    balance: bool = True,
    random_state: int = 0,
    progress: bool = False,
) -> SubsetSizeResult:
    """Train local DMCs at several window sizes (or training-set sizes); see the module notes.

    Parameters
    ----------
    lib : Library
    targets : str or sequence of str, default=STUDY_TARGETS
    config : DMCConfig, default=DMCConfig(steps=1000)
        The local DMCs and their training; its window is replaced by each size (``vary="window"``)
        or by ``window``.
    selection : Selection, default=Selection()
        The models probed (failure filter, ``where``, ``ids``).
    sizes : sequence of int, optional
        Window sizes (``vary="window"``; default :func:`default_sizes`) or numbers of training
        models (``vary="models"``; default 8, 16, 32, ... up to the training fold).
    vary : {"window", "models"}, default="window"
    window : int, optional
        The window for ``vary="models"`` (default :func:`default_window`).
    region, train_snapshots, n_splits, rounds, balance, random_state, progress
        As :func:`~weightspace.probe.dmc.dmc_probe`.
    test_snapshot : int, default=-1
    """
    if vary not in ("window", "models"):
        raise ProbeError(f"vary must be 'window' or 'models'; got {vary!r}")
    names = [targets] if isinstance(targets, str) else list(targets)
    models, report = selection.models(lib)
    data = load_windows(lib, models, region)
    shortest = int(data.lengths.min())
    fixed = window if window is not None else default_window(data.lengths)
    if sizes is None and vary == "window":
        sizes = default_sizes(shortest)
    chosen = sorted({int(s) for s in sizes}) if sizes is not None else None
    if chosen is not None and (not chosen or chosen[0] < 1):
        raise ProbeError(f"sizes must be positive integers; got {sizes}")
    if vary == "window" and chosen is not None:
        data.check_window(chosen[-1])
    base = replace(config, kind="local", window=fixed)
    base.check()
    rng = np.random.default_rng(random_state)
    rows: list[dict[str, Any]] = []
    for name in names:
        td, splits = target_with_splits(
            models, name, rng, n_splits=n_splits, rounds=rounds, balance=balance
        )
        for r, (tr, te) in enumerate(splits):
            for size in _sizes(chosen, vary, len(tr)):
                if vary == "window":
                    config, train = replace(base, window=size), tr
                else:
                    config, train = base, _subsample(tr, td.y, size, td.task, rng)
                trained = fit_dmc(
                    data,
                    td.rows[train],
                    td.y[train],
                    train_snapshots,
                    config,
                    task=td.task,
                    n_outputs=td.n_outputs,
                    random_state=rng,
                    progress=progress,
                    desc=f"{name} size {size}",
                )
                out = evaluate_models(trained, data, td.rows[te], test_snapshot, base.eval_windows)
                scores, _ = scores_row(out, td.y[te], td.task)
                info = {"target": td.target, "task": td.task, "size": size, "round": r}
                counts = {"n_train": len(train), "n_test": len(te), "chance": td.chance}
                cost = {"steps": trained.steps, "train_seconds": trained.seconds}
                rows.append(info | counts | scores | cost)
    device = str(resolve_device(base.device))
    return SubsetSizeResult(pd.DataFrame(rows), vary, base, report, device)


def _sizes(chosen: list[int] | None, vary: str, n_train: int) -> list[int]:
    """The sizes of one split: as given (training-set sizes capped at the fold), or by default
    8, 16, 32, ... training models and the whole fold."""
    if vary == "window":
        assert chosen is not None
        return chosen
    if chosen is None:
        return [s for s in (8 * 2**k for k in range(30)) if s < n_train] + [n_train]
    return [s for s in chosen if s <= n_train]


def _subsample(
    train: np.ndarray, y: np.ndarray, size: int, task: str, rng: np.random.Generator
) -> np.ndarray:
    """``size`` models of the training fold, as many of each class as possible (classification)."""
    if size >= len(train):
        return train
    if task != "classification":
        return np.sort(rng.choice(train, size, replace=False))
    classes = np.unique(y[train])
    per, extra = divmod(size, len(classes))
    chosen = []
    for i, c in enumerate(rng.permutation(classes)):
        pool = train[y[train] == c]
        chosen.append(rng.choice(pool, min(len(pool), per + (i < extra)), replace=False))
    return np.sort(np.concatenate(chosen))


@dataclass(frozen=True, eq=False)
class PerformanceMapsReport(ProbeResult):
    """``weightspace reproduce performance-maps``: the maps (Fig. 5) and the subset-size study."""

    maps: PerformanceMapResult
    subset: SubsetSizeResult | None
    seconds: float
    remarks: tuple[str, ...] = field(default_factory=tuple)

    probe = "performance-maps"
    title = "Performance maps (NWS Fig. 5) and subset size (NWS Fig. 18)"

    def to_frame(self) -> pd.DataFrame:
        """The maps' table (one row per map; see :meth:`PerformanceMapResult.to_frame`)."""
        return self.maps.to_frame()

    def summary(self) -> str:
        """Both parts' summaries and the total time."""
        parts = [self.maps.summary()]
        if self.subset is not None:
            parts.append(self.subset.summary())
        parts.append(f"total time {self.seconds:.0f} s")
        return "\n\n".join(parts)

    def plot(self) -> Figure:
        """All maps (:meth:`PerformanceMapResult.plot`)."""
        return self.maps.plot()

    def figures(self) -> dict[str, Figure]:
        """The maps' figures and ``fig18``."""
        out = self.maps.figures()
        if self.subset is not None:
            out.update(self.subset.figures())
        return out

    def tables(self) -> dict[str, pd.DataFrame]:
        """The subset-size table."""
        if self.subset is None:
            return {}
        return {"Subset size (NWS Fig. 18)": self.subset.to_frame()}

    def notes(self) -> list[str]:
        """The maps' and the study's notes."""
        out = self.maps.notes() + list(self.remarks)
        extra = self.subset.notes() if self.subset is not None else []
        return out + [n for n in extra if n not in out]

    def write_report(self, out_dir: str | os.PathLike[str], *, stem: str | None = None) -> Report:
        """The Markdown report, plus ``STEM-grid.csv`` (every map cell) and
        ``STEM-subset-size.csv``."""
        report = super().write_report(out_dir, stem=stem)
        stem = stem or self.probe
        self.maps.grids().to_csv(Path(out_dir) / f"{stem}-grid.csv", index=False)
        if self.subset is not None:
            self.subset.to_frame().to_csv(Path(out_dir) / f"{stem}-subset-size.csv", index=False)
        return report


def performance_maps_experiment(
    lib: Library,
    config: DMCConfig = DMCConfig(),  # noqa: B008
    *,
    selection: Selection = Selection(),  # noqa: B008
    targets: Sequence[str] | None = None,
    regions: Sequence[str] = ("all",),
    window: int | None = None,
    depth_bins: int = 20,
    windows_per_cell: int = 4,
    study: bool = True,
    study_targets: Sequence[str] | None = None,
    study_sizes: Sequence[int] | None = None,
    study_steps: int = 1000,
    vary: Vary = "window",
    n_splits: int = 5,
    rounds: int = 1,
    random_state: int = 0,
    progress: bool = False,
) -> PerformanceMapsReport:
    """Performance maps of every target the library has, then the subset-size study.

    Parameters
    ----------
    lib : Library
    config : DMCConfig, default=DMCConfig()
        The local DMCs and their training (steps, epochs, width, device, ...); its window is
        replaced by ``window``.
    selection : Selection, default=Selection()
        The models probed (failure filter, ``where``, ``ids``).
    targets : sequence of str, optional
        Default: the :data:`MAP_TARGETS` with at least two classes of ``n_splits``+ models.
    regions : sequence of {"all", "conv", "fc"}, default=("all",)
    window : int, optional
        Default :func:`default_window` (5% of the median vector, at most 5,000).
    depth_bins, windows_per_cell
        Of the maps (:func:`~weightspace.probe.performance_map.performance_maps`).
    study : bool, default=True
        Run the subset-size study.
    study_targets, study_sizes, study_steps, vary
        Of the study (:func:`subset_size_study`; targets default to the :data:`STUDY_TARGETS` the
        maps have; its DMCs train ``study_steps`` steps, or ``config.epochs`` epochs).
    n_splits, rounds, random_state, progress
        As :func:`~weightspace.probe.dmc.dmc_probe`.
    """
    began = time.perf_counter()
    models, _ = selection.models(lib)
    if targets is None:
        targets = [t for t in MAP_TARGETS if _usable(models, t, n_splits)]
        if not targets:
            raise ProbeError(
                f"none of the columns {', '.join(MAP_TARGETS)} has two classes with {n_splits}+ "
                "models; name targets with --target"
            )
    window_given = window is not None
    if window is None:
        window = default_window(models["n_params"].to_numpy(dtype=np.int64))
    common: dict[str, Any] = {
        "selection": selection, "n_splits": n_splits, "rounds": rounds,
        "random_state": random_state, "progress": progress,
    }  # fmt: skip
    maps = with_paper(performance_maps(
        lib, targets, replace(config, kind="local", window=window), regions=regions,
        depth_bins=depth_bins, windows_per_cell=windows_per_cell, **common,
    ))  # fmt: skip
    subset = None
    if study:
        chosen = (
            list(study_targets)
            if study_targets is not None
            else [t for t in STUDY_TARGETS if t in targets]
        )
        if chosen:
            subset = subset_size_study(
                lib,
                chosen,
                replace(config, steps=study_steps),
                sizes=study_sizes,
                vary=vary,
                window=window,
                **common,
            )
    median = int(models["n_params"].median())
    how = "given" if window_given else f"5% of the median model of {median} weights"
    scored = min(m.n_scored for m in maps.maps)
    remarks = (
        f"Window W = {window} weights ({how}); the paper's 5,000 is about 5% of its average model.",
        f"{len(models)} models pass the failure filter; each map is scored on {scored}+ test "
        f"models (about {1 / n_splits:.0%} of a target's balanced models per round). The paper's "
        "local DMCs learn from 8,035 models (16,070 snapshots) and are tested on thousands, so "
        "these accuracies are lower and noisier: a cell at p = 0.5 from "
        f"{scored} models has a standard deviation of about {np.sqrt(0.25 / scored):.2f}.",
        "A map row at initialization can be above chance only through the target's correlation "
        "with the initialization among the kept models (failed trainings are removed).",
    )
    return PerformanceMapsReport(maps, subset, time.perf_counter() - began, remarks)


def _usable(models: pd.DataFrame, target: str, n_splits: int) -> bool:
    if target not in models.columns:
        return False
    counts = models[target].dropna().astype(str).value_counts()
    return int((counts >= n_splits).sum()) >= 2
