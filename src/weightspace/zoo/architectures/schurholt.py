"""The zoo networks of Schürholt et al., *Self-supervised representation learning on neural network
weights for model characteristic prediction* (NeurIPS 2021): ``schurholt-cnn`` and ``tetris-mlp``."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from weightspace.zoo.architectures.base import (
    SequentialNet,
    builder_hparams,
    check_choice,
    dropout_rate,
    positive_int,
)
from weightspace.zoo.architectures.initialization import ACTIVATIONS, SCHURHOLT_INITS, materialize
from weightspace.zoo.architectures.mlp import mlp_layers

__all__ = ["SCHURHOLT_ACTIVATIONS", "schurholt_cnn", "tetris_mlp"]

#: The activations of their zoos' grids.
SCHURHOLT_ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid", "gelu", "leakyrelu", "silu")


def schurholt_cnn(
    *,
    generator: torch.Generator,
    in_channels: int = 1,
    input_size: int = 28,
    n_classes: int = 10,
    activation: str = "tanh",
    dropout: float = 0.0,
    init: str = "uniform",
) -> SequentialNet:
    """The 2,464-parameter zoo CNN of Schürholt et al. for 28 x 28 MNIST.

    Conv(1->8, 5x5) -> MaxPool 2 -> act -> [dropout] -> Conv(8->6, 5x5) -> MaxPool 2 -> act ->
    [dropout] -> Conv(6->4, 2x2) -> act -> Flatten(36) -> Linear(36->20) -> act -> [dropout] ->
    Linear(20->10); layer sizes 208 + 1206 + 100 + 740 + 210. Dropout modules exist only when
    ``dropout > 0``, so module indices match the authors' ``module_list``.

    Parameters
    ----------
    generator : torch.Generator
    in_channels, input_size, n_classes : int, default=1, 28, 10
    activation : {"tanh", "relu", "sigmoid", "gelu", "leakyrelu", "silu"}, default="tanh"
    dropout : float, default=0.0
        The zoo grid uses 0 and 0.5.
    init : {"uniform", "normal", "kaiming_uniform", "kaiming_normal", "xavier_uniform", "xavier_normal"}
        As ``torch.nn.init`` with its defaults (``uniform`` is U(0, 1), ``normal`` N(0, 1)); biases 0.01.

    Examples
    --------
    >>> from weightspace.zoo.architectures import create_architecture
    >>> net = create_architecture("schurholt-cnn", seed=0, activation="relu", dropout=0.5)
    >>> tuple(net(torch.zeros(2, 1, 28, 28)).shape)
    (2, 10)
    """
    hparams = builder_hparams(locals())
    arch = "schurholt-cnn"
    positive_int(arch, "in_channels", in_channels)
    positive_int(arch, "n_classes", n_classes)
    positive_int(arch, "input_size", input_size, minimum=16)
    check_choice(arch, "activation", activation, SCHURHOLT_ACTIVATIONS)
    check_choice(arch, "init", init, SCHURHOLT_INITS)
    p_drop = dropout_rate(arch, dropout)
    side = ((input_size - 4) // 2 - 4) // 2 - 1
    modules: list[nn.Module] = []
    with torch.device("meta"):
        for conv in (nn.Conv2d(in_channels, 8, 5), nn.Conv2d(8, 6, 5)):
            modules += [conv, nn.MaxPool2d(2, 2), ACTIVATIONS[activation]()]
            if p_drop > 0:
                modules.append(nn.Dropout(p_drop))
        modules += [nn.Conv2d(6, 4, 2), ACTIVATIONS[activation](), nn.Flatten()]
        modules += [nn.Linear(4 * side * side, 20), ACTIVATIONS[activation]()]
        if p_drop > 0:
            modules.append(nn.Dropout(p_drop))
        modules.append(nn.Linear(20, n_classes))
    net = SequentialNet(
        OrderedDict((str(i), m) for i, m in enumerate(modules)),
        architecture=arch,
        input_shape=(in_channels, input_size, input_size),
        n_classes=n_classes,
        hparams=hparams,
    )
    return materialize(net, init=init, generator=generator, bias=0.01)


def tetris_mlp(
    *,
    generator: torch.Generator,
    in_features: int = 16,
    hidden: int = 5,
    n_classes: int = 4,
    activation: str = "tanh",
    dropout: float = 0.0,
    init: str = "uniform",
    bias: bool = False,
) -> SequentialNet:
    """The 100-parameter Tetris MLP of Schürholt et al.: 16 -> 5 -> 4, no biases.

    The 4 x 4 Tetris images are flattened to 16 inputs; four shape classes. The zoo's index file
    lists layers of 80 (5 neurons x 16 inputs) and 20 (4 x 5) weights, so the layers have no bias.

    Parameters
    ----------
    generator : torch.Generator
    in_features, hidden, n_classes : int, default=16, 5, 4
    activation : {"tanh", "relu", "sigmoid", "gelu", "leakyrelu", "silu"}, default="tanh"
    dropout : float, default=0.0
    init : str, default="uniform"
        As for ``schurholt-cnn``; biases (if any) 0.01.
    bias : bool, default=False

    Examples
    --------
    >>> from weightspace.zoo.architectures import create_architecture
    >>> sum(p.numel() for p in create_architecture("tetris-mlp", seed=0).parameters())
    100
    """
    hparams = builder_hparams(locals())
    arch = "tetris-mlp"
    for param, value in (
        ("in_features", in_features),
        ("hidden", hidden),
        ("n_classes", n_classes),
    ):
        positive_int(arch, param, value)
    check_choice(arch, "init", init, SCHURHOLT_INITS)
    p_drop = dropout_rate(arch, dropout)
    layers = mlp_layers(
        arch,
        (in_features, hidden, n_classes),
        activation=activation,
        allowed=SCHURHOLT_ACTIVATIONS,
        dropout=p_drop,
        bias=bool(bias),
        batch_norm=False,
    )
    net = SequentialNet(
        layers,
        architecture=arch,
        input_shape=(in_features,),
        n_classes=n_classes,
        hparams=hparams,
    )
    return materialize(net, init=init, generator=generator, bias=0.01)
