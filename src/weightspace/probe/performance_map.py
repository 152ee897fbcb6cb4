"""Performance maps: a local DMC's test accuracy by depth in the network and by training progress.

NWS (Eilertsen et al. 2020, sec. 5.3, Fig. 5 and appendix F.4, Figs. 20-21) evaluates a local
deep meta-classifier on windows taken at every position of the weight vector and from every
training snapshot; the accuracies form a 2-D map with the network depth on the x-axis (0%: the
first weights of the conv layers, 100%: the last weights of the FC layers) and the training
progress on the y-axis (0%: initialization, at the top; 100%: the converged model, at the bottom).

Here a local DMC (:mod:`weightspace.probe.dmc`) is trained on random windows from all snapshots
of the training models (so that it knows every stage of training), then scored on the test models
(split by model) in a grid of ``depth_bins`` x snapshots: a cell averages ``windows_per_cell``
windows at evenly spaced positions inside its depth bin, for every test model. Depth is the
window's start relative to the valid starts of its region (0: the first ``W`` weights, 1: the last
``W``). Models with more snapshots than the fewest in the selection are read at the nearest
relative snapshot. With ``rounds`` > 1 the rounds' test folds are pooled (cross-fitting), so every
model can be scored once. For a regression target (``lr``) the cells hold R^2.

When all probed models share one architecture, the layer boundaries are drawn on the map (the
paper cannot: its models differ).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weightspace.library import Library
from weightspace.probe.common import ProbeError, Selection, filter_notes
from weightspace.probe.dmc import DMCConfig, TrainedDMC, fit_dmc, resolve_device
from weightspace.probe.dmc_data import (
    TargetData,
    Task,
    WindowData,
    load_windows,
    region_spans,
    target_with_splits,
)
from weightspace.probe.dmc_models import DMCArchitecture
from weightspace.probe.dmc_result import r2_score
from weightspace.probe.report import ProbeResult, Reference

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PerformanceMap", "PerformanceMapResult", "performance_maps"]


@dataclass(frozen=True, eq=False)
class PerformanceMap:
    """One map: scores in a grid of training snapshots (rows) x depth bins (columns)."""

    target: str
    region: str
    task: str
    grid: np.ndarray
    progress: np.ndarray
    depth_edges: np.ndarray
    chance: float
    classes: tuple[str, ...]
    n_models: int
    n_scored: int
    window: int
    rounds: int
    steps: int
    train_seconds: float
    eval_seconds: float
    architecture: DMCArchitecture
    model_score: float
    layer_marks: tuple[tuple[str, float], ...] = ()
    fc_depth: float | None = None

    @property
    def metric(self) -> str:
        """``accuracy`` or ``R2``."""
        return "accuracy" if self.task == "classification" else "R2"

    @property
    def label(self) -> str:
        """``target (region weights)``."""
        return f"{self.target} ({self.region} weights)"

    def depth_profile(self, snapshot: int = -1) -> np.ndarray:
        """Scores along depth at one grid snapshot (default: the last)."""
        return np.asarray(self.grid[snapshot])

    def best_depth(self, snapshot: int = -1) -> tuple[float, float, float]:
        """``(lo, hi, score)`` of the best depth bin at one snapshot."""
        profile = self.depth_profile(snapshot)
        b = int(np.nanargmax(profile))
        return float(self.depth_edges[b]), float(self.depth_edges[b + 1]), float(profile[b])

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per cell (snapshot, progress, depth_lo, depth_hi, score)."""
        rows, cols = np.meshgrid(
            np.arange(self.grid.shape[0]), np.arange(self.grid.shape[1]), indexing="ij"
        )
        s, b = rows.ravel(), cols.ravel()
        return pd.DataFrame(
            {
                "target": self.target,
                "region": self.region,
                "metric": self.metric,
                "snapshot": s,
                "progress": self.progress[s],
                "depth_lo": self.depth_edges[b],
                "depth_hi": self.depth_edges[b + 1],
                "score": self.grid.ravel(),
                "chance": self.chance,
            }
        )

    def draw(self, ax: Axes) -> Any:
        """Draw the heat map on ``ax`` (depth across, progress down); return the image."""
        image = ax.imshow(
            self.grid, aspect="auto", cmap="viridis", interpolation="nearest",
            extent=(0.0, 100.0, 100.0 * self.progress[-1], 100.0 * self.progress[0]),
        )  # fmt: skip
        top = 100 * self.progress[0]
        for name, depth in self.layer_marks:
            ax.axvline(100 * depth, color="w", lw=0.6, alpha=0.6)
            ax.text(100 * depth, top, f" {name}", color="w", fontsize=6, rotation=90, va="top")
        ax.set_xlabel("depth: window position in the weight vector (%)")
        ax.set_ylabel("training progress (%)")
        ax.set_title(
            f"{self.label}: model {self.metric} {self.model_score:.2f}, chance {self.chance:.2f}",
            fontsize=9,
        )
        return image

    def figure(self) -> Figure:
        """The map alone, with its colour bar."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.6, 4.2), layout="constrained")
        ax = fig.add_subplot()
        fig.colorbar(self.draw(ax), ax=ax, label=f"test {self.metric} (windows)")
        return fig

    def summary_line(self, reading: str | None = None) -> str:
        """The map in one line, and below it ``reading``: a paper's reading of its map."""
        lo, hi, best = self.best_depth()
        g = self.grid
        text = (
            f"{self.label:<26} {self.metric} {np.nanmin(g):.2f}-{np.nanmax(g):.2f} (chance "
            f"{self.chance:.2f}); first snapshot {np.nanmean(g[0]):.2f}, last "
            f"{np.nanmean(g[-1]):.2f}; best depth at the end {100 * lo:.0f}-{100 * hi:.0f}% "
            f"({best:.2f}); model {self.metric} {self.model_score:.2f}"
        )
        parts = self.part_means()
        if parts is not None:
            text += f"; at the end conv part {parts[0]:.2f}, FC part {parts[1]:.2f}"
        return text + (f"\n{'':<26} paper: {reading}" if reading else "")

    def part_means(self, snapshot: int = -1) -> tuple[float, float] | None:
        """Mean score of the depth bins before and after the conv/FC boundary (None when the
        map has no single boundary: several architectures, or a conv-only/FC-only region)."""
        if self.fc_depth is None:
            return None
        centers = (self.depth_edges[:-1] + self.depth_edges[1:]) / 2
        profile = self.depth_profile(snapshot)
        conv, fc = profile[centers < self.fc_depth], profile[centers >= self.fc_depth]
        if not conv.size or not fc.size:
            return None
        return float(np.nanmean(conv)), float(np.nanmean(fc))


@dataclass(frozen=True, eq=False)
class PerformanceMapResult(ProbeResult):
    """Performance maps of several targets (and regions): NWS Fig. 5."""

    maps: tuple[PerformanceMap, ...]
    config: DMCConfig
    windows_per_cell: int
    filter_report: pd.DataFrame | None = None
    device: str = "cpu"
    remarks: tuple[str, ...] = field(default_factory=tuple)
    #: Published readings: ``words`` by target (a paper's reading of its map), ``values`` by
    #: ``(target, region)`` (``paper_score``), ``texts["summary"]`` (the summary's last line).
    reference: Reference | None = None

    probe = "performance-maps"
    title = "Performance maps of local deep meta-classifiers (NWS Fig. 5)"

    def to_frame(self) -> pd.DataFrame:
        """One row per map: range, start and end means, best depth, model score, chance (and with
        a reference ``paper_score``)."""
        rows = []
        for m in self.maps:
            lo, hi, best = m.best_depth()
            conv, fc = m.part_means() or (float("nan"), float("nan"))
            rows.append(
                {
                    "target": m.target,
                    "region": m.region,
                    "metric": m.metric,
                    "window": m.window,
                    "n_models": m.n_models,
                    "n_scored": m.n_scored,
                    "chance": m.chance,
                    "min": float(np.nanmin(m.grid)),
                    "max": float(np.nanmax(m.grid)),
                    "first_snapshot_mean": float(np.nanmean(m.grid[0])),
                    "last_snapshot_mean": float(np.nanmean(m.grid[-1])),
                    "best_depth_lo": lo,
                    "best_depth_hi": hi,
                    "best_depth_score": best,
                    "conv_part_last": conv,
                    "fc_part_last": fc,
                    "model_score": m.model_score,
                    **(
                        {}
                        if self.reference is None
                        else {"paper_score": self.reference.value((m.target, m.region))}
                    ),
                    "steps": m.steps,
                    "train_seconds": m.train_seconds,
                    "eval_seconds": m.eval_seconds,
                }
            )
        return pd.DataFrame(rows)

    def grids(self) -> pd.DataFrame:
        """Every cell of every map (long format, see :meth:`PerformanceMap.to_frame`)."""
        return pd.concat([m.to_frame() for m in self.maps], ignore_index=True)

    def summary(self) -> str:
        """One line per map (with a reference, the paper's reading below it)."""
        c = self.config
        arch = self.maps[0].architecture.describe() if self.maps else ""
        lines = [
            f"Performance maps: local DMC, W={c.window}, {arch}",
            f"trained on all snapshots, {self.maps[0].steps if self.maps else 0} steps of batch "
            f"{c.batch_size}; cells average {self.windows_per_cell} windows per test model; device "
            f"{self.device}",
        ]
        if self.filter_report is not None:
            kept, total = self.filter_report.n_kept.sum(), self.filter_report.n_models.sum()
            lines.append(f"failed trainings rejected: {kept} of {total} models kept")
        ref = self.reference
        lines += [m.summary_line(None if ref is None else ref.word(m.target)) for m in self.maps]
        if ref is not None:
            lines.append(f"paper: {ref.text('summary')}")
        return "\n".join(lines)

    def plot(self) -> Figure:
        """All maps side by side (own colour ranges, as the paper's)."""
        from matplotlib.figure import Figure

        n = len(self.maps)
        cols = min(3, n)
        rows = -(-n // cols)
        fig = Figure(figsize=(5.0 * cols, 3.9 * rows), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, m in zip(axes, self.maps, strict=False):
            fig.colorbar(m.draw(ax), ax=ax, shrink=0.9)
        for ax in axes[n:]:
            ax.set_visible(False)
        return fig

    def figures(self) -> dict[str, Figure]:
        """``maps`` (all) and ``map-<target>-<region>`` for each."""
        out = {"maps": self.plot()}
        for m in self.maps:
            out[f"map-{m.target}-{m.region}"] = m.figure()
        return out

    def notes(self) -> list[str]:
        """How the maps were made."""
        out = [
            "Rows: training snapshots from initialization (top) to the end (bottom); columns: the "
            "window's start relative to the valid starts of the region (0%: the first W weights).",
            "Each map has its own colour range (as the paper's); the model score averages the "
            "windows of all depth bins at the last snapshot.",
        ]
        return out + filter_notes(self.filter_report) + list(self.remarks)


def _grid_snapshots(data: WindowData, rows: np.ndarray, n_grid: int) -> np.ndarray:
    """``(n_grid, len(rows))`` snapshot index of each model at each grid row (nearest relative)."""
    counts = data.n_snapshots[rows]
    if n_grid == 1:
        return np.asarray((counts - 1)[None, :], dtype=np.int64)
    relative = np.arange(n_grid) / (n_grid - 1)
    snaps: np.ndarray = np.rint(np.outer(relative, counts - 1)).astype(np.int64)
    return snaps


def score_grid(
    trained: TrainedDMC,
    data: WindowData,
    rows: np.ndarray,
    y: np.ndarray,
    snaps: np.ndarray,
    depth_bins: int,
    windows_per_cell: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Window outputs on a (snapshot x depth bin) grid for models ``rows``.

    Returns ``(correct, ensemble)``: per grid cell the per-window scores (accuracy: correct
    predictions; regression: the predictions) as ``(n_grid, depth_bins, n_models, k)``, and the
    model-level prediction at the last grid row (outputs averaged over all its windows).
    """
    window = trained.window
    assert window is not None
    k = windows_per_cell
    relative = (
        (np.arange(depth_bins)[:, None] + (np.arange(k)[None, :] + 0.5) / k) / depth_bins
    ).ravel()
    n, m = len(rows), depth_bins * k
    out_rows = []
    ensemble = np.zeros(0)
    for j in range(snaps.shape[0]):
        out = trained.predict_at(
            data, np.repeat(rows, m), np.repeat(snaps[j], m), np.tile(relative, n)
        )
        out = out.reshape(n, depth_bins, k, *out.shape[1:])
        if trained.task == "classification":
            values = out.argmax(axis=-1) == y[:, None, None]
            if j == snaps.shape[0] - 1:
                ensemble = out.mean(axis=(1, 2)).argmax(axis=-1)
        else:
            values = out
            if j == snaps.shape[0] - 1:
                ensemble = out.mean(axis=(1, 2))
        out_rows.append(np.moveaxis(values, 0, 1))  # (bins, n, k)
    return np.stack(out_rows), ensemble


@dataclass(frozen=True)
class _Layout:
    """Where the layers of a single architecture fall on the depth axis."""

    marks: tuple[tuple[str, float], ...] = ()
    fc_depth: float | None = None


def _layout(lib: Library, model_id: int, region: str, window: int) -> _Layout:
    """Depth of each layer's first weight (a window centred on it) and of the conv/FC boundary."""
    layers = lib.layer_table(model_id)
    spans = region_spans(layers, region)
    if len(spans) != 1:
        return _Layout()
    start, stop = spans[0]

    def depth(offset: float) -> float:
        return float(np.clip((offset - start - window / 2) / max(1, stop - start - window), 0, 1))

    rows = layers[layers["offset"].notna()]
    first = rows.groupby("layer", sort=False)["offset"].min()
    marks = tuple((str(n), depth(o)) for n, o in first.items() if start <= o < stop)
    conv, fc = region_spans(layers, "conv"), region_spans(layers, "fc")
    boundary = None
    if region == "all" and len(conv) == 1 and len(fc) == 1 and conv[0][1] == fc[0][0]:
        boundary = depth(fc[0][0])
    return _Layout(marks, boundary)


def performance_maps(
    lib: Library,
    targets: str | Sequence[str],
    config: DMCConfig = DMCConfig(),  # noqa: B008
    *,
    selection: Selection = Selection(),  # noqa: B008
    regions: Sequence[str] = ("all",),
    depth_bins: int = 20,
    windows_per_cell: int = 4,
    n_splits: int = 5,
    rounds: int = 1,
    balance: bool = True,
    task: Task = "auto",
    random_state: int = 0,
    progress: bool = False,
) -> PerformanceMapResult:
    """Train a local DMC per target and region; score it by depth and training snapshot.

    Parameters
    ----------
    lib : Library
    targets : str or sequence of str
    config : DMCConfig, default=DMCConfig()
        The local DMC and its training (:class:`~weightspace.probe.dmc.DMCConfig`; ``kind`` must
        be ``"local"``).
    selection : Selection, default=Selection()
        The models probed (failure filter, ``where``, ``ids``).
    regions : sequence of {"all", "conv", "fc"}, default=("all",)
        One map per target and region (the paper's Figs. 20-21: all, conv-only, FC-only).
    depth_bins : int, default=20
    windows_per_cell : int, default=4
        Windows per test model and cell, evenly spaced in the bin.
    n_splits : int, default=5
    rounds : int, default=1
        Folds trained and scored; their test models are pooled in the map.
    balance, task, random_state, progress
        As :func:`~weightspace.probe.dmc.dmc_probe`.
    """
    if config.kind != "local":
        raise ProbeError(f"performance maps need a local DMC (kind='local'); got {config.kind!r}")
    config.check()
    window = config.window
    for name, value in (("depth_bins", depth_bins), ("windows_per_cell", windows_per_cell)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ProbeError(f"{name} must be a positive integer; got {value!r}")
    names = [targets] if isinstance(targets, str) else list(targets)
    if not names or not regions:
        raise ProbeError("give at least one target and one region")
    models, report = selection.models(lib)
    rng = np.random.default_rng(random_state)
    grid = _Grid(depth_bins, windows_per_cell)
    maps = []
    for region in regions:
        data = load_windows(lib, models, region)
        data.check_window(window)
        one_arch = models["arch_id"].nunique() == 1
        layout = _layout(lib, int(models["id"].iloc[0]), region, window) if one_arch else _Layout()
        for name in names:
            td, splits = target_with_splits(
                models, name, rng, task=task, n_splits=n_splits, rounds=rounds, balance=balance
            )
            maps.append(_map_target(lib, data, td, splits, config, grid, rng, progress, layout))
    return PerformanceMapResult(
        tuple(maps), config, windows_per_cell, report, str(resolve_device(config.device))
    )


@dataclass(frozen=True)
class _Grid:
    depth_bins: int
    windows_per_cell: int


def _map_target(
    lib: Library,
    data: WindowData,
    td: TargetData,
    splits: list[tuple[np.ndarray, np.ndarray]],
    config: DMCConfig,
    grid: _Grid,
    rng: np.random.Generator,
    progress: bool,
    layout: _Layout,
) -> PerformanceMap:
    """Train on every split, score the test models on the grid, pool the splits."""
    n_grid = int(data.n_snapshots[td.rows].min())
    cells, truth, ensemble, progress_rows = [], [], [], []
    seconds, evals = [], []
    trained = None
    for r, (tr, te) in enumerate(splits):
        trained = fit_dmc(
            data,
            td.rows[tr],
            td.y[tr],
            None,
            config,
            task=td.task,
            n_outputs=td.n_outputs,
            random_state=rng,
            progress=progress,
            desc=f"{td.target} ({data.region}) {r + 1}/{len(splits)}",
        )
        began = time.perf_counter()
        snaps = _grid_snapshots(data, td.rows[te], n_grid)
        values, ens = score_grid(
            trained, data, td.rows[te], td.y[te], snaps, grid.depth_bins, grid.windows_per_cell
        )
        evals.append(time.perf_counter() - began)
        seconds.append(trained.seconds)
        cells.append(values)
        truth.append(td.y[te])
        ensemble.append(ens)
        progress_rows.append(_progress(lib, data.ids_of(td.rows[te]), snaps))
    assert trained is not None
    values = np.concatenate(cells, axis=2)  # (grid, bins, models, k)
    y = np.concatenate(truth)
    if td.task == "classification":
        scores = values.mean(axis=(2, 3))
        model_score = float(np.mean(np.concatenate(ensemble) == y))
    else:
        k = values.shape[3]
        scores = np.array(
            [[r2_score(np.repeat(y, k), cell.reshape(-1)) for cell in row] for row in values]
        )
        model_score = r2_score(y, np.concatenate(ensemble))
    return PerformanceMap(
        target=td.target,
        region=data.region,
        task=td.task,
        grid=scores,
        progress=np.nanmean(np.concatenate(progress_rows, axis=1), axis=1),
        depth_edges=np.linspace(0.0, 1.0, grid.depth_bins + 1),
        chance=td.chance,
        classes=td.classes,
        n_models=len(td.rows),
        n_scored=len(y),
        window=config.window,
        rounds=len(splits),
        steps=trained.steps,
        train_seconds=float(np.mean(seconds)),
        eval_seconds=float(np.mean(evals)),
        architecture=trained.architecture,
        model_score=model_score,
        layer_marks=layout.marks,
        fc_depth=layout.fc_depth,
    )


def _progress(lib: Library, ids: np.ndarray, snaps: np.ndarray) -> np.ndarray:
    """``(n_grid, n_models)`` training progress of each model's grid snapshot (from the library's
    snapshot table; the relative snapshot position where it has none)."""
    table = lib.snapshot_table([int(i) for i in ids])
    known = {
        (int(m), int(i)): p
        for m, i, p in zip(table["model"], table["idx"], table["progress"], strict=True)
    }
    counts = table.groupby("model")["idx"].max().reindex([int(i) for i in ids]).to_numpy()
    out = np.empty(snaps.shape)
    for j in range(snaps.shape[0]):
        for c, (model, s) in enumerate(zip(ids, snaps[j], strict=True)):
            value = known.get((int(model), int(s)))
            fallback = s / counts[c] if counts[c] else 1.0
            out[j, c] = fallback if value is None or pd.isna(value) else float(value)
    return out
