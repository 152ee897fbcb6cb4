"""``weightspace probe ...``: SVM meta-classifiers and the accuracy regression on a library.

Every probe prints its summary (or, with ``--json``, its result table as JSON records on stdout)
and writes a Markdown report with its table (CSV) and PNG figures into ``LIB/reports/<probe>/``
(or ``--out DIR``). The helpers :func:`add_common_arguments`, :func:`failure_filter` and
:func:`emit` are shared with ``weightspace reproduce untangling``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weightspace.errors import WeightspaceError

if TYPE_CHECKING:
    from weightspace.library import Library
    from weightspace.probe import FailureFilter, ProbeResult

__all__ = ["add_common_arguments", "emit", "failure_filter", "register", "split_list"]


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


def add_common_arguments(p: argparse.ArgumentParser, *, seed: bool = True) -> None:
    """Selection, failed-training filter, seed (when the probe draws at random) and output
    options shared by the probes."""
    add_selection_arguments(p)
    if seed:
        p.add_argument("--seed", type=int, default=0, help="seed of balancing and folds")
    p.add_argument("--out", type=Path, help="report directory (default LIB/reports/<probe>)")
    p.add_argument(
        "--json", action="store_true", help="print the result table as JSON records on stdout"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_selection_arguments(p: argparse.ArgumentParser) -> None:
    """``--where`` and the failed-training filter (read back with :func:`failure_filter`)."""
    p.add_argument("--where", help="SQL condition selecting models")
    p.add_argument(
        "--no-filter", action="store_true", help="keep failed trainings (no accuracy threshold)"
    )
    p.add_argument(
        "--threshold", action="append", default=[], metavar="DATASET=ACC",
        help="failed-training threshold for a dataset, e.g. mnist=0.8 (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--chance-multiple", type=float, default=2.0,
        help="threshold of datasets without one: this many times chance (default 2)",
    )  # fmt: skip


def split_list(text: str | None) -> list[str]:
    """``"a,b, c"`` -> ``["a", "b", "c"]`` (empty items dropped)."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def failure_filter(args: argparse.Namespace) -> FailureFilter | None:
    """The :class:`~weightspace.probe.FailureFilter` the options ask for (None: --no-filter)."""
    from weightspace.probe import NWS_THRESHOLDS, FailureFilter

    if args.no_filter:
        return None
    thresholds = dict(NWS_THRESHOLDS)
    for item in args.threshold:
        name, _, value = item.partition("=")
        try:
            accuracy = float(value)
        except ValueError:
            accuracy = float("nan")
        if not name.strip() or not 0.0 <= accuracy <= 1.0:
            raise WeightspaceError(
                f"--threshold {item!r}: expected DATASET=ACCURACY with an accuracy in [0, 1], "
                "e.g. --threshold mnist=0.8"
            )
        thresholds[name.strip()] = accuracy
    if args.chance_multiple <= 0:
        raise WeightspaceError(f"--chance-multiple must be positive; got {args.chance_multiple}")
    return FailureFilter(thresholds=thresholds, chance_multiple=args.chance_multiple)


def emit(result: ProbeResult, args: argparse.Namespace, lib: Library, stem: str) -> int:
    """Write the report, then print the summary (or the JSON records); return 0.

    The paper's numbers stand beside ours (:func:`weightspace.reproduce.papers.with_paper`)."""
    from weightspace.reproduce.papers import with_paper

    result = with_paper(result)
    out = args.out if args.out is not None else lib.path / "reports" / result.probe
    report = result.write_report(out, stem=stem)
    if args.json:
        print(result.to_frame().to_json(orient="records"))
        print(f"wrote {report.markdown}", file=sys.stderr)
    else:
        print(result.summary())
        print(f"\nwrote {report.markdown} ({len(report.figures)} figure(s), {report.table.name})")
    return 0


def _params(items: list[str]) -> dict[str, Any]:
    from weightspace.cli.library_cmd import parse_meta

    params = parse_meta(items)
    if isinstance(params.get("value_range"), str):
        lo, _, hi = params["value_range"].partition(",")
        params["value_range"] = (float(lo), float(hi))
    return params


def int_list(text: str | None, option: str) -> list[int] | None:
    """``"-1,-2"`` -> ``[-1, -2]`` (None stays None); a clear error for anything else."""
    if text is None:
        return None
    try:
        values = [int(t) for t in split_list(text)]
    except ValueError:
        raise WeightspaceError(f"{option} {text!r}: expected integers, e.g. -1,-2") from None
    if not values:
        raise WeightspaceError(f"{option}: give at least one value")
    return values


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
        params=_params(args.param),
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

    lib = Library(args.library)
    categorical = split_list(args.categorical) if args.categorical is not None else None
    result = accuracy_regression(
        lib,
        categorical=categorical,
        ordered=split_list(args.ordered),
        metric=args.metric,
        normalize=args.normalize,
        coding=args.coding,
        failed=failure_filter(args),
        where=args.where,
    )
    return emit(result, args, lib, "regression")
