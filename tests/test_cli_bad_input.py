"""The command line on bad input and bad state: one line on stderr and exit code 1, never a
traceback, a progress bar in a log, or staged files left behind by SIGTERM."""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import weightspace
from weightspace import Library
from weightspace.io.limits import DEFAULT_MAX_WEIGHTS

_SRC = str(Path(weightspace.__file__).resolve().parents[1])


def run_python(code: str, *args: object) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this weightspace, with real stderr."""
    env = {**os.environ, "PYTHONPATH": _SRC, "PYTHONWARNINGS": "default"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def one_line(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 1, (code, out, err)
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    lib = Library.create(tmp_path / "lib")
    for i in range(30):
        lib.add(torch.nn.Linear(4, 2), hparams={"lr": 0.01 * i}, metadata={"opt": "adam"})
    lib.close()
    return lib.path


def test_where_that_fails_after_the_first_row_is_one_line(filled, cli):
    err = one_line(
        cli(
            "library",
            "list",
            filled,
            "--where",
            "CASE WHEN id > 1 THEN abs(-9223372036854775807 - 1) ELSE 0 END = 0",
        )
    )
    assert "SQL error: integer overflow" in err


def test_corrupt_database_is_one_line(filled, cli):
    db = filled / "weightspace.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    rng = np.random.default_rng(0)
    for page in range(4096, len(data), 4096):  # every page but the first (the schema's)
        data[page + 100 : page + 400] = rng.bytes(300)
    db.write_bytes(bytes(data))
    for command in ("info", "list"):
        err = one_line(cli("library", command, filled))
        assert "corrupt library database (database disk image is malformed)" in err


def test_export_into_a_missing_folder_is_one_line(filled, tmp_path, cli):
    out = tmp_path / "no" / "such" / "model.safetensors"
    err = one_line(cli("library", "export", filled, "1", out))
    assert f"the folder {out.parent} does not exist" in err
    assert not out.parent.exists()


def test_a_file_name_with_a_line_break_stays_on_one_line(tmp_path, filled, cli):
    path = tmp_path / "two\nlines.pt"
    path.write_text("not a checkpoint")
    err = one_line(cli("library", "add", filled, path))
    assert "two lines.pt: not a PyTorch checkpoint" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_one_line(tmp_path, filled, cli):
    path = tmp_path / "locked.pt"
    torch.save({"w": torch.ones(2)}, path)
    path.chmod(0)
    assert "Permission denied" in one_line(cli("library", "add", filled, path))


def test_max_weights_default_is_documented(cli):
    for command in (("library", "add"), ("describe",)):
        code, out, _ = cli(*command, "--help")
        assert code == 0
        assert f"default {DEFAULT_MAX_WEIGHTS:,}" in " ".join(out.split())


def test_max_weights_option(tmp_path, filled, cli, cnn):
    path = tmp_path / "cnn.pt"
    torch.save(cnn.state_dict(), path)
    n = sum(p.numel() for p in cnn.state_dict().values())
    err = one_line(cli("library", "add", filled, path, "--max-weights", n - 1))
    assert f"tensors declare {n:,} weights, over the limit of {n - 1:,}" in err
    err = one_line(
        cli("describe", path, "--repr", "stats", "-o", tmp_path / "x.npy", "--max-weights", 10)
    )
    assert "over the limit of 10" in err
    assert cli("library", "add", filled, path, "--max-weights", n)[0] == 0
    assert cli("library", "add", filled, path, "--max-weights", "none")[0] == 0
    for bad in ("0", "-5", "lots"):
        code, _, err = cli("library", "add", filled, path, "--max-weights", bad)
        assert code == 2
        assert "--max-weights" in err
    assert len(Library(filled)) == 32


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path, cli, cnn):
    files = []
    for i in range(3):
        files.append(tmp_path / f"m{i}.pt")
        torch.save(cnn.state_dict(), files[-1])
    cli("library", "create", tmp_path / "lib")
    code, out, err = cli("library", "add", tmp_path / "lib", *files)
    assert code == 0
    assert "added 3 model(s)" in out
    assert err == ""


def test_warnings_are_not_printed_before_the_error_line(tmp_path):
    """torch warns about a pickle protocol it does not expect before it refuses the pickle."""

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, ("touch PWNED",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"x": Payload()}, protocol=4))
    Library.create(tmp_path / "lib").close()
    result = run_python(
        """
        import sys
        from weightspace.cli.main import main
        sys.exit(main(["library", "add", sys.argv[1], sys.argv[2]]))
        """,
        tmp_path / "lib",
        evil,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"weightspace: error: {evil}: the pickle needs code to load (it references posix.system);"
        " weightspace never runs pickled code. Re-save only the tensors: "
        "torch.save(model.state_dict(), path), or convert it to safetensors"
    ]
    assert not (tmp_path / "PWNED").exists()


def test_sigterm_removes_staged_weight_files_like_ctrl_c(tmp_path):
    lib = Library.create(tmp_path / "lib")
    lib.add(torch.nn.Linear(2, 2), name="kept")
    lib.close()
    result = run_python(
        """
        import os, signal, sys
        import torch
        from weightspace import Library

        lib = Library(sys.argv[1])

        def items():
            for i in range(3):
                if i == 2:  # two models are staged (their weight files written), none committed
                    staged = len(list((lib.path / "weights").iterdir())) - 1
                    print("staged", staged, flush=True)
                    os.kill(os.getpid(), signal.SIGTERM)
                yield {"weights": torch.nn.Linear(3, 2)}

        lib.add_many(items())
        """,
        lib.path,
    )
    assert result.stdout.split() == ["staged", "2"]
    assert result.returncode == 128 + signal.SIGTERM
    assert len(list((lib.path / "weights").iterdir())) == 1
    assert Library(lib.path).query()["name"].tolist() == ["kept"]


@pytest.mark.parametrize(
    "command",
    [
        ["describe", "{lib}", "-o", "{out}"],
        ["probe", "svm", "{lib}", "--target", "opt", "--no-filter"],
        ["probe", "linear", "{lib}", "--target", "lr", "--no-filter"],
    ],
)
def test_a_bad_value_range_param_is_one_line(filled, tmp_path, cli, command):
    argv = [a.format(lib=filled, out=tmp_path / "x.npy") for a in command]
    err = one_line(cli(*argv, "--param", "value_range=-1,x"))
    assert "--param value_range='-1,x': expected two numbers, e.g. -5,5" in err


def test_a_value_range_param_is_a_pair_of_numbers():
    from weightspace.cli.options import representation_params

    assert representation_params(["S=8", "value_range=-1,1.5"]) == {
        "S": 8,
        "value_range": (-1.0, 1.5),
    }
