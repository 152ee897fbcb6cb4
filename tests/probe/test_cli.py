"""``weightspace probe svm|regression`` and ``weightspace reproduce untangling``: exit codes,
JSON records, report files.

Run through ``weightspace.cli.main.main`` (the ``cli`` fixture of ``tests/conftest.py``).
"""

from __future__ import annotations

import json

import pytest


def test_svm_json_records_and_report(planted, tmp_path, cli):
    out_dir = tmp_path / "svm"
    code, out, _ = cli(
        "probe", "svm", planted, "--repr", "stats", "--target", "init,label",
        "--folds", "4", "--repeats", "1", "--out", out_dir, "--json", "--quiet",
    )  # fmt: skip
    assert code == 0
    records = json.loads(out)
    assert [r["target"] for r in records] == ["init", "label"]
    assert {"accuracy_mean", "accuracy_std", "chance", "paper_accuracy"} <= set(records[0])
    assert records[0]["paper_accuracy"] is None
    assert (out_dir / "svm-stats-linear.md").is_file()
    assert (out_dir / "svm-stats-linear.csv").is_file()
    assert (out_dir / "svm-stats-linear-accuracy.png").stat().st_size > 1000
    assert (out_dir / "svm-stats-linear-importance-init.png").is_file()
    text = (out_dir / "svm-stats-linear.md").read_text()
    assert "![accuracy](svm-stats-linear-accuracy.png)" in text


def test_svm_default_report_dir_and_summary(planted, cli):
    code, out, _ = cli(
        "probe", "svm", planted, "--target", "init", "--kernel", "rbf", "--repeats", "1",
        "--quiet",
    )  # fmt: skip
    assert code == 0
    assert "rbf SVM" in out
    assert (planted / "reports" / "svm" / "svm-layer-stats-rbf.md").is_file()


def test_regression_cli(planted, tmp_path, cli):
    code, out, _ = cli("probe", "regression", planted, "--out", tmp_path, "--json")
    assert code == 0
    records = json.loads(out)
    assert {r["hparam"] for r in records} == {"const", "init", "label", "learning_rate"}
    for name in ("regression.md", "regression.csv", "regression-coefficients.png"):
        assert (tmp_path / name).is_file()


def test_untangling_cli(planted, tmp_path, cli):
    code, out, _ = cli(
        "reproduce", "untangling", planted, "--targets", "init,label", "--dims", "4,16",
        "--resample-to", "256", "--out", tmp_path, "--json", "--quiet",
    )  # fmt: skip
    assert code == 0
    records = json.loads(out)
    assert len(records) == 2 * (1 + 4 * 2)
    assert (tmp_path / "untangling-fig3.png").is_file()
    assert (tmp_path / "untangling.md").is_file()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["probe", "svm", "{lib}", "--target", "nope"], 1, "unknown target 'nope'"),
        (["probe", "svm", "{lib}", "--target", "init", "--threshold", "digits"], 1, "DATASET=ACC"),
        (["probe", "svm", "{lib}", "--target", "init", "--kernel", "poly"], 2, "invalid choice"),
        (["probe", "svm", "{lib}"], 2, "--target"),
        (["probe", "regression", "{tmp}/none"], 1, "no library here"),
        (["reproduce", "untangling", "{lib}", "--dims", "10"], 1, "perfect squares"),
    ],
)
def test_exit_codes(planted, tmp_path, cli, argv, code, message):
    filled = [a.format(lib=planted, tmp=tmp_path) for a in argv]
    got, _, err = cli(*filled)
    assert got == code
    assert message in err
