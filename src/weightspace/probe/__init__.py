"""Probes: what a population of trained networks reveals through its weights.

- :func:`svm_probe`: linear and RBF SVM meta-classifiers of hyper-parameters on any
  representation, with feature importance (Eilertsen et al. 2020, sec. 5 and appendix E);
- :func:`accuracy_regression`: test accuracy regressed on hyper-parameters per dataset
  (sec. 4.2 and appendix D);
- :func:`linear_probe`: ridge / linear-classifier probes of snapshot and model properties from any
  representation, split by model (Schürholt et al.'s protocol);
- :func:`dmc_probe`: deep meta-classifiers (DMC) of hyper-parameters on windows of the weight
  vectors (:class:`DMCConfig`, :class:`DMCResult`), and :func:`performance_maps`: their accuracy
  over depth and training (:class:`PerformanceMapResult`); both need PyTorch, imported when first
  used;
- :func:`htt_probe`: the weight classifier and retrieval of the HTT paper's chain normalization;
- common ground: :class:`FailureFilter` (failed trainings), :func:`balance_classes`,
  :func:`model_splits` (folds by model), and the :class:`ProbeResult` contract (``to_frame``,
  ``plot``, ``summary``, ``write_report``).

The untangling experiment of the MI-WD paper (Fig. 3) is
:func:`weightspace.reproduce.untangling.untangling_experiment`.
"""

from typing import TYPE_CHECKING

from weightspace._lazy import lazy_attributes
from weightspace.probe.common import (
    DATASET_CLASSES,
    NWS_THRESHOLDS,
    FailureFilter,
    ProbeError,
    balance_classes,
    chance_level,
    dataset_key,
    model_splits,
    select_models,
    target_labels,
)
from weightspace.probe.features import FeatureLayout, feature_layout, load_features
from weightspace.probe.htt import HTTResult, htt_probe
from weightspace.probe.linear import LinearProbeResult, TargetResult, linear_probe
from weightspace.probe.regression import RegressionResult, accuracy_regression, regress_accuracy
from weightspace.probe.report import ProbeResult, Report, markdown_table
from weightspace.probe.svm import (
    CVScores,
    SVMResult,
    TargetScores,
    cross_validate_svm,
    svm_probe,
)

if TYPE_CHECKING:
    from weightspace.probe.dmc import DMCConfig, dmc_probe
    from weightspace.probe.dmc_result import DMCResult
    from weightspace.probe.performance_map import (
        PerformanceMap,
        PerformanceMapResult,
        performance_maps,
    )

#: Names whose modules import PyTorch: imported on first use, so that ``import weightspace.probe``
#: stays light.
_LAZY = {
    "DMCConfig": "weightspace.probe.dmc",
    "DMCResult": "weightspace.probe.dmc_result",
    "PerformanceMap": "weightspace.probe.performance_map",
    "PerformanceMapResult": "weightspace.probe.performance_map",
    "dmc_probe": "weightspace.probe.dmc",
    "performance_maps": "weightspace.probe.performance_map",
}

__all__ = [
    "CVScores",
    "DATASET_CLASSES",
    "DMCConfig",
    "DMCResult",
    "FailureFilter",
    "FeatureLayout",
    "HTTResult",
    "LinearProbeResult",
    "NWS_THRESHOLDS",
    "PerformanceMap",
    "PerformanceMapResult",
    "ProbeError",
    "ProbeResult",
    "RegressionResult",
    "Report",
    "SVMResult",
    "TargetResult",
    "TargetScores",
    "accuracy_regression",
    "balance_classes",
    "chance_level",
    "cross_validate_svm",
    "dataset_key",
    "dmc_probe",
    "feature_layout",
    "htt_probe",
    "linear_probe",
    "load_features",
    "markdown_table",
    "model_splits",
    "performance_maps",
    "regress_accuracy",
    "select_models",
    "svm_probe",
    "target_labels",
]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__)
