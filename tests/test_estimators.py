"""Every scikit-learn estimator of the package, against scikit-learn's own checks.

Estimators of rows of numbers run all of ``check_estimator`` (``parametrize_with_checks``); the
only expected failures are the three checks that assume a fixed number of input features, which
the representations of ragged batches (one weight vector of any length per model) do not have, by
design. Estimators of networks (WeightSets, modules) say so in their tags
(``input_tags.two_d_array = False``), for which scikit-learn has no data to test with: they run
scikit-learn's data-free API checks, and the same contract with real networks below.
"""

from __future__ import annotations

import importlib
import pickle
import pkgutil
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as sk
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

import weightspace
from weightspace import Library, load_weights
from weightspace.atlas import AtlasEmbedding
from weightspace.learn.represent import HyperRepresentation
from weightspace.predict.models import GBTRegressor, RidgeRegressor, StatNNRegressor
from weightspace.probe.htt_protocols import WeightClassifier
from weightspace.represent import (
    MIWD,
    GlobalStats,
    LayerStats,
    PCABaseline,
    RandomProjection,
    RawBaseline,
    SWStats,
)
from weightspace.represent.chain import ChainGram
from weightspace.represent.unterthiner import UnterthinerStats
from weightspace.zoo.architectures import create_architecture

#: The checks that need a fixed number of input features; ragged batches have none.
RAGGED = {
    "check_n_features_in": "ragged batches: models are vectors of any length, so there is no "
    "n_features_in_",
    "check_n_features_in_after_fitting": "ragged batches: models are vectors of any length, so "
    "transform accepts another length than fit",
    "check_transformer_general": "ragged batches: transform accepts vectors of any length, so it "
    "does not refuse a batch of another width than fit (the rest of this check is each module's "
    "fit_transform test)",
}
#: Transformers of ragged batches of weight vectors (or WeightSets, or 2-D arrays).
RAGGED_INPUT = (MIWD, RawBaseline, PCABaseline, RandomProjection, GlobalStats)

ARRAY_ESTIMATORS = [
    MIWD(S=4, B=8),
    MIWD(S=3, B=5, outliers="drop"),
    RawBaseline(K=3),
    PCABaseline(K=2, resample_to=16),
    RandomProjection(K=3, resample_to=16),
    GlobalStats(),
    WeightClassifier(),
    WeightClassifier(solver="dual", standardize=False),
    AtlasEmbedding(n_neighbors=5),
    RidgeRegressor(),
    RidgeRegressor(alphas=(1e-3, 1.0)),
    GBTRegressor(max_iter=20),
    StatNNRegressor(hidden=32, epochs=10),  # the published 2 x 1,000 units: minutes per check
]
NETWORK_ESTIMATORS = [
    ChainGram(),
    ChainGram(chains=[2], normalize=False),
    LayerStats(),
    SWStats(),
    UnterthinerStats(),
    HyperRepresentation(),  # its encoder: the `encoder` fixture (set by `prepared`)
]


def expected_failures(estimator: Any) -> dict[str, str]:
    return RAGGED if isinstance(estimator, RAGGED_INPUT) else {}


def package_estimators() -> set[type]:
    """Every public estimator class defined in weightspace (all its modules imported)."""
    for module in pkgutil.walk_packages(weightspace.__path__, "weightspace."):
        importlib.import_module(module.name)
    found, todo = set(), [BaseEstimator]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("weightspace.") and not sub.__name__.startswith("_"):
                found.add(sub)
    return found


def test_every_estimator_of_the_package_is_checked():
    checked = {type(e) for e in ARRAY_ESTIMATORS + NETWORK_ESTIMATORS}
    assert package_estimators() == checked


@parametrize_with_checks(ARRAY_ESTIMATORS, expected_failed_checks=expected_failures)
def test_scikit_learn_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ estimators of networks
#: scikit-learn's checks that need no data (what check_estimator could run on these).
API_CHECKS = [
    sk.check_estimator_cloneable,
    sk.check_estimator_repr,
    sk.check_no_attributes_set_in_init,
    sk.check_parameters_default_constructible,
    sk.check_get_params_invariance,
    sk.check_set_params,
    sk.check_mixin_order,
    sk.check_do_not_raise_errors_in_init_or_set_params,
    sk.check_estimator_tags_renamed,
    sk.check_valid_tag_types,
]


@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("estimator", NETWORK_ESTIMATORS, ids=repr)
def test_scikit_learn_api_checks_of_network_estimators(estimator, check):
    assert get_tags(estimator).input_tags.two_d_array is False
    check(type(estimator).__name__, clone(estimator))


@pytest.fixture(scope="module")
def networks():
    """Six WeightSets of one MLP architecture (different seeds)."""
    return [
        load_weights(create_architecture("mlp", seed=s, in_features=6, hidden=(7, 5), n_classes=3))
        for s in range(6)
    ]


@pytest.fixture(scope="module")
def encoder(networks, tmp_path_factory):
    """A tiny neuron-token encoder trained on the six networks (for HyperRepresentation)."""
    from weightspace.learn import TrainSettings, train_encoder

    lib = Library.create(tmp_path_factory.mktemp("estimators") / "zoo")
    for i, ws in enumerate(networks):
        lib.add([ws, ws.with_vector(ws.vector() * 1.5)], hparams={"seed": i})
    folder = tmp_path_factory.mktemp("estimators") / "encoder"
    sizes = dict(d_model=8, n_heads=2, d_ff=8, latent=4, projection=4, encoder_layers=1,
                 decoder_layers=1, epochs=1, batch_size=4)  # fmt: skip
    train_encoder(lib, folder, TrainSettings(**sizes), progress=False)
    return folder


def prepared(estimator, encoder):
    """A clone of ``estimator``, with the test encoder for a HyperRepresentation."""
    est = clone(estimator)
    return est.set_params(encoder=str(encoder)) if isinstance(est, HyperRepresentation) else est


@pytest.mark.parametrize("estimator", NETWORK_ESTIMATORS, ids=repr)
def test_network_estimators_keep_the_estimator_contract(estimator, networks, encoder):
    est = prepared(estimator, encoder)
    params = est.get_params()
    for method in ("transform", "get_feature_names_out"):
        with pytest.raises(NotFittedError):
            getattr(est, method)(*([networks] if method == "transform" else []))
    before = set(vars(est))
    assert est.fit(networks) is est
    assert est.get_params() == params  # fit does not change the parameters
    added = set(vars(est)) - before
    assert added
    assert all(name.endswith("_") for name in added)
    out = est.transform(networks)
    assert out.shape == (6, len(est.get_feature_names_out()))
    np.testing.assert_array_equal(prepared(estimator, encoder).fit_transform(networks), out)
    # one model's features do not depend on the others in its batch (exactly, except for a learned
    # encoder: torch's batched products round float32 differently for another batch size)
    tol = 1e-5 if isinstance(est, HyperRepresentation) else 0.0
    np.testing.assert_allclose(est.transform(networks[3:4])[0], out[3], rtol=tol, atol=tol)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(networks), out)


@pytest.mark.parametrize("estimator", NETWORK_ESTIMATORS, ids=repr)
def test_network_estimators_give_pandas_frames(estimator, networks, encoder):
    est = prepared(estimator, encoder).set_output(transform="pandas")
    frame = est.fit_transform(networks)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(est.get_feature_names_out())
    plain = est.set_output(transform="default").transform(networks)
    np.testing.assert_array_equal(frame.to_numpy(), plain)


@pytest.mark.parametrize("estimator", NETWORK_ESTIMATORS, ids=repr)
def test_a_failed_fit_leaves_a_network_estimator_unfitted(estimator, networks, encoder):
    est = prepared(estimator, encoder)
    with pytest.raises(ValueError, match="at least one"):
        est.fit([])
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


# ------------------------------------------------------------------ estimators of arrays
@pytest.mark.parametrize("estimator", ARRAY_ESTIMATORS, ids=repr)
def test_a_failed_fit_leaves_an_estimator_unfitted(estimator):
    est = clone(estimator)
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        est.fit(np.empty((0, 4)), np.empty(0))
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


def test_a_failed_fit_of_one_class_leaves_the_classifier_unfitted(rng):
    est = WeightClassifier()
    with pytest.raises(ValueError, match="at least two classes"):
        est.fit(rng.normal(size=(6, 3)), np.zeros(6))
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize(
    "estimator",
    [
        e
        for e in ARRAY_ESTIMATORS
        if hasattr(e, "transform") and not isinstance(e, WeightClassifier)
    ],
    ids=repr,
)
def test_transformers_give_pandas_frames_with_their_feature_names(estimator, rng):
    X = rng.normal(size=(12, 40)).astype(np.float32)
    est = clone(estimator).set_output(transform="pandas")
    frame = est.fit_transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(est.get_feature_names_out())
    np.testing.assert_array_equal(
        frame.to_numpy(), est.set_output(transform="default").transform(X)
    )
