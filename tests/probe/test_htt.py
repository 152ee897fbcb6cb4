"""Hypothesis-training-testing on data with a known answer.

The planted task zoo: every "training" is a two-layer network whose hidden units are randomly
permuted. Task ``t`` fixes the first layer's rows up to sign and order: rows ``+v`` and ``-v`` for
six task vectors ``v``, plus noise. The raw first layer then has the same mean (zero) for every
task: a linear classifier on it is at chance. Its Gram matrix ``W^T W = 2 sum v v^T + noise``
carries the task: chain-normalized features classify and retrieve it far above chance. The
initial snapshot is pure noise (no footprint), and ``random_task`` is a label with no footprint.
"""

from __future__ import annotations

import numpy as np
import pytest

from weightspace import Library
from weightspace.probe.common import ProbeError
from weightspace.probe.htt import HTTResult, htt_probe, network_features
from weightspace.probe.htt_protocols import (
    WeightClassifier,
    classification_protocol,
    htt_decision,
    retrieval_protocol,
    retrieval_scores,
)

from .conftest import HIDDEN, IN, N_TASKS, OUT


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """The classifier's many small matrix products: multi-threaded BLAS only adds waits on a
    busy machine (the library leaves thread counts alone; the tests may choose theirs)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def test_planted_task_footprint_is_found_and_hypothesis_accepted(task_zoo):
    result = htt_probe(Library(task_zoo), features=("chain", "layer"), n_repeats=2)
    t = result.to_frame().set_index(["features", "chain", "protocol"])
    normalized = t.loc[("chain", 1, "classification")]
    assert normalized.accuracy >= 0.95
    assert normalized.chance == pytest.approx(1 / N_TASKS)
    assert bool(normalized.accept)
    assert normalized.p_value < 0.05  # 0 errors in 80: 0.95 ** 80
    retrieval = t.loc[("chain", 1, "retrieval")]
    assert retrieval.accuracy >= 0.9
    assert retrieval.accuracy <= retrieval.rank5 <= retrieval.rank10 <= 1.0
    # the raw permuted layer has the same mean for every task: a linear classifier is at chance
    unnormalized = t.loc[("layer", 1, "classification")]
    assert unnormalized.accuracy <= 0.45
    assert not bool(unnormalized.accept)


def test_random_task_labels_score_at_chance(task_zoo):
    result = htt_probe(
        Library(task_zoo), task_column="random_task", features=("chain",), chains=[1]
    )
    t = result.to_frame().set_index("protocol")
    assert t.loc["classification", "accuracy"] <= 0.4  # chance 0.2
    assert not bool(t.loc["classification", "accept"])
    assert t.loc["classification", "p_value"] > 0.5


def test_features_per_kind_have_the_expected_sizes(task_zoo):
    ws = Library(task_zoo).get(1)
    chain = network_features(ws, "chain", [1, 2])
    layer = network_features(ws, "layer", [1, 2])
    assert [f.shape for f in chain] == [(IN * (IN + 1) // 2,)] * 2
    assert [f.shape for f in layer] == [(HIDDEN * IN,), (OUT * HIDDEN,)]
    with pytest.raises(ProbeError, match="unknown feature kind 'raw'"):
        network_features(ws, "raw", [1])
    with pytest.raises(ProbeError, match=r"layers \[3\] out of range"):
        network_features(ws, "layer", [3])


def test_probe_errors_name_the_fix(task_zoo):
    lib = Library(task_zoo)
    with pytest.raises(ProbeError, match="no 'tasks' column"):
        htt_probe(lib, task_column="tasks")
    with pytest.raises(ProbeError, match="alpha must lie in"):
        htt_probe(lib, alpha=1.5)
    with pytest.raises(ProbeError, match="features must be among"):
        htt_probe(lib, features=("pca",))


def test_cmc_is_monotone_and_bounded():
    rng = np.random.default_rng(0)
    sim = rng.normal(size=(30, 60))
    q, g = rng.integers(4, size=30), np.repeat(np.arange(4), 15)
    cmc, m, ap = retrieval_scores(sim, q, g, max_rank=60)
    assert np.all(np.diff(cmc) >= 0)
    assert cmc[0] <= cmc[4] <= cmc[9] <= cmc[-1] == 1.0
    assert 0.0 < m <= 1.0
    assert ap.shape == (30,)


def test_map_is_exact_on_a_hand_made_ranking():
    # gallery a, a, b, b with similarities 0.4, 0.9, 0.8, 0.1: ranked a(0.9), b(0.8), a(0.4), b(0.1)
    # query a: relevant at ranks 1 and 3, AP = (1/1 + 2/3) / 2; query b: ranks 2 and 4,
    # AP = (1/2 + 2/4) / 2; first matches at ranks 1 and 2
    sim = np.array([[0.4, 0.9, 0.8, 0.1], [0.4, 0.9, 0.8, 0.1]])
    cmc, m, ap = retrieval_scores(sim, ["a", "b"], ["a", "a", "b", "b"], max_rank=4)
    assert ap == pytest.approx([(1 + 2 / 3) / 2, (1 / 2 + 2 / 4) / 2])
    assert m == pytest.approx((1 + 2 / 3) / 4 + (1 / 2 + 2 / 4) / 4)
    assert cmc.tolist() == [0.5, 1.0, 1.0, 1.0]


def test_retrieval_needs_a_match_for_every_query():
    with pytest.raises(ProbeError, match="no gallery item of its label"):
        retrieval_scores(np.ones((1, 2)), ["c"], ["a", "b"])


def test_htt_decision_follows_the_paper_rule_with_an_exact_p_value():
    from scipy.stats import binom

    accept = htt_decision(1, 100, alpha=0.05)
    assert accept.accept
    assert accept.error == 0.01
    assert accept.p_value == pytest.approx(binom.cdf(1, 100, 0.05))
    reject = htt_decision(6, 100, alpha=0.05)
    assert not reject.accept
    assert reject.p_value > 0.5
    with pytest.raises(ProbeError, match="alpha must lie in"):
        htt_decision(0, 10, alpha=0.0)


def test_protocols_on_separated_clusters():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(6), 10)
    X = rng.normal(size=(60, 20)) + 6 * rng.normal(size=(6, 20))[y]
    cls = classification_protocol(X, y, n_repeats=2, random_state=0)
    assert cls.mean == 1.0
    assert cls.n_test == 2 * 6 * 4
    ret = retrieval_protocol(X, y, n_repeats=2, random_state=0)
    assert ret.n_train_tasks == 4
    assert ret.n_test_tasks == 2
    assert ret.rank(1) == 1.0
    assert np.all(np.diff(ret.cmc, axis=1) >= 0)
    with pytest.raises(ProbeError, match="at least 4 tasks"):
        retrieval_protocol(X[y < 3], y[y < 3])


def test_classifier_primal_and_dual_give_one_solution():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1, 2], 8)
    X = rng.normal(size=(24, 40)) + np.eye(3, 40)[y]
    primal = WeightClassifier(solver="primal", weight_decay=0.1).fit(X, y)
    dual = WeightClassifier(solver="dual", weight_decay=0.1).fit(X, y)
    assert np.allclose(primal.decision_function(X), dual.decision_function(X), atol=1e-4)
    proba = primal.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    with pytest.raises(ProbeError, match="weight_decay must be > 0"):
        WeightClassifier(weight_decay=0).fit(X, y)
    with pytest.raises(ValueError, match="not fitted yet"):
        WeightClassifier().predict(X)
    with pytest.raises(ProbeError, match="X has 5 features, but WeightClassifier is expecting 40"):
        primal.predict(X[:, :5])


def test_combine_needs_results():
    with pytest.raises(ProbeError, match="no HTT results"):
        HTTResult.combine([])
