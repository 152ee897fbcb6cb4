"""The command line: exit codes, output, and that bad input leaves the library unchanged."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import weightspace
from weightspace import load_weights
from weightspace.cli.library_cmd import parse_meta


@pytest.fixture
def files(tmp_path, cnn) -> list[Path]:
    from safetensors.torch import save_file

    pt = tmp_path / "a.pt"
    torch.save(cnn.state_dict(), pt)
    st = tmp_path / "b.safetensors"
    save_file(cnn.state_dict(), str(st))
    return [pt, st]


def test_console_script_help_and_version():
    exe = shutil.which("weightspace", path=str(Path(sys.executable).parent))
    assert exe is not None
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"weightspace {weightspace.__version__}"
    helped = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True)
    assert "library" in helped.stdout
    usage = subprocess.run([exe, "library", "frobnicate"], capture_output=True, text=True)
    assert usage.returncode == 2


def test_create_add_info_list_export(tmp_path, cli, files, cnn):
    lib = tmp_path / "lib"
    assert cli("library", "create", lib)[0] == 0
    code, out, _ = cli(
        "library",
        "add",
        lib,
        *files,
        "--meta",
        "dataset=digits",
        "--hparam",
        "lr=0.01",
        "--quiet",
    )
    assert code == 0
    assert "added 2 model(s)" in out

    code, out, _ = cli("library", "info", lib, "--json")
    info = json.loads(out)
    assert info["n_models"] == 2
    assert info["columns"] == {"dataset": "meta", "lr": "hparam"}
    code, out, _ = cli("library", "info", lib)
    assert "models        2" in out

    code, out, _ = cli("library", "list", lib, "--where", "name = 'a.pt'", "--json")
    rows = json.loads(out)
    assert [r["name"] for r in rows] == ["a.pt"]
    assert rows[0]["lr"] == 0.01
    assert rows[0]["dataset"] == "digits"
    code, out, _ = cli("library", "list", lib, "--columns", "id,name")
    assert out.split() == ["id", "name", "1", "a.pt", "2", "b.safetensors"]

    out_file = tmp_path / "exported.safetensors"
    assert cli("library", "export", lib, "2", out_file)[0] == 0
    assert load_weights(out_file).vector().tobytes() == load_weights(cnn).vector().tobytes()


def library_state(lib: Path) -> tuple[int, list[str]]:
    conn = sqlite3.connect(lib / "weightspace.db")
    n = conn.execute("SELECT COUNT(*) FROM models").fetchone()[0]
    conn.close()
    return n, sorted(p.name for p in (lib / "weights").iterdir())


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def _bad_file(kind: str, tmp: Path, good: Path) -> Path:
    path = tmp / f"bad_{kind}.pt"
    if kind == "missing":
        return tmp / "missing.pt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(good.read_bytes()[:100])
    elif kind == "corrupt":
        path.write_bytes(b"\x80\x02garbage-not-a-pickle")
    elif kind == "no-floats":
        torch.save({"ids": torch.arange(3)}, path)
    elif kind == "code":
        torch.save({"w": torch.ones(1), "x": Evil()}, path)
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no such file"),
        ("empty", "empty file"),
        ("truncated", "(truncated|corrupt)"),
        ("corrupt", "corrupt"),
        ("no-floats", "no floating-point tensors"),
        ("code", "never runs pickled code"),
    ],
)
def test_bad_files_fail_cleanly_and_leave_the_library_unchanged(
    tmp_path, cli, files, kind, message
):
    lib = tmp_path / "lib"
    cli("library", "create", lib)
    cli("library", "add", lib, files[0], "--quiet")
    before = library_state(lib)
    bad = _bad_file(kind, tmp_path, files[0])
    code, out, err = cli("library", "add", lib, files[1], bad, "--quiet")
    assert code == 1
    assert err.count("\n") == 1, err  # one line
    assert err.startswith("weightspace: error: ")
    assert bad.name in err
    assert re.search(message, err)
    assert "pwned" not in out
    assert library_state(lib) == before


def test_nan_weights_are_added_and_reported(tmp_path, cli):
    lib = tmp_path / "lib"
    cli("library", "create", lib)
    path = tmp_path / "nan.npz"
    np.savez(path, w=np.array([[1.0, np.nan], [np.inf, 0.0]], np.float32))
    assert cli("library", "add", lib, path, "--quiet")[0] == 0
    _code, out, _ = cli("library", "info", lib)
    assert "1 model(s) with non-finite weights: 1" in out


def test_not_a_library_and_newer_schema(tmp_path, cli, files):
    code, _, err = cli("library", "info", tmp_path)
    assert code == 1
    assert "not a weightspace library" in err
    code, _, err = cli("library", "add", tmp_path / "nowhere", files[0])
    assert code == 1
    assert "no library here" in err
    lib = tmp_path / "lib"
    cli("library", "create", lib)
    conn = sqlite3.connect(lib / "weightspace.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    code, _, err = cli("library", "add", lib, files[0])
    assert code == 1
    assert "newer than this weightspace supports" in err
    assert library_state(lib) == (0, [])


def test_bad_meta_and_where(tmp_path, cli, files):
    lib = tmp_path / "lib"
    cli("library", "create", lib)
    code, _, err = cli("library", "add", lib, files[0], "--meta", "oops")
    assert code == 1
    assert "expected KEY=VALUE" in err
    code, _, err = cli("library", "list", lib, "--where", "nonsense ==")
    assert code == 1
    assert "SQL error" in err
    code, _, err = cli("library", "export", lib, "7", tmp_path / "x.safetensors")
    assert code == 1
    assert "no model with id 7" in err


def test_parse_meta_types():
    assert parse_meta(["a=1", "b=1.5", "c=true", "d=x y", "e="]) == {
        "a": 1,
        "b": 1.5,
        "c": True,
        "d": "x y",
        "e": None,
    }
