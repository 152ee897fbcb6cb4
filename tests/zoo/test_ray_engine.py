"""The Ray engine on a real local Ray runtime: the same zoo as the local engine, a worker killed
mid-task, a driver killed and rerun; the errors of a missing Ray and of a too-small cluster."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from weightspace import Library, WeightspaceError
from weightspace.zoo.generate import generate_zoo, plan_models
from weightspace.zoo.presets import ZooPlan

from .test_generate import count_models, tiny_plan

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

GROUP = 2  # two groups of two models: the batched trainer runs in both engines


def plan() -> ZooPlan:
    return tiny_plan(4, train_samples=100, n_snapshots=3)


@pytest.fixture(scope="module")
def local_zoo(tmp_path_factory: pytest.TempPathFactory) -> Library:
    """The plan trained by the local engine (one spawned worker, one thread), once per module."""
    out = tmp_path_factory.mktemp("local") / "zoo"
    generate_zoo(plan(), out, workers=1, group_size=GROUP, progress=False)
    return Library(out)


def assert_same_zoo(lib: Library, expected: Library) -> None:
    """Same keys, hyper-parameters, metrics (but the timing) and weights, bit for bit."""
    a = lib.query().set_index("zoo_key").sort_index()
    b = expected.query().set_index("zoo_key").sort_index()
    assert list(a.index) == sorted(s.key for s in plan_models(plan()))
    columns = [c for c in b.columns if c not in ("id", "file", "created", "train_seconds")]
    assert a[columns].to_dict("index") == b[columns].to_dict("index")
    for key in a.index:
        np.testing.assert_array_equal(
            lib.snapshot_matrix(int(a.loc[key, "id"])),
            expected.snapshot_matrix(int(b.loc[key, "id"])),
        )


def descendants(pid: int) -> list[int]:
    """Processes below ``pid`` (this test's Ray runtime was started by this process)."""
    found, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            try:
                kids = [int(c) for c in task.read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def ray_task_pids(name: str) -> list[int]:
    """Worker processes of this test's Ray runtime executing a task called ``name``: Ray titles a
    worker ``ray::<task name>`` while it runs the task (``ray::IDLE`` between tasks)."""
    pids = []
    for pid in descendants(os.getpid()):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if title.strip() == f"ray::{name}":
            pids.append(pid)
    return pids


def test_the_ray_engine_trains_the_zoo_of_the_local_engine(ray_cluster, local_zoo, tmp_path):
    from weightspace.zoo.ray_engine import RayEngine

    report = generate_zoo(
        plan(), tmp_path / "zoo", group_size=GROUP, progress=False, engine=RayEngine()
    )
    assert (report.planned, report.trained) == (4, 4)
    assert_same_zoo(Library(tmp_path / "zoo"), local_zoo)


@contextmanager
def killing_one_worker() -> Iterator[list[int]]:
    """Kill (SIGKILL) the first worker process seen training a group, in a background thread."""
    from weightspace.zoo.ray_engine import TASK_NAME

    killed: list[int] = []
    stop = threading.Event()

    def kill_one_worker() -> None:
        while not stop.is_set() and not killed:
            for pid in ray_task_pids(TASK_NAME):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    try:
        yield killed
    finally:
        stop.set()
        killer.join()


def test_a_worker_killed_mid_task_is_retried_without_loss_or_duplicate(
    ray_cluster, local_zoo, tmp_path
):
    from weightspace.zoo.ray_engine import RayEngine

    with killing_one_worker() as killed:
        report = generate_zoo(
            plan(), tmp_path / "zoo", group_size=GROUP, progress=False, engine=RayEngine()
        )
    assert killed  # a worker died while training a group, and Ray ran the group again
    assert report.trained == 4
    assert_same_zoo(Library(tmp_path / "zoo"), local_zoo)


def test_without_retries_a_killed_worker_stops_the_run_and_keeps_what_was_committed(
    ray_cluster, tmp_path
):
    from weightspace.zoo.ray_engine import RayEngine

    with (
        killing_one_worker() as killed,
        pytest.raises(WeightspaceError, match=r"failed after 0 retries .*rerun the same command"),
    ):
        generate_zoo(
            plan(), tmp_path / "zoo", group_size=1, progress=False, engine=RayEngine(max_retries=0)
        )
    assert killed
    assert len(Library(tmp_path / "zoo")) <= 3  # the killed model is not there, nor half of one


@pytest.mark.slow  # a second driver process and its own Ray workers: ~30 s on a 2-core machine
def test_a_killed_driver_keeps_its_models_and_a_rerun_finishes_the_rest(ray_cluster, tmp_path, cli):
    from weightspace.zoo.ray_engine import TASK_NAME

    out = tmp_path / "zoo"
    argv = [
        "zoo", "generate", "--space", "nws", "--n", "4", "--datasets", "digits", "--out", str(out),
        "--max-epochs", "2", "--train-samples", "100", "--input-size", "8", "--group-size", "1",
        "--snapshots", "3", "--engine", "ray", "--quiet",
    ]  # fmt: skip
    env = os.environ | {"RAY_ADDRESS": ray_cluster.get_runtime_context().gcs_address}
    driver = subprocess.Popen(
        [sys.executable, "-m", "weightspace.cli.main", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while count_models(out) < 1 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    first = count_models(out)
    assert 1 <= first <= 4
    deadline = time.monotonic() + 60  # Ray stops the dead driver's tasks
    while ray_task_pids(TASK_NAME) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not ray_task_pids(TASK_NAME)

    code, stdout, stderr = cli(*argv)  # joins this process's runtime
    assert code == 0, stderr
    assert f"{first} already in" in stdout
    frame = Library(out).query()
    assert sorted(frame["zoo_key"]) == sorted(s.key for s in plan_models(_cli_plan(out)))
    assert frame["zoo_key"].is_unique


def _cli_plan(out: Path) -> ZooPlan:
    from weightspace.cli.main import build_parser
    from weightspace.cli.zoo_cmd import _plan

    args = build_parser().parse_args(
        ["zoo", "generate", "--space", "nws", "--n", "4", "--datasets", "digits", "--out",
         str(out), "--max-epochs", "2", "--train-samples", "100", "--input-size", "8",
         "--snapshots", "3"]
    )  # fmt: skip
    return _plan(args)


def test_a_cluster_too_small_for_a_task_is_an_error(ray_cluster, tmp_path):
    from weightspace.zoo.ray_engine import RayEngine

    with pytest.raises(WeightspaceError, match="has 2 CPUs and a training task needs"):
        generate_zoo(plan(), tmp_path / "zoo", progress=False, engine=RayEngine(cpus_per_model=8))
    with pytest.raises(WeightspaceError, match="has 0 GPUs"):
        generate_zoo(plan(), tmp_path / "zoo", progress=False, engine=RayEngine(gpus_per_model=1))
    assert len(Library(tmp_path / "zoo")) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cpus_per_model", 0, "cpus_per_model must be > 0"),
        ("gpus_per_model", -1, "gpus_per_model must be >= 0"),
        ("max_retries", -1, "max_retries must be >= 0"),
        ("max_in_flight", 0, "max_in_flight must be >= 1"),
    ],
)
def test_engine_parameters_are_checked(field, value, message):
    from weightspace.zoo.ray_engine import RayEngine

    with pytest.raises(WeightspaceError, match=message):
        RayEngine(**{field: value})


def test_without_ray_the_command_says_how_to_install_it(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code, _, err = cli(
        "zoo", "generate", "--space", "nws", "--n", "2", "--datasets", "digits",
        "--out", tmp_path / "zoo", "--engine", "ray",
    )  # fmt: skip
    assert code == 1
    assert "pip install 'weightspace[ray]'" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "zoo").exists()


def test_address_without_the_ray_engine_is_an_error(cli, tmp_path):
    code, _, err = cli(
        "zoo", "generate", "--space", "nws", "--n", "2", "--datasets", "digits",
        "--out", tmp_path / "zoo", "--address", "127.0.0.1:6379",
    )  # fmt: skip
    assert code == 1
    assert "add --engine ray" in err


def test_an_address_nothing_listens_on_fails_at_once(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'weightspace[ray]'")
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run(
        [sys.executable, "-m", "weightspace.cli.main", "zoo", "generate", "--space", "nws",
         "--n", "2", "--datasets", "digits", "--out", str(tmp_path / "zoo"), "--engine", "ray",
         "--address", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in result.stderr
    assert not (tmp_path / "zoo").exists()
