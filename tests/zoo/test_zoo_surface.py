"""The zoo package's public surface, its import graph and the facts it takes from one place."""

import ast
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

import weightspace.zoo as zoo
from weightspace.zoo.datasets import dataset_classes, list_datasets
from weightspace.zoo.tasks import TaskError, htt_plan_fields, task_names

ZOO = Path(zoo.__file__).parent


def _zoo_modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(ZOO.rglob("*.py")):
        parts = path.relative_to(ZOO.parent.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append((name, path))
    return out


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name inside a module, not a submodule
        return False


def _private_imports(source: str, module: str) -> list[str]:
    """``"line module.name"`` for each private name ``source`` (the text of ``module``) takes from
    another weightspace module: ``from M import _x``, or ``M._x`` after ``from P import M``."""
    tree = ast.parse(source)
    modules = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not node.module.startswith("weightspace") or node.module == module:
                continue
            for a in node.names:
                if _is_private(a.name):
                    found.append(f"{node.lineno} {node.module}.{a.name}")
                elif _is_module(f"{node.module}.{a.name}"):
                    modules.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name.startswith("weightspace")}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _is_private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_zoo_module_imports_a_private_name_of_another_module():
    found = {
        module: names
        for module, path in _zoo_modules()
        if (names := _private_imports(path.read_text(encoding="utf-8"), module))
    }
    assert found == {}


def test_the_private_import_scan_finds_both_forms():
    source = (
        "from weightspace.zoo.space import _SPACES, get_space\n"
        "from weightspace.zoo import architectures\n"
        "from weightspace.zoo.tasks import _count\n"
        "x = architectures._REGISTRY\n"
    )
    assert _private_imports(source, "weightspace.zoo.tasks") == [
        "1 weightspace.zoo.space._SPACES",
        "4 architectures._REGISTRY",
    ]


def _top_level_imports(path: Path) -> set[str]:
    """The weightspace modules ``path`` imports when it is imported (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("weightspace"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("weightspace")}
    return out


def test_space_files_build_on_the_space_values_not_on_the_registry():
    files = _top_level_imports(ZOO / "space_files.py")
    assert "weightspace.zoo.space" not in files
    assert "weightspace.zoo.hyperspace" in files
    assert "weightspace.zoo.space_files" not in _top_level_imports(ZOO / "hyperspace.py")


def test_load_space_is_reachable_from_space():
    from weightspace.zoo import space, space_files

    assert space.load_space is space_files.load_space
    assert space.dump_space is space_files.dump_space


@pytest.mark.parametrize("name", sorted(zoo.__all__))
def test_every_name_of_the_zoo_surface_exists(name):
    assert getattr(zoo, name) is not None


def test_the_zoo_surface_is_sorted_and_holds_what_the_docs_name():
    assert list(zoo.__all__) == sorted(zoo.__all__)
    documented = {
        "generate_zoo",
        "ZooPlan",
        "get_preset",
        "list_presets",
        "load_dataset",
        "list_datasets",
        "create_architecture",
        "list_architectures",
        "get_space",
        "list_spaces",
        "load_space",
        "train_model",
        "train_models",
        "TrainConfig",
        "GeneratorDropout",
    }
    assert documented <= set(zoo.__all__)


@pytest.mark.parametrize(
    ("module", "call", "expected"),
    [
        ("weightspace.zoo.space", "list_spaces", {"htt-cnn", "htt-mlp", "nws", "tetris-mlp"}),
        ("weightspace.zoo.architectures", "list_architectures", {"plain-mlp", "nws-cnn", "mlp"}),
    ],
)
def test_a_registry_imported_first_lists_every_builtin(module, call, expected):
    code = (
        f"import sys; from {module} import {call}; print(' '.join({call}()), 'ray' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert expected <= set(out[:-1])
    assert out[-1] == "False"


def test_the_registries_hold_the_builtins_on_first_use():
    assert set(zoo.list_architectures()) >= {
        "mlp",
        "nws-cnn",
        "plain-cnn",
        "plain-mlp",
        "schurholt-cnn",
        "tetris-mlp",
    }
    assert set(zoo.list_spaces()) >= {
        "htt-cnn",
        "htt-mlp",
        "nws",
        "nws-fixed",
        "schurholt-cnn",
        "tetris-mlp",
    }


@pytest.mark.parametrize("dataset", list_datasets())
def test_task_zoos_take_the_class_count_from_the_dataset_registry(dataset):
    n_classes = dataset_classes(dataset)
    every_pair = math.comb(n_classes, 2)
    fields = htt_plan_fields("mlp", dataset=dataset, n_tasks=every_pair, runs=1)
    classes = {c for task in fields["datasets"] for c in map(int, task.split(":")[1].split("v"))}
    assert classes == set(range(n_classes))
    assert len(set(fields["datasets"])) == every_pair
    with pytest.raises(TaskError, match=f"{n_classes} classes give {every_pair} subsets of 2"):
        htt_plan_fields("mlp", dataset=dataset, n_tasks=every_pair + 1, runs=1)


def test_tetris_task_zoo_has_the_registrys_seven_pieces():
    fields = htt_plan_fields("cnn", dataset="tetris", n_tasks=21, runs=2, random_state=3)
    assert sorted(fields["datasets"]) == sorted(
        task_names("tetris", [(a, b) for a in range(7) for b in range(a + 1, 7)])
    )


def test_threads_using_the_registries_first_register_the_builtins_once():
    code = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from weightspace.zoo.architectures import list_architectures\n"
        "from weightspace.zoo.space import list_spaces\n"
        "with ThreadPoolExecutor(8) as pool:\n"
        "    calls = [pool.submit(f) for f in [list_architectures, list_spaces] * 8]\n"
        "    print(len({c.result() for c in calls}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2"]
