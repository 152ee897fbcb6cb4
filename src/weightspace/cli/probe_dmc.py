"""``weightspace probe dmc``: deep meta-classifiers (global or local, all/conv/FC weights).

The lead wires it in :func:`weightspace.cli.probe_cmd.register` with ``register_dmc(sub)``,
``sub`` being the ``probe`` sub-parsers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from weightspace.cli.options import (
    add_common_arguments,
    emit,
    failure_filter,
    int_list,
    split_list,
)

__all__ = ["add_training_arguments", "register_dmc"]


def add_training_arguments(p: argparse.ArgumentParser, *, steps: int) -> None:
    """Network and training options shared with ``reproduce performance-maps``."""
    p.add_argument(
        "--width", type=float, default=0.125,
        help="width multiplier of the NWS Table 3 networks (default 0.125)",
    )  # fmt: skip
    p.add_argument(
        "--steps", type=int, default=steps,
        help=f"optimizer steps of batch 64 per DMC (default {steps})",
    )  # fmt: skip
    p.add_argument(
        "--epochs", type=int,
        help="train this many passes over the (model, snapshot) pairs instead of --steps",
    )  # fmt: skip
    p.add_argument("--folds", type=int, default=5, help="folds by model (default 5)")
    p.add_argument(
        "--rounds", type=int, default=1,
        help="train/test rounds (folds) per DMC; std is over rounds (default 1)",
    )  # fmt: skip
    p.add_argument(
        "--device", default="auto", help="auto (CUDA when available, else CPU), cpu, cuda, cuda:1"
    )


def register_dmc(subparsers: Any) -> None:
    """Add ``dmc`` to the ``probe`` sub-commands."""
    p = subparsers.add_parser(
        "dmc",
        help="deep meta-classifiers: 1-D CNNs predicting hyper-parameters from raw weights",
        description=(
            "weightspace probe dmc LIB --target optimizer [--kind local|global] "
            "[--region all|conv|fc] [--window 5000] [--steps 2000]. Classifies categorical "
            "columns and regresses lr (log10). Prints accuracy beside chance and writes a report."
        ),
    )
    p.add_argument("library", type=Path)
    p.add_argument(
        "--target", action="append", required=True, metavar="COLUMN",
        help="column to predict: categorical (classified) or lr (regressed); repeatable or "
        "comma-separated",
    )  # fmt: skip
    p.add_argument("--kind", choices=["local", "global"], default="local")
    p.add_argument("--region", choices=["all", "conv", "fc"], default="all")
    p.add_argument("--net", choices=["conv", "mlp"], default="conv", help="mlp: global DMC only")
    p.add_argument("--window", type=int, default=5000, help="local DMC window (default 5000)")
    p.add_argument("--depth", choices=["reduced", "full"], default="reduced")
    p.add_argument("--no-sorted", action="store_true", help="no sorted-window input channel")
    p.add_argument(
        "--task", choices=["auto", "classification", "regression"], default="auto",
        help="auto: regress numeric columns with > 20 values, classify the rest",
    )  # fmt: skip
    p.add_argument(
        "--train-snapshots",
        help="snapshots trained on, comma-separated (default: the last 2 for local, 4 for "
        "global; with '=': --train-snapshots=-1,-2)",
    )
    p.add_argument(
        "--test-snapshots", default="-1",
        help="snapshots the test models are scored at (default -1; --test-snapshots=0,-1)",
    )  # fmt: skip
    p.add_argument(
        "--eval-windows", type=int, default=16,
        help="windows averaged per model (local DMC; default 16)",
    )  # fmt: skip
    p.add_argument("--no-balance", action="store_true", help="do not balance the classes")
    add_training_arguments(p, steps=2000)
    add_common_arguments(p)
    p.set_defaults(run=_dmc)


def _dmc(args: argparse.Namespace) -> int:
    from weightspace.library import Library
    from weightspace.probe.common import Selection
    from weightspace.probe.dmc import DMCConfig, dmc_probe

    lib = Library(args.library)
    targets = [t for item in args.target for t in split_list(item)]
    config = DMCConfig(
        kind=args.kind,
        net=args.net,
        window=args.window,
        width=args.width,
        depth=args.depth,
        sorted_channel=not args.no_sorted,
        steps=args.steps,
        epochs=args.epochs,
        eval_windows=args.eval_windows,
        device=args.device,
    )
    result = dmc_probe(
        lib,
        targets,
        config,
        selection=Selection(failed=failure_filter(args), where=args.where),
        region=args.region,
        train_snapshots=int_list(args.train_snapshots, "--train-snapshots"),
        test_snapshots=int_list(args.test_snapshots, "--test-snapshots") or [-1],
        n_splits=args.folds,
        rounds=args.rounds,
        balance=not args.no_balance,
        task=args.task,
        random_state=args.seed,
        progress=not args.quiet and not args.json,
    )
    return emit(result, args, lib, f"dmc-{args.kind}-{args.region}")
