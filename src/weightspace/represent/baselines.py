"""The baselines of Eilertsen et al. (EuroVis 2024, sec. 3): raw weights, PCA, random projection.

All three start from the canonical vector ``theta`` of each model resampled to a common length by
linear interpolation (:func:`weightspace.vectors.resample`), so that models of different sizes
share one space:

- *raw*: ``theta`` resampled to K values;
- *PCA*: ``theta`` resampled to 65,536 values, then the first K principal components of a PCA fit
  on the training selection;
- *random projection*: ``theta`` resampled to 65,536 values, times a K x 65,536 matrix of standard
  normal numbers, scaled by ``1 / sqrt(K)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted

from weightspace.represent.miwd import RepresentationError, _as_vector_list, _check_positive_int
from weightspace.vectors import resample

__all__ = ["PCABaseline", "RandomProjection", "RawBaseline", "raw"]


def _resampled(X: Any, length: int, *, estimator: bool = True, finite: bool = False) -> np.ndarray:
    """Every vector of X resampled to ``length`` values: shape ``(n, length)``, float32."""
    vectors = _as_vector_list(X, name="X", estimator=estimator, finite=finite)
    out = np.empty((len(vectors), length), dtype=np.float32)
    for i, v in enumerate(vectors):
        if v.shape[0] == 0:
            raise RepresentationError(f"X[{i}] is an empty vector; resampling needs >= 1 value")
        out[i] = resample(v, length)
    return out


def raw(vectors: Any, K: int = 1024) -> np.ndarray:
    """The raw baseline: each weight vector resampled to K values by linear interpolation.

    Parameters
    ----------
    vectors : sequence of array-like of shape (N_i,), or array of shape (n, N)
        One canonical weight vector per model (lengths may differ), or WeightSets.
    K : int, default=1024
        Values per model.

    Returns
    -------
    numpy.ndarray of shape (n, K), float32

    Examples
    --------
    >>> import numpy as np
    >>> raw([np.array([0.0, 1.0]), np.arange(5.0)], K=3).tolist()
    [[0.0, 0.5, 1.0], [0.0, 2.0, 4.0]]
    """
    return _resampled(vectors, _check_positive_int(K, "K"), estimator=False)


class _Baseline(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    _prefix = ""
    K: int

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``"<prefix><i>"`` for the K output columns."""
        check_is_fitted(self)
        return np.array([f"{self._prefix}{i}" for i in range(self.K)], dtype=object)


class RawBaseline(_Baseline):
    """Scikit-learn transformer of :func:`raw`.

    Parameters
    ----------
    K : int, default=1024
        Values per model.

    Attributes
    ----------
    n_features_out_ : int
        K.

    Examples
    --------
    >>> import numpy as np
    >>> RawBaseline(K=4).fit_transform([np.arange(7.0)]).tolist()
    [[0.0, 2.0, 4.0, 6.0]]
    """

    _prefix = "raw"

    def __init__(self, *, K: int = 1024) -> None:
        self.K = K

    def fit(self, X: Any, y: Any = None) -> RawBaseline:
        """Validate K and X; return self (a failed fit leaves it unfitted)."""
        K = _check_positive_int(self.K, "K")
        _as_vector_list(X, name="X", estimator=True)
        self.n_features_out_ = K
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``(n, K)`` float32."""
        check_is_fitted(self)
        return _resampled(X, self.K)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # NaN stays NaN (and spreads to its interpolated neighbours)
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


class PCABaseline(_Baseline):
    """The PCA baseline: first K principal components of the resampled weight vectors.

    Parameters
    ----------
    K : int, default=1024
        Components kept; at most the number of training models and ``resample_to``.
    resample_to : int, default=65536
        Length every vector is resampled to before the PCA (the paper's 65,536).
    random_state : int, numpy Generator or None, default=None
        Seed of the randomized SVD that scikit-learn's PCA uses for large inputs.

    Attributes
    ----------
    pca_ : sklearn.decomposition.PCA
        The fitted PCA (``components_`` of shape ``(K, resample_to)``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=n) for n in (300, 500, 400, 800)]
    >>> PCABaseline(K=2, resample_to=256, random_state=0).fit_transform(X).shape
    (4, 2)
    """

    _prefix = "pca"

    def __init__(
        self, *, K: int = 1024, resample_to: int = 65536, random_state: Any = None
    ) -> None:
        self.K = K
        self.resample_to = resample_to
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> PCABaseline:
        """Fit the PCA on X (the training selection); return self."""
        n_components = _check_positive_int(self.K, "K")
        length = _check_positive_int(self.resample_to, "resample_to")
        Z = _resampled(X, length, finite=True)
        if n_components > Z.shape[0] or n_components > length:
            raise RepresentationError(
                f"K must be at most n_samples={Z.shape[0]} and resample_to={length}; "
                f"got K={n_components}: fit on more models or ask for fewer components"
            )
        self.pca_ = PCA(n_components=n_components, random_state=self.random_state).fit(Z)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``(n, K)`` coordinates on the first K principal components (float32)."""
        check_is_fitted(self)
        return np.asarray(self.pca_.transform(_resampled(X, self.resample_to, finite=True)))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


class RandomProjection(_Baseline):
    """The random-projection baseline: ``z = Phi @ theta_hat / sqrt(K)``.

    ``Phi`` is a K x ``resample_to`` matrix of standard normal numbers drawn in :meth:`fit` from
    ``np.random.default_rng(random_state)``; ``theta_hat`` is the resampled weight vector. The paper
    uses ``Phi`` unscaled; the factor ``1 / sqrt(K)`` (the Johnson-Lindenstrauss scaling, as in
    scikit-learn's ``GaussianRandomProjection``) makes ``E ||z||^2 = ||theta_hat||^2``, so the
    features keep the weights' scale whatever K. It multiplies every distance by the same constant:
    nearest neighbours, UMAP embeddings and distance ratios are exactly those of the unscaled
    projection.

    Parameters
    ----------
    K : int, default=1024
        Output dimensions.
    resample_to : int, default=65536
        Length every vector is resampled to before the projection (the paper's 65,536).
    random_state : int, numpy Generator or None, default=None
        Seed of ``Phi``.

    Attributes
    ----------
    components_ : numpy.ndarray of shape (K, resample_to), float32
        ``Phi / sqrt(K)`` (256 MiB for the defaults).

    Examples
    --------
    >>> import numpy as np
    >>> X = [np.ones(100), np.arange(50.0)]
    >>> RandomProjection(K=8, resample_to=64, random_state=0).fit_transform(X).shape
    (2, 8)
    """

    _prefix = "rp"

    def __init__(
        self, *, K: int = 1024, resample_to: int = 65536, random_state: Any = None
    ) -> None:
        self.K = K
        self.resample_to = resample_to
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> RandomProjection:
        """Draw the projection matrix (X is only checked: the projection does not depend on it)."""
        K = _check_positive_int(self.K, "K")
        length = _check_positive_int(self.resample_to, "resample_to")
        _as_vector_list(X, name="X", estimator=True, finite=True)
        rng = np.random.default_rng(self.random_state)
        phi = rng.standard_normal((K, length), dtype=np.float32)
        phi *= np.float32(1.0 / math.sqrt(K))
        self.components_ = phi
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``(n, K)`` float32 projections."""
        check_is_fitted(self)
        return _project(_resampled(X, self.resample_to, finite=True), self.components_)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _project(Z: npt.NDArray[np.float32], components: np.ndarray) -> np.ndarray:
    return np.asarray(Z @ components.T, dtype=np.float32)
