"""Options and output shared by the commands (``probe``, ``reproduce``, ``describe``, ``atlas``).

:func:`add_common_arguments` and :func:`add_selection_arguments` add the probes' options,
:func:`failure_filter`, :func:`split_list`, :func:`int_list` and :func:`representation_params`
(``--param KEY=VALUE`` of every command that takes a representation) read them back, and
:func:`emit` writes a probe's report and prints its summary.
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

__all__ = [
    "add_common_arguments",
    "add_selection_arguments",
    "emit",
    "failure_filter",
    "int_list",
    "opt_in_failure_filter",
    "representation_params",
    "split_list",
]


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


def opt_in_failure_filter(args: argparse.Namespace) -> FailureFilter | None:
    """For the reproductions of papers that filter nothing: no filter unless ``--threshold`` is
    given (and ``--no-filter`` is not); then :func:`failure_filter`."""
    return failure_filter(args) if args.threshold and not args.no_filter else None


def emit(
    result: ProbeResult, args: argparse.Namespace, lib: Library, stem: str | None = None
) -> int:
    """Write the report (into ``--out``, default ``LIB/reports/<probe>``; ``stem`` names its files,
    default the probe), then print the summary (or the JSON records with ``--json``); return 0.

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


def representation_params(items: list[str]) -> dict[str, Any]:
    """``--param KEY=VALUE`` items -> representation parameters (``value_range=-5,5`` a pair)."""
    from weightspace.cli.library_cmd import parse_meta

    params = parse_meta(items)
    if isinstance(params.get("value_range"), str):
        lo, _, hi = params["value_range"].partition(",")
        try:
            params["value_range"] = (float(lo), float(hi))
        except ValueError:
            raise WeightspaceError(
                f"--param value_range={params['value_range']!r}: expected two numbers, e.g. -5,5"
            ) from None
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
