"""Linear probes: splits by model, the ridge path, planted properties recovered."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from weightspace import Library, WeightSet
from weightspace.probe import ProbeError, linear_probe
from weightspace.probe.common import Selection
from weightspace.probe.linear import score_targets
from weightspace.probe.linear_engine import (
    RidgePath,
    fit_ridge,
    fit_ridge_classifier,
    kendall_tau,
    split_by_model,
)


def test_splits_keep_every_models_rows_together_in_the_given_shares():
    groups = np.repeat(np.arange(40), 5)
    for seed in range(3):
        parts = split_by_model(groups, seed=seed)
        sides = [set(groups[p]) for p in parts]
        assert [len(s) for s in sides] == [28, 6, 6]
        assert len(sides[0] | sides[1] | sides[2]) == 40  # disjoint: 28 + 6 + 6 models
        assert sum(len(p) for p in parts) == 200
    assert not np.array_equal(split_by_model(groups, seed=0)[2], split_by_model(groups, seed=1)[2])


def test_the_ridge_path_is_scikit_learns_ridge_on_standardized_features(rng):
    X = rng.normal(size=(50, 8)) * rng.uniform(0.1, 10, 8) + 3
    y = X @ rng.normal(size=8) + rng.normal(size=50)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    path = RidgePath(X, y)
    for alpha in (1e-3, 1.0, 100.0):
        ours = path.model(alpha).predict(X[:5])
        theirs = Ridge(alpha=alpha).fit(Z, y).predict(Z[:5])
        np.testing.assert_allclose(ours, theirs, rtol=1e-8)


def test_the_penalty_is_chosen_on_validation(rng):
    X = rng.normal(size=(80, 60))  # many noise features: a large penalty generalizes
    y = X[:, 0] + rng.normal(size=80)
    model, scores = fit_ridge(X[:40], y[:40], X[40:], y[40:])
    assert model.alpha == max(scores, key=scores.get)
    assert model.alpha >= 10


def test_a_planted_linear_property_is_recovered(rng):
    groups = np.repeat(np.arange(60), 4)
    X = rng.normal(size=(240, 10))
    frame = pd.DataFrame(
        {
            "model": groups,
            "snapshot": np.tile(np.arange(4), 60),
            "acc": X @ np.arange(1.0, 11.0) + rng.normal(0, 0.5, 240),
            "noise": rng.normal(size=240),
            "kind": np.where(X[:, 3] > 0, "big", "small"),
            "constant": 1.0,
        }
    )
    results, skipped = score_targets(X, frame, ["acc", "noise", "kind", "constant"])
    by = {r.target: r for r in results}
    assert by["acc"].kind == "continuous"
    assert by["acc"].mean_std("r2")[0] > 0.98
    assert by["acc"].mean_std("tau")[0] > 0.9
    assert by["noise"].mean_std("r2")[0] < 0.1
    assert by["kind"].kind == "categorical"
    assert by["kind"].mean_std("accuracy")[0] > 0.9
    assert by["kind"].chance == pytest.approx(0.5, abs=0.1)
    assert len(by["acc"].r2) == 3
    assert skipped == ["constant: one value only (1.0)"]


def test_kendall_tau_and_the_classifier(rng):
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert np.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    labels = rng.integers(0, 3, 120)
    X = 3 * np.eye(3)[labels] + rng.normal(size=(120, 3))
    y = np.array(["a", "b", "c"])[labels]
    clf, _ = fit_ridge_classifier(X[:60], y[:60], X[60:90], y[60:90])
    assert np.mean(clf.predict(X[90:]) == y[90:]) > 0.85


@pytest.fixture(scope="module")
def planted_lib(tmp_path_factory) -> Library:
    """30 models x 3 snapshots; each snapshot's weights have mean = 2 * test_acc (planted)."""
    rng = np.random.default_rng(3)
    lib = Library.create(tmp_path_factory.mktemp("linear") / "lib")
    for m in range(30):
        snaps, records = [], []
        for epoch in range(3):
            acc = float(rng.uniform(0.3, 0.9))
            w = rng.normal(2 * acc, 0.01, size=(4, 5)).astype(np.float32)
            snaps.append(WeightSet.from_arrays({"fc.weight": w}))
            records.append({"epoch": epoch, "test_acc": acc, "train_acc": min(1.0, acc + 0.05)})
        lib.add(snaps, hparams={"opt": "adam" if m % 2 else "sgd"}, snapshots=records,
                metrics={"test_acc": records[-1]["test_acc"]})  # fmt: skip
    return lib


def test_linear_probe_reads_snapshot_targets_from_the_library(planted_lib):
    result = linear_probe(
        planted_lib,
        ["test_acc", "epoch", "ggap", "opt"],
        representation="stats",
        selection=Selection(failed=None),
    )
    frame = result.to_frame().set_index("target")
    assert frame.loc["test_acc", "r2_mean"] > 0.99
    assert frame.loc["test_acc", "n_samples"] == 90
    assert frame.loc["test_acc", "n_models"] == 30
    assert frame.loc["opt", "kind"] == "categorical"
    assert result.snapshots == (0, 1, 2)
    assert "ggap: one value only" in result.skipped[0]  # train - test is 0.05 everywhere
    assert "test_acc" in result.summary()


def test_unknown_targets_are_named(planted_lib):
    with pytest.raises(ProbeError, match="unknown target 'nope'"):
        linear_probe(
            planted_lib, ["nope"], representation="stats", selection=Selection(failed=None)
        )


def test_the_probe_cli_prints_json_and_writes_a_report(planted_lib, cli, tmp_path):
    code, out, err = cli(
        "probe", "linear", planted_lib.path, "--repr", "stats", "--target", "test_acc,epoch",
        "--snapshots=-1,-2", "--no-filter", "--json", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)
    assert [r["target"] for r in rows] == ["test_acc", "epoch"]
    assert rows[0]["n_samples"] == 60
    assert (tmp_path / "linear-stats.md").is_file()
    assert (tmp_path / "linear-stats.csv").is_file()
    code, _, err = cli(
        "probe", "linear", planted_lib.path, "--target", "nope", "--no-filter", "--quiet"
    )
    assert code == 1
    assert len(err.strip().splitlines()) == 1


def test_an_exploded_model_is_scored_on_a_clipped_prediction(rng):
    """A test model whose features are far outside the training models' (weights that exploded in
    training) gets a prediction clipped to the training targets' range, so R^2 stays bounded."""
    n = 60
    x = rng.uniform(0, 1, n)
    X = np.stack([x + rng.normal(0, 0.05, n), rng.normal(0, 1, n)], axis=1)  # noisy: coef 2 != 0
    frame = pd.DataFrame({"model": np.arange(n), "snapshot": 0, "test_acc": x})
    (clean,), _ = score_targets(X, frame, ["test_acc"], n_seeds=1)
    seed = int(np.random.SeedSequence(0).generate_state(1)[0])  # score_targets' first split
    test = split_by_model(np.arange(n), seed=seed)[2]
    exploded = X.copy()
    exploded[test[0], 1] = 1e4  # the same truth, a feature 1e4 standard deviations off
    (result,), _ = score_targets(exploded, frame, ["test_acc"], n_seeds=1)
    assert clean.r2[0] > 0.9
    assert result.r2[0] > 0.3  # unclipped, this one model alone gives R^2 of -878
