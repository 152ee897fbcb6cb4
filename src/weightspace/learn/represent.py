"""The ``hyper`` representation: a trained encoder's latent as a scikit-learn transformer.

Registered in :mod:`weightspace.represent.registry` (which imports this module lazily), so
``weightspace describe ZOO --repr hyper --param encoder=DIR``, the probes and the atlas use it like
any other representation. Its cache key includes :func:`~weightspace.learn.encoder.encoder_fingerprint`,
so retraining an encoder in the same folder never returns stale descriptors.

A fitted :class:`HyperRepresentation` is not written anywhere: it is its encoder folder. An
accuracy predictor stores the folder's path and the SHA-256 digest of its files
(:meth:`HyperRepresentation.encoder_reference`) and refits from them
(:meth:`HyperRepresentation.fit_reference`), refusing a folder that changed or is gone.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from weightspace.io.weightset import WeightSet
from weightspace.learn import checkpoint as ckpt
from weightspace.learn.encoder import encoder_fingerprint, load_encoder
from weightspace.learn.layout import LearnError

__all__ = ["HyperRepresentation", "encoder_sha256", "hyper_cache_key"]

#: The files of an encoder folder that define the encoder (what :func:`load_encoder` reads).
ENCODER_FILES: tuple[str, ...] = (ckpt.CONFIG, ckpt.ENCODER)


def encoder_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of an encoder folder's defining files, ``config.json`` and
    ``encoder.safetensors``, each digested with its name.

    Raises
    ------
    LearnError
        A file is missing (the message names the folder).
    """
    folder = Path(path)
    digest = hashlib.sha256()
    for name in ENCODER_FILES:
        file = folder / name
        if not file.is_file():
            raise LearnError(
                f"{folder}: not an encoder folder ({name} missing); give the folder written by "
                "`weightspace learn train ZOO -o DIR`"
            )
        digest.update(name.encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _check_models(X: Any) -> list[WeightSet]:
    if isinstance(X, WeightSet):
        raise LearnError("the hyper representation takes a list of WeightSets; wrap one: [ws]")
    items = list(X) if isinstance(X, Sequence) else None
    if items is None or not all(isinstance(w, WeightSet) for w in items):
        raise LearnError(
            "the hyper representation embeds WeightSets (layers and roles of every tensor); "
            f"got {type(X).__name__}; load models with weightspace.load_weights"
        )
    if not items:
        raise LearnError("the hyper representation needs at least one WeightSet; got 0")
    return items


class HyperRepresentation(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """The latent of a trained hyper-representation encoder.

    The input is WeightSets, not rows of numbers: the tags say so (``two_d_array = False``), so
    scikit-learn's ``check_estimator`` runs only its API checks on it.

    Parameters
    ----------
    encoder : str or path, optional
        An encoder folder (``weightspace learn train ZOO -o DIR``); required by :meth:`fit`.
    batch_size : int, default=256
    device : str, default="cpu"

    Attributes
    ----------
    encoder_ : Encoder
    n_features_out_ : int
        The latent size.
    """

    def __init__(self, *, encoder: Any = None, batch_size: int = 256, device: str = "cpu") -> None:
        self.encoder = encoder
        self.batch_size = batch_size
        self.device = device

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # WeightSets (layers and roles), not rows of numbers
        return tags

    def _folder(self) -> str:
        if self.encoder is None or str(self.encoder) == "":
            raise LearnError(
                "the hyper representation needs its encoder folder: --param encoder=DIR "
                "(train one with `weightspace learn train ZOO -o DIR`)"
            )
        return str(self.encoder)

    def fit(self, X: Sequence[WeightSet], y: Any = None) -> HyperRepresentation:
        """Check X (WeightSets; the encoder is already trained, so they teach it nothing) and load
        the encoder; return self."""
        folder = self._folder()
        _check_models(X)
        return self._load(folder)

    def _load(self, folder: str) -> HyperRepresentation:
        encoder = load_encoder(folder, device=str(self.device))
        self.encoder_, self.n_features_out_ = encoder, encoder.latent
        return self

    def transform(self, X: Sequence[WeightSet]) -> np.ndarray:
        """Latents ``(n, latent)`` of a list of WeightSets."""
        check_is_fitted(self, "encoder_")
        items = _check_models(X)
        return self.encoder_.embed(items, batch_size=int(self.batch_size))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``hyper0``, ``hyper1``, ...: one name per latent dimension."""
        check_is_fitted(self, "encoder_")
        return np.array([f"hyper{i}" for i in range(self.n_features_out_)], dtype=object)

    # ------------------------------------------------------------------ saved by reference
    def encoder_reference(self) -> dict[str, str]:
        """What a predictor stores instead of the fitted encoder: ``{"folder": absolute path,
        "sha256": encoder_sha256(folder)}``."""
        check_is_fitted(self, "encoder_")
        folder = Path(self.encoder_.path).resolve()
        return {"folder": str(folder), "sha256": encoder_sha256(folder)}

    def fit_reference(self, reference: dict[str, str]) -> HyperRepresentation:
        """Load the encoder of :meth:`encoder_reference`, refusing a folder that is missing or
        whose files changed since; return self.

        Raises
        ------
        LearnError
            The message names the folder and the fix.
        """
        folder = Path(str(reference["folder"]))
        fix = (
            "restore the encoder folder the predictor was fitted with, or refit the predictor "
            "(`weightspace predict fit ZOO --repr hyper --param encoder=DIR`)"
        )
        if not all((folder / name).is_file() for name in ENCODER_FILES):
            raise LearnError(f"{folder}: the encoder folder of this predictor is missing; {fix}")
        if encoder_sha256(folder) != str(reference["sha256"]):
            raise LearnError(
                f"{folder}: the encoder changed since the predictor was fitted (its files' SHA-256 "
                f"is not {reference['sha256']}); {fix}"
            )
        self._folder()
        return self._load(str(folder))


def hyper_cache_key(params: dict[str, Any]) -> dict[str, Any]:
    """The part of the describe cache key that changes when the encoder is retrained."""
    encoder = params.get("encoder")
    if encoder is None:
        return {}
    return {"encoder_fingerprint": encoder_fingerprint(str(encoder))}
