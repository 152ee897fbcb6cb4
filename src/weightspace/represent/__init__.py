"""Representations of trained networks computed from their weights.

Engines are plain functions on batches of weight vectors or WeightSets (:func:`miwd`,
:func:`global_stats`, :func:`layer_stats`, :func:`swstats`, :func:`unterthiner_stats`, :func:`raw`); each has a thin
scikit-learn transformer around it (:class:`MIWD`, :class:`GlobalStats`, :class:`LayerStats`,
:class:`SWStats`, :class:`UnterthinerStats`, :class:`RawBaseline`, :class:`PCABaseline`, :class:`RandomProjection`).
"""

from weightspace.represent.baselines import PCABaseline, RandomProjection, RawBaseline, raw
from weightspace.represent.miwd import MIWD, RepresentationError, miwd
from weightspace.represent.stats import (
    GLOBAL_STAT_NAMES,
    SW_STAT_NAMES,
    GlobalStats,
    LayerStats,
    SWStats,
    global_stats,
    layer_stats,
    layer_stats_names,
    swstats,
    swstats_names,
)
from weightspace.represent.unterthiner import (
    UNTERTHINER_STAT_NAMES,
    UnterthinerStats,
    unterthiner_names,
    unterthiner_stats,
)

__all__ = [
    "GLOBAL_STAT_NAMES",
    "GlobalStats",
    "LayerStats",
    "MIWD",
    "PCABaseline",
    "RandomProjection",
    "RawBaseline",
    "RepresentationError",
    "SWStats",
    "SW_STAT_NAMES",
    "UNTERTHINER_STAT_NAMES",
    "UnterthinerStats",
    "global_stats",
    "layer_stats",
    "layer_stats_names",
    "miwd",
    "raw",
    "swstats",
    "swstats_names",
    "unterthiner_names",
    "unterthiner_stats",
]
