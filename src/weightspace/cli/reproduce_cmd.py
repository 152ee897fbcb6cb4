"""``weightspace reproduce ...``: the papers' tables and figures, ours beside theirs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from weightspace.cli.options import add_selection_arguments

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the ``reproduce`` command and its experiments."""
    parser = commands.add_parser(
        "reproduce", help="reproduce a paper's table or figure on a library"
    )
    sub = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    sub.required = True

    p = sub.add_parser(
        "invariance",
        help="MI-WD supplement Table 1: permutation invariance of representations",
    )
    p.add_argument("library", type=Path)
    p.add_argument("--models", type=int, default=100, help="models used (default 100)")
    p.add_argument("--permutations", type=int, default=10, help="permutations per model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--csv", type=Path,
        help="CSV output (default LIB/reports/invariance.csv); the Markdown report and its "
        "figure are written beside it",
    )  # fmt: skip
    p.add_argument("--plot", type=Path, help="also write a bar chart (PNG)")
    p.add_argument("--json", action="store_true", help="print the table as JSON records on stdout")
    add_selection_arguments(p)
    p.set_defaults(run=_invariance)

    from weightspace.cli.reproduce_accuracy import register_accuracy
    from weightspace.cli.reproduce_embeddings import register_embeddings
    from weightspace.cli.reproduce_htt import register_htt
    from weightspace.cli.reproduce_hyper import register_hyper
    from weightspace.cli.reproduce_performance_maps import register_performance_maps
    from weightspace.cli.reproduce_untangling import register_untangling

    register_untangling(sub)
    register_htt(sub)
    register_embeddings(sub)
    register_performance_maps(sub)
    register_hyper(sub)
    register_accuracy(sub)


def _invariance(args: argparse.Namespace) -> int:
    from weightspace.cli.options import failure_filter
    from weightspace.library import Library
    from weightspace.probe.common import Selection
    from weightspace.reproduce.invariance import invariance_experiment

    lib = Library(args.library)
    result = invariance_experiment(
        lib,
        selection=Selection(failed=failure_filter(args), where=args.where),
        n_models=args.models,
        n_permutations=args.permutations,
        random_state=args.seed,
    )
    frame = result.to_frame()
    csv = args.csv or lib.path / "reports" / "invariance.csv"
    report = result.write_report(csv.parent, stem=csv.stem)  # STEM.csv, STEM.md, STEM-ratios.png
    if report.table != csv:
        report.table.replace(csv)
    if args.plot is not None:
        result.plot().savefig(args.plot, dpi=120)
    if args.json:
        print(frame.to_json(orient="records"))
    else:
        print(result.summary())
        print(f"\nwrote {csv}")
    return 0
