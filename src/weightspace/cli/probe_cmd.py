"""``weightspace probe ...``: SVM meta-classifiers and the accuracy regression on a library.

Every probe prints its summary (or, with ``--json``, its result table as JSON records on stdout)
and writes a Markdown report with its table (CSV) and PNG figures into ``LIB/reports/<probe>/``
(or ``--out DIR``). The options and output helpers shared with ``weightspace reproduce ...`` are in
:mod:`weightspace.cli.options`.
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
    representation_params,
    split_list,
)

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the ``probe`` command and its ``svm`` and ``regression`` sub-commands."""
    parser = commands.add_parser(
        "probe", help="probe a library: SVM meta-classifiers, accuracy regression"
    )
    sub = parser.add_subparsers(dest="probe", metavar="PROBE")
    sub.required = True

    p = sub.add_parser(
        "svm",
        help="classify hyper-parameters from a representation with linear or RBF SVMs",
        description=(
            "weightspace probe svm LIB --repr layer-stats --target optimizer "
            "[--kernel linear|rbf] [--folds 5] [--repeats 3]"
        ),
    )
    p.add_argument("library", type=Path)
    p.add_argument(
        "--repr",
        default="layer-stats",
        help="representation: layer-stats (default), stats, miwd, swstats, raw, pca, randproj",
    )
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="representation parameter, e.g. S=16 (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--target", action="append", required=True, metavar="COLUMN",
        help="categorical hyper-parameter to classify (repeatable, or comma-separated)",
    )  # fmt: skip
    p.add_argument("--kernel", choices=["linear", "rbf"], default="linear")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--repeats", type=int, default=3, help="repeats of the k-fold (default 3)")
    p.add_argument("--C", type=float, default=1.0, dest="C", help="SVM regularization (1.0)")
    p.add_argument(
        "--snapshots", default="-1",
        help="snapshot indices used as samples, comma-separated (default -1: the last; "
        "several with '=': --snapshots=-1,-2,-3,-4)",
    )  # fmt: skip
    p.add_argument("--no-balance", action="store_true", help="do not balance the classes")
    p.add_argument(
        "--no-standardize", action="store_true",
        help="do not standardize the features (they then weigh by their own scale)",
    )  # fmt: skip
    add_common_arguments(p)
    p.set_defaults(run=_svm)

    p = sub.add_parser(
        "regression",
        help="regress the normalized test accuracy on hyper-parameters, per dataset (OLS)",
    )
    p.add_argument("library", type=Path)
    p.add_argument(
        "--categorical",
        help="comma-separated categorical hyper-parameters (default: every hparam column with "
        "2-12 values, except dataset and seed)",
    )
    p.add_argument(
        "--ordered", default="learning_rate",
        help="comma-separated ordered hyper-parameters (default learning_rate)",
    )  # fmt: skip
    p.add_argument("--metric", default="test_acc", help="accuracy column (default test_acc)")
    p.add_argument("--normalize", choices=["minmax", "zscore", "none"], default="minmax")
    p.add_argument("--coding", choices=["effect", "treatment"], default="effect")
    add_common_arguments(p, seed=False)
    p.set_defaults(run=_regression)

    from weightspace.cli.probe_dmc import register_dmc
    from weightspace.cli.probe_linear import register_linear

    register_dmc(sub)
    register_linear(sub)


def _svm(args: argparse.Namespace) -> int:
    from weightspace.library import Library
    from weightspace.probe import svm_probe
    from weightspace.probe.common import Selection

    lib = Library(args.library)
    targets = [t for item in args.target for t in split_list(item)]
    result = svm_probe(
        lib,
        targets,
        representation=args.repr,
        params=representation_params(args.param),
        kernel=args.kernel,
        C=args.C,
        n_splits=args.folds,
        n_repeats=args.repeats,
        snapshots=int_list(args.snapshots, "--snapshots") or [-1],
        balance=not args.no_balance,
        standardize=not args.no_standardize,
        selection=Selection(failed=failure_filter(args), where=args.where),
        random_state=args.seed,
        progress=not args.quiet and not args.json,
    )
    return emit(result, args, lib, f"svm-{args.repr}-{args.kernel}")


def _regression(args: argparse.Namespace) -> int:
    from weightspace.library import Library
    from weightspace.probe import accuracy_regression
    from weightspace.probe.common import Selection

    lib = Library(args.library)
    categorical = split_list(args.categorical) if args.categorical is not None else None
    result = accuracy_regression(
        lib,
        categorical=categorical,
        ordered=split_list(args.ordered),
        metric=args.metric,
        normalize=args.normalize,
        coding=args.coding,
        selection=Selection(failed=failure_filter(args), where=args.where),
    )
    return emit(result, args, lib, "regression")
