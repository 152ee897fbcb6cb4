"""Function-preserving permutations of hidden neurons and channels.

Permuting the output units of a hidden layer (rows of its kernel, its bias and the four vectors of
the batch norm that follows it) and, in the same way, the input units of the next layer (columns of
its kernel) leaves the function of a feed-forward network unchanged. Input and output units of the
network are never permuted.

Supported structures
--------------------
- **Modules**: an ``nn.Sequential`` (nested ``nn.Sequential`` are flattened), such as every
  architecture of :mod:`weightspace.zoo.architectures`. Between two consecutive kernel layers
  (``Linear``, ``Conv1d/2d/3d`` with ``groups=1``) only these may appear: batch norm (weight, bias,
  running mean and running variance are permuted), element-wise activations, dropout, pooling,
  softmax, identity, and one ``nn.Flatten`` at a conv -> linear boundary, where a channel permutation
  permutes groups of ``H*W`` consecutive input columns of the linear layer (channels-first flatten).
  Modules before the first and after the last kernel layer are left alone.
- **WeightSets**: a plain chain read layer by layer (as :func:`weightspace.load_weights` gives for the
  modules above): one kernel per layer, optionally a bias and batch-norm tensors of the same width,
  and the next kernel's input size equal to this layer's output size (or a multiple of it after a
  conv layer: the flatten boundary). Only shapes are checked; the WeightSet does not say how layers
  are wired.

Anything else (residual connections, concatenations, attention, grouped or transposed convolutions,
layer/group norm between hidden layers, a custom module whose forward order is unknown) raises
:class:`SymmetryError`.

Examples
--------
>>> import numpy as np, torch
>>> from weightspace.symmetry import permute
>>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
>>> twin = permute(net, np.random.default_rng(0))
>>> x = torch.randn(5, 3)
>>> bool(torch.allclose(net(x), twin(x), atol=1e-6))
True
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, overload

import numpy as np
import numpy.typing as npt

from weightspace.errors import WeightspaceError
from weightspace.io.weightset import WeightSet, WeightTensor

if TYPE_CHECKING:
    from torch import nn

__all__ = ["SymmetryError", "hidden_sizes", "permute", "random_permutations"]

_ModuleT = TypeVar("_ModuleT", bound="nn.Module")
_BN_ROLES = ("bn_gamma", "bn_beta", "bn_mean", "bn_var")


class SymmetryError(WeightspaceError):
    """A network's structure is not one whose hidden units can be permuted safely."""


@dataclass(frozen=True)
class _Hidden:
    """One permutable hidden layer: who produces the units, who normalizes and who consumes them."""

    size: int
    producer: str  # module name or WeightSet layer
    norms: tuple[str, ...]  # batch-norm modules / norm-only layers in between
    consumer: str
    group: int  # consecutive consumer input columns per unit (H*W at a flatten boundary)


# ------------------------------------------------------------------------------ public API
def hidden_sizes(model_or_weightset: nn.Module | WeightSet) -> tuple[int, ...]:
    """Widths of the permutable hidden layers, in forward order.

    Examples
    --------
    >>> import torch
    >>> from weightspace.symmetry import hidden_sizes
    >>> hidden_sizes(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)))
    (4,)
    """
    return tuple(h.size for h in _analyze(model_or_weightset))


def random_permutations(
    sizes: Sequence[int], rng: np.random.Generator | int | None = None
) -> list[np.ndarray]:
    """One uniformly random permutation of ``range(n)`` for each ``n`` in ``sizes``.

    Parameters
    ----------
    sizes : sequence of int
        Widths, e.g. from :func:`hidden_sizes`.
    rng : numpy.random.Generator or int, optional
        Source of randomness (an int seeds ``np.random.default_rng``).

    Returns
    -------
    list of numpy.ndarray
        Integer arrays of shape ``(n,)``.

    Examples
    --------
    >>> from weightspace.symmetry import random_permutations
    >>> [p.shape for p in random_permutations([3, 5], 0)]
    [(3,), (5,)]
    """
    gen = np.random.default_rng(rng)
    return [gen.permutation(int(n)) for n in sizes]


@overload
def permute(
    model_or_weightset: WeightSet,
    rng: np.random.Generator | int | None = ...,
    *,
    permutations: Sequence[npt.ArrayLike] | None = ...,
) -> WeightSet: ...
@overload
def permute(
    model_or_weightset: _ModuleT,
    rng: np.random.Generator | int | None = ...,
    *,
    permutations: Sequence[npt.ArrayLike] | None = ...,
) -> _ModuleT: ...
def permute(
    model_or_weightset: nn.Module | WeightSet,
    rng: np.random.Generator | int | None = None,
    *,
    permutations: Sequence[npt.ArrayLike] | None = None,
) -> nn.Module | WeightSet:
    """A random function-preserving permutation of the hidden units of a feed-forward network.

    Parameters
    ----------
    model_or_weightset : nn.Module or WeightSet
        An ``nn.Sequential`` stack or a WeightSet of a plain chain (see the module docstring).
    rng : numpy.random.Generator or int, optional
        Draws one permutation per hidden layer, in forward order (so a module and its WeightSet get
        the same permutations from equal generators).
    permutations : sequence of array-like, optional
        Explicit permutations, one per entry of :func:`hidden_sizes`; ``rng`` is then unused.

    Returns
    -------
    nn.Module or WeightSet
        A deep copy of the module (same training mode and device) or a new WeightSet with the same
        names, layers and roles; the input is not modified.

    Raises
    ------
    SymmetryError
        The structure is not supported, or ``permutations`` do not fit.

    Examples
    --------
    >>> import numpy as np
    >>> from weightspace import load_weights
    >>> from weightspace.symmetry import permute
    >>> from weightspace.zoo.architectures import create_architecture
    >>> net = create_architecture("mlp", seed=0, in_features=4, hidden=(6,), n_classes=2)
    >>> a = load_weights(permute(net, np.random.default_rng(1)))
    >>> b = permute(load_weights(net), np.random.default_rng(1))
    >>> bool(np.array_equal(a.vector(), b.vector()))
    True
    """
    hidden = _analyze(model_or_weightset)
    if permutations is None:
        perms = random_permutations([h.size for h in hidden], rng)
    else:
        perms = _check_permutations(permutations, hidden)
    if isinstance(model_or_weightset, WeightSet):
        return _permute_weightset(model_or_weightset, hidden, perms)
    return _permute_module(model_or_weightset, hidden, perms)


def _check_permutations(
    permutations: Sequence[npt.ArrayLike], hidden: Sequence[_Hidden]
) -> list[np.ndarray]:
    if len(permutations) != len(hidden):
        raise SymmetryError(
            f"permutations: expected {len(hidden)} (one per hidden layer, sizes "
            f"{[h.size for h in hidden]}); got {len(permutations)}"
        )
    out = []
    for i, (p, h) in enumerate(zip(permutations, hidden, strict=True)):
        arr = np.asarray(p)
        if arr.shape != (h.size,) or not np.array_equal(np.sort(arr), np.arange(h.size)):
            raise SymmetryError(
                f"permutations[{i}]: expected a permutation of range({h.size}) for hidden layer "
                f"{h.producer!r}; got an array of shape {arr.shape}"
            )
        out.append(arr.astype(np.int64))
    return out


def _analyze(obj: object) -> list[_Hidden]:
    if isinstance(obj, WeightSet):
        return _analyze_weightset(obj)
    import torch

    if isinstance(obj, torch.nn.Module):
        return _analyze_module(obj)
    raise TypeError(f"permute takes an nn.Module or a WeightSet; got {type(obj).__name__}")


# ------------------------------------------------------------------------------ modules
def _equivariant_types() -> tuple[type, ...]:
    from torch import nn

    return (
        nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish,
        nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.Softplus, nn.Softsign,
        nn.Tanhshrink, nn.LogSigmoid, nn.Softmax, nn.LogSoftmax, nn.Identity,
        nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
        nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
        nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
        nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
    )  # fmt: skip


def _leaves(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    from torch import nn

    out: list[tuple[str, nn.Module]] = []
    for name, child in module.named_children():
        qual = f"{prefix}{name}"
        if type(child) is nn.Sequential or (
            isinstance(child, nn.Sequential) and type(child).forward is nn.Sequential.forward
        ):
            out += _leaves(child, f"{qual}.")
        else:
            out.append((qual, child))
    return out


def _analyze_module(model: nn.Module) -> list[_Hidden]:
    from torch import nn

    if not isinstance(model, nn.Sequential) or type(model).forward is not nn.Sequential.forward:
        raise SymmetryError(
            f"permute needs an nn.Sequential stack (its forward order is its module order); got "
            f"{type(model).__name__}, whose forward may branch or add residuals. Rebuild it as "
            "nn.Sequential, or pass load_weights(model) for a shape-only check of a plain chain"
        )
    convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    leaves = _leaves(model)
    kernels = [i for i, (_, m) in enumerate(leaves) if isinstance(m, (nn.Linear, *convs))]
    for i in kernels:
        name, m = leaves[i]
        if isinstance(m, convs) and m.groups != 1:
            raise SymmetryError(
                f"module {name!r}: grouped/depthwise convolution (groups={m.groups}) is not supported"
            )
    equivariant = _equivariant_types()
    hidden = []
    for a, b in itertools.pairwise(kernels):
        (pname, producer), (cname, consumer) = leaves[a], leaves[b]
        size = producer.out_features if isinstance(producer, nn.Linear) else _width(producer)
        norms: list[str] = []
        flattened = False
        for qual, m in leaves[a + 1 : b]:
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if m.num_features != size:
                    raise SymmetryError(
                        f"module {qual!r}: batch norm of {m.num_features} features after "
                        f"{pname!r} with {size} outputs"
                    )
                norms.append(qual)
            elif isinstance(m, nn.Flatten):
                if m.start_dim != 1 or m.end_dim != -1:
                    raise SymmetryError(f"module {qual!r}: only Flatten(1, -1) is supported")
                flattened = True
            elif isinstance(m, nn.PReLU) and m.num_parameters == 1:
                continue
            elif not isinstance(m, equivariant):
                raise SymmetryError(
                    f"module {qual!r} ({type(m).__name__}) between {pname!r} and {cname!r} is not "
                    "supported: only batch norm, element-wise activations, dropout, pooling and a "
                    "Flatten may sit between two layers (no residual blocks, layer/group norm or "
                    "custom modules)"
                )
        group = _module_group(pname, producer, cname, consumer, size, flattened)
        hidden.append(_Hidden(size, pname, tuple(norms), cname, group))
    return hidden


def _width(conv: nn.Module) -> int:
    from torch import nn

    if not isinstance(conv, nn.modules.conv._ConvNd):  # pragma: no cover - callers check
        raise SymmetryError(f"{type(conv).__name__} is not a convolution")
    return conv.out_channels


def _module_group(
    pname: str, producer: nn.Module, cname: str, consumer: nn.Module, size: int, flattened: bool
) -> int:
    from torch import nn

    if isinstance(consumer, nn.Linear):
        if isinstance(producer, nn.Linear):
            ok, group = consumer.in_features == size, 1
        else:
            if not flattened:
                raise SymmetryError(
                    f"module {cname!r}: a Linear after the convolution {pname!r} needs an "
                    "nn.Flatten in between (otherwise it acts on the last spatial axis)"
                )
            ok, group = consumer.in_features % size == 0, consumer.in_features // size
        if not ok:
            raise SymmetryError(
                f"module {cname!r} takes {consumer.in_features} inputs, which does not fit the "
                f"{size} outputs of {pname!r}"
            )
        return group
    if isinstance(producer, nn.Linear) or type(producer) is not type(consumer) or flattened:
        raise SymmetryError(
            f"module {cname!r} ({type(consumer).__name__}) after {pname!r} "
            f"({type(producer).__name__}): only conv -> conv, conv -> Flatten -> linear and "
            "linear -> linear chains are supported"
        )
    in_channels = consumer.in_channels
    if in_channels != size:
        raise SymmetryError(
            f"module {cname!r} takes {in_channels} channels; {pname!r} gives {size}"
        )
    return 1


def _permute_module(
    model: _ModuleT, hidden: Sequence[_Hidden], perms: Sequence[np.ndarray]
) -> _ModuleT:
    import torch

    twin = copy.deepcopy(model)
    modules = dict(twin.named_modules())
    with torch.no_grad():
        for h, perm in zip(hidden, perms, strict=True):
            producer, consumer = modules[h.producer], modules[h.consumer]
            p = torch.as_tensor(perm, device=producer.weight.device)
            producer.weight.copy_(producer.weight[p])
            if getattr(producer, "bias", None) is not None:
                producer.bias.copy_(producer.bias[p])
            for qual in h.norms:
                norm = modules[qual]
                for attr in ("weight", "bias", "running_mean", "running_var"):
                    tensor = getattr(norm, attr, None)
                    if tensor is not None:
                        tensor.copy_(tensor[p])
            w = consumer.weight
            blocks = w.reshape(w.shape[0], h.size, h.group, *w.shape[2:])
            consumer.weight.copy_(blocks[:, p].reshape(w.shape))
    return twin


# ------------------------------------------------------------------------------ WeightSets
def _analyze_weightset(ws: WeightSet) -> list[_Hidden]:
    layers = ws.layers
    kernel_of: dict[str, WeightTensor] = {}
    for layer in layers:
        kernels = [t for t in ws.layer(layer) if t.role == "kernel"]
        if len(kernels) > 1:
            raise SymmetryError(
                f"{ws.source or 'WeightSet'}: layer {layer!r} has {len(kernels)} kernels; "
                "permute needs one kernel per layer"
            )
        if kernels:
            kernel_of[layer] = kernels[0]
    order = [layer for layer in layers if layer in kernel_of]
    hidden = []
    for a, b in itertools.pairwise(order):
        ka, kb = kernel_of[a], kernel_of[b]
        size = ka.shape[0]
        where = f"{ws.source or 'WeightSet'}: layers {a!r} -> {b!r}"
        _check_layer_tensors(ws, a, size, where)
        between = layers[layers.index(a) + 1 : layers.index(b)]
        for layer in between:
            _check_layer_tensors(ws, layer, size, where, norm_only=True)
        if len(kb.shape) > 2:
            ok, group = len(ka.shape) == len(kb.shape) and kb.shape[1] == size, 1
        elif len(ka.shape) == 2:
            ok, group = kb.shape[1] == size, 1
        else:
            ok, group = kb.shape[1] % size == 0, kb.shape[1] // size
        if not ok:
            raise SymmetryError(
                f"{where}: kernel {kb.name!r} of shape {kb.shape} does not take the {size} outputs "
                f"of {ka.name!r} (shape {ka.shape}); permute needs a plain feed-forward chain "
                "(residual or branching networks are not supported)"
            )
        hidden.append(_Hidden(size, a, tuple(between), b, group))
    return hidden


def _check_layer_tensors(
    ws: WeightSet, layer: str, size: int, where: str, *, norm_only: bool = False
) -> None:
    allowed = _BN_ROLES if norm_only else ("kernel", "bias", *_BN_ROLES)
    for t in ws.layer(layer):
        if not t.is_float:
            continue  # num_batches_tracked and other counters
        if t.role not in allowed:
            raise SymmetryError(
                f"{where}: tensor {t.name!r} has role {t.role!r}, which permute cannot place; "
                f"expected only {', '.join(allowed)} here"
            )
        if t.role != "kernel" and t.shape != (size,):
            raise SymmetryError(
                f"{where}: tensor {t.name!r} has shape {t.shape}; expected ({size},) to match the "
                "layer's outputs"
            )


def _permute_weightset(
    ws: WeightSet, hidden: Sequence[_Hidden], perms: Sequence[np.ndarray]
) -> WeightSet:
    arrays = {t.name: t.array for t in ws.tensors}
    for h, perm in zip(hidden, perms, strict=True):
        for layer in (h.producer, *h.norms):
            for t in ws.layer(layer):
                if t.is_float:  # kernel rows, bias, batch norm (checked by _analyze_weightset)
                    arrays[t.name] = np.take(arrays[t.name], perm, axis=0)
        kernel = next(t for t in ws.layer(h.consumer) if t.role == "kernel")
        w = arrays[kernel.name]
        blocks = w.reshape(w.shape[0], h.size, h.group, *w.shape[2:])
        arrays[kernel.name] = np.take(blocks, perm, axis=1).reshape(w.shape)
    tensors = tuple(WeightTensor(t.name, t.layer, t.role, arrays[t.name]) for t in ws.tensors)
    return WeightSet(tensors, source=ws.source)
