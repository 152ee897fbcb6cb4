"""PyTorch checkpoints (``torch.save`` files) and in-memory modules and state dicts.

Files are loaded with ``torch.load(weights_only=True)``: a pickle that needs code to load (a pickled
``nn.Module``, an arbitrary object) is refused, never executed. Zip-format files are memory-mapped.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from weightspace.errors import CheckpointError, UnsafeCheckpointError
from weightspace.io.archive import ZIP_ERRORS, check_zip_members, describe
from weightspace.io.limits import DEFAULT_MAX_WEIGHTS, check_declared_weights
from weightspace.io.naming import assign_roles
from weightspace.io.pickle_scan import scan_pickle
from weightspace.io.weightset import Role, WeightSet

if TYPE_CHECKING:
    import torch

__all__ = ["read_module", "read_state_dict", "read_torch_file"]

#: Modules whose globals torch's safe unpickler allows in a state dict (tensor rebuilding).
_TORCH_GLOBALS = ("torch", "collections")

#: Mappings nested deeper than this are not a state dict (and would overflow the stack).
_MAX_DEPTH = 64

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


def read_torch_file(path: Path, *, max_weights: int | None = DEFAULT_MAX_WEIGHTS) -> WeightSet:
    """Read a ``torch.save`` checkpoint without executing pickled code.

    Zip-format files (what ``torch.save`` writes) are memory-mapped, so no tensor data is read
    before the tensors' element count is checked against ``max_weights``; their members' declared
    sizes are checked before loading. Other files must be a pickle (legacy ``torch.save``), or they
    are refused as not a checkpoint.
    """
    import torch

    is_zip = zipfile.is_zipfile(path)
    if is_zip:
        _check_torch_zip(path, max_weights)
    else:
        try:
            with path.open("rb") as f:
                scan_pickle(f)
        except ValueError as exc:
            raise CheckpointError(
                path,
                "not a PyTorch checkpoint: neither a zip archive written by torch.save nor a "
                f"pickle ({exc})",
            ) from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        raise _unpickling_error(path, exc, is_zip) from None
    except Exception as exc:  # RuntimeError, EOFError, KeyError... on corrupt files
        raise CheckpointError(
            path, f"truncated or corrupt PyTorch checkpoint ({describe(exc)}); save it again"
        ) from None
    state = _find_state_dict(obj, str(path))
    declared = sum(
        int(v.numel()) if isinstance(v, torch.Tensor) else int(np.size(v)) for v in state.values()
    )
    check_declared_weights(path, declared, max_weights, what="tensors")
    return read_state_dict(state, source=str(path))


def _globals_of(path: Path, is_zip: bool) -> list[str]:
    """Globals the checkpoint's pickle names (none if it is not a valid pickle)."""
    try:
        if not is_zip:
            with path.open("rb") as f:
                return scan_pickle(f)
        with zipfile.ZipFile(path) as z:
            member = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
            if member is None:
                return []
            with z.open(member) as f:
                return scan_pickle(f)
    except ZIP_ERRORS:  # ValueError (not a pickle) is one of them
        return []


def _check_torch_zip(path: Path, max_weights: int | None) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            check_zip_members(path, z, max_weights)
            for info in z.infolist():
                if "/data/" in info.filename and info.compress_type != zipfile.ZIP_STORED:
                    raise CheckpointError(
                        path,
                        f"tensor data {info.filename!r} is compressed; torch.save stores tensors "
                        "uncompressed (and weightspace memory-maps them): save it with torch.save",
                    )
    except zipfile.BadZipFile as exc:
        raise CheckpointError(path, f"corrupt zip archive ({describe(exc)})") from None


def _unpickling_error(path: Path, exc: Exception, is_zip: bool) -> CheckpointError:
    """Say why torch's safe unpickler refused a file: code to run, or not a checkpoint at all."""
    text = str(exc)
    match = re.search(r"GLOBAL ([\w.]+)", text)
    referenced = match.group(1) if match else None
    if referenced is None:
        found = [g for g in _globals_of(path, is_zip) if not g.startswith(_TORCH_GLOBALS)]
        referenced = found[0] if found else None
    if referenced is not None:
        return UnsafeCheckpointError(
            path,
            f"the pickle needs code to load (it references {referenced}); weightspace never runs "
            "pickled code. Re-save only the tensors: torch.save(model.state_dict(), path), or "
            "convert it to safetensors",
        )
    detail = next((line.strip() for line in text.splitlines() if "Unsupported" in line), "")
    return CheckpointError(
        path,
        "not a PyTorch checkpoint: a pickle that torch.load(weights_only=True) cannot read"
        + (f" ({detail})" if detail else "")
        + "; save the state dict with torch.save",
    )


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
        if isinstance(inner, Mapping) and any(_has_tensor(v, source, 1) for v in inner.values()):
            return _flatten(inner, source)
    flat = _flatten({k: v for k, v in obj.items() if not str(k).startswith("optim")}, source)
    if not flat:
        keys = [str(k)[:40] if isinstance(k, str | int) else type(k).__name__ for k in obj]
        more = f", ... ({len(keys)} keys)" if len(keys) > 10 else ""
        raise CheckpointError(
            source, f"no tensors found in the checkpoint (keys: {', '.join(keys[:10])}{more})"
        )
    return flat


def _too_deep(source: str) -> CheckpointError:
    return CheckpointError(
        source,
        f"mappings nested more than {_MAX_DEPTH} deep; not a state dict: save model.state_dict()",
    )


def _has_tensor(value: Any, source: str, depth: int) -> bool:
    import torch

    if depth > _MAX_DEPTH:
        raise _too_deep(source)
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, Mapping):
        return any(_has_tensor(v, source, depth + 1) for v in value.values())
    return False


def _flatten(
    tree: Mapping[Any, Any], source: str, prefix: str = "", depth: int = 0
) -> dict[str, Any]:
    import torch

    if depth > _MAX_DEPTH:
        raise _too_deep(source)
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor | np.ndarray):
            out[name] = value
        elif isinstance(value, Mapping):
            out.update(_flatten(value, source, f"{name}.", depth + 1))
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
