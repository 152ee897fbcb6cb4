"""``weightspace reproduce untangling``: MI-WD Fig. 3, linear SVMs on weight representations.

The lead wires it in :func:`weightspace.cli.reproduce_cmd.register` with
``register_untangling(sub)``, ``sub`` being the ``reproduce`` sub-parsers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from weightspace.cli.options import add_common_arguments, emit, failure_filter, split_list
from weightspace.errors import WeightspaceError

__all__ = ["register_untangling"]


def register_untangling(subparsers: Any) -> None:
    """Add ``untangling`` to the ``reproduce`` sub-commands."""
    p = subparsers.add_parser(
        "untangling",
        help="MI-WD Fig. 3: linear SVMs classifying hyper-parameters on weight representations",
        description=(
            "Linear SVMs (5-fold CV by model) on global statistics, raw, PCA, random projection "
            "and MI-WD at K = 64, 256, 1024, for five hyper-parameters. Prints the table and "
            "writes a report with the grouped bar chart."
        ),
    )
    p.add_argument("library", type=Path)
    p.add_argument(
        "--targets",
        help="comma-separated hyper-parameters (default: dataset,optimizer,activation,init,"
        "augmentation)",
    )
    p.add_argument(
        "--dims", default="64,256,1024", help="sizes K, perfect squares (default 64,256,1024)"
    )
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--C", type=float, default=1.0, dest="C", help="SVM regularization (1.0)")
    p.add_argument(
        "--resample-to", type=int, default=65536,
        help="resampled length for PCA and random projection (default 65536, the paper's)",
    )  # fmt: skip
    p.add_argument("--no-balance", action="store_true", help="do not balance the classes")
    p.add_argument(
        "--no-standardize", action="store_true",
        help="do not standardize the features (they then weigh by their own scale)",
    )  # fmt: skip
    add_common_arguments(p)
    p.set_defaults(run=_untangling)


def _untangling(args: argparse.Namespace) -> int:
    from weightspace.library import Library
    from weightspace.probe.common import Selection
    from weightspace.reproduce.untangling import DEFAULT_TARGETS, untangling_experiment

    try:
        dims = [int(k) for k in split_list(args.dims)]
    except ValueError:
        raise WeightspaceError(f"--dims {args.dims!r}: expected integers, e.g. 64,256") from None
    targets = split_list(args.targets) if args.targets is not None else list(DEFAULT_TARGETS)
    if not targets or not dims:
        raise WeightspaceError("give at least one target (--targets) and one size (--dims)")
    lib = Library(args.library)
    result = untangling_experiment(
        lib,
        targets=targets,
        dims=dims,
        n_splits=args.folds,
        C=args.C,
        balance=not args.no_balance,
        standardize=not args.no_standardize,
        selection=Selection(failed=failure_filter(args), where=args.where),
        resample_to=args.resample_to,
        random_state=args.seed,
        progress=not args.quiet and not args.json,
    )
    return emit(result, args, lib, "untangling")
