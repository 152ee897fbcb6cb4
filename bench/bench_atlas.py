"""Benchmark: the atlas web app at 100,000 models (selection -> summary, first page load).

Run: ``.venv/bin/python bench/bench_atlas.py [--n 100000] [--repeats 7] [--no-browser]
[--out bench/RESULTS_atlas.md]``

The atlas is synthetic: random MI-WD-shaped descriptors (each row of a 32 x 32 descriptor a random
histogram summing to 1), map coordinates drawn from 24 Gaussian blobs, and random metadata in the
shape of the NWS zoo (dataset, optimizer, activation, init, batch size as categories; learning rate
and test accuracy as numbers; the per-dataset normalized accuracy derived from them). Descriptor
values and metadata do not change the work done per selection, only the sizes do, so the timings
stand for a real library of that size; no UMAP is fitted (it is not part of an interaction).

Measured, each as the median of ``--repeats`` runs after one warm-up:
1. the server's selection callback called directly (``render_selection``: geometry -> model indices
   -> mean/std descriptors, examples, parallel coordinates, category shifts -> plotly figures), for
   box selections holding about 1%, 10% and 50% of the models and a lasso;
2. the same callback through HTTP: a POST to the running Dash server's ``/_dash-update-component``
   with the body the browser sends (built from ``/_dash-dependencies``), JSON response included;
3. the first page load in headless Debian chromium (Playwright): from navigation start to all
   points of the map drawn (every point in the graph's data, then two animation frames).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from weightspace.atlas import (
    Atlas,
    Column,
    create_app,
    export_html,
    normalized_accuracy,
    start_server,
)
from weightspace.atlas.build import default_colorings
from weightspace.atlas.views import render_selection

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def synthetic_atlas(n: int, seed: int = 0, S: int = 32, B: int = 32) -> Atlas:
    """A random atlas of ``n`` models shaped like an NWS library (see the module docstring)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=10.0, size=(24, 2))
    blob = rng.integers(0, 24, size=n)
    coords = (centers[blob] + rng.normal(scale=1.5, size=(n, 2))).astype(np.float32)
    desc = rng.random((n, S, B), dtype=np.float32)
    desc /= desc.sum(axis=2, keepdims=True)
    cats = {
        "dataset": ("cifar10", "fashion", "mnist", "svhn"),
        "optimizer": ("adam", "rmsprop", "sgd"),
        "activation": ("elu", "relu", "sigmoid", "tanh"),
        "init": ("constant", "glorot_normal", "glorot_uniform", "he_normal", "normal", "uniform"),
        "batch_size": ("32", "64", "128", "256"),
    }
    columns = [
        Column(name, "hparam", "categorical", rng.integers(0, len(labels), n), labels)
        for name, labels in cats.items()
    ]
    columns.append(Column("learning_rate", "hparam", "continuous", 10 ** rng.uniform(-4, -2, n)))
    acc = rng.uniform(0.1, 0.99, n)
    columns.append(Column("test_acc", "metric", "continuous", acc))
    norm = normalized_accuracy(acc, np.asarray(cats["dataset"], dtype=object)[columns[0].values])
    columns.insert(
        0, Column("test_acc_norm", "derived", "continuous", norm, label="normalized test_acc")
    )
    return Atlas(
        ids=np.arange(1, n + 1),
        coords=coords,
        descriptors=desc,
        columns=tuple(columns),
        colorings=default_colorings(columns),
        hover=("dataset", "optimizer", "activation", "init", "learning_rate", "batch_size",
               "test_acc", "test_acc_norm"),
        parallel=("dataset", "optimizer", "activation", "init", "learning_rate", "batch_size",
                  "test_acc_norm"),
        title=f"synthetic atlas: {n:,} models",
        representation={"name": "miwd", "params": {"S": S, "B": B, "value_range": [-5, 5]}},
        embedding={"method": "synthetic"},
    )  # fmt: skip


def box_holding(atlas: Atlas, fraction: float) -> dict[str, Any]:
    """A box around the map's centre holding about ``fraction`` of the models."""
    xy = atlas.coords.astype(np.float64)
    center = np.median(xy, axis=0)
    half = np.quantile(np.abs(xy - center).max(axis=1), fraction)
    return {
        "range": {
            "x": [center[0] - half, center[0] + half],
            "y": [center[1] - half, center[1] + half],
        }
    }


def lasso_holding(atlas: Atlas, fraction: float, vertices: int = 60) -> dict[str, Any]:
    """A circular lasso of ``vertices`` points holding about ``fraction`` of the models."""
    xy = atlas.coords.astype(np.float64)
    center = np.median(xy, axis=0)
    radius = np.quantile(np.hypot(*(xy - center).T), fraction)
    t = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    return {
        "lassoPoints": {
            "x": (center[0] + radius * np.cos(t)).tolist(),
            "y": (center[1] + radius * np.sin(t)).tolist(),
        }
    }


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median seconds of ``repeats`` calls after one warm-up call, and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def selection_request(base: str) -> tuple[str, list[dict[str, str]], list[dict[str, Any]]]:
    """The selection callback's output spec and inputs, read from ``/_dash-dependencies``."""
    with urllib.request.urlopen(f"{base}/_dash-dependencies", timeout=30) as resp:
        deps = json.load(resp)
    for dep in deps:
        if any(i["id"] == "selection-geometry" for i in dep["inputs"]):
            outputs = []
            for part in dep["output"].strip(".").split("..."):
                ident, prop = part.rsplit(".", 1)
                outputs.append({"id": ident, "property": prop})
            return dep["output"], outputs, dep["inputs"]
    raise RuntimeError("the selection callback was not found in /_dash-dependencies")


def post_selection(base: str, spec: tuple[str, Any, Any], geometry: dict[str, Any]) -> int:
    """POST one selection to the server the way the browser does; return the response size."""
    output, outputs, inputs = spec
    values = {"selection-geometry": geometry, "filter-accuracy": [0, 1], "pc-columns": None}
    body = {
        "output": output,
        "outputs": outputs,
        "inputs": [{**i, "value": values.get(i["id"])} for i in inputs],
        "changedPropIds": ["selection-geometry.data"],
        "state": [],
    }
    req = urllib.request.Request(
        f"{base}/_dash-update-component",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        payload = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}")
    return len(payload)


def page_load(
    url: str, n: int, repeats: int, graph: str = "#atlas-map .js-plotly-plot"
) -> list[float]:
    """Seconds from navigation start to all ``n`` points drawn, each in a fresh browser."""
    from playwright.sync_api import sync_playwright

    count = """(sel) => {
        const gd = document.querySelector(sel);
        if (!gd || !gd.data || !gd._fullLayout || !gd.querySelector('canvas')) return -1;
        return gd.data.filter(t => t.meta === 'models').reduce((s, t) => s + t.x.length, 0);
    }"""
    drawn = f"(n) => ({count})('{graph}') >= n"
    script = f"""async () => {{
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        return [performance.now(), ({count})('{graph}')];
    }}"""
    out = []
    with sync_playwright() as p:
        for _ in range(repeats + 1):
            ctx = p.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="bench-atlas-chromium-"),
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1500, "height": 1000},
            )
            page = ctx.new_page()
            page.goto(url)
            page.wait_for_function(drawn, arg=n, timeout=120_000, polling=20)
            ms, total = page.evaluate(script)
            if total < n:
                raise RuntimeError(f"only {total} of {n} points drawn")
            out.append(ms / 1000)
            ctx.close()
    return out[1:]  # the first launch warms the disk cache of chromium itself


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-browser", action="store_true", help="skip the page-load timing")
    parser.add_argument("--out", type=Path, help="write the results (markdown) here too")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    atlas = synthetic_atlas(args.n)
    build_s = time.perf_counter() - t0
    rows: list[tuple[str, str, str, str]] = []
    cases = [(f"box ~{f:.0%}", box_holding(atlas, f)) for f in (0.01, 0.1, 0.5)]
    cases.append(("lasso ~10% (60 vertices)", lasso_holding(atlas, 0.1)))
    t0 = time.perf_counter()
    render_selection(atlas, cases[0][1], {}, None)  # builds the per-atlas index once
    index_s = time.perf_counter() - t0
    for name, geometry in cases:
        seconds, result = timed(
            lambda g=geometry: render_selection(atlas, g, {}, None), args.repeats
        )
        rows.append(("selection → summary, callback function", name, result[2].split(" ")[0],
                     f"{1000 * seconds:.1f} ms"))  # fmt: skip

    app = create_app(atlas)
    server = start_server(app)
    try:
        spec = selection_request(server.url)
        for name, geometry in cases:
            seconds, size = timed(
                lambda g=geometry: post_selection(server.url, spec, g), args.repeats
            )
            rows.append(("selection → summary, HTTP POST", name, f"{size / 1e3:.0f} kB response",
                         f"{1000 * seconds:.1f} ms"))  # fmt: skip
        if not args.no_browser:
            loads = page_load(server.url, args.n, max(1, args.repeats // 2))
            rows.append(("first page load (points drawn), chromium", f"{args.n:,} points",
                         f"{len(loads)} loads", f"{statistics.median(loads):.2f} s"))  # fmt: skip
    finally:
        server.stop()
    if not args.no_browser:
        with tempfile.TemporaryDirectory() as folder:
            page = export_html(atlas, Path(folder) / "atlas.html")
            size = page.stat().st_size
            loads = page_load(page.as_uri(), args.n, max(1, args.repeats // 2), "#atlas-map")
        rows.append(("HTML export opened from file (points drawn)", f"{args.n:,} points",
                     f"{size / 2**20:.1f} MB file", f"{statistics.median(loads):.2f} s"))  # fmt: skip

    load = os.getloadavg()
    lines = [
        f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        "",
        f"Synthetic atlas: {args.n:,} models, 32 x 32 descriptors (built in {build_s:.1f} s; "
        f"per-atlas index {index_s:.2f} s, once).",
        f"Machine: {os.cpu_count()} CPU cores, {platform.machine()}, Python "
        f"{platform.python_version()}, load average at the end {load[0]:.1f} / {load[1]:.1f} "
        f"(1 / 5 min); median of {args.repeats} runs after a warm-up (page loads: median of "
        f"{max(1, args.repeats // 2)} fresh browsers).",
        "",
        "| measure | case | size | median |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
