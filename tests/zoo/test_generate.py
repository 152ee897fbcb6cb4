"""Zoo generation end to end: plans, the library contents, resuming after a crash."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from weightspace import Library, WeightspaceError
from weightspace.cli.main import main
from weightspace.zoo.generate import generate_zoo, plan_models
from weightspace.zoo.presets import ZooPlan, get_preset

TINY = {
    "filter_size": 3,
    "conv_layers": 3,
    "fc_layers": 2,
    "conv_width": 4,
    "fc_width": 16,
    "batch_size": 32,
}


def tiny_plan(n: int = 4, **kw) -> ZooPlan:
    fields = {
        "space": "nws",
        "n": n,
        "datasets": ("digits",),
        "input_shape": (3, 8, 8),
        "space_overrides": TINY,
        "min_epochs": 2,
        "max_epochs": 2,
        "train_samples": 200,
        "n_snapshots": 20,
    }
    return ZooPlan(**(fields | kw))


def test_plans_are_deterministic_and_keys_unique():
    a = plan_models(tiny_plan(6))
    b = plan_models(tiny_plan(6))
    assert a == b
    assert len({s.key for s in a}) == 6
    c = plan_models(tiny_plan(6, seed=1))
    assert {s.key for s in a}.isdisjoint({s.key for s in c})


def test_demo_preset_covers_every_nws_choice():
    specs = plan_models(get_preset("demo"))
    assert len(specs) >= 150
    for key, values in {
        "optimizer": {"adam", "rmsprop", "sgd"},
        "activation": {"relu", "elu", "sigmoid", "tanh"},
        "init": {"constant", "normal", "glorot_uniform", "glorot_normal"},
    }.items():
        assert {s.config[key] for s in specs} == values
    assert len({s.config["dataset"] for s in specs}) >= 3


def test_cover_that_cannot_be_met_is_an_error():
    with pytest.raises(WeightspaceError, match="cannot cover"):
        plan_models(tiny_plan(2, cover=("optimizer", "activation")))


def test_generate_fills_the_library_with_metadata(tmp_path):
    report = generate_zoo(tiny_plan(3), tmp_path / "zoo", workers=0, progress=False)
    assert (report.planned, report.trained) == (3, 3)
    lib = Library(tmp_path / "zoo")
    frame = lib.query()
    assert len(frame) == 3
    for column in ("optimizer", "activation", "init", "learning_rate", "batch_size", "dataset"):
        assert lib.columns()[column] == "hparam"
    for column in ("test_acc", "epochs", "stop_reason", "train_seconds"):
        assert lib.columns()[column] == "metric"
    assert (frame["n_snapshots"] == 3).all()  # initialization + 2 epochs
    snaps = lib.snapshot_table(frame["id"].tolist())
    assert (
        snaps.groupby("model")["progress"].agg(["min", "max"]).values.tolist() == [[0.0, 1.0]] * 3
    )
    assert snaps["test_acc"].between(0, 1).all()
    assert (frame["train_seconds"] > 0).all()


def test_interrupted_generation_resumes_without_loss_or_duplicates(tmp_path):
    plan = tiny_plan(5)
    seen = []

    def stop_after_two(spec):
        seen.append(spec.key)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_zoo(
            plan, tmp_path / "zoo", workers=0, progress=False, group_size=1, on_model=stop_after_two
        )
    assert len(Library(tmp_path / "zoo")) == 2
    report = generate_zoo(plan, tmp_path / "zoo", workers=0, progress=False)
    assert (report.already_done, report.trained) == (2, 3)
    keys = Library(tmp_path / "zoo").query()["zoo_key"].tolist()
    assert sorted(keys) == sorted(s.key for s in plan_models(plan))


def count_models(path: Path) -> int:
    try:
        conn = sqlite3.connect(path / "weightspace.db")
        n = conn.execute("SELECT COUNT(*) FROM models").fetchone()[0]
        conn.close()
        return int(n)
    except sqlite3.Error:
        return 0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_a_real_run_and_rerunning_finishes_the_rest(tmp_path):
    out = tmp_path / "zoo"
    command = [
        sys.executable, "-m", "weightspace.cli.main", "zoo", "generate", "--space", "nws",
        "--n", "4", "--datasets", "digits", "--out", str(out), "--max-epochs", "2",
        "--train-samples", "100", "--input-size", "8", "--workers", "1", "--group-size", "1",
        "--quiet",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while count_models(out) < 1 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers  # the pool's worker (and the resource tracker)
    assert not any(alive(pid) for pid in workers)  # no orphan lingers
    first = count_models(out)
    assert 1 <= first <= 4
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{first} already in" in result.stdout
    lib = Library(out)
    frame = lib.query()
    assert len(frame) == 4
    assert frame["zoo_key"].is_unique
    for model_id in frame["id"]:
        assert lib.snapshot_matrix(model_id).shape[0] == 3


def test_cli_needs_a_preset_or_a_full_plan(capsys, tmp_path):
    assert main(["zoo", "generate", "--out", str(tmp_path / "z"), "--space", "nws"]) == 1
    assert "needs --preset NAME" in capsys.readouterr().err
    assert main(["zoo", "generate", "--out", str(tmp_path / "z"), "--preset", "nope"]) == 1
    assert "unknown preset" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["spaces", "architectures", "presets"])
def test_registry_listings(capsys, command):
    assert main(["zoo", command]) == 0
    assert capsys.readouterr().out.strip()


def test_a_space_with_an_epochs_budget_stores_the_trained_epochs_apart(tmp_path):
    plan = ZooPlan(
        space="tetris-mlp",
        n=1,
        datasets=("tetris",),
        input_shape=None,
        space_overrides={"epochs": 2},
        min_epochs=1,
        max_epochs=2,
        n_snapshots=3,
    )
    generate_zoo(plan, tmp_path / "zoo", workers=0, progress=False)
    lib = Library(tmp_path / "zoo")
    assert lib.columns()["epochs"] == "hparam"
    assert lib.columns()["epochs_trained"] == "metric"
    assert lib.query()["epochs_trained"].between(1, 2).all()
