"""Common ground of the accuracy predictors: errors, metrics, feature scaling, architectures.

The predictors work on the feature matrix of one representation (:mod:`weightspace.represent`).
Features are standardized with the training zoo's mean and standard deviation; columns that are
not finite for every training model (NaN statistics of one-element tensors, say) are dropped, and
a non-finite value of a kept column in a model to predict is replaced by the training mean (and
reported).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from weightspace.errors import WeightspaceError
from weightspace.io.weightset import WeightSet

__all__ = [
    "ArchitectureSignature",
    "FeatureScaler",
    "PredictorError",
    "kendall_tau",
    "r2",
]


class PredictorError(WeightspaceError):
    """A predictor got a bad parameter, file or checkpoint (says what, where, and the fix)."""


def kendall_tau(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Kendall's tau-b between true and predicted values (NaN when either is constant).

    Examples
    --------
    >>> kendall_tau([0.1, 0.5, 0.9], [1.0, 2.0, 30.0])
    1.0
    """
    from scipy.stats import kendalltau  # type: ignore[import-untyped]

    a = np.asarray(y_true, dtype=np.float64)
    b = np.asarray(y_pred, dtype=np.float64)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(kendalltau(a, b).statistic)


def r2(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """The coefficient of determination, ``1 - SS_res / SS_tot`` (NaN for fewer than 2 models
    or a constant truth).

    Examples
    --------
    >>> r2([0.0, 1.0], [0.0, 1.0])
    1.0
    """
    a = np.asarray(y_true, dtype=np.float64)
    b = np.asarray(y_pred, dtype=np.float64)
    total = float(((a - a.mean()) ** 2).sum()) if a.size else 0.0
    if a.size < 2 or total == 0.0:
        return float("nan")
    return 1.0 - float(((a - b) ** 2).sum()) / total


@dataclass(frozen=True)
class FeatureScaler:
    """Keep the training zoo's finite columns and standardize them.

    Attributes
    ----------
    keep : numpy.ndarray of bool, shape (n_features_in,)
        Columns finite for every training model.
    mean, scale : numpy.ndarray of shape (n_kept,)
        Training mean and standard deviation (1 where a column is constant).
    """

    keep: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: npt.ArrayLike) -> FeatureScaler:
        """Learn the columns and their scale from the training features ``X`` (n, d)."""
        A = _matrix(X, "training features")
        keep = np.isfinite(A).all(axis=0)
        if not keep.any():
            raise PredictorError(
                f"none of the {A.shape[1]} features is finite for every training model; "
                "check the zoo's weights (NaN or inf) or use another representation"
            )
        kept = A[:, keep]
        mean = kept.mean(axis=0)
        scale = kept.std(axis=0)
        scale[~(scale > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0
        return cls(keep, mean, scale)

    @property
    def n_features_in(self) -> int:
        """Number of features of the representation."""
        return int(self.keep.shape[0])

    def transform(self, X: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Standardized kept columns of ``X``, and per row the number of values imputed.

        Returns
        -------
        Z : numpy.ndarray of shape (n, n_kept), float64
        imputed : numpy.ndarray of int, shape (n,)
            Non-finite values replaced by the training mean.
        """
        A = _matrix(X, "features")
        if A.shape[1] != self.n_features_in:
            raise PredictorError(
                f"the representation gives {A.shape[1]} features, the predictor was fitted on "
                f"{self.n_features_in}; use checkpoints of the training architecture"
            )
        kept = A[:, self.keep]
        bad = ~np.isfinite(kept)
        kept = np.where(bad, self.mean, kept)
        return (kept - self.mean) / self.scale, bad.sum(axis=1)

    def arrays(self) -> dict[str, np.ndarray]:
        """The state as named arrays (for safetensors)."""
        return {
            "scaler.keep": self.keep.astype(np.uint8),
            "scaler.mean": self.mean,
            "scaler.scale": self.scale,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FeatureScaler:
        """Rebuild from :meth:`arrays`."""
        return cls(
            arrays["scaler.keep"].astype(bool),
            np.asarray(arrays["scaler.mean"], dtype=np.float64),
            np.asarray(arrays["scaler.scale"], dtype=np.float64),
        )


def _matrix(X: npt.ArrayLike, what: str) -> np.ndarray:
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] == 0:
        raise PredictorError(f"{what} must be a non-empty 2-D array; got shape {A.shape}")
    return A


@dataclass(frozen=True)
class ArchitectureSignature:
    """The float tensors of an architecture in canonical order: ``(layer, role, shape)``.

    Names are not compared (a Keras and a PyTorch copy of one network share a signature).
    """

    tensors: tuple[tuple[str, str, tuple[int, ...]], ...]

    @classmethod
    def of(cls, ws: WeightSet) -> ArchitectureSignature:
        """The signature of a model."""
        return cls(tuple((t.layer, t.role, t.shape) for t in ws.float_tensors))

    def to_json(self) -> list[list[Any]]:
        """``[[layer, role, [shape...]], ...]``."""
        return [[layer, role, list(shape)] for layer, role, shape in self.tensors]

    @classmethod
    def from_json(cls, items: Sequence[Sequence[Any]]) -> ArchitectureSignature:
        """Rebuild from :meth:`to_json`."""
        return cls(tuple((str(a), str(b), tuple(int(n) for n in c)) for a, b, c in items))

    def difference(self, other: ArchitectureSignature) -> str | None:
        """What differs in ``other`` (None when it is the same architecture)."""
        if len(other.tensors) != len(self.tensors):
            return f"{len(other.tensors)} float tensors, expected {len(self.tensors)}"
        for i, (mine, theirs) in enumerate(zip(self.tensors, other.tensors, strict=True)):
            if mine[1:] != theirs[1:]:
                return (
                    f"tensor {i} ({theirs[0]}, {theirs[1]}) has shape {theirs[2]}, expected "
                    f"{mine[1]} of shape {mine[2]} (layer {mine[0]})"
                )
        return None
