"""Predicting a checkpoint's test accuracy from its weights, and ranking checkpoints by it.

:func:`fit_predictor` fits a regressor (ridge, gradient-boosted trees or the StatNN MLP) on one
representation of a library's final checkpoints; the :class:`Predictor` ranks new checkpoints with
a warning for those far from the training zoo, and saves itself without pickle
(:func:`load_predictor` reads it back).
"""

from weightspace.predict.common import (
    ArchitectureSignature,
    FeatureScaler,
    PredictorError,
    kendall_tau,
    r2,
)
from weightspace.predict.distance import ZooDistance
from weightspace.predict.models import (
    MODELS,
    GBTRegressor,
    RidgeRegressor,
    StatNNRegressor,
    create_model,
)
from weightspace.predict.predictor import Predictor, fit_predictor, load_predictor

__all__ = [
    "MODELS",
    "ArchitectureSignature",
    "FeatureScaler",
    "GBTRegressor",
    "Predictor",
    "PredictorError",
    "RidgeRegressor",
    "StatNNRegressor",
    "ZooDistance",
    "create_model",
    "fit_predictor",
    "kendall_tau",
    "load_predictor",
    "r2",
]
