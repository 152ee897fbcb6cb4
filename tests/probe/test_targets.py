"""One table of target aliases: every alias works in every probe's target resolution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weightspace.probe.common import ProbeError, target_labels
from weightspace.probe.dmc_data import target_data
from weightspace.probe.linear import score_targets
from weightspace.probe.regression import regress_accuracy
from weightspace.probe.targets import TARGET_ALIASES, canonical_target, resolve_target

#: (name the user gives, column the zoo has): every alias to its canonical column, and back.
PAIRS = [(alias, canonical) for alias, canonical in TARGET_ALIASES.items()] + [
    (canonical, alias) for alias, canonical in TARGET_ALIASES.items()
]
N = 40


def _models(column: str) -> pd.DataFrame:
    """40 models of two datasets; ``column`` has three values, the accuracy depends on it."""
    rng = np.random.default_rng(0)
    values = np.array(["a", "b", "c"] * (N // 3) + ["a"] * (N % 3), dtype=object)
    effect = {"a": 0.1, "b": 0.5, "c": 0.9}
    return pd.DataFrame(
        {
            "id": np.arange(N),
            "model": np.arange(N),
            "dataset": ["mnist", "svhn"] * (N // 2),
            column: values,
            "other": rng.normal(size=N),
            "test_acc": [effect[v] + 0.01 * rng.normal() for v in values],
        }
    )


def test_the_table_names_the_aliases_the_probes_once_had() -> None:
    assert canonical_target("initializer") == canonical_target("initialization") == "init"
    assert canonical_target("lr") == "learning_rate"
    assert canonical_target("activation_function") == "activation"
    assert canonical_target("optimizer") == "optimizer"


@pytest.mark.parametrize(("target", "column"), PAIRS)
def test_resolution_finds_the_column_of_an_alias(target: str, column: str) -> None:
    assert resolve_target(["dataset", column, "test_acc"], target) == column
    assert resolve_target(["dataset", target, column], target) == target  # a column wins
    assert resolve_target(["dataset"], target) is None


@pytest.mark.parametrize(("target", "column"), PAIRS)
def test_svm_labels_accept_every_alias(target: str, column: str) -> None:
    models = _models(column)
    labels = target_labels(models, target)
    assert labels.tolist() == models[column].tolist()


@pytest.mark.parametrize(("target", "column"), PAIRS)
def test_dmc_targets_accept_every_alias(target: str, column: str) -> None:
    data = target_data(models := _models(column), target, task="classification", n_splits=2)
    assert (data.target, data.column) == (target, column)
    assert data.classes == ("a", "b", "c")
    assert len(data.rows) == 3 * 13  # balanced: 14 a, 13 b, 13 c -> 13 each
    assert set(models[data.column].iloc[data.rows]) == {"a", "b", "c"}


@pytest.mark.parametrize(("target", "column"), PAIRS)
def test_linear_probe_targets_accept_every_alias(target: str, column: str) -> None:
    models = _models(column)
    X = np.eye(3)[models[column].map({"a": 0, "b": 1, "c": 2}).to_numpy()]
    results, skipped = score_targets(X, models, [target], n_seeds=2)
    assert skipped == []
    assert results[0].target == target
    assert results[0].kind == "categorical"
    assert results[0].mean_std("accuracy")[0] == 1.0  # the features are the one-hot column


@pytest.mark.parametrize(("target", "column"), PAIRS)
def test_regression_hyperparameters_accept_every_alias(target: str, column: str) -> None:
    result = regress_accuracy(_models(column), categorical=[target], ordered=[])
    coefs = result.coefficients[result.coefficients.hparam != "const"]
    assert set(coefs.hparam) == {column}
    assert sorted(set(coefs.level)) == ["a", "b", "c"]


def test_an_unknown_target_is_still_an_error() -> None:
    with pytest.raises(ProbeError, match="unknown target 'nothing'"):
        target_labels(_models("init"), "nothing")
