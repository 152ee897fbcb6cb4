"""``weightspace atlas export`` and ``serve`` (through the command module's own parser, so that the
tests do not depend on how the main parser wires it)."""

import argparse
import json

import numpy as np
import pytest

from weightspace import WeightspaceError
from weightspace.atlas import Atlas
from weightspace.cli import atlas_cmd
from weightspace.io.limits import UPLOAD_MAX_WEIGHTS


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="weightspace")
    atlas_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["atlas", *argv])
    return int(args.run(args) or 0)


def test_export_writes_html_png_and_json(atlas, atlas_library, tmp_path, capsys):
    out = tmp_path / "atlas.html"
    code = run(
        "export", str(atlas_library.path), "-o", str(out), "--png", str(tmp_path / "map.png"),
        "--json", str(tmp_path / "atlas.json"), "--color-by", "init", "--n-neighbors", "8",
        "--quiet",
    )  # fmt: skip
    assert code == 0
    assert "<html" in out.read_text(encoding="utf-8")[:200]
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
    saved = Atlas.load(tmp_path / "atlas.json")
    np.testing.assert_array_equal(saved.coords, atlas.coords)  # the same (cached) map
    assert "wrote" in capsys.readouterr().out


def test_export_reads_a_saved_atlas(atlas, tmp_path):
    atlas.save(tmp_path / "a.json")
    assert run("export", str(tmp_path / "a.json"), "-o", str(tmp_path / "a.html")) == 0
    page = (tmp_path / "a.html").read_text(encoding="utf-8")
    assert json.dumps(atlas.title)[1:-1] in page


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give -o atlas.html"),
        (["-o", "atlas.txt"], "must end in .html"),
        (["-o", "a.html", "--param", "value_range=x"], "expected two numbers"),
    ],
)
def test_export_names_bad_arguments(atlas_library, tmp_path, extra, message):
    with pytest.raises(WeightspaceError, match=message):
        run("export", str(atlas_library.path), *extra)


def test_serve_binds_the_loopback_address_by_default(atlas, tmp_path, monkeypatch, capsys):
    atlas.save(tmp_path / "a.json")
    calls = {}
    monkeypatch.setattr("weightspace.atlas.serve", lambda a, **kw: calls.update(kw, n=len(a)))
    assert run("serve", str(tmp_path / "a.json"), "--port", "8123", "--max-upload-mb", "5") == 0
    assert calls["host"] == "127.0.0.1"
    assert calls["port"] == 8123
    assert calls["max_upload_bytes"] == 5 * 2**20
    assert calls["max_weights"] == UPLOAD_MAX_WEIGHTS
    assert calls["allowed_hosts"] == []
    assert calls["n"] == len(atlas)
    assert "http://127.0.0.1:8123/" in capsys.readouterr().out


def test_serve_warns_when_bound_to_other_machines(atlas, tmp_path, monkeypatch, capsys):
    atlas.save(tmp_path / "a.json")
    monkeypatch.setattr("weightspace.atlas.serve", lambda a, **kw: None)
    run("serve", str(tmp_path / "a.json"), "--host", "0.0.0.0")
    assert "reachable from other machines" in capsys.readouterr().err
    with pytest.raises(WeightspaceError, match="must be positive"):
        run("serve", str(tmp_path / "a.json"), "--max-upload-mb", "0")


def test_serve_passes_the_weight_limit_and_the_proxy_names(atlas, tmp_path, monkeypatch):
    atlas.save(tmp_path / "a.json")
    calls = {}
    monkeypatch.setattr("weightspace.atlas.serve", lambda a, **kw: calls.update(kw))
    code = run(
        "serve", str(tmp_path / "a.json"), "--max-weights", "1000",
        "--allowed-host", "atlas.example.org", "--allowed-host", "proxy.lan:8443",
    )  # fmt: skip
    assert code == 0
    assert calls["max_weights"] == 1000
    assert calls["allowed_hosts"] == ["atlas.example.org", "proxy.lan:8443"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-weights", "0"], "--max-weights must be a positive integer; got 0"),
        (["--allowed-host", "a b"], "--allowed-host 'a b': expected a host name or NAME:PORT"),
        (["--allowed-host", "host:99999"], "expected a host name or NAME:PORT"),
    ],
)
def test_serve_names_bad_limits_and_host_names(atlas, tmp_path, monkeypatch, extra, message):
    atlas.save(tmp_path / "a.json")
    monkeypatch.setattr("weightspace.atlas.serve", lambda a, **kw: None)
    with pytest.raises(WeightspaceError, match=message):
        run("serve", str(tmp_path / "a.json"), *extra)
