"""Tokens of a model: neuron tokens (one per unit) and chunk tokens (fixed-size pieces of a unit).

Both are an index map over the canonical vector (:class:`TokenMap`): ``tokens = vector[index]``
with padding where ``index == -1``, so tokenizing is one fancy index and :meth:`TokenMap.detokenize`
puts every value back where it came from (an exact round trip).

- **Neuron tokens** (Schürholt et al. 2021): one token per unit = its incoming weights, its bias and
  its batch-norm values (:mod:`weightspace.learn.layout`), padded to the widest unit. The 2,464-
  parameter CNN gives 48 tokens of widths 26/201/25/37/21. Each layer has its own linear embedder
  in the autoencoder. For one architecture only.
- **Chunk tokens** (SANE, Schürholt et al. 2024): every unit's row is cut into chunks of ``chunk``
  entries (the last one padded); each token carries its position (chunk index in the row, layer,
  unit). One shared embedder: any architecture can be tokenized.

Examples
--------
>>> import numpy as np
>>> from weightspace import WeightSet
>>> from weightspace.learn.layout import WeightLayout
>>> ws = WeightSet.from_arrays({"a.weight": np.arange(6.0).reshape(3, 2), "a.bias": np.ones(3)})
>>> tm = neuron_tokens(WeightLayout.from_weightset(ws))
>>> tm.tokenize(ws.vector())[0].tolist()
[[0.0, 1.0, 1.0], [2.0, 3.0, 1.0], [4.0, 5.0, 1.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

from weightspace.learn.layout import LearnError, WeightLayout

__all__ = ["TokenKind", "TokenMap", "chunk_tokens", "make_tokens", "neuron_tokens"]

TokenKind = Literal["neuron", "chunk"]

#: Widest unit neuron tokens accept (one token per unit; wider units need chunk tokens).
MAX_NEURON_WIDTH = 4096
#: Most tokens one model may have (attention is quadratic in it).
MAX_TOKENS = 8192


@dataclass(frozen=True, eq=False)
class TokenMap:
    """The tokens of one layout: where each token entry sits in the canonical vector.

    Attributes
    ----------
    kind : {"neuron", "chunk"}
    index : numpy.ndarray of shape (n_tokens, width), int64
        Canonical-vector position of every entry; -1 marks padding.
    layer, unit, chunk : numpy.ndarray of shape (n_tokens,), int64
        The layer (row group) of each token, its unit (row) within the layer, and its chunk within
        the row (always 0 for neuron tokens).
    n_params : int
        Length of the canonical vector.
    """

    kind: TokenKind
    index: np.ndarray
    layer: np.ndarray
    unit: np.ndarray
    chunk: np.ndarray
    n_params: int

    @property
    def n_tokens(self) -> int:
        """Tokens per model."""
        return int(self.index.shape[0])

    @property
    def width(self) -> int:
        """Entries per token (padded)."""
        return int(self.index.shape[1])

    @cached_property
    def mask(self) -> np.ndarray:
        """True for real entries, shape ``(n_tokens, width)``."""
        return self.index >= 0

    @cached_property
    def _safe(self) -> np.ndarray:
        return np.where(self.mask, self.index, 0)

    def tokenize(self, vectors: npt.ArrayLike) -> np.ndarray:
        """Tokens of canonical vectors.

        Parameters
        ----------
        vectors : array-like of shape (n_params,) or (n, n_params)

        Returns
        -------
        numpy.ndarray of shape (n, n_tokens, width), float32
            Padding entries are 0.
        """
        V = np.asarray(vectors, dtype=np.float32)
        if V.ndim == 1:
            V = V[None]
        if V.ndim != 2 or V.shape[1] != self.n_params:
            raise LearnError(
                f"expected canonical vectors of {self.n_params} weights; got shape {V.shape}"
            )
        out = V[:, self._safe]
        out[:, ~self.mask] = 0.0
        return out

    def detokenize(self, tokens: npt.ArrayLike) -> np.ndarray:
        """Canonical vectors back from tokens (padding ignored): shape ``(n, n_params)``."""
        T = np.asarray(tokens, dtype=np.float32)
        if T.ndim == 2:
            T = T[None]
        if T.shape[1:] != self.index.shape:
            raise LearnError(
                f"expected tokens of shape (n, {self.n_tokens}, {self.width}); got {T.shape}"
            )
        out = np.zeros((T.shape[0], self.n_params), dtype=np.float32)
        out[:, self.index[self.mask]] = T[:, self.mask]
        return out

    @cached_property
    def layer_slices(self) -> list[slice]:
        """The contiguous token range of every layer (tokens are in layer order)."""
        bounds = np.flatnonzero(np.diff(self.layer)) + 1
        starts = [0, *bounds.tolist()]
        ends = [*bounds.tolist(), self.n_tokens]
        return [slice(a, b) for a, b in zip(starts, ends, strict=True)]

    @cached_property
    def layer_widths(self) -> list[int]:
        """Real entries per token of every layer (neuron tokens: the unit width)."""
        return [int(self.mask[s].sum(axis=1).max()) for s in self.layer_slices]


def neuron_tokens(layout: WeightLayout, *, max_width: int = MAX_NEURON_WIDTH) -> TokenMap:
    """One token per unit (see the module notes).

    Raises
    ------
    LearnError
        A unit is wider than ``max_width`` (use chunk tokens), or there are too many tokens.
    """
    widest = max(g.width for g in layout.groups)
    if widest > max_width:
        raise LearnError(
            f"a unit of this architecture has {widest} incoming weights, more than the "
            f"{max_width} neuron tokens allow; use chunk tokens (--tokens chunk)"
        )
    _check_count(sum(g.n_rows for g in layout.groups))
    rows, layer, unit = [], [], []
    for i, g in enumerate(layout.groups):
        pos = g.positions()
        rows.append(np.pad(pos, ((0, 0), (0, widest - pos.shape[1])), constant_values=-1))
        layer.append(np.full(g.n_rows, i))
        unit.append(np.arange(g.n_rows))
    n = sum(g.n_rows for g in layout.groups)
    return TokenMap(
        "neuron",
        np.concatenate(rows).astype(np.int64),
        np.concatenate(layer).astype(np.int64),
        np.concatenate(unit).astype(np.int64),
        np.zeros(n, dtype=np.int64),
        layout.n_params,
    )


def chunk_tokens(layout: WeightLayout, *, chunk: int = 64) -> TokenMap:
    """Every unit's row cut into tokens of ``chunk`` entries (see the module notes)."""
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise LearnError(f"chunk must be a positive integer; got {chunk!r}")
    pieces, layer, unit, part = [], [], [], []
    for i, g in enumerate(layout.groups):
        pos = g.positions()
        n_chunks = -(-pos.shape[1] // chunk)
        padded = np.pad(pos, ((0, 0), (0, n_chunks * chunk - pos.shape[1])), constant_values=-1)
        pieces.append(padded.reshape(g.n_rows * n_chunks, chunk))
        layer.append(np.full(g.n_rows * n_chunks, i))
        unit.append(np.repeat(np.arange(g.n_rows), n_chunks))
        part.append(np.tile(np.arange(n_chunks), g.n_rows))
    index = np.concatenate(pieces).astype(np.int64)
    _check_count(index.shape[0])
    return TokenMap(
        "chunk",
        index,
        np.concatenate(layer).astype(np.int64),
        np.concatenate(unit).astype(np.int64),
        np.concatenate(part).astype(np.int64),
        layout.n_params,
    )


def make_tokens(layout: WeightLayout, kind: str, *, chunk: int = 64) -> TokenMap:
    """:func:`neuron_tokens` or :func:`chunk_tokens` by name."""
    if kind == "neuron":
        return neuron_tokens(layout)
    if kind == "chunk":
        return chunk_tokens(layout, chunk=chunk)
    raise LearnError(f"tokens must be 'neuron' or 'chunk'; got {kind!r}")


def _check_count(n: int) -> None:
    if n > MAX_TOKENS:
        raise LearnError(
            f"the model would give {n} tokens, more than the {MAX_TOKENS} an encoder attends over; "
            "hyper-representations are for small networks (model zoos of up to ~100k weights)"
        )
