"""The linear-probe engine (Schürholt et al.'s evaluation): arrays in, scores out.

- :func:`split_by_model`: train/validation/test rows with every model's rows (its snapshots) on one
  side, seeded (70/15/15 by default).
- :class:`RidgePath`: closed-form ridge regression on standardized features (fitted on the training
  rows) for a whole grid of penalties at once, through one SVD; the penalty is chosen on the
  validation rows (:func:`fit_ridge`: by R^2; :func:`fit_ridge_classifier`: by accuracy, a
  one-vs-rest ridge classifier on +-1 targets, the linear classifier of categorical targets).
- :func:`r2_score`, :func:`kendall_tau`: the scores.

With standardized features and a centred target, the fit at penalty ``alpha`` is scikit-learn's
``Ridge(alpha)`` (``||y - Xw||^2 + alpha ||w||^2``) on the same features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from weightspace.probe.common import ProbeError

__all__ = [
    "ALPHAS",
    "RidgeClassifierModel",
    "RidgeModel",
    "RidgePath",
    "fit_ridge",
    "fit_ridge_classifier",
    "kendall_tau",
    "r2_score",
    "split_by_model",
]

#: The penalty grid: 1e3, 1e2, ..., 1e-5 (Schürholt et al.'s code).
ALPHAS: tuple[float, ...] = tuple(10.0**k for k in range(3, -6, -1))


def split_by_model(
    groups: npt.ArrayLike,
    *,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices ``(train, val, test)``, all rows of a model (group) on one side.

    Parameters
    ----------
    groups : array-like of shape (n,)
        The model of every row.
    fractions : (float, float, float), default=(0.7, 0.15, 0.15)
        Shares of the *models*; validation and test get at least one model each.
    seed : int, default=0

    Examples
    --------
    >>> tr, va, te = split_by_model([1, 1, 2, 2, 3, 3, 4, 4], fractions=(0.5, 0.25, 0.25))
    >>> sorted(map(len, (tr, va, te)))
    [2, 2, 4]
    """
    g = np.asarray(groups)
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ProbeError(f"fractions must be three positive shares summing to 1; got {fractions}")
    models = np.unique(g)
    if models.size < 3:
        raise ProbeError(
            f"a train/validation/test split needs at least 3 models; got {models.size}"
        )
    order = np.random.default_rng(seed).permutation(models)
    n_val = max(1, round(fractions[1] * models.size))
    n_test = max(1, round(fractions[2] * models.size))
    if n_val + n_test >= models.size:
        n_val, n_test = 1, 1
    test, val = order[:n_test], order[n_test : n_test + n_val]
    train = order[n_test + n_val :]
    return (
        np.flatnonzero(np.isin(g, train)),
        np.flatnonzero(np.isin(g, val)),
        np.flatnonzero(np.isin(g, test)),
    )


def r2_score(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """``1 - SSE / SST`` (NaN when the truth is constant)."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    sst = float(((t - t.mean()) ** 2).sum())
    return float("nan") if sst == 0 else 1.0 - float(((t - p) ** 2).sum()) / sst


def kendall_tau(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Kendall's tau-b between truth and prediction (NaN when either is constant)."""
    from scipy.stats import kendalltau  # type: ignore[import-untyped]

    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if np.unique(t).size < 2 or np.unique(p).size < 2:
        return float("nan")
    return float(kendalltau(t, p).statistic)


@dataclass(frozen=True, eq=False)
class RidgeModel:
    """A fitted ridge model on standardized features: ``predict(X) = ((X - mean) / scale) @ coef
    + intercept``."""

    alpha: float
    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    keep: np.ndarray

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Predictions, shape ``(n,)`` or ``(n, k)`` as the targets were."""
        Z = (np.asarray(X, dtype=np.float64)[:, self.keep] - self.mean) / self.scale
        out: np.ndarray = Z @ self.coef + self.intercept
        return out[:, 0] if out.shape[1] == 1 else out


class RidgePath:
    """Ridge fits of one training set for many penalties (one SVD).

    Parameters
    ----------
    X : array of shape (n, d)
        Training features (columns with a non-finite value are dropped, constant ones kept).
    Y : array of shape (n,) or (n, k)
        Targets.
    """

    def __init__(self, X: npt.ArrayLike, Y: npt.ArrayLike) -> None:
        data = np.asarray(X, dtype=np.float64)
        self.keep: np.ndarray = np.asarray(np.isfinite(data).all(axis=0))
        if not self.keep.any():
            raise ProbeError("every feature has a NaN or infinite value; nothing to fit")
        data = data[:, self.keep]
        self.mean = data.mean(axis=0)
        scale = data.std(axis=0)
        self.scale = np.where(scale > 1e-12, scale, 1.0)
        Z = (data - self.mean) / self.scale
        Yv = np.asarray(Y, dtype=np.float64)
        self.Y = Yv[:, None] if Yv.ndim == 1 else Yv
        self.y_mean = self.Y.mean(axis=0)
        self.U, self.s, self.Vt = np.linalg.svd(Z, full_matrices=False)
        self.UtY = self.U.T @ (self.Y - self.y_mean)

    def model(self, alpha: float) -> RidgeModel:
        """The fit at penalty ``alpha``."""
        d = self.s / (self.s**2 + alpha)
        coef = self.Vt.T @ (d[:, None] * self.UtY)
        return RidgeModel(float(alpha), coef, self.y_mean, self.mean, self.scale, self.keep)


def _check_grid(alphas: Sequence[float]) -> list[float]:
    grid = [float(a) for a in alphas]
    if not grid or any(not a > 0 for a in grid):
        raise ProbeError(f"alphas must be positive penalties; got {list(alphas)}")
    return grid


def fit_ridge(
    X_train: npt.ArrayLike,
    y_train: npt.ArrayLike,
    X_val: npt.ArrayLike,
    y_val: npt.ArrayLike,
    alphas: Sequence[float] = ALPHAS,
    *,
    clip: tuple[float, float] | None = None,
) -> tuple[RidgeModel, dict[float, float]]:
    """Ridge regression with the penalty of the best validation R^2.

    ``clip=(low, high)`` scores the validation predictions clipped to that range (the range of
    the training targets, for a bounded target such as an accuracy).

    Returns
    -------
    model : RidgeModel
        Fitted on the training rows at the chosen penalty.
    scores : dict of float to float
        Validation R^2 of every penalty.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3)); y = X @ [1.0, -2.0, 0.5]
    >>> m, _ = fit_ridge(X[:40], y[:40], X[40:], y[40:])
    >>> round(float(np.corrcoef(m.predict(X[40:]), y[40:])[0, 1]), 3)
    1.0
    """
    path = RidgePath(X_train, y_train)
    yv = np.asarray(y_val, dtype=np.float64)
    low, high = clip if clip is not None else (-np.inf, np.inf)
    scores = {
        a: r2_score(yv, np.clip(path.model(a).predict(X_val), low, high))
        for a in _check_grid(alphas)
    }
    best = max(scores, key=lambda a: -np.inf if np.isnan(scores[a]) else scores[a])
    return path.model(best), scores


@dataclass(frozen=True, eq=False)
class RidgeClassifierModel:
    """A one-vs-rest ridge classifier: the class of the largest ridge output."""

    ridge: RidgeModel
    classes: np.ndarray

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Class labels of the rows of ``X``."""
        out = self.ridge.predict(X)
        out = out[:, None] if out.ndim == 1 else out
        return np.asarray(self.classes[np.argmax(out, axis=1)])


def fit_ridge_classifier(
    X_train: npt.ArrayLike,
    y_train: npt.ArrayLike,
    X_val: npt.ArrayLike,
    y_val: npt.ArrayLike,
    alphas: Sequence[float] = ALPHAS,
) -> tuple[RidgeClassifierModel, dict[float, float]]:
    """A linear (one-vs-rest ridge, +-1 targets) classifier with the penalty of the best
    validation accuracy; as :func:`fit_ridge`."""
    labels = np.asarray(y_train).astype(str)
    classes = np.unique(labels)
    if classes.size < 2:
        raise ProbeError("the training rows hold a single class; nothing to classify")
    Y = np.where(labels[:, None] == classes[None, :], 1.0, -1.0)
    path = RidgePath(X_train, Y)
    yv = np.asarray(y_val).astype(str)
    scores = {}
    for a in _check_grid(alphas):
        model = RidgeClassifierModel(path.model(a), classes)
        scores[a] = float(np.mean(model.predict(X_val) == yv))
    best = max(scores, key=lambda a: scores[a])
    return RidgeClassifierModel(path.model(best), classes), scores
