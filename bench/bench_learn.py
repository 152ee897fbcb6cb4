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
5. ``--steps``: one training step (64 samples, two views, the E_cD loss, AdamW) of the default
   autoencoder and of cheaper variants (1 or 2 threads, dropout 0.1 or 0, feed-forward 256 or
   128), interleaved over 4 rounds; best and median samples per second.

``--skip-train`` leaves out parts 1-3.

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


def step_rows() -> list[tuple[str, str]]:
    """Part 5: interleaved step timings of the default autoencoder and cheaper variants."""
    import statistics

    from weightspace.learn import AutoencoderConfig, HyperAutoencoder, WeightLayout, neuron_tokens
    from weightspace.learn.losses import masked_mse, nt_xent
    from weightspace.learn.model import token_positions

    ws = load_weights(create_architecture("schurholt-cnn", seed=0))
    tm = neuron_tokens(WeightLayout.from_weightset(ws))
    pos, mask = token_positions(tm), torch.from_numpy(tm.mask)
    configs = [(1, 256, 0.1), (2, 256, 0.1), (1, 256, 0.0), (1, 128, 0.1), (1, 128, 0.0)]
    models = {}
    for c in configs:
        model = HyperAutoencoder(AutoencoderConfig.for_tokens(tm, d_ff=c[1], dropout=c[2]))
        models[c] = (model, torch.optim.AdamW(model.parameters(), 1e-3, foreach=True))
    x = torch.randn(128, tm.n_tokens, tm.width, generator=torch.Generator().manual_seed(0)) * mask

    def step(model: HyperAutoencoder, opt: torch.optim.Optimizer) -> None:
        z = model.encode(x, pos)
        p = model.project(z)
        loss = 0.1 * nt_xent(p[:64], p[64:]) + 0.9 * masked_mse(model.decode(z, pos), x, mask)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()

    times: dict[tuple[int, int, float], list[float]] = {c: [] for c in configs}
    threads = torch.get_num_threads()
    for _ in range(4):
        for c in configs:
            torch.set_num_threads(c[0])
            step(*models[c])
            t0 = time.perf_counter()
            for _ in range(3):
                step(*models[c])
            times[c].append((time.perf_counter() - t0) / 3)
    torch.set_num_threads(threads)
    rows = []
    for c in configs:
        best, med = min(times[c]), statistics.median(times[c])
        label = f"step: {c[0]} thread(s), d_ff {c[1]}, dropout {c[2]}" + (
            " (default)" if c[1:] == (256, 0.1) else ""
        )
        rows.append((label, f"{64 / best:.0f} samples/s best, {64 / med:.0f} median"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--snapshots", type=int, default=11)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--zoo", type=Path, help="a zoo with a trained encoder (time to R^2)")
    parser.add_argument("--encoder", type=Path, help="the encoder folder of --zoo")
    parser.add_argument("--steps", action="store_true", help="time steps of model variants")
    parser.add_argument("--skip-train", action="store_true", help="leave out parts 1-3")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows: list[tuple[str, str]] = []
    if not args.skip_train:
        rows += train_rows(args)
    if args.zoo is not None and args.encoder is not None:
        rows += probe_rows(args.zoo, args.encoder)
    if args.steps:
        rows += step_rows()
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


def train_rows(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Parts 1-3: a synthetic zoo, a short default training, embedding, memory."""
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
    return rows


def probe_rows(zoo: Path, encoder: Path) -> list[tuple[str, str]]:
    """Part 4: the time to the reported probe R^2 of a trained encoder."""
    from weightspace.probe.linear import linear_probe

    _, _, state = ckpt.read_state(encoder)
    t0 = time.perf_counter()
    probe = linear_probe(Library(zoo), ["test_acc"], representation="hyper",
                         params={"encoder": str(encoder)}, cache=False)  # fmt: skip
    probe_s = time.perf_counter() - t0
    r2 = probe.scores[0].mean_std("r2")[0]
    return [("time to the probe R^2 on --zoo",
             f"{state['seconds'] + probe_s:.0f} s = {state['seconds']:.0f} s training + "
             f"{probe_s:.0f} s describe and probe (test_acc R^2 {r2:.3f})")]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
