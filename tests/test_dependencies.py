"""Core dependencies and extras: install hints name extras that exist, and a core-only
installation imports weightspace, reads checkpoints, keeps a library and describes it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "weightspace"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
EXTRAS: dict[str, list[str]] = {
    name: reqs for name, reqs in PROJECT["optional-dependencies"].items() if name != "dev"
}
#: The top-level module of each distribution an extra installs (what a core-only run must not need).
MODULES = {
    "dash": "dash",
    "plotly": "plotly",
    "umap-learn": "umap",
    "mnist1d": "mnist1d",
    "h5py": "h5py",
    "onnx": "onnx",
    "ray": "ray",
    "nfn": "nfn",
}
HINT = re.compile(r"pip install\s+'?weightspace\[([A-Za-z0-9_,-]+)\]")


def _name(requirement: str) -> str:
    """The distribution of a requirement (``"ray[default]>=2.40"`` -> ``"ray"``)."""
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match is not None
    return match.group(0).lower().replace("_", "-")


def _strings(path: Path) -> list[str]:
    """Every string literal of a module, f-strings with their placeholders as ``{}``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            out.append(
                "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            )
    return out


def _hints() -> list[tuple[str, str]]:
    """``(where, text)`` of every install hint naming an extra, in the sources and the README."""
    found = [
        (str(path.relative_to(ROOT)), text)
        for path in sorted(SRC.rglob("*.py"))
        for text in _strings(path)
        if HINT.search(text)
    ]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found += [("README.md", m.group(0)) for m in HINT.finditer(readme)]
    return found


def _named_packages(text: str) -> set[str]:
    """The packages a hint names besides the extra: ``needs X``, ``package X``, ``pip install X``."""
    names = re.findall(r"(?:needs|package|pip install)\s+([A-Za-z][A-Za-z0-9_-]*)\b(?!\[)", text)
    return {n.lower() for n in names if n.lower() not in {"weightspace", "the"}}


def test_core_needs_no_extra():
    core = {_name(r) for r in PROJECT["dependencies"]}
    extra = {_name(r) for name, reqs in EXTRAS.items() if name != "all" for r in reqs}
    assert core.isdisjoint(extra)
    assert {"torch", "numpy", "safetensors", "scikit-learn", "scipy"} <= core


def test_all_is_every_extra():
    parts = [r for name, reqs in EXTRAS.items() if name != "all" for r in reqs]
    assert sorted(EXTRAS["all"]) == sorted(parts)
    assert set(EXTRAS) >= {"atlas", "ray", "nfn", "keras", "onnx", "mnist1d", "all"}
    assert {_name(r) for r in EXTRAS["all"]} == set(MODULES)


def test_every_install_hint_names_an_extra_that_holds_the_package():
    hints = _hints()
    assert {
        extra for _, text in hints for m in HINT.finditer(text) for extra in m.group(1).split(",")
    } >= {
        "atlas",
        "ray",
        "nfn",
        "keras",
        "onnx",
    }
    for where, text in hints:
        for match in HINT.finditer(text):
            for extra in match.group(1).split(","):
                assert extra in EXTRAS, (
                    f"{where}: {text!r} names the extra [{extra}] that does not exist"
                )
                held = {_name(r) for r in EXTRAS[extra]}
                named = _named_packages(text) or {extra}
                assert named <= held, (
                    f"{where}: {text!r}: [{extra}] holds {held}, not {named - held}"
                )


def test_hint_scan_reads_packages_from_messages():
    assert _named_packages("the atlas needs umap-learn: pip install umap-learn (or ...)") == {
        "umap-learn"
    }
    assert _named_packages("pip install 'weightspace[ray]'") == set()
    assert _named_packages("the optional package nfn is not installed") == {"nfn"}


# A core-only installation, simulated: importing any extra's module fails as if it were not installed.
CORE_ONLY = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = set(sys.argv[2].split(","))

    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    for module in BLOCKED:
        try:
            __import__(module)
        except ImportError:
            pass
        else:
            raise SystemExit(f"{module} is still importable")

    import contextlib, io
    import numpy as np
    import weightspace
    from pathlib import Path
    from safetensors.numpy import save_file
    from weightspace.cli.main import main

    tmp = Path(sys.argv[1])
    save_file({"fc.weight": np.ones((2, 3), np.float32), "fc.bias": np.zeros(2, np.float32)},
              str(tmp / "m.safetensors"))
    ws = weightspace.load_weights(tmp / "m.safetensors")
    print("read", ws.n_params, [t.role for t in ws.tensors])
    lib = weightspace.Library.create(tmp / "lib")
    lib.add(tmp / "m.safetensors", hparams={"lr": 0.1})
    print("query", lib.query()[["name", "n_params", "lr"]].to_dict("records"))
    for argv in (["--help"], ["library", "--help"], ["atlas", "--help"], ["describe", "--help"]):
        with contextlib.redirect_stdout(io.StringIO()) as text:
            try:
                main(argv)
            except SystemExit as exc:
                code = exc.code
        print("help", argv[0], code, "usage: weightspace" in text.getvalue())
    argv = ["describe", str(tmp / "lib"), "--repr", "stats", "-o", str(tmp / "X.npy")]
    with contextlib.redirect_stdout(io.StringIO()) as text:
        code = main(argv)
    print("describe", code, np.load(tmp / "X.npy").shape, "wrote" in text.getvalue())
    print("loaded", sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED))
    """
)


def test_core_only_install_imports_and_reads_checkpoints(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", CORE_ONLY, str(tmp_path), ",".join(sorted(MODULES.values()))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "read 8 ['kernel', 'bias']",
        "query [{'name': 'm.safetensors', 'n_params': 8, 'lr': 0.1}]",
        "help --help 0 True",
        "help library 0 True",
        "help atlas 0 True",
        "help describe 0 True",
        "describe 0 (1, 16) True",
        "loaded []",
    ]
