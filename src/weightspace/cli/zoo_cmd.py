"""``weightspace zoo ...``: generate zoos and list the registries they draw from."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from weightspace.cli.engine_args import add_engine_arguments, engine_runtime
from weightspace.errors import WeightspaceError

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the ``zoo`` command and its sub-commands."""
    parser = commands.add_parser("zoo", help="generate model zoos; list spaces, datasets, presets")
    sub = parser.add_subparsers(dest="zoo_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser(
        "generate",
        help="train a zoo into a library (resumable: rerun the same command to finish it)",
    )
    p.add_argument("--preset", help="a named plan (see `weightspace zoo presets`)")
    p.add_argument("--space", help="a registered space or a .toml/.yaml space file")
    p.add_argument(
        "--n", type=int, help="number of models (a plain grid plan: passes over the grid)"
    )
    p.add_argument("--datasets", help="comma-separated dataset names, e.g. digits,mnist10k,shapes")
    p.add_argument(
        "--out", type=Path, required=True, help="the library to fill (created if missing)"
    )
    p.add_argument("--seed", type=int, help="sampling seed (default 0)")
    p.add_argument("--min-epochs", type=int, help="early stopping never before (NWS: 20)")
    p.add_argument("--max-epochs", type=int, help="cap on the epochs of one training")
    p.add_argument("--snapshots", type=int, help="snapshots kept per model (default 20)")
    p.add_argument("--train-samples", type=int, help="training images per dataset (subsample)")
    p.add_argument("--input-size", type=int, help="common input size (3 x S x S)")
    p.add_argument(
        "--input-norm",
        metavar="MEAN,STD",
        help="feed inputs as (x - MEAN) / STD, e.g. 0.1307,0.3081 for MNIST (default: [0, 1] images)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: cores); with --engine ray, the CPUs of a local runtime",
    )
    p.add_argument("--group-size", type=int, default=32, help="models per worker task")
    add_engine_arguments(p)
    p.add_argument(
        "--cpus-per-model",
        type=float,
        default=1.0,
        help="with --engine ray: CPUs each training task holds (default 1)",
    )
    p.add_argument(
        "--gpus-per-model",
        type=float,
        default=0.0,
        help="with --engine ray: GPUs each task reserves (default 0; the trainer runs on the CPU)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_generate)

    for name, fn, text in [
        ("spaces", _spaces, "list hyper-parameter spaces"),
        ("datasets", _datasets, "list datasets, their sizes and whether they are prepared here"),
        ("architectures", _architectures, "list architectures"),
        ("presets", _presets, "list zoo presets"),
    ]:
        q = sub.add_parser(name, help=text)
        q.add_argument("--json", action="store_true", help="print JSON")
        if name == "datasets":
            q.add_argument(
                "--root", type=Path, help="where on-disk datasets are (default $WEIGHTSPACE_DATA)"
            )
        q.set_defaults(run=fn)


def _plan(args: argparse.Namespace) -> Any:
    from weightspace.zoo.presets import ZooPlan, get_preset

    datasets = (
        tuple(d.strip() for d in args.datasets.split(",") if d.strip()) if args.datasets else None
    )
    changes = {
        "n": args.n,
        "seed": args.seed,
        "min_epochs": args.min_epochs,
        "max_epochs": args.max_epochs,
        "n_snapshots": args.snapshots,
        "train_samples": args.train_samples,
        "datasets": datasets,
        "input_shape": (3, args.input_size, args.input_size) if args.input_size else None,
        "input_norm": _input_norm(args.input_norm),
    }
    if args.preset:
        base = get_preset(args.preset)
        if args.space:
            changes["space"] = args.space
    elif not args.space or not args.n or not datasets:
        raise WeightspaceError(
            "zoo generate needs --preset NAME, or --space, --n and --datasets "
            "(e.g. --space nws --n 200 --datasets digits,mnist10k)"
        )
    else:
        base = ZooPlan(space=args.space, n=args.n, datasets=datasets)
    if args.max_epochs is not None and args.min_epochs is None:
        changes["min_epochs"] = min(base.min_epochs, args.max_epochs)
    return base.with_(**changes)


def _input_norm(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        mean, std = (float(v) for v in text.split(","))
    except ValueError:
        raise WeightspaceError(
            f"zoo generate: --input-norm must be MEAN,STD (two numbers, e.g. 0.1307,0.3081); got {text!r}"
        ) from None
    if not std > 0:
        raise WeightspaceError(f"zoo generate: --input-norm STD must be > 0; got {text!r}")
    return (mean, std)


def _generate(args: argparse.Namespace) -> int:
    import os

    from weightspace.zoo.engines import create_engine
    from weightspace.zoo.generate import generate_zoo

    plan = _plan(args)
    workers = args.workers if args.workers is not None else max(1, os.cpu_count() or 1)
    engine = create_engine(
        args.engine,
        workers=workers,
        cpus_per_model=args.cpus_per_model,
        gpus_per_model=args.gpus_per_model,
    )
    with engine_runtime(args, num_cpus=args.workers):
        report = generate_zoo(
            plan, args.out, group_size=args.group_size, progress=not args.quiet, engine=engine
        )
    print(
        f"zoo {plan.space}: {report.planned} planned, {report.already_done} already in {args.out}, "
        f"{report.trained} trained in {report.seconds:.0f} s"
    )
    return 0


def _print_frame(frame: Any, as_json: bool) -> None:
    print(frame.to_json(orient="records") if as_json else frame.to_string(index=False))


def _spaces(args: argparse.Namespace) -> int:
    import pandas as pd

    from weightspace.zoo.space import get_space, list_spaces

    rows = []
    for name in list_spaces():
        space = get_space(name)
        rows.append(
            {
                "name": name,
                "architecture": space.architecture,
                "parameters": ", ".join(space.names),
            }
        )
    _print_frame(pd.DataFrame(rows), args.json)
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from weightspace.zoo.datasets import describe_datasets

    frame = describe_datasets(args.root)
    if args.json:
        _print_frame(frame, True)
    else:
        frame["shape"] = [
            "x".join(map(str, s)) if isinstance(s, list) else "" for s in frame["shape"]
        ]
        _print_frame(frame.drop(columns=["class_names", "note"]), False)
    return 0


def _architectures(args: argparse.Namespace) -> int:
    import pandas as pd

    from weightspace.zoo.architectures import list_architectures

    _print_frame(pd.DataFrame({"name": list(list_architectures())}), args.json)
    return 0


def _presets(args: argparse.Namespace) -> int:
    import pandas as pd

    from weightspace.zoo.presets import get_preset, list_presets

    rows = [
        {
            "name": n,
            "space": get_preset(n).space,
            "models": get_preset(n).n,
            "description": get_preset(n).description,
        }
        for n in list_presets()
    ]
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(f"{row['name']:<22} {row['description']}")
    _ = pd
    return 0
