"""The write path: a frozen staged record, checked before the disk is touched; INSERTs that match
the tables."""

from __future__ import annotations

import dataclasses
import re
import sqlite3

import numpy as np
import pytest
import torch

from weightspace import LibraryError, SnapshotRecord
from weightspace.library import schema
from weightspace.library.write import StagedModel, plan_model, stage_model


def test_plan_model_is_a_frozen_record_of_what_add_writes(tmp_path):
    weights = {
        "fc.weight": np.array([[1.0, np.inf]], np.float32),
        "fc.bias": np.zeros(1, np.float32),
    }
    staged, sets, matrix = plan_model(
        {
            "weights": [weights, weights],
            "source": "/data/run.pt",
            "hparams": {"lr": 0.5},
            "metadata": {"tags": ["a", "b"]},
            "snapshots": [{"epoch": 0}, {"epoch": 3, "test_acc": 0.75}],
        }
    )
    assert isinstance(staged, StagedModel)
    assert re.fullmatch(r"weights/[0-9a-f]{32}\.safetensors", staged.file)
    assert {k: staged.row[k] for k in ("name", "source", "file", "n_params", "n_snapshots")} == {
        "name": "run.pt",
        "source": "/data/run.pt",
        "file": staged.file,
        "n_params": 3,
        "n_snapshots": 2,
    }
    assert staged.row["nonfinite"] == 2
    assert staged.nonfinite == (1, 1)
    assert dict(staged.columns) == {"lr": ("hparam", 0.5), "tags": ("meta", '["a", "b"]')}
    assert staged.snapshots == (SnapshotRecord(epoch=0), SnapshotRecord(epoch=3, test_acc=0.75))
    assert [(e["name"], e["offset"], e["length"]) for e in staged.layers] == [
        ("fc.weight", 0, 2),
        ("fc.bias", 2, 1),
    ]
    assert len(sets) == 2
    assert matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix, [[1.0, np.inf, 0.0], [1.0, np.inf, 0.0]])
    with pytest.raises(dataclasses.FrozenInstanceError):
        staged.file = "elsewhere"  # type: ignore[misc]
    with pytest.raises(TypeError):
        staged.row["name"] = "renamed"  # type: ignore[index]
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"weights": torch.nn.Linear(2, 1), "colour": 1}, r"unknown argument\(s\) to add"),
        ({"weights": torch.nn.Linear(2, 1), "hparams": {"my key": 1}}, "not a valid column"),
        ({"weights": torch.nn.Linear(2, 1), "metrics": {"n_params": 1}}, "clashes with a built-in"),
        ({"weights": torch.nn.Linear(2, 1), "metadata": {"x": object()}}, "cannot be stored"),
        ({"weights": torch.nn.Linear(2, 1), "snapshots": [{}, {}]}, "one record per snapshot"),
    ],
)
def test_bad_arguments_are_refused_before_the_weight_file_is_written(tmp_path, item, message):
    (tmp_path / "weights").mkdir()
    with pytest.raises(LibraryError, match=message):
        stage_model(tmp_path, item)
    assert list((tmp_path / "weights").iterdir()) == []


def test_stage_model_writes_only_the_weight_file(tmp_path):
    (tmp_path / "weights").mkdir()
    staged = stage_model(tmp_path, {"weights": torch.nn.Linear(2, 1)})
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")] == [
        "weights",
        staged.file,
    ]


@pytest.mark.parametrize(
    ("table", "statement"),
    [
        ("meta", schema._INSERT_META),
        ("columns", schema._INSERT_COLUMN),
        ("snapshots", schema._INSERT_SNAPSHOT),
        ("layers", schema._INSERT_LAYER),
    ],
)
def test_insert_statements_name_every_column_of_their_table(tmp_path, table, statement):
    conn = sqlite3.connect(tmp_path / "db")
    schema.create_schema(conn, created="now", version="0")
    columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    named = statement.split("(", 1)[1].split(")", 1)[0].replace(" ", "").split(",")
    assert named == columns
    conn.close()
