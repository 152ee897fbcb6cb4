"""``reproduce htt`` on the planted task zoo (``tests/probe/conftest.py``): normalized vs
unnormalized beside the paper, the control on the initializations, the CLI."""

from __future__ import annotations

import json

import pytest

from weightspace import Library
from weightspace.reproduce.htt import htt_experiment


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """The classifier's many small matrix products: multi-threaded BLAS only adds waits on a
    busy machine (the library leaves thread counts alone; the tests may choose theirs)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def test_initializations_are_at_chance_in_the_control(task_zoo):
    result = htt_experiment([Library(task_zoo)], features=("chain", "layer"), n_repeats=1)
    assert result.control is not None
    control = result.control.table
    cls = control[control.protocol == "classification"]
    assert (cls.accuracy <= 0.45).all()
    frame = result.to_frame()
    assert {"normalized", "unnormalized", "paper_normalized", "accept_normalized"} <= set(frame)
    chain1 = frame[(frame.protocol == "classification") & (frame.chain == 1)].iloc[0]
    assert chain1.normalized >= 0.95
    assert chain1.unnormalized <= 0.45
    text = result.summary()
    assert "paper: tiny ImageNet" in text
    assert "control, the initializations" in text


# ------------------------------------------------------------------------------ CLI


def test_cli_prints_json_records_and_writes_the_report(task_zoo, tmp_path, cli):
    out_dir = tmp_path / "htt"
    code, out, _ = cli(
        "reproduce", "htt", task_zoo, "--features", "chain,layer", "--chains", "1",
        "--repeats", "1", "--out", out_dir, "--json",
    )  # fmt: skip
    assert code == 0
    records = json.loads(out)
    assert {(r["protocol"], r["chain"]) for r in records} == {
        ("classification", 1),
        ("retrieval", 1),
    }
    assert (out_dir / "htt.md").is_file()
    assert (out_dir / "htt-accuracy.png").stat().st_size > 1000
    assert (out_dir / "htt-cmc.png").is_file()
    assert "normalized" in (out_dir / "htt.md").read_text()


def test_cli_exit_codes(task_zoo, cli):
    code, _, err = cli("reproduce", "htt", task_zoo, "--task-column", "nope")
    assert code == 1
    assert "no 'nope' column" in err
    code, _, err = cli("reproduce", "htt", task_zoo, "--chains", "x")
    assert code == 1
    assert "--chains 'x'" in err
    code, _, _ = cli("reproduce", "htt")
    assert code == 2
