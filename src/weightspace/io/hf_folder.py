"""Hugging Face model folders (``save_pretrained``), and zips of them: one model each.

A folder is a Hugging Face checkpoint when it holds, in the order ``transformers`` looks for them,
``model.safetensors``, ``model.safetensors.index.json`` (with shards
``model-0000x-of-0000y.safetensors``), ``pytorch_model.bin``, or ``pytorch_model.bin.index.json``
(with shards ``pytorch_model-0000x-of-0000y.bin``); ``config.json`` is not needed to read the weights.

A sharded checkpoint is read as one model. The index is checked against the folder before any
tensor is read: every shard it names must be a plain file name inside the folder (no absolute path,
no ``..``, no symlink leading out; in the Hugging Face cache, ``snapshots/<rev>/`` links into the
repository's ``blobs/``, which is allowed), present, and a shard of the index's kind; a numbered
shard missing from the index, a shard file in the folder that the index does not name, a tensor the
index places in a shard that lacks it, or one a shard holds that the index does not list is refused.
The elements the safetensors headers declare are checked against ``max_weights`` before anything is
mapped.

Tensor order: the index's ``weight_map`` order when its writer kept the model's order (as
``huggingface_hub.save_torch_state_dict`` does); when the map is merely sorted by name (as
``transformers`` writes it), shard by shard in their numbered order (the writer split the state
dict in order), each shard in its own order (see :func:`read_safetensors`).

A zip of such a folder (what the atlas upload receives) is read by :func:`read_hf_zip`: member names
are checked (no absolute paths, no ``..``, no symlinks), the declared sizes of the members it needs
are checked against the limit before extraction, and they are extracted into a temporary folder
that is removed before the function returns.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from weightspace.errors import CheckpointError, WeightLimitError
from weightspace.io.limits import DEFAULT_MAX_WEIGHTS, check_declared_weights
from weightspace.io.naming import assign_roles, natural_key
from weightspace.io.weightset import WeightSet, WeightTensor

__all__ = [
    "HF_WEIGHT_FILES",
    "find_hf_checkpoint",
    "read_hf_folder",
    "read_hf_zip",
    "zip_holds_hf_folder",
]

#: The files that make a folder a Hugging Face checkpoint, in the order they are looked for.
HF_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
_SHARD = re.compile(r"^(?P<stem>.+)-(?P<i>\d+)-of-(?P<n>\d+)(?P<ext>\.[A-Za-z]+)$")
_MAX_INDEX_BYTES = 64 * 2**20
_MAX_ZIP_MEMBERS = 100_000
#: Bytes a zip may hold besides its weights (config, index), on top of 8 bytes per weight.
_ZIP_SLACK_BYTES = 64 * 2**20


def find_hf_checkpoint(folder: Path) -> Path | None:
    """The weight file (or index) that makes ``folder`` a Hugging Face checkpoint, or ``None``."""
    for name in HF_WEIGHT_FILES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def read_hf_folder(
    path: str | PathLike[str], *, max_weights: int | None = DEFAULT_MAX_WEIGHTS
) -> WeightSet:
    """Read a Hugging Face model folder (single file or sharded) as one model.

    Parameters
    ----------
    path : path
        The folder ``save_pretrained`` wrote.
    max_weights : int or None, default=DEFAULT_MAX_WEIGHTS
        Refuse a model whose shards declare more elements.

    Returns
    -------
    WeightSet
        All tensors of all shards, its source the folder.

    Raises
    ------
    CheckpointError
        Not such a folder, an invalid or inconsistent index, a shard missing, extra, outside the
        folder or unreadable.
    WeightLimitError
        The shards declare more than ``max_weights`` elements.

    Examples
    --------
    A folder of two shards as transformers writes it (skipped in the doctests: importing
    transformers takes longer than all of them; ``tests/io/test_hf_folders.py`` runs it):

    >>> import transformers  # doctest: +SKIP
    >>> config = transformers.BertConfig(
    ...     vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
    ...     intermediate_size=32, max_position_embeddings=32)  # doctest: +SKIP
    >>> transformers.BertModel(config).save_pretrained("tiny", max_shard_size="20KB")  # doctest: +SKIP
    >>> read_hf_folder("tiny").n_params  # doctest: +SKIP
    5936
    """
    folder = Path(path)
    found = find_hf_checkpoint(folder)
    if found is None:
        raise CheckpointError(
            folder,
            "is a directory with no Hugging Face checkpoint in it (expected one of "
            f"{', '.join(HF_WEIGHT_FILES)}); pass a checkpoint file or such a folder",
        )
    roots = _allowed_roots(folder)
    if not found.name.endswith(".index.json"):
        _inside(folder, roots, found.name)
        return _retag(
            _read_shard(found, "torch" if found.suffix == ".bin" else "safetensors", max_weights),
            folder,
        )
    kind = "safetensors" if found.name.startswith("model.safetensors") else "torch"
    weight_map = _read_index(found)
    shards = _check_shards(folder, roots, found, weight_map, kind)
    if kind == "safetensors":
        from weightspace.io.safetensors_format import read_header

        declared = sum(read_header(s).n_weights for s in shards.values())
        check_declared_weights(folder, declared, max_weights, what="the shards' tensors")
    arrays: dict[str, np.ndarray] = {}
    budget = max_weights
    for name, shard in sorted(shards.items(), key=lambda item: natural_key(item[0])):
        ws = _read_shard(shard, kind, budget)
        if budget is not None:
            budget -= sum(t.size for t in ws)
        expected = {t for t, s in weight_map.items() if s == name}
        held = set(ws.names)
        if expected - held:
            raise CheckpointError(
                folder,
                f"the index places tensor {sorted(expected - held)[0]!r} in shard {name}, which "
                "does not hold it; the folder is incomplete or the index is stale",
            )
        if held - expected:
            raise CheckpointError(
                folder,
                f"shard {name} holds tensor {sorted(held - expected)[0]!r}, which the index "
                f"does not place there; the index {found.name} is stale",
            )
        arrays.update((t.name, t.array) for t in ws)
    if list(weight_map) != sorted(weight_map):  # the writer kept the model's order
        arrays = {name: arrays[name] for name in weight_map}
    return assign_roles(arrays, source=str(folder))


def _retag(ws: WeightSet, folder: Path) -> WeightSet:
    return WeightSet(ws.tensors, source=str(folder))


def _read_shard(path: Path, kind: str, max_weights: int | None) -> WeightSet:
    from weightspace.io.detect import detect_format

    found = detect_format(path)
    if found != kind:
        raise CheckpointError(path, f"expected a {kind} shard; the file is {found}")
    if kind == "safetensors":
        from weightspace.io.safetensors_format import read_safetensors

        return read_safetensors(path, max_weights=max_weights)
    from weightspace.io.torch_format import read_torch_file

    return read_torch_file(path, max_weights=max_weights)


def _allowed_roots(folder: Path) -> list[Path]:
    roots = [folder.resolve()]
    if folder.resolve().parent.name == "snapshots":  # the Hugging Face cache: links into blobs/
        roots.append(folder.resolve().parent.parent / "blobs")
    return roots


def _inside(folder: Path, roots: list[Path], name: str) -> Path:
    """``folder / name``, refused unless it is a plain relative name resolving inside ``roots``."""
    pure = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\0" in name
        or pure.is_absolute()
        or ".." in pure.parts
        or (len(name) > 1 and name[1] == ":")
    ):
        raise CheckpointError(
            folder, f"shard name {name[:80]!r} is not a file name inside the folder; refused"
        )
    target = (folder / pure).resolve()
    if not any(target.is_relative_to(root) for root in roots):
        raise CheckpointError(
            folder, f"{name[:80]} is a link to {target}, outside the model folder; refused"
        )
    if not target.is_file():
        raise CheckpointError(
            folder,
            f"shard {name[:80]} named by the index is missing; download or copy it into the folder",
        )
    return folder / pure


def _read_index(index: Path) -> dict[str, str]:
    if index.stat().st_size > _MAX_INDEX_BYTES:
        raise CheckpointError(index, f"index over {_MAX_INDEX_BYTES // 2**20} MiB; not an index")
    try:
        data: Any = json.loads(index.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "nested too deep"
        raise CheckpointError(index, f"not a JSON index ({detail[:120]})") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(
            index, "the index has no 'weight_map' object (tensor name -> shard file)"
        )
    bad = next((k for k, v in weight_map.items() if not isinstance(v, str)), None)
    if bad is not None:
        raise CheckpointError(
            index, f"weight_map entry {bad[:80]!r} is not a shard file name (text)"
        )
    return dict(weight_map)


def _check_shards(
    folder: Path, roots: list[Path], index: Path, weight_map: dict[str, str], kind: str
) -> dict[str, Path]:
    names = list(dict.fromkeys(weight_map.values()))
    shards = {name: _inside(folder, roots, name) for name in names}
    ext = ".safetensors" if kind == "safetensors" else ".bin"
    stem = "model" if kind == "safetensors" else "pytorch_model"
    numbered = [m for m in map(_SHARD.match, names) if m]
    if numbered and len(numbered) == len(names):
        totals = {int(m["n"]) for m in numbered}
        have = {int(m["i"]) for m in numbered}
        if len(totals) == 1:
            total = totals.pop()
            missing = sorted(set(range(1, total + 1)) - have)
            if missing:
                raise CheckpointError(
                    folder,
                    f"{index.name} names {len(have)} of {total} shards; shard(s) "
                    f"{', '.join(map(str, missing))} of {total} are not in the index",
                )
    listed = set(names)
    for file in sorted(folder.iterdir()):
        m = _SHARD.match(file.name)
        if m and m["stem"] == stem and m["ext"] == ext and file.name not in listed:
            raise CheckpointError(
                folder,
                f"shard {file.name} is not named by {index.name}; remove it or fix the index",
            )
    return shards


def zip_holds_hf_folder(names: list[str]) -> bool:
    """Whether a zip's member names include a Hugging Face checkpoint's weight file or index."""
    return any(PurePosixPath(n).name in HF_WEIGHT_FILES for n in names)


def read_hf_zip(
    path: str | PathLike[str],
    *,
    max_weights: int | None = DEFAULT_MAX_WEIGHTS,
    tmp_root: str | PathLike[str] | None = None,
) -> WeightSet:
    """Read a zip of a Hugging Face model folder as one model (arrays copied into memory).

    Parameters
    ----------
    path : path
        The zip file; the folder may be at its root or in one sub-folder.
    max_weights : int or None, default=DEFAULT_MAX_WEIGHTS
        Refuse a zip whose members declare more than ``8 * max_weights`` bytes (plus 64 MiB for
        config and index) before extracting, and a model of more elements after.
    tmp_root : path, optional
        Where the temporary folder is made (default: the system's temporary directory).

    Raises
    ------
    CheckpointError
        Not a zip, no (or more than one) model folder in it, an unsafe member name, or any error of
        :func:`read_hf_folder` (named by the member, never by the temporary path).
    WeightLimitError
        Declared sizes over the limit.
    """
    source = Path(path)
    with tempfile.TemporaryDirectory(prefix="weightspace-hf-", dir=tmp_root) as tmp:
        root = Path(tmp) / "model"
        _extract(source, root, max_weights)
        try:
            ws = read_hf_folder(root, max_weights=max_weights)
        except CheckpointError as exc:
            problem = exc.problem.replace(str(root) + "/", "").replace(str(root), "")
            where = Path(exc.source)
            member = where.relative_to(root) if where.is_relative_to(root) else None
            prefix = f"{member}: " if member and str(member) != "." else ""
            raise type(exc)(source, prefix + problem) from None
        tensors = (WeightTensor(t.name, t.layer, t.role, np.array(t.array)) for t in ws)
        return WeightSet(tuple(tensors), source=str(source))


def _extract(source: Path, root: Path, max_weights: int | None) -> None:
    """Extract the model folder's files of the zip ``source`` into ``root``, checked first."""
    try:
        with zipfile.ZipFile(source) as archive:
            for info, relative in _members(source, archive, max_weights):
                target = root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 2**20)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            source, f"corrupt, encrypted or unreadable zip ({detail[:160]})"
        ) from None


def _members(
    source: Path, archive: zipfile.ZipFile, max_weights: int | None
) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The members to extract (the weight files, index and config of the one model folder)."""
    infos = archive.infolist()
    if len(infos) > _MAX_ZIP_MEMBERS:
        raise CheckpointError(source, f"zip of {len(infos):,} members; not a model folder")
    folders = sorted(
        {
            str(PurePosixPath(i.filename).parent)
            for i in infos
            if PurePosixPath(i.filename).name in HF_WEIGHT_FILES
        }
    )
    if len(folders) != 1:
        raise CheckpointError(
            source,
            "zip holds no Hugging Face model folder (no model.safetensors, pytorch_model.bin or "
            "their index)"
            if not folders
            else f"zip holds {len(folders)} model folders ({', '.join(folders[:3])}); zip one",
        )
    base = PurePosixPath(folders[0])
    chosen: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    total = 0
    for info in infos:
        name = info.filename
        pure = PurePosixPath(name)
        if (
            "\\" in name
            or pure.is_absolute()
            or ".." in pure.parts
            or (len(name) > 1 and name[1] == ":")
        ):
            raise CheckpointError(source, f"zip member {name[:80]!r} escapes the folder; refused")
        if info.is_dir() or pure.parent != base:
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            raise CheckpointError(source, f"zip member {name[:80]!r} is a symlink; refused")
        if pure.name != "config.json" and not pure.name.endswith(
            (".safetensors", ".bin", ".index.json")
        ):
            continue
        total += info.file_size
        chosen.append((info, PurePosixPath(pure.name)))
    if max_weights is not None and total > 8 * max_weights + _ZIP_SLACK_BYTES:
        raise WeightLimitError(
            source,
            f"the zip's model files declare {total:,} bytes uncompressed, over the "
            f"{8 * max_weights + _ZIP_SLACK_BYTES:,} that {max_weights:,} weights can take; "
            "raise it with --max-weights (or max_weights=) if you trust this file",
        )
    return chosen
