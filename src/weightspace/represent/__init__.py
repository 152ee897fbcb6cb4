"""Representations of trained networks computed from their weights.

Engines are plain functions on batches of weight vectors or WeightSets (:func:`miwd`,
:func:`global_stats`, :func:`layer_stats`, :func:`swstats`, :func:`unterthiner_stats`, :func:`raw`,
:func:`chain_grams`); each has a thin scikit-learn transformer around it (:class:`MIWD`,
:class:`GlobalStats`, :class:`LayerStats`, :class:`SWStats`, :class:`UnterthinerStats`,
:class:`RawBaseline`, :class:`PCABaseline`, :class:`RandomProjection`, :class:`ChainGram`).

The registry names them: :func:`create_representation` builds one, :func:`describe_library`
describes a library selection in bounded-memory batches (cached in the library),
:func:`describe_weights` describes models outside a library, :func:`representation_spec` tells
what one reads. The MI-WD defaults are :data:`DEFAULT_WINDOWS`, :data:`DEFAULT_BINS` and
:data:`DEFAULT_VALUE_RANGE`.
"""

from weightspace.represent.baselines import PCABaseline, RandomProjection, RawBaseline, raw
from weightspace.represent.chain import ChainGram, chain_grams
from weightspace.represent.miwd import (
    DEFAULT_BINS,
    DEFAULT_VALUE_RANGE,
    DEFAULT_WINDOWS,
    MIWD,
    RepresentationError,
    miwd,
)
from weightspace.represent.registry import (
    REPRESENTATION_SPECS,
    RepresentationSpec,
    create_representation,
    describe_library,
    describe_weights,
    list_representations,
    representation_cache_key,
    representation_spec,
)
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
    "ChainGram",
    "DEFAULT_BINS",
    "DEFAULT_VALUE_RANGE",
    "DEFAULT_WINDOWS",
    "GLOBAL_STAT_NAMES",
    "GlobalStats",
    "LayerStats",
    "MIWD",
    "PCABaseline",
    "REPRESENTATION_SPECS",
    "RandomProjection",
    "RawBaseline",
    "RepresentationError",
    "RepresentationSpec",
    "SWStats",
    "SW_STAT_NAMES",
    "UNTERTHINER_STAT_NAMES",
    "UnterthinerStats",
    "chain_grams",
    "create_representation",
    "describe_library",
    "describe_weights",
    "global_stats",
    "layer_stats",
    "layer_stats_names",
    "list_representations",
    "miwd",
    "raw",
    "representation_cache_key",
    "representation_spec",
    "swstats",
    "swstats_names",
    "unterthiner_names",
    "unterthiner_stats",
]
