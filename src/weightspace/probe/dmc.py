"""Deep meta-classifiers (DMCs): predict a hyper-parameter from raw weights with a 1-D CNN.

Eilertsen et al. 2020 (sec. 5.2-5.3, appendix F): a *global* DMC reads the whole weight vector of
a fixed architecture; a *local* DMC reads a window of ``W`` consecutive weights (5,000 in the
paper) at a random position, drawn anew for every sample, so it works across architectures and
tells where in the network a footprint lies. Conv-only and FC-only variants cut windows from the
convolutional or fully connected part of each vector (:mod:`weightspace.probe.dmc_data`). The
networks are NWS Table 3 scaled down (:mod:`weightspace.probe.dmc_models`).

Training follows appendix F.1: Adam (learning rate 1e-3, decayed exponentially to 1/50 of it by
the last step), batch 64, cross-entropy on balanced classes, or mean squared error on the
standardized log10 learning rate (regression); local DMCs train on the last 2 snapshots of each
model, global DMCs on the last 4. An *epoch* is one pass over the (model, training snapshot)
pairs, each with a fresh random window. Inputs are scaled as ``asinh((x - c) / s)`` with ``c`` the
median and ``s`` the normalized median absolute deviation of the training windows: one affine map
for all windows (the window's own scale is information, e.g. about initialization), with the
heavy tails of batch-norm running variances compressed. Non-finite weights read as 0.

A local DMC predicts a model by averaging its outputs over ``eval_windows`` windows at evenly
spaced positions (the ensemble of local predictions); the *window accuracy* is the mean accuracy of
the single windows. Splits are by model (:func:`weightspace.probe.common.model_splits`): the
snapshots of one training are never on both sides.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from weightspace.library import Library
from weightspace.probe.common import ProbeError, Selection
from weightspace.probe.dmc_data import (
    TargetData,
    Task,
    WindowData,
    load_windows,
    target_with_splits,
)
from weightspace.probe.dmc_models import (
    Depth,
    DMCArchitecture,
    DMCNetwork,
    Kind,
    Net,
    build_network,
    dmc_architecture,
)
from weightspace.probe.dmc_result import DMCResult, DMCScores, scores_row

__all__ = ["DMCConfig", "TrainedDMC", "dmc_probe", "evaluate_models", "fit_dmc", "resolve_device"]


@dataclass(frozen=True)
class DMCConfig:
    """How a DMC is built and trained.

    Parameters
    ----------
    kind : {"local", "global"}, default="local"
    net : {"conv", "mlp"}, default="conv"
        ``mlp`` only for the global DMC.
    window : int, default=5000
        Weights per window (local DMC; the paper's 5,000).
    width : float, default=0.125
        Width multiplier of NWS Table 3's networks.
    depth : {"reduced", "full"}, default="reduced"
        Table 3's layers (``full``) or only its pooled convolutions and two hidden FC layers.
    sorted_channel : bool, default=True
        Add the sorted standardized window as a third input channel.
    steps : int, default=2000
        Optimizer steps (each a batch of fresh random windows).
    epochs : int, optional
        Train for this many passes over the (model, snapshot) pairs instead of ``steps``.
    batch_size : int, default=64
    learning_rate : float, default=1e-3
    lr_decay : float, default=50.0
        The learning rate falls exponentially to ``learning_rate / lr_decay`` by the last step.
    eval_windows : int, default=16
        Windows (evenly spaced) averaged to predict a model (local DMC).
    device : str, default="auto"
        ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:1``...
    """

    kind: Kind = "local"
    net: Net = "conv"
    window: int = 5000
    width: float = 0.125
    depth: Depth = "reduced"
    sorted_channel: bool = True
    steps: int = 2000
    epochs: int | None = None
    batch_size: int = 64
    learning_rate: float = 1e-3
    lr_decay: float = 50.0
    eval_windows: int = 16
    device: str = "auto"

    def check(self) -> None:
        """Raise :class:`ProbeError` naming the first bad parameter."""
        for name in ("window", "steps", "batch_size", "eval_windows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ProbeError(f"{name} must be a positive integer; got {value!r}")
        if self.epochs is not None and (
            isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1
        ):
            raise ProbeError(f"epochs must be a positive integer or None; got {self.epochs!r}")
        if self.batch_size < 2:
            raise ProbeError(
                f"batch_size must be at least 2 (batch normalization); got {self.batch_size}"
            )
        for name in ("learning_rate", "lr_decay"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ProbeError(f"{name} must be a positive number; got {value!r}")
        self.architecture(max(self.window, 64), 2)

    def architecture(self, input_length: int, n_outputs: int) -> DMCArchitecture:
        """The network for inputs of ``input_length`` weights."""
        return dmc_architecture(
            self.kind, input_length, n_outputs, net=self.net, width=self.width, depth=self.depth,
            in_channels=3 if self.sorted_channel else 2,
        )  # fmt: skip


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; other names are checked."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise ProbeError(
            f"device {device!r} is not a torch device; use auto, cpu or cuda"
        ) from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ProbeError(f"device {device!r}: CUDA is not available here; use --device cpu or auto")
    return chosen


@dataclass(frozen=True, eq=False)
class TrainedDMC:
    """A trained DMC and the input and target scaling it was trained with."""

    network: DMCNetwork
    architecture: DMCArchitecture
    config: DMCConfig
    task: str
    center: float
    scale: float
    y_center: float
    y_scale: float
    history: np.ndarray
    seconds: float
    device: torch.device
    steps: int = 0
    epochs: float = 0.0

    @property
    def window(self) -> int | None:
        """Window size (None: the global DMC reads whole regions)."""
        return self.config.window if self.config.kind == "local" else None

    def _input(self, x: np.ndarray) -> torch.Tensor:
        """``(n, channels, length)``: the common-scale, the per-window standardized and (with
        ``sorted_channel``) the sorted standardized windows."""
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
        t = torch.asinh(
            (torch.nan_to_num(t, nan=0.0, posinf=1e30, neginf=-1e30) - self.center) / self.scale
        )
        own = (t - t.mean(dim=1, keepdim=True)) / (t.std(dim=1, keepdim=True) + 1e-6)
        parts = [t, own, own.sort(dim=1).values] if self.config.sorted_channel else [t, own]
        return torch.stack(parts, dim=1)

    def outputs(self, x: np.ndarray, *, chunk: int = 2048) -> np.ndarray:
        """Logits ``(n, n_classes)`` or predictions ``(n,)`` (target units) of windows ``x``."""
        self.network.eval()
        parts = []
        with torch.no_grad():
            for start in range(0, len(x), chunk):
                parts.append(self.network(self._input(x[start : start + chunk])).cpu().numpy())
        out = np.concatenate(parts) if parts else np.zeros((0, self.architecture.n_outputs))
        if self.task == "regression":
            return np.asarray(out[:, 0] * self.y_scale + self.y_center, dtype=np.float64)
        return np.asarray(out, dtype=np.float64)

    def predict_at(
        self, data: WindowData, rows: np.ndarray, snaps: np.ndarray, relative: np.ndarray
    ) -> np.ndarray:
        """Outputs for windows at ``relative`` positions (in [0, 1]) of models ``rows``."""
        window = self.window
        parts = []
        for start in range(0, len(rows), 8192):
            r, s = rows[start : start + 8192], snaps[start : start + 8192]
            starts = data.starts(r, relative[start : start + 8192], window) if window else None
            parts.append(self.outputs(data.gather(r, s, starts, window)))
        return np.concatenate(parts)


def _pairs(
    data: WindowData, rows: np.ndarray, snapshots: Sequence[int] | None
) -> tuple[np.ndarray, np.ndarray]:
    """(model row, snapshot index) training pairs; ``snapshots=None``: every snapshot."""
    if snapshots is None:
        counts = data.n_snapshots[rows]
        return np.repeat(rows, counts), np.concatenate([np.arange(c) for c in counts])
    if not snapshots:
        raise ProbeError("give at least one training snapshot index (e.g. -1, the last)")
    pairs = {
        (int(r), int(s))
        for snap in snapshots
        for r, s in zip(rows, data.snapshot_index(rows, int(snap)), strict=True)
    }
    ordered = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return ordered[:, 0], ordered[:, 1]


def fit_dmc(
    data: WindowData,
    rows: np.ndarray,
    y: np.ndarray,
    snapshots: Sequence[int] | None,
    config: DMCConfig,
    *,
    task: str,
    n_outputs: int,
    random_state: Any = None,
    progress: bool = False,
    desc: str = "DMC",
) -> TrainedDMC:
    """Train a DMC on models ``rows`` of ``data`` (targets ``y``) at the given snapshots.

    Parameters
    ----------
    data : WindowData
    rows : numpy.ndarray of int
        Training models (positions in ``data``).
    y : numpy.ndarray
        Class codes (classification) or target values (regression), one per row.
    snapshots : sequence of int or None
        Snapshot indices used (negative: from the end), each with every training model; None:
        all snapshots.
    config : DMCConfig
    task : {"classification", "regression"}
    n_outputs : int
    random_state : int, Generator or None
    progress : bool, default=False
        A progress bar over the steps.
    """
    config.check()
    device = resolve_device(config.device)
    rng = np.random.default_rng(random_state)
    local = config.kind == "local"
    window = config.window if local else None
    length = _input_length(data, np.asarray(rows), config)
    pair_rows, pair_snaps = _pairs(data, np.asarray(rows), snapshots)
    target_of = dict(zip(np.asarray(rows).tolist(), np.asarray(y).tolist(), strict=True))
    targets = np.array([target_of[int(r)] for r in pair_rows])
    arch = config.architecture(length, n_outputs)
    network = build_network(arch, seed=int(rng.integers(2**31)), device=device)

    def draw(index: np.ndarray) -> np.ndarray:
        r = pair_rows[index]
        starts = rng.integers(0, data.lengths[r] - length + 1) if local else None
        return data.gather(r, pair_snaps[index], starts, window)

    center, scale = _robust_scale(
        draw(rng.choice(len(pair_rows), min(256, len(pair_rows)), replace=False))
    )
    y_center, y_scale = 0.0, 1.0
    if task == "regression":
        y_center, y_scale = float(np.mean(targets)), float(np.std(targets)) or 1.0
    trained = TrainedDMC(
        network, arch, config, task, center, scale, y_center, y_scale, np.zeros(0), 0.0, device
    )
    y_all = torch.as_tensor(
        (targets - y_center) / y_scale if task == "regression" else targets,
        dtype=torch.float32 if task == "regression" else torch.int64,
    )
    n = len(pair_rows)
    batch = min(config.batch_size, n)
    per_epoch = max(1, n // batch)
    total = config.epochs * per_epoch if config.epochs is not None else config.steps
    began = time.perf_counter()
    losses = _train(
        trained, lambda index: trained._input(draw(index)), y_all, rng,
        n=n, batch=batch, total=total, progress=progress, desc=desc,
    )  # fmt: skip
    history = np.array([chunk.mean() for chunk in np.array_split(losses, min(100, total))])
    network.eval()
    seconds = time.perf_counter() - began
    return TrainedDMC(
        network, arch, config, task, center, scale, y_center, y_scale, history, seconds, device,
        total, total / per_epoch,
    )  # fmt: skip


def _input_length(data: WindowData, rows: np.ndarray, config: DMCConfig) -> int:
    """Weights a DMC reads: the window (local), or the one vector length of ``rows`` (global)."""
    if config.kind == "local":
        data.check_window(config.window)
        return config.window
    if np.unique(data.lengths[rows]).size != 1:
        raise ProbeError("the global DMC needs vectors of one length; select one architecture")
    return int(data.lengths[rows[0]])


def _robust_scale(sample: np.ndarray) -> tuple[float, float]:
    """Median and MAD-based scale of a sample of inputs (the std when the MAD is zero)."""
    sample = np.nan_to_num(sample)
    center = float(np.median(sample))
    scale = float(1.4826 * np.median(np.abs(sample - center)))
    if not (math.isfinite(scale) and scale > 0):
        scale = float(np.std(sample)) or 1.0
    return center, scale


def _train(
    trained: TrainedDMC,
    inputs: Callable[[np.ndarray], torch.Tensor],
    y_all: torch.Tensor,
    rng: np.random.Generator,
    *,
    n: int,
    batch: int,
    total: int,
    progress: bool,
    desc: str,
) -> np.ndarray:
    """``total`` Adam steps on batches of ``batch`` of the ``n`` pairs (reshuffled every epoch),
    the learning rate decaying exponentially to ``1 / lr_decay`` of its start; the losses."""
    from weightspace._progress import progress_bar

    config, network, task = trained.config, trained.network, trained.task
    per_epoch = max(1, n // batch)
    gamma = (1.0 / config.lr_decay) ** (1.0 / max(1, total - 1))
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate, eps=1e-7)
    loss_fn: torch.nn.Module = (
        torch.nn.MSELoss() if task == "regression" else torch.nn.CrossEntropyLoss()
    )
    losses = np.zeros(total)
    network.train()
    order = rng.permutation(n)
    bar = progress_bar(
        range(total), enabled=progress, desc=desc, unit="step", leave=False, mininterval=1.0
    )
    for step in bar:
        if step % per_epoch == 0:
            order = rng.permutation(n)
        index = order[(step % per_epoch) * batch : (step % per_epoch + 1) * batch]
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * gamma**step
        out = network(inputs(index))
        loss = loss_fn(out[:, 0] if task == "regression" else out, y_all[index].to(trained.device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses[step] = float(loss.detach())
        if step % 50 == 49:
            bar.set_postfix(loss=f"{losses[step - 49 : step + 1].mean():.3f}")
    return losses


def evaluate_models(
    trained: TrainedDMC, data: WindowData, rows: np.ndarray, snapshot: int, n_windows: int
) -> np.ndarray:
    """Outputs for models ``rows`` at ``snapshot``: ``(n, n_windows[, n_classes])`` for a local DMC
    (windows at evenly spaced positions), ``(n, 1[, n_classes])`` for a global one."""
    k = n_windows if trained.window is not None else 1
    snaps = data.snapshot_index(rows, snapshot)
    relative = np.tile((np.arange(k) + 0.5) / k, len(rows))
    out = trained.predict_at(data, np.repeat(rows, k), np.repeat(snaps, k), relative)
    return out.reshape(len(rows), k, *out.shape[1:])


def dmc_probe(
    lib: Library,
    targets: str | Sequence[str],
    config: DMCConfig = DMCConfig(),
    *,
    selection: Selection = Selection(),  # noqa: B008
    region: str = "all",
    train_snapshots: Sequence[int] | None = None,
    test_snapshots: Sequence[int] = (-1,),
    n_splits: int = 5,
    rounds: int = 1,
    balance: bool = True,
    task: Task = "auto",
    random_state: int = 0,
    progress: bool = False,
) -> DMCResult:
    """Train DMCs that predict each target from weights; test accuracy beside chance.

    Parameters
    ----------
    lib : Library
    targets : str or sequence of str
        Categorical columns (classified) or ``lr``/``learning_rate`` (regressed on log10).
    config : DMCConfig, default=DMCConfig()
        The network and its training (local or global DMC, window, steps, device, ...).
    selection : Selection, default=Selection()
        The models probed (failure filter, ``where``, ``ids``).
    region : {"all", "conv", "fc"}, default="all"
        The part of the vectors read (conv-only and FC-only variants).
    train_snapshots : sequence of int, optional
        Default: the last 2 (local) or 4 (global) snapshots, as NWS appendix F.1.
    test_snapshots : sequence of int, default=(-1,)
        Snapshots the test models are scored at, each reported.
    n_splits : int, default=5
        Folds by model; each round trains on ``n_splits - 1`` of them and tests on the rest.
    rounds : int, default=1
        Train/test rounds (folds of repeated k-fold); mean and std are over rounds.
    balance : bool, default=True
    task : {"auto", "classification", "regression"}, default="auto"
    random_state : int, default=0
    progress : bool, default=False

    Returns
    -------
    DMCResult
    """
    config.check()
    kind = config.kind
    names = [targets] if isinstance(targets, str) else list(targets)
    if not names:
        raise ProbeError("give at least one target (e.g. optimizer)")
    if train_snapshots is not None:
        train = tuple(int(t) for t in train_snapshots)
    else:
        train = (-1, -2) if kind == "local" else (-1, -2, -3, -4)
    models, report = selection.models(lib)
    if kind == "global":
        check_one_architecture(models)
    data = load_windows(lib, models, region)
    if kind == "local":
        data.check_window(config.window)
    rng = np.random.default_rng(random_state)
    scores = []
    for name in names:
        td, splits = target_with_splits(
            models, name, rng, task=task, n_splits=n_splits, rounds=rounds, balance=balance
        )
        scores.append(_probe_target(data, td, splits, train, test_snapshots, config, rng, progress))
    return DMCResult(
        config,
        region,
        train,
        tuple(int(s) for s in test_snapshots),
        n_splits,
        tuple(scores),
        report,
        str(resolve_device(config.device)),
    )


def _probe_target(
    data: WindowData,
    td: TargetData,
    splits: list[tuple[np.ndarray, np.ndarray]],
    train: Sequence[int],
    test_snapshots: Sequence[int],
    config: DMCConfig,
    rng: np.random.Generator,
    progress: bool,
) -> DMCScores:
    """Train and score one target's DMC on every split."""
    rows: list[dict[str, Any]] = []
    predictions: list[pd.DataFrame] = []
    runs: list[TrainedDMC] = []
    for r, (tr, te) in enumerate(splits):
        trained = fit_dmc(
            data,
            td.rows[tr],
            td.y[tr],
            train,
            config,
            task=td.task,
            n_outputs=td.n_outputs,
            random_state=rng,
            progress=progress,
            desc=f"{td.target} {r + 1}/{len(splits)}",
        )
        runs.append(trained)
        for snap in test_snapshots:
            out = evaluate_models(trained, data, td.rows[te], int(snap), config.eval_windows)
            row, pred = scores_row(out, td.y[te], td.task)
            info = {"round": r, "snapshot": int(snap), "n_train": len(tr), "n_test": len(te)}
            rows.append(info | row)
            frame = pd.DataFrame(
                {"model": data.ids_of(td.rows[te]), "truth": td.y[te], "prediction": pred}
            )
            predictions.append(frame.assign(round=r, snapshot=int(snap)))
    return DMCScores(
        target=td.target,
        task=td.task,
        classes=td.classes,
        n_models=len(td.rows),
        chance=td.chance,
        table=pd.DataFrame(rows),
        predictions=pd.concat(predictions, ignore_index=True),
        history=np.array([t.history for t in runs]),
        train_seconds=float(np.mean([t.seconds for t in runs])),
        architecture=runs[-1].architecture,
        dropped_classes=td.dropped_classes,
        log_scale=td.log_scale,
        steps=runs[-1].steps,
        epochs=runs[-1].epochs,
    )


def check_one_architecture(models: pd.DataFrame) -> None:
    """Raise unless every model has one architecture (the global DMC's requirement)."""
    counts = models.groupby("arch_id")["n_params"].agg(["first", "size"])
    if len(counts) > 1:
        listed = ", ".join(
            f"{a} ({int(r['first'])} weights, {int(r['size'])} models)"
            for a, r in counts.iterrows()
        )
        best = str(counts["size"].idxmax())
        raise ProbeError(
            f"the global DMC reads whole vectors of one architecture, but the selection mixes "
            f"{len(counts)}: {listed}; select one (--where \"arch_id = '{best}'\") or use the "
            "local DMC (--kind local), which works across architectures"
        )
