"""Which networks can be stacked: supported modules, the stacking signature, and the check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from weightspace.errors import WeightspaceError

__all__ = [
    "Activation",
    "StackError",
    "activation_key",
    "activation_of",
    "check_stackable",
    "layer_signature",
    "leaf_modules",
    "model_signature",
]

Activation = Callable[[Tensor], Tensor]


class StackError(WeightspaceError):
    """Models cannot be stacked: unsupported modules or structures that differ."""


# ------------------------------------------------------------------------------------ structure
def activation_of(module: nn.Module) -> tuple[tuple[Any, ...], Activation] | None:
    """``(signature, function)`` of a supported activation module, or None."""
    kind = type(module)
    if kind is nn.ReLU:
        return ("relu",), torch.relu
    if kind is nn.Sigmoid:
        return ("sigmoid",), torch.sigmoid
    if kind is nn.Tanh:
        return ("tanh",), torch.tanh
    if kind is nn.SiLU:
        return ("silu",), F.silu
    if kind is nn.Identity:
        return ("identity",), _identity
    if isinstance(module, nn.ELU) and kind is nn.ELU:
        alpha = float(module.alpha)
        return ("elu", alpha), lambda x: F.elu(x, alpha)
    if isinstance(module, nn.GELU) and kind is nn.GELU:
        approximate = str(module.approximate)
        return ("gelu", approximate), lambda x: F.gelu(x, approximate=approximate)
    if isinstance(module, nn.LeakyReLU) and kind is nn.LeakyReLU:
        slope = float(module.negative_slope)
        return ("leakyrelu", slope), lambda x: F.leaky_relu(x, slope)
    return None


def _identity(x: Tensor) -> Tensor:
    return x


_SUPPORTED = (
    "Conv2d (groups=1, zero padding), Linear, BatchNorm1d/2d (with running statistics), "
    "MaxPool2d, Flatten(1, -1), Dropout, ReLU, ELU, Sigmoid, Tanh, GELU, LeakyReLU, SiLU, "
    "Identity, inside (nested) nn.Sequential"
)


def leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The non-container modules of a (nested) ``nn.Sequential`` in forward order, with names."""
    out: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, module: nn.Module) -> None:
        if isinstance(module, nn.Sequential):
            if type(module).forward is not nn.Sequential.forward:
                raise StackError(
                    f"module {prefix or '<root>'!r} ({type(module).__name__}) overrides "
                    "nn.Sequential.forward; batched training needs plain sequential networks"
                )
            for name, child in module.named_children():
                walk(f"{prefix}.{name}" if prefix else name, child)
        else:
            out.append((prefix, module))

    if not isinstance(model, nn.Sequential):
        raise StackError(
            f"batched training needs nn.Sequential networks (as every registered architecture); "
            f"got {type(model).__name__}"
        )
    walk("", model)
    return out


def layer_signature(name: str, m: nn.Module) -> tuple[Any, ...]:
    """What must agree between stacked models at one position (activations and dropout rates may
    differ); raises :class:`StackError` for an unsupported module."""
    if type(m) is nn.Conv2d:
        if m.groups != 1 or m.padding_mode != "zeros":
            raise StackError(
                f"layer {name!r}: only Conv2d with groups=1 and zero padding can be stacked; "
                f"got groups={m.groups}, padding_mode={m.padding_mode!r}"
            )
        return (
            "conv",
            m.in_channels,
            m.out_channels,
            m.kernel_size,
            m.stride,
            m.padding,
            m.dilation,
            m.bias is not None,
        )
    if type(m) is nn.Linear:
        return ("linear", m.in_features, m.out_features, m.bias is not None)
    if type(m) in (nn.BatchNorm1d, nn.BatchNorm2d):
        assert isinstance(m, nn.modules.batchnorm._BatchNorm)
        if not m.track_running_stats or m.momentum is None:
            raise StackError(
                f"layer {name!r}: batch norm needs track_running_stats=True and a float momentum"
            )
        return ("bn", type(m).__name__, m.num_features, m.eps, m.momentum, m.affine)
    if type(m) is nn.MaxPool2d:
        if m.return_indices:
            raise StackError(f"layer {name!r}: MaxPool2d(return_indices=True) is not supported")
        return ("pool", m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
    if type(m) is nn.Flatten:
        if (m.start_dim, m.end_dim) != (1, -1):
            raise StackError(f"layer {name!r}: only Flatten(start_dim=1, end_dim=-1) is supported")
        return ("flatten",)
    if type(m) is nn.Dropout:
        return ("dropout",)
    if activation_of(m) is not None:
        return ("activation",)
    raise StackError(
        f"layer {name!r}: {type(m).__name__} cannot be stacked; supported: {_SUPPORTED}"
    )


def activation_key(model: nn.Module) -> tuple[tuple[Any, ...], ...]:
    """The activations of ``model`` in forward order (a sort key that groups equal ones)."""
    found = (activation_of(m) for _, m in leaf_modules(model))
    return tuple(a[0] for a in found if a is not None)


def model_signature(model: nn.Module) -> tuple[Any, ...]:
    """A hashable description of everything two models must share to be stacked.

    Layer names, module types and their shapes and options; activations and dropout rates may differ.
    Raises :class:`StackError` for a network that cannot be stacked.
    """
    sig: list[Any] = []
    for name, module in leaf_modules(model):
        sig.append((name, *layer_signature(name, module)))
    for key, value in model.state_dict().items():
        sig.append((key, tuple(value.shape), str(value.dtype)))
    return tuple(sig)


def check_stackable(models: Sequence[nn.Module]) -> None:
    """Raise :class:`StackError`, naming the first difference, unless ``models`` (at least one)
    share one :func:`model_signature`."""
    if not models:
        raise StackError("no models to stack")
    sig = model_signature(models[0])
    for i, model in enumerate(models[1:], start=1):
        other = model_signature(model)
        if other != sig:
            raise StackError(_difference(sig, other, i))


def _difference(sig: tuple[Any, ...], other: tuple[Any, ...], index: int) -> str:
    for a, b in zip(sig, other, strict=False):
        if a != b:
            return (
                f"models[{index}] differs from models[0] and cannot be stacked with it: "
                f"expected {a}, got {b}; train models of different structures separately"
            )
    return (
        f"models[{index}] has {len(other)} layers and tensors, models[0] {len(sig)}; "
        "train models of different structures separately"
    )
