"""The regressors: predictions clipped to the training targets' range, rankings unclipped."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from weightspace import Library, WeightSet
from weightspace.predict import PredictorError, fit_predictor, kendall_tau, r2
from weightspace.predict.models import MODELS, RidgeRegressor, create_model, load_model
from weightspace.reproduce.accuracy_prediction import Method, accuracy_prediction_experiment

from .conftest import planted_accuracy, planted_arrays

SMALL = {"ridge": {}, "gbt": {"max_iter": 20}, "mlp": {"hidden": 16, "epochs": 4}}


def test_ridge_clips_a_planted_outlier_to_the_training_range(rng):
    X = rng.normal(size=(30, 3))
    y = 0.5 + 0.1 * X[:, 0]
    test = np.vstack([rng.normal(size=(9, 3)), [[3000.0, 0.0, 0.0]]])  # one diverged model
    truth = np.append(0.5 + 0.1 * test[:9, 0], 0.0)
    ridge = RidgeRegressor(alphas=(1e-6,)).fit(X, y)
    score = ridge.predict_unclipped(test)
    assert score[-1] == pytest.approx(300.5, rel=1e-6)  # the outlier, unclipped
    pred = ridge.predict(test)
    assert (ridge.y_min_, ridge.y_max_) == (y.min(), y.max())
    assert pred[-1] == y.max()
    np.testing.assert_array_equal(pred[:9], np.clip(score[:9], y.min(), y.max()))
    assert r2(truth, score) < -1000 < -1 < r2(truth, pred)
    assert kendall_tau(truth, score) == kendall_tau(truth, ridge.predict_unclipped(test))


@pytest.mark.parametrize("kind", list(MODELS))
def test_every_model_clips_and_keeps_its_range_in_its_files(kind, rng, tmp_path):
    X = rng.normal(size=(24, 4))
    y = 0.5 + 0.1 * np.tanh(X[:, 0])
    model = create_model(kind, **SMALL[kind]).fit(X, y)
    far = 50.0 * rng.normal(size=(6, 4))
    assert (model.predict(far) >= y.min()).all()
    assert (model.predict(far) <= y.max()).all()
    info = json.loads(json.dumps(model.save(tmp_path)))
    assert info["y_range"] == [y.min(), y.max()]
    again = load_model(kind, tmp_path, info)
    assert again.n_features_in_ == 4
    np.testing.assert_array_equal(again.predict(far), model.predict(far))
    # a file written before clipping (no y_range) predicts unclipped
    older = load_model(kind, tmp_path, {k: v for k, v in info.items() if k != "y_range"})
    np.testing.assert_array_equal(older.predict(far), model.predict_unclipped(far))


@pytest.mark.parametrize("kind", list(MODELS))
def test_a_failed_fit_leaves_a_regressor_unfitted(kind, rng):
    model = create_model(kind, **SMALL[kind])
    with pytest.raises(PredictorError, match=r"Input y contains NaN.*drop the models without"):
        model.fit(rng.normal(size=(5, 2)), [0.1, 0.2, np.nan, 0.3, 0.4])
    with pytest.raises(PredictorError, match="X_val has 3 features, X has 2"):
        model.fit(rng.normal(size=(5, 2)), np.arange(5.0), X_val=np.ones((2, 3)), y_val=[0, 1])
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


def test_the_predictor_clips_its_prediction_and_ranks_by_score(planted, tmp_path):
    predictor = fit_predictor(Library(planted), model="ridge")
    rng = np.random.default_rng(5)
    arrays = planted_arrays(rng)
    arrays["l1.weight"] = arrays["l1.weight"] + np.float32(40.0)  # planted accuracy about 8.5
    outlier = WeightSet.from_arrays(arrays, source="outlier")
    normal = [WeightSet.from_arrays(planted_arrays(rng), source=f"m{i}") for i in range(4)]
    ranked = predictor.rank([*normal, outlier])
    assert ranked["source"][0] == "outlier"
    assert ranked["prediction"][0] == predictor.model.y_max_
    assert ranked["score"][0] > 5.0
    assert planted_accuracy(arrays) > 8.0
    inside = ranked["score"].between(predictor.model.y_min_, predictor.model.y_max_)
    np.testing.assert_array_equal(ranked["prediction"][inside], ranked["score"][inside])
    assert predictor.model.y_max_ == max(
        planted_accuracy_of(Library(planted), predictor.info["ids_train"])
    )


def planted_accuracy_of(lib: Library, ids: list[int]) -> list[float]:
    frame = lib.query()
    return [float(v) for v in frame.set_index("id").loc[ids, "test_acc"]]


def test_the_benchmark_clips_a_diverged_model_and_scores_tau_unclipped(tmp_path):
    from weightspace.predict.common import FeatureScaler
    from weightspace.represent.registry import describe_library
    from weightspace.reproduce.accuracy_prediction import nfn_protocol_split

    from .conftest import make_planted

    lib = Library(make_planted(tmp_path / "zoo", 39, seed=3))
    arrays = planted_arrays(np.random.default_rng(9))
    arrays["l1.weight"] = arrays["l1.weight"] * np.float32(1e3)  # diverged: huge weights
    lib.add(WeightSet.from_arrays(arrays), hparams={"dataset": "digits", "seed": 39},
            metrics={"test_acc": 0.1})  # fmt: skip
    seed = next(s for s in range(20) if len(lib.ids()) - 1 in nfn_protocol_split(40, s)[2])
    result = accuracy_prediction_experiment(
        [lib], methods=[Method("ridge-unterthiner", "ours", "ridge", "unterthiner")],
        seeds=(seed,), ood=False,
    )  # fmt: skip
    run, pred = result.runs.iloc[0], result.predictions
    # the same fit by hand: clipped predictions, unclipped scores
    ids, X = describe_library(lib, "unterthiner", cache=False)
    y = lib.query().set_index("id").loc[ids, "test_acc"].to_numpy(dtype=np.float64)
    train, val, test = nfn_protocol_split(len(ids), seed)
    scaler = FeatureScaler.fit(X[train])
    model = RidgeRegressor().fit(scaler.transform(X[train])[0], y[train],
                                 X_val=scaler.transform(X[val])[0], y_val=y[val])  # fmt: skip
    score = model.predict_unclipped(scaler.transform(X[test])[0])
    clipped = np.clip(score, y[train].min(), y[train].max())
    np.testing.assert_allclose(pred["predicted"], clipped, rtol=1e-12)
    assert np.abs(score).max() > 100  # the diverged model, unclipped
    assert run["kendall_tau"] == kendall_tau(y[test], score)
    assert run["r2"] == r2(y[test], clipped)
    assert r2(y[test], score) < -10 < run["r2"]
