"""Activations and initialization of the built-in architectures, from a local generator only.

Modules are created on the ``meta`` device and :func:`materialize` then allocates them on the CPU and
writes every parameter and buffer from a passed ``torch.Generator``, so that a builder called with
the same seed is bit-identical and PyTorch's global random state is never touched.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import torch
from torch import nn

from weightspace.zoo.architectures.base import ArchitectureError, SequentialNet, check_choice

__all__ = [
    "ACTIVATIONS",
    "SCHURHOLT_INITS",
    "init_weight",
    "make_activation",
    "materialize",
]

#: The activations a builder may name, each a zero-argument module factory.
ACTIVATIONS: Mapping[str, Callable[[], nn.Module]] = MappingProxyType(
    {
        "relu": nn.ReLU,
        "elu": nn.ELU,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "gelu": nn.GELU,
        "leakyrelu": nn.LeakyReLU,
        "silu": nn.SiLU,
    }
)

#: The weight initializations of Schürholt et al.'s zoos: ``torch.nn.init`` with its defaults
#: (``uniform`` is U(0, 1), ``normal`` N(0, 1)).
SCHURHOLT_INITS: tuple[str, ...] = (
    "uniform",
    "normal",
    "kaiming_uniform",
    "kaiming_normal",
    "xavier_uniform",
    "xavier_normal",
)

# TensorFlow 1.x draws Glorot-normal weights from a normal truncated at 2 std, with the std divided by
# this constant so that the truncated distribution keeps the variance 2 / (fan_in + fan_out).
_TRUNCATED_STD = 0.87962566103423978


def make_activation(arch: str, name: str, allowed: Sequence[str]) -> nn.Module:
    """A new activation module ``name``, checked against the ``allowed`` names of ``arch``."""
    check_choice(arch, "activation", name, allowed)
    return ACTIVATIONS[name]()


def init_weight(weight: torch.Tensor, scheme: str, generator: torch.Generator) -> None:
    """Initialize a conv or linear weight in place (PyTorch layout ``(out, in, *spatial)``)."""
    if scheme == "constant":
        nn.init.constant_(weight, 0.1)
    elif scheme == "normal":
        nn.init.normal_(weight, 0.0, 1.0, generator=generator)
    elif scheme == "uniform":
        nn.init.uniform_(weight, 0.0, 1.0, generator=generator)
    elif scheme in ("glorot_uniform", "xavier_uniform"):
        nn.init.xavier_uniform_(weight, generator=generator)
    elif scheme == "xavier_normal":
        nn.init.xavier_normal_(weight, generator=generator)
    elif scheme == "glorot_normal":  # TensorFlow 1.x: truncated at 2 std, variance-corrected
        fan_in = weight.shape[1] * weight[0][0].numel()
        fan_out = weight.shape[0] * weight[0][0].numel()
        std = math.sqrt(2.0 / (fan_in + fan_out)) / _TRUNCATED_STD
        nn.init.trunc_normal_(weight, 0.0, std, -2.0 * std, 2.0 * std, generator=generator)
    elif scheme == "kaiming_uniform":
        nn.init.kaiming_uniform_(weight, generator=generator)
    elif scheme == "kaiming_normal":
        nn.init.kaiming_normal_(weight, generator=generator)
    elif scheme == "default":  # PyTorch's own reset_parameters
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    else:  # pragma: no cover - guarded by the builders
        raise ArchitectureError(f"unknown init scheme {scheme!r}")


def materialize(
    net: SequentialNet,
    *,
    init: str,
    generator: torch.Generator,
    bias: float | None,
    bn_gamma_std: float = 0.0,
) -> SequentialNet:
    """Allocate a meta-device net on the CPU and write every parameter and buffer from ``generator``.

    ``bias=None`` draws biases as PyTorch does by default (uniform in +-1/sqrt(fan_in)).
    """
    net.to_empty(device="cpu")
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d):
                init_weight(module.weight, init, generator)
                if module.bias is not None:
                    if bias is None:
                        bound = 1.0 / math.sqrt(module.weight[0].numel())
                        nn.init.uniform_(module.bias, -bound, bound, generator=generator)
                    else:
                        nn.init.constant_(module.bias, bias)
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
                if module.affine:
                    nn.init.zeros_(module.bias)
                    if bn_gamma_std > 0:
                        nn.init.normal_(module.weight, 1.0, bn_gamma_std, generator=generator)
                    else:
                        nn.init.ones_(module.weight)
            elif any(True for _ in module.parameters(recurse=False)):  # pragma: no cover
                raise ArchitectureError(f"no initializer for {type(module).__name__}")
    return net
