"""Benchmark: reading + vectorizing checkpoints, beside the raw read speed of the same bytes.

Run: ``.venv/bin/python bench/bench_read.py [--repeats 5] [--big-mb 200] [--small 1000]``

Cases, each measured in the same run and against the same files:
- one ~200 MB safetensors checkpoint (a transformer-like set of 2-D and 1-D tensors);
- 1,000 small checkpoints (the 2,464-parameter CNN of Schürholt et al.) as safetensors and as
  ``torch.save`` files;
- the same 1,000 models read back from a weightspace library as one matrix.

The floor is the raw read of the same bytes (``readinto`` one preallocated buffer, from the page cache:
each file is read once before timing, so both sides read from memory, not disk). Throughput is MB of
file per second; the ratio is ours / raw (1.0 = as fast as copying the bytes).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

from weightspace import Library, load_weights

SMALL_SHAPES = {
    "0.weight": (8, 1, 5, 5),
    "0.bias": (8,),
    "3.weight": (6, 8, 5, 5),
    "3.bias": (6,),
    "6.weight": (4, 6, 2, 2),
    "6.bias": (4,),
    "9.weight": (20, 36),
    "9.bias": (20,),
    "11.weight": (10, 20),
    "11.bias": (10,),
}


def big_state(mb: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Blocks of (d, 4d) + (4d, d) matrices with biases and norms, about ``mb`` MB of float32."""
    d = 512
    per_block = (8 * d * d + 7 * d) * 4
    state: dict[str, np.ndarray] = {}
    for b in range(max(1, mb * 1_000_000 // per_block)):
        state[f"layers.{b}.norm.weight"] = np.ones(d, np.float32)
        state[f"layers.{b}.norm.bias"] = np.zeros(d, np.float32)
        state[f"layers.{b}.fc1.weight"] = rng.standard_normal((4 * d, d), dtype=np.float32)
        state[f"layers.{b}.fc1.bias"] = np.zeros(4 * d, np.float32)
        state[f"layers.{b}.fc2.weight"] = rng.standard_normal((d, 4 * d), dtype=np.float32)
        state[f"layers.{b}.fc2.bias"] = np.zeros(d, np.float32)
    return state


def raw_read(paths: list[Path], buf: np.ndarray) -> None:
    """Read every file's bytes into one preallocated buffer: the floor for getting the bytes."""
    for p in paths:
        with p.open("rb", buffering=0) as f:
            f.readinto(memoryview(buf)[: p.stat().st_size])


def read_vectorize(paths: list[Path]) -> None:
    for p in paths:
        load_weights(p).vector()


def timed(fn: Callable[[], None], repeats: int) -> float:
    fn()  # warm the page cache and imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--small", type=int, default=1000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        big = root / "big.safetensors"
        save_file(big_state(args.big_mb, rng), str(big))
        small_st, small_pt = [], []
        lib = Library.create(root / "lib")
        items = []
        for i in range(args.small):
            state = {k: rng.standard_normal(s, dtype=np.float32) for k, s in SMALL_SHAPES.items()}
            st = root / f"small{i}.safetensors"
            save_file(state, str(st))
            pt = root / f"small{i}.pt"
            torch.save({k: torch.from_numpy(v) for k, v in state.items()}, pt)
            small_st.append(st)
            small_pt.append(pt)
            items.append({"weights": st})
        lib.add_many(items)
        lib_files = sorted((root / "lib" / "weights").iterdir())
        ids = lib.ids()

        cases: list[tuple[str, list[Path], Callable[[], None]]] = [
            (
                f"1 x {big.stat().st_size / 1e6:.0f} MB safetensors",
                [big],
                lambda: read_vectorize([big]),
            ),
            (f"{args.small} x small safetensors", small_st, lambda: read_vectorize(small_st)),
            (f"{args.small} x small torch.save", small_pt, lambda: read_vectorize(small_pt)),
            (f"{args.small} models from a library (matrix)", lib_files, lambda: lib.matrix(ids)),
        ]
        rows = []
        for name, paths, ours in cases:
            mb = sum(p.stat().st_size for p in paths) / 1e6
            buf = np.empty(max(p.stat().st_size for p in paths), np.uint8)
            buf[:] = 0  # touch the pages once, outside the timing
            t_raw = timed(lambda paths=paths, buf=buf: raw_read(paths, buf), args.repeats)
            t_ours = timed(ours, args.repeats)
            rows.append((name, mb, mb / t_raw, mb / t_ours, t_raw / t_ours))

    print(f"read + vectorize, median of {args.repeats} runs (files in the page cache)\n")
    print("| case | MB | raw read MB/s | read+vector MB/s | ratio ours/raw |")
    print("|---|---:|---:|---:|---:|")
    for name, mb, raw, ours, ratio in rows:
        print(f"| {name} | {mb:.1f} | {raw:,.0f} | {ours:,.0f} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
