"""Permutation invariance (MI-WD supplement, Table 1): ratios beside the paper's, the report set."""

import json

import pandas as pd
import pytest

from weightspace import Library
from weightspace.cli.main import main
from weightspace.probe.common import Selection
from weightspace.probe.report import ProbeResult
from weightspace.reproduce.invariance import invariance_experiment
from weightspace.reproduce.papers import MIWD_INVARIANCE

from ..conftest import make_cnn

KEEP_ALL = Selection(failed=None)


@pytest.fixture
def small_lib(tmp_path) -> Library:
    lib = Library.create(tmp_path / "lib")
    for seed in range(6):
        lib.add(
            [make_cnn(seed), make_cnn(seed + 100)],
            hparams={"seed": seed, "optimizer": "adam" if seed % 2 else "sgd"},
            snapshots=[{"epoch": 0, "progress": 0.0}, {"epoch": 1, "progress": 1.0}],
        )
    return lib


def test_invariance_result_is_a_probe_result_with_the_papers_ratios(small_lib, tmp_path):
    result = invariance_experiment(small_lib, n_permutations=2, dims=(16,), selection=KEEP_ALL)
    assert isinstance(result, ProbeResult)
    frame = result.to_frame().set_index("representation")
    assert frame.loc["mi-wd", "paper_ratio"] == MIWD_INVARIANCE[("mi-wd", 16)] == 0.125
    report = result.write_report(tmp_path / "out")
    assert [p.name for p in report.figures] == ["invariance-ratios.png"]
    assert pd.read_csv(report.table).columns.tolist() == [
        "representation",
        "K",
        "ratio",
        "paper_ratio",
    ]


def test_reproduce_invariance_json_and_csv(small_lib, tmp_path, capsys):
    result = invariance_experiment(small_lib, n_permutations=3, dims=(16,), selection=KEEP_ALL)
    frame = result.to_frame()
    assert set(frame["representation"]) == {
        "global stats",
        "raw",
        "pca",
        "random projection",
        "mi-wd",
    }
    ratios = dict(zip(frame["representation"], frame["ratio"], strict=True))
    assert ratios["global stats"] < ratios["raw"]
    assert ratios["mi-wd"] < ratios["raw"]
    assert "(0.024)" in result.summary()
    # the CLI: JSON records on stdout, CSV on disk
    csv = tmp_path / "inv.csv"
    code = main(
        [
            "reproduce",
            "invariance",
            str(small_lib.path),
            "--permutations",
            "2",
            "--no-filter",
            "--json",
            "--csv",
            str(csv),
        ]
    )
    assert code == 0
    records = json.loads(capsys.readouterr().out)
    assert {"representation", "K", "ratio", "paper_ratio"} <= set(records[0])
    assert len(pd.read_csv(csv)) == len(records)
    # the same report set as every reproduction, through the shared writer
    assert "Permutation invariance" in (tmp_path / "inv.md").read_text()
    assert (tmp_path / "inv-ratios.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_invariance_leaves_failed_trainings_out(small_lib, tmp_path, capsys):
    from weightspace.probe import ProbeError

    # without an accuracy column the default filter cannot work: a clear error names the way out
    with pytest.raises(ProbeError, match="no-filter"):
        invariance_experiment(small_lib, n_permutations=2, dims=(16,))
    assert main(["reproduce", "invariance", str(small_lib.path), "--permutations", "2"]) == 1
    assert "--no-filter" in capsys.readouterr().err

    lib = Library.create(tmp_path / "scored")
    for seed, acc in enumerate([0.97, 0.95, 0.96, 0.10]):  # the last one failed (digits: >= 0.2)
        lib.add(make_cnn(seed), hparams={"dataset": "digits"}, metrics={"test_acc": acc})
    result = invariance_experiment(lib, n_permutations=2, dims=(16,))
    assert result.n_models == 3
    everything = invariance_experiment(lib, n_permutations=2, dims=(16,), selection=KEEP_ALL)
    assert everything.n_models == 4
