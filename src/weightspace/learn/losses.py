"""Losses of the hyper-representation autoencoder and its reconstruction score.

- :func:`nt_xent`: the normalized-temperature cross entropy of SimCLR on two views of a batch
  (Schürholt et al.'s contrastive loss, temperature 0.1): every sample's other view is its positive,
  the other ``2n - 2`` samples are negatives.
- :func:`masked_mse`: mean squared error over the real (unpadded) token entries only.
- :func:`reconstruction_r2`: ``1 - SSE / SST`` over real entries, SST about each entry's mean over
  the samples (scikit-learn's ``r2_score`` with ``multioutput="variance_weighted"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["masked_mse", "nt_xent", "reconstruction_r2"]


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """NT-Xent of two views: ``a[i]`` and ``b[i]`` are positives.

    Parameters
    ----------
    a, b : torch.Tensor of shape (n, d)
        Projections of the two views (normalized here).
    temperature : float, default=0.1

    Returns
    -------
    torch.Tensor
        The mean over the ``2n`` samples of ``-log softmax`` of the positive's cosine similarity
        among all others, divided by ``temperature``.
    """
    import torch
    import torch.nn.functional as F

    n = a.shape[0]
    z = F.normalize(torch.cat([a, b]), dim=1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``(pred - target)**2`` over the entries where ``mask`` (broadcast) is true."""
    m = mask.to(pred.dtype).expand_as(pred)
    return ((pred - target) ** 2 * m).sum() / m.sum().clamp_min(1.0)


def reconstruction_r2(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """Variance-weighted R^2 of reconstructed tokens over their real entries.

    Parameters
    ----------
    pred, target : numpy.ndarray of shape (n, tokens, width)
    mask : numpy.ndarray of bool of shape (tokens, width)

    Returns
    -------
    float
        ``1 - sum (pred - target)^2 / sum (target - mean_over_samples(target))^2`` over the real
        entries; NaN for fewer than 2 samples or constant targets.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(6.0).reshape(3, 2, 1)
    >>> reconstruction_r2(t, t, np.ones((2, 1), bool))
    1.0
    """
    p = np.asarray(pred, dtype=np.float64)[:, mask]
    t = np.asarray(target, dtype=np.float64)[:, mask]
    sst = float(((t - t.mean(axis=0)) ** 2).sum())
    if t.shape[0] < 2 or sst == 0.0:
        return float("nan")
    return 1.0 - float(((p - t) ** 2).sum()) / sst
