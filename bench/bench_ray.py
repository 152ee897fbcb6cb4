"""Benchmark: zoo generation on the local engine against the Ray engine, and the driver's commit rate.

Run: ``.venv/bin/python bench/bench_ray.py [--models 8] [--group-sizes 1,8] [--rounds 2]``

Throughput: plans of tiny NWS CNNs (``digits``, 8x8 inputs, ``--epochs`` epochs, 200 training
images) are generated into fresh libraries by the local engine (``--cpus`` spawned worker processes,
started by each call as ``weightspace zoo generate`` does) and by the Ray engine (a local Ray
runtime of ``--cpus`` CPUs, started once; its worker processes stay up between calls, as on a
cluster). Each engine runs a plan of ``--models`` and one of 3x as many models, ``--rounds`` times
(medians) after one warm-up round; the difference of the two gives the cost of one more model (the
slope) and the fixed cost of a command (the intercept: the local engine's process pool, with its
imports and dataset loading; for Ray the workers are already up). Reported per group size: both,
models/s of the larger plan, and Ray's overhead per model (its slope minus the local one). Also: the
seconds ``ray.init`` takes to start the local runtime (paid once per command without
``--address``) and the round trip of an empty Ray task.

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
from weightspace.zoo.generate import ModelSpec, _store, _train_group, generate_zoo, plan_models
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


def timed_generate(plan: ZooPlan, root: Path, group: int, engine: Any) -> float:
    out = root / f"zoo-{time.monotonic_ns()}"
    start = time.perf_counter()
    report = generate_zoo(plan, out, group_size=group, progress=False, engine=engine)
    seconds = time.perf_counter() - start
    assert report.trained == plan.n, report
    shutil.rmtree(out)
    return seconds


def throughput(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
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
    init_s = time.perf_counter() - start

    @ray.remote
    def noop() -> None:
        return None

    ray.get(noop.remote())
    trips = []
    for _ in range(50):
        t0 = time.perf_counter()
        ray.get(noop.remote())
        trips.append(time.perf_counter() - t0)
    rows = []
    engines = {"local": LocalEngine(workers=args.cpus), "ray": RayEngine(cpus_per_model=1)}
    sizes = (args.models, 3 * args.models)
    for group in args.group_sizes:
        times: dict[tuple[str, int], list[float]] = {(e, n): [] for e in engines for n in sizes}
        for round_ in range(args.rounds + 1):  # round 0 warms up (workers, datasets, imports)
            for n in sizes:
                for name, engine in engines.items():
                    # a new seed each round: a fresh plan, so nothing is cached anywhere
                    plan = tiny_plan(n, args.epochs, seed=round_)
                    seconds = timed_generate(plan, root, group, engine)
                    if round_:
                        times[name, n].append(seconds)
        row: dict[str, Any] = {"group": group, "runs": times}
        for name in engines:
            small = statistics.median(times[name, sizes[0]])
            large = statistics.median(times[name, sizes[1]])
            slope = (large - small) / (sizes[1] - sizes[0])
            row[f"{name}_marginal_s"] = slope
            row[f"{name}_fixed_s"] = small - sizes[0] * slope
            row[f"{name}_models_s"] = sizes[1] / large
        row["ratio"] = row["local_marginal_s"] / row["ray_marginal_s"]
        row["overhead_ms_per_model"] = 1000 * (row["ray_marginal_s"] - row["local_marginal_s"])
        rows.append(row)
    ray.shutdown()
    print(f"ray.init (local runtime, {args.cpus} CPUs): {init_s:.1f} s")
    print(f"empty Ray task round trip: {1000 * statistics.median(trips):.2f} ms (median of 50)")
    return rows


def commit_rate(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    import torch

    from weightspace.zoo.architectures import create_architecture
    from weightspace.zoo.train import TrainResult

    plan = tiny_plan(1, epochs=19)
    spec = plan_models(plan)[0]
    [(_, result, roles)] = _train_group(plan, [spec])
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
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
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
                "weight_bytes": weight_bytes,
            }
        )
        lib.close()
        shutil.rmtree(out)
    _ = torch
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=8, help="the small plan (the large: 3x)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--group-sizes", default="1,8")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--commit-models", type=int, default=200)
    parser.add_argument("--skip-engines", action="store_true", help="only the commit rate")
    args = parser.parse_args()
    args.group_sizes = [int(g) for g in args.group_sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if not args.skip_engines:
            rows = throughput(args, root)
            print(
                "\n| models per task (group) | engine | per command (s) | per model (s) "
                f"| models/s ({3 * args.models} models) |\n|---:|---|---:|---:|---:|"
            )
            for r in rows:
                for name in ("local", "ray"):
                    print(
                        f"| {r['group']} | {name} | {r[f'{name}_fixed_s']:.1f} | "
                        f"{r[f'{name}_marginal_s']:.3f} | {r[f'{name}_models_s']:.2f} |"
                    )
            for r in rows:
                print(
                    f"group {r['group']}: Ray / local per model {r['ratio']:.2f}, Ray's overhead "
                    f"{r['overhead_ms_per_model']:.0f} ms per model; runs (s): "
                    + ", ".join(
                        f"{e} x{n}: {[round(t, 1) for t in ts]}" for (e, n), ts in r["runs"].items()
                    )
                )
        rows = commit_rate(args, root)
        print(
            "\n| model | parameters | models committed | models/s | snapshots/s | MB/s of weights "
            "| bytes on disk per model | of which weights |\n|---|---:|---:|---:|---:|---:|---:|---:|"
        )
        for r in rows:
            print(
                f"| {r['model']} | {r['params']:,} | {r['models']} | {r['models_s']:.1f} | "
                f"{r['snapshots_s']:.0f} | {r['mb_s']:.1f} | {r['bytes_per_model']:,.0f} | "
                f"{r['weight_bytes']:,} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
