"""``weightspace atlas``: the model atlas as a web app (``serve``) or a self-contained file (``export``).

``weightspace atlas serve LIB [--host 127.0.0.1] [--port 8050] [--allowed-host NAME]
[--max-weights N]`` maps a library (or an atlas saved as JSON) and serves the Dash app, answering
only the host names it is served on; ``weightspace atlas export LIB -o atlas.html [--png map.png]
[--json atlas.json]`` writes the same atlas as one HTML file that opens with no server or network,
a static figure, or the serialized atlas.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weightspace.cli.options import representation_params
from weightspace.errors import WeightspaceError
from weightspace.io.limits import UPLOAD_MAX_WEIGHTS

if TYPE_CHECKING:
    from weightspace.atlas import Atlas

__all__ = ["load_or_build", "register"]


def register(commands: Any) -> None:
    """Add the ``atlas`` command with its ``serve`` and ``export`` sub-commands."""
    p = commands.add_parser(
        "atlas",
        help="map a library's models (UMAP of MI-WD descriptors): web app or HTML file",
        description="weightspace atlas serve LIB | weightspace atlas export LIB -o atlas.html",
    )
    sub = p.add_subparsers(dest="atlas_command", metavar="SUBCOMMAND")
    sub.required = True

    serve = sub.add_parser("serve", help="serve the interactive atlas (Dash) on 127.0.0.1")
    _common(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8050, help="port (default: 8050)")
    serve.add_argument(
        "--max-upload-mb", type=float, default=200.0, help="largest checkpoint upload (MB)"
    )
    serve.add_argument(
        "--max-weights", type=int, default=UPLOAD_MAX_WEIGHTS,
        help=f"most weights an uploaded checkpoint may declare (default: {UPLOAD_MAX_WEIGHTS:,})",
    )  # fmt: skip
    serve.add_argument("--upload-dir", type=Path, help="where uploads' temporary folders are made")
    serve.add_argument(
        "--allowed-host", action="append", default=[], metavar="NAME[:PORT]",
        help="also answer this Host name (a reverse proxy's; repeatable); the app refuses every "
        "other name than the address it is bound to (and localhost on loopback)",
    )  # fmt: skip
    serve.set_defaults(run=_serve)

    export = sub.add_parser("export", help="write the atlas as one self-contained HTML file")
    _common(export)
    export.add_argument("-o", "--out", type=Path, help="the HTML file to write")
    export.add_argument("--png", type=Path, help="also write a static figure of the map (PNG)")
    export.add_argument("--json", type=Path, help="also write the serialized atlas (JSON)")
    export.set_defaults(run=_export)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", type=Path, help="a library directory, or an atlas .json file")
    p.add_argument("--color-by", help="the colouring shown first (a column name)")
    p.add_argument("--repr", default="miwd", help="representation to map (default: miwd)")
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="representation parameter, e.g. S=16 or value_range=-5,5 (repeatable)",
    )  # fmt: skip
    p.add_argument("--where", help="SQL condition selecting library models")
    p.add_argument("--snapshot", type=int, default=-1, help="snapshot index (default: the last)")
    p.add_argument("--n-neighbors", type=int, default=15, help="UMAP n_neighbors (default: 15)")
    p.add_argument("--min-dist", type=float, default=0.1, help="UMAP min_dist (default: 0.1)")
    p.add_argument("--metric", default="euclidean", help="UMAP metric (default: euclidean)")
    p.add_argument("--pca", type=int, help="reduce descriptors to this many components first")
    p.add_argument("--seed", type=int, default=0, help="random state of the embedding")
    p.add_argument("--no-cache", action="store_true", help="recompute descriptors and the map")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def load_or_build(args: argparse.Namespace) -> Atlas:
    """The atlas of ``args.source``: read from JSON, or built from a library (cached)."""
    from weightspace.atlas import Atlas, build_atlas

    source: Path = args.source
    if source.is_file() and source.suffix == ".json":
        return Atlas.load(source)
    return build_atlas(
        source,
        representation=args.repr,
        params=representation_params(args.param),
        snapshot=args.snapshot,
        where=args.where,
        n_neighbors=args.n_neighbors,
        min_dist=args.min_dist,
        metric=args.metric,
        pca_components=args.pca,
        random_state=args.seed,
        cache=not args.no_cache,
        progress=not args.quiet,
    )


def _serve(args: argparse.Namespace) -> int:
    from weightspace.atlas import serve
    from weightspace.atlas.hosts import parse_host

    if args.max_upload_mb <= 0:
        raise WeightspaceError(f"--max-upload-mb must be positive; got {args.max_upload_mb}")
    if args.max_weights <= 0:
        raise WeightspaceError(f"--max-weights must be a positive integer; got {args.max_weights}")
    for name in args.allowed_host:
        if parse_host(name) is None:
            raise WeightspaceError(
                f"--allowed-host {name!r}: expected a host name or NAME:PORT, e.g. atlas.example.org"
            )
    atlas = load_or_build(args)
    if atlas.colorings and args.color_by:
        atlas.coloring(args.color_by)
    if not _is_loopback(args.host):
        print(
            f"weightspace: warning: serving on {args.host}, reachable from other machines; "
            "the app has no authentication (it answers only the address it is bound to, IP "
            "addresses if bound to all, and the names given with --allowed-host)",
            file=sys.stderr,
        )
    print(f"atlas of {len(atlas):,} models at http://{args.host}:{args.port}/ (Ctrl-C to stop)")
    serve(
        atlas,
        host=args.host,
        port=args.port,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_weights=args.max_weights,
        upload_dir=args.upload_dir,
        allowed_hosts=args.allowed_host,
        color_by=args.color_by,
    )
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _export(args: argparse.Namespace) -> int:
    from weightspace.atlas import export_html
    from weightspace.atlas.figures import save_png

    if args.out is None and args.png is None and args.json is None:
        raise WeightspaceError("give -o atlas.html (and/or --png map.png, --json atlas.json)")
    if args.out is not None and args.out.suffix.lower() not in (".html", ".htm"):
        raise WeightspaceError(f"{args.out}: the output must end in .html")
    atlas = load_or_build(args)
    if args.color_by:
        atlas.coloring(args.color_by)
    if args.out is not None:
        export_html(atlas, args.out, color_by=args.color_by)
        print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MB, {len(atlas):,} models)")
    if args.png is not None:
        save_png(atlas, args.png, color_by=args.color_by)
        print(f"wrote {args.png}")
    if args.json is not None:
        atlas.save(args.json)
        print(f"wrote {args.json}")
    return 0
