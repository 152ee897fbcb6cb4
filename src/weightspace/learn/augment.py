"""Augmentations of weights: function-preserving permutations, random erasing, Gaussian noise.

- :class:`Permuter`: random permutations of the hidden units of a feed-forward network, as
  :func:`weightspace.symmetry.permute` defines them (producer rows, bias and batch norm; the next
  kernel's input columns, in blocks at a conv -> linear flatten), turned into one gather index of the
  canonical vector per sample so that a whole batch is permuted with one ``take_along_axis``. The
  gathers are checked against :func:`~weightspace.symmetry.permute` when the permuter is built.
- :func:`random_erase`: with probability ``p``, a random rectangle of the token matrix (area a
  fraction in ``scale`` of it, aspect ratio in ``ratio``) is set to 0, as torchvision's
  ``RandomErasing``.
- :func:`add_noise`: Gaussian noise on the real (unpadded) entries.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np

from weightspace.io.weightset import WeightSet
from weightspace.learn.layout import LearnError
from weightspace.symmetry import hidden_sizes, permute

if TYPE_CHECKING:
    import torch

__all__ = ["Permuter", "add_noise", "random_erase"]


class Permuter:
    """Random function-preserving permutations of a model's hidden units as vector gathers.

    Parameters
    ----------
    ws : WeightSet
        A model of the architecture (a plain feed-forward chain, see :mod:`weightspace.symmetry`).

    Raises
    ------
    weightspace.symmetry.SymmetryError
        The architecture's hidden units cannot be permuted safely.

    Examples
    --------
    >>> import numpy as np
    >>> from weightspace import load_weights
    >>> from weightspace.zoo.architectures import create_architecture
    >>> ws = load_weights(create_architecture("mlp", seed=0, in_features=3, hidden=(4,), n_classes=2))
    >>> g = Permuter(ws).random(2, np.random.default_rng(0))
    >>> g.shape
    (2, 26)
    """

    def __init__(self, ws: WeightSet) -> None:
        self.sizes = hidden_sizes(ws)
        self.n_params = ws.n_params
        self.blocks = _unit_blocks(ws)
        self._verify(ws)

    def gathers(self, permutations: list[np.ndarray]) -> np.ndarray:
        """Gather indices of given permutations.

        Parameters
        ----------
        permutations : list of numpy.ndarray of shape (n, size_h)
            One batch of permutations per hidden layer (:attr:`sizes`).

        Returns
        -------
        numpy.ndarray of shape (n, n_params), int64
            ``vector[g]`` is the permuted model's canonical vector.
        """
        n = permutations[0].shape[0] if permutations else 1
        out = np.broadcast_to(np.arange(self.n_params, dtype=np.int64), (n, self.n_params)).copy()
        rows = np.arange(n)[:, None, None]
        for block, perm in zip(self.blocks, permutations, strict=True):
            g = np.broadcast_to(np.arange(self.n_params, dtype=np.int64), out.shape).copy()
            g[rows, block[None]] = block[np.asarray(perm, dtype=np.int64)]
            out = np.take_along_axis(out, g, axis=1)
        return out

    def random(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Gather indices of ``n`` uniformly random permutations, shape ``(n, n_params)``."""
        perms = [rng.permuted(np.tile(np.arange(s), (n, 1)), axis=1) for s in self.sizes]
        return self.gathers(perms)

    def _verify(self, ws: WeightSet) -> None:
        if self.n_params >= 2**24 or not self.sizes:
            return  # float32 cannot hold larger indices exactly; nothing to permute
        rng = np.random.default_rng(0)
        perms = [rng.permutation(s) for s in self.sizes]
        index = ws.with_vector(np.arange(self.n_params, dtype=np.float32))
        expected = permute(index, permutations=perms).vector().astype(np.int64)
        got = self.gathers([p[None] for p in perms])[0]
        if not np.array_equal(expected, got):  # pragma: no cover - a structure symmetry allows
            raise LearnError(
                f"{ws.source or 'WeightSet'}: the permutation gathers disagree with "
                "weightspace.symmetry.permute for this architecture; train with --no-permute"
            )


def _unit_blocks(ws: WeightSet) -> list[np.ndarray]:
    """Per hidden layer, the canonical positions of every unit's entries, shape (units, m)."""
    offsets = ws.offsets
    layers = ws.layers
    kernel_of = {}
    for layer in layers:
        kernels = [t for t in ws.layer(layer).tensors if t.role == "kernel"]
        if kernels:
            kernel_of[layer] = kernels[0]
    order = [layer for layer in layers if layer in kernel_of]
    blocks = []
    for a, b in itertools.pairwise(order):
        size = kernel_of[a].shape[0]
        between = layers[layers.index(a) + 1 : layers.index(b)]
        parts = []
        for layer in (a, *between):
            for t in ws.layer(layer).tensors:
                if t.is_float:
                    start = offsets[t.name][0]
                    parts.append((start + np.arange(t.size, dtype=np.int64)).reshape(size, -1))
        kb = kernel_of[b]
        start = offsets[kb.name][0]
        cols = (start + np.arange(kb.size, dtype=np.int64)).reshape(kb.shape[0], size, -1)
        parts.append(cols.transpose(1, 0, 2).reshape(size, -1))
        blocks.append(np.concatenate(parts, axis=1))
    return blocks


def random_erase(
    x: torch.Tensor,
    generator: torch.Generator,
    *,
    p: float = 0.5,
    scale: tuple[float, float] = (0.02, 0.33),
    ratio: tuple[float, float] = (0.3, 3.3),
) -> torch.Tensor:
    """Erase (set to 0) one random rectangle of each sample's token matrix with probability ``p``.

    Parameters
    ----------
    x : torch.Tensor of shape (n, tokens, width)
    generator : torch.Generator
        On the CPU; draws are moved to ``x``'s device.
    p : float, default=0.5
    scale : (float, float), default=(0.02, 0.33)
        Range of the erased area as a fraction of ``tokens * width``.
    ratio : (float, float), default=(0.3, 3.3)
        Range of the rectangle's aspect ratio (height / width), drawn log-uniformly.

    Returns
    -------
    torch.Tensor
        A new tensor.
    """
    import torch

    n, T, W = x.shape
    u = torch.rand(n, 5, generator=generator, dtype=torch.float64)
    area = T * W * (scale[0] + (scale[1] - scale[0]) * u[:, 0])
    aspect = torch.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[:, 1])
    h = torch.sqrt(area * aspect).round().clamp(1, T).long()
    w = torch.sqrt(area / aspect).round().clamp(1, W).long()
    top = (u[:, 2] * (T - h + 1)).floor().long()
    left = (u[:, 3] * (W - w + 1)).floor().long()
    on = u[:, 4] < p
    rows = torch.arange(T)[None, :]
    cols = torch.arange(W)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])
    erase = (in_rows[:, :, None] & in_cols[:, None, :]) & on[:, None, None]
    return x.masked_fill(erase.to(x.device), 0.0)


def add_noise(
    x: torch.Tensor, mask: torch.Tensor, std: float, generator: torch.Generator
) -> torch.Tensor:
    """``x`` plus N(0, std^2) noise on the entries where ``mask`` is true (a new tensor)."""
    import torch

    if std <= 0:
        return x
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return x + std * noise * mask
