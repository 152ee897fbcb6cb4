"""A registry of small network factories for model zoos (timm style).

Every entry builds a plain :class:`SequentialNet` (an ``nn.Sequential`` that records how it was built),
so that its state-dict order is its forward order, :func:`weightspace.load_weights` gives the NWS
vector (per layer: kernel, bias, then batch-norm gamma, beta, running mean, running variance), and
:func:`weightspace.symmetry.permute` can permute its hidden units.

Initialization never touches PyTorch's global random state: modules are created on the ``meta``
device and every parameter and buffer is then written from a local ``torch.Generator``, so
``create_architecture(name, seed=s)`` is bit-identical for the same ``s``.

Entries
-------
``nws-cnn``
    The CNN builder of Eilertsen et al. (ECAI 2020), from the authors' ``model.py``: three conv blocks
    (``conv_layers`` 3/4/5 spread as [1,1,1]/[1,1,2]/[1,2,2]; block ``c`` has ``conv_width * 2**c``
    channels; conv -> BN -> activation, SAME padding, stride 1; each block ends with a 2x2 max-pool),
    then ``fc_layers`` hidden FC layers (layer ``c`` has ``fc_width * 2**-c`` units; linear ->
    activation -> BN -> dropout) and a final linear layer without BN. ``fc_layers`` counts the hidden
    FC layers only: the default (fixed) architecture with ``n_classes=20`` (the authors' code has 20
    output units) has exactly the paper's 92,868 weights (16,880 conv + 75,988 FC), and its five
    batch-normalized layers give the 30 (layer, weight type) groups x 16 statistics = 480 features.
``schurholt-cnn``
    The 2,464-parameter MNIST CNN of Schürholt et al. (NeurIPS 2021). Module indices equal those of
    the authors' ``module_list``, so their checkpoints load after stripping ``"module_list."``.
``tetris-mlp``
    Their 100-parameter Tetris MLP: 16 -> 5 -> 4 without biases (the zoo's index file lists two
    layers of 80 and 20 weights, no bias).
``mlp``
    A generic MLP for tests and 1-D data.

Examples
--------
>>> from weightspace.zoo.architectures import create_architecture
>>> net = create_architecture("schurholt-cnn", seed=0)
>>> sum(p.numel() for p in net.parameters())
2464
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from weightspace.errors import WeightspaceError

__all__ = [
    "ArchitectureError",
    "ArchitectureFactory",
    "SequentialNet",
    "architecture_parameters",
    "create_architecture",
    "list_architectures",
    "register_architecture",
]

#: A factory takes a keyword-only ``generator`` (a seeded ``torch.Generator``) and its own keywords.
ArchitectureFactory = Callable[..., nn.Module]

_REGISTRY: dict[str, ArchitectureFactory] = {}

# TensorFlow 1.x draws Glorot-normal weights from a normal truncated at 2 std, with the std divided by
# this constant so that the truncated distribution keeps the variance 2 / (fan_in + fan_out).
_TRUNCATED_STD = 0.87962566103423978


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


# ---------------------------------------------------------------------------------- registry
def register_architecture(
    name: str, factory: ArchitectureFactory, *, overwrite: bool = False
) -> ArchitectureFactory:
    """Register ``factory`` under ``name``; returns the factory.

    Parameters
    ----------
    name : str
        Registry name (lower case with hyphens by convention, e.g. ``"my-cnn"``).
    factory : callable
        ``factory(*, generator: torch.Generator, **kw) -> nn.Module``; it must draw every random
        number from ``generator``.
    overwrite : bool, default=False
        Replace an existing entry instead of raising.

    Examples
    --------
    >>> from torch import nn
    >>> from weightspace.zoo.architectures import register_architecture
    >>> def tiny(*, generator, width=2):
    ...     return nn.Linear(width, 1)
    >>> _ = register_architecture("doc-tiny", tiny, overwrite=True)
    """
    if not isinstance(name, str) or not name.strip():
        raise ArchitectureError(f"architecture name must be a non-empty string; got {name!r}")
    if not callable(factory):
        raise ArchitectureError(f"architecture {name!r}: factory must be callable; got {factory!r}")
    if name in _REGISTRY and not overwrite:
        raise ArchitectureError(
            f"architecture {name!r} is already registered; pass overwrite=True to replace it"
        )
    _REGISTRY[name] = factory
    return factory


def list_architectures() -> tuple[str, ...]:
    """Names of the registered architectures, sorted."""
    return tuple(sorted(_REGISTRY))


def architecture_parameters(name: str) -> frozenset[str]:
    """The keyword parameters the factory of architecture ``name`` accepts.

    Examples
    --------
    >>> from weightspace.zoo.architectures import architecture_parameters
    >>> sorted(architecture_parameters("mlp"))[:3]
    ['activation', 'batch_norm', 'bias']
    """
    import inspect

    factory = _REGISTRY.get(name)
    if factory is None:
        raise ArchitectureError(
            f"unknown architecture {name!r}; known: {', '.join(list_architectures())}"
        )
    return frozenset(inspect.signature(factory).parameters)


def create_architecture(
    name: str, *, seed: int | None = None, generator: torch.Generator | None = None, **kw: Any
) -> nn.Module:
    """Build a registered architecture with freshly initialized weights.

    Parameters
    ----------
    name : str
        A name from :func:`list_architectures`.
    seed : int, optional
        Seed of the initialization; the same seed gives bit-identical weights.
    generator : torch.Generator, optional
        A CPU generator to draw from instead of ``seed`` (it advances). With neither, a generator
        seeded from the operating system is used; the global torch RNG is never used.
    **kw
        The builder's own parameters (see the factory's docstring).

    Returns
    -------
    nn.Module
        For the built-in entries a :class:`SequentialNet` in train mode, on the CPU, float32.

    Examples
    --------
    >>> from weightspace.zoo.architectures import create_architecture
    >>> a = create_architecture("mlp", seed=3, in_features=4, hidden=(8,), n_classes=2)
    >>> b = create_architecture("mlp", seed=3, in_features=4, hidden=(8,), n_classes=2)
    >>> bool((a[0].weight == b[0].weight).all())
    True
    """
    factory = _REGISTRY.get(name)
    if factory is None:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ArchitectureError(
            f"unknown architecture {name!r}{hint} Known: {', '.join(list_architectures())}"
        )
    if seed is not None and generator is not None:
        raise ArchitectureError(f"create_architecture({name!r}): pass seed or generator, not both")
    if generator is None:
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ArchitectureError(
                    f"create_architecture({name!r}): seed must be a non-negative int; got {seed!r}"
                )
            generator.manual_seed(seed)
    _check_keywords(name, factory, kw)
    return factory(generator=generator, **kw)


def _check_keywords(name: str, factory: ArchitectureFactory, kw: Mapping[str, Any]) -> None:
    params = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if n != "generator" and p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(kw) - set(accepted))
    if unknown:
        raise ArchitectureError(
            f"architecture {name!r}: unknown parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}; accepted: {', '.join(accepted)}"
        )


# ---------------------------------------------------------------------------------- helpers
_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "leakyrelu": nn.LeakyReLU,
    "silu": nn.SiLU,
}


def _hparams(values: Mapping[str, Any]) -> dict[str, Any]:
    """A builder's arguments (its ``locals()`` on entry) without the generator."""
    return {k: v for k, v in values.items() if k != "generator"}


def _choice(arch: str, param: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise ArchitectureError(
            f"architecture {arch!r}: {param} must be one of {list(allowed)}; got {value!r}"
        )


def _positive_int(arch: str, param: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ArchitectureError(
            f"architecture {arch!r}: {param} must be an int >= {minimum}; got {value!r}"
        )
    return value


def _activation(arch: str, name: str, allowed: Sequence[str]) -> nn.Module:
    _choice(arch, "activation", name, allowed)
    return _ACTIVATIONS[name]()


def _dropout(arch: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
        raise ArchitectureError(f"architecture {arch!r}: dropout must be in [0, 1); got {p!r}")
    return float(p)


def _init_weight(weight: torch.Tensor, scheme: str, generator: torch.Generator) -> None:
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


def _materialize(
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
                _init_weight(module.weight, init, generator)
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


# ---------------------------------------------------------------------------------- nws-cnn
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
    hparams = _hparams(locals())
    arch = "nws-cnn"
    for param, value in (("in_channels", in_channels), ("input_size", input_size)):
        _positive_int(arch, param, value)
    _positive_int(arch, "n_classes", n_classes)
    _positive_int(arch, "filter_size", filter_size)
    _positive_int(arch, "conv_layers", conv_layers, minimum=3)
    _positive_int(arch, "fc_layers", fc_layers, minimum=0)
    _positive_int(arch, "conv_width", conv_width)
    _positive_int(arch, "fc_width", fc_width)
    _choice(arch, "activation", activation, ("relu", "elu", "sigmoid", "tanh"))
    _choice(arch, "init", init, ("constant", "normal", "glorot_uniform", "glorot_normal"))
    p_drop = _dropout(arch, dropout)
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
                layers[f"{key}_act"] = _ACTIVATIONS[activation]()
                channels = width
            layers[f"pool{c + 1}"] = nn.MaxPool2d(2, ceil_mode=True)  # TensorFlow SAME pooling
            size = math.ceil(size / 2)
        layers["flatten"] = nn.Flatten()
        features = channels * size * size
        for c in range(fc_layers):
            units = scaled(int(fc_width * 2.0**-c))
            layers[f"fc{c + 1}"] = nn.Linear(features, units)
            layers[f"fc{c + 1}_act"] = _ACTIVATIONS[activation]()
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
    return _materialize(net, init=init, generator=generator, bias=0.0, bn_gamma_std=bn_gamma_std)


# ---------------------------------------------------------------------------------- Schürholt
_SCHURHOLT_ACTIVATIONS = ("tanh", "relu", "sigmoid", "gelu", "leakyrelu", "silu")
_SCHURHOLT_INITS = (
    "uniform",
    "normal",
    "kaiming_uniform",
    "kaiming_normal",
    "xavier_uniform",
    "xavier_normal",
)


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
    hparams = _hparams(locals())
    arch = "schurholt-cnn"
    _positive_int(arch, "in_channels", in_channels)
    _positive_int(arch, "n_classes", n_classes)
    _positive_int(arch, "input_size", input_size, minimum=16)
    _choice(arch, "activation", activation, _SCHURHOLT_ACTIVATIONS)
    _choice(arch, "init", init, _SCHURHOLT_INITS)
    p_drop = _dropout(arch, dropout)
    side = ((input_size - 4) // 2 - 4) // 2 - 1
    modules: list[nn.Module] = []
    with torch.device("meta"):
        for conv in (nn.Conv2d(in_channels, 8, 5), nn.Conv2d(8, 6, 5)):
            modules += [conv, nn.MaxPool2d(2, 2), _ACTIVATIONS[activation]()]
            if p_drop > 0:
                modules.append(nn.Dropout(p_drop))
        modules += [nn.Conv2d(6, 4, 2), _ACTIVATIONS[activation](), nn.Flatten()]
        modules += [nn.Linear(4 * side * side, 20), _ACTIVATIONS[activation]()]
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
    return _materialize(net, init=init, generator=generator, bias=0.01)


def _mlp_layers(
    arch: str,
    sizes: Sequence[int],
    *,
    activation: str,
    allowed: Sequence[str],
    dropout: float,
    bias: bool,
    batch_norm: bool,
) -> OrderedDict[str, nn.Module]:
    modules: list[nn.Module] = []
    with torch.device("meta"):
        for k in range(len(sizes) - 1):
            modules.append(nn.Linear(sizes[k], sizes[k + 1], bias=bias))
            if k == len(sizes) - 2:
                break
            if batch_norm:
                modules.append(nn.BatchNorm1d(sizes[k + 1]))
            modules.append(_activation(arch, activation, allowed))
            if dropout > 0:
                modules.append(nn.Dropout(dropout))
    # images (e.g. Tetris' 1 x 4 x 4) are flattened; flat inputs pass unchanged. Named apart so
    # that the layers keep their indices ("0.weight", ...).
    return OrderedDict([("flatten", nn.Flatten()), *((str(i), m) for i, m in enumerate(modules))])


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
    hparams = _hparams(locals())
    arch = "tetris-mlp"
    for param, value in (
        ("in_features", in_features),
        ("hidden", hidden),
        ("n_classes", n_classes),
    ):
        _positive_int(arch, param, value)
    _choice(arch, "init", init, _SCHURHOLT_INITS)
    p_drop = _dropout(arch, dropout)
    layers = _mlp_layers(
        arch,
        (in_features, hidden, n_classes),
        activation=activation,
        allowed=_SCHURHOLT_ACTIVATIONS,
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
    return _materialize(net, init=init, generator=generator, bias=0.01)


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
    hparams = _hparams(locals())
    arch = "mlp"
    _positive_int(arch, "in_features", in_features)
    _positive_int(arch, "n_classes", n_classes)
    if isinstance(hidden, int | str) or not isinstance(hidden, Sequence):
        raise ArchitectureError(f"architecture {arch!r}: hidden must be a sequence of ints")
    sizes = [in_features, *(_positive_int(arch, "hidden", h) for h in hidden), n_classes]
    inits = ("default", "constant", "glorot_uniform", "glorot_normal", *_SCHURHOLT_INITS)
    _choice(arch, "init", init, inits)
    p_drop = _dropout(arch, dropout)
    layers = _mlp_layers(
        arch,
        sizes,
        activation=activation,
        allowed=tuple(_ACTIVATIONS),
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
    return _materialize(
        net, init=init, generator=generator, bias=None if init == "default" else 0.0
    )


register_architecture("nws-cnn", nws_cnn)
register_architecture("schurholt-cnn", schurholt_cnn)
register_architecture("tetris-mlp", tetris_mlp)
register_architecture("mlp", mlp)
