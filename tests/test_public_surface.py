"""The public surface: each part's ``__all__``, the README's imports, and no private names across parts.

A *part* is a top-level package or module of ``weightspace`` (``io``, ``library``, ``represent``,
``probe``, ...); the root package's private modules (``_version``, ``_progress``, ``_lazy``) belong to
every part. ``zoo`` is a collection of parts of its own (datasets, architectures, spaces, stacked
training, generation), so each of its modules or subpackages counts as a part. Inside a part,
modules may share private names; across parts only public names are used.
"""

from __future__ import annotations

import ast
import importlib
import re
import types
from pathlib import Path

import pytest

import weightspace

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "weightspace"

PARTS = [
    "weightspace",
    "weightspace.atlas",
    "weightspace.errors",
    "weightspace.io",
    "weightspace.learn",
    "weightspace.library",
    "weightspace.predict",
    "weightspace.probe",
    "weightspace.represent",
    "weightspace.reproduce",
    "weightspace.symmetry",
    "weightspace.vectors",
]

#: What the README and the docs document, by part (each must be in the part's ``__all__``).
DOCUMENTED = {
    "weightspace": ["Library", "WeightSet", "load_weights"],
    "weightspace.atlas": ["build_atlas", "export_html", "plot_atlas", "summarize"],
    "weightspace.probe": ["dmc_probe", "linear_probe", "performance_maps", "svm_probe"],
    "weightspace.represent": [
        "ChainGram",
        "DEFAULT_BINS",
        "DEFAULT_VALUE_RANGE",
        "DEFAULT_WINDOWS",
        "create_representation",
        "describe_library",
        "describe_weights",
        "representation_spec",
    ],
    "weightspace.reproduce": ["invariance_experiment", "untangling_experiment"],
    "weightspace.symmetry": ["permute"],
}

#: ``__all__`` lists not in plain ``sorted()`` order (pyproject's RUF022 note).
# predict/: its MODELS comes first (ruff's order).
UNSORTED = {"weightspace.predict"}

#: Private names a part imports from another part, as (importing file, imported name).
ALLOWED_PRIVATE_IMPORTS: set[tuple[str, str]] = set()


# ------------------------------------------------------------------------------------ __all__
@pytest.mark.parametrize("name", PARTS)
def test_every_part_has_a_unique_all(name):
    module = importlib.import_module(name)
    names = module.__all__
    assert isinstance(names, list)
    assert len(names) == len(set(names)), name
    if name not in UNSORTED:
        assert names == sorted(names), name


@pytest.mark.parametrize("name", PARTS)
def test_every_name_in_all_is_importable(name):
    module = importlib.import_module(name)
    for public in module.__all__:
        namespace: dict[str, object] = {}
        exec(f"from {name} import {public}", namespace)
        assert namespace[public] is getattr(module, public), f"{name}.{public}"


@pytest.mark.parametrize("name", PARTS)
def test_every_public_class_and_function_a_part_defines_is_listed(name):
    module = importlib.import_module(name)
    exported = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not isinstance(value, types.ModuleType)
        and str(getattr(value, "__module__", "")).startswith(name)
    }
    assert exported <= set(module.__all__), sorted(exported - set(module.__all__))


@pytest.mark.parametrize(("name", "documented"), sorted(DOCUMENTED.items()))
def test_the_documented_names_are_public(name, documented):
    module = importlib.import_module(name)
    assert set(documented) <= set(module.__all__), sorted(set(documented) - set(module.__all__))


def test_probe_and_reproduce_import_torch_only_when_used():
    code = (
        "import sys, weightspace.probe, weightspace.reproduce; "
        "assert 'weightspace.probe.dmc' not in sys.modules; "
        "assert 'weightspace.reproduce.invariance' not in sys.modules; "
        "from weightspace.probe import dmc_probe; "
        "assert 'weightspace.probe.dmc' in sys.modules; "
        "import weightspace.probe as p; assert 'performance_maps' in dir(p)"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_an_unknown_lazy_name_is_an_attribute_error():
    import weightspace.probe
    import weightspace.reproduce

    with pytest.raises(AttributeError, match=r"'weightspace\.probe' has no attribute 'nope'"):
        weightspace.probe.nope  # noqa: B018
    with pytest.raises(AttributeError, match=r"'weightspace\.reproduce' has no attribute"):
        weightspace.reproduce.nope  # noqa: B018


# ------------------------------------------------------------------------------------ README
_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_FROM_IMPORT = re.compile(r"^\s*from (weightspace[\w.]*) import ([\w, ]+?)\s*(?:#.*)?$")
_IMPORT = re.compile(r"^\s*import (weightspace[\w.]*)(?: as (\w+))?\s*(?:#.*)?$")


def _doc_imports() -> list[tuple[str, int, str]]:
    found = []
    for path in _DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _FROM_IMPORT.match(line) or _IMPORT.match(line):
                found.append((path.relative_to(ROOT).as_posix(), number, line.strip()))
    return found


def test_the_readme_has_python_imports_to_check():
    assert any(where == "README.md" for where, _, _ in _doc_imports())


@pytest.mark.parametrize(("where", "number", "line"), _doc_imports())
def test_documented_imports_resolve(where, number, line):
    exec(line.split("#")[0].strip(), {})


def test_the_readme_api_examples_name_public_attributes():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    used = set(re.findall(r"\bws\.([A-Za-z_]\w*)", text))
    assert {"Library", "load_weights"} <= used
    assert used <= set(weightspace.__all__), sorted(used - set(weightspace.__all__))


# ------------------------------------------------------------------------------ private names
def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    """The part a dotted module name belongs to ('' for the root package and its private modules)."""
    names = module.split(".")
    if len(names) < 2 or names[1].startswith("_"):
        return ""
    if names[1] == "zoo" and len(names) > 2:
        return f"zoo.{names[2]}"
    return names[1]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Private names of other parts that ``source`` (the module ``module``) uses, dotted."""
    tree = ast.parse(source)
    mine = _part(module)
    package = module if is_package else module.rpartition(".")[0]
    bound: dict[str, str] = {}  # local name -> the dotted weightspace object it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "weightspace":
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                bound[alias.asname or alias.name] = target
                if _part(base) == mine:
                    continue
                path = [*base.split(".")[2:], alias.name]
                if any(_private(p) for p in path):
                    found.append(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "weightspace":
                    continue
                bound[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else "weightspace"
                )
                if _part(alias.name) != mine and any(
                    _private(p) for p in alias.name.split(".")[2:]
                ):
                    found.append(alias.name)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        chain = [node.attr]
        value = node.value
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if not isinstance(value, ast.Name) or value.id not in bound:
            continue
        target = ".".join([bound[value.id], *reversed(chain)])
        owner = target.rpartition(".")[0]
        if _part(owner) != mine and owner.split(".")[0] == "weightspace":
            found.append(target)
    return found


def _all_private_imports() -> set[tuple[str, str]]:
    out = set()
    for path in sorted(SRC.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        module = _module_name(path)
        for target in private_imports(source, module, is_package=path.name == "__init__.py"):
            out.add((path.relative_to(SRC).as_posix(), target))
    return out


def test_no_part_uses_another_parts_private_names():
    found = _all_private_imports()
    unexpected = sorted(found - ALLOWED_PRIVATE_IMPORTS)
    assert not unexpected, (
        "private names used across parts (make them public in their part, or move the code): "
        f"{unexpected}"
    )


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        (
            "from weightspace.represent.registry import _spec, create_representation",
            "weightspace.atlas.upload",
            ["weightspace.represent.registry._spec"],
        ),
        (
            "from weightspace.represent import registry\nx = registry._REGISTRY['miwd']",
            "weightspace.predict.predictor",
            ["weightspace.represent.registry._REGISTRY"],
        ),
        (
            "import weightspace.represent.registry\nweightspace.represent.registry._spec('x')",
            "weightspace.cli.describe_cmd",
            ["weightspace.represent.registry._spec"],
        ),
        (
            "from weightspace.represent._miwd_kernel import histograms",
            "weightspace.atlas.build",
            ["weightspace.represent._miwd_kernel.histograms"],
        ),
        (
            "from weightspace.zoo.architectures import _activation",
            "weightspace.zoo.tasks",
            ["weightspace.zoo.architectures._activation"],
        ),
        # inside a part, and the root package's private modules, are fine
        ("from weightspace.represent import _miwd_kernel", "weightspace.represent.miwd", []),
        (
            "from weightspace.represent.stats import _layout",
            "weightspace.represent.unterthiner",
            [],
        ),
        ("from weightspace.zoo.stacked.layers import _Conv", "weightspace.zoo.stacked.net", []),
        ("from weightspace._progress import progress_bar", "weightspace.probe.dmc", []),
        ("from weightspace.represent.registry import describe_weights", "weightspace.atlas.x", []),
        ("import torch\ntorch.nn.modules.conv._ConvNd", "weightspace.symmetry", []),
        ("from .registry import _spec", "weightspace.represent.chain", []),
    ],
)
def test_the_scan_finds_private_names_across_parts(source, module, expected):
    assert private_imports(source, module) == expected


def test_the_allowlist_is_empty():  # a new exception must be argued for here
    assert not ALLOWED_PRIVATE_IMPORTS
