"""The stacked layers: one class per supported module, run on the model axis."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from weightspace.zoo.stacked.net import StackedNet

__all__ = [
    "ForwardRun",
    "Slot",
    "StackedActivation",
    "StackedBatchNorm",
    "StackedConv",
    "StackedDropout",
    "StackedFlatten",
    "StackedLayer",
    "StackedLinear",
    "StackedMaxPool",
    "expand_shared",
]


# ------------------------------------------------------------------------------------ layers
@dataclass(frozen=True)
class Slot:
    """Where one parameter lives in ``theta``: columns ``start:stop``, per-model ``shape``."""

    key: str
    shape: tuple[int, ...]
    start: int
    stop: int


@dataclass
class ForwardRun:
    """Context of one stacked forward pass."""

    params: list[Tensor]
    training: bool
    masks: dict[int, Tensor] = field(default_factory=dict)


class StackedLayer:
    """A stacked layer: ``(z, shared) -> (z, shared)``; ``shared`` means one input for all models,
    ``(B, *s)`` instead of ``(B, N, *s)`` (evaluation on a common data set)."""

    def __call__(
        self, net: StackedNet, z: Tensor, shared: bool, run: ForwardRun
    ) -> tuple[Tensor, bool]:
        raise NotImplementedError


def expand_shared(net: StackedNet, z: Tensor, shared: bool) -> Tensor:
    """Expand a shared input to the stacked layout ``(B, N, *s)``."""
    return z.unsqueeze(1).expand(z.shape[0], net.n_models, *z.shape[1:]) if shared else z


def _split(y: Tensor, n: int) -> Tensor:
    """View ``(B, N*C, ...)`` as ``(B, N, C, ...)`` (also for channels-last memory)."""
    return y.view(y.shape[0], n, y.shape[1] // n, *y.shape[2:])


def _to_channels_last(x: Tensor) -> Tensor:
    """``x`` in channels-last memory, so that the convolution's output (and the pooling after it)
    is channels-last too. One-channel inputs need explicit strides: for them PyTorch's
    ``contiguous(memory_format=channels_last)`` keeps the NCHW strides, and the convolution then
    writes NCHW, which made the evaluation of shared grey inputs 2.3x slower (conv + max-pool)."""
    if x.shape[1] == 1 and x.dim() == 4:
        x = x.contiguous()
        return x.as_strided(x.shape, (x.shape[2] * x.shape[3], 1, x.shape[3], 1))
    return x.contiguous(memory_format=torch.channels_last)


class StackedConv(StackedLayer):
    def __init__(self, m: nn.Conv2d, weight: int, bias: int | None) -> None:
        self.weight, self.bias = weight, bias
        self.stride, self.dilation = m.stride, m.dilation
        self.padding: str | tuple[int, ...] = m.padding
        self.out = m.out_channels

    def __call__(
        self, net: StackedNet, z: Tensor, shared: bool, run: ForwardRun
    ) -> tuple[Tensor, bool]:
        n = net.n_models
        w = run.params[self.weight]
        w = w.reshape(n * w.shape[1], *w.shape[2:])
        b = None if self.bias is None else run.params[self.bias].reshape(-1)
        if shared:  # one input for all: an ordinary convolution with all N*out filters
            x, groups = z, 1
        else:
            x, groups = z.flatten(1, 2), n
        if net.channels_last:
            x = _to_channels_last(x)
        y = F.conv2d(x, w, b, self.stride, self.padding, self.dilation, groups)
        return _split(y, n), False


class StackedLinear(StackedLayer):
    def __init__(self, weight: int, bias: int | None) -> None:
        self.weight, self.bias = weight, bias

    def __call__(
        self, net: StackedNet, z: Tensor, shared: bool, run: ForwardRun
    ) -> tuple[Tensor, bool]:
        n = net.n_models
        w = run.params[self.weight]  # (N, out, in)
        if shared:  # (B, in) @ (in, N*out)
            y = z @ w.reshape(-1, w.shape[2]).T
            if self.bias is not None:
                y = y + run.params[self.bias].reshape(-1)
            return _split(y, n), False
        x = z.transpose(0, 1)  # (N, B, in)
        if self.bias is None:
            y = torch.bmm(x, w.transpose(1, 2))
        else:
            y = torch.baddbmm(run.params[self.bias].unsqueeze(1), x, w.transpose(1, 2))
        return y.transpose(0, 1), False


class StackedBatchNorm(StackedLayer):
    def __init__(
        self, m: nn.modules.batchnorm._BatchNorm, weight: int | None, bias: int | None, index: int
    ) -> None:
        self.weight, self.bias, self.index = weight, bias, index
        self.eps = float(m.eps)
        self.momentum = float(m.momentum)  # type: ignore[arg-type]

    def __call__(
        self, net: StackedNet, z: Tensor, shared: bool, run: ForwardRun
    ) -> tuple[Tensor, bool]:
        z = expand_shared(net, z, shared)
        w = None if self.weight is None else run.params[self.weight].reshape(-1)
        b = None if self.bias is None else run.params[self.bias].reshape(-1)
        x = z.flatten(1, 2) if z.dim() > 3 else z.reshape(z.shape[0], -1)
        y = F.batch_norm(
            x,
            net.running_mean[self.index].view(-1),
            net.running_var[self.index].view(-1),
            w,
            b,
            run.training,
            self.momentum,
            self.eps,
        )
        if run.training:
            net.batches_tracked[self.index] += 1
        return y.view(z.shape), False


class StackedMaxPool(StackedLayer):
    def __init__(self, m: nn.MaxPool2d) -> None:
        self.m = m

    def __call__(
        self, net: StackedNet, z: Tensor, shared: bool, run: ForwardRun
    ) -> tuple[Tensor, bool]:
        m = self.m
        x = z if shared else z.flatten(1, 2)
        y = F.max_pool2d(x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
        return (y, True) if shared else (_split(y, net.n_models), False)


class StackedFlatten(StackedLayer):
    def __call__(
        self, net: StackedNet, z: Tensor, shared: bool, run: ForwardRun
    ) -> tuple[Tensor, bool]:
        if shared:
            return z.flatten(1), True
        return z.reshape(z.shape[0], z.shape[1], -1), False


class StackedActivation(StackedLayer):
    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(
        self, net: StackedNet, z: Tensor, shared: bool, run: ForwardRun
    ) -> tuple[Tensor, bool]:
        runs = net.activation_runs[self.index]
        if len(runs) == 1:
            return runs[0][2](z), shared
        z = expand_shared(net, z, shared)
        return torch.cat([fn(z[:, lo:hi]) for lo, hi, fn in runs], dim=1), False


class StackedDropout(StackedLayer):
    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(
        self, net: StackedNet, z: Tensor, shared: bool, run: ForwardRun
    ) -> tuple[Tensor, bool]:
        mask = run.masks.get(self.index)
        if not run.training or mask is None:
            return z, shared
        return expand_shared(net, z, shared) * mask, False
