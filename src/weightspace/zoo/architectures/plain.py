"""The plain networks of the task zoos (hypothesis-training-testing, appendix C): ``plain-mlp``
(the paper's MLP-4) and ``plain-cnn`` (PlainNet), scaled down.

Both mix the task name (their ``dataset`` keyword) into the initialization seed, so that run ``r``
of two tasks does not start from one initialization. The tasks and their spaces are in
:mod:`weightspace.zoo.tasks`.
"""

from __future__ import annotations

import math
import zlib
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from weightspace.errors import WeightspaceError
from weightspace.zoo.architectures.base import SequentialNet, positive_int
from weightspace.zoo.architectures.initialization import make_activation, materialize

__all__ = ["plain_cnn", "plain_mlp", "salted_generator"]


def _task_error(message: str) -> WeightspaceError:
    """A :class:`weightspace.zoo.tasks.TaskError` (the error these nets raised in ``tasks.py``)."""
    from weightspace.zoo.tasks import TaskError  # tasks imports this module: import on use

    return TaskError(message)


def salted_generator(generator: torch.Generator, salt: str) -> torch.Generator:
    """A generator seeded from ``generator``'s next draw mixed with a hash of ``salt``."""
    if not salt:
        return generator
    draw = int(torch.randint(0, 2**62, (1,), generator=generator))
    return torch.Generator().manual_seed(draw ^ zlib.crc32(salt.encode()))


def plain_mlp(
    *,
    generator: torch.Generator,
    in_features: int = 64,
    hidden: Sequence[int] = (32, 32, 32),
    n_classes: int = 2,
    activation: str = "relu",
    init: str = "default",
    dataset: str = "",
) -> SequentialNet:
    """The paper's MLP-4 (appendix C), scaled: ``Flatten``, then ``Linear -> ReLU`` per hidden layer
    and a linear output layer (the paper: three hidden layers of 500 units).

    Parameters
    ----------
    generator : torch.Generator
    in_features : int, default=64
        Flattened input size (8 x 8 images: 64).
    hidden : sequence of int, default=(32, 32, 32)
    n_classes : int, default=2
    activation : str, default="relu"
    init : str, default="default"
        PyTorch's default initialization (weights and biases), or any scheme of the ``mlp``
        architecture (biases then 0).
    dataset : str, default=""
        Mixed into the initialization seed (the task zoo passes the task name), so that one seed
        gives different initializations on different tasks.

    Examples
    --------
    >>> from weightspace.zoo.architectures import create_architecture
    >>> net = create_architecture("plain-mlp", seed=0)
    >>> tuple(net(torch.zeros(3, 1, 8, 8)).shape)
    (3, 2)
    """
    hparams = {k: v for k, v in locals().items() if k != "generator"}
    arch = "plain-mlp"
    positive_int(arch, "in_features", in_features)
    positive_int(arch, "n_classes", n_classes)
    if isinstance(hidden, int | str) or not isinstance(hidden, Sequence):
        raise _task_error(
            f"architecture {arch!r}: hidden must be a sequence of ints; got {hidden!r}"
        )
    sizes = [in_features, *(positive_int(arch, "hidden", h) for h in hidden), n_classes]
    modules: list[nn.Module] = []
    with torch.device("meta"):
        modules.append(nn.Flatten())
        for k in range(len(sizes) - 1):
            modules.append(nn.Linear(sizes[k], sizes[k + 1]))
            if k < len(sizes) - 2:
                modules.append(
                    make_activation(arch, activation, ("relu", "leakyrelu", "tanh", "elu"))
                )
    net = SequentialNet(
        OrderedDict((str(i), m) for i, m in enumerate(modules)),
        architecture=arch,
        input_shape=(in_features,),
        n_classes=n_classes,
        hparams=hparams,
    )
    bias = None if init == "default" else 0.0
    return materialize(net, init=init, generator=salted_generator(generator, dataset), bias=bias)


def plain_cnn(
    *,
    generator: torch.Generator,
    in_channels: int = 1,
    input_size: int = 8,
    n_classes: int = 2,
    widths: Sequence[int] = (32, 64),
    filter_size: int = 3,
    activation: str = "relu",
    init: str = "default",
    dataset: str = "",
) -> SequentialNet:
    """The paper's PlainNet (appendix C), scaled: conv units ``Conv(k x k, SAME) -> ReLU -> BN ->
    MaxPool 2``, then one linear layer (PlainNet-5: four units and one linear layer).

    Parameters
    ----------
    generator : torch.Generator
    in_channels, input_size, n_classes : int, default=1, 8, 2
    widths : sequence of int, default=(32, 64)
        Channels of the conv units (one unit each).
    filter_size : int, default=3
    activation : str, default="relu"
    init : str, default="default"
        As for :func:`plain_mlp`.
    dataset : str, default=""
        Mixed into the initialization seed (see :func:`plain_mlp`).

    Examples
    --------
    >>> from weightspace.zoo.architectures import create_architecture
    >>> net = create_architecture("plain-cnn", seed=0)
    >>> tuple(net(torch.zeros(3, 1, 8, 8)).shape)
    (3, 2)
    """
    hparams = {k: v for k, v in locals().items() if k != "generator"}
    arch = "plain-cnn"
    for param, value in (("in_channels", in_channels), ("input_size", input_size)):
        positive_int(arch, param, value)
    positive_int(arch, "n_classes", n_classes)
    positive_int(arch, "filter_size", filter_size)
    if isinstance(widths, int | str) or not isinstance(widths, Sequence) or not widths:
        raise _task_error(f"architecture {arch!r}: widths must be a non-empty sequence of ints")
    modules: list[nn.Module] = []
    size, channels = input_size, in_channels
    with torch.device("meta"):
        for width in widths:
            positive_int(arch, "widths", width)
            modules += [
                nn.Conv2d(channels, width, filter_size, padding="same"),
                make_activation(arch, activation, ("relu", "leakyrelu", "tanh", "elu")),
                nn.BatchNorm2d(width),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            channels, size = width, math.ceil(size / 2)
        modules += [nn.Flatten(), nn.Linear(channels * size * size, n_classes)]
    net = SequentialNet(
        OrderedDict((str(i), m) for i, m in enumerate(modules)),
        architecture=arch,
        input_shape=(in_channels, input_size, input_size),
        n_classes=n_classes,
        hparams=hparams,
    )
    bias = None if init == "default" else 0.0
    return materialize(net, init=init, generator=salted_generator(generator, dataset), bias=bias)
