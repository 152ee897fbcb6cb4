"""Throughput of the MI-WD engine against a per-window ``np.histogram`` loop and memory bandwidth.

Run from the repository root::

    .venv/bin/python bench/bench_miwd.py                 # print the Markdown section
    .venv/bin/python bench/bench_miwd.py --write bench/RESULTS_miwd.md

Three rates, in float32 weights per second, each the median of ``--repeats`` runs:

- ``miwd``: :func:`weightspace.represent.miwd` with the paper's defaults (S = B = 32, range -5..5).
- ``loop``: the obvious reference, one ``np.histogram`` per window (values clipped to the range,
  as ``outliers="clip"``), written as a user would without the engine.
- ``copy``: ``np.copyto`` of a 256 MiB float32 array into a preallocated one; bytes copied per
  second divided by 4. Each weight is read once and written once: a bound for any single pass
  over the weights.

The three are measured interleaved (copy, miwd, loop, copy, ...) so that load from other tenants
of a shared machine hits all of them alike.

Workloads: a batch of ``--models`` vectors of 100k..1M weights (ragged lengths), one vector of
``--big`` weights, and ``--small-models`` vectors of 2,464 weights (the size of Schürholt et al.'s
zoo CNN: windows of 77 weights, where the loop pays NumPy's per-call overhead). The weights are
normal with a per-model scale drawn from U(0.05, 2), plus 0.1 % outliers in (-50, 50).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from weightspace.represent import miwd

S, B, RANGE = 32, 32, (-5.0, 5.0)


def make_batch(rng: np.random.Generator, n: int, low: int, high: int) -> list[np.ndarray]:
    """``n`` float32 vectors of lengths in ``[low, high)``: normal, per-model scale, 0.1 % outliers."""
    out = []
    for length in rng.integers(low, high, n):
        v = rng.standard_normal(int(length), dtype=np.float32)
        v *= np.float32(rng.uniform(0.05, 2.0))
        idx = rng.integers(0, v.shape[0], v.shape[0] // 1000)
        v[idx] = rng.uniform(-50.0, 50.0, idx.shape[0]).astype(np.float32)
        out.append(v)
    return out


def loop_reference(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """MI-WD the obvious way: one ``np.histogram`` per window."""
    lo, hi = RANGE
    out = np.zeros((len(vectors), S, B), dtype=np.float32)
    for i, v in enumerate(vectors):
        n = v.shape[0]
        for s in range(S):
            window = np.clip(v[n * s // S : n * (s + 1) // S], lo, hi)
            hist, _ = np.histogram(window, bins=B, range=RANGE)
            total = hist.sum()
            if total:
                out[i, s] = hist / total
    return out


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200, help="vectors in the batch")
    parser.add_argument("--big", type=int, default=50_000_000, help="weights of the big vector")
    parser.add_argument(
        "--small-models", type=int, default=2000, help="vectors of 2,464 weights (0: skip)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", type=Path, help="also write the Markdown section to this file")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    workloads = {
        f"{args.models} vectors of 100k-1M weights": make_batch(
            rng, args.models, 100_000, 1_000_000
        ),
        f"one vector of {args.big / 1e6:g}M weights": make_batch(rng, 1, args.big, args.big + 1),
    }
    if args.small_models:
        name = f"{args.small_models} vectors of 2,464 weights"
        workloads[name] = make_batch(rng, args.small_models, 2464, 2465)
    src = np.ones(1 << 26, dtype=np.float32)  # 256 MiB
    dst = np.zeros_like(src)
    rows = []
    for name, vectors in workloads.items():
        n_weights = sum(v.shape[0] for v in vectors)
        if not np.allclose(miwd(vectors, S, B, RANGE), loop_reference(vectors), atol=1e-6):
            print(f"{name}: miwd differs from the loop reference", file=sys.stderr)
            return 1
        numpy_engine = miwd(vectors, S, B, RANGE, engine="numpy")
        if not np.array_equal(miwd(vectors, S, B, RANGE), numpy_engine):
            print(f"{name}: the two engines differ", file=sys.stderr)
            return 1
        times: dict[str, list[float]] = {"miwd": [], "numpy": [], "loop": [], "copy": []}
        for _ in range(args.repeats):  # interleaved, so that a noisy neighbour hits all of them
            times["copy"].append(seconds(lambda: np.copyto(dst, src)) / src.shape[0])
            times["miwd"].append(seconds(lambda v=vectors: miwd(v, S, B, RANGE)) / n_weights)
            times["numpy"].append(
                seconds(lambda v=vectors: miwd(v, S, B, RANGE, engine="numpy")) / n_weights
            )
            times["loop"].append(seconds(lambda v=vectors: loop_reference(v)) / n_weights)
        fast, numpy_rate, loop, copy = (
            1 / statistics.median(times[k]) for k in ("miwd", "numpy", "loop", "copy")
        )
        rows.append((name, n_weights, fast, numpy_rate, loop, copy))
        print(f"{name}: miwd {fast / 1e6:.0f} M/s, loop {loop / 1e6:.0f} M/s", file=sys.stderr)

    used = sys.argv[1:] if argv is None else list(argv)
    command = "`.venv/bin/python bench/bench_miwd.py" + "".join(f" {a}" for a in used) + "`"
    lines = [
        "## MI-WD descriptor",
        "",
        f"Command: {command} (S = B = 32, range -5..5, `outliers='clip'`; medians of "
        f"{args.repeats} interleaved runs; rates in millions of float32 weights per second).",
        f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
        f"NumPy {np.__version__}. `miwd` is the default engine (the numba kernel, parallel over "
        "(model, window) on the machine's cores); `numpy engine` is `engine='numpy'` (single-threaded); "
        "the copy is single-threaded.",
        "",
        "| workload | weights | miwd (M/s) | ns/weight | numpy engine (M/s) | per-window loop (M/s) "
        "| miwd / loop | memory copy (M/s) | miwd / copy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, n_weights, fast, numpy_rate, loop, copy_w in rows:
        lines.append(
            f"| {name} | {n_weights / 1e6:.1f}M | {fast / 1e6:.0f} | {1e9 / fast:.2f} "
            f"| {numpy_rate / 1e6:.0f} | {loop / 1e6:.0f} | {fast / loop:.1f}x "
            f"| {copy_w / 1e6:.0f} | {fast / copy_w:.0%} |"
        )
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.write:
        args.write.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
