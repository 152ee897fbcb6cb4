"""``weightspace reproduce embeddings``: MI-WD Fig. 4 and NWS Fig. 13, maps with numbers.

Registered in :func:`weightspace.cli.reproduce_cmd.register` with ``register_embeddings(sub)``,
``sub`` being the ``reproduce`` sub-parsers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from weightspace.cli.options import add_common_arguments, emit, failure_filter, split_list
from weightspace.errors import WeightspaceError

__all__ = ["register_embeddings"]


def register_embeddings(subparsers: Any) -> None:
    """Add ``embeddings`` to the ``reproduce`` sub-commands."""
    p = subparsers.add_parser(
        "embeddings",
        help="MI-WD Fig. 4 (UMAP of five representations) and NWS Fig. 13 (PCA and UMAP of "
        "snapshots along training), with k-NN and silhouette scores",
        description=(
            "Fig. 4: seeded UMAP maps of global statistics, raw, PCA, random projection and MI-WD "
            "of the last snapshots, coloured by initialization. Fig. 13: PCA and UMAP of every "
            "snapshot's conv-layer weights, coloured by hyper-parameters, training progress and "
            "test error. Prints the scores (k-NN accuracy of each colouring from a point's "
            "neighbours, in the map and in the features; silhouette) and writes a report with "
            "the figures. Every model is kept unless --filter is given."
        ),
    )
    p.add_argument("library", type=Path)
    p.add_argument("--figure", choices=["4", "13", "all"], default="all", help="default all")
    p.add_argument("--color-by", default="init", help="colouring of Fig. 4 (default init)")
    p.add_argument(
        "--targets",
        help="columns scored in Fig. 4 (default dataset,optimizer,activation,init,augmentation)",
    )
    p.add_argument(
        "--dim", type=int, default=1024,
        help="size K of raw, PCA, random projection and MI-WD in Fig. 4 (a square; default 1024)",
    )  # fmt: skip
    p.add_argument(
        "--resample-to", type=int, default=65536,
        help="resampled length for PCA and random projection (default 65536, the paper's)",
    )  # fmt: skip
    p.add_argument(
        "--repr", choices=["raw", "miwd"], default="raw",
        help="Fig. 13 points: raw weights (one architecture) or MI-WD of each snapshot",
    )  # fmt: skip
    p.add_argument(
        "--layers", choices=["conv", "all"], default="conv",
        help="Fig. 13: the conv layers' weights (default, the paper's) or all weights",
    )  # fmt: skip
    p.add_argument(
        "--roles",
        help="Fig. 13: only tensors of these roles, e.g. kernel,bias,bn_gamma,bn_beta (leaves out "
        "the batch-norm running statistics; default: all, as the paper)",
    )
    p.add_argument("--colors", help="Fig. 13 colourings (default: the paper's eight)")
    p.add_argument("--models", type=int, help="Fig. 13: this many trainings at random (all)")
    p.add_argument("--arch", help="Fig. 13: architecture id (default: the largest group)")
    p.add_argument("--components", type=int, default=10, help="Fig. 13: PCs fed to UMAP (10)")
    p.add_argument("--n-neighbors", type=int, default=15, help="UMAP neighbours (default 15)")
    p.add_argument("--min-dist", type=float, default=0.1, help="UMAP min_dist (default 0.1)")
    p.add_argument("--k", type=int, default=5, help="neighbours of the k-NN scores (default 5)")
    add_common_arguments(p)
    p.add_argument(
        "--filter", dest="no_filter", action="store_false",
        help="reject failed trainings (by --threshold / --chance-multiple); default: keep all",
    )  # fmt: skip
    p.set_defaults(run=_embeddings, no_filter=True)


def _embeddings(args: argparse.Namespace) -> int:
    from weightspace.library import Library
    from weightspace.probe.common import Selection
    from weightspace.reproduce.embeddings import (
        TRAINING_COLORS,
        representation_maps,
        training_maps,
    )
    from weightspace.reproduce.untangling import DEFAULT_TARGETS

    targets = split_list(args.targets) if args.targets is not None else list(DEFAULT_TARGETS)
    colors = split_list(args.colors) if args.colors is not None else list(TRAINING_COLORS)
    if not targets or not colors:
        raise WeightspaceError("give at least one column to --targets and to --colors")
    lib = Library(args.library)
    selection = Selection(failed=failure_filter(args), where=args.where)
    parts = []
    if args.figure in ("4", "all"):
        parts.append(
            representation_maps(
                lib,
                color_by=args.color_by,
                targets=targets,
                K=args.dim,
                selection=selection,
                n_neighbors=args.n_neighbors,
                min_dist=args.min_dist,
                k=args.k,
                resample_to=args.resample_to,
                random_state=args.seed,
                progress=not args.quiet and not args.json,
            )
        )
    if args.figure in ("13", "all"):
        parts.append(
            training_maps(
                lib,
                representation=args.repr,
                layers=args.layers,
                roles=split_list(args.roles) if args.roles is not None else None,
                colors=colors,
                models=args.models,
                selection=selection,
                arch=args.arch,
                n_components=args.components,
                n_neighbors=args.n_neighbors,
                min_dist=args.min_dist,
                k=args.k,
                random_state=args.seed,
            )
        )
    result = parts[0]
    for part in parts[1:]:
        result = result.merge(part)
    return emit(result, args, lib, "embeddings")
