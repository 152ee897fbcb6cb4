"""The ``hyper`` representation: a trained encoder's latent as a scikit-learn transformer.

Registered in :mod:`weightspace.represent.registry` (which imports this module lazily), so
``weightspace describe ZOO --repr hyper --param encoder=DIR``, the probes and the atlas use it like
any other representation. Its cache key includes :func:`~weightspace.learn.encoder.encoder_fingerprint`,
so retraining an encoder in the same folder never returns stale descriptors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from weightspace.io.weightset import WeightSet
from weightspace.learn.encoder import encoder_fingerprint, load_encoder
from weightspace.learn.layout import LearnError

__all__ = ["HyperRepresentation", "hyper_cache_key"]


class HyperRepresentation(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """The latent of a trained hyper-representation encoder.

    Parameters
    ----------
    encoder : str or path
        An encoder folder (``weightspace learn train ZOO -o DIR``).
    batch_size : int, default=256
    device : str, default="cpu"

    Attributes
    ----------
    encoder_ : Encoder
    n_features_out_ : int
    """

    def __init__(self, *, encoder: Any = None, batch_size: int = 256, device: str = "cpu") -> None:
        self.encoder = encoder
        self.batch_size = batch_size
        self.device = device

    def fit(self, X: Any = None, y: Any = None) -> HyperRepresentation:
        """Load the encoder (``X`` is not used); return self."""
        if self.encoder is None or str(self.encoder) == "":
            raise LearnError(
                "the hyper representation needs its encoder folder: --param encoder=DIR "
                "(train one with `weightspace learn train ZOO -o DIR`)"
            )
        self.encoder_ = load_encoder(str(self.encoder), device=str(self.device))
        self.n_features_out_ = self.encoder_.latent
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Latents ``(n, latent)`` of a list of WeightSets."""
        check_is_fitted(self, "encoder_")
        items = list(X)
        if not all(isinstance(w, WeightSet) for w in items):
            raise LearnError(
                "the hyper representation embeds WeightSets (layers and roles of every tensor); "
                "load models with weightspace.load_weights"
            )
        return self.encoder_.embed(items, batch_size=int(self.batch_size))


def hyper_cache_key(params: dict[str, Any]) -> dict[str, Any]:
    """The part of the describe cache key that changes when the encoder is retrained."""
    encoder = params.get("encoder")
    if encoder is None:
        return {}
    return {"encoder_fingerprint": encoder_fingerprint(str(encoder))}
