"""What every architecture builder shares: the net it returns, its error and its parameter checks."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from weightspace.errors import WeightspaceError

__all__ = [
    "ArchitectureError",
    "ArchitectureFactory",
    "SequentialNet",
    "builder_hparams",
    "check_choice",
    "dropout_rate",
    "positive_int",
]

#: A factory takes a keyword-only ``generator`` (a seeded ``torch.Generator``) and its own keywords.
ArchitectureFactory = Callable[..., nn.Module]


class ArchitectureError(WeightspaceError):
    """An architecture name or parameter is not valid."""


class SequentialNet(nn.Sequential):
    """An ``nn.Sequential`` that records how it was built.

    Parameters
    ----------
    layers : OrderedDict of str to nn.Module
        The modules in forward order.
    architecture : str
        Registry name of the builder.
    input_shape : tuple of int
        Shape of one input sample (without the batch axis), e.g. ``(3, 32, 32)``.
    n_classes : int
        Number of outputs.
    hparams : mapping
        The keyword arguments the builder was called with (defaults filled in).
    """

    def __init__(
        self,
        layers: OrderedDict[str, nn.Module],
        *,
        architecture: str,
        input_shape: tuple[int, ...],
        n_classes: int,
        hparams: Mapping[str, Any],
    ) -> None:
        super().__init__(layers)
        self.architecture = architecture
        self.input_shape = tuple(input_shape)
        self.n_classes = n_classes
        self.hparams = dict(hparams)


def builder_hparams(values: Mapping[str, Any]) -> dict[str, Any]:
    """A builder's arguments (its ``locals()`` on entry) without the generator."""
    return {k: v for k, v in values.items() if k != "generator"}


def check_choice(arch: str, param: str, value: Any, allowed: Sequence[Any]) -> None:
    """Raise :class:`ArchitectureError` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ArchitectureError(
            f"architecture {arch!r}: {param} must be one of {list(allowed)}; got {value!r}"
        )


def positive_int(arch: str, param: str, value: Any, minimum: int = 1) -> int:
    """``value`` if it is an int (not a bool) ``>= minimum``; else :class:`ArchitectureError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ArchitectureError(
            f"architecture {arch!r}: {param} must be an int >= {minimum}; got {value!r}"
        )
    return value


def dropout_rate(arch: str, p: Any) -> float:
    """``p`` as a float if it is a drop probability in ``[0, 1)``; else :class:`ArchitectureError`."""
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
        raise ArchitectureError(f"architecture {arch!r}: dropout must be in [0, 1); got {p!r}")
    return float(p)
