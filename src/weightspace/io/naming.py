"""Layer grouping, roles and dtypes from tensor names, across framework conventions.

One function, :func:`assign_roles`, turns an ordered ``name -> array`` mapping into a
:class:`~weightspace.io.weightset.WeightSet`. It understands

- PyTorch names (``conv1.weight``, ``bn1.running_mean``, ``layers.0.norm.weight``),
- Keras names (``dense/kernel:0``, ``batch_normalization/moving_variance:0``),
- ONNX initializer names exported from either, and
- Hugging Face style transformer checkpoints (``model.layers.0.self_attn.q_proj.weight``,
  ``transformer.h.0.ln_1.bias``, ``bert.embeddings.LayerNorm.gamma``).

Rules (documented because users rely on them):

- The layer is the name up to its last ``.`` or ``/`` (a trailing ``:0`` is dropped).
- ``weight``/``kernel`` of two or more dimensions is a ``kernel``; ``bias`` is a ``bias``.
- A 1-D ``weight`` (or ``gamma``/``scale``) is the scale of a normalization layer: ``bn_gamma``; the
  ``bias``/``beta`` beside it is ``bn_beta``. So LayerNorm and RMSNorm affine parameters share the roles
  of batch norm; ``running_mean``/``moving_mean`` and ``running_var``/``moving_variance`` are ``bn_mean``
  and ``bn_var``.
- A batch-norm layer (one with running statistics) that directly follows a layer with a kernel is
  merged into that layer, so that the canonical vector is the NWS order "kernel, bias, gamma, beta,
  mean, variance" per layer. LayerNorm/RMSNorm layers stay layers of their own.
- Anything else is ``other``. Integer and boolean tensors are kept with role ``other`` and their dtype.
- Floating-point tensors become float32 (float16, bfloat16 and float64 are converted); complex and
  object arrays are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from weightspace.errors import CheckpointError
from weightspace.io.weightset import Role, WeightSet, WeightTensor

__all__ = ["assign_roles", "natural_key", "split_name", "to_float32"]

_KERNEL_LEAVES = {"weight", "kernel", "w", "weights", "depthwise_kernel", "pointwise_kernel"}
_BIAS_LEAVES = {"bias", "b", "biases"}
_GAMMA_LEAVES = {"gamma", "scale"}
_BETA_LEAVES = {"beta"}
_MEAN_LEAVES = {"running_mean", "moving_mean", "mean"}
_VAR_LEAVES = {"running_var", "moving_variance", "running_variance", "var", "variance"}
_SUFFIX = re.compile(r":\d+$")


def split_name(name: str) -> tuple[str, str]:
    """Split a tensor name into ``(layer, leaf)``.

    Examples
    --------
    >>> split_name("features.0.weight")
    ('features.0', 'weight')
    >>> split_name("model_weights/dense/dense/kernel:0")
    ('model_weights/dense/dense', 'kernel')
    >>> split_name("weights")
    ('', 'weights')
    """
    clean = _SUFFIX.sub("", name)
    cut = max(clean.rfind("."), clean.rfind("/"))
    if cut < 0:
        return "", clean
    return clean[:cut], clean[cut + 1 :]


def to_float32(array: np.ndarray, *, name: str, source: str) -> np.ndarray:
    """Convert a floating-point array to float32; keep integer/boolean arrays; refuse the rest.

    A float32 little-endian array (a memory map, say) is returned as it is, without a copy.
    """
    kind = array.dtype.kind
    if kind == "f":
        if array.dtype == np.float32 and array.dtype.byteorder in "=<|":
            return array
        return array.astype(np.float32)
    if kind in "iub":
        return array
    if kind == "V" and array.dtype.itemsize == 2 and array.dtype.names is None:
        # bfloat16 read as raw 2-byte values: the high half of a float32.
        return (array.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    raise CheckpointError(
        source,
        f"tensor {name!r} has dtype {array.dtype}, which is not a weight type "
        "(expected floating point, or integer/boolean kept as 'other'); remove it or convert it",
    )


def _leaf_role(leaf: str, ndim: int) -> Role | None:
    key = leaf.lower()
    if key in _MEAN_LEAVES:
        return "bn_mean"
    if key in _VAR_LEAVES:
        return "bn_var"
    if key in _GAMMA_LEAVES and ndim <= 1:
        return "bn_gamma"
    if key in _BETA_LEAVES:
        return "bn_beta"
    if key in _KERNEL_LEAVES or key.endswith("_kernel") or key in {"embeddings"}:
        if ndim >= 2:
            return "kernel"
        if ndim == 1:
            return "bn_gamma"
        return "other"
    if key in _BIAS_LEAVES:
        return "bias"
    return None


def assign_roles(
    arrays: Mapping[str, np.ndarray],
    *,
    source: str,
    roles: Mapping[str, Role] | None = None,
    merge_batchnorm: bool = True,
) -> WeightSet:
    """Build a :class:`WeightSet` from an ordered ``name -> array`` mapping.

    Parameters
    ----------
    arrays : mapping of str to numpy.ndarray
        Tensors in the order the source stores them (that order decides the layer order).
    source : str
        The file or object they come from, for messages and provenance.
    roles : mapping of str to role, optional
        Roles known for certain (from module types, say); other tensors get roles from their names.
    merge_batchnorm : bool, default=True
        Merge a batch-norm layer into the layer with a kernel just before it (NWS order).

    Returns
    -------
    WeightSet

    Raises
    ------
    CheckpointError
        If there is no floating-point tensor, or a tensor has an unsupported dtype.
    """
    known = dict(roles or {})
    layers: dict[str, str] = {}
    role_of: dict[str, Role] = {}
    converted: dict[str, np.ndarray] = {}
    for name, raw in arrays.items():
        array = to_float32(np.asarray(raw), name=name, source=source)
        converted[name] = array
        layers[name], leaf = split_name(name)
        if not np.issubdtype(array.dtype, np.floating):
            role_of[name] = "other"
        elif name in known:
            role_of[name] = known[name]
        else:
            role_of[name] = _leaf_role(leaf, array.ndim) or "other"

    if not any(np.issubdtype(a.dtype, np.floating) for a in converted.values()):
        raise CheckpointError(
            source,
            "no floating-point tensors found (nothing to use as weights); "
            "check that this is a model checkpoint and not, e.g., a tokenizer or an index",
        )

    # A layer whose 1-D "weight" is a norm scale: its bias is the norm shift.
    norm_layers = {layers[n] for n, r in role_of.items() if r in ("bn_gamma", "bn_mean", "bn_var")}
    for name, role in role_of.items():
        if role == "bias" and layers[name] in norm_layers and name not in known:
            role_of[name] = "bn_beta"

    if merge_batchnorm:
        _merge_batchnorm_layers(layers, role_of)

    tensors = [WeightTensor(n, layers[n], role_of[n], converted[n]) for n in converted]
    return WeightSet.from_tensors(tensors, source=source)


def _merge_batchnorm_layers(layers: dict[str, str], role_of: Mapping[str, Role]) -> None:
    """Re-label the tensors of each batch-norm layer with the kernel layer before it (in place)."""
    order = list(dict.fromkeys(layers.values()))
    members: dict[str, list[str]] = {layer: [] for layer in order}
    for name, layer in layers.items():
        members[layer].append(name)
    previous_kernel_layer: str | None = None
    for layer in order:
        roles = {role_of[n] for n in members[layer]}
        has_running_stats = bool(roles & {"bn_mean", "bn_var"})
        if has_running_stats and "kernel" not in roles and previous_kernel_layer is not None:
            for name in members[layer]:
                layers[name] = previous_kernel_layer
            previous_kernel_layer = None  # one batch norm per kernel layer
            continue
        previous_kernel_layer = layer if "kernel" in roles else None


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``layers.2`` before ``layers.10``.

    Used where a format does not keep the order tensors were saved in (safetensors sorts by name).

    Examples
    --------
    >>> sorted(["l.10.w", "l.2.w", "l.1.w"], key=natural_key)
    ['l.1.w', 'l.2.w', 'l.10.w']
    """
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _DIGITS.split(name) if p)
