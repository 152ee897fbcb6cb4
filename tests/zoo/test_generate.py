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
from weightspace.zoo.space import list_spaces

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


def test_a_normalized_plan_records_its_normalization_and_keeps_other_keys(tmp_path):
    plain, normed = tiny_plan(2), tiny_plan(2, input_norm=(0.5, 0.25))
    assert {s.key for s in plan_models(plain)}.isdisjoint(s.key for s in plan_models(normed))
    generate_zoo(normed, tmp_path / "zoo", workers=0, progress=False)
    frame = Library(tmp_path / "zoo").query()
    assert frame["input_mean"].tolist() == [0.5, 0.5]
    assert frame["input_std"].tolist() == [0.25, 0.25]


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


@pytest.mark.parametrize("command", ["spaces", "datasets", "architectures", "presets"])
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


# Every registered space, and a user space whose hyper-parameters add or remove modules, trains a
# handful of sampled models with tiny budgets: grouping for the batched trainer follows the built
# models' stacking signatures, so no sampled plan can form a group the trainer refuses (issue #17).
_SPACE_DATA = {"tetris-mlp": ("tetris",), "htt-mlp": ("digits:0v1",), "htt-cnn": ("digits:2v3",)}

TOGGLING_SPACE = """
name = "toggling-mlp"
architecture = "mlp"
model_keys = ["dropout", "batch_norm", "hidden"]
[params]
seed = {kind = "int", low = 0, high = 1000}
learning_rate = 0.01
dropout = [0.0, 0.5]
batch_norm = [true, false]
hidden = {kind = "choice", values = [[8], [8, 8]]}
"""


def _tiny_sampled_plan(space: str, datasets: tuple[str, ...], n: int = 6) -> ZooPlan:
    return ZooPlan(
        space=space,
        n=n,
        datasets=datasets,
        seed=7,
        input_shape=(1, 28, 28) if space == "schurholt-cnn" else None,  # its convolutions need 16+
        min_epochs=1,
        max_epochs=1,
        train_samples=60,
        n_snapshots=2,
        space_overrides={"epochs": 1} if space in {"tetris-mlp", "schurholt-cnn"} else {},
    )


@pytest.mark.parametrize("space", list_spaces())
def test_every_registered_space_generates_sampled_models(tmp_path, space):
    plan = _tiny_sampled_plan(space, _SPACE_DATA.get(space, ("digits",)))
    report = generate_zoo(plan, tmp_path / "zoo", workers=0, group_size=8, progress=False)
    assert report.trained == plan.n
    assert len(Library(tmp_path / "zoo")) == plan.n


def test_a_user_space_that_adds_and_removes_layers_generates(tmp_path):
    path = tmp_path / "toggling.toml"
    path.write_text(TOGGLING_SPACE)
    plan = _tiny_sampled_plan(str(path), ("digits",), n=12)
    configs = [s.config for s in plan_models(plan)]
    assert {c["dropout"] for c in configs} == {0.0, 0.5}  # the toggles are both sampled
    assert {c["batch_norm"] for c in configs} == {True, False}
    report = generate_zoo(plan, tmp_path / "zoo", workers=0, group_size=12, progress=False)
    assert report.trained == 12
    frame = Library(tmp_path / "zoo").query()
    assert frame["zoo_key"].is_unique
    assert len({len(s) for s in frame["hidden"]}) == 2


def test_groups_hold_only_models_the_batched_trainer_can_stack():
    from weightspace.zoo.generate import _groups, _input_spec
    from weightspace.zoo.stacked import check_stackable

    plan = _tiny_sampled_plan("schurholt-cnn", ("digits",), n=16)
    space = plan.hyperspace()
    groups = _groups(plan, plan_models(plan), group_size=16)
    assert sum(len(g) for g in groups) == 16
    assert len(groups) >= 2  # dropout 0 and 0.5 build different module lists
    for group in groups:
        shape, classes = _input_spec(group[0].config["dataset"], plan)
        assert shape == (1, 28, 28)
        check_stackable([space.create_model(s.config, n_classes=classes) for s in group])


def test_demo_plan_keys_are_unchanged():
    """A released preset keeps its keys: a library generated by an earlier version resumes."""
    import hashlib

    keys = [s.key for s in plan_models(get_preset("demo"))]
    assert keys[:3] == ["97153dd7b844520e", "0100efff5454f843", "34e733af408088d2"]
    digest = hashlib.sha1("".join(keys).encode()).hexdigest()
    assert digest == "3626c89b3786aaaf3407d2ab900cce3e92a8bd1a"
