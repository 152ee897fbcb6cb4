"""SVM meta-classifiers find a planted footprint, stay at chance on a random label, and point
their feature importance at the planted layer (or MI-WD window)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from weightspace import Library
from weightspace.probe import FailureFilter, ProbeError, cross_validate_svm, svm_probe
from weightspace.probe.common import Selection
from weightspace.reproduce.papers import NWS_IMPORTANCE, with_paper

# The random 3-class label, balanced to 31 models per class (93 models, after the failed ones
# are rejected): one repeat's accuracy is a mean of 93 test predictions, each right with
# probability 1/3 under the null, so its standard deviation is sqrt(1/3 * 2/3 / 93) = 0.049, and
# the mean over 3 repeats is no wider. 0.15 is about 3 standard deviations: the seeded test fails
# on a real leak (e.g. a model's snapshots on both sides of a split) or bias, not by bad luck.
NULL_TOLERANCE = 0.15


@pytest.fixture(scope="module")
def layer_result(planted):
    return svm_probe(
        Library(planted), ["init", "label"], representation="layer-stats", random_state=0
    )


def test_linear_svm_finds_the_planted_footprint(layer_result):
    frame = layer_result.to_frame().set_index("target")
    assert frame.loc["init", "accuracy_mean"] >= 0.95
    assert frame.loc["init", "chance"] == pytest.approx(1 / 3)


def test_random_label_is_at_chance(layer_result):
    frame = layer_result.to_frame().set_index("target")
    assert abs(frame.loc["label", "accuracy_mean"] - 1 / 3) < NULL_TOLERANCE


def test_failed_trainings_are_rejected_before_probing(layer_result):
    report = layer_result.filter_report
    assert report is not None
    assert (report.n_models.sum(), report.n_kept.sum()) == (120, 114)
    assert layer_result.to_frame().set_index("target").loc["init", "n_models"] == 114


def test_layer_stats_importance_points_at_the_planted_layer(layer_result):
    imp = layer_result.importance_frame()
    init = imp[imp.target == "init"]
    per_layer = init.groupby("layer")["importance"].mean()
    assert per_layer.idxmax() == "l1"
    assert init.nlargest(5, "importance")["layer"].eq("l1").sum() >= 4
    assert set(init.columns) >= {"layer", "role", "stat", "importance", "importance_std", "rank"}


def test_miwd_importance_points_at_the_planted_window(planted):
    result = svm_probe(
        Library(planted),
        "init",
        representation="miwd",
        params={"S": 4, "B": 8},
        n_repeats=1,
        random_state=0,
    )
    assert result.to_frame().accuracy_mean.iloc[0] >= 0.95
    imp = result.importance_frame()
    assert imp.groupby("window")["importance"].sum().idxmax() == 1
    assert result.layout.grid == (4, 8)


def test_rbf_kernel_has_no_importance(planted):
    result = svm_probe(Library(planted), "init", kernel="rbf", n_repeats=1, random_state=0)
    assert result.to_frame().accuracy_mean.iloc[0] >= 0.9
    assert result.importance_frame().empty
    assert set(result.figures()) == {"accuracy"}


def test_snapshots_of_one_model_share_a_fold(planted, monkeypatch):
    from weightspace.probe import svm as svm_module

    seen = []
    original = svm_module.model_splits

    def spy(labels, groups, **kw):
        splits = original(labels, groups, **kw)
        seen.append((np.asarray(groups), splits))
        return splits

    monkeypatch.setattr(svm_module, "model_splits", spy)
    result = svm_probe(Library(planted), "init", snapshots=(-1, -2, -3), n_repeats=2)
    row = result.to_frame().iloc[0]
    assert row.n_samples == 3 * row.n_models
    groups, splits = seen[0]
    assert len(splits) == 10
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])


def test_engine_standardizes_and_drops_nonfinite_columns():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], 20)
    X = rng.normal(size=(60, 4))
    X[:, 2] += (y == "b") * 1e-3 * 5  # informative but tiny: standardization makes it count
    X[:, 2] *= 1e3
    X[0, 3] = np.nan
    scores = cross_validate_svm(X, y, np.arange(60), n_splits=5, random_state=0)
    assert scores.dropped.tolist() == [False, False, False, True]
    assert np.isnan(scores.coef_norms[:, 3]).all()
    assert scores.coef_norms[:, :3].mean(axis=0).argmax() == 2


def test_engine_without_standardization_lets_scale_decide():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b"], 30)
    # the informative feature is 1000 times smaller than the noise: only scaling lets it count
    X = np.column_stack([1e-3 * (rng.normal(size=60) + 3.0 * (y == "b")), rng.normal(size=60)])
    kw = {"n_splits": 5, "random_state": 0}
    scaled = cross_validate_svm(X, y, np.arange(60), **kw)
    raw = cross_validate_svm(X, y, np.arange(60), standardize=False, **kw)
    assert scaled.accuracy.mean() > 0.9
    assert raw.accuracy.mean() < 0.7


def test_result_contract(layer_result):
    assert isinstance(layer_result.to_frame(), pd.DataFrame)
    assert isinstance(layer_result.plot(), Figure)
    text = layer_result.summary()
    assert "paper" not in text  # a probe knows no paper
    assert "paper_accuracy" not in layer_result.to_frame()
    assert "init" in text
    text = with_paper(layer_result).summary()
    assert "n/a (NWS Fig. 2: values lost in the text)" in text
    assert f"paper: {NWS_IMPORTANCE['init']}" in text  # layer-stats: the paper's representation
    assert with_paper(layer_result).to_frame().paper_accuracy.isna().all()
    assert set(layer_result.figures()) == {"accuracy", "importance-init", "importance-label"}


def test_bad_target_and_continuous_target(planted):
    lib = Library(planted)
    with pytest.raises(ProbeError, match="unknown target 'nope'"):
        svm_probe(lib, "nope")
    with pytest.raises(ProbeError, match="distinct values"):
        svm_probe(lib, "learning_rate")


def test_filter_can_be_turned_off(planted):
    result = svm_probe(Library(planted), "init", selection=Selection(failed=None), n_repeats=1)
    assert result.filter_report is None
    assert result.to_frame().n_models.iloc[0] == 120


def test_unknown_dataset_without_threshold_is_an_error(planted):
    lib = Library(planted)
    with pytest.raises(ProbeError, match="failed-training threshold"):
        svm_probe(lib, "init", selection=Selection(failed=FailureFilter(n_classes={})))
