"""``weightspace demo``: the main job on the embedded default data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the ``demo`` command."""
    p = commands.add_parser(
        "demo", help="build the demo library from checkpoints it writes, and summarize it"
    )
    p.add_argument("--out", type=Path, default=Path(".cache/demo"), help="output directory")
    p.add_argument("--models", type=int, default=12, help="number of models (default 12)")
    p.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    from weightspace.demo import build_demo_library

    lib = build_demo_library(args.out, n_models=args.models)
    print(lib.info().to_text())
    print()
    frame = lib.query()[["id", "name", "format", "n_params", "n_snapshots", "test_acc"]]
    print(frame.to_string(index=False))
    print(f"\nnext: weightspace library list {lib.path} --where \"optimizer = 'adam'\"")
    return 0
