"""PyTorch checkpoints (``torch.save`` files) and in-memory modules and state dicts.

Files are loaded with ``torch.load(weights_only=True)``: a pickle that needs code to load (a pickled
``nn.Module``, an arbitrary object) is refused, never executed. Zip-format files are memory-mapped.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from weightspace.errors import CheckpointError, UnsafeCheckpointError
from weightspace.io.naming import assign_roles
from weightspace.io.weightset import Role, WeightSet

if TYPE_CHECKING:
    import torch

__all__ = ["read_module", "read_state_dict", "read_torch_file"]

#: Keys under which training scripts commonly nest the model's state dict.
_NESTED_KEYS = (
    "state_dict",
    "model_state_dict",
    "model",
    "module",
    "net",
    "network",
    "weights",
    "params",
)


def read_torch_file(path: Path) -> WeightSet:
    """Read a ``torch.save`` checkpoint without executing pickled code."""
    import torch

    is_zip = zipfile.is_zipfile(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        detail = str(exc).splitlines()
        hint = next((line.strip() for line in detail if "GLOBAL" in line or "global" in line), "")
        if "weights_only" in str(exc).lower() or "Weights only load failed" in str(exc):
            raise UnsafeCheckpointError(
                path,
                "the pickle needs code to load ("
                + (hint or "it references a Python object")
                + "); weightspace never runs pickled code. Re-save only the tensors: "
                "torch.save(model.state_dict(), path), or convert it to safetensors",
            ) from None
        raise CheckpointError(path, f"corrupt pickle ({detail[0] if detail else exc})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            path, f"truncated or corrupt PyTorch checkpoint ({first}); save it again"
        ) from None
    return read_state_dict(_find_state_dict(obj, str(path)), source=str(path))


def read_state_dict(
    state: Mapping[str, Any],
    *,
    source: str = "<state_dict>",
    roles: Mapping[str, Role] | None = None,
) -> WeightSet:
    """Read a ``name -> tensor`` mapping (torch tensors or NumPy arrays), in its own order."""
    arrays: dict[str, np.ndarray] = {}
    for name, value in state.items():
        arrays[str(name)] = _to_numpy(value, str(name), source)
    if not arrays:
        raise CheckpointError(source, "the state dict holds no tensors")
    return assign_roles(arrays, source=source, roles=roles)


def read_module(module: torch.nn.Module, *, source: str | None = None) -> WeightSet:
    """Read an ``nn.Module``: roles come from the module types, not only from the names."""
    import torch.nn as nn

    roles: dict[str, Role] = {}
    norm_types = (nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)
    rms_norm = getattr(nn, "RMSNorm", None)
    for prefix, sub in module.named_modules():
        dot = f"{prefix}." if prefix else ""
        if isinstance(sub, nn.modules.batchnorm._NormBase):
            roles.update(
                {
                    f"{dot}weight": "bn_gamma",
                    f"{dot}bias": "bn_beta",
                    f"{dot}running_mean": "bn_mean",
                    f"{dot}running_var": "bn_var",
                }
            )
        elif isinstance(sub, norm_types) or (rms_norm is not None and isinstance(sub, rms_norm)):
            roles.update({f"{dot}weight": "bn_gamma", f"{dot}bias": "bn_beta"})
        elif isinstance(sub, nn.modules.conv._ConvNd | nn.Linear | nn.Embedding | nn.Bilinear):
            roles.update({f"{dot}weight": "kernel", f"{dot}bias": "bias"})
    state = module.state_dict()
    name = source or f"<{type(module).__name__}>"
    return read_state_dict(state, source=name, roles={k: v for k, v in roles.items() if k in state})


def _find_state_dict(obj: Any, source: str) -> Mapping[str, Any]:
    import torch

    if isinstance(obj, torch.Tensor):
        return {"weights": obj}
    if isinstance(obj, list | tuple) and obj and all(isinstance(t, torch.Tensor) for t in obj):
        return {str(i): t for i, t in enumerate(obj)}
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            source, f"holds a {type(obj).__name__}, not tensors or a state dict; save a state dict"
        )
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    for key in _NESTED_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and any(_has_tensor(v) for v in inner.values()):
            return _flatten(inner)
    flat = _flatten({k: v for k, v in obj.items() if not str(k).startswith("optim")})
    if not flat:
        raise CheckpointError(
            source, "no tensors found in the checkpoint (keys: " + ", ".join(map(str, obj)) + ")"
        )
    return flat


def _has_tensor(value: Any) -> bool:
    import torch

    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, Mapping):
        return any(_has_tensor(v) for v in value.values())
    return False


def _flatten(tree: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor | np.ndarray):
            out[name] = value
        elif isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
    return out


def _to_numpy(value: Any, name: str, source: str) -> np.ndarray:
    import torch

    if isinstance(value, np.ndarray):
        return value
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(source, f"entry {name!r} is a {type(value).__name__}, not a tensor")
    tensor = value.detach()
    if tensor.is_quantized:
        raise CheckpointError(
            source,
            f"tensor {name!r} is quantized ({tensor.dtype}); dequantize the model first "
            "(tensor.dequantize()) and save its float state dict",
        )
    if tensor.layout != torch.strided:
        tensor = tensor.to_dense()
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    if tensor.is_complex():
        raise CheckpointError(source, f"tensor {name!r} is complex ({tensor.dtype}); not a weight")
    if tensor.is_floating_point() and tensor.dtype not in (
        torch.float32,
        torch.float64,
        torch.float16,
    ):
        tensor = tensor.float()  # bfloat16, float8: no NumPy dtype
    return tensor.numpy()
