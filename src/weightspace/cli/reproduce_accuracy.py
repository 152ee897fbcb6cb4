"""``weightspace reproduce accuracy-prediction``: ranking checkpoints by predicted accuracy.

Registered in :func:`weightspace.cli.reproduce_cmd.register` with ``register_accuracy(sub)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from weightspace.cli.options import emit, split_list
from weightspace.errors import WeightspaceError

__all__ = ["register_accuracy"]


def register_accuracy(subparsers: Any) -> None:
    """Add ``accuracy-prediction`` to the ``reproduce`` sub-commands."""
    p = subparsers.add_parser(
        "accuracy-prediction",
        help="rank checkpoints by accuracy predicted from weights: ours vs StatNN and NFN",
        description=(
            "NFN protocol on final checkpoints (50%% test, the rest 80/20 train/validation), "
            "several seeds: Kendall tau and R^2 of StatNN, gradient-boosted trees and ridge on "
            "every representation, and the peer NFNs (NP, HNP; optional package nfn), beside "
            "the published Small CNN Zoo numbers (another zoo); out-of-distribution rows fit "
            "on one dataset's zoo and rank another's."
        ),
    )
    p.add_argument("libraries", type=Path, nargs="+", help="zoo(s)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument(
        "--repr", help="comma-separated representations (default: unterthiner, swstats, "
        "layer-stats, stats, miwd, raw, and hyper with --encoder)",
    )  # fmt: skip
    p.add_argument(
        "--encoder", type=Path,
        help="a trained hyper-representation encoder (`learn train`) of the zoos' architecture: "
        "adds the hyper representation",
    )  # fmt: skip
    p.add_argument("--target", default="test_acc", help="numeric column to predict (test_acc)")
    p.add_argument("--where", help="SQL condition selecting models")
    p.add_argument("--no-peers", action="store_true", help="skip the NFNs")
    p.add_argument(
        "--peers", default="nfn-np,nfn-hnp", help="comma-separated NFNs (default nfn-np,nfn-hnp)"
    )
    p.add_argument("--peers-only", action="store_true", help="run only the NFNs")
    p.add_argument(
        "--nfn-batch-norm", choices=["fold", "ignore"], default="fold",
        help="fold batch norm into the NFN's inputs (NWS CNNs; default) or ignore it (a control)",
    )  # fmt: skip
    p.add_argument("--no-ood", action="store_true", help="skip the out-of-distribution rows")
    p.add_argument("--ood-peers", action="store_true", help="run the NFNs out of distribution too")
    p.add_argument(
        "--out", type=Path, help="report directory (default LIB/reports/accuracy-prediction)"
    )
    p.add_argument(
        "--epochs", type=int,
        help="epochs of the MLP and the NFNs (default: the published 50); a reduction, reported",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the result table as JSON records")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(run=_accuracy)


def _accuracy(args: argparse.Namespace) -> int:
    from weightspace.library import Library
    from weightspace.reproduce.accuracy_prediction import (
        accuracy_prediction_experiment,
        default_methods,
    )

    try:
        seeds = [int(s) for s in split_list(args.seeds)]
    except ValueError:
        raise WeightspaceError(f"--seeds {args.seeds!r}: expected integers, e.g. 0,1,2") from None
    if not seeds:
        raise WeightspaceError("--seeds: give at least one seed")
    reps = split_list(args.repr) if args.repr else None
    params: dict[str, dict[str, Any]] = {}
    if args.epochs is not None:
        if args.epochs < 1:
            raise WeightspaceError(f"--epochs must be a positive integer; got {args.epochs}")
        params = {"mlp": {"epochs": args.epochs}, "nfn": {"epochs": args.epochs}}
    peers = [] if args.no_peers else split_list(args.peers)
    methods = default_methods(
        reps, peers=peers, ours=not args.peers_only, hyper=args.encoder is not None
    )
    rep_params = {} if args.encoder is None else {"hyper": {"encoder": str(args.encoder)}}
    libs = [Library(path) for path in args.libraries]
    quiet = args.quiet or args.json

    def progress(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    result = accuracy_prediction_experiment(
        libs,
        methods=methods,
        seeds=seeds,
        target=args.target,
        where=args.where,
        ood=not args.no_ood,
        ood_peers=args.ood_peers,
        model_params=params,
        representation_params=rep_params,
        nfn_batch_norm=args.nfn_batch_norm,
        progress=None if quiet else progress,
    )
    return emit(result, args, libs[0])
