"""NWS early stopping and snapshot selection (Eilertsen et al. 2020, appendix A).

After each epoch the validation accuracy ``a_t`` is smoothed, ``s_t = 0.5 s_{t-1} + 0.5 a_t``. After at
least ``min_epochs`` epochs, training stops when any of these holds:

1. ``falling`` (5) consecutive decreasing accuracies, ``a_t < a_{t-1}`` (over-fitting);
2. ``below_smoothed`` (30) epochs in total whose accuracy is below the smoothed value of the epoch
   before, ``a_t < s_{t-1}`` (noisy over-fitting that criterion 1 misses);
3. ``stationary`` (30) consecutive epochs without change, ``a_t == a_{t-1}`` (stuck optimization);

or when ``max_epochs`` is reached. Weights are exported before the first step and after every epoch;
``n_snapshots`` (20) of those exports are kept, at ``round(linspace(1, n_exports, n_snapshots))``
(1-based), which always includes the initialization and the final weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from weightspace.errors import WeightspaceError

__all__ = ["EarlyStopping", "StopState", "kept_exports"]


@dataclass(frozen=True)
class EarlyStopping:
    """The NWS stopping rule; parameters as in the paper by default.

    Parameters
    ----------
    min_epochs : int, default=20
    max_epochs : int, default=300
    falling : int, default=5
    below_smoothed : int, default=30
    stationary : int, default=30
    smoothing : float, default=0.5
        Weight of the previous smoothed value.
    """

    min_epochs: int = 20
    max_epochs: int = 300
    falling: int = 5
    below_smoothed: int = 30
    stationary: int = 30
    smoothing: float = 0.5

    def __post_init__(self) -> None:
        for name in ("min_epochs", "max_epochs", "falling", "below_smoothed", "stationary"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WeightspaceError(
                    f"EarlyStopping.{name} must be a positive integer; got {value!r}"
                )
        if self.max_epochs < self.min_epochs:
            raise WeightspaceError(
                f"EarlyStopping.max_epochs ({self.max_epochs}) is below min_epochs ({self.min_epochs})"
            )
        if not 0.0 <= self.smoothing < 1.0:
            raise WeightspaceError(
                f"EarlyStopping.smoothing must be in [0, 1); got {self.smoothing}"
            )

    def start(self) -> StopState:
        """A fresh state for one training."""
        return StopState(self)


@dataclass
class StopState:
    """The running state of :class:`EarlyStopping` for one training; feed it one accuracy per epoch."""

    rule: EarlyStopping
    epochs: int = 0
    smoothed: float | None = None
    previous: float | None = None
    falling_run: int = 0
    below_total: int = 0
    stationary_run: int = 0
    history: list[float] = field(default_factory=list)

    def update(self, val_acc: float) -> str | None:
        """Record one epoch's validation accuracy; return why training stops, or None."""
        acc = float(val_acc)
        if self.previous is not None:
            self.falling_run = self.falling_run + 1 if acc < self.previous else 0
            self.stationary_run = self.stationary_run + 1 if acc == self.previous else 0
        if self.smoothed is not None and acc < self.smoothed:
            self.below_total += 1
        s = self.rule.smoothing
        self.smoothed = acc if self.smoothed is None else s * self.smoothed + (1 - s) * acc
        self.previous = acc
        self.epochs += 1
        self.history.append(acc)
        if self.epochs >= self.rule.min_epochs:
            if self.falling_run >= self.rule.falling:
                return "falling"
            if self.below_total >= self.rule.below_smoothed:
                return "below_smoothed"
            if self.stationary_run >= self.rule.stationary:
                return "stationary"
        if self.epochs >= self.rule.max_epochs:
            return "max_epochs"
        return None


def kept_exports(n_exports: int, n_snapshots: int = 20) -> list[int]:
    """0-based indices of the exports to keep: ``round(linspace(1, n_exports, n_snapshots)) - 1``.

    With fewer exports than snapshots every export is kept once.

    Examples
    --------
    >>> kept_exports(21, 20)[:4], kept_exports(21, 20)[-1]
    ([0, 1, 2, 3], 20)
    >>> kept_exports(3, 20)
    [0, 1, 2]
    """
    if n_exports < 1 or n_snapshots < 1:
        raise WeightspaceError(
            f"need n_exports >= 1 and n_snapshots >= 1; got {n_exports}, {n_snapshots}"
        )
    if n_exports <= n_snapshots:
        return list(range(n_exports))
    # round half to even as numpy does; the ends are exact
    positions = np.round(np.linspace(1, n_exports, n_snapshots)).astype(int) - 1
    return [int(p) for p in positions]
