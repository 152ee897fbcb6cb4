"""``load_weights``: one entry point for every checkpoint format and in-memory source."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from weightspace.errors import CheckpointError
from weightspace.io.detect import Format, detect_format
from weightspace.io.weightset import WeightSet

__all__ = ["load_weights"]


def _readers() -> dict[Format, Callable[[Path], WeightSet]]:
    from weightspace.io.hf_folder import read_hf_folder, read_hf_zip
    from weightspace.io.keras_format import read_keras_h5, read_keras_zip
    from weightspace.io.numpy_format import read_npy, read_npz
    from weightspace.io.onnx_format import read_onnx
    from weightspace.io.safetensors_format import read_safetensors
    from weightspace.io.torch_format import read_torch_file

    return {
        "torch": read_torch_file,
        "safetensors": read_safetensors,
        "keras-h5": read_keras_h5,
        "keras-zip": read_keras_zip,
        "onnx": read_onnx,
        "npy": read_npy,
        "npz": read_npz,
        "hf-folder": read_hf_folder,
        "hf-zip": read_hf_zip,
    }


def load_weights(source: Any, *, format: Format | None = None) -> WeightSet:
    """Read the weights of one model.

    Parameters
    ----------
    source : path, nn.Module, mapping or WeightSet
        A checkpoint file (PyTorch ``.pt/.pth/.bin``, ``.safetensors``, Keras ``.h5/.keras``,
        ``.onnx``, NumPy ``.npy/.npz``), a Hugging Face model folder (``model.safetensors`` or
        ``pytorch_model.bin``, sharded or not; a zip of one too), an in-memory ``torch.nn.Module``,
        or a state dict (``name -> tensor or array``). A WeightSet is returned as it is.
    format : str, optional
        Force a reader (``"torch"``, ``"safetensors"``, ``"keras-h5"``, ``"keras-zip"``, ``"onnx"``,
        ``"npy"``, ``"npz"``, ``"hf-folder"``, ``"hf-zip"``); by default it is chosen from the
        file's content.

    Returns
    -------
    WeightSet

    Raises
    ------
    CheckpointError
        The file is missing, empty, truncated, corrupt, of no supported format, or holds no
        floating-point tensors. :class:`UnsafeCheckpointError` (a subclass) for a pickle that needs
        code to load.

    Examples
    --------
    >>> import torch
    >>> from weightspace import load_weights
    >>> ws = load_weights(torch.nn.Linear(3, 2))
    >>> ws.names, ws.n_params
    (('weight', 'bias'), 8)
    """
    if isinstance(source, WeightSet):
        return source
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        kind = format or detect_format(path)
        readers = _readers()
        if kind not in readers:
            raise CheckpointError(path, f"unknown format {kind!r}; choose one of {sorted(readers)}")
        if format is not None and not path.is_file():
            detect_format(path)  # the same clear error for a missing or empty file
        return readers[kind](path)
    if isinstance(source, Mapping):
        from weightspace.io.torch_format import read_state_dict

        return read_state_dict(source)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None  # type: ignore[assignment]
    if torch is not None and isinstance(source, torch.nn.Module):
        from weightspace.io.torch_format import read_module

        return read_module(source)
    raise TypeError(
        f"load_weights takes a path, an nn.Module, a state dict or a WeightSet; "
        f"got {type(source).__name__}"
    )
