"""Benchmark: zoo generation on the local engine against the Ray engine, and the driver's commit rate.

Run: ``.venv/bin/python bench/bench_ray.py [--models 32] [--group-sizes 1,8] [--rounds 3]``

Throughput: plans of ``--models`` tiny NWS CNNs (``digits``, 8x8 inputs, ``--epochs`` epochs, 200
training images) are generated into fresh libraries by the local engine (``--cpus`` spawned worker
processes, started by each call as ``weightspace zoo generate`` does) and by the Ray engine (a
local Ray runtime of ``--cpus`` CPUs, started once: its worker processes stay up between calls, as
on a cluster), alternating, for each group size (models per task). The rate is the steady one,
models committed per second after the first wave of groups (startup excluded); the first model's
time is reported apart (the local engine's process pool with its imports; for Ray, the first round
has cold workers and later rounds warm ones). Medians of ``--rounds`` rounds after round 0. Ray's
overhead per model is ``1 / rate_ray - 1 / rate_local``. Also: the seconds ``ray.init`` takes to
start a local runtime (paid once per command without ``--address``) and the round trip of an
empty Ray task.

Commit rate: the driver's ceiling. One model is trained with 20 snapshots (19 epochs), then stored
``--commit-models`` times through the generator's own ``_store`` (one transaction per model: the
weight file written, fsynced and renamed, then its rows); the same for the default ``nws-cnn``
(20 perturbed copies of its initial weights). Reported: models/s, snapshots/s, MB/s and bytes on
disk per model.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from weightspace import Library
from weightspace.zoo.generate import ModelSpec, _store, generate_zoo, plan_models, train_group
from weightspace.zoo.presets import ZooPlan

TINY = {
    "filter_size": 3,
    "conv_layers": 3,
    "fc_layers": 2,
    "conv_width": 4,
    "fc_width": 16,
    "batch_size": 32,
}


def tiny_plan(n: int, epochs: int, seed: int = 0, snapshots: int = 20) -> ZooPlan:
    return ZooPlan(
        space="nws",
        n=n,
        seed=seed,
        datasets=("digits",),
        input_shape=(3, 8, 8),
        space_overrides=TINY,
        min_epochs=epochs,
        max_epochs=epochs,
        train_samples=200,
        n_snapshots=snapshots,
    )


def timed_generate(
    plan: ZooPlan, root: Path, group: int, engine: Any, workers: int
) -> tuple[float, float, float]:
    """Seconds to the first committed model, steady models/s after the first wave of groups, and
    the seconds of the whole call."""
    out = root / f"zoo-{time.monotonic_ns()}"
    stamps: list[float] = []
    start = time.perf_counter()
    report = generate_zoo(
        plan,
        out,
        group_size=group,
        progress=False,
        engine=engine,
        on_model=lambda spec: stamps.append(time.perf_counter() - start),
    )
    total = time.perf_counter() - start
    assert report.trained == plan.n, report
    shutil.rmtree(out)
    first_wave = min(plan.n - 1, workers * group)  # models of the groups that started together
    rate = (plan.n - first_wave) / (stamps[-1] - stamps[first_wave - 1])
    return stamps[0], rate, total


def throughput(
    args: argparse.Namespace, root: Path
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    import ray

    from weightspace.zoo.engines import LocalEngine
    from weightspace.zoo.ray_engine import RayEngine

    start = time.perf_counter()
    ray.init(
        num_cpus=args.cpus,
        object_store_memory=256 * 2**20,
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
    )
    fixed = {"ray_init_s": time.perf_counter() - start}

    @ray.remote
    def noop() -> None:
        return None

    ray.get(noop.remote())
    trips = []
    for _ in range(50):
        t0 = time.perf_counter()
        ray.get(noop.remote())
        trips.append(time.perf_counter() - t0)
    fixed["noop_ms"] = 1000 * statistics.median(trips)
    engines = {"local": LocalEngine(workers=args.cpus), "ray": RayEngine(cpus_per_model=1)}
    rows = []
    for round_ in range(args.rounds + 1):  # round 0: a fresh Ray runtime (cold workers)
        for group in args.group_sizes:
            for name, engine in engines.items():
                # a new seed each round: a fresh plan, so nothing is cached anywhere
                plan = tiny_plan(args.models, args.epochs, seed=round_)
                first, rate, total = timed_generate(plan, root, group, engine, args.cpus)
                rows.append(
                    {"round": round_, "group": group, "engine": name, "first_s": first,
                     "rate": rate, "total_s": total}
                )  # fmt: skip
    ray.shutdown()
    return rows, fixed


def summarize(rows: list[dict[str, Any]], groups: list[int]) -> list[dict[str, Any]]:
    out = []
    for group in groups:
        row: dict[str, Any] = {"group": group}
        for name in ("local", "ray"):
            runs = [r for r in rows if r["group"] == group and r["engine"] == name]
            warm = [r for r in runs if r["round"] > 0]
            row[name] = {
                "rate": statistics.median(r["rate"] for r in warm),
                "first_s": statistics.median(r["first_s"] for r in warm),
                "total_s": statistics.median(r["total_s"] for r in warm),
                "cold_first_s": runs[0]["first_s"],
                "rates": [round(r["rate"], 2) for r in warm],
            }
        row["ratio"] = row["ray"]["rate"] / row["local"]["rate"]
        row["overhead_ms"] = 1000 * (1 / row["ray"]["rate"] - 1 / row["local"]["rate"])
        out.append(row)
    return out


def commit_rate(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    import torch

    from weightspace.zoo.architectures import create_architecture
    from weightspace.zoo.train import TrainResult

    plan = tiny_plan(1, epochs=19)
    spec = plan_models(plan)[0]
    [(_, result, roles)] = train_group(plan, [spec])
    assert len(result.states) == 20, len(result.states)
    big = create_architecture("nws-cnn", seed=0, n_classes=10)
    rng = np.random.default_rng(0)
    base = {k: v.detach().numpy() for k, v in big.state_dict().items()}
    big_states = [
        {k: (v + rng.normal(0, 0.01, v.shape).astype(v.dtype)) if v.dtype.kind == "f" else v
         for k, v in base.items()}
        for _ in range(20)
    ]  # fmt: skip
    from weightspace.io.load import load_weights

    big_result = TrainResult(big_states, result.records, 19, "max_epochs", 0.0, ())  # type: ignore[arg-type]
    big_roles = {t.name: t.role for t in load_weights(big)}
    rows = []
    for label, res, role_map, n in [
        ("tiny nws CNN", result, roles, args.commit_models),
        ("default nws-cnn", big_result, big_roles, max(20, args.commit_models // 4)),
    ]:
        out = root / f"commit-{label.replace(' ', '-')}"
        lib = Library.create(out)
        specs = [ModelSpec(i, f"k{i:08d}", spec.config) for i in range(n)]
        start = time.perf_counter()
        for s in specs:
            _store(lib, plan, s, res, role_map, 1.0)
        seconds = time.perf_counter() - start
        lib.close()  # checkpoints the write-ahead log into the database file
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        files = sum(f.stat().st_size for f in (out / "weights").iterdir())
        params = sum(int(np.asarray(v).size) for k, v in res.states[0].items())
        weight_bytes = 4 * params * 20
        rows.append(
            {
                "model": label,
                "params": params,
                "models": n,
                "models_s": n / seconds,
                "snapshots_s": 20 * n / seconds,
                "mb_s": weight_bytes * n / seconds / 1e6,
                "bytes_per_model": size / n,
                "file_bytes_per_model": files / n,
                "db_bytes_per_model": (size - files) / n,
                "weight_bytes": weight_bytes,
            }
        )
        shutil.rmtree(out)
    _ = torch
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--group-sizes", default="1,8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--commit-models", type=int, default=200)
    parser.add_argument("--skip-engines", action="store_true", help="only the commit rate")
    args = parser.parse_args()
    args.group_sizes = [int(g) for g in args.group_sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if not args.skip_engines:
            runs, fixed = throughput(args, root)
            print(
                f"ray.init (local runtime, {args.cpus} CPUs): {fixed['ray_init_s']:.1f} s; "
                f"empty Ray task round trip: {fixed['noop_ms']:.2f} ms (median of 50)"
            )
            print(
                f"\n{args.models} models, {args.cpus} CPUs, medians of {args.rounds} rounds\n"
                "| models per task | local: models/s | Ray: models/s | Ray / local "
                "| Ray overhead per model (ms) | first model, local (s) | first model, Ray (s) "
                "| first model, Ray cold workers (s) |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
            )
            for r in summarize(runs, args.group_sizes):
                loc, ray_ = r["local"], r["ray"]
                print(
                    f"| {r['group']} | {loc['rate']:.2f} | {ray_['rate']:.2f} | {r['ratio']:.2f} "
                    f"| {r['overhead_ms']:.0f} | {loc['first_s']:.1f} | {ray_['first_s']:.1f} "
                    + (
                        f"| {ray_['cold_first_s']:.1f} |"
                        if r["group"] == args.group_sizes[0]
                        else "| - |"
                    )
                )
                print(f"  rates per round: local {loc['rates']}, ray {ray_['rates']}")
        rows = commit_rate(args, root)
        print(
            "\n| model | parameters | models committed | models/s | snapshots/s | MB/s of weights "
            "| bytes on disk per model | weight file | database | float32 weights alone |"
            "\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        )
        for r in rows:
            print(
                f"| {r['model']} | {r['params']:,} | {r['models']} | {r['models_s']:.1f} | "
                f"{r['snapshots_s']:.0f} | {r['mb_s']:.1f} | {r['bytes_per_model']:,.0f} | "
                f"{r['file_bytes_per_model']:,.0f} | {r['db_bytes_per_model']:,.0f} | "
                f"{r['weight_bytes']:,} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
