"""``weightspace reproduce hyper-representations``: Schürholt et al.'s comparison on a zoo.

Registered in :func:`weightspace.cli.reproduce_cmd.register` with ``register_hyper(sub)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from weightspace.cli.options import add_common_arguments, emit, int_list, opt_in_failure_filter

__all__ = ["register_hyper"]


def register_hyper(subparsers: Any) -> None:
    """Add ``hyper-representations`` to the ``reproduce`` sub-commands."""
    p = subparsers.add_parser(
        "hyper-representations",
        help="Schürholt et al. 2021: encoders E_cD, E_c, E_D vs W, s(W), layer-stats, MI-WD",
        description=(
            "Trains (or reuses) the encoders E_cD, E_c and E_D on every snapshot of the zoo "
            "(kept in ZOO/encoders or --encoders), probes them and the baselines with linear "
            "probes split by model, prints one table beside the paper's MNIST-HYP numbers and "
            "writes a report; --ood ZOO2 adds the out-of-distribution rows. Every model is "
            "probed, as in the paper (--threshold DATASET=ACC rejects failed trainings)."
        ),
    )
    p.add_argument("library", type=Path, help="the zoo (one architecture, with snapshot records)")
    p.add_argument("--ood", type=Path, help="another zoo of the architecture (OOD rows)")
    p.add_argument("--encoders", type=Path, help="encoder folders (default ZOO/encoders)")
    p.add_argument("--targets", help="comma-separated targets (default: the paper's present)")
    p.add_argument("--tokens", choices=["neuron", "chunk"], default="neuron")
    p.add_argument("--epochs", type=int, default=30, help="encoder epochs (30)")
    p.add_argument("--patience", type=int, default=8)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--gamma", type=float, default=0.1, help="contrastive weight of E_cD (0.1)")
    p.add_argument("--seeds", type=int, default=3, help="probe split seeds (3)")
    p.add_argument("--snapshots", default=None, help="probe rows: snapshot indices (default all)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    add_common_arguments(p)
    p.set_defaults(run=_hyper)


def _hyper(args: argparse.Namespace) -> int:
    from weightspace.cli.options import split_list
    from weightspace.learn.train import TrainSettings
    from weightspace.library import Library
    from weightspace.probe.common import Selection
    from weightspace.reproduce.hyper import hyper_experiment

    settings = TrainSettings(
        tokens=args.tokens,
        epochs=args.epochs,
        patience=args.patience,
        d_model=args.d_model,
        latent=args.latent,
        gamma=args.gamma,
        seed=args.seed,
    )
    lib = Library(args.library)
    result = hyper_experiment(
        lib,
        ood=Library(args.ood) if args.ood is not None else None,
        encoders=args.encoders,
        settings=settings,
        targets=split_list(args.targets) if args.targets else None,
        n_seeds=args.seeds,
        snapshots=int_list(args.snapshots, "--snapshots"),
        # The paper probes every model; --threshold DATASET=ACC rejects trainings below ACC.
        selection=Selection(failed=opt_in_failure_filter(args), where=args.where),
        random_state=args.seed,
        device=args.device,
        progress=not args.quiet and not args.json and sys.stderr.isatty(),
        log=None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True)),
    )
    return emit(result, args, lib, "hyper-representations")
