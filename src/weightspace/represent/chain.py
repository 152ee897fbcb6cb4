"""Chain normalization: permutation-invariant Gram matrices of chains of layers.

For an MLP with weight matrices ``W_l`` of shape ``(out_l, in_l)``, the k-th chain is layers
``1..k`` and its product ``C_k = W_k ... W_1`` changes only by a row permutation when hidden neurons
are permuted; its Gram matrix ``C_k^T C_k`` (``in_0 x in_0``) is therefore invariant (Understanding
Weight Similarity of Neural Networks via Chain Normalization Rule, section 3.3 and appendix B).

CNNs (the paper's Remark): a kernel ``(out, in, kh, kw)`` is read as ``(out * kh * kw, in)`` when it
multiplies the chain so far, and the ``kh * kw`` spatial positions are folded into the input side of
the result, so ``C_k`` has one row per output channel and ``in_0 * prod(kernel sizes)`` columns. A
linear layer after a flatten is read the same way, its ``in / channels`` positions folded alike.

As the reference code, only kernels (conv filters, linear matrices) are read: no biases, no batch
norm; with ``normalize=True`` each layer's rows (one output unit's incoming weights) are first
scaled to unit L2 norm.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from weightspace.errors import WeightspaceError
from weightspace.io.load import load_weights
from weightspace.io.weightset import WeightSet

__all__ = ["ChainGram", "chain_grams"]


def _kernels(ws: WeightSet) -> list[np.ndarray]:
    kernels = [t.array.astype(np.float64) for t in ws.tensors if t.role == "kernel"]
    if not kernels:
        raise WeightspaceError(
            f"{ws.source or 'WeightSet'}: no kernels (conv filters or linear matrices)"
        )
    return kernels


def chain_grams(
    weights: Any,
    *,
    normalize: bool = True,
    chains: Sequence[int] | None = None,
    max_dim: int = 8192,
) -> list[np.ndarray]:
    """The Gram matrices ``C_k^T C_k`` of the chains of a network.

    Parameters
    ----------
    weights : WeightSet, nn.Module, path or state dict
        A feed-forward MLP or CNN (kernels in the PyTorch layout, in forward order).
    normalize : bool, default=True
        Scale every output unit's incoming weights to unit L2 norm first.
    chains : sequence of int, optional
        Which chains (1-based: chain k = layers 1..k); default all.
    max_dim : int, default=8192
        Refuse Gram matrices larger than ``max_dim x max_dim`` (CNN chains grow as the product of the
        kernel sizes).

    Returns
    -------
    list of numpy.ndarray
        One symmetric ``(d_k, d_k)`` float64 matrix per chain asked for.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    >>> [g.shape for g in chain_grams(net)]
    [(3, 3), (3, 3)]
    """
    ws = load_weights(weights)
    kernels = _kernels(ws)
    wanted = set(range(1, len(kernels) + 1)) if chains is None else {int(c) for c in chains}
    bad = sorted(c for c in wanted if not 1 <= c <= len(kernels))
    if bad:
        raise WeightspaceError(f"chains {bad} out of range: the network has {len(kernels)} layers")
    out = []
    chain: np.ndarray | None = None  # (channels_k, columns)
    for k, w in enumerate(kernels, start=1):
        mat = w.reshape(w.shape[0], -1)
        if normalize:
            norms = np.linalg.norm(mat, axis=1, keepdims=True)
            w = (mat / np.where(norms > 0, norms, 1.0)).reshape(w.shape)
        chain = _extend(chain, w, ws.source, k)
        if chain.shape[1] > max_dim:
            raise WeightspaceError(
                f"chain {k} has {chain.shape[1]} input dimensions (> max_dim={max_dim}); "
                "ask for fewer chains or raise max_dim"
            )
        if k in wanted:
            out.append(chain.T @ chain)
    return out


def _extend(chain: np.ndarray | None, w: np.ndarray, source: str, k: int) -> np.ndarray:
    """Multiply the next kernel onto the chain, folding its spatial positions into the columns."""
    out_c = w.shape[0]
    if chain is None:
        return w.reshape(out_c, -1)
    channels = chain.shape[0]
    size = int(np.prod(w.shape[1:]))
    if size % channels:
        raise WeightspaceError(
            f"{source or 'network'}: layer {k} takes {size} inputs per unit, not a multiple of the "
            f"{channels} outputs of layer {k - 1}; chain normalization needs a plain feed-forward net"
        )
    positions = size // channels
    # conv (out, in, *spatial), or linear after a flatten whose columns are (channel, position)
    w3 = w.reshape(out_c, channels, positions)
    # (out, positions, channels) @ (channels, columns) -> (out, positions * columns)
    product: np.ndarray = np.einsum("opc,cm->opm", w3.transpose(0, 2, 1), chain)
    return product.reshape(out_c, -1)


class ChainGram(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Chain-normalized features: the flattened upper triangles of the chains' Gram matrices.

    Its input is networks (WeightSets, ``nn.Module`` objects, checkpoint paths or state dicts),
    not rows of numbers: its tags say so (``input_tags.two_d_array = False``), so scikit-learn's
    ``check_estimator`` runs only its API checks on it.

    Parameters
    ----------
    chains : sequence of int, optional
        Chains to use (1-based; default: all).
    normalize : bool, default=True
        Per-layer L2 normalization of the rows first.
    max_dim : int, default=8192

    Attributes
    ----------
    chains_ : list of int
        The chains used (1-based, ascending).
    chain_dims_ : list of int
        The side ``d_k`` of each chain's Gram matrix; chain k gives ``d_k (d_k + 1) / 2`` features.
    n_features_out_ : int

    Examples
    --------
    >>> import torch
    >>> nets = [torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)) for _ in range(2)]
    >>> ChainGram().fit(nets).transform(nets).shape
    (2, 12)
    >>> ChainGram(chains=[1]).fit(nets).get_feature_names_out()[:3].tolist()
    ['chain1_0_0', 'chain1_0_1', 'chain1_0_2']
    """

    def __init__(
        self, *, chains: Sequence[int] | None = None, normalize: bool = True, max_dim: int = 8192
    ) -> None:
        self.chains = chains
        self.normalize = normalize
        self.max_dim = max_dim

    def fit(self, X: Sequence[Any], y: Any = None) -> ChainGram:
        """Check the parameters and learn the chains' sizes from the first network; return self."""
        if isinstance(self.max_dim, bool) or not isinstance(self.max_dim, int) or self.max_dim < 1:
            raise WeightspaceError(
                f"ChainGram.max_dim must be a positive integer; got {self.max_dim!r}"
            )
        nets = _networks(X, "fit")
        first = load_weights(nets[0])
        grams = chain_grams(
            first, normalize=self.normalize, chains=self.chains, max_dim=self.max_dim
        )
        n_layers = len(_kernels(first))
        chains = range(1, n_layers + 1) if self.chains is None else {int(c) for c in self.chains}
        dims = [g.shape[0] for g in grams]
        self.chains_ = sorted(chains)
        self.chain_dims_ = dims
        self.n_features_out_ = sum(d * (d + 1) // 2 for d in dims)
        return self

    def _features(self, net: Any) -> np.ndarray:
        grams = chain_grams(net, normalize=self.normalize, chains=self.chains, max_dim=self.max_dim)
        flat: np.ndarray = np.concatenate([g[np.triu_indices(g.shape[0])] for g in grams])
        out: np.ndarray = flat.astype(np.float32)
        return out

    def transform(self, X: Sequence[Any]) -> np.ndarray:
        """Features of each network, shape ``(n, n_features_out_)``."""
        check_is_fitted(self)
        rows = [self._features(net) for net in _networks(X, "transform")]
        for i, row in enumerate(rows):
            if row.shape[0] != self.n_features_out_:
                raise WeightspaceError(
                    f"network {i} gives {row.shape[0]} features, the fitted ones {self.n_features_out_}; "
                    "all networks need the same architecture"
                )
        return np.stack(rows)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``"chain{k}_{i}_{j}"``: entry (i, j), i <= j, of chain k's Gram matrix, in output order."""
        check_is_fitted(self)
        return np.array(
            [
                f"chain{k}_{i}_{j}"
                for k, d in zip(self.chains_, self.chain_dims_, strict=True)
                for i, j in zip(*np.triu_indices(d), strict=True)
            ],
            dtype=object,
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # networks, not rows of numbers
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _networks(X: Any, method: str) -> list[Any]:
    """A batch of networks as a list (one network alone is refused with the fix)."""
    if isinstance(X, WeightSet | str | bytes | os.PathLike | Mapping) or not isinstance(
        X, Sequence
    ):
        raise WeightspaceError(
            f"ChainGram.{method} takes a list of networks (WeightSets, nn.Modules, checkpoint "
            f"paths or state dicts); got {type(X).__name__}: wrap one network in a list, [net]"
        )
    if len(X) == 0:
        raise WeightspaceError(f"ChainGram.{method} needs at least one network; got 0")
    return list(X)
