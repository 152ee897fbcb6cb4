"""A generic MLP (``mlp``), and the layer stack the MLPs of the registry share."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from weightspace.zoo.architectures.base import (
    ArchitectureError,
    SequentialNet,
    builder_hparams,
    check_choice,
    dropout_rate,
    positive_int,
)
from weightspace.zoo.architectures.initialization import (
    ACTIVATIONS,
    SCHURHOLT_INITS,
    make_activation,
    materialize,
)

__all__ = ["mlp", "mlp_layers"]


def mlp_layers(
    arch: str,
    sizes: Sequence[int],
    *,
    activation: str,
    allowed: Sequence[str],
    dropout: float,
    bias: bool,
    batch_norm: bool,
) -> OrderedDict[str, nn.Module]:
    """``Linear -> [BatchNorm1d] -> activation -> [Dropout]`` per hidden layer of ``sizes``, a
    linear output layer, after a ``flatten`` module (layer ``k`` keeps the name ``str(k)``)."""
    modules: list[nn.Module] = []
    with torch.device("meta"):
        for k in range(len(sizes) - 1):
            modules.append(nn.Linear(sizes[k], sizes[k + 1], bias=bias))
            if k == len(sizes) - 2:
                break
            if batch_norm:
                modules.append(nn.BatchNorm1d(sizes[k + 1]))
            modules.append(make_activation(arch, activation, allowed))
            if dropout > 0:
                modules.append(nn.Dropout(dropout))
    # images (e.g. Tetris' 1 x 4 x 4) are flattened; flat inputs pass unchanged. Named apart so
    # that the layers keep their indices ("0.weight", ...).
    return OrderedDict([("flatten", nn.Flatten()), *((str(i), m) for i, m in enumerate(modules))])


def mlp(
    *,
    generator: torch.Generator,
    in_features: int = 16,
    hidden: Sequence[int] = (32, 32),
    n_classes: int = 10,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    bias: bool = True,
    init: str = "default",
) -> SequentialNet:
    """A generic MLP: ``Linear -> [BatchNorm1d] -> activation -> [Dropout]`` per hidden layer.

    Parameters
    ----------
    generator : torch.Generator
    in_features : int, default=16
    hidden : sequence of int, default=(32, 32)
        Hidden layer widths (may be empty: a linear model).
    n_classes : int, default=10
    activation : {"relu", "elu", "sigmoid", "tanh", "gelu", "leakyrelu", "silu"}, default="relu"
    dropout : float, default=0.0
    batch_norm : bool, default=False
    bias : bool, default=True
    init : str, default="default"
        ``"default"`` is PyTorch's own initialization (biases too); any other scheme of
        ``nws-cnn`` or ``schurholt-cnn`` sets biases to 0.

    Examples
    --------
    >>> from weightspace.zoo.architectures import create_architecture
    >>> net = create_architecture("mlp", seed=0, in_features=40, hidden=(8, 8), n_classes=3)
    >>> tuple(net(torch.zeros(5, 40)).shape)
    (5, 3)
    """
    hparams = builder_hparams(locals())
    arch = "mlp"
    positive_int(arch, "in_features", in_features)
    positive_int(arch, "n_classes", n_classes)
    if isinstance(hidden, int | str) or not isinstance(hidden, Sequence):
        raise ArchitectureError(f"architecture {arch!r}: hidden must be a sequence of ints")
    sizes = [in_features, *(positive_int(arch, "hidden", h) for h in hidden), n_classes]
    inits = ("default", "constant", "glorot_uniform", "glorot_normal", *SCHURHOLT_INITS)
    check_choice(arch, "init", init, inits)
    p_drop = dropout_rate(arch, dropout)
    layers = mlp_layers(
        arch,
        sizes,
        activation=activation,
        allowed=tuple(ACTIVATIONS),
        dropout=p_drop,
        bias=bool(bias),
        batch_norm=bool(batch_norm),
    )
    net = SequentialNet(
        layers,
        architecture=arch,
        input_shape=(in_features,),
        n_classes=n_classes,
        hparams=hparams,
    )
    return materialize(net, init=init, generator=generator, bias=None if init == "default" else 0.0)
