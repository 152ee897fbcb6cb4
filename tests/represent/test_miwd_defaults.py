"""The MI-WD defaults (S = B = 32, value range (-5, 5)) are defined once, in the MI-WD module."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np

from weightspace.represent import (
    DEFAULT_BINS,
    DEFAULT_VALUE_RANGE,
    DEFAULT_WINDOWS,
    MIWD,
    create_representation,
    miwd,
)
from weightspace.represent.figures import descriptor_figure, plot_descriptor, plot_descriptor_lines

SRC = Path(__file__).resolve().parents[2] / "src" / "weightspace"
CONSTANTS = {"S": DEFAULT_WINDOWS, "B": DEFAULT_BINS, "value_range": DEFAULT_VALUE_RANGE}
NAMES = {"S": "DEFAULT_WINDOWS", "B": "DEFAULT_BINS", "value_range": "DEFAULT_VALUE_RANGE"}
#: Files that still repeat a default as a literal (equal to the constant; checked below).
# reproduce/: its modules belong to another branch
LITERAL_REPEATS = {"reproduce/embeddings.py"}


def test_the_defaults_are_the_papers():
    assert (DEFAULT_WINDOWS, DEFAULT_BINS, DEFAULT_VALUE_RANGE) == (32, 32, (-5.0, 5.0))


def test_the_engine_the_transformer_and_the_figures_default_to_them():
    assert MIWD().get_params()["S"] == DEFAULT_WINDOWS
    assert MIWD().get_params()["B"] == DEFAULT_BINS
    assert MIWD().get_params()["value_range"] == DEFAULT_VALUE_RANGE
    assert create_representation("miwd").get_params() == MIWD().get_params()
    for function in (miwd, descriptor_figure, plot_descriptor, plot_descriptor_lines):
        for name, parameter in inspect.signature(function).parameters.items():
            if name in CONSTANTS:
                assert parameter.default == CONSTANTS[name], (function.__name__, name)


def test_a_descriptor_with_the_defaults_has_32_by_32_bins():
    vector = np.random.default_rng(0).normal(size=5000)
    out = miwd([vector])
    assert out.shape == (1, DEFAULT_WINDOWS, DEFAULT_BINS)
    np.testing.assert_array_equal(out, miwd([vector], S=32, B=32, value_range=(-5.0, 5.0)))


def _defaults(tree: ast.AST):
    """(parameter, default expression, line) of every S, B or value_range default in a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(
                zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
            )
            pairs += [
                (a, d)
                for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                if d is not None
            ]
            for arg, default in pairs:
                if arg.arg in CONSTANTS:
                    yield arg.arg, default, node.lineno
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in CONSTANTS
        ):
            yield node.args[0].value, node.args[1], node.lineno


def test_every_default_in_the_code_is_the_constant():
    literal, checked = [], 0
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        for name, default, line in _defaults(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(default, ast.Constant) and isinstance(default.value, str):
                continue  # a label for display ("?"), not a default value
            checked += 1
            if isinstance(default, ast.Name) and default.id == NAMES[name]:
                continue
            value = ast.literal_eval(default)
            assert value == CONSTANTS[name], f"{where}:{line}: {name} defaults to {value!r}"
            literal.append(where)
    assert checked >= 15
    assert set(literal) <= LITERAL_REPEATS, sorted(set(literal) - LITERAL_REPEATS)
