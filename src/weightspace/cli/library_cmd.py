"""``weightspace library ...``: create, add, info, list, export."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from weightspace.errors import WeightspaceError
from weightspace.io.limits import DEFAULT_MAX_WEIGHTS
from weightspace.library import Library

__all__ = ["add_max_weights_argument", "parse_meta", "register"]


def _max_weights(text: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    try:
        value = int(text.replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number or 'none'; got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'none'; got {text!r}")
    return value


def add_max_weights_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--max-weights N`` (the limit checked before a checkpoint file is read)."""
    parser.add_argument(
        "--max-weights",
        type=_max_weights,
        default=DEFAULT_MAX_WEIGHTS,
        metavar="N",
        help=(
            "refuse a checkpoint file that declares more than N weights, or compressed data that "
            "inflates more than 100:1, before reading it (decompression and allocation bombs); "
            f"default {DEFAULT_MAX_WEIGHTS:,}; 'none' for no limit"
        ),
    )


def register(commands: Any) -> None:
    """Add the ``library`` command and its sub-commands."""
    parser = commands.add_parser("library", help="create and query model libraries")
    sub = parser.add_subparsers(dest="library_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser("create", help="create an empty library")
    p.add_argument("path", type=Path)
    p.set_defaults(run=_create)

    p = sub.add_parser("add", help="add checkpoint files (one model each), all or none")
    p.add_argument("path", type=Path, help="the library")
    p.add_argument("files", type=Path, nargs="+", help="checkpoint files, any supported format")
    p.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata for every added model (numbers, true/false, text); repeatable",
    )
    p.add_argument(
        "--hparam",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a hyper-parameter for every added model; repeatable",
    )
    add_max_weights_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar (none off a terminal)")
    p.set_defaults(run=_add)

    p = sub.add_parser("info", help="summary of a library")
    p.add_argument("path", type=Path)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_info)

    p = sub.add_parser("list", help="list models (one row each)")
    p.add_argument("path", type=Path)
    p.add_argument("--where", help="SQL condition, e.g. \"optimizer = 'adam' AND n_params > 1000\"")
    p.add_argument("--columns", help="comma-separated columns to show (default: all)")
    p.add_argument("--limit", type=int, help="show at most this many rows")
    p.add_argument("--json", action="store_true", help="print JSON records")
    p.set_defaults(run=_list)

    p = sub.add_parser("export", help="write one model snapshot as a safetensors state dict")
    p.add_argument("path", type=Path)
    p.add_argument("model_id", type=int)
    p.add_argument("out", type=Path)
    p.add_argument("--snapshot", type=int, default=-1, help="snapshot index (default: the last)")
    p.set_defaults(run=_export)


def parse_meta(items: list[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings; values become int, float, bool, null or text.

    Examples
    --------
    >>> parse_meta(["lr=0.01", "bn=true", "opt=adam", "depth=3"])
    {'lr': 0.01, 'bn': True, 'opt': 'adam', 'depth': 3}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise WeightspaceError(
                f"--meta {item!r}: expected KEY=VALUE, e.g. --meta optimizer=adam"
            )
        lowered = text.strip().lower()
        value: Any
        if lowered in ("true", "false"):
            value = lowered == "true"
        elif lowered in ("null", "none", ""):
            value = None
        else:
            try:
                value = int(text)
            except ValueError:
                try:
                    value = float(text)
                except ValueError:
                    value = text
        out[key.strip()] = value
    return out


def _create(args: argparse.Namespace) -> int:
    lib = Library.create(args.path)
    print(f"created library {lib.path}")
    return 0


def _add(args: argparse.Namespace) -> int:
    lib = Library(args.path)
    meta = parse_meta(args.meta)
    hparams = parse_meta(args.hparam)
    items = (
        {"weights": f, "name": f.name, "source": str(f), "metadata": meta, "hparams": hparams}
        for f in args.files
    )
    ids = lib.add_many(
        items, progress=not args.quiet, total=len(args.files), max_weights=args.max_weights
    )
    print(f"added {len(ids)} model(s) to {lib.path}: ids {_ranges(ids)}")
    return 0


def _ranges(ids: list[int]) -> str:
    if not ids:
        return "-"
    if ids == list(range(ids[0], ids[-1] + 1)) and len(ids) > 2:
        return f"{ids[0]}..{ids[-1]}"
    return ", ".join(str(i) for i in ids)


def _info(args: argparse.Namespace) -> int:
    info = Library(args.path).info()
    print(json.dumps(info.as_dict(), indent=2) if args.json else info.to_text())
    return 0


def _list(args: argparse.Namespace) -> int:
    lib = Library(args.path)
    frame = lib.query(args.where)
    if args.columns:
        wanted = [c.strip() for c in args.columns.split(",") if c.strip()]
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise WeightspaceError(
                f"--columns: unknown column(s) {missing}; available: {list(frame.columns)}"
            )
        frame = frame[wanted]
    elif not args.json:
        frame = frame.drop(columns=["file", "source", "created"])
    if args.limit is not None:
        frame = frame.head(args.limit)
    if args.json:
        print(frame.to_json(orient="records"))
    elif frame.empty:
        print("(no models)")
    else:
        print(frame.to_string(index=False))
    return 0


def _export(args: argparse.Namespace) -> int:
    out = Library(args.path).export(args.model_id, args.out, snapshot=args.snapshot)
    print(f"wrote {out}")
    return 0
