"""An encoder folder on disk: JSON configuration and safetensors weights, no pickle.

::

    ENCODER_DIR/
      config.json               tokens, layout, sizes, standardization, training settings, zoo
      encoder.safetensors       the best autoencoder (lowest validation loss); metadata: epoch, scores
      checkpoint.safetensors    the last finished epoch: autoencoder + optimizer state; metadata: the
                                training state (epoch, history, best, early-stopping counter)

Every file is written to a temporary name and renamed, so a training killed at any moment leaves the
previous complete version of each; ``checkpoint.safetensors`` holds its own state in its metadata,
so the weights and the state it describes are always of one epoch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from weightspace.io.safetensors_format import write_safetensors
from weightspace.learn.layout import LearnError

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "ENCODER",
    "EncoderFolderError",
    "read_config",
    "read_state",
    "read_weights",
    "write_config",
    "write_state",
    "write_weights",
]

CONFIG = "config.json"
ENCODER = "encoder.safetensors"
CHECKPOINT = "checkpoint.safetensors"
FORMAT = "weightspace-hyper-encoder"
FORMAT_VERSION = 1


class EncoderFolderError(LearnError):
    """An encoder folder is missing, incomplete or not an encoder's."""


def write_config(folder: Path, config: dict[str, Any]) -> None:
    """Write ``config.json`` atomically (with the format tag)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, **config}
    tmp = folder / f".{CONFIG}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, folder / CONFIG)
    finally:
        tmp.unlink(missing_ok=True)


def read_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``config.json`` of an encoder folder, checked to be one."""
    path = Path(folder)
    if not path.is_dir():
        raise EncoderFolderError(
            f"{path}: no such encoder folder; train one with `weightspace learn train ZOO -o {path}`"
        )
    file = path / CONFIG
    if not file.is_file():
        raise EncoderFolderError(
            f"{path}: not an encoder folder (no {CONFIG}); train one with "
            f"`weightspace learn train ZOO -o {path}`"
        )
    try:
        data = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EncoderFolderError(f"{file}: unreadable JSON ({exc}); retrain the encoder") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise EncoderFolderError(f"{file}: not a weightspace encoder configuration")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise EncoderFolderError(
            f"{file}: encoder format {data.get('format_version')} is newer than this weightspace "
            f"reads ({FORMAT_VERSION}); upgrade weightspace"
        )
    return data


def _tensors(module: torch.nn.Module, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}{k}": v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def write_weights(folder: Path, module: torch.nn.Module, meta: dict[str, Any]) -> None:
    """Write ``encoder.safetensors`` atomically with ``meta`` (JSON) in its metadata."""
    write_safetensors(folder / ENCODER, _tensors(module, ""), metadata={"meta": json.dumps(meta)})


def _open(file: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not file.is_file():
        raise EncoderFolderError(
            f"{file}: missing; the encoder's training never finished an epoch: rerun "
            "`weightspace learn train` with the same -o to resume it"
        )
    try:
        from safetensors import safe_open

        with safe_open(str(file), "np") as f:
            metadata = dict(f.metadata() or {})
        return load_file(str(file)), metadata
    except (SafetensorError, OSError, ValueError) as exc:
        raise EncoderFolderError(f"{file}: not a readable safetensors file ({exc})") from None


def read_weights(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The best autoencoder's state dict and its metadata."""
    arrays, metadata = _open(folder / ENCODER)
    return {k: torch.from_numpy(v) for k, v in arrays.items()}, _meta(folder / ENCODER, metadata)


def _meta(file: Path, metadata: dict[str, str]) -> dict[str, Any]:
    try:
        out = json.loads(metadata.get("meta", "{}"))
    except json.JSONDecodeError:
        raise EncoderFolderError(f"{file}: corrupt metadata; retrain the encoder") from None
    return out if isinstance(out, dict) else {}


def write_state(
    folder: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    """Write ``checkpoint.safetensors``: weights, optimizer tensors, and ``state`` (JSON)."""
    arrays = _tensors(module, "model/")
    opt = optimizer.state_dict()
    for index, values in opt["state"].items():
        for key, value in values.items():
            arrays[f"optim/{index}/{key}"] = torch.as_tensor(value).detach().cpu().numpy()
    meta = {"state": state, "param_groups": opt["param_groups"]}
    write_safetensors(folder / CHECKPOINT, arrays, metadata={"meta": json.dumps(meta)})


def read_state(
    folder: Path,
) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """``(model state dict, optimizer state dict, training state)`` of the last checkpoint."""
    arrays, metadata = _open(folder / CHECKPOINT)
    meta = _meta(folder / CHECKPOINT, metadata)
    if "state" not in meta or "param_groups" not in meta:
        raise EncoderFolderError(f"{folder / CHECKPOINT}: no training state in its metadata")
    model = {k[6:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("model/")}
    optim: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in arrays.items():
        if key.startswith("optim/"):
            _, index, name = key.split("/", 2)
            optim.setdefault(int(index), {})[name] = torch.from_numpy(value)
    return model, {"state": optim, "param_groups": meta["param_groups"]}, meta["state"]
