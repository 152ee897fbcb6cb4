"""Probes: what a population of trained networks reveals through its weights.

- :func:`svm_probe`: linear and RBF SVM meta-classifiers of hyper-parameters on any
  representation, with feature importance (Eilertsen et al. 2020, sec. 5 and appendix E);
- :func:`accuracy_regression`: test accuracy regressed on hyper-parameters per dataset
  (sec. 4.2 and appendix D);
- :func:`linear_probe`: ridge / linear-classifier probes of snapshot and model properties from any
  representation, split by model (Schürholt et al.'s protocol);
- common ground: :class:`FailureFilter` (failed trainings), :func:`balance_classes`,
  :func:`model_splits` (folds by model), and the :class:`ProbeResult` contract (``to_frame``,
  ``plot``, ``summary``, ``write_report``).

The untangling experiment of the MI-WD paper (Fig. 3) is
:func:`weightspace.reproduce.untangling.untangling_experiment`.
"""

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

__all__ = [
    "CVScores",
    "DATASET_CLASSES",
    "FailureFilter",
    "FeatureLayout",
    "HTTResult",
    "LinearProbeResult",
    "NWS_THRESHOLDS",
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
    "feature_layout",
    "htt_probe",
    "linear_probe",
    "load_features",
    "markdown_table",
    "model_splits",
    "regress_accuracy",
    "select_models",
    "svm_probe",
    "target_labels",
]
