"""Unterthiner et al.'s per-tensor statistics, as ``nfn``'s ``StatFeaturizer`` computes them.

*Predicting Neural Network Accuracy from Weights* (Unterthiner et al., 2020) describes a network by
seven statistics of every weight tensor: mean, variance and the 0, 25, 50, 75 and 100 percentiles.
The reference implementation used by the later papers (Zhou et al. 2023, package ``nfn``,
``nfn.layers.StatFeaturizer``) computes, per tensor:

- the mean;
- the **unbiased** variance (``torch.var``, ``ddof=1``; NaN for a one-element tensor);
- the quantiles 0, 0.25, 0.5, 0.75, 1 with linear interpolation (``torch.quantile``), so the
  **minimum and maximum**.

This differs from Schürholt et al.'s s(W) (:func:`weightspace.represent.swstats`: population
variance, percentiles 1 and 99, every tensor of a layer pooled). Here every float tensor is its own
group (kernel, bias and, for networks with batch norm, its four tensors), in canonical order; NaN
values are not skipped (as in ``StatFeaturizer``). Statistics are computed in float64.

Only the statistics of one tensor (:func:`_seven`) are this module's own: the layout checks, the
feature matrix and the transformer are those of :mod:`weightspace.represent.stats` (each tensor is
a group of one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from weightspace.io.weightset import WeightSet
from weightspace.represent.miwd import RepresentationError
from weightspace.represent.stats import (
    _check_weightsets,
    _features,
    _layout,
    _LayoutStats,
    _names,
)

__all__ = ["UNTERTHINER_STAT_NAMES", "UnterthinerStats", "unterthiner_names", "unterthiner_stats"]

#: Names of the 7 per-tensor features of :func:`unterthiner_stats`, in order.
UNTERTHINER_STAT_NAMES: tuple[str, ...] = ("mean", "var", "q0", "q25", "q50", "q75", "q100")
_QUANTILES = (0.0, 25.0, 50.0, 75.0, 100.0)


def _seven(values: np.ndarray) -> list[float]:
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.shape[0] == 0:
        return [np.nan] * 7
    with np.errstate(invalid="ignore", divide="ignore"):
        var = float(np.var(x, ddof=1)) if x.shape[0] > 1 else np.nan
        return [float(np.mean(x)), var, *(float(q) for q in np.percentile(x, _QUANTILES))]


def _tensor_keys(ws: WeightSet) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = [(t.layer, t.role) for t in ws.float_tensors]
    if len(set(keys)) != len(keys):
        raise RepresentationError(
            f"{ws.source or 'WeightSet'}: several float tensors share a (layer, role) "
            f"({sorted({k for k in keys if keys.count(k) > 1})[:3]}); the per-tensor statistics "
            "name each tensor by its layer and role"
        )
    return keys


def unterthiner_stats(weightsets: Sequence[WeightSet]) -> np.ndarray:
    """Mean, unbiased variance and the 0/25/50/75/100 percentiles of every float tensor.

    Parameters
    ----------
    weightsets : sequence of WeightSet
        Models of one architecture (the same tensors, in the same order).

    Returns
    -------
    numpy.ndarray of shape (n, 7 * n_tensors), float64
        Columns named by :func:`unterthiner_names` (``"<layer>/<role>/<stat>"``); for a plain
        network (kernels and biases, no batch norm) the columns of ``nfn``'s ``StatFeaturizer``.

    Examples
    --------
    >>> import numpy as np
    >>> from weightspace import WeightSet
    >>> ws = WeightSet.from_arrays({"fc.weight": np.array([[0.0, 1.0], [2.0, 3.0]]),
    ...                             "fc.bias": np.zeros(2)})
    >>> unterthiner_stats([ws])[0, :7].tolist()
    [1.5, 1.6666666666666667, 0.0, 0.75, 1.5, 2.25, 3.0]
    """
    models = _check_weightsets(weightsets, "unterthiner_stats")
    return _features(models, _model_layout(models, "unterthiner_stats"), True, _seven)


def unterthiner_names(weightsets: Sequence[WeightSet]) -> list[str]:
    """Feature names of :func:`unterthiner_stats`: ``"<layer>/<role>/<stat>"``."""
    models = _check_weightsets(weightsets, "unterthiner_names")
    return _names(_model_layout(models, "unterthiner_names"), UNTERTHINER_STAT_NAMES)


def _model_layout(models: list[WeightSet], what: str) -> list[tuple[str, str]]:
    for ws in models:
        _tensor_keys(ws)
    return _layout(models, what, True)


class UnterthinerStats(_LayoutStats):
    """Scikit-learn transformer of :func:`unterthiner_stats` (7 statistics per float tensor).

    Attributes
    ----------
    groups_ : list of (str, str)
        The (layer, role) of every tensor seen in fit; transform refuses models with others.
    feature_names_ : list of str
        ``"<layer>/<role>/<stat>"``.

    Examples
    --------
    >>> import numpy as np
    >>> from weightspace import WeightSet
    >>> ws = WeightSet.from_arrays({"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)})
    >>> UnterthinerStats().fit([ws]).get_feature_names_out()[:2].tolist()
    ['fc/kernel/mean', 'fc/kernel/var']
    """

    _by_role, _stats, _measure = True, UNTERTHINER_STAT_NAMES, staticmethod(_seven)

    def _groups(self, models: list[WeightSet], what: str) -> list[tuple[str, str]]:
        return _model_layout(models, what)
