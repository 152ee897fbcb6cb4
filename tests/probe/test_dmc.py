"""Deep meta-classifiers on a library with planted footprints (known answers).

Every model has a conv layer (``conv1``, 592 weights with its bias) and two FC layers (``fc1``:
528, ``fc2``: 170). Weights are standard normal except:

- ``init`` (``a``/``b``): class ``b`` scales the ``fc1`` kernel by 3 (a local footprint);
- ``lr`` (log-uniform in [1e-4, 1e-2]): the ``conv1`` kernel is shifted by ``log10(lr) + 3``;
- ``label``: a random class with no footprint.

The DMCs use 64-weight windows and a few hundred steps, enough for these footprints.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from weightspace import Library, WeightSet
from weightspace.probe.common import ProbeError, Selection
from weightspace.probe.dmc import DMCConfig, dmc_probe, fit_dmc
from weightspace.probe.dmc_data import load_windows, region_spans
from weightspace.probe.dmc_models import dmc_architecture
from weightspace.reproduce.papers import NWS_DMC, with_paper

from .conftest import DMC_SHAPES as SHAPES

# tiny networks: one torch thread (tests/probe/conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")

N_PER_CLASS = 40
FAST = {"window": 64, "steps": 150}
CONFIG = DMCConfig(**FAST)
# The random 2-class label over 80 models pooled from 5 folds: each test prediction is right with
# probability 1/2 under the null, sd sqrt(0.25 / 80) = 0.056; 0.17 is 3 sd.
NULL_TOLERANCE = 0.17


def build_library(path: Path, *, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lib = Library.create(path)
    n = 2 * N_PER_CLASS
    inits = np.repeat(["a", "b"], N_PER_CLASS)
    labels = rng.permutation(np.repeat(["x", "y"], N_PER_CLASS))
    lrs = 10 ** rng.uniform(-4, -2, n)
    items = []
    for i in range(n):
        snaps = []
        for s in range(4):
            arrays = {k: rng.normal(size=v).astype(np.float32) for k, v in SHAPES.items()}
            if inits[i] == "b" and s >= 2:  # the footprint appears at the third snapshot
                arrays["fc1.weight"] *= 3.0
            arrays["conv1.weight"] += np.float32(np.log10(lrs[i]) + 3)
            snaps.append(WeightSet.from_arrays(arrays))
        hparams = {"dataset": "digits", "init": str(inits[i]), "label": str(labels[i])}
        items.append(
            {
                "weights": snaps,
                "hparams": hparams | {"lr": float(lrs[i])},
                "metrics": {"test_acc": 0.9},
            }
        )
    lib.add_many(items)
    lib.close()
    return path


@pytest.fixture(scope="module")
def planted_dmc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_library(tmp_path_factory.mktemp("dmc") / "lib")


@pytest.fixture(scope="module")
def local_result(planted_dmc):
    return dmc_probe(Library(planted_dmc), ["init", "label"], CONFIG, rounds=5)


def test_local_dmc_finds_the_planted_footprint(local_result):
    frame = local_result.to_frame().set_index("target")
    assert frame.loc["init", "accuracy_mean"] >= 0.95
    assert frame.loc["init", "chance"] == pytest.approx(0.5)
    # a single window sees the footprint only inside fc1: far less often right than the ensemble
    assert 0.55 < frame.loc["init", "window_accuracy_mean"] < frame.loc["init", "accuracy_mean"]


def test_random_label_is_at_chance(local_result):
    table = local_result.scores[1].table
    assert abs(table["accuracy"].mean() - 0.5) < NULL_TOLERANCE
    assert table["n_test"].sum() == 2 * N_PER_CLASS


def test_snapshots_of_one_model_stay_on_one_side(local_result):
    predictions = local_result.scores[0].predictions
    assert predictions.groupby("model")["round"].nunique().max() == 1
    assert predictions["model"].nunique() == 2 * N_PER_CLASS


def test_lr_regression_finds_the_planted_dependence(planted_dmc):
    result = dmc_probe(Library(planted_dmc), "lr", CONFIG, region="conv")
    row = result.to_frame().iloc[0]
    assert row.task == "regression"
    assert row.r2_mean > 0.7
    assert row.pearson_mean > 0.9
    assert set(result.figures()) == {"accuracy", "training", "regression-lr"}


def test_global_dmc_on_one_architecture(planted_dmc):
    result = dmc_probe(
        Library(planted_dmc), "init", DMCConfig(kind="global", **FAST), train_snapshots=(-1, -2)
    )
    row = result.to_frame().iloc[0]
    assert row.accuracy_mean >= 0.9
    assert np.isnan(row.window_accuracy_mean)
    assert row.window == 1290


def test_global_dmc_refuses_mixed_architectures(tmp_path):
    rng = np.random.default_rng(0)
    mixed = Library.create(tmp_path / "mixed")
    for i, shapes in enumerate([SHAPES] * 5 + [{**SHAPES, "fc2.weight": (12, 16)}] * 5):
        arrays = {k: rng.normal(size=v).astype(np.float32) for k, v in shapes.items()}
        mixed.add(WeightSet.from_arrays(arrays), hparams={"init": "ab"[i % 2]})
    with pytest.raises(ProbeError, match="mixes 2"):
        dmc_probe(mixed, "init", DMCConfig(kind="global", **FAST), selection=Selection(failed=None))


def test_training_is_deterministic(planted_dmc):
    lib = Library(planted_dmc)
    data = load_windows(lib, lib.query())
    rows, y = np.arange(20), np.arange(20) % 2
    config = DMCConfig(window=64, steps=20, batch_size=8)
    runs = [
        fit_dmc(data, rows, y, (-1,), config, task="classification", n_outputs=2, random_state=3)
        for _ in range(2)
    ]
    x = np.asarray(data.gather(rows, np.full(20, 3), np.zeros(20, dtype=np.int64), 64))
    np.testing.assert_array_equal(runs[0].history, runs[1].history)
    np.testing.assert_array_equal(runs[0].outputs(x), runs[1].outputs(x))


def test_regions_follow_the_kernel_dimensions(planted_dmc):
    lib = Library(planted_dmc)
    layers = lib.layer_table(lib.ids()[0])
    assert region_spans(layers, "all") == [(0, 1290)]
    assert region_spans(layers, "conv") == [(0, 592)]
    assert region_spans(layers, "fc") == [(592, 1290)]


def test_architecture_reproduces_table_3():
    local = dmc_architecture("local", 5000, 4, width=1.0, depth="full", in_channels=1)
    assert local.channels == (8, 16, 32, 64, 128, 256, 256, 256, 256, 256, 256, 256)
    assert [i + 1 for i, p in enumerate(local.pools) if p] == [1, 2, 4, 6, 7, 8, 9, 12]
    assert local.fc == (1024, 1024, 1024, 1024, 64)
    assert local.n_weights == pytest.approx(10_407_685, rel=0.01)
    small = dmc_architecture("local", 100, 4, width=1.0, depth="full")
    assert [i + 1 for i, p in enumerate(small.pools) if p] == [1, 2, 4, 12]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 5000}, "fewer than 5000 weights"),
        ({"kind": "local", "net": "mlp"}, "net='mlp' is for the global DMC"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"width": -1.0}, "width must be"),
    ],
)
def test_bad_parameters(planted_dmc, kwargs, message):
    with pytest.raises(ProbeError, match=message):
        dmc_probe(Library(planted_dmc), "init", DMCConfig(**(FAST | kwargs)))


def test_unknown_target(planted_dmc):
    with pytest.raises(ProbeError, match="unknown target 'nope'"):
        dmc_probe(Library(planted_dmc), "nope", CONFIG)


def test_result_contract(local_result):
    assert isinstance(local_result.to_frame(), pd.DataFrame)
    assert isinstance(local_result.plot(), Figure)
    text = local_result.summary()
    assert "local DMC (W=64" in text
    assert "paper" not in text  # a probe knows no paper
    assert "paper_accuracy" not in local_result.to_frame()
    text = with_paper(local_result).summary()
    assert f"n/a (values lost); {NWS_DMC['init']}" in text


def test_cli_json_and_report(planted_dmc, tmp_path, cli):
    code, out, _ = cli(
        "probe", "dmc", planted_dmc, "--target", "init", "--window", "64",
        "--steps", "100", "--out", tmp_path, "--json", "--quiet",
    )  # fmt: skip
    assert code == 0
    records = json.loads(out)
    assert records[0]["target"] == "init"
    assert records[0]["paper_accuracy"] is None
    assert (tmp_path / "dmc-local-all.md").is_file()
    assert (tmp_path / "dmc-local-all-accuracy.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--target", "nope", "--window", "64"], 1, "unknown target 'nope'"),
        (["--target", "init", "--kind", "nope"], 2, "invalid choice"),
        (["--target", "init"], 1, "fewer than 5000 weights"),
        (["--target", "init", "--window", "64", "--test-snapshots=x"], 1, "expected integers"),
        ([], 2, "--target"),
    ],
)
def test_cli_exit_codes(planted_dmc, cli, argv, code, message):
    got, _, err = cli("probe", "dmc", planted_dmc, *argv, "--quiet")
    assert got == code
    assert message in err
