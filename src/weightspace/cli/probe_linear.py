"""``weightspace probe linear``: ridge and linear-classifier probes from any representation.

Registered in :func:`weightspace.cli.probe_cmd.register` with ``register_linear(sub)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register_linear"]


def register_linear(subparsers: Any) -> None:
    """Add ``linear`` to the ``probe`` sub-commands."""
    from weightspace.cli.options import add_common_arguments

    p = subparsers.add_parser(
        "linear",
        help="predict test accuracy, epoch, generalization gap or hyper-parameters linearly",
        description=(
            "weightspace probe linear LIB --repr swstats --target test_acc,epoch,ggap,optimizer "
            "[--json]. Rows are snapshots; splits by model 70/15/15 over --seeds seeds; ridge "
            "(test R2, Kendall tau) for numeric targets, a linear classifier (accuracy) for "
            "categorical ones. ggap = train_acc - test_acc."
        ),
    )
    p.add_argument("library", type=Path)
    p.add_argument("--repr", default="swstats", help="representation (default swstats; hyper ...)")
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="representation parameter, e.g. encoder=DIR for hyper (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--target", action="append", required=True, metavar="COLUMN",
        help="snapshot column (test_acc, epoch, ggap, ...) or hyper-parameter (repeatable, or "
        "comma-separated)",
    )  # fmt: skip
    p.add_argument("--categorical", help="comma-separated numeric targets to classify instead")
    p.add_argument(
        "--snapshots", default=None,
        help="snapshot indices used as rows, comma-separated (default: all; negative from the end, "
        "with '=': --snapshots=-1,-2)",
    )  # fmt: skip
    p.add_argument("--seeds", type=int, default=3, help="split seeds (default 3)")
    add_common_arguments(p)
    p.set_defaults(run=_linear)


def _linear(args: argparse.Namespace) -> int:
    from weightspace.cli.options import (
        emit,
        failure_filter,
        int_list,
        representation_params,
        split_list,
    )
    from weightspace.library import Library
    from weightspace.probe.common import Selection
    from weightspace.probe.linear import linear_probe

    lib = Library(args.library)
    result = linear_probe(
        lib,
        [t for item in args.target for t in split_list(item)],
        representation=args.repr,
        params=representation_params(args.param),
        snapshots=int_list(args.snapshots, "--snapshots"),
        categorical=split_list(args.categorical),
        n_seeds=args.seeds,
        selection=Selection(failed=failure_filter(args), where=args.where),
        random_state=args.seed,
        progress=not args.quiet and not args.json,
    )
    return emit(result, args, lib, f"linear-{args.repr}")
