"""Statistical weight features: global, layer-wise (Eilertsen et al., 2020) and s(W) (Schürholt et al.).

The 16 statistics of Eilertsen et al. ("Classifying the classifier", sec. 5.1 and appendix E) are 8
measures of a weight vector ``theta`` -- mean, variance, skewness (third standardized moment) and the
1, 25, 50, 75 and 99 percentiles -- and the same 8 of its differences ``theta[i+1] - theta[i]``.

Conventions (all statistics in float64):

- variance is the population variance (``ddof=0``); skewness is ``m3 / m2**1.5`` with population
  moments (``scipy.stats.skew(bias=True)``), and 0 where the variance is 0 (a constant tensor, e.g. a
  constant initialization, is symmetric; scipy would give NaN);
- percentiles interpolate linearly (``np.percentile``'s default);
- NaN values are ignored; the differences are taken between stored neighbours, so a NaN makes its
  two differences NaN, which are ignored too;
- a vector with no (non-NaN) value gives NaN statistics; a 1-element vector has no differences, so
  its 8 difference features are NaN; infinite values give infinite or NaN statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from weightspace.io.weightset import WeightSet, WeightTensor
from weightspace.represent.miwd import RepresentationError, _as_vector_list

__all__ = [
    "GLOBAL_STAT_NAMES",
    "GlobalStats",
    "LayerStats",
    "SWStats",
    "SW_STAT_NAMES",
    "global_stats",
    "layer_stats",
    "layer_stats_names",
    "swstats",
    "swstats_names",
]

_MEASURES = ("mean", "var", "skew", "p1", "p25", "p50", "p75", "p99")
#: Names of the 16 features of :func:`global_stats`, in order.
GLOBAL_STAT_NAMES: tuple[str, ...] = _MEASURES + tuple(f"diff_{m}" for m in _MEASURES)
#: Names of the 7 per-layer features of :func:`swstats`, in order.
SW_STAT_NAMES: tuple[str, ...] = ("mean", "var", "p1", "p25", "p50", "p75", "p99")
_PERCENTILES = (1.0, 25.0, 50.0, 75.0, 99.0)


def _measures(values: np.ndarray, *, skew: bool = True) -> list[float]:
    """mean, var, [skew,] p1..p99 of the non-NaN float64 values (all NaN when there are none)."""
    x = values[~np.isnan(values)]
    if x.shape[0] == 0:
        return [np.nan] * (8 if skew else 7)
    with np.errstate(invalid="ignore", over="ignore"):  # +-inf values: inf or NaN features
        return _moments_and_percentiles(x, skew)


def _moments_and_percentiles(x: np.ndarray, skew: bool) -> list[float]:
    mean = float(np.mean(x))
    dev = x - mean
    m2 = float(np.dot(dev, dev)) / x.shape[0]
    out = [mean, m2]
    if skew:
        # as scipy.stats.skew: a variance within rounding of 0 is a constant vector (skew 0 here)
        constant = m2 <= (np.finfo(np.float64).resolution * mean) ** 2
        out.append(0.0 if constant else float(np.dot(dev * dev, dev)) / x.shape[0] / m2**1.5)
    out.extend(float(p) for p in np.percentile(x, _PERCENTILES))
    return out


def _sixteen(vector: npt.ArrayLike) -> list[float]:
    x = np.asarray(vector, dtype=np.float64).reshape(-1)
    return _measures(x) + _measures(np.diff(x))


def global_stats(vectors: Sequence[npt.ArrayLike] | np.ndarray) -> np.ndarray:
    """The 16 global statistical features of each weight vector.

    Parameters
    ----------
    vectors : sequence of array-like of shape (N_i,), or array of shape (n, N)
        One canonical weight vector per model (lengths may differ), or WeightSets.

    Returns
    -------
    numpy.ndarray of shape (n, 16), float64
        Columns named by :data:`GLOBAL_STAT_NAMES` (see the module notes for NaN handling).

    Examples
    --------
    >>> import numpy as np
    >>> f = global_stats([np.array([0.0, 1.0, 3.0])])
    >>> f.shape
    (1, 16)
    >>> dict(zip(GLOBAL_STAT_NAMES, f[0]))["diff_mean"]
    np.float64(1.5)
    """
    arrays = _as_vector_list(vectors)
    out = np.empty((len(arrays), len(GLOBAL_STAT_NAMES)))
    for i, v in enumerate(arrays):
        out[i] = _sixteen(v)
    return out


def _check_weightsets(weightsets: Any, what: str) -> list[WeightSet]:
    if isinstance(weightsets, WeightSet):
        raise RepresentationError(f"{what} takes a list of WeightSets; wrap one in a list: [ws]")
    items = list(weightsets) if isinstance(weightsets, Sequence) else None
    if items is None or not all(isinstance(w, WeightSet) for w in items):
        kinds = "" if items is None else f" of {sorted({type(w).__name__ for w in items})}"
        raise RepresentationError(
            f"{what} needs WeightSets (the layer and role of every tensor); got "
            f"{type(weightsets).__name__}{kinds}; for plain vectors use global_stats/GlobalStats"
        )
    if not items:
        raise RepresentationError(f"{what} needs at least one WeightSet; got 0")
    return items


def _grouped(ws: WeightSet, by_role: bool) -> list[tuple[tuple[str, str], list[WeightTensor]]]:
    """The float tensors of ``ws`` in canonical order, grouped by (layer, role), or by
    (layer, "") without roles."""
    groups: dict[tuple[str, str], list[WeightTensor]] = {}
    for t in ws.float_tensors:
        groups.setdefault((t.layer, t.role if by_role else ""), []).append(t)
    return list(groups.items())


def _structure(groups: list[tuple[tuple[str, str], list[WeightTensor]]]) -> list[tuple[str, ...]]:
    """The roles of the tensors of every group: what the groups are, not their names or widths."""
    return [tuple(t.role for t in ts) for _, ts in groups]


def _layout(models: list[WeightSet], what: str, by_role: bool) -> list[tuple[str, str]]:
    """The groups (named as in model 0), checked to be those of every model.

    Groups are matched by position and the roles of their tensors, not by name: two builds of one
    architecture whose module indices differ (a dropout module shifts the indices of the layers
    after it) have the same groups; so do models of other widths (the statistics do not depend on
    them).
    """
    first = _grouped(models[0], by_role)
    keys, structure = [key for key, _ in first], _structure(first)
    for i, ws in enumerate(models[1:], start=1):
        groups = _grouped(ws, by_role)
        if _structure(groups) != structure:
            other = [key for key, _ in groups]
            missing, extra = sorted(set(keys) - set(other)), sorted(set(other) - set(keys))
            raise RepresentationError(
                f"{what}: model {i} ({ws.source or 'WeightSet'}) has other layers than model 0 "
                f"(missing {missing[:4]}, extra {extra[:4]}"
                + (", or other tensors in a layer" if not (missing or extra) else "")
                + "); layer-wise features need models of one architecture"
            )
    return keys


def _names(keys: list[tuple[str, str]], stats: tuple[str, ...]) -> list[str]:
    return [
        f"{layer}/{role}/{s}" if role else f"{layer}/{s}" for layer, role in keys for s in stats
    ]


def _features(
    models: list[WeightSet], keys: list[tuple[str, str]], by_role: bool, measure: Any
) -> np.ndarray:
    """``measure`` of every group of every model; groups by position (checked by :func:`_layout`)."""
    rows = []
    for ws in models:
        groups = _grouped(ws, by_role)
        assert len(groups) == len(keys)  # checked by _layout
        rows.append([s for _, ts in groups for s in measure(_flat(ts))])
    return np.array(rows, dtype=np.float64).reshape(len(models), -1)


def _flat(tensors: list[WeightTensor]) -> np.ndarray:
    return np.concatenate([t.array.ravel() for t in tensors])


def layer_stats(weightsets: Sequence[WeightSet]) -> np.ndarray:
    """The 16 statistics of every (layer, role) group of tensors: 480 features for the NWS CNNs.

    Parameters
    ----------
    weightsets : sequence of WeightSet
        Models of one architecture (the same layers and roles, in the same order).

    Returns
    -------
    numpy.ndarray of shape (n, 16 * n_groups), float64
        Columns named by :func:`layer_stats_names` (``"<layer>/<role>/<stat>"``), groups in the
        canonical order (layer by layer; kernel, bias, bn_gamma, bn_beta, bn_mean, bn_var, other).

    Raises
    ------
    RepresentationError
        If a model's (layer, role) groups differ from the first model's.

    Examples
    --------
    >>> import numpy as np
    >>> from weightspace import WeightSet
    >>> ws = WeightSet.from_arrays({"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)})
    >>> layer_stats([ws]).shape
    (1, 32)
    >>> layer_stats_names([ws])[:2]
    ['fc/kernel/mean', 'fc/kernel/var']
    """
    models = _check_weightsets(weightsets, "layer_stats")
    return _features(models, _layout(models, "layer_stats", True), True, _sixteen)


def layer_stats_names(weightsets: Sequence[WeightSet]) -> list[str]:
    """Feature names of :func:`layer_stats`: ``"<layer>/<role>/<stat>"``.

    Layer names may hold ``/`` themselves (Keras); ``name.rsplit("/", 2)`` splits any of them.
    """
    models = _check_weightsets(weightsets, "layer_stats_names")
    return _names(_layout(models, "layer_stats_names", True), GLOBAL_STAT_NAMES)


def _seven(values: np.ndarray) -> list[float]:
    return _measures(np.asarray(values, dtype=np.float64), skew=False)


def swstats(weightsets: Sequence[WeightSet]) -> np.ndarray:
    """Schürholt et al.'s s(W): per layer mean, variance and percentiles 1, 25, 50, 75, 99.

    All float tensors of a layer (kernel, bias, normalization) are pooled.

    Parameters
    ----------
    weightsets : sequence of WeightSet
        Models of one architecture.

    Returns
    -------
    numpy.ndarray of shape (n, 7 * n_layers), float64
        Columns named by :func:`swstats_names` (``"<layer>/<stat>"``).

    Examples
    --------
    >>> import numpy as np
    >>> from weightspace import WeightSet
    >>> ws = WeightSet.from_arrays({"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)})
    >>> swstats([ws])[0, :2].tolist()
    [0.75, 0.1875]
    """
    models = _check_weightsets(weightsets, "swstats")
    return _features(models, _layout(models, "swstats", False), False, _seven)


def swstats_names(weightsets: Sequence[WeightSet]) -> list[str]:
    """Feature names of :func:`swstats`: ``"<layer>/<stat>"``."""
    models = _check_weightsets(weightsets, "swstats_names")
    return _names(_layout(models, "swstats_names", False), SW_STAT_NAMES)


# ---------------------------------------------------------------------------------- adapters
class _StatsTransformer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    feature_names_: list[str]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns (set in :meth:`fit`)."""
        check_is_fitted(self)
        return np.array(self.feature_names_, dtype=object)


class GlobalStats(_StatsTransformer):
    """Scikit-learn transformer of :func:`global_stats` (16 features of any weight vector).

    Attributes
    ----------
    feature_names_ : list of str
        :data:`GLOBAL_STAT_NAMES`.

    Examples
    --------
    >>> import numpy as np
    >>> GlobalStats().fit_transform([np.arange(5.0), np.ones(3)]).shape
    (2, 16)
    """

    def fit(self, X: Any, y: Any = None) -> GlobalStats:
        """Check X (a sequence of 1-D arrays or WeightSets, or a 2-D array); return self."""
        _as_vector_list(X, name="X", estimator=True)
        self.feature_names_ = list(GLOBAL_STAT_NAMES)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Features of X, shape ``(n, 16)``."""
        check_is_fitted(self)
        return global_stats(_as_vector_list(X, name="X", estimator=True))


class _LayoutStats(_StatsTransformer):
    """Features of grouped tensors; the groups (so the columns) are learned in fit.

    A subclass names its groups (``_by_role``: by layer and role, or by layer), its statistics
    (``_stats``, the names of what ``_measure`` returns for the values of one group) and may check
    the groups further (``_groups``). The same code serves :class:`LayerStats`, :class:`SWStats`
    and :class:`~weightspace.represent.unterthiner.UnterthinerStats`.

    The input is WeightSets, not rows of numbers: the tags say so (``two_d_array = False``), so
    scikit-learn's ``check_estimator`` runs only its API checks on these transformers.
    """

    _by_role: bool
    _stats: tuple[str, ...]
    _measure: staticmethod[[np.ndarray], list[float]]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # WeightSets (layers and roles), not rows of numbers
        return tags

    def _groups(self, models: list[WeightSet], what: str) -> list[tuple[str, str]]:
        """The groups of the models (checked to be the same for all)."""
        return _layout(models, what, self._by_role)

    def fit(self, X: Sequence[WeightSet], y: Any = None) -> _LayoutStats:
        """Learn the layer layout (feature names) of X, WeightSets of one architecture."""
        what = type(self).__name__
        models = _check_weightsets(X, what)
        groups = self._groups(models, what)
        self.groups_, self.feature_names_ = groups, _names(groups, self._stats)
        return self

    def transform(self, X: Sequence[WeightSet]) -> np.ndarray:
        """Features of X, shape ``(n, len(feature_names_))``."""
        check_is_fitted(self)
        what = type(self).__name__
        models = _check_weightsets(X, what)
        groups = self._groups(models, what)
        # by position and role, not by name (see _layout); shapes are the caller's to check
        if [role for _, role in groups] != [role for _, role in self.groups_]:
            raise RepresentationError(
                f"{what}.transform: the models have {len(groups)} groups of tensors "
                f"({groups[:2]}...), fit saw {len(self.groups_)} ({self.groups_[:2]}...); "
                "transform models of the architecture seen in fit"
            )
        return _features(models, groups, self._by_role, self._measure)


class LayerStats(_LayoutStats):
    """Scikit-learn transformer of :func:`layer_stats` (16 statistics per layer and role).

    Attributes
    ----------
    groups_ : list of (str, str)
        The (layer, role) groups seen in fit; transform refuses models with others.
    feature_names_ : list of str
        ``"<layer>/<role>/<stat>"``.

    Examples
    --------
    >>> import numpy as np
    >>> from weightspace import WeightSet
    >>> ws = WeightSet.from_arrays({"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)})
    >>> LayerStats().fit([ws]).get_feature_names_out()[16]
    'fc/bias/mean'
    """

    _by_role, _stats, _measure = True, GLOBAL_STAT_NAMES, staticmethod(_sixteen)


class SWStats(_LayoutStats):
    """Scikit-learn transformer of :func:`swstats` (Schürholt et al.'s s(W)).

    Attributes
    ----------
    groups_ : list of (str, str)
        The layers seen in fit, as ``(layer, "")``; transform refuses models with others.
    feature_names_ : list of str
        ``"<layer>/<stat>"``.
    """

    _by_role, _stats, _measure = False, SW_STAT_NAMES, staticmethod(_seven)
