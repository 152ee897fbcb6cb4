"""``weightspace reproduce performance-maps``: NWS Fig. 5 (maps) and Fig. 18 (subset size).

The lead wires it in :func:`weightspace.cli.reproduce_cmd.register` with
``register_performance_maps(sub)``, ``sub`` being the ``reproduce`` sub-parsers.
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
from weightspace.cli.probe_dmc import add_training_arguments
from weightspace.errors import WeightspaceError

__all__ = ["register_performance_maps"]


def register_performance_maps(subparsers: Any) -> None:
    """Add ``performance-maps`` to the ``reproduce`` sub-commands."""
    p = subparsers.add_parser(
        "performance-maps",
        help="NWS Fig. 5 and 18: local DMC accuracy by depth and training progress; subset size",
        description=(
            "Trains a local DMC per target on windows from all snapshots and scores it in a "
            "grid of depth bins x snapshots (heat maps as NWS Fig. 5), then local DMCs at "
            "several window sizes (NWS Fig. 18). Prints the summary and writes a report with "
            "the figures."
        ),
    )
    p.add_argument("library", type=Path)
    p.add_argument(
        "--target", action="append", metavar="COLUMN",
        help="map targets (repeatable or comma-separated; default: dataset, batch_size, "
        "augmentation, optimizer, activation, init and the architecture columns the library has)",
    )  # fmt: skip
    p.add_argument(
        "--regions", default="all",
        help="comma-separated regions, one map each: all, conv, fc (default all)",
    )  # fmt: skip
    p.add_argument(
        "--window", type=int,
        help="window size (default: 5%% of the median model, at most 5000, as the paper's)",
    )  # fmt: skip
    p.add_argument("--depth-bins", type=int, default=20, help="depth bins (default 20)")
    p.add_argument(
        "--windows-per-cell", type=int, default=4,
        help="windows per test model and map cell (default 4)",
    )  # fmt: skip
    p.add_argument("--no-study", action="store_true", help="skip the subset-size study")
    p.add_argument(
        "--study-targets",
        help="targets of the subset-size study (default: dataset, optimizer, activation, init, "
        "augmentation, those mapped)",
    )
    p.add_argument(
        "--study-sizes",
        help="window sizes (or, with --vary models, training models), comma-separated "
        "(default 64, 256, 1024, ... up to half the shortest model)",
    )
    p.add_argument(
        "--study-steps", type=int, default=1000, help="steps per study DMC (default 1000)"
    )
    p.add_argument(
        "--vary", choices=["window", "models"], default="window",
        help="the study varies the window size (Fig. 18) or the number of training models",
    )  # fmt: skip
    add_training_arguments(p, steps=2000)
    add_common_arguments(p)
    p.set_defaults(run=_performance_maps)


def _performance_maps(args: argparse.Namespace) -> int:
    from weightspace.library import Library
    from weightspace.probe.common import Selection
    from weightspace.probe.dmc import DMCConfig
    from weightspace.reproduce.performance_maps import performance_maps_experiment

    targets = [t for item in args.target for t in split_list(item)] if args.target else None
    regions = split_list(args.regions)
    if not regions:
        raise WeightspaceError("--regions: give at least one of all, conv, fc")
    lib = Library(args.library)
    config = DMCConfig(
        kind="local", width=args.width, steps=args.steps, epochs=args.epochs, device=args.device
    )
    result = performance_maps_experiment(
        lib,
        config,
        selection=Selection(failed=failure_filter(args), where=args.where),
        targets=targets,
        regions=regions,
        window=args.window,
        depth_bins=args.depth_bins,
        windows_per_cell=args.windows_per_cell,
        study=not args.no_study,
        study_targets=split_list(args.study_targets) if args.study_targets else None,
        study_sizes=int_list(args.study_sizes, "--study-sizes"),
        study_steps=args.study_steps,
        vary=args.vary,
        n_splits=args.folds,
        rounds=args.rounds,
        random_state=args.seed,
        progress=not args.quiet and not args.json,
    )
    return emit(result, args, lib, "performance-maps")
