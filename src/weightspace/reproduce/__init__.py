"""Reproductions of the papers' tables and figures (``weightspace reproduce ...``).

Each reproduction runs methods of :mod:`weightspace.probe` and :mod:`weightspace.represent` on a
zoo and returns a result with the paper's numbers beside ours:

- :func:`invariance_experiment`: MI-WD supplement Table 1 (:class:`InvarianceResult`);
- :func:`untangling_experiment`: MI-WD Fig. 3 (:class:`UntanglingResult`);
- :func:`representation_maps`, :func:`training_maps`: MI-WD Fig. 4, NWS Fig. 13
  (:class:`EmbeddingsResult`);
- :func:`performance_maps_experiment`, :func:`subset_size_study`: NWS Figs. 5 and 18
  (:class:`PerformanceMapsReport`, :class:`SubsetSizeResult`);
- :func:`htt_experiment`: the HTT paper's chain normalization (:class:`HTTReproduction`);
- :func:`hyper_experiment`: hyper-representations (:class:`HyperReproduction`);
- :func:`accuracy_prediction_experiment`: accuracy prediction (:class:`AccuracyPredictionResult`).

The modules import PyTorch and the probes; each name is imported when first used.
"""

from typing import TYPE_CHECKING

from weightspace._lazy import lazy_attributes

if TYPE_CHECKING:
    from weightspace.reproduce.accuracy_prediction import accuracy_prediction_experiment
    from weightspace.reproduce.accuracy_prediction_result import AccuracyPredictionResult
    from weightspace.reproduce.embeddings import representation_maps, training_maps
    from weightspace.reproduce.embeddings_result import EmbeddingsResult
    from weightspace.reproduce.htt import HTTReproduction, htt_experiment
    from weightspace.reproduce.hyper import hyper_experiment
    from weightspace.reproduce.hyper_result import HyperReproduction
    from weightspace.reproduce.invariance import InvarianceResult, invariance_experiment
    from weightspace.reproduce.performance_maps import (
        PerformanceMapsReport,
        SubsetSizeResult,
        performance_maps_experiment,
        subset_size_study,
    )
    from weightspace.reproduce.untangling import UntanglingResult, untangling_experiment

_LAZY = {
    "AccuracyPredictionResult": "weightspace.reproduce.accuracy_prediction_result",
    "EmbeddingsResult": "weightspace.reproduce.embeddings_result",
    "HTTReproduction": "weightspace.reproduce.htt",
    "HyperReproduction": "weightspace.reproduce.hyper_result",
    "InvarianceResult": "weightspace.reproduce.invariance",
    "PerformanceMapsReport": "weightspace.reproduce.performance_maps",
    "SubsetSizeResult": "weightspace.reproduce.performance_maps",
    "UntanglingResult": "weightspace.reproduce.untangling",
    "accuracy_prediction_experiment": "weightspace.reproduce.accuracy_prediction",
    "htt_experiment": "weightspace.reproduce.htt",
    "hyper_experiment": "weightspace.reproduce.hyper",
    "invariance_experiment": "weightspace.reproduce.invariance",
    "performance_maps_experiment": "weightspace.reproduce.performance_maps",
    "representation_maps": "weightspace.reproduce.embeddings",
    "subset_size_study": "weightspace.reproduce.performance_maps",
    "training_maps": "weightspace.reproduce.embeddings",
    "untangling_experiment": "weightspace.reproduce.untangling",
}

__all__ = [
    "AccuracyPredictionResult",
    "EmbeddingsResult",
    "HTTReproduction",
    "HyperReproduction",
    "InvarianceResult",
    "PerformanceMapsReport",
    "SubsetSizeResult",
    "UntanglingResult",
    "accuracy_prediction_experiment",
    "htt_experiment",
    "hyper_experiment",
    "invariance_experiment",
    "performance_maps_experiment",
    "representation_maps",
    "subset_size_study",
    "training_maps",
    "untangling_experiment",
]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
