"""The map: a seeded UMAP embedding of descriptors, with optional PCA pre-reduction.

:class:`AtlasEmbedding` follows the scikit-learn contract (parameters in ``__init__``, fitted state
ending in ``_``, ``transform`` places new models into the fitted map one at a time, output columns
``x`` and ``y``) and passes scikit-learn's ``check_estimator``. With an integer
``random_state`` the embedding is reproducible: UMAP then runs single-threaded with its own
generator (no global random state is touched) from a PCA initialization (UMAP's default spectral one
is not repeatable on graphs with several components), so a refit reproduces the coordinates exactly,
which
:func:`refit_embedding` checks before it places new models into an atlas read from JSON or a cache.
"""

from __future__ import annotations

import hashlib
import importlib
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from weightspace.atlas.model import AtlasError

if TYPE_CHECKING:
    from weightspace.atlas.model import Atlas

__all__ = ["AtlasEmbedding", "refit_embedding", "umap_version"]

_INSTALL = (
    "the atlas needs umap-learn: pip install umap-learn (or pip install 'weightspace[atlas]')"
)
#: Below this many models UMAP has no neighbourhood graph to speak of; PCA draws the map.
MIN_UMAP_MODELS = 5
_METRICS = ("euclidean", "manhattan", "chebyshev", "cosine", "correlation", "hellinger")
#: What fit sets (removed again when a fit fails); validate_data sets the first two.
_FITTED = (
    "n_features_in_",
    "feature_names_in_",
    "embedding_",
    "method_",
    "pca_",
    "reducer_",
    "mean_",
    "components_",
    "_rows",
)


def _umap() -> Any:
    """The umap module, imported lazily (its package import warns about optional TensorFlow)."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Tensorflow.*", category=ImportWarning)
            return importlib.import_module("umap")
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc


def _check_rows(X: Any) -> None:
    """Refuse a ragged batch (rows of several lengths) by name, before numpy sees it."""
    if isinstance(X, np.ndarray) or not isinstance(X, list | tuple):
        return
    lengths = {len(row) for row in X if hasattr(row, "__len__") and not isinstance(row, str)}
    if len(lengths) > 1:
        raise AtlasError(
            f"X must be descriptors of one length (a 2-D array, one row per model); got rows "
            f"of {len(lengths)} lengths ({sorted(lengths)[:4]}...): describe every model with the "
            "same representation and parameters"
        )


def _row_key(row: np.ndarray) -> bytes:
    """A 128-bit digest of one descriptor row (float32), to recognize the fitted models."""
    return hashlib.blake2b(
        np.ascontiguousarray(row, dtype=np.float32).tobytes(), digest_size=16
    ).digest()


def _pca_map(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, components (<= 2, K), coordinates (n, 2)) of the PCA map used for few models."""
    mean = Z.mean(axis=0)
    centered = Z - mean
    _, _, vt = np.linalg.svd(centered.astype(np.float64), full_matrices=False)
    components = vt[:2]
    out = np.zeros((Z.shape[0], 2), dtype=np.float32)
    proj = centered @ components.T
    out[:, : proj.shape[1]] = proj
    return mean, components, out


def umap_version() -> str:
    """The installed umap-learn version (part of the cache key of embeddings)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("umap-learn")
    except PackageNotFoundError:
        return "missing"


class AtlasEmbedding(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """UMAP of (optionally PCA-reduced) descriptors into 2-D map coordinates.

    Parameters
    ----------
    n_neighbors : int, default=15
        UMAP's neighbourhood size (clamped to ``n - 1`` for small libraries).
    min_dist : float, default=0.1
        UMAP's minimum distance between embedded points.
    metric : str, default="euclidean"
        Distance between descriptors: one of euclidean, manhattan, chebyshev, cosine,
        correlation, hellinger (histogram descriptors).
    pca_components : int, optional
        Reduce the descriptors to this many principal components first (faster for large ``K``).
    random_state : int or None, default=0
        Seed of UMAP's and PCA's own generators; None for a faster, multi-threaded, non-repeatable
        embedding.

    Attributes
    ----------
    embedding_ : numpy.ndarray of shape (n, 2), float32
        Coordinates of the fitted descriptors (``transform`` gives a fitted descriptor its own).
    n_features_in_ : int
        Descriptor values per model (K).
    feature_names_in_ : numpy.ndarray of str
        The column names, when X was a DataFrame.
    method_ : str
        ``"umap"``, or ``"pca"`` for fewer than 5 models.
    pca_ : PCA or None
        The fitted pre-reduction.
    reducer_ : umap.UMAP or None
        The fitted UMAP model.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((3, 16))
    >>> AtlasEmbedding().fit(X).embedding_.shape  # 3 models: a PCA map
    (3, 2)
    """

    def __init__(
        self,
        *,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        metric: str = "euclidean",
        pca_components: int | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.pca_components = pca_components
        self.random_state = random_state

    def _validate(self) -> None:
        nn = self.n_neighbors
        if isinstance(nn, bool) or not isinstance(nn, int | np.integer) or nn < 2:
            raise AtlasError(f"n_neighbors must be an integer >= 2; got {nn!r}")
        if not isinstance(self.min_dist, int | float) or not 0.0 <= float(self.min_dist) <= 1.0:
            raise AtlasError(f"min_dist must be a number in [0, 1]; got {self.min_dist!r}")
        if self.metric not in _METRICS:
            raise AtlasError(f"metric must be one of {_METRICS}; got {self.metric!r}")
        pc = self.pca_components
        if pc is not None and (
            isinstance(pc, bool) or not isinstance(pc, int | np.integer) or pc < 2
        ):
            raise AtlasError(f"pca_components must be None or an integer >= 2; got {pc!r}")
        rs = self.random_state
        if rs is not None and (isinstance(rs, bool) or not isinstance(rs, int | np.integer)):
            raise AtlasError(f"random_state must be an int or None; got {rs!r}")

    def fit(self, X: Any, y: Any = None) -> AtlasEmbedding:
        """Fit the map to descriptors ``X`` of shape (n, K); return self.

        A fit that fails leaves the estimator unfitted (no attribute of an earlier fit is kept).
        """
        try:
            self._validate()
            _check_rows(X)
            Z = validate_data(self, X, dtype=np.float32)  # sets n_features_in_ (and names)
            for name in _FITTED[2:]:  # nothing of an earlier fit stays
                self.__dict__.pop(name, None)
            self._fit(Z)
        except BaseException:
            for name in _FITTED:
                self.__dict__.pop(name, None)
            raise
        return self

    def _fit(self, Z: np.ndarray) -> None:
        raw, n = Z, Z.shape[0]
        pca = None
        if self.pca_components is not None and min(n, Z.shape[1]) > self.pca_components:
            from sklearn.decomposition import PCA

            pca = PCA(n_components=int(self.pca_components), random_state=self.random_state)
            Z = pca.fit_transform(Z).astype(np.float32)
        if n < MIN_UMAP_MODELS or Z.shape[1] < 2:  # too few models, or 1 feature: PCA draws it
            mean, components, embedding = _pca_map(Z)
            self.mean_, self.components_ = mean, components
            self.pca_, self.method_, self.reducer_ = pca, "pca", None
            self.embedding_ = embedding
            return
        umap = _umap()
        reducer = umap.UMAP(
            n_neighbors=int(min(self.n_neighbors, n - 1)),
            min_dist=float(self.min_dist),
            metric=self.metric,
            random_state=self.random_state,
            n_jobs=1 if self.random_state is not None else -1,
            # PCA initialization: UMAP's default spectral one is not repeatable for graphs with
            # several components or duplicate points (ARPACK starts from an unseeded vector)
            init="pca",
        )
        rows: dict[bytes, int] = {}
        for i, row in enumerate(raw):
            rows.setdefault(_row_key(row), i)
        embedding = np.asarray(reducer.fit_transform(Z), dtype=np.float32)
        self.pca_, self.method_, self.reducer_ = pca, "umap", reducer
        self._rows = rows
        self.embedding_ = embedding

    def transform(self, X: Any) -> np.ndarray:
        """Coordinates of new descriptors in the fitted map, shape (m, 2), float32.

        Each model is placed on its own (with a seeded ``random_state``, the same model always
        lands on the same point, whatever else is transformed with it).
        """
        check_is_fitted(self, "embedding_")
        _check_rows(X)
        Z = check_array(X, dtype=np.float32, input_name="X")
        if Z.shape[1] != self.n_features_in_:
            raise AtlasError(
                f"X has {Z.shape[1]} features, but AtlasEmbedding is expecting "
                f"{self.n_features_in_} features as input: the map was fitted on "
                f"{self.n_features_in_} descriptor values per model"
            )
        validate_data(self, X, skip_check_array=True, reset=False)  # the column names, if any
        if self.pca_ is not None:
            Z = self.pca_.transform(Z).astype(np.float32)
        if self.reducer_ is None:
            out = np.zeros((Z.shape[0], 2), dtype=np.float32)
            proj = (Z - self.mean_) @ self.components_.T
            out[:, : proj.shape[1]] = proj
            return out
        # one model at a time: UMAP optimizes a batch of new points jointly, so a model's place
        # would otherwise depend on the others transformed with it (and on their order); a model
        # the map was fitted on keeps its own point
        out = np.empty((Z.shape[0], 2), dtype=np.float32)
        for i, row in enumerate(Z):
            known = self._rows.get(_row_key(row))
            if known is not None:
                out[i] = self.embedding_[known]
            else:
                out[i] = self.reducer_.transform(row[None])[0]
        return out

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit, then return ``embedding_`` (the map of X, not ``transform(X)``: UMAP places new
        points near, not exactly on, the fitted ones)."""
        return np.asarray(self.fit(X).embedding_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``["x", "y"]``: the map's two coordinates."""
        check_is_fitted(self, "embedding_")
        return np.array(["x", "y"], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = self.random_state is None
        return tags

    def cache_key(self) -> dict[str, Any]:
        """The parameters (and umap-learn version) that determine the embedding."""
        params = {k: v for k, v in self.get_params().items()}
        params["umap"] = umap_version()
        params["init"] = "pca"
        return params


def refit_embedding(atlas: Atlas) -> AtlasEmbedding:
    """Refit an atlas's embedding from its descriptors and check it reproduces its coordinates.

    Raises
    ------
    AtlasError
        The atlas has no seeded embedding parameters, or the refit does not reproduce the map
        (another umap-learn version made it): rebuild the atlas with ``cache=False``.
    """
    params = dict(atlas.embedding)
    if params.get("random_state") is None:
        raise AtlasError(
            "this atlas was embedded without a random_state, so its map cannot be refitted to "
            "place new models; rebuild it with build_atlas(lib, random_state=0)"
        )
    est = AtlasEmbedding(
        n_neighbors=int(params.get("n_neighbors", 15)),
        min_dist=float(params.get("min_dist", 0.1)),
        metric=str(params.get("metric", "euclidean")),
        pca_components=params.get("pca_components"),
        random_state=int(params["random_state"]),
    )
    est.fit(atlas.descriptors.reshape(len(atlas), -1))
    scale = float(np.abs(atlas.coords).max()) if len(atlas) else 1.0
    if not np.allclose(est.embedding_, atlas.coords, rtol=0.0, atol=1e-4 * (1.0 + scale)):
        raise AtlasError(
            "refitting the embedding did not reproduce this atlas's map (made with umap-learn "
            f"{params.get('umap', '?')}, installed {umap_version()}); rebuild it with "
            "build_atlas(lib, cache=False)"
        )
    return est
