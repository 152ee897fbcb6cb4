"""Failed-training filter, the Selection record's defaults, balancing and splits by model."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pandas as pd
import pytest

from weightspace.probe import (
    DATASET_CLASSES,
    NWS_THRESHOLDS,
    FailureFilter,
    ProbeError,
    balance_classes,
    chance_level,
    dataset_key,
    model_splits,
)
from weightspace.probe.common import Selection


def test_nws_thresholds_are_the_papers():
    assert dict(NWS_THRESHOLDS) == {
        "mnist": 0.80,
        "cifar10": 0.25,
        "svhn": 0.50,
        "stl10": 0.25,
        "fashion_mnist": 0.50,
    }


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        ("MNIST", 0.80),
        ("CIFAR-10", 0.25),
        ("svhn", 0.50),
        ("STL-10", 0.25),
        ("Fashion-MNIST", 0.50),
        ("digits", 0.2),
        ("mnist10k", 0.2),
        ("shapes", 0.2),
        ("textures", 0.2),
        ("tetris", 2 / 7),
    ],
)
def test_threshold_per_dataset(dataset, expected):
    assert FailureFilter().threshold(dataset) == expected


def test_dataset_classes_are_the_registrys_for_every_registered_dataset():
    from weightspace.zoo.data.registry import dataset_info, list_datasets

    expected = {}
    for name in list_datasets():
        info = dataset_info(name)
        assert info is not None, name
        expected.setdefault(dataset_key(name), info.n_classes)
    assert dict(DATASET_CLASSES) == expected
    assert DATASET_CLASSES["tetris"] == 7
    assert DATASET_CLASSES["mnist"] == DATASET_CLASSES["shapes"] == 10


def test_a_dataset_registered_later_gets_the_chance_threshold(monkeypatch):
    from weightspace.zoo.data import registry
    from weightspace.zoo.data.registry import DatasetInfo, register_dataset

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    with pytest.raises(ProbeError, match="no failed-training threshold"):
        FailureFilter().threshold("five-way")
    info = DatasetInfo(("a", "b", "c", "d", "e"), 10, 5, (1, 2, 2))
    register_dataset("five_way", lambda root=None: None, info=info)
    assert DATASET_CLASSES["five_way"] == 5
    assert FailureFilter().rule("five-way") == (0.4, "2x chance (1/5)")


def test_filter_keeps_exactly_the_models_at_or_above_the_threshold():
    frame = pd.DataFrame(
        {
            "dataset": ["mnist", "mnist", "cifar10", "cifar10", "digits", "digits", "digits"],
            "test_acc": [0.80, 0.7999, 0.25, 0.2499, 0.2, 0.1999, np.nan],
        }
    )
    kept, report = FailureFilter().apply(frame)
    assert kept.index.tolist() == [0, 2, 4]
    assert report.set_index("dataset").n_kept.to_dict() == {"mnist": 1, "cifar10": 1, "digits": 1}
    assert report.set_index("dataset").rule["mnist"] == "NWS"


def test_filter_thresholds_are_configurable():
    f = FailureFilter(thresholds={"shapes": 0.5}, chance_multiple=3.0)
    assert f.threshold("shapes") == 0.5
    assert f.threshold("textures") == pytest.approx(0.3)
    assert FailureFilter(default=0.4).threshold("my_data") == 0.4


def test_filter_unknown_dataset_says_how_to_fix():
    with pytest.raises(ProbeError, match=r"--threshold my_data=0.5"):
        FailureFilter().threshold("my_data")


def test_filter_without_metric_column():
    with pytest.raises(ProbeError, match=r"selection=Selection\(failed=None\)"):
        FailureFilter().apply(pd.DataFrame({"dataset": ["mnist"]}))


# Every function that reads models through a Selection, with the default it had as loose keywords:
# the HTT probe and the embedding maps kept every model (failed=None), the others rejected failed
# trainings (failed=FailureFilter()).
KEEP_ALL = Selection(failed=None)
SELECTION_DEFAULTS = [
    ("weightspace.probe.svm", "svm_probe", Selection()),
    ("weightspace.probe.linear", "linear_probe", Selection()),
    ("weightspace.probe.dmc", "dmc_probe", Selection()),
    ("weightspace.probe.performance_map", "performance_maps", Selection()),
    ("weightspace.probe.regression", "accuracy_regression", Selection()),
    ("weightspace.probe.htt", "htt_probe", KEEP_ALL),
    ("weightspace.reproduce.htt", "htt_experiment", KEEP_ALL),
    ("weightspace.reproduce.untangling", "untangling_experiment", Selection()),
    ("weightspace.reproduce.embeddings", "representation_maps", KEEP_ALL),
    ("weightspace.reproduce.embeddings", "training_maps", KEEP_ALL),
    ("weightspace.reproduce.hyper", "hyper_experiment", Selection(failed=None)),
    ("weightspace.reproduce.invariance", "invariance_experiment", Selection()),
    ("weightspace.reproduce.performance_maps", "performance_maps_experiment", Selection()),
    ("weightspace.reproduce.performance_maps", "subset_size_study", Selection()),
]


@pytest.mark.parametrize(("module", "name", "default"), SELECTION_DEFAULTS)
def test_every_probe_takes_a_selection_with_its_old_default(module, name, default):
    parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    assert parameters["selection"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["selection"].default == default
    assert not {"failed", "where", "ids"} & set(parameters)


def test_dataset_key_aliases():
    assert dataset_key("Fashion MNIST") == "fashion_mnist"
    assert dataset_key("cifar_10") == "cifar10"


def test_balance_cuts_every_class_to_the_smallest():
    labels = np.array(["a"] * 10 + ["b"] * 4 + ["c"] * 7)
    chosen = balance_classes(labels, random_state=0)
    assert pd.Series(labels[chosen]).value_counts().to_dict() == {"a": 4, "b": 4, "c": 4}
    assert np.array_equal(chosen, balance_classes(labels, random_state=0))
    assert chance_level(labels[chosen]) == pytest.approx(1 / 3)
    assert chance_level(labels) == pytest.approx(10 / 21)


@pytest.mark.parametrize("n_repeats", [1, 3])
def test_splits_never_put_one_model_on_both_sides(n_repeats):
    rng = np.random.default_rng(0)
    models = np.arange(30)
    y_model = rng.choice(["a", "b"], size=30)
    groups = np.repeat(models, 4)  # four snapshots per model
    y = np.repeat(y_model, 4)
    splits = model_splits(y, groups, n_splits=5, n_repeats=n_repeats, random_state=0)
    assert len(splits) == 5 * n_repeats
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    for r in range(n_repeats):
        tests = np.concatenate([t for _, t in splits[5 * r : 5 * r + 5]])
        assert np.array_equal(np.sort(tests), np.arange(len(y)))


def test_splits_need_enough_models_per_class():
    with pytest.raises(ProbeError, match="fewer than n_splits=5"):
        model_splits(["a"] * 10 + ["b"] * 3, np.arange(13), n_splits=5)
