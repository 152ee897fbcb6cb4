"""The CNN of Eilertsen et al., *Classifying the classifier: dissecting the weight space of neural
networks* (ECAI 2020), the ``nws-cnn`` architecture.

The layers are created in forward order, so that the state-dict order is the forward order and
:func:`weightspace.load_weights` gives the NWS vector: per layer the kernel, the bias, then the
batch-norm gamma, beta, running mean and running variance (conv -> BN -> activation in the conv
blocks; linear -> activation -> BN -> dropout in the hidden FC layers).
"""

from __future__ import annotations

import math
from collections import OrderedDict

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
from weightspace.zoo.architectures.initialization import ACTIVATIONS, materialize

__all__ = ["nws_cnn"]


def nws_cnn(
    *,
    generator: torch.Generator,
    in_channels: int = 3,
    input_size: int = 32,
    n_classes: int = 10,
    filter_size: int = 5,
    conv_layers: int = 3,
    fc_layers: int = 2,
    conv_width: int = 8,
    fc_width: int = 128,
    activation: str = "relu",
    init: str = "glorot_uniform",
    dropout: float = 0.5,
    width_scale: float = 1.0,
    bn_gamma_std: float = 0.002,
) -> SequentialNet:
    """The NWS CNN (Eilertsen et al., Algorithm 1); the defaults are the fixed architecture.

    Parameters
    ----------
    generator : torch.Generator
        Source of every random number.
    in_channels, input_size : int, default=3, 32
        Input shape ``(in_channels, input_size, input_size)``; the NWS zoo uses 3 x 32 x 32.
    n_classes : int, default=10
        Outputs of the final linear layer. The authors' code had 20 (only 10 used); pass 20 to get
        their exact weight counts.
    filter_size : int, default=5
        Conv kernel size (paper: 3, 5, 7), SAME padding, stride 1.
    conv_layers : int, default=3
        Conv layers (paper: 3, 4, 5), spread over three blocks as in the authors' code
        (3 -> [1,1,1], 4 -> [1,1,2], 5 -> [1,2,2]); at least 3.
    fc_layers : int, default=2
        Hidden FC layers (paper: 2, 3, 4), each linear -> activation -> BN -> dropout; the final
        logits layer comes on top and is not counted.
    conv_width, fc_width : int, default=8, 128
        Block ``c`` has ``conv_width * 2**c`` channels; hidden FC layer ``c`` has ``fc_width * 2**-c``
        units (paper: 4/8/12 and 64/128/192).
    activation : {"relu", "elu", "sigmoid", "tanh"}, default="relu"
    init : {"constant", "normal", "glorot_uniform", "glorot_normal"}, default="glorot_uniform"
        For conv filters and FC matrices only (constant 0.1; normal std 1; Glorot normal truncated
        as in TensorFlow 1.x); biases are 0.
    dropout : float, default=0.5
        Drop probability after each hidden FC layer.
    width_scale : float, default=1.0
        Multiplies every conv and hidden FC width (rounded, at least 1): a cheap CPU preset;
        1.0 is the faithful network.
    bn_gamma_std : float, default=0.002
        BN scales start at N(1, bn_gamma_std) as TensorLayer's BatchNormLayer did; 0 gives ones.

    Examples
    --------
    >>> from weightspace.zoo.architectures import create_architecture
    >>> net = create_architecture("nws-cnn", seed=0, n_classes=20)
    >>> sum(t.numel() for k, t in net.state_dict().items() if "num_batches" not in k)
    92868
    """
    hparams = builder_hparams(locals())
    arch = "nws-cnn"
    for param, value in (("in_channels", in_channels), ("input_size", input_size)):
        positive_int(arch, param, value)
    positive_int(arch, "n_classes", n_classes)
    positive_int(arch, "filter_size", filter_size)
    positive_int(arch, "conv_layers", conv_layers, minimum=3)
    positive_int(arch, "fc_layers", fc_layers, minimum=0)
    positive_int(arch, "conv_width", conv_width)
    positive_int(arch, "fc_width", fc_width)
    check_choice(arch, "activation", activation, ("relu", "elu", "sigmoid", "tanh"))
    check_choice(arch, "init", init, ("constant", "normal", "glorot_uniform", "glorot_normal"))
    p_drop = dropout_rate(arch, dropout)
    if not isinstance(width_scale, int | float) or not width_scale > 0:
        raise ArchitectureError(
            f"architecture {arch!r}: width_scale must be > 0; got {width_scale!r}"
        )
    if not isinstance(bn_gamma_std, int | float) or bn_gamma_std < 0:
        raise ArchitectureError(f"architecture {arch!r}: bn_gamma_std must be >= 0")

    blocks = [conv_layers // 3] * 3
    for c in (2, 1):  # the authors' spread: extra layers go to the later blocks
        if sum(blocks) < conv_layers:
            blocks[c] += 1

    def scaled(n: float) -> int:
        return max(1, round(n * width_scale))

    layers: OrderedDict[str, nn.Module] = OrderedDict()
    size, channels = input_size, in_channels
    with torch.device("meta"):
        for c, count in enumerate(blocks):
            width = scaled(conv_width * 2**c)
            for b in range(count):
                key = f"conv{c + 1}{b + 1}"
                layers[key] = nn.Conv2d(channels, width, filter_size, padding="same")
                layers[f"{key}_bn"] = nn.BatchNorm2d(width)
                layers[f"{key}_act"] = ACTIVATIONS[activation]()
                channels = width
            layers[f"pool{c + 1}"] = nn.MaxPool2d(2, ceil_mode=True)  # TensorFlow SAME pooling
            size = math.ceil(size / 2)
        layers["flatten"] = nn.Flatten()
        features = channels * size * size
        for c in range(fc_layers):
            units = scaled(int(fc_width * 2.0**-c))
            layers[f"fc{c + 1}"] = nn.Linear(features, units)
            layers[f"fc{c + 1}_act"] = ACTIVATIONS[activation]()
            layers[f"fc{c + 1}_bn"] = nn.BatchNorm1d(units)
            layers[f"fc{c + 1}_drop"] = nn.Dropout(p_drop)
            features = units
        layers["fc_final"] = nn.Linear(features, n_classes)
    net = SequentialNet(
        layers,
        architecture=arch,
        input_shape=(in_channels, input_size, input_size),
        n_classes=n_classes,
        hparams=hparams,
    )
    return materialize(net, init=init, generator=generator, bias=0.0, bn_gamma_std=bn_gamma_std)
