"""How far a checkpoint is from the training zoo, in the predictor's representation.

The distance of a model to the zoo is the mean Euclidean distance to its ``k`` nearest training
models in the standardized features (:class:`~weightspace.predict.common.FeatureScaler`). Its
reference is the same distance of every training model to the *other* training models
(leave-one-out). A checkpoint is *far from the zoo* when its distance is above the
``far_quantile`` quantile of those (default 0.99): a prediction for it is an extrapolation. The
percentile says where it falls among the training models (0: closer than every training model is to
its neighbours, 100: farther than all of them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from weightspace.predict.common import PredictorError

__all__ = ["ZooDistance"]


def _knn_mean(Z: np.ndarray, ref: np.ndarray, k: int, skip_self: bool) -> np.ndarray:
    """Mean distance of each row of Z to its k nearest rows of ref.

    Differences are summed directly (no ``|a|^2 + |b|^2 - 2ab`` through BLAS, whose rounding can
    depend on memory alignment): a reloaded predictor gives bit-identical distances.
    """
    out = np.empty(Z.shape[0])
    step = max(1, int(4_000_000 // max(1, ref.size)))
    for start in range(0, Z.shape[0], step):
        part = Z[start : start + step]
        d = np.sqrt(((part[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2))
        if skip_self:
            rows = np.arange(part.shape[0])
            d[rows, start + rows] = np.inf
        out[start : start + part.shape[0]] = np.sort(d, axis=1)[:, :k].mean(axis=1)
    return out


@dataclass(frozen=True)
class ZooDistance:
    """k-nearest-neighbour distance to the training zoo, with its leave-one-out reference.

    Attributes
    ----------
    train : numpy.ndarray of shape (n_train, d), float32
        Standardized training features.
    reference : numpy.ndarray of shape (n_train,)
        Each training model's distance to the other training models, sorted.
    k : int
    threshold : float
        Distances above it are far from the zoo.
    far_quantile : float
    """

    train: np.ndarray
    reference: np.ndarray
    k: int
    threshold: float
    far_quantile: float

    @classmethod
    def fit(cls, Z: npt.ArrayLike, *, k: int = 5, far_quantile: float = 0.99) -> ZooDistance:
        """Learn the reference from the standardized training features ``Z`` (n, d), n >= 2.

        Examples
        --------
        >>> import numpy as np
        >>> Z = np.random.default_rng(0).normal(size=(50, 3))
        >>> zoo = ZooDistance.fit(Z)
        >>> bool(zoo.score([[0.0, 0.0, 0.0]])[2][0]), bool(zoo.score([[50.0, 0, 0]])[2][0])
        (False, True)
        """
        train = np.asarray(Z, dtype=np.float32).astype(np.float64)  # as stored
        if train.ndim != 2 or train.shape[0] < 2:
            raise PredictorError(
                f"the distance to the zoo needs at least 2 training models; got {train.shape[0]}"
            )
        if not 0.0 < far_quantile <= 1.0:
            raise PredictorError(f"far_quantile must be in (0, 1]; got {far_quantile!r}")
        k = max(1, min(int(k), train.shape[0] - 1))
        reference = np.sort(_knn_mean(train, train, k, skip_self=True))
        threshold = float(np.quantile(reference, far_quantile))
        return cls(train.astype(np.float32), reference, k, threshold, float(far_quantile))

    def score(self, Z: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distance, percentile among the training models (0-100) and the far flag of each row."""
        A = np.asarray(Z, dtype=np.float64)
        distance = _knn_mean(A, self.train.astype(np.float64), self.k, skip_self=False)
        below = np.searchsorted(self.reference, distance, side="left")
        percentile = 100.0 * below / self.reference.shape[0]
        return distance, percentile, distance > self.threshold

    def arrays(self) -> dict[str, np.ndarray]:
        """The state as named arrays (for safetensors)."""
        return {"zoo.train": self.train, "zoo.reference": self.reference}

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], *, k: int, threshold: float, far_quantile: float
    ) -> ZooDistance:
        """Rebuild from :meth:`arrays` and the JSON fields."""
        return cls(
            np.asarray(arrays["zoo.train"], dtype=np.float32),
            np.asarray(arrays["zoo.reference"], dtype=np.float64),
            int(k),
            float(threshold),
            float(far_quantile),
        )
