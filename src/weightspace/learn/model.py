"""The transformer autoencoder of hyper-representations (Schürholt et al. 2021; SANE 2024).

tokens -> embedders -> + positions -> [compression token, tokens] -> transformer encoder ->
compression token -> linear + tanh -> **latent z** (the hyper-representation);
z -> linear, + positions -> transformer -> de-embedders -> tokens (the reconstruction);
z -> a small projection head -> the contrastive loss's space.

Neuron tokens have one linear embedder and de-embedder per layer (a layer's units share a width)
and a learned position per token; chunk tokens share one embedder and carry a learned 3-part
position (chunk index in the row, layer, unit), clipped to the tables' sizes for models larger than
the training architecture. The defaults are sized for a CPU (about 0.3M parameters).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from weightspace.learn.layout import LearnError
from weightspace.learn.tokens import TokenMap

__all__ = ["AutoencoderConfig", "HyperAutoencoder", "token_positions"]


@dataclass(frozen=True)
class AutoencoderConfig:
    """Sizes of a :class:`HyperAutoencoder` (JSON-serializable).

    Parameters
    ----------
    tokens : {"neuron", "chunk"}
    width : int
        Entries per token (padded).
    layer_widths, layer_tokens : tuple of int
        Neuron tokens: real width and number of tokens of every layer (empty for chunk tokens).
    n_positions : tuple of int
        Neuron tokens: ``(n_tokens,)``; chunk tokens: ``(chunks per row, layers, units)`` table sizes.
    d_model : int, default=64
    n_heads : int, default=4
    encoder_layers, decoder_layers : int, default=2
    d_ff : int, default=256
        Feed-forward width of the transformer blocks.
    latent : int, default=32
        Size of the hyper-representation.
    dropout : float, default=0.1
    projection : int, default=32
        Output size of the contrastive projection head.
    """

    tokens: str
    width: int
    layer_widths: tuple[int, ...]
    layer_tokens: tuple[int, ...]
    n_positions: tuple[int, ...]
    d_model: int = 64
    n_heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    d_ff: int = 256
    latent: int = 32
    dropout: float = 0.1
    projection: int = 32

    @classmethod
    def for_tokens(cls, tm: TokenMap, **sizes: Any) -> AutoencoderConfig:
        """The configuration for tokens ``tm`` with the given sizes (``d_model=...``)."""
        if tm.kind == "neuron":
            counts = tuple(s.stop - s.start for s in tm.layer_slices)
            cfg = cls("neuron", tm.width, tuple(tm.layer_widths), counts, (tm.n_tokens,), **sizes)
        else:
            positions = (int(tm.chunk.max()) + 1, int(tm.layer.max()) + 1, int(tm.unit.max()) + 1)
            cfg = cls("chunk", tm.width, (), (), positions, **sizes)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise :class:`LearnError` for sizes a transformer cannot take."""
        for name in ("d_model", "n_heads", "encoder_layers", "decoder_layers", "d_ff", "latent",
                     "projection"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LearnError(f"{name} must be a positive integer; got {value!r}")
        if self.d_model % self.n_heads:
            raise LearnError(
                f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise LearnError(f"dropout must be in [0, 1); got {self.dropout!r}")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AutoencoderConfig:
        """The inverse of :meth:`to_json`."""
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known
        }
        return cls(**values)


def _stack(cfg: AutoencoderConfig, n_layers: int) -> nn.TransformerEncoder:
    block = nn.TransformerEncoderLayer(
        cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout, batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(
        block, n_layers, norm=nn.LayerNorm(cfg.d_model), enable_nested_tensor=False
    )


class HyperAutoencoder(nn.Module):
    """Transformer autoencoder over weight tokens (see the module notes).

    Parameters
    ----------
    config : AutoencoderConfig
    """

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        d = config.d_model
        if config.tokens == "neuron":
            self.embedders = nn.ModuleList(nn.Linear(w, d) for w in config.layer_widths)
            self.deembedders = nn.ModuleList(nn.Linear(d, w) for w in config.layer_widths)
        else:
            self.embedders = nn.ModuleList([nn.Linear(config.width, d)])
            self.deembedders = nn.ModuleList([nn.Linear(d, config.width)])
        self.enc_position = nn.ModuleList(nn.Embedding(n, d) for n in config.n_positions)
        self.dec_position = nn.ModuleList(nn.Embedding(n, d) for n in config.n_positions)
        self.compression = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.encoder = _stack(config, config.encoder_layers)
        self.to_latent = nn.Linear(d, config.latent)
        self.from_latent = nn.Linear(config.latent, d)
        self.decoder = _stack(config, config.decoder_layers)
        self.head = nn.Sequential(
            nn.Linear(config.latent, config.latent),
            nn.ReLU(),
            nn.Linear(config.latent, config.projection),
        )

    # ------------------------------------------------------------------ pieces
    def _positions(self, table: nn.ModuleList, positions: torch.Tensor) -> torch.Tensor:
        """Position embeddings ``(tokens, d)``: per token index (neuron tokens), or the sum of the
        (chunk, layer, unit) embeddings of ``positions`` ``(tokens, 3)`` (chunk tokens)."""
        if self.config.tokens == "neuron":
            index = torch.arange(positions.shape[0], device=positions.device)
            return table[0](index)  # type: ignore[no-any-return]
        out = torch.zeros(positions.shape[0], self.config.d_model, device=positions.device)
        for k, emb in enumerate(table):
            limit = int(self.config.n_positions[k]) - 1
            out = out + emb(positions[:, k].clamp(0, limit))
        return out

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.config.tokens == "chunk":
            return self.embedders[0](tokens)  # type: ignore[no-any-return]
        parts, start = [], 0
        for linear, count, width in zip(
            self.embedders, self.config.layer_tokens, self.config.layer_widths, strict=True
        ):
            parts.append(linear(tokens[:, start : start + count, :width]))
            start += count
        return torch.cat(parts, dim=1)

    def _deembed(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.config.tokens == "chunk":
            return self.deembedders[0](hidden)  # type: ignore[no-any-return]
        parts, start = [], 0
        for linear, count, width in zip(
            self.deembedders, self.config.layer_tokens, self.config.layer_widths, strict=True
        ):
            out = linear(hidden[:, start : start + count])
            parts.append(nn.functional.pad(out, (0, self.config.width - width)))
            start += count
        return torch.cat(parts, dim=1)

    def _check(self, tokens: torch.Tensor, positions: torch.Tensor) -> None:
        cfg = self.config
        if tokens.ndim != 3 or tokens.shape[2] != cfg.width:
            raise LearnError(
                f"tokens must have shape (n, T, {cfg.width}); got {tuple(tokens.shape)}"
            )
        if cfg.tokens == "neuron" and tokens.shape[1] != cfg.n_positions[0]:
            raise LearnError(
                f"this encoder takes {cfg.n_positions[0]} neuron tokens; got {tokens.shape[1]}"
            )
        if positions.shape != (tokens.shape[1], 3):
            raise LearnError(f"positions must have shape ({tokens.shape[1]}, 3)")

    # ------------------------------------------------------------------ public
    def encode(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The latent ``z`` of tokens ``(n, T, width)`` at ``positions`` ``(T, 3)``: ``(n, latent)``."""
        self._check(tokens, positions)
        x = self._embed(tokens) + self._positions(self.enc_position, positions)
        x = torch.cat([self.compression.expand(x.shape[0], -1, -1), x], dim=1)
        h = self.encoder(x)
        return torch.tanh(self.to_latent(h[:, 0]))

    def decode(self, z: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Tokens ``(n, T, width)`` reconstructed from latents ``(n, latent)`` at ``positions``."""
        x = self.from_latent(z)[:, None, :] + self._positions(self.dec_position, positions)
        return self._deembed(self.decoder(x))

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """The projection head (for the contrastive loss)."""
        return self.head(z)  # type: ignore[no-any-return]

    def forward(
        self, tokens: torch.Tensor, positions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, reconstruction)``."""
        z = self.encode(tokens, positions)
        return z, self.decode(z, positions)


def token_positions(tm: TokenMap) -> torch.Tensor:
    """``(T, 3)`` long tensor of (chunk, layer, unit) of every token of ``tm``."""
    import numpy as np

    return torch.from_numpy(np.stack([tm.chunk, tm.layer, tm.unit], axis=1).astype(np.int64))
