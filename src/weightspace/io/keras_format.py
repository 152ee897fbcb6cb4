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
from weightspace.io.naming import assign_roles, natural_key, split_name
from weightspace.io.weightset import WeightSet

__all__ = ["read_keras_h5", "read_keras_zip"]

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


def read_keras_h5(path: Path) -> WeightSet:
    """Read a Keras HDF5 weights file (Keras 2 or Keras 3 layout)."""
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            arrays = _read_h5_handle(f, path, config=None)
    except OSError as exc:
        raise CheckpointError(path, f"truncated or corrupt HDF5 file ({exc})") from None
    return assign_roles(arrays, source=str(path))


def read_keras_zip(path: Path) -> WeightSet:
    """Read a Keras 3 ``.keras`` archive."""
    h5py = _h5py()
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json")) if "config.json" in z.namelist() else None
            blob = z.read("model.weights.h5")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(path, f"corrupt .keras archive ({exc})") from None
    try:
        with h5py.File(io.BytesIO(blob), "r") as f:
            arrays = _read_h5_handle(f, path, config=config)
    except OSError as exc:
        raise CheckpointError(
            path, f"corrupt model.weights.h5 inside the archive ({exc})"
        ) from None
    return assign_roles(arrays, source=str(path))


def _read_h5_handle(f: Any, path: Path, config: Any) -> dict[str, np.ndarray]:
    root = f.get("model_weights", f)
    if "layer_names" in root.attrs:
        arrays = _read_keras2(root)
    elif "layers" in root:
        arrays = _read_keras3(root["layers"], _layer_classes(config))
    else:
        raise CheckpointError(
            path,
            "HDF5 file without Keras weights (no 'layer_names' attribute, no 'layers' group); "
            "save it with model.save() or model.save_weights()",
        )
    if not arrays:
        raise CheckpointError(path, "the Keras file holds no weights")
    return {name: _to_torch_layout(name, a) for name, a in arrays.items()}


def _text(value: Any) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _read_keras2(root: Any) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for layer_name in (_text(n) for n in root.attrs["layer_names"]):
        group = root[layer_name]
        for weight_name in (_text(n) for n in group.attrs.get("weight_names", [])):
            name = weight_name.split(":")[0]
            arrays[name] = np.asarray(group[weight_name])
    return arrays


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
    layers = (config or {}).get("config", {}).get("layers", []) if isinstance(config, dict) else []
    used: dict[str, int] = {}
    out: dict[str, dict[str, Any]] = {}
    for node in layers:
        if not isinstance(node, dict):
            continue
        class_name = str(node.get("class_name", ""))
        name = _snake(class_name)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        out[name] = {"class_name": class_name, "config": node.get("config", {})}
    return out


def _read_keras3(layers: Any, classes: dict[str, dict[str, Any]]) -> dict[str, np.ndarray]:
    groups: list[tuple[str, Any]] = []

    def walk(group: Any, prefix: str) -> None:
        for key in group:
            child = group[key]
            if not hasattr(child, "keys"):
                continue
            if key == "vars":
                if len(child):
                    groups.append((prefix, child))
            else:
                nested = prefix if key == "layers" else (f"{prefix}/{key}" if prefix else key)
                walk(child, nested)

    walk(layers, "")
    known_order = {name: i for i, name in enumerate(classes)}
    groups.sort(key=lambda g: (known_order.get(g[0], len(known_order)), natural_key(g[0])))
    arrays: dict[str, np.ndarray] = {}
    for layer, vars_group in groups:
        values = [np.asarray(vars_group[k]) for k in sorted(vars_group, key=int)]
        info = classes.get(layer, {})
        snake = (
            _snake(str(info["class_name"])) if info else re.sub(r"_\d+$", "", layer.split("/")[-1])
        )
        for leaf, value in zip(
            _var_names(snake, info.get("config", {}), values), values, strict=True
        ):
            arrays[f"{layer}/{leaf}"] = value
    return arrays


def _var_names(snake: str, cfg: dict[str, Any], values: list[np.ndarray]) -> list[str]:
    """Names of a Keras 3 layer's numbered variables, from its class (snake_case) and config."""
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
