"""Benchmark: batched training (``train_models``) against one model at a time (``train_model``).

Run: ``.venv/bin/python bench/bench_train.py [--models 16] [--epochs 2] [--repeats 3] [--quick]``

In one run, for each case the same K models (same seeds, data and configs) are trained for a fixed
number of epochs (``EarlyStopping(min_epochs=E, max_epochs=E)``), once by ``train_model`` one after
another and once by ``train_models``; both produce the full ``TrainResult`` (exports, kept snapshots
and their train/val/test metrics). Reported: model-epochs per second of each, their ratio, and the
compute floor: the FLOPs of one model-epoch (conv and linear multiply-adds x 2; training = forward +
2 x backward, the first layer without an input gradient; plus the evaluation passes the trainer
makes) divided by the float32 matmul rate measured in the same run (median of a 2048^3 ``matmul``).

Cases: (a) ``schurholt-cnn`` (2,464 parameters) on ``mnist10k`` (7,200 training images), batch 10,
as in the Schürholt seed zoo (tanh, Adam 3e-4); (b) the faithful default ``nws-cnn`` on 3x32x32
inputs (``mnist10k`` resized, the first ``--nws-train`` training images), batch 64 (the NWS zoo
draws 32..256), with NWS hyper-parameters drawn per model (4 activations, 3 optimizers, learning
rate in [0.0002, 0.005], decay 0.96).

Also measured: one training step of K models by each implementation of the stacked network (the
grouped-convolution / ``bmm`` ``StackedNet``, ``torch.func.vmap`` over ``functional_call``, and the
plain per-model loop), and the convolution variants alone, on the small CNN's layer shapes.

Threads: the benchmark sets ``torch.set_num_threads(--threads)`` (default 2, the machine's cores) for
both sides; the library never changes it. The whole set of cases is run twice: with glibc's default
allocator settings, and (in a child process) with ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=...``,
which stop glibc from returning freed memory to the OS (so large activations are not page-faulted
in afresh at every step); these can only be set by whoever starts the process.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from weightspace.zoo.architectures import create_architecture
from weightspace.zoo.batched import train_models
from weightspace.zoo.datasets import Dataset, load_dataset, to_common_shape
from weightspace.zoo.early_stopping import EarlyStopping, kept_exports
from weightspace.zoo.stacked import StackedNet, StackedOptimizer
from weightspace.zoo.train import TrainConfig, train_model

TUNED_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**40)}


# ------------------------------------------------------------------------------------ helpers
def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def best_time(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Least time of ``repeats`` calls (the least disturbed by other processes)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops(n: int = 2048, repeats: int = 7) -> float:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn((n, n), generator=gen), torch.randn((n, n), generator=gen)
    return 2 * n**3 / median_time(lambda: a @ b, repeats, warmup=2) / 1e9


def forward_macs(model: nn.Module, sample_shape: tuple[int, ...]) -> list[int]:
    """Multiply-adds of every conv and linear layer for one sample, in forward order."""
    macs: list[int] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            per_out = (
                module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            )
            macs.append(out[0].numel() * per_out)
        elif isinstance(module, nn.Linear):
            macs.append(module.in_features * module.out_features)

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros((1, *sample_shape)))
    model.train(was_training)
    for h in handles:
        h.remove()
    return macs


def epoch_flops(macs: list[int], data: Dataset, config: TrainConfig, epochs: int) -> float:
    """FLOPs of one model-epoch as the trainers do it: training steps, the validation pass of
    every epoch, and (spread over the epochs) the evaluation of the kept snapshots."""
    fwd = sum(macs)
    train = 3 * fwd - macs[0]  # forward + input and weight gradients; no input gradient first
    n_kept = len(kept_exports(epochs + 1, config.n_snapshots))
    n_eval_records = min(config.train_eval_samples, data.n_train) + data.n_val + data.n_test
    per_epoch = data.n_train * train + data.n_val * fwd + n_kept * n_eval_records * fwd / epochs
    return 2.0 * per_epoch


def subset(data: Dataset, n_train: int | None, n_eval: int | None) -> Dataset:
    return dataclasses.replace(
        data,
        x_train=data.x_train[:n_train],
        y_train=data.y_train[:n_train],
        x_val=data.x_val[:n_eval],
        y_val=data.y_val[:n_eval],
        x_test=data.x_test[:n_eval],
        y_test=data.y_test[:n_eval],
    )


# ------------------------------------------------------------------------------------ cases
@dataclasses.dataclass
class Case:
    name: str
    arch: str
    arch_kw: dict[str, Any]
    data: Dataset
    batch_size: int


def make_cases(args: argparse.Namespace) -> list[Case]:
    mnist = load_dataset("mnist10k", seed=0)
    small = subset(mnist, args.schurholt_train, None)
    nws = subset(to_common_shape(mnist, (3, 32, 32)), args.nws_train, args.nws_eval)
    return [
        Case("schurholt-cnn, mnist10k, batch 10", "schurholt-cnn", {}, small, 10),
        Case("nws-cnn (default), 3x32x32, batch 64", "nws-cnn", {}, nws, 64),
    ]


def models_and_configs(
    case: Case, k: int, epochs: int
) -> tuple[list[nn.Module], list[TrainConfig]]:
    """K models as the zoos sample them (one batch size per case).

    schurholt-cnn: the Schürholt et al. seed zoo (tanh, uniform init, Adam 3e-4, seeds). nws-cnn: NWS
    hyper-parameters (activation, optimizer, learning rate with decay 0.96, seed) drawn per model.
    """
    stop = EarlyStopping(min_epochs=epochs, max_epochs=epochs)
    models: list[nn.Module] = []
    configs = []
    for i in range(k):
        if case.arch == "schurholt-cnn":
            models.append(create_architecture(case.arch, seed=i, activation="tanh", init="uniform"))
            configs.append(
                TrainConfig(
                    optimizer="adam", lr=3e-4, batch_size=case.batch_size, seed=i, stopping=stop
                )
            )
            continue
        act = ("relu", "elu", "sigmoid", "tanh")[i % 4]
        models.append(create_architecture(case.arch, seed=i, activation=act, **case.arch_kw))
        optimizer = ("adam", "sgd", "rmsprop")[i % 3]
        configs.append(
            TrainConfig(
                optimizer=optimizer,  # type: ignore[arg-type]
                lr=0.0002 + 0.0048 * ((i * 7919) % 100) / 100,
                lr_decay=0.96,
                batch_size=case.batch_size,
                seed=i,
                stopping=stop,
            )
        )
    return models, configs


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and process CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run_case(case: Case, args: argparse.Namespace, gflops: float) -> dict[str, Any]:
    """Interleaved rounds of (plain, batched) on the same K fresh models; best and median."""
    models, configs = models_and_configs(case, args.models, args.epochs)
    model_epochs = args.models * args.epochs
    macs = forward_macs(models[0], case.data.input_shape)
    flops = epoch_flops(macs, case.data, configs[0], args.epochs)
    warm = subset(case.data, 256, 64)
    train_model(copy.deepcopy(models[0]), warm, configs[0])  # warm-up of both (oneDNN kernels)
    train_models(copy.deepcopy(models), warm, configs)

    def plain() -> None:
        for model, config in zip(copy.deepcopy(models), configs, strict=True):
            train_model(model, case.data, config)

    def batched() -> None:
        train_models(copy.deepcopy(models), case.data, configs)

    runs: dict[str, list[tuple[float, float]]] = {"plain": [], "batched": []}
    for r in range(args.rounds):
        order = [("plain", plain), ("batched", batched)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            runs[name].append(timed(fn))
    best = {k: min(w for w, _ in v) for k, v in runs.items()}
    median = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c / w for w, c in v) for k, v in runs.items()}
    floor = flops / (gflops * 1e9)
    return {
        "case": case.name,
        "models": args.models,
        "epochs": args.epochs,
        "n_train": case.data.n_train,
        "plain_me_s": model_epochs / best["plain"],
        "batched_me_s": model_epochs / best["batched"],
        "ratio": best["plain"] / best["batched"],
        "ratio_median": median["plain"] / median["batched"],
        "cpu_per_wall": (cpu["plain"], cpu["batched"]),
        "gflop_per_me": flops / 1e9,
        "floor_s_per_me": floor,
        "plain_x_floor": best["plain"] / model_epochs / floor,
        "batched_x_floor": best["batched"] / model_epochs / floor,
    }


# ------------------------------------------------------------------------------------ steps
def step_comparison(k: int, repeats: int) -> dict[str, float]:
    """ms per model per training step (batch 10, schurholt-cnn, tanh, Adam) of each implementation."""
    from torch.func import functional_call, vmap

    batch = 10
    models = [create_architecture("schurholt-cnn", seed=i) for i in range(k)]
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((batch, k, 1, 28, 28), generator=gen)
    y = torch.randint(0, 10, (batch, k), generator=gen)
    out: dict[str, float] = {}

    net = StackedNet.from_models(models)
    net.infer_shapes((1, 28, 28))
    stacked = adam_step(net, x, y)
    out["StackedNet (grouped conv, channels-last, bmm)"] = best_time(stacked, repeats)
    net_cf = StackedNet.from_models(models, channels_last=False)
    net_cf.infer_shapes((1, 28, 28))

    def stacked_cf() -> None:
        params = net_cf.param_views(requires_grad=True)
        logits = net_cf.forward(x, params, training=True)
        loss = F.cross_entropy(logits.reshape(-1, 10), y.reshape(-1), reduction="sum") / batch
        torch.autograd.grad(loss, params)

    out["StackedNet, contiguous memory (no update)"] = best_time(stacked_cf, repeats)

    template = copy.deepcopy(models[0]).to("meta")
    stacked_params = {
        name: torch.stack(
            [dict(m.named_parameters())[name].detach() for m in models]
        ).requires_grad_()
        for name, _ in models[0].named_parameters()
    }
    adam = torch.optim.Adam(list(stacked_params.values()), lr=1e-3)
    xv, yv = x.transpose(0, 1).contiguous(), y.T.contiguous()

    def one(params: dict[str, torch.Tensor], xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(template, params, (xb,)), yb)

    def func_vmap() -> None:
        loss = vmap(one)(stacked_params, xv, yv).sum()
        adam.zero_grad(set_to_none=True)
        loss.backward()
        adam.step()

    out["torch.func.vmap(functional_call)"] = best_time(func_vmap, repeats)

    plain_models = copy.deepcopy(models)
    opts = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in plain_models]

    def plain() -> None:
        for i, (m, o) in enumerate(zip(plain_models, opts, strict=True)):
            loss = F.cross_entropy(m(x[:, i]), y[:, i])
            o.zero_grad(set_to_none=True)
            loss.backward()
            o.step()

    out["plain loop (one model after another)"] = best_time(plain, repeats)
    return {name: seconds * 1e3 / k for name, seconds in out.items()}


def conv_calls(
    k: int,
    x: torch.Tensor,
    w: torch.Tensor,
    x_cl: torch.Tensor,
    xs: list[torch.Tensor],
    ws: list[torch.Tensor],
    xv: torch.Tensor,
    wv: torch.Tensor,
) -> dict[str, Callable[[], None]]:
    """Forward + backward of one layer's convolutions of K models, four ways."""
    from torch.func import vmap

    def loop() -> None:
        total = torch.zeros(())
        for a, b in zip(xs, ws, strict=True):
            total = total + F.conv2d(a, b).sum()
        total.backward()

    return {
        "grouped": lambda: F.conv2d(x, w, groups=k).sum().backward(),
        "grouped, channels-last": lambda: F.conv2d(x_cl, w, groups=k).sum().backward(),
        "vmap(conv2d)": lambda: vmap(F.conv2d)(xv, wv).sum().backward(),
        "per-model loop": loop,
    }


def conv_variants(k: int, repeats: int) -> list[tuple[str, dict[str, float]]]:
    """ms per model for forward + backward of the small CNN's convolutions, batch 10."""
    gen = torch.Generator().manual_seed(0)
    rows = []
    for name, c, o, h, ksz, in_grad in (
        ("conv1 1->8 5x5 on 28x28", 1, 8, 28, 5, False),
        ("conv2 8->6 5x5 on 12x12", 8, 6, 12, 5, True),
    ):
        x = torch.randn((10, k * c, h, h), generator=gen).requires_grad_(in_grad)
        w = torch.randn((k * o, c, ksz, ksz), generator=gen, requires_grad=True)
        x_cl = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_(in_grad)
        xs = [torch.randn((10, c, h, h), generator=gen).requires_grad_(in_grad) for _ in range(k)]
        ws = [torch.randn((o, c, ksz, ksz), generator=gen, requires_grad=True) for _ in range(k)]
        xv = torch.randn((k, 10, c, h, h), generator=gen).requires_grad_(in_grad)
        wv = torch.randn((k, o, c, ksz, ksz), generator=gen, requires_grad=True)
        variants = conv_calls(k, x, w, x_cl, xs, ws, xv, wv)
        rows.append((name, {v: best_time(fn, repeats) * 1e3 / k for v, fn in variants.items()}))
    return rows


def stacked_step(arch: str, n: int, batch: int) -> Callable[[], None]:
    """One training step (Adam) of a stack of ``n`` models on random data."""
    models = [create_architecture(arch, seed=i) for i in range(n)]
    shape = models[0].input_shape
    net = StackedNet.from_models(models)
    net.infer_shapes(shape)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((batch, n, *shape), generator=gen)
    y = torch.randint(0, 10, (batch, n), generator=gen)
    return adam_step(net, x, y)


def adam_step(net: StackedNet, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    """One Adam step of every model of ``net`` on ``x (B, N, ...)``, ``y (B, N)``, as batched.py."""
    n, batch = net.n_models, y.shape[0]
    opt = StackedOptimizer(["adam"] * n, [1e-3] * n, [0.9] * n, [0.0] * n, net.theta.shape[1])
    grad = torch.empty_like(net.theta)

    def step() -> None:
        params = net.param_views(requires_grad=True)
        logits = net.forward(x, params, training=True)
        loss = F.cross_entropy(logits.reshape(-1, 10), y.reshape(-1), reduction="sum") / batch
        grads = torch.autograd.grad(loss, params)
        torch.cat([g.reshape(n, -1) for g in grads], dim=1, out=grad)
        opt.step(net.theta, grad)

    return step


def plain_step(arch: str, batch: int) -> Callable[[], None]:
    """One training step (Adam) of one model, as train_model does it (without dropout)."""
    model = create_architecture(arch, seed=0)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((batch, *model.input_shape), generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def stack_sweep(repeats: int) -> list[tuple[str, int, float]]:
    """ms per model-step against the stack size N (N = 1 row: the plain one-model step)."""
    rows = []
    for arch, batch, sizes in (
        ("schurholt-cnn", 10, (8, 16, 32, 64, 128)),
        ("nws-cnn", 64, (2, 4, 6, 8, 16)),
    ):
        rows.append(
            (f"{arch}, batch {batch}", 0, best_time(plain_step(arch, batch), repeats * 4) * 1e3)
        )
        for n in sizes:
            rows.append(
                (
                    f"{arch}, batch {batch}",
                    n,
                    best_time(stacked_step(arch, n, batch), repeats) * 1e3 / n,
                )
            )
    return rows


# ------------------------------------------------------------------------------------ main
def measure(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    gflops = matmul_gflops()
    result: dict[str, Any] = {"matmul_gflops": gflops, "threads": torch.get_num_threads()}
    result["cases"] = [run_case(case, args, gflops) for case in make_cases(args)]
    result["steps"] = step_comparison(args.step_models, args.repeats)
    result["convs"] = conv_variants(args.step_models, args.repeats)
    result["sweep"] = stack_sweep(args.repeats)
    result["gflops_after"] = matmul_gflops()
    return result


def report(label: str, r: dict[str, Any]) -> None:
    print(f"\n### Allocator: {label}")
    print(
        f"float32 matmul: {r['matmul_gflops']:.0f} GFLOP/s before, {r['gflops_after']:.0f} after; "
        f"torch threads: {r['threads']}\n"
    )
    print(
        "| case | K models x epochs | train images | plain model-epochs/s | batched model-epochs/s "
        "| ratio (best) | ratio (median) | CPU/wall plain, batched | GFLOP per model-epoch "
        "| floor s/model-epoch | plain x floor | batched x floor |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in r["cases"]:
        cp, cb = c["cpu_per_wall"]
        print(
            f"| {c['case']} | {c['models']} x {c['epochs']} | {c['n_train']:,} | {c['plain_me_s']:.2f} | "
            f"{c['batched_me_s']:.2f} | **{c['ratio']:.1f}x** | {c['ratio_median']:.1f}x | "
            f"{cp:.2f}, {cb:.2f} | {c['gflop_per_me']:.1f} | "
            f"{c['floor_s_per_me']:.3f} | {c['plain_x_floor']:.1f} | {c['batched_x_floor']:.1f} |"
        )
    print(
        "\nOne training step of K models, schurholt-cnn, batch 10, Adam, least of repeats "
        "(ms per model):\n"
    )
    print("| implementation | ms per model-step |")
    print("|---|---:|")
    for name, ms in r["steps"].items():
        print(f"| {name} | {ms:.3f} |")
    print(
        "\nStack size: one training step (Adam), least of repeats, ms per model "
        "(N = plain: train_model's step for one model):\n"
    )
    print("| network | N | ms per model-step |")
    print("|---|---:|---:|")
    for net, n, ms in r["sweep"]:
        print(f"| {net} | {n or 'plain'} | {ms:.3f} |")
    print("\nConvolutions alone, forward + backward, batch 10, least of repeats (ms per model):\n")
    names = list(r["convs"][0][1])
    print("| layer | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for layer, times in r["convs"]:
        print(f"| {layer} | " + " | ".join(f"{times[n]:.3f}" for n in names) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=16, help="K models per case (default 16)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per model (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved (plain, batched) rounds")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the step timings")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--schurholt-train", type=int, default=None, help="training images (all)")
    parser.add_argument("--nws-train", type=int, default=2000, help="nws-cnn training images")
    parser.add_argument("--nws-eval", type=int, default=500, help="nws-cnn val/test images")
    parser.add_argument("--step-models", type=int, default=32, help="K of the step comparison")
    parser.add_argument("--allocator", choices=["both", "default", "tuned"], default="both")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.epochs, args.rounds, args.repeats = 4, 1, 1, 2
        args.schurholt_train, args.nws_train, args.nws_eval, args.step_models = 500, 256, 100, 8
    if args.json:  # the child process of the tuned-allocator run
        print(json.dumps(measure(args)))
        return 0
    results: list[tuple[str, dict[str, Any]]] = []
    if args.allocator in ("both", "default"):
        results.append(("glibc defaults", measure(args)))
    if args.allocator in ("both", "tuned"):
        child_args = [
            f"--models={args.models}",
            f"--epochs={args.epochs}",
            f"--rounds={args.rounds}",
            f"--repeats={args.repeats}",
            f"--threads={args.threads}",
            f"--nws-train={args.nws_train}",
            f"--nws-eval={args.nws_eval}",
            f"--step-models={args.step_models}",
        ]
        if args.schurholt_train is not None:
            child_args.append(f"--schurholt-train={args.schurholt_train}")
        env = {**os.environ, **TUNED_ENV}
        done = subprocess.run(
            [sys.executable, __file__, *child_args, "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        label = " ".join(f"{k}={v}" for k, v in TUNED_ENV.items())
        results.append((label, json.loads(done.stdout.strip().splitlines()[-1])))
    print(
        f"K = {args.models} models, {args.epochs} epochs, {args.rounds} interleaved rounds; "
        "model-epochs/s from the best round, including every evaluation TrainResult needs; "
        f"load average at the end: {os.getloadavg()[0]:.2f}."
    )
    for label, r in results:
        report(label, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
