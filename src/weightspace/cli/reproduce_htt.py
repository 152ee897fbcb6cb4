"""``weightspace reproduce htt``: hypothesis-training-testing, chain-normalized vs unnormalized.

Registered in :func:`weightspace.cli.reproduce_cmd.register` with ``register_htt(sub)``, ``sub``
being the ``reproduce`` sub-parsers.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from weightspace.cli.options import add_common_arguments, emit, opt_in_failure_filter, split_list
from weightspace.errors import WeightspaceError

__all__ = ["register_htt"]


def register_htt(subparsers: Any) -> None:
    """Add ``htt`` to the ``reproduce`` sub-commands."""
    p = subparsers.add_parser(
        "htt",
        help="chain normalization paper: weight classification and retrieval on task zoos",
        description=(
            "Hypothesis-training-testing on task zoos (weightspace zoo generate --preset "
            "htt-mnist10k-mlp / htt-mnist10k-cnn): a linear weight classifier on chain-normalized "
            "Gram matrices and on unnormalized layer weights, per chain; classification top-1 "
            "(60/40 trainings per task) and retrieval CMC/mAP (unseen tasks), accepted at "
            "significance level alpha. Prints the table beside the paper's and writes a report."
        ),
    )
    p.add_argument("libraries", type=Path, nargs="+", help="task zoo(s), one architecture each")
    p.add_argument("--task-column", default="task", help="column of the task (default task)")
    p.add_argument(
        "--features", default="chain,layer,gram",
        help="feature kinds: chain (normalized), layer (unnormalized), gram (no row norm)",
    )  # fmt: skip
    p.add_argument("--chains", help="comma-separated chains, 1-based (default all)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    p.add_argument("--repeats", type=int, default=5, help="random splits per protocol (5)")
    p.add_argument(
        "--weight-decay", type=float, default=1e-3, help="the classifier's L2 penalty (1e-3)"
    )
    p.add_argument("--snapshot", type=int, default=-1, help="snapshot of every training (-1)")
    p.add_argument("--no-control", action="store_true", help="skip the initialization control")
    add_common_arguments(p)
    p.set_defaults(run=_htt)


def _htt(args: argparse.Namespace) -> int:
    from weightspace.library import Library
    from weightspace.probe.common import Selection
    from weightspace.reproduce.htt import htt_experiment

    try:
        chains = [int(c) for c in split_list(args.chains)] if args.chains else None
    except ValueError:
        raise WeightspaceError(f"--chains {args.chains!r}: expected integers, e.g. 1,2") from None
    if args.repeats < 1:
        raise WeightspaceError(f"--repeats must be a positive integer; got {args.repeats}")
    # The paper filters nothing; --threshold DATASET=ACC rejects trainings below ACC, DATASET
    # naming the tasks' dataset (task_dataset column, e.g. mnist10k=0.9).
    base = opt_in_failure_filter(args)
    failed = (
        None
        if base is None
        else dataclasses.replace(base, dataset_column="task_dataset", default=0.0)
    )
    libs = [Library(path) for path in args.libraries]
    result = htt_experiment(
        libs,
        features=split_list(args.features),
        control=not args.no_control,
        selection=Selection(failed=failed, where=args.where),
        task_column=args.task_column,
        chains=chains,
        alpha=args.alpha,
        n_repeats=args.repeats,
        weight_decay=args.weight_decay,
        snapshot=args.snapshot,
        random_state=args.seed,
    )
    return emit(result, args, libs[0], "htt")
