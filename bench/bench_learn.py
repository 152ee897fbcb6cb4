"""Benchmark: training and embedding throughput of the default hyper-representation encoder.

Run: ``.venv/bin/python bench/bench_learn.py [--models 1000] [--snapshots 11] [--epochs 2]
[--threads 2] [--device cpu] [--zoo ZOO --encoder DIR]``

1. A synthetic zoo of ``--models`` Schürholt CNNs (2,464 weights; the real architecture, random
   initializations drawn by each model's own seed, ``--snapshots`` snapshots per model whose weights
   grow and drift as in training) is written to a temporary library.
2. ``train_encoder`` with the default settings (neuron tokens, d_model 64, 2+2 blocks, 4 heads,
   latent 32, loss E_cD, batch 64, all augmentations) runs ``--epochs`` epochs on it. Reported:
   training samples per second (two augmented views per sample, validation excluded), seconds per
   epoch (validation and checkpoints included), the extrapolated time of the default 30 epochs, and
   the goal: the default encoder trains on a 1,000-model zoo on 2 CPU cores in under 15 minutes.
3. Embedding throughput of the trained encoder (snapshots per second) and the peak resident memory
   of the process.
4. With ``--zoo`` and ``--encoder`` (a trained encoder of that zoo): the time to the reported probe
   R^2, i.e. the encoder's training seconds (from its checkpoint) plus describing the zoo and
   probing test accuracy with the uncached ``hyper`` representation.

The benchmark sets ``torch.set_num_threads(--threads)``; the library never changes it.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from weightspace import Library, load_weights
from weightspace.learn import TrainSettings, load_encoder, train_encoder
from weightspace.learn import checkpoint as ckpt
from weightspace.zoo.architectures import create_architecture


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_zoo(path: Path, n_models: int, n_snapshots: int) -> Library:
    """``n_models`` schurholt-cnn initializations, each with drifting snapshots, in a library."""
    lib = Library.create(path)
    rng = np.random.default_rng(0)
    items = []
    for m in range(n_models):
        base = load_weights(create_architecture("schurholt-cnn", seed=m, init="kaiming_uniform"))
        v0 = base.vector()
        drift = rng.normal(0, 0.02, v0.shape)
        snaps, records = [], []
        for s in range(n_snapshots):
            v = v0 * (1 + 0.05 * s) + drift * s
            snaps.append(base.with_vector(v.astype(np.float32)))
            records.append({"epoch": s, "test_acc": float(rng.uniform(0.1, 0.99))})
        items.append({"weights": snaps, "snapshots": records, "hparams": {"seed": m}})
        if len(items) == 100:
            lib.add_many(items)
            items = []
    if items:
        lib.add_many(items)
    return lib


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--snapshots", type=int, default=11)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--zoo", type=Path, help="a zoo with a trained encoder (time to R^2)")
    parser.add_argument("--encoder", type=Path, help="the encoder folder of --zoo")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-learn-") as tmp:
        t0 = time.perf_counter()
        lib = synthetic_zoo(Path(tmp) / "zoo", args.models, args.snapshots)
        rows.append(("synthetic zoo written", f"{time.perf_counter() - t0:.1f} s"))
        rss_before = peak_rss_mb()
        settings = TrainSettings(epochs=args.epochs, patience=args.epochs)
        t0 = time.perf_counter()
        result = train_encoder(lib, Path(tmp) / "enc", settings, device=args.device, progress=False)
        wall = time.perf_counter() - t0
        n_train = result.n_samples - round(settings.val_fraction * args.models) * args.snapshots
        epoch_s = [h.seconds for h in result.history]
        per_epoch = float(np.median(epoch_s))
        full = TrainSettings().epochs
        rows += [
            ("zoo", f"{args.models} models x {args.snapshots} snapshots = {result.n_samples} "
                    f"samples ({n_train} training)"),
            ("encoder", "defaults: neuron tokens, d_model 64, 2+2 blocks, 4 heads, latent 32, E_cD"),
            ("threads / device", f"{torch.get_num_threads()} / {args.device}"),
            ("seconds per epoch (median, incl. validation and checkpoints)", f"{per_epoch:.1f} s"),
            ("training throughput", f"{n_train / per_epoch:.0f} samples/s (x2 views)"),
            ("train_encoder wall time", f"{wall:.1f} s for {len(epoch_s)} epochs (incl. loading)"),
            (f"default {full} epochs, extrapolated", f"{full * per_epoch / 60:.1f} min"),
            ("goal: 1,000 models in < 15 min on 2 cores",
             "met" if full * per_epoch < 900 and args.models >= 1000 else "NOT met"),
        ]  # fmt: skip
        encoder = load_encoder(Path(tmp) / "enc", device=args.device)
        V = np.concatenate([lib.snapshot_matrix(i) for i in lib.ids()])
        t0 = time.perf_counter()
        encoder.embed_vectors(V)
        rows.append(
            ("embedding throughput", f"{len(V) / (time.perf_counter() - t0):.0f} snapshots/s")
        )
        rows.append(
            ("peak RSS (before training -> after)", f"{rss_before:.0f} -> {peak_rss_mb():.0f} MB")
        )
    if args.zoo is not None and args.encoder is not None:
        from weightspace.probe.linear import linear_probe

        _, _, state = ckpt.read_state(args.encoder)
        t0 = time.perf_counter()
        probe = linear_probe(Library(args.zoo), ["test_acc"], representation="hyper",
                             params={"encoder": str(args.encoder)}, cache=False)  # fmt: skip
        probe_s = time.perf_counter() - t0
        r2 = probe.scores[0].mean_std("r2")[0]
        rows.append(("time to the probe R^2 on --zoo",
                     f"{state['seconds'] + probe_s:.0f} s = {state['seconds']:.0f} s training + "
                     f"{probe_s:.0f} s describe and probe (test_acc R^2 {r2:.3f})"))  # fmt: skip
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
