"""``weightspace demo``: the main job on the embedded default data.

Builds (or reuses: it is resumable and cached) the ``demo`` zoo preset in ``.cache/demo/zoo``,
prints what it holds (the library summary, test accuracy per dataset and hyper-parameter), maps
it (MI-WD 32 x 32 descriptors of the last snapshots, UMAP; cached in the library), writes the
self-contained ``.cache/demo/atlas.html`` and serves the interactive atlas on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the ``demo`` command."""
    p = commands.add_parser(
        "demo", help="generate the demo zoo (cached) and summarize what its weights hold"
    )
    p.add_argument("--out", type=Path, default=Path(".cache/demo"), help="output directory")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-serve", action="store_true", help="write atlas.html but start no server")
    p.add_argument("--port", type=int, default=8050, help="port of the atlas server (127.0.0.1)")
    p.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    from weightspace.library import Library
    from weightspace.zoo.generate import generate_zoo
    from weightspace.zoo.presets import get_preset

    plan = get_preset("demo")
    zoo = args.out / "zoo"
    workers = args.workers if args.workers is not None else max(1, os.cpu_count() or 1)
    print(f"demo zoo: {plan.description}")
    report = generate_zoo(plan, zoo, workers=workers, progress=not args.quiet)
    print(
        f"{report.trained} model(s) trained now, {report.already_done} reused from {zoo} "
        f"({report.seconds:.0f} s)\n"
    )
    lib = Library(zoo)
    print(lib.info().to_text())
    frame = lib.query()
    print("\ntest accuracy by dataset (min / median / max) and failed trainings (near chance):")
    by = frame.groupby("dataset")["test_acc"]
    summary = by.agg(["count", "min", "median", "max"])
    summary["near_chance"] = by.apply(lambda s: int((s < 0.2).sum()))
    print(summary.round(3).to_string())
    for column in ("optimizer", "activation", "init"):
        table = frame.groupby(column)["test_acc"].median().round(3)
        print(
            f"\nmedian test accuracy by {column}: "
            + ", ".join(f"{k} {v}" for k, v in table.items())
        )
    print(
        f'\nexplore: weightspace library list {zoo} --where "test_acc > 0.9" --columns id,dataset,optimizer,activation,test_acc'
    )
    return _atlas(args, zoo)


def _atlas(args: argparse.Namespace, zoo: Path) -> int:
    from weightspace.atlas import build_atlas, export_html, serve

    print("\nmapping the zoo (MI-WD 32 x 32 of the last snapshot, UMAP) ...")
    atlas = build_atlas(zoo, progress=not args.quiet)
    html = args.out / "atlas.html"
    export_html(atlas, html)
    print(f"wrote {html} (opens with no server: {html.resolve().as_uri()})")
    if args.no_serve:
        return 0
    print(
        f"\natlas of {len(atlas):,} models at http://127.0.0.1:{args.port}/ (Ctrl-C to stop)\n"
        "  drag a box or lasso on the map: the panel shows the selection's descriptors and\n"
        "  hyper-parameters; 'Keep as A' stores it; kept selections are compared side by side"
    )
    serve(atlas, host="127.0.0.1", port=args.port)
    return 0
