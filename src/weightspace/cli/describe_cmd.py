"""``weightspace describe``: representations of a library or of checkpoint files, and their figures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from weightspace.cli.engine_args import add_engine_arguments, engine_runtime
from weightspace.cli.library_cmd import add_max_weights_argument
from weightspace.cli.options import representation_params
from weightspace.errors import WeightspaceError

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the ``describe`` command."""
    p = commands.add_parser(
        "describe",
        help="compute a representation (MI-WD, statistics, baselines, chain) of models",
        description=(
            "weightspace describe LIB --repr miwd -o X.parquet | "
            "weightspace describe a.pt b.onnx --repr stats -o X.npy | "
            "weightspace describe LIB --model ID --plot out.png"
        ),
    )
    p.add_argument("source", type=Path, nargs="+", help="a library, or checkpoint files")
    p.add_argument(
        "--repr",
        default="miwd",
        help="miwd, stats, layer-stats, swstats, raw, pca, randproj, chain",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="representation parameter, e.g. S=16 (repeatable)",
    )
    p.add_argument("--where", help="SQL condition selecting library models")
    p.add_argument("--snapshot", type=int, default=-1, help="snapshot index (default: the last)")
    p.add_argument("-o", "--out", type=Path, help="output .npy or .parquet (with model ids)")
    p.add_argument("--model", type=int, help="with --plot: the library model to draw")
    p.add_argument("--plot", type=Path, help="write the MI-WD figure of --model (PNG)")
    add_max_weights_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar (none off a terminal)")
    add_engine_arguments(p)
    p.set_defaults(run=_describe)


def _describe(args: argparse.Namespace) -> int:
    from weightspace.library import Library

    first = args.source[0]
    is_library = len(args.source) == 1 and (first / "weightspace.db").exists()
    if args.plot is not None:
        if not is_library or args.model is None:
            raise WeightspaceError("--plot needs a library and --model ID")
        return _plot(Library(first), args)
    if args.out is None:
        raise WeightspaceError("give -o OUT.npy or -o OUT.parquet (or --plot with --model)")
    if args.out.suffix not in (".npy", ".parquet"):
        raise WeightspaceError(f"{args.out}: the output must end in .npy or .parquet")
    if is_library:
        from weightspace.represent.registry import describe_library

        lib = Library(first)
        ids = lib.ids(args.where)
        with engine_runtime(args):
            ids, X = describe_library(
                lib,
                args.repr,
                ids=ids,
                snapshot=args.snapshot,
                params=representation_params(args.param),
                progress=not args.quiet,
                engine=args.engine,
            )
        labels = [str(i) for i in ids]
    else:
        if args.engine != "local":
            raise WeightspaceError(
                f"--engine {args.engine} describes a library; checkpoint files are described in "
                "this process (drop --engine, or add the files to a library first)"
            )
        X, labels = _describe_files(args)
    _write(args.out, X, labels)
    print(f"wrote {args.out}: {X.shape[0]} model(s) x {X.shape[1]} features ({args.repr})")
    return 0


def _describe_files(args: argparse.Namespace) -> tuple[np.ndarray, list[str]]:
    from weightspace.io.load import load_weights
    from weightspace.represent.registry import describe_weights, representation_spec

    representation_spec(args.repr)  # an unknown name fails before any file is read
    sets = [load_weights(p, max_weights=args.max_weights) for p in args.source]
    X = describe_weights(args.repr, sets, **representation_params(args.param))
    return X, [str(p) for p in args.source]


def _write(out: Path, X: np.ndarray, labels: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if out.suffix == ".npy":
        with tmp.open("wb") as f:
            np.save(f, X)
    else:
        import pandas as pd

        frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
        frame.insert(0, "model", labels)
        frame.to_parquet(tmp, index=False)
    tmp.replace(out)


def _plot(lib: Any, args: argparse.Namespace) -> int:
    from weightspace.represent.figures import descriptor_figure, save
    from weightspace.represent.miwd import DEFAULT_BINS, DEFAULT_VALUE_RANGE, DEFAULT_WINDOWS

    params = representation_params(args.param)
    S = int(params.get("S", DEFAULT_WINDOWS))
    B = int(params.get("B", DEFAULT_BINS))
    value_range = tuple(params.get("value_range", DEFAULT_VALUE_RANGE))
    matrix = lib.snapshot_matrix(args.model)
    progress = lib.snapshot_table([args.model])["progress"].tolist()
    row = lib.query("id = ?", [args.model]).iloc[0].to_dict()
    title = f"model {args.model}: " + ", ".join(
        f"{k}={row[k]}" for k in ("dataset", "optimizer", "activation", "init") if k in row
    )
    progress_values = [
        float(p) if p == p and p is not None else float(i) / max(1, len(progress) - 1)
        for i, p in enumerate(progress)
    ]
    fig = descriptor_figure(
        list(matrix), progress=progress_values, S=S, B=B, value_range=value_range, title=title
    )
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    save(fig, str(args.plot))
    print(f"wrote {args.plot}")
    return 0
