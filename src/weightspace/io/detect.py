"""Which reader a file needs, decided by its content (magic bytes), not only by its extension."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

from weightspace.errors import CheckpointError

__all__ = ["FORMATS", "Format", "detect_format"]

Format = Literal[
    "torch", "safetensors", "keras-h5", "keras-zip", "onnx", "npy", "npz", "hf-folder", "hf-zip"
]
FORMATS: tuple[Format, ...] = (
    "torch",
    "safetensors",
    "keras-h5",
    "keras-zip",
    "onnx",
    "npy",
    "npz",
    "hf-folder",
    "hf-zip",
)

_HDF5 = b"\x89HDF\r\n\x1a\n"
_NUMPY = b"\x93NUMPY"
_ZIP = b"PK\x03\x04"


def detect_format(path: str | Path) -> Format:
    """Return the checkpoint format of ``path`` from its first bytes.

    A directory is ``"hf-folder"`` when it holds a Hugging Face checkpoint (``model.safetensors``,
    ``pytorch_model.bin`` or their shard index), and a zip holding such a folder is ``"hf-zip"``.

    Raises
    ------
    CheckpointError
        If the file is missing, empty, a directory that is no Hugging Face model folder, or of no
        supported format.
    """
    p = Path(path)
    if not p.exists():
        raise CheckpointError(p, "no such file; check the path")
    if p.is_dir():
        from weightspace.io.hf_folder import HF_WEIGHT_FILES, find_hf_checkpoint

        if find_hf_checkpoint(p) is not None:
            return "hf-folder"
        raise CheckpointError(
            p,
            f"is a directory with none of {', '.join(HF_WEIGHT_FILES)} (a Hugging Face model "
            "folder); pass a checkpoint file or such a folder",
        )
    size = p.stat().st_size
    if size == 0:
        raise CheckpointError(p, "empty file (0 bytes); the checkpoint was not written completely")
    with p.open("rb") as f:
        head = f.read(16)
    if head.startswith(_ZIP):
        return _detect_zip(p)
    if head.startswith(_HDF5):
        return "keras-h5"
    if head.startswith(_NUMPY):
        return "npy"
    if len(head) >= 9 and head[8:9] == b"{":
        header_len = int.from_bytes(head[:8], "little")
        if header_len <= size - 8:
            return "safetensors"
        raise CheckpointError(
            p,
            f"safetensors header says {header_len} bytes but the file has {size}; "
            "the file is truncated: copy or save it again",
        )
    if head[:1] == b"\x80" or p.suffix.lower() in {".pt", ".pth", ".bin", ".ckpt"}:
        return "torch"  # pickle (legacy torch.save); the torch reader refuses code
    if p.suffix.lower() == ".onnx" or head[:1] == b"\x08":
        return "onnx"  # protobuf ModelProto starts with field 1 (ir_version)
    raise CheckpointError(
        p,
        f"unrecognized format (first bytes {head[:8]!r}); supported: PyTorch .pt/.pth/.bin, "
        ".safetensors, Keras .h5/.keras, .onnx, NumPy .npy/.npz",
    )


def _detect_zip(p: Path) -> Format:
    try:
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise CheckpointError(
            p, "corrupt or truncated zip archive; the checkpoint was not written completely"
        ) from None
    if any(n.endswith("data.pkl") for n in names):
        return "torch"
    if "model.weights.h5" in names:
        return "keras-zip"
    if names and all(n.endswith(".npy") for n in names):
        return "npz"
    from weightspace.io.hf_folder import zip_holds_hf_folder

    if zip_holds_hf_folder(names):
        return "hf-zip"
    raise CheckpointError(
        p,
        f"zip archive with unknown content ({', '.join(names[:5])}...); expected a torch.save "
        "checkpoint, a .keras file, a NumPy .npz or a zipped Hugging Face model folder",
    )
