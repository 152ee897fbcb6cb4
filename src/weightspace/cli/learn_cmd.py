"""``weightspace learn ...``: train hyper-representation encoders on a zoo, and describe them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the ``learn`` command and its ``train`` and ``info`` sub-commands."""
    parser = commands.add_parser(
        "learn", help="hyper-representations: self-supervised encoders of a model zoo"
    )
    sub = parser.add_subparsers(dest="learn", metavar="ACTION")
    sub.required = True

    p = sub.add_parser(
        "train",
        help="train (or resume) a transformer autoencoder on every snapshot of a zoo",
        description=(
            "weightspace learn train ZOO -o ENCODER_DIR [--tokens neuron|chunk] [--loss cd|c|d] "
            "[--epochs 30] [--d-model 64] [--latent 32] [--device cpu|cuda] [--seed 0]. "
            "Rerun the same command to resume an interrupted training; a finished one is reused."
        ),
    )
    p.add_argument("library", type=Path, help="the zoo (one architecture)")
    p.add_argument("-o", "--out", type=Path, required=True, help="the encoder folder")
    p.add_argument("--tokens", choices=["neuron", "chunk"], default="neuron")
    p.add_argument("--chunk", type=int, default=64, help="entries per chunk token (64)")
    p.add_argument(
        "--loss", choices=["cd", "c", "d"], default="cd",
        help="cd: contrastive + reconstruction (E_cD), c: contrastive (E_c), d: reconstruction (E_D)",
    )  # fmt: skip
    p.add_argument("--gamma", type=float, default=0.1, help="weight of the contrastive loss (0.1)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=8, help="early-stopping patience (8 epochs)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2, help="encoder and decoder blocks each (2)")
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--no-permute", action="store_true", help="no permutation augmentation")
    p.add_argument("--where", help="SQL condition selecting models")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--restart", action="store_true", help="discard another training in -o")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.set_defaults(run=_train)

    p = sub.add_parser("info", help="what an encoder folder holds: settings, zoo, training")
    p.add_argument("encoder", type=Path)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=_info)


def _train(args: argparse.Namespace) -> int:
    from weightspace.learn.train import EpochRecord, TrainSettings, train_encoder
    from weightspace.library import Library

    settings = TrainSettings(
        tokens=args.tokens,
        chunk=args.chunk,
        loss=args.loss,
        gamma=args.gamma,
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        lr=args.lr,
        d_model=args.d_model,
        n_heads=args.heads,
        encoder_layers=args.layers,
        decoder_layers=args.layers,
        latent=args.latent,
        permute=not args.no_permute,
        seed=args.seed,
    )
    lib = Library(args.library)
    interactive = sys.stderr.isatty()

    def report(r: EpochRecord) -> None:
        if not args.quiet and not interactive:
            print(
                f"epoch {r.epoch:3d}  train {r.train_loss:.4f}  val {r.val_loss:.4f}  "
                f"val R2 {r.val_r2:.3f}  ({r.seconds:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

    result = train_encoder(
        lib,
        args.out,
        settings,
        where=args.where,
        device=args.device,
        restart=args.restart,
        progress=interactive and not args.quiet,
        callback=report,
    )
    resumed = "" if result.resumed_from is None else f", resumed after epoch {result.resumed_from}"
    print(
        f"encoder {result.folder}: {result.n_models} models, {result.n_samples} snapshots, "
        f"{len(result.history)} epochs ({result.stop_reason}{resumed}), best epoch "
        f"{result.best_epoch}: val loss {result.best_val_loss:.4f}, reconstruction R2 "
        f"{result.best_val_r2:.3f}, {result.seconds:.0f} s"
    )
    for note in result.notes:
        print(f"note: {note}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from weightspace.learn import checkpoint as ckpt
    from weightspace.learn.encoder import load_encoder

    encoder = load_encoder(args.encoder)
    _, _, state = ckpt.read_state(args.encoder)
    cfg = encoder.config
    n_weights = sum(p.numel() for p in encoder.model.parameters())
    summary = {
        "encoder": str(args.encoder),
        "tokens": cfg["tokens"]["kind"],
        "n_tokens": encoder.tokens.n_tokens,
        "token_width": encoder.tokens.width,
        "architecture": cfg["architecture"],
        "n_params": cfg["n_params"],
        "latent": encoder.latent,
        "autoencoder_parameters": n_weights,
        "settings": cfg["settings"],
        "zoo": {k: v for k, v in cfg["zoo"].items() if k != "val_models"},
        "epochs_run": len(state.get("history", [])),
        "finished": bool(state.get("finished", False)),
        "stop_reason": state.get("stop_reason", ""),
        "best_epoch": encoder.meta.get("epoch"),
        "best_val_loss": encoder.meta.get("val_loss"),
        "best_val_r2": encoder.meta.get("val_r2"),
        "train_seconds": state.get("seconds"),
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    s = cfg["settings"]
    lines = [
        f"encoder       {args.encoder}",
        f"tokens        {summary['tokens']}: {summary['n_tokens']} per model, width "
        f"{summary['token_width']}",
        f"architecture  {summary['architecture']} (rows x width per layer, {cfg['n_params']:,} "
        "weights)",
        f"model         d_model {s['d_model']}, {s['n_heads']} heads, {s['encoder_layers']}+"
        f"{s['decoder_layers']} blocks, latent {encoder.latent}, {n_weights:,} parameters",
        f"loss          {s['loss']} (gamma {s['gamma']}, temperature {s['temperature']}), seed "
        f"{s['seed']}",
        f"zoo           {cfg['zoo']['path']}: {cfg['zoo']['n_models']} models, "
        f"{cfg['zoo']['n_samples']} snapshots"
        + (f" where {cfg['zoo']['where']}" if cfg["zoo"]["where"] else ""),
        f"training      {summary['epochs_run']} epochs, "
        + (f"finished ({summary['stop_reason']})" if summary["finished"] else "not finished")
        + f", {float(summary['train_seconds'] or 0):.0f} s",
        f"best          epoch {summary['best_epoch']}: val loss {summary['best_val_loss']:.4f}, "
        f"reconstruction R2 {summary['best_val_r2']:.3f}",
    ]
    print("\n".join(lines))
    return 0
