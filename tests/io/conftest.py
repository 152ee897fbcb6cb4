"""Fixtures of the reader tests: a refusal checked through the real CLI."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from weightspace import Library


def _state(lib: Library) -> tuple[int, list[str]]:
    fresh = Library(lib.path)
    return len(fresh.query()), sorted(p.name for p in (lib.path / "weights").iterdir())


@pytest.fixture
def refused(
    cli: Callable[..., tuple[int, str, str]], lib: Library, cnn: torch.nn.Module
) -> Callable[[Path, str], str]:
    """``refused(path, pattern)``: ``weightspace library add LIB path`` exits 1 with one line on
    stderr that names the file and matches ``pattern``, and the library (holding one model) is
    unchanged. Returns the line."""
    lib.add(cnn, name="kept")
    before = _state(lib)

    def check(path: Path, pattern: str) -> str:
        code, _, err = cli("library", "add", lib.path, path)
        lines = err.strip().splitlines()
        assert code == 1, err
        assert len(lines) == 1, err
        assert path.name in lines[0]
        assert re.search(pattern, lines[0]), lines[0]
        assert _state(lib) == before
        return lines[0]

    return check
