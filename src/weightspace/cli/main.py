"""Entry point of the ``weightspace`` command: builds the parser and maps errors to exit codes.

Exit codes: 0 success, 1 bad input or state (a :class:`WeightspaceError` or an ``OSError``: one line
on stderr naming the file and the problem), 2 bad command-line usage (argparse), 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM while a library is written; its staged files are removed).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from weightspace._version import __version__
from weightspace.cli import (
    atlas_cmd,
    demo_cmd,
    describe_cmd,
    learn_cmd,
    library_cmd,
    predict_cmd,
    probe_cmd,
    reproduce_cmd,
    zoo_cmd,
)
from weightspace.errors import WeightspaceError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (each command module adds its sub-commands)."""
    parser = argparse.ArgumentParser(
        prog="weightspace",
        description=(
            "Build, store, describe, compare, probe and map trained neural networks "
            "from their weights alone."
        ),
    )
    parser.add_argument("--version", action="version", version=f"weightspace {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    library_cmd.register(commands)
    zoo_cmd.register(commands)
    describe_cmd.register(commands)
    reproduce_cmd.register(commands)
    probe_cmd.register(commands)
    learn_cmd.register(commands)
    predict_cmd.register(commands)
    atlas_cmd.register(commands)
    demo_cmd.register(commands)
    return parser


def _one_line(text: str) -> str:
    """``text`` with its line breaks (a file name can hold them) turned into spaces."""
    return " ".join(text.splitlines())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.run(args)
    except (WeightspaceError, OSError) as exc:  # OSError: permissions, a full disk...
        print(f"weightspace: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:  # a damaged library database, wherever it is read
        where = getattr(args, "path", None) or getattr(args, "library", None) or "library"
        print(f"weightspace: error: {where}: library database error ({exc})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("weightspace: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
