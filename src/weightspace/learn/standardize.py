"""Per-layer standardization of weights: every layer (row group) to zero mean and unit variance.

The mean and standard deviation of each layer are taken over all its entries in the training models
(all snapshots); a layer of a model of another architecture (chunk tokens) uses the statistics of
the training layer at the same depth, the last one beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from weightspace.learn.layout import LearnError

__all__ = ["LayerStandardizer"]


@dataclass(frozen=True, eq=False)
class LayerStandardizer:
    """Per-layer mean and standard deviation (fitted with :meth:`fit`).

    Examples
    --------
    >>> import numpy as np
    >>> s = LayerStandardizer.fit(np.array([[0.0, 2.0, 10.0], [2.0, 4.0, 30.0]]), np.array([0, 0, 1]))
    >>> s.mean.tolist(), s.std.tolist()
    ([2.0, 20.0], [1.4142135623730951, 10.0])
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, vectors: npt.ArrayLike, param_group: np.ndarray) -> LayerStandardizer:
        """Statistics of ``vectors`` ``(n, n_params)`` per group of ``param_group`` ``(n_params,)``."""
        V = np.asarray(vectors, dtype=np.float64)
        groups = int(param_group.max()) + 1
        count = np.bincount(param_group, minlength=groups) * V.shape[0]
        total = np.bincount(param_group, weights=V.sum(axis=0), minlength=groups)
        mean = total / count
        sq = np.bincount(
            param_group, weights=((V - mean[param_group]) ** 2).sum(axis=0), minlength=groups
        )
        std = np.sqrt(sq / count)
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise LearnError(
                "the training weights hold NaN or infinite values; leave such models out "
                '(--where "nonfinite = 0")'
            )
        std = np.where(std > 1e-12, std, 1.0)
        return cls(mean, std)

    def _per_param(self, param_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = np.minimum(param_group, self.mean.shape[0] - 1)
        return self.mean[g].astype(np.float32), self.std[g].astype(np.float32)

    def transform(self, vectors: npt.ArrayLike, param_group: np.ndarray) -> np.ndarray:
        """Standardized float32 copies of ``vectors``."""
        mean, std = self._per_param(param_group)
        out: np.ndarray = ((np.asarray(vectors, dtype=np.float32) - mean) / std).astype(np.float32)
        return out

    def inverse(self, vectors: npt.ArrayLike, param_group: np.ndarray) -> np.ndarray:
        """Vectors back in the weights' own units."""
        mean, std = self._per_param(param_group)
        out: np.ndarray = (np.asarray(vectors, dtype=np.float32) * std + mean).astype(np.float32)
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LayerStandardizer:
        """The inverse of :meth:`to_json`."""
        return cls(
            np.asarray(data["mean"], dtype=np.float64), np.asarray(data["std"], dtype=np.float64)
        )
