"""A trained encoder, loaded from its folder: embeds models into hyper-representations.

:func:`load_encoder` reads an encoder folder (:mod:`weightspace.learn.checkpoint`);
:meth:`Encoder.embed` gives the latent of each model: models of the training architecture are
tokenized as in training; with chunk tokens, models of any other architecture are tokenized by
their own layout (positions beyond the training tables are clipped); with neuron tokens they are
refused with a one-line error.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from weightspace.io.weightset import WeightSet
from weightspace.learn import checkpoint as ckpt
from weightspace.learn.checkpoint import EncoderFolderError
from weightspace.learn.layout import WeightLayout
from weightspace.learn.model import AutoencoderConfig, HyperAutoencoder, token_positions
from weightspace.learn.standardize import LayerStandardizer
from weightspace.learn.tokens import TokenMap, chunk_tokens, make_tokens

__all__ = ["Encoder", "encoder_fingerprint", "load_encoder"]


@dataclass(frozen=True, eq=False)
class Encoder:
    """A loaded encoder (build with :func:`load_encoder`).

    Attributes
    ----------
    path : Path
    config : dict
        The folder's ``config.json``.
    layout : WeightLayout
        The training architecture.
    tokens : TokenMap
    standardizer : LayerStandardizer
    model : HyperAutoencoder
        In evaluation mode, on ``device``.
    meta : dict
        The best epoch and its validation scores.
    device : torch.device
    """

    path: Path
    config: dict[str, Any]
    layout: WeightLayout
    tokens: TokenMap
    standardizer: LayerStandardizer
    model: HyperAutoencoder
    meta: dict[str, Any]
    device: torch.device

    @property
    def latent(self) -> int:
        """Size of the hyper-representation."""
        return int(self.model.config.latent)

    @property
    def kind(self) -> str:
        """``"neuron"`` or ``"chunk"``."""
        return self.tokens.kind

    def _tokens_for(self, layout: WeightLayout, source: str) -> TokenMap:
        if layout.signature == self.layout.signature:
            return self.tokens
        if self.kind == "chunk":
            return chunk_tokens(layout, chunk=self.tokens.width)
        raise EncoderFolderError(
            f"{source}: architecture {layout.describe()} (rows x width per layer, "
            f"{layout.n_params} weights) is not the encoder's {self.layout.describe()} "
            f"({self.layout.n_params} weights; {self.path}); an encoder of neuron tokens embeds "
            "only its own architecture: train one on this architecture, or use chunk tokens"
        )

    @torch.no_grad()
    def embed_vectors(
        self,
        vectors: npt.ArrayLike,
        *,
        layout: WeightLayout | None = None,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Latents of canonical vectors of one architecture (default: the encoder's).

        Returns
        -------
        numpy.ndarray of shape (n, latent), float32
        """
        lay = layout or self.layout
        tm = self._tokens_for(lay, "vectors")
        V = self.standardizer.transform(np.atleast_2d(np.asarray(vectors)), lay.param_group)
        positions = token_positions(tm).to(self.device)
        out = []
        for start in range(0, len(V), batch_size):
            tokens = torch.from_numpy(tm.tokenize(V[start : start + batch_size]))
            out.append(self.model.encode(tokens.to(self.device), positions).cpu().numpy())
        if not out:
            return np.zeros((0, self.latent), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)

    def embed(self, weightsets: Sequence[WeightSet], *, batch_size: int = 256) -> np.ndarray:
        """Latents of models given as WeightSets (any mix of architectures for chunk tokens).

        Returns
        -------
        numpy.ndarray of shape (n, latent), float32

        Raises
        ------
        EncoderFolderError
            A model of another architecture than a neuron-token encoder's.
        """
        out = np.zeros((len(weightsets), self.latent), dtype=np.float32)
        groups: dict[Any, tuple[WeightLayout, list[int]]] = {}
        for i, ws in enumerate(weightsets):
            lay = WeightLayout.from_weightset(ws)
            self._tokens_for(lay, ws.source or f"model {i}")
            groups.setdefault(lay.signature, (lay, []))[1].append(i)
        for lay, rows in groups.values():
            V = np.stack([weightsets[i].vector() for i in rows])
            out[rows] = self.embed_vectors(V, layout=lay, batch_size=batch_size)
        return out

    @torch.no_grad()
    def reconstruct(self, vectors: npt.ArrayLike) -> np.ndarray:
        """Canonical vectors of the training architecture through the autoencoder (own units)."""
        pg = self.layout.param_group
        V = self.standardizer.transform(np.atleast_2d(np.asarray(vectors)), pg)
        tokens = torch.from_numpy(self.tokens.tokenize(V)).to(self.device)
        _, rec = self.model(tokens, token_positions(self.tokens).to(self.device))
        out = self.tokens.detokenize(rec.cpu().numpy())
        return self.standardizer.inverse(out, pg)


def load_encoder(path: str | os.PathLike[str], *, device: str = "cpu") -> Encoder:
    """Read an encoder folder.

    Raises
    ------
    EncoderFolderError
        Not an encoder folder, an incomplete training, or files that do not fit together.
    """
    folder = Path(path)
    config = ckpt.read_config(folder)
    try:
        layout = WeightLayout.from_json(config["layout"], config["n_params"])
        tokens = make_tokens(layout, config["tokens"]["kind"], chunk=int(config["tokens"]["chunk"]))
        standardizer = LayerStandardizer.from_json(config["standardizer"])
        model_cfg = AutoencoderConfig.from_json(config["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise EncoderFolderError(
            f"{folder / ckpt.CONFIG}: incomplete or invalid configuration ({exc!r}); retrain the "
            "encoder"
        ) from None
    weights, meta = ckpt.read_weights(folder)
    model = HyperAutoencoder(model_cfg)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise EncoderFolderError(
            f"{folder / ckpt.ENCODER}: the weights do not fit {ckpt.CONFIG} ({first}); retrain "
            "the encoder"
        ) from None
    dev = torch.device(device)
    model.to(dev).eval()
    return Encoder(folder, config, layout, tokens, standardizer, model, meta, dev)


def encoder_fingerprint(path: str | os.PathLike[str]) -> str:
    """A hash of an encoder folder's configuration and best weights (changes on retraining)."""
    folder = Path(path)
    digest = hashlib.sha1()
    for name in (ckpt.CONFIG, ckpt.ENCODER):
        file = folder / name
        if not file.is_file():
            ckpt.read_config(folder)  # raises the folder's error
            raise EncoderFolderError(f"{file}: missing; train the encoder first")
        digest.update(file.read_bytes())
    return digest.hexdigest()[:20]
