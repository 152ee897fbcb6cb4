"""Placing an uploaded checkpoint into an atlas: describe it, map it, find its nearest models.

Uploads arrive as a data URL (``data:...;base64,...``, what ``dcc.Upload`` sends). Their size is
checked before decoding; the bytes are written only inside a fresh temporary folder (a
``TemporaryDirectory``), read with :func:`weightspace.load_weights` (any supported format; pickles
that need code are refused; at most ``max_weights`` declared weights), and the folder is removed as
soon as the reading is done, also on error. Errors name the file as the client did, never by its
temporary path on the server.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from weightspace.atlas.model import Atlas
from weightspace.errors import CheckpointError, WeightspaceError
from weightspace.io.limits import UPLOAD_MAX_WEIGHTS, check_declared_weights
from weightspace.io.load import load_weights
from weightspace.io.weightset import WeightSet

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "Placement",
    "UploadError",
    "describe_weights",
    "place",
    "read_upload",
]

#: Default limit of an upload's decoded size (200 MiB).
DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
T = TypeVar("T")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


class UploadError(WeightspaceError):
    """An upload is too large or not a data URL of base64 bytes."""


@dataclass(frozen=True, eq=False)
class Placement:
    """Where an uploaded model lands in an atlas.

    Attributes
    ----------
    name : str
        The uploaded file's name.
    n_params : int
        Weights in the checkpoint.
    descriptor : numpy.ndarray of shape descriptor_shape
        Its descriptor (same representation as the atlas).
    xy : tuple of float
        Its map coordinates (UMAP transform).
    neighbors : numpy.ndarray of shape (k,)
        Row indices of the nearest atlas models in descriptor space, nearest first.
    distances : numpy.ndarray of shape (k,)
    """

    name: str
    n_params: int
    descriptor: np.ndarray
    xy: tuple[float, float]
    neighbors: np.ndarray
    distances: np.ndarray

    def to_dict(self) -> dict[str, object]:
        """What the map draws: name, x, y and the neighbours' row indices."""
        return {
            "name": self.name,
            "x": self.xy[0],
            "y": self.xy[1],
            "neighbors": [int(i) for i in self.neighbors],
        }


def _safe_name(filename: str | None) -> str:
    base = Path(str(filename or "")).name
    safe = _SAFE.sub("_", base).lstrip(".")[:120]
    return safe or "upload.bin"


def _shown_name(filename: str | None) -> str:
    """The uploaded file's own name, as messages show it (last component, printable, short)."""
    base = Path(str(filename or "").replace("\\", "/")).name
    shown = _UNPRINTABLE.sub("?", base)[:120]
    return shown or "upload"


def _load(path: Path, shown: str, max_weights: int | None) -> WeightSet:
    """``load_weights(path)`` under the weight limit, with ``shown`` as the weights' source.

    Every reader refuses a file that declares more than ``max_weights`` before allocating; the
    count is checked again on what was read (legacy torch pickles declare sizes only as they load).
    """
    weights = load_weights(path, max_weights=max_weights)
    check_declared_weights(shown, weights.n_params, max_weights)
    return dataclasses.replace(weights, source=shown)


def _scrub(text: str, folder: str, path: Path, shown: str) -> str:
    return text.replace(str(path), shown).replace(folder, "<upload>")


def _client_error(exc: Exception, folder: str, path: Path, shown: str, doing: str) -> Exception:
    """``exc`` as the client may see it: its file named ``shown``, no server path in the text."""
    if isinstance(exc, CheckpointError):
        problem = _scrub(exc.problem, folder, path, shown)
        try:
            return type(exc)(shown, problem)
        except TypeError:  # a subclass with another signature
            return CheckpointError(shown, problem)
    text = _scrub(str(exc), folder, path, shown)
    if isinstance(exc, WeightspaceError | ImportError):
        return exc if text == str(exc) else UploadError(text)
    return CheckpointError(shown, f"could not be {doing} ({type(exc).__name__}: {text})")


def decoded_size(contents: str) -> int:
    """Bytes that a data URL's base64 payload decodes to (computed without decoding)."""
    payload = contents.partition(",")[2].strip()
    padding = len(payload) - len(payload.rstrip("="))
    return max(0, len(payload) * 3 // 4 - padding)


def read_upload(
    contents: str,
    filename: str | None,
    use: Callable[[WeightSet], T],
    *,
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_weights: int | None = UPLOAD_MAX_WEIGHTS,
    tmp_root: str | os.PathLike[str] | None = None,
) -> T:
    """Read an uploaded checkpoint and return ``use(weights)``, computed while the file exists.

    Parameters
    ----------
    contents : str
        A data URL, ``data:<type>;base64,<payload>``.
    filename : str, optional
        The uploaded file's name: messages show its last component; the temporary file is named
        after it, made safe (its suffix helps detect the format).
    use : callable
        Called with the :class:`~weightspace.io.weightset.WeightSet` (its ``source`` is the
        uploaded file's name); its result is returned.
    max_bytes : int, default=200 MiB
        Largest decoded size accepted; larger uploads raise before anything is decoded or written.
    max_weights : int or None, default=50,000,000
        Most weights the checkpoint may declare (:data:`~weightspace.io.limits.UPLOAD_MAX_WEIGHTS`);
        ``None``: no limit.
    tmp_root : path, optional
        Where the temporary folder is made (default: the system's temporary directory).

    Raises
    ------
    UploadError
        Too large, or not a base64 data URL.
    CheckpointError
        The bytes are not a readable checkpoint (:class:`~weightspace.errors.WeightLimitError`:
        more than ``max_weights`` weights), named by ``filename``.
    """
    shown = _shown_name(filename)
    header, sep, payload = contents.partition(",")
    if not sep or not header.startswith("data:") or ";base64" not in header:
        raise UploadError(
            f"{shown}: expected a data URL 'data:...;base64,...'; got {contents[:40]!r}"
        )
    size = decoded_size(contents)
    if size > max_bytes:
        raise UploadError(
            f"{shown}: {size / 2**20:.1f} MiB is over the upload limit of "
            f"{max_bytes / 2**20:.1f} MiB; raise it with --max-upload-mb"
        )
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError(f"{shown}: the upload is not valid base64") from None
    # the folder and its file are removed when the block ends, whatever ends it
    with tempfile.TemporaryDirectory(prefix="weightspace-upload-", dir=tmp_root) as folder:
        path = Path(folder) / _safe_name(filename)
        path.write_bytes(raw)
        del raw
        try:
            weights = _load(path, shown, max_weights)
        except Exception as exc:
            raise _client_error(exc, folder, path, shown, "read") from None
        try:
            return use(weights)
        except Exception as exc:
            raise _client_error(exc, folder, path, shown, "placed") from None


def describe_weights(atlas: Atlas, weights: WeightSet) -> np.ndarray:
    """The descriptor of one model in the atlas's representation (shape descriptor_shape)."""
    rep = dict(atlas.representation)
    name = str(rep.get("name", "miwd"))
    params = dict(rep.get("params") or {})
    shape = atlas.descriptors.shape[1:]
    from weightspace.represent import registry

    if registry.representation_spec(name).fit_on_all:
        raise WeightspaceError(
            f"representation {name!r} is fitted on the whole library; new models cannot be "
            "described alone (use an atlas of MI-WD descriptors)"
        )
    return registry.describe_weights(name, [weights], **params).reshape(shape)


def place(atlas: Atlas, name: str, weights: WeightSet, *, k: int = 8) -> Placement:
    """Describe ``weights``, map them into ``atlas`` and find their ``k`` nearest models."""
    desc = describe_weights(atlas, weights)
    xy = atlas.transform(desc[None])[0]
    idx, dist = atlas.nearest(desc[None], k)
    return Placement(
        name=name,
        n_params=int(weights.n_params),
        descriptor=desc,
        xy=(float(xy[0]), float(xy[1])),
        neighbors=idx[0],
        distances=dist[0],
    )
