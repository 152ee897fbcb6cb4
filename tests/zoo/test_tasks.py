"""Task zoos: class subsets relabelled, clear errors, the task spaces, presets and generation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weightspace import Library
from weightspace.zoo.architectures import create_architecture
from weightspace.zoo.datasets import load_dataset
from weightspace.zoo.generate import generate_zoo
from weightspace.zoo.presets import ZooPlan, get_preset
from weightspace.zoo.space import IntRange
from weightspace.zoo.tasks import (
    Task,
    TaskError,
    binary_tasks,
    htt_plan_fields,
    htt_space,
    load_task_dataset,
    random_tasks,
    restrict_classes,
    task_metadata,
    task_names,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_restrict_relabels_classes_in_the_given_order(digits):
    task = restrict_classes(digits, (8, 3))
    assert task.name == "digits:8v3"
    assert task.n_classes == 2
    assert task.class_names == ("8", "3")
    for split in ("train", "val", "test"):
        y_all, x_all = getattr(digits, f"y_{split}"), getattr(digits, f"x_{split}")
        y, x = getattr(task, f"y_{split}"), getattr(task, f"x_{split}")
        assert np.array_equal(x[y == 0], x_all[y_all == 8])
        assert np.array_equal(x[y == 1], x_all[y_all == 3])
        assert len(y) == int(np.isin(y_all, [3, 8]).sum())


def test_a_task_with_an_unknown_class_is_a_clear_error(digits):
    with pytest.raises(TaskError, match=r"dataset 'digits' has no class 12 \(it has 10 classes"):
        restrict_classes(digits, (3, 12))
    with pytest.raises(TaskError, match="no class 10"):
        load_task_dataset("digits:1v10")
    with pytest.raises(TaskError, match="at least two distinct classes"):
        Task("digits", (1, 1))
    with pytest.raises(TaskError, match="expected DATASET:C1vC2"):
        Task.parse("digits:1-2")


def test_task_names_round_trip():
    names = task_names("mnist10k", binary_tasks(10))
    assert names[:2] == ("mnist10k:0v1", "mnist10k:2v3")
    assert len(names) == 5
    assert [Task.parse(n).classes for n in names] == binary_tasks(10)


def test_load_task_dataset_reads_plain_names_and_tasks():
    assert load_task_dataset("digits").n_classes == 10
    pair = load_task_dataset("digits:0v1", seed=3)
    assert pair.n_classes == 2
    assert set(np.unique(pair.y_test)) == {0, 1}


def test_random_tasks_are_distinct_and_seeded():
    tasks = random_tasks(10, 20, random_state=0)
    assert len(set(tasks)) == 20
    assert all(a < b for a, b in tasks)
    assert tasks == random_tasks(10, 20, random_state=0)
    assert tasks != random_tasks(10, 20, random_state=1)
    with pytest.raises(TaskError, match="give 10 subsets of 3"):
        random_tasks(5, 11, size=3)


def test_task_metadata_columns():
    names = ("digits:0v1", "digits:2v3")
    assert task_metadata(names, "digits:2v3") == {
        "task": 1,
        "task_classes": "2,3",
        "task_dataset": "digits",
    }
    assert task_metadata(names, "digits") == {}


def test_htt_space_grid_has_every_seed_of_every_task():
    space = htt_space(datasets=["digits:0v1", "digits:2v3"], runs=3)
    grid = space.grid()
    assert len(grid) == 6
    seeds = {d: sorted(c["seed"] for c in grid if c["dataset"] == d) for d in ("digits:0v1",)}
    assert seeds == {"digits:0v1": [0, 1, 2]}
    with pytest.raises(TaskError, match="kind must be 'mlp' or 'cnn'"):
        htt_space(kind="rnn")


def test_plain_architectures_mix_the_task_into_the_initialization():
    a = create_architecture("plain-mlp", seed=1, dataset="digits:0v1")
    b = create_architecture("plain-mlp", seed=1, dataset="digits:0v1")
    c = create_architecture("plain-mlp", seed=1, dataset="digits:2v3")
    assert torch.equal(a[1].weight, b[1].weight)
    assert not torch.equal(a[1].weight, c[1].weight)
    cnn = create_architecture("plain-cnn", seed=0, widths=(4, 6), input_size=8)
    assert tuple(cnn(torch.zeros(2, 1, 8, 8)).shape) == (2, 2)


@pytest.mark.parametrize(
    ("name", "kw", "message"),
    [
        ("plain-mlp", {"hidden": 5}, "hidden must be a sequence of ints; got 5"),
        ("plain-cnn", {"widths": ()}, "widths must be a non-empty sequence of ints"),
    ],
)
def test_plain_architectures_raise_task_errors_for_their_layer_lists(name, kw, message):
    with pytest.raises(TaskError, match=message):
        create_architecture(name, seed=0, **kw)


def test_the_plain_nets_of_tasks_are_those_of_the_architecture_registry():
    from weightspace.zoo import architectures, tasks

    assert tasks.plain_mlp is architectures.plain_mlp
    assert tasks.plain_cnn is architectures.plain_cnn


def test_presets_are_task_zoos():
    plan = get_preset("htt-mnist10k-mlp")
    assert plan.grid
    assert plan.space == "htt-mlp"
    assert len(plan.datasets) == 20
    assert all(Task.parse(d).dataset == "mnist10k" for d in plan.datasets)
    assert get_preset("htt-mnist10k-cnn").hyperspace().architecture == "plain-cnn"
    assert htt_plan_fields("cnn", n_tasks=3, runs=2)["space_overrides"]["seed"] == IntRange(0, 1)


def test_generation_stores_task_columns(tmp_path):
    plan = ZooPlan(
        space="htt-mlp",
        n=1,
        grid=True,
        datasets=("digits:0v1", "digits:2v3"),
        input_shape=(1, 8, 8),
        space_overrides={"seed": IntRange(0, 1)},
        min_epochs=1,
        max_epochs=1,
        n_snapshots=2,
    )
    report = generate_zoo(plan, tmp_path / "zoo", workers=0, progress=False)
    assert report.trained == 4
    frame = Library(tmp_path / "zoo").query().sort_values(["task", "seed"])
    assert frame["task"].tolist() == [0, 0, 1, 1]
    assert frame["task_classes"].tolist() == ["0,1", "0,1", "2,3", "2,3"]
    assert set(frame["task_dataset"]) == {"digits"}
    assert frame["architecture"].str.endswith("2x32").all()  # two outputs: the task's classes
