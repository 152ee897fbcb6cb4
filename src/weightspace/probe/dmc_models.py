"""Networks of the deep meta-classifiers: 1-D CNNs scaled from NWS Table 3, and an MLP.

NWS (Eilertsen et al. 2020, appendix F.1, Table 3) specifies two 1-D CNNs with kernel size 5, batch
normalization and ReLU after every layer but the last, max-pooling by 2 after some convolutions,
dropout 0.5 after the hidden fully connected (FC) layers, and Glorot-normal initialization:

- the *global* DMC: 15 convolutions with 8, 16, 32, 64, 128 (x6), 256 (x5) channels, pooling after
  layers 1-9, 11, 13 and 15, then FC 1024, 1024, 1024, 1024, 64 and the output (10.9 M weights
  on the 92,868-weight input);
- the *local* DMC: 12 convolutions with 8, 16, 32, 64, 128, 256 (x7) channels, pooling after layers
  1, 2, 4, 6-9 and 12, then the same FC stack (10.4 M weights on a 5,000-weight window).

How they are scaled here (:func:`dmc_architecture`):

- **Widths** are multiplied by ``width`` (default 1/8: 8-256 channels become 4-32, FC 1024
  becomes 128 and FC 64 becomes 16), so that the networks train on two CPU cores; the depth,
  kernel size, normalization, dropout and initialization are the paper's.
- **Pooling** follows the rule of appendix F.2 (subset size): as many poolings as bring the input
  down to at most ``target_length`` (24; the paper ends at 19 for the local and 22 for the global
  DMC), added in a fixed order. For the local DMC layers 1, 2, 4 and 12 always pool and layers 6-11
  pool as the input grows (then 3 and 5); for the global DMC the paper's order 1-9, 11, 13, 15 (then
  10, 12, 14). With a 5,000-weight window or a 92,868-weight vector this gives exactly Table 3.
- The ``mlp`` alternative for the global DMC is Table 3's FC stack applied to the input directly.

Dropout draws from a generator owned by the network, so training is reproducible without touching
torch's global random state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from weightspace.probe.common import ProbeError
from weightspace.zoo.train import GeneratorDropout

__all__ = [
    "FC_WIDTHS",
    "GLOBAL_CHANNELS",
    "LOCAL_CHANNELS",
    "DMCArchitecture",
    "DMCNetwork",
    "build_network",
    "dmc_architecture",
]

#: Table 3, local DMC: channels of the 12 convolutions.
LOCAL_CHANNELS: tuple[int, ...] = (8, 16, 32, 64, 128) + (256,) * 7
#: Table 3, global DMC: channels of the 15 convolutions.
GLOBAL_CHANNELS: tuple[int, ...] = (8, 16, 32, 64) + (128,) * 6 + (256,) * 5
#: Table 3: hidden FC layers of both DMCs (each followed by BN, ReLU and dropout 0.5).
FC_WIDTHS: tuple[int, ...] = (1024, 1024, 1024, 1024, 64)
# Order in which layers get a max-pooling (1-based), and how many always pool.
_LOCAL_POOL_ORDER = (1, 2, 4, 12, 6, 7, 8, 9, 10, 11, 3, 5)
_LOCAL_MIN_POOLS = 4
_GLOBAL_POOL_ORDER = (1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 15, 10, 12, 14)

Kind = Literal["local", "global"]
Net = Literal["conv", "mlp"]
Depth = Literal["reduced", "full"]


@dataclass(frozen=True)
class DMCArchitecture:
    """A DMC network: 1-D convolutions (kernel ``kernel_size``), then FC layers, then the output.

    Attributes
    ----------
    input_length : int
        Weights per input (the window size, or the whole vector).
    channels : tuple of int
        Output channels of each convolution (empty for an MLP).
    pools : tuple of bool
        Max-pooling by 2 after each convolution.
    fc : tuple of int
        Hidden FC widths.
    n_outputs : int
        Classes (or 1 for regression).
    kernel_size : int, default=5
    dropout : float, default=0.5
    in_channels : int, default=3
        Input channels per weight position (see :mod:`weightspace.probe.dmc` for what they hold).
    """

    input_length: int
    channels: tuple[int, ...]
    pools: tuple[bool, ...]
    fc: tuple[int, ...]
    n_outputs: int
    kernel_size: int = 5
    dropout: float = 0.5
    in_channels: int = 3

    @property
    def flat_length(self) -> int:
        """Length of the signal entering the first FC layer (per channel)."""
        length = self.input_length
        for pool in self.pools:
            length = length // 2 if pool else length
        return length

    @property
    def n_weights(self) -> int:
        """Trainable weights (convolutions, FC layers and batch-norm scales and shifts)."""
        total, c_in = 0, self.in_channels
        for c in self.channels:
            total += c_in * c * self.kernel_size + c + 2 * c
            c_in = c
        n_in = (self.channels[-1] if self.channels else self.in_channels) * self.flat_length
        for f in self.fc:
            total += n_in * f + f + 2 * f
            n_in = f
        return total + n_in * self.n_outputs + self.n_outputs

    def describe(self) -> str:
        """One line: the layers (``p``: followed by a max-pooling) and the number of weights."""
        convs = ",".join(
            f"{c}{'p' if p else ''}" for c, p in zip(self.channels, self.pools, strict=True)
        )
        body = f" | conv{self.kernel_size} {convs}" if self.channels else ""
        return (
            f"input {self.input_length}{body} | fc {','.join(map(str, self.fc))} | "
            f"{self.n_outputs} output(s); {self.n_weights:,} weights"
        )


def dmc_architecture(
    kind: Kind,
    input_length: int,
    n_outputs: int,
    *,
    net: Net = "conv",
    width: float = 0.125,
    depth: Depth = "reduced",
    in_channels: int = 3,
    target_length: int = 24,
) -> DMCArchitecture:
    """The NWS Table 3 network for ``kind``, scaled by ``width`` and pooled for ``input_length``.

    Parameters
    ----------
    kind : {"local", "global"}
    input_length : int
        Window size (local) or vector length (global).
    n_outputs : int
    net : {"conv", "mlp"}, default="conv"
        ``mlp``: the FC stack on the input (global DMC only).
    width : float, default=0.125
        Multiplier of every channel count and FC width (1.0: the paper's widths).
    depth : {"reduced", "full"}, default="reduced"
        ``full``: Table 3's 12 (15) convolutions and 5 hidden FC layers; ``reduced``: only the
        convolutions followed by a pooling, and the first and last hidden FC layers.
    in_channels : int, default=3
        Input channels per weight position.
    target_length : int, default=24
        Pool until the signal is at most this long (the paper's networks end at 19 and 22).

    Examples
    --------
    >>> a = dmc_architecture("local", 5000, 4, width=1.0, depth="full", in_channels=1)
    >>> a.flat_length * a.channels[-1], a.n_weights > 10_000_000
    (4864, True)
    >>> b = dmc_architecture("global", 92868, 4, width=1.0, depth="full", in_channels=1)
    >>> b.flat_length * b.channels[-1]
    5632
    """
    if kind not in ("local", "global"):
        raise ProbeError(f"kind must be 'local' or 'global'; got {kind!r}")
    if net not in ("conv", "mlp"):
        raise ProbeError(f"net must be 'conv' or 'mlp'; got {net!r}")
    if depth not in ("reduced", "full"):
        raise ProbeError(f"depth must be 'reduced' or 'full'; got {depth!r}")
    if isinstance(width, bool) or not (isinstance(width, int | float) and 0 < width <= 4):
        raise ProbeError(f"width must be a number in (0, 4]; got {width!r}")
    widths = FC_WIDTHS if depth == "full" else (FC_WIDTHS[0], FC_WIDTHS[-1])
    fc = tuple(max(64, round(f * width)) for f in widths)
    if net == "mlp":
        if kind == "local":
            raise ProbeError("the local DMC is a 1-D CNN; net='mlp' is for the global DMC")
        return DMCArchitecture(
            int(input_length), (), (), fc, int(n_outputs), in_channels=in_channels
        )
    base, order, min_pools = (
        (LOCAL_CHANNELS, _LOCAL_POOL_ORDER, _LOCAL_MIN_POOLS)
        if kind == "local"
        else (GLOBAL_CHANNELS, _GLOBAL_POOL_ORDER, 0)
    )
    needed = max(0, math.ceil(math.log2(max(1.0, input_length / target_length))))
    n_pools = min(len(order), max(min_pools, needed))
    if input_length // 2**n_pools < 1:
        raise ProbeError(
            f"an input of {input_length} weights is too short for the {kind} DMC's {n_pools} "
            f"poolings; use a window of at least {2**n_pools} weights"
        )
    pooled = set(order[:n_pools])
    layers = [i for i in range(len(base)) if depth == "full" or i + 1 in pooled]
    if not layers:  # a short global vector: no pooling needed, keep the first convolution
        layers = [0]
    channels = tuple(max(8, round(base[i] * width)) for i in layers)
    pools = tuple(i + 1 in pooled for i in layers)
    return DMCArchitecture(
        int(input_length), channels, pools, fc, int(n_outputs), in_channels=in_channels
    )


class DMCNetwork(nn.Module):
    """The network of a :class:`DMCArchitecture`; input ``(batch, in_channels, length)``, output
    logits ``(batch, n_outputs)``."""

    def __init__(self, arch: DMCArchitecture, generator: torch.Generator) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = arch.in_channels
        for c, pool in zip(arch.channels, arch.pools, strict=True):
            conv = nn.Conv1d(c_in, c, arch.kernel_size, padding=arch.kernel_size // 2)
            layers += [conv, nn.BatchNorm1d(c), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool1d(2))
            c_in = c
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.Flatten()]
        n_in = c_in * arch.flat_length
        for f in arch.fc:
            head += [nn.Linear(n_in, f), nn.BatchNorm1d(f), nn.ReLU()]
            head.append(GeneratorDropout(arch.dropout, generator))
            n_in = f
        head.append(nn.Linear(n_in, arch.n_outputs))
        self.head = nn.Sequential(*head)
        self.has_conv = bool(arch.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x) if self.has_conv else x
        out: torch.Tensor = self.head(h)
        return out


def build_network(arch: DMCArchitecture, *, seed: int, device: torch.device) -> DMCNetwork:
    """A :class:`DMCNetwork` with Glorot-normal weights and zero biases drawn from ``seed``."""
    init = torch.Generator().manual_seed(int(seed))
    dropout = torch.Generator(device=device).manual_seed(int(seed) + 1)
    network = DMCNetwork(arch, dropout)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.Conv1d | nn.Linear):
                nn.init.xavier_normal_(module.weight, generator=init)
                if module.bias is not None:
                    module.bias.zero_()
    return network.to(device)
