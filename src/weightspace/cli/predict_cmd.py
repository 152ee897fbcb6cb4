"""``weightspace predict fit|rank``: fit an accuracy predictor on a zoo, rank checkpoints with it.

``predict rank --json`` prints one object::

    {"predictor": str, "target": str, "representation": str, "model": str,
     "n_checkpoints": int, "n_far_from_zoo": int, "kendall_tau": float | null,
     "checkpoints": [{"rank": int, "source": str, "id": int | null, "prediction": float,
                      "zoo_distance": float, "zoo_percentile": float, "far_from_zoo": bool,
                      "warning": str | null, "true": float | null}, ...]}

``kendall_tau`` (predicted against true target) is there when ranking a library that has the
target column; ``id`` and ``true`` are null for checkpoint files. ``prediction`` is clipped to the
range of the training targets; the order (``rank``) and ``kendall_tau`` are those of the unclipped
scores, which clipping never changes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weightspace.errors import WeightspaceError

if TYPE_CHECKING:
    import pandas as pd

    from weightspace.predict import Predictor

__all__ = ["rank_document", "register"]


def register(commands: Any) -> None:
    """Add the ``predict`` command and its ``fit`` and ``rank`` sub-commands."""
    parser = commands.add_parser(
        "predict", help="predict test accuracy from weights: fit a predictor, rank checkpoints"
    )
    sub = parser.add_subparsers(dest="predict", metavar="ACTION")
    sub.required = True

    p = sub.add_parser(
        "fit",
        help="fit a predictor of a target (test_acc) on a library's final checkpoints",
        description=(
            "weightspace predict fit LIB --target test_acc --repr unterthiner --model gbt "
            "-o PREDICTOR: 80%% of the models train the regressor, 20%% select its "
            "hyper-parameter (validation Kendall tau); written without pickle."
        ),
    )
    p.add_argument("library", type=Path)
    p.add_argument("--target", default="test_acc", help="numeric column to predict (test_acc)")
    p.add_argument(
        "--repr", default="unterthiner",
        help="any registered representation (default unterthiner; layer-stats, swstats, "
        "stats, miwd, raw, ...)",
    )  # fmt: skip
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="representation parameter, e.g. S=16 (repeatable)",
    )  # fmt: skip
    p.add_argument("--model", choices=["ridge", "gbt", "mlp"], default="gbt")
    p.add_argument("-o", "--out", type=Path, required=True, help="predictor directory")
    p.add_argument("--where", help="SQL condition selecting the training models")
    p.add_argument("--snapshot", type=int, default=-1, help="snapshot of every model (-1: final)")
    p.add_argument("--validation", type=float, default=0.2, help="validation fraction (0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the regressor")
    p.add_argument("--json", action="store_true", help="print the fit's facts as JSON")
    p.set_defaults(run=_fit)

    p = sub.add_parser(
        "rank",
        help="rank checkpoints (files or another library) by predicted target",
        description=(
            "weightspace predict rank PREDICTOR a.safetensors b.pt ... | --library OTHER: best "
            "first, with a warning for checkpoints far from the training zoo."
        ),
    )
    p.add_argument("predictor", type=Path)
    p.add_argument("checkpoints", type=Path, nargs="*", help="checkpoint files")
    p.add_argument("--library", type=Path, help="rank the models of a library instead")
    p.add_argument("--where", help="SQL condition selecting the library's models")
    p.add_argument("--snapshot", type=int, default=-1, help="snapshot of every model (-1)")
    p.add_argument("--json", action="store_true", help="print the ranking as one JSON object")
    p.set_defaults(run=_rank)


def _fit(args: argparse.Namespace) -> int:
    from weightspace.cli.library_cmd import parse_meta
    from weightspace.library import Library
    from weightspace.predict import fit_predictor

    lib = Library(args.library)
    predictor = fit_predictor(
        lib,
        target=args.target,
        representation=args.repr,
        params=parse_meta(args.param),
        model=args.model,
        where=args.where,
        snapshot=args.snapshot,
        validation=args.validation,
        random_state=args.seed,
    )
    path = predictor.save(args.out)
    info = predictor.info
    facts = {
        "predictor": str(path),
        "target": predictor.target,
        "representation": predictor.representation,
        "model": predictor.model.kind,
        "n_train": info["n_train"],
        "n_val": info["n_val"],
        "val_kendall_tau": _number(info["val_kendall_tau"]),
        "val_r2": _number(info["val_r2"]),
    }
    if args.json:
        print(json.dumps(facts))
    else:
        print(
            f"fitted {facts['model']} on {facts['representation']} of {info['n_train']} models "
            f"({info['n_val']} for validation): validation Kendall tau "
            f"{info['val_kendall_tau']:.3f}, R^2 {info['val_r2']:.3f}\nwrote {path}"
        )
    return 0


def _number(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def rank_document(predictor: Predictor, path: Path, ranked: pd.DataFrame) -> dict[str, Any]:
    """The ``--json`` object of a ranking (see the module notes)."""
    from weightspace.predict import kendall_tau

    tau = None
    if "true" in ranked.columns and ranked["true"].notna().sum() >= 2:
        known = ranked[ranked["true"].notna()]
        tau = _number(kendall_tau(known["true"], known["score"]))
    items = []
    for r in ranked.to_dict("records"):
        far = bool(r["far_from_zoo"])
        items.append(
            {
                "rank": int(r["rank"]),
                "source": str(r["source"]),
                "id": int(r["id"]) if "id" in r else None,
                "prediction": float(r["prediction"]),
                "zoo_distance": float(r["zoo_distance"]),
                "zoo_percentile": float(r["zoo_percentile"]),
                "far_from_zoo": far,
                "warning": _warning(float(r["zoo_distance"]), predictor) if far else None,
                "true": _number(r["true"]) if "true" in r else None,
            }
        )
    return {
        "predictor": str(path),
        "target": predictor.target,
        "representation": predictor.representation,
        "model": predictor.model.kind,
        "n_checkpoints": len(items),
        "n_far_from_zoo": sum(item["far_from_zoo"] for item in items),
        "kendall_tau": tau,
        "checkpoints": items,
    }


def _warning(distance: float, predictor: Predictor) -> str:
    return (
        f"far from the training zoo: distance {distance:.3g} in "
        f"{predictor.representation}, above {100 * predictor.zoo.far_quantile:g}% of the training "
        "models' own; the prediction is an extrapolation"
    )


def _rank(args: argparse.Namespace) -> int:
    from weightspace.library import Library
    from weightspace.predict import load_predictor

    if bool(args.checkpoints) == (args.library is not None):
        raise WeightspaceError(
            "predict rank: give checkpoint files or --library LIB (one of the two)"
        )
    predictor = load_predictor(args.predictor)
    if args.library is not None:
        ranked = predictor.rank_library(
            Library(args.library), where=args.where, snapshot=args.snapshot
        )
    else:
        ranked = predictor.rank(args.checkpoints)
    doc = rank_document(predictor, args.predictor, ranked)
    if args.json:
        print(json.dumps(doc))
        return 0
    print(f"{'rank':>4}  {predictor.target + ' (pred.)':>16}  {'zoo %':>6}  source")
    for item in doc["checkpoints"]:
        flag = "  FAR FROM ZOO" if item["far_from_zoo"] else ""
        true = f" (true {item['true']:.4g})" if item["true"] is not None else ""
        print(
            f"{item['rank']:>4}  {item['prediction']:>16.4f}  {item['zoo_percentile']:>6.1f}  "
            f"{item['source']}{true}{flag}"
        )
    if doc["kendall_tau"] is not None:
        print(f"Kendall tau against the true {predictor.target}: {doc['kendall_tau']:.3f}")
    for item in doc["checkpoints"]:
        if item["warning"]:
            print(f"weightspace: warning: {item['source']}: {item['warning']}", file=sys.stderr)
    return 0
