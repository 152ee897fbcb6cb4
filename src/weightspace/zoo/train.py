"""The reference trainer: one model at a time, a plain PyTorch loop.

This loop defines what a zoo training *is*; the batched trainer (many models in one stacked network)
must give the same results to float tolerance. Semantics:

- One ``torch.Generator`` per model, seeded with ``config.seed``, drives everything random in training,
  in this order per epoch: the permutation of the training set, then per mini-batch the augmentation
  draws (:func:`weightspace.zoo.augment.augment`) and the dropout masks of the forward pass, in module
  order. PyTorch's global random state is never used or changed.
- The learning rate of epoch ``e`` (1-based) is ``lr * lr_decay ** (e - 1)``.
- After each epoch the validation accuracy (eval mode) feeds :class:`EarlyStopping`; weights are
  exported before the first step and after every epoch, and ``n_snapshots`` of the exports are kept
  (:func:`kept_exports`). For each kept snapshot the train (eval mode, on at most
  ``train_eval_samples`` training samples), validation and test accuracy and loss are recorded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from weightspace.errors import WeightspaceError
from weightspace.library.records import SnapshotRecord
from weightspace.zoo.augment import augment
from weightspace.zoo.data.core import Dataset
from weightspace.zoo.early_stopping import EarlyStopping, kept_exports

__all__ = [
    "GeneratorDropout",
    "TrainConfig",
    "TrainResult",
    "augment_inputs",
    "evaluate",
    "split_tensors",
    "train_model",
]

Optimizer = Literal["adam", "rmsprop", "sgd"]


@dataclass(frozen=True)
class TrainConfig:
    """How one model is trained.

    Parameters
    ----------
    optimizer : {"adam", "rmsprop", "sgd"}
        Adam, RMSprop without momentum, or SGD with ``momentum``. PyTorch's defaults otherwise.
    lr : float
        Initial learning rate.
    lr_decay : float, default=1.0
        Per-epoch multiplicative decay (NWS: 0.96).
    momentum : float, default=0.95
        SGD momentum (NWS 0.95; Schürholt et al. 0.9).
    weight_decay : float, default=0.0
        L2 penalty added to the gradients (``torch.optim`` semantics).
    batch_size : int, default=64
    augment : bool, default=False
        The NWS online augmentation.
    seed : int, default=0
        Seed of the training generator (data order, augmentation, dropout).
    stopping : EarlyStopping
        The stopping rule (``EarlyStopping(min_epochs=E, max_epochs=E)`` trains exactly E epochs).
    n_snapshots : int, default=20
    train_eval_samples : int, default=5000
        Training samples used to measure train accuracy and loss of kept snapshots.
    input_norm : (mean, std), optional
        Inputs are fed as ``(x - mean) / std`` (torchvision's ``Normalize``; Schürholt et al.:
        MNIST ``(0.1307, 0.3081)``, Fashion-MNIST ``(0.5, 0.5)``); the augmentation, when on,
        acts on the ``[0, 1]`` images before it. None feeds the ``[0, 1]`` images.
    """

    optimizer: Optimizer = "adam"
    lr: float = 1e-3
    lr_decay: float = 1.0
    momentum: float = 0.95
    weight_decay: float = 0.0
    batch_size: int = 64
    augment: bool = False
    seed: int = 0
    stopping: EarlyStopping = field(default_factory=EarlyStopping)
    n_snapshots: int = 20
    train_eval_samples: int = 5000
    input_norm: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "rmsprop", "sgd"):
            raise WeightspaceError(
                f"TrainConfig.optimizer must be 'adam', 'rmsprop' or 'sgd'; got {self.optimizer!r}"
            )
        if not self.lr > 0:
            raise WeightspaceError(f"TrainConfig.lr must be > 0; got {self.lr!r}")
        if not 0 < self.lr_decay <= 1:
            raise WeightspaceError(f"TrainConfig.lr_decay must be in (0, 1]; got {self.lr_decay!r}")
        if isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise WeightspaceError(f"TrainConfig.batch_size must be >= 1; got {self.batch_size!r}")
        if self.n_snapshots < 1:
            raise WeightspaceError(
                f"TrainConfig.n_snapshots must be >= 1; got {self.n_snapshots!r}"
            )
        if self.input_norm is not None:
            mean, std = (float(v) for v in self.input_norm)
            if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
                raise WeightspaceError(
                    f"TrainConfig.input_norm must be (mean, std) with a finite mean and std > 0; "
                    f"got {self.input_norm!r}"
                )
            object.__setattr__(self, "input_norm", (mean, std))

    def make_optimizer(
        self, params: Iterator[nn.Parameter] | list[nn.Parameter]
    ) -> torch.optim.Optimizer:
        """The ``torch.optim`` optimizer this config names."""
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(
            params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )


@dataclass(frozen=True)
class TrainResult:
    """The outcome of one training.

    Attributes
    ----------
    states : list of dict
        The kept snapshots as state dicts (CPU tensors), in training order.
    records : list of SnapshotRecord
        Epoch, progress and metrics of each kept snapshot.
    epochs : int
        Epochs trained.
    stop_reason : str
        ``falling``, ``below_smoothed``, ``stationary`` or ``max_epochs``.
    wall_time : float
        Seconds spent (training and evaluation).
    val_history : tuple of float
        Validation accuracy after every epoch.
    """

    states: list[dict[str, torch.Tensor]]
    records: list[SnapshotRecord]
    epochs: int
    stop_reason: str
    wall_time: float
    val_history: tuple[float, ...]

    @property
    def final(self) -> SnapshotRecord:
        """The record of the last kept snapshot (the trained model)."""
        return self.records[-1]


class GeneratorDropout(nn.Module):
    """Inverted dropout whose masks come from a given generator (not the global RNG), which must
    be on the input's device."""

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p = float(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=x.device) >= self.p
        return x * keep / (1.0 - self.p)


@contextmanager
def _seeded_dropout(model: nn.Module, generator: torch.Generator) -> Iterator[None]:
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Dropout):
                setattr(parent, name, GeneratorDropout(child.p, generator))
                swapped.append((parent, name, child))
    try:
        yield
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 2048
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of ``model`` (put in eval mode) on ``(x, y)``."""
    model.eval()
    if len(y) == 0:
        return float("nan"), float("nan")
    correct, loss = 0, 0.0
    for start in range(0, len(y), batch):
        logits = model(x[start : start + batch])
        target = y[start : start + batch]
        correct += int((logits.argmax(1) == target).sum())
        loss += float(F.cross_entropy(logits, target, reduction="sum"))
    return correct / len(y), loss / len(y)


def split_tensors(
    data: Dataset, input_norm: tuple[float, float] | None = None
) -> dict[str, torch.Tensor]:
    """The splits as tensors, inputs normalized as ``input_norm`` says (see :class:`TrainConfig`)."""
    out = {
        name: torch.from_numpy(np.array(getattr(data, name)))
        for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
    }
    if input_norm is not None:
        mean, std = input_norm
        for name in ("x_train", "x_val", "x_test"):
            out[name] = (out[name] - mean) / std
    return out


def augment_inputs(
    x: torch.Tensor, gen: torch.Generator, input_norm: tuple[float, float] | None
) -> torch.Tensor:
    """The NWS augmentation of a batch of inputs normalized as ``input_norm`` says: it acts on the
    ``[0, 1]`` images (it clips to that range) and the result is normalized again."""
    if input_norm is None:
        return augment(x, gen)
    mean, std = input_norm
    return (augment(x * std + mean, gen) - mean) / std


def train_model(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig,
    *,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place on ``data`` as ``config`` says; return the kept snapshots and metrics.

    Parameters
    ----------
    model : nn.Module
        A freshly initialized network (its initial weights are the first export).
    data : Dataset
        Train/validation/test splits.
    config : TrainConfig
    on_epoch : callable, optional
        Called with ``(epoch, val_acc)`` after every epoch (progress reporting).
    """
    start = time.perf_counter()
    t = split_tensors(data, config.input_norm)
    gen = torch.Generator().manual_seed(int(config.seed))
    optimizer = config.make_optimizer(list(model.parameters()))
    stop = config.stopping.start()
    exports = [_state(model)]
    n_train = len(t["y_train"])
    reason: str | None = None
    epoch = 0
    with _seeded_dropout(model, gen):
        while reason is None:
            epoch += 1
            for group in optimizer.param_groups:
                group["lr"] = config.lr * config.lr_decay ** (epoch - 1)
            model.train()
            order = torch.randperm(n_train, generator=gen)
            for idx in torch.split(order, config.batch_size):
                xb = t["x_train"][idx]
                if config.augment:
                    xb = augment_inputs(xb, gen, config.input_norm)
                loss = F.cross_entropy(model(xb), t["y_train"][idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
            val_acc, _ = evaluate(model, t["x_val"], t["y_val"])
            exports.append(_state(model))
            if on_epoch is not None:
                on_epoch(epoch, val_acc)
            reason = stop.update(val_acc)

    kept = kept_exports(len(exports), config.n_snapshots)
    states = [exports[i] for i in kept]
    records = _records(model, states, kept, epoch, t, config)
    model.load_state_dict(exports[-1])
    return TrainResult(
        states=states,
        records=records,
        epochs=epoch,
        stop_reason=reason,
        wall_time=time.perf_counter() - start,
        val_history=tuple(stop.history),
    )


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _records(
    model: nn.Module,
    states: list[dict[str, torch.Tensor]],
    kept: list[int],
    epochs: int,
    t: dict[str, torch.Tensor],
    config: TrainConfig,
) -> list[SnapshotRecord]:
    n = min(config.train_eval_samples, len(t["y_train"]))
    records = []
    for state, export in zip(states, kept, strict=True):
        model.load_state_dict(state)
        train_acc, train_loss = evaluate(model, t["x_train"][:n], t["y_train"][:n])
        val_acc, val_loss = evaluate(model, t["x_val"], t["y_val"])
        test_acc, test_loss = evaluate(model, t["x_test"], t["y_test"])
        records.append(
            SnapshotRecord(
                epoch=export,
                progress=export / epochs,
                train_acc=train_acc,
                val_acc=val_acc,
                test_acc=test_acc,
                train_loss=train_loss,
                val_loss=val_loss,
                test_loss=test_loss,
            )
        )
    return records
