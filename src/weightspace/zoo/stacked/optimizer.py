"""The stacked optimizer: Adam, RMSprop and SGD with momentum for every model of a stack."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from weightspace.zoo.stacked.signature import StackError

__all__ = ["OPTIMIZER_KINDS", "StackedOptimizer"]


# ------------------------------------------------------------------------------------ optimizer
#: The optimizers the stack implements (``torch.optim`` semantics).
OPTIMIZER_KINDS = ("adam", "rmsprop", "sgd")
_ADAM_BETAS = (0.9, 0.999)
_RMSPROP_ALPHA = 0.99
_EPS = 1e-8


def _where(mask: Tensor, a: float, b: float) -> Tensor:
    """``a`` where ``mask`` else ``b``, in float64."""
    f64 = torch.float64
    return torch.where(mask, torch.tensor(a, dtype=f64), torch.tensor(b, dtype=f64))


class StackedOptimizer:
    """``torch.optim`` Adam, RMSprop (no momentum) and SGD with momentum, for stacked parameters.

    One rule for all three, with per-model coefficients (so models with different optimizers share
    one stack and one set of element-wise operations)::

        g = grad + weight_decay * theta
        m = beta1 * m + c1 * g          # Adam: 0.9, 0.1; SGD: momentum, 1; RMSprop: 0, 1
        v = beta2 * v + c2 * g * g      # Adam: 0.999, 0.001; RMSprop: 0.99, 0.01; SGD: 1, 0
        theta -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)

    with Adam's bias corrections ``bc = 1 - beta ** step`` (1 for the others) and ``eps`` 1e-8
    (1 for SGD, whose ``v`` stays 0, so the denominator is exactly 1). This is ``torch.optim``'s
    arithmetic up to rounding (Adam's ``lerp`` is written as a weighted sum).

    Parameters
    ----------
    kinds : sequence of {"adam", "rmsprop", "sgd"}
    lrs, momentums, weight_decays : sequence of float
        Per model; ``momentum`` is used by SGD only.
    n_params : int
        Columns of ``theta``.
    """

    def __init__(
        self,
        kinds: Sequence[str],
        lrs: Sequence[float],
        momentums: Sequence[float],
        weight_decays: Sequence[float],
        n_params: int,
    ) -> None:
        n = len(kinds)
        unknown = sorted({str(k) for k in kinds} - set(OPTIMIZER_KINDS))
        if unknown:
            # an unknown kind would otherwise get no rule of its own: eps 1e-8 and v = 0, a step
            # 10^8 times too large
            raise StackError(
                f"optimizer kind {unknown[0]!r} cannot be stacked; expected one of {OPTIMIZER_KINDS}"
            )
        lengths = {len(lrs), len(momentums), len(weight_decays)}
        if lengths != {n}:
            raise StackError(
                f"StackedOptimizer: kinds, lrs, momentums and weight_decays must have one entry per "
                f"model ({n}); got lengths {len(lrs)}, {len(momentums)}, {len(weight_decays)}"
            )
        self.kinds = list(kinds)
        self.lr = torch.tensor(list(lrs), dtype=torch.float64)
        adam = torch.tensor([k == "adam" for k in kinds])
        rms = torch.tensor([k == "rmsprop" for k in kinds])
        sgd = torch.tensor([k == "sgd" for k in kinds])
        mom = torch.tensor(list(momentums), dtype=torch.float64)
        b1, b2 = _ADAM_BETAS
        self._adam = adam
        self._beta1 = torch.where(adam, b1, torch.where(sgd, mom, 0.0)).float().unsqueeze(1)
        self._c1 = torch.where(adam, 1.0 - b1, 1.0).float().unsqueeze(1)
        beta2 = torch.where(adam, b2, torch.where(rms, _RMSPROP_ALPHA, 1.0))
        self._beta2 = beta2.float().unsqueeze(1)
        self._c2 = (1.0 - beta2).float().unsqueeze(1)
        self._eps = torch.where(sgd, 1.0, _EPS).float().unsqueeze(1)
        wd = torch.tensor(list(weight_decays), dtype=torch.float32).unsqueeze(1)
        self._wd = wd if bool((wd != 0).any()) else None
        self._adaptive = bool((adam | rms).any())
        self._momentum = bool((self._beta1 != 0).any())
        self.m = torch.zeros((n, n_params))
        self.v = torch.zeros((n, n_params)) if self._adaptive else None
        self.steps = 0

    def set_lr(self, lrs: Sequence[float]) -> None:
        """Per-model learning rates of the coming steps."""
        self.lr = torch.tensor(list(lrs), dtype=torch.float64)

    @torch.no_grad()
    def step(self, theta: Tensor, grad: Tensor) -> None:
        """Update ``theta`` ``(N, P)`` in place from ``grad`` ``(N, P)``."""
        self.steps += 1
        t = self.steps
        b1, b2 = _ADAM_BETAS
        bc1 = _where(self._adam, 1.0 - b1**t, 1.0)
        step = (self.lr / bc1).float().unsqueeze(1)
        g = grad if self._wd is None else grad.add(theta * self._wd)
        if self._momentum:
            self.m.mul_(self._beta1).add_(g * self._c1)
            update = self.m
        else:
            update = g
        if self.v is not None:
            sqrt_bc2 = _where(self._adam, (1.0 - b2**t) ** 0.5, 1.0).float().unsqueeze(1)
            self.v.mul_(self._beta2).addcmul_(g, g * self._c2)
            denom = self.v.sqrt().div_(sqrt_bc2).add_(self._eps)
            theta.sub_(update.mul(step).div_(denom))
        else:
            theta.sub_(update * step)

    def select(self, index: Sequence[int]) -> StackedOptimizer:
        """The optimizer of the models at ``index`` (state copied)."""
        idx = torch.as_tensor(list(index), dtype=torch.long)
        new = object.__new__(StackedOptimizer)
        new.__dict__.update(self.__dict__)
        new.kinds = [self.kinds[i] for i in index]
        for name in ("lr", "_adam", "_beta1", "_c1", "_beta2", "_c2", "_eps", "_wd", "m", "v"):
            value = getattr(self, name)
            setattr(new, name, None if value is None else value.index_select(0, idx))
        return new
