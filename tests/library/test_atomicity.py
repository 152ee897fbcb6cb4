"""Crashes, concurrent readers and a second writer, with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from weightspace import Library, LibraryLockedError
from weightspace.library.lock import write_lock

# A writer that adds models forever; model k has 4 snapshots whose values are all float(k + s).
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from weightspace import Library
    lib = Library(sys.argv[1])
    k = len(lib)
    while True:
        snaps = [{"fc.weight": np.full((200, 500), k + s, np.float32)} for s in range(4)]
        lib.add(snaps, name=f"m{k}", hparams={"k": k})
        print(k, flush=True)
        k += 1
    """
)


def start_writer(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def check_consistent(lib: Library) -> None:
    frame = lib.query()
    assert list(frame["name"]) == [f"m{k}" for k in frame["k"]]
    assert sorted(frame["k"]) == list(range(len(frame)))  # none lost, none duplicated
    files = {p.name for p in (lib.path / "weights").iterdir()}
    assert {Path(f).name for f in frame["file"]} <= files
    for model_id, k in zip(frame["id"], frame["k"], strict=True):
        m = lib.snapshot_matrix(model_id)
        assert m.shape == (4, 100_000)
        assert (m == (k + np.arange(4, dtype=np.float32))[:, None]).all()


def test_kill_writer_at_random_moments(tmp_path):
    lib = Library.create(tmp_path / "lib")
    rng = np.random.default_rng(0)
    for _ in range(4):
        proc = start_writer(lib.path)
        assert proc.stdout is not None
        proc.stdout.readline()  # it has written at least one model
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        stop(proc)
        check_consistent(Library(lib.path))
    # the next writer removes what the killed ones left half-way
    before = len(lib)
    lib.add(
        {"fc.weight": np.full((200, 500), before, np.float32)},
        name=f"m{before}",
        hparams={"k": before},
    )
    files = sorted(p.name for p in (lib.path / "weights").iterdir())
    assert len(files) == len(lib) == before + 1


def test_failed_commit_leaves_library_unchanged(lib, cnn, monkeypatch):
    lib.add(cnn)
    files_before = sorted((lib.path / "weights").iterdir())

    def boom(self, staged):
        raise OSError("disk full")

    monkeypatch.setattr(Library, "_commit", boom)
    with pytest.raises(OSError, match="disk full"):
        lib.add(cnn)
    assert sorted((lib.path / "weights").iterdir()) == files_before
    assert len(lib) == 1


def test_batch_add_is_all_or_nothing(lib, cnn, tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, w=np.ones((2, 2), np.float32))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match=r"bad\.npz"):
        lib.add_many([{"weights": good}, {"weights": good}, {"weights": bad}])
    assert len(lib) == 0
    assert not any((lib.path / "weights").iterdir())


def test_readers_work_while_a_writer_appends(tmp_path):
    lib = Library.create(tmp_path / "lib")
    proc = start_writer(lib.path)
    assert proc.stdout is not None
    proc.stdout.readline()  # the writer is running
    errors: list[BaseException] = []
    seen: list[int] = []

    def read_loop() -> None:
        reader = Library(lib.path)
        deadline = time.monotonic() + 30.0
        try:
            while time.monotonic() < deadline and (not seen or seen[-1] < seen[0] + 3):
                ids = reader.ids()
                if ids:
                    assert reader.snapshot_matrix(ids[-1]).shape == (4, 100_000)
                    reader.query()
                seen.append(len(ids))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=read_loop)
    thread.start()
    thread.join()
    stop(proc)
    assert not errors
    assert seen
    assert seen[-1] > seen[0]


def test_second_writer_waits_then_gets_a_clear_error(lib, cnn):
    other = Library(lib.path, timeout=0.2)
    with (
        write_lock(lib.path, timeout=1.0),
        pytest.raises(LibraryLockedError, match="another process is writing"),
    ):
        other.add(cnn)
    assert other.add(cnn) == 1  # the lock is free again


def test_second_writer_process_waits_for_the_first(tmp_path):
    lib = Library.create(tmp_path / "lib")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from weightspace.library.lock import write_lock\n"
            "with write_lock(Path(sys.argv[1]), 5):\n    print('locked', flush=True); time.sleep(0.5)",
            str(lib.path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    start = time.monotonic()
    Library(lib.path, timeout=10).add({"w": np.ones(3, np.float32)})
    waited = time.monotonic() - start
    stop(holder)
    assert waited > 0.1  # it waited for the holder instead of failing
    assert len(lib) == 1


def test_database_file_appears_atomically(tmp_path):
    Library.create(tmp_path / "lib")
    leftovers = [p for p in os.listdir(tmp_path / "lib") if p.endswith(".tmp")]
    assert leftovers == []
