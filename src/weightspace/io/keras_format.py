"""Keras weights read with h5py alone (no TensorFlow): legacy ``.h5`` files and Keras 3 ``.keras``.

Layouts
-------
- Keras 2 / tf.keras HDF5 (``model.save("m.h5")`` or ``save_weights``): the group ``model_weights``
  (or the root) lists ``layer_names``; each layer group lists its ``weight_names``
  (``dense/kernel:0``...), which name the datasets.
- Keras 3 ``.keras`` (a zip of ``config.json`` and ``model.weights.h5``) and ``.weights.h5``: each
  layer is a group ``layers/<name>/vars`` holding datasets ``0, 1, ...``. Their meaning comes from the
  layer's class in ``config.json`` (Dense: kernel, bias; BatchNormalization: gamma, beta, moving mean,
  moving variance...).

Kernels are transposed to the PyTorch layout: ``(in, out)`` -> ``(out, in)`` and
``(kh, kw, in, out)`` -> ``(out, in, kh, kw)``.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from weightspace.errors import CheckpointError
from weightspace.io.archive import ZIP_ERRORS, check_zip_members, describe
from weightspace.io.hdf5_safety import (
    check_planned,
    has_link,
    is_group,
    open_object,
    read_names,
    read_planned,
)
from weightspace.io.limits import DEFAULT_MAX_WEIGHTS
from weightspace.io.naming import assign_roles, natural_key, split_name
from weightspace.io.weightset import WeightSet

__all__ = ["read_keras_h5", "read_keras_zip"]

#: What reading the archive and its config.json raises on a corrupt file.
_ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (*ZIP_ERRORS, RecursionError)

#: Groups nested deeper than this (or linked in a cycle) are refused.
_MAX_DEPTH = 64

_VAR_NAMES = {  # by the snake_case class name Keras 3 uses as the group name
    "dense": ["kernel", "bias"],
    "einsum_dense": ["kernel", "bias"],
    "embedding": ["embeddings"],
    "layer_normalization": ["gamma", "beta"],
    "group_normalization": ["gamma", "beta"],
    "p_re_lu": ["alpha"],
}


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "reading Keras files needs h5py: pip install 'weightspace[keras]'"
        ) from None
    return h5py


def read_keras_h5(path: Path, *, max_weights: int | None = DEFAULT_MAX_WEIGHTS) -> WeightSet:
    """Read a Keras HDF5 weights file (Keras 2 or Keras 3 layout).

    Datasets stored outside the file are refused and declared sizes are checked against
    ``max_weights`` before any data is read (see :mod:`weightspace.io.hdf5_safety`).
    """
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            arrays = _read_h5_handle(f, path, config=None, max_weights=max_weights)
    except CheckpointError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError... on corrupt files
        raise CheckpointError(
            path, f"truncated or corrupt HDF5 file ({describe(exc)}); save it again"
        ) from None
    return assign_roles(arrays, source=str(path))


def read_keras_zip(path: Path, *, max_weights: int | None = DEFAULT_MAX_WEIGHTS) -> WeightSet:
    """Read a Keras 3 ``.keras`` archive (its ``config.json`` and ``model.weights.h5``)."""
    h5py = _h5py()
    try:
        with zipfile.ZipFile(path) as z:
            check_zip_members(path, z, max_weights)
            config = json.loads(z.read("config.json")) if "config.json" in z.namelist() else None
            blob = z.read("model.weights.h5")
    except CheckpointError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise CheckpointError(path, f"corrupt .keras archive ({describe(exc)})") from None
    try:
        with h5py.File(io.BytesIO(blob), "r") as f:
            arrays = _read_h5_handle(f, path, config=config, max_weights=max_weights)
    except CheckpointError:
        raise
    except Exception as exc:  # as in read_keras_h5
        raise CheckpointError(
            path, f"corrupt model.weights.h5 inside the archive ({describe(exc)})"
        ) from None
    return assign_roles(arrays, source=str(path))


def _read_h5_handle(
    f: Any, path: Path, config: Any, max_weights: int | None
) -> dict[str, np.ndarray]:
    root = open_object(f, "model_weights", path) if has_link(f, "model_weights") else f
    if "layer_names" in root.attrs:
        planned = _plan_keras2(root, path)
    elif has_link(root, "layers"):
        planned = _plan_keras3(open_object(root, "layers", path), path, _layer_classes(config))
    elif any(key != "optimizer" and is_group(open_object(root, key, path)) for key in root):
        planned = _plan_keras3(root, path, {}, skip=frozenset({"optimizer"}))  # a subclassed model
    else:
        raise CheckpointError(
            path,
            "HDF5 file without Keras weights (no 'layer_names' attribute, no 'layers' group); "
            "save it with model.save() or model.save_weights()",
        )
    if not planned:
        raise CheckpointError(path, "the Keras file holds no weights")
    check_planned(path, planned, max_weights)
    return {name: _to_torch_layout(name, a) for name, a in read_planned(planned).items()}


def _plan_keras2(root: Any, path: Path) -> dict[str, Any]:
    """``name -> dataset`` of a Keras 2 file, from ``layer_names`` and each ``weight_names``."""
    planned: dict[str, Any] = {}
    for layer_name in read_names(root, "layer_names", path, required=True):
        group = open_object(root, layer_name, path, what=f"layer {layer_name!r}")
        if not is_group(group):
            raise CheckpointError(path, f"layer {layer_name!r} is a dataset, not a group")
        for weight_name in read_names(group, "weight_names", path, required=False):
            what = f"weight {weight_name!r} of layer {layer_name!r}"
            planned[weight_name.split(":")[0]] = open_object(group, weight_name, path, what=what)
    return planned


def _snake(class_name: str) -> str:
    """Keras 3's group name for a layer class (``BatchNormalization`` -> ``batch_normalization``)."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _layer_classes(config: Any) -> dict[str, dict[str, Any]]:
    """``h5 group name -> {"class_name", "config"}`` of the top-level layers, in model order.

    Keras 3 names a layer's weight group after its class, not its user name: ``dense``,
    ``dense_1``... counted per class in model order (``saving_lib._save_container_state``).
    """
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else None
    used: dict[str, int] = {}
    out: dict[str, dict[str, Any]] = {}
    for node in layers if isinstance(layers, list) else []:
        if not isinstance(node, dict):
            continue
        class_name = str(node.get("class_name", ""))
        name = _snake(class_name)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        layer_config = node.get("config")
        out[name] = {
            "class_name": class_name,
            "config": layer_config if isinstance(layer_config, dict) else {},
        }
    return out


def _plan_keras3(
    top: Any, path: Path, classes: dict[str, dict[str, Any]], *, skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """``name -> dataset`` of a Keras 3 file: every ``.../vars`` group under ``top``.

    ``top`` is the ``layers`` group (functional and sequential models), or the root of a subclassed
    model, whose layers are groups named after its attributes and whose own variables are the
    root's ``vars`` (named ``model/...``); ``skip`` leaves out the optimizer there.
    """
    groups: list[tuple[str, Any]] = []

    def walk(group: Any, prefix: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise CheckpointError(
                path, f"groups nested more than {_MAX_DEPTH} deep under {group.name!r}"
            )
        for key in group:
            if depth == 0 and key in skip:
                continue
            child = open_object(group, key, path)
            if not is_group(child):
                continue
            if key == "vars":
                if len(child):
                    groups.append((prefix, child))
            else:
                nested = prefix if key == "layers" else (f"{prefix}/{key}" if prefix else key)
                walk(child, nested, depth + 1)

    walk(top, "", 0)
    known_order = {name: i for i, name in enumerate(classes)}
    groups.sort(  # in model order where the config gives it; the model's own variables last
        key=lambda g: (known_order.get(g[0], len(known_order)), g[0] == "", natural_key(g[0]))
    )
    planned: dict[str, Any] = {}
    for layer, vars_group in groups:
        values = []
        for key in sorted(vars_group, key=natural_key):
            value = open_object(vars_group, key, path, what=f"variable {key!r} of {layer!r}")
            if is_group(value):
                raise CheckpointError(path, f"{value.name!r} is a group, not a dataset")
            values.append(value)
        info = classes.get(layer, {})
        snake = (
            _snake(str(info["class_name"])) if info else re.sub(r"_\d+$", "", layer.split("/")[-1])
        )
        for leaf, value in zip(
            _var_names(snake, info.get("config", {}), values), values, strict=True
        ):
            planned[f"{layer or 'model'}/{leaf}"] = value
    return planned


def _var_names(snake: str, cfg: dict[str, Any], values: list[Any]) -> list[str]:
    """Names of a Keras 3 layer's numbered variables (datasets), from its class and config."""
    if snake in _VAR_NAMES and len(_VAR_NAMES[snake]) == len(values):
        return _VAR_NAMES[snake]
    if snake.endswith("batch_normalization"):
        names = (["gamma"] if cfg.get("scale", True) else []) + (
            ["beta"] if cfg.get("center", True) else []
        )
        names += ["moving_mean", "moving_variance"]
        if len(names) == len(values):
            return names
    if values and values[0].ndim >= 2 and len(values) <= 2:
        if len(values) == 1:
            return ["kernel"]
        if values[1].ndim == 1:
            return ["kernel", "bias"]
    if len(values) == 4 and all(v.ndim == 1 for v in values):
        return ["gamma", "beta", "moving_mean", "moving_variance"]
    return [f"var{i}" for i in range(len(values))]


def _to_torch_layout(name: str, array: np.ndarray) -> np.ndarray:
    leaf = split_name(name)[1]
    if leaf.endswith("kernel") and array.ndim >= 2:
        n = array.ndim
        return array.transpose((n - 1, n - 2, *range(n - 2)))
    return array
