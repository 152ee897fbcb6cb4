"""Batched training: many same-architecture models trained together as one stacked network.

:func:`train_models` returns, for every model, what :func:`weightspace.zoo.train.train_model` returns
for it alone (same snapshots, records, epochs and stop reason, to float tolerance): each model keeps
its own ``torch.Generator`` seeded with its ``config.seed`` and draws from it, in the reference order,
its epoch permutation, its augmentations and its dropout masks; its loss is its own mean
cross-entropy (the stack's loss is the sum over models, so every model gets its own gradient); its
optimizer, learning rate, decay and weight decay are its own; its early stopping is its own. The
models are run as one :class:`weightspace.zoo.stacked.StackedNet` (grouped convolutions, batched
matrix products, one batch norm over all models' channels), which is several times faster than one
model after another on a CPU (``bench/bench_train.py``).

Models that stop are removed from the stack at the end of the epoch (compaction: one
``index_select`` of the parameters and optimizer state, far cheaper than an epoch, so it is done as
soon as one model stops).

Memory: like the reference trainer, every epoch's weights are kept until training ends (the kept
snapshots depend on the final epoch count): ``N x (epochs + 1) x n_weights x 4`` bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from weightspace.errors import WeightspaceError
from weightspace.library.records import SnapshotRecord
from weightspace.zoo.data.core import Dataset
from weightspace.zoo.early_stopping import StopState, kept_exports
from weightspace.zoo.stacked import StackedNet, StackedOptimizer, activation_key, check_stackable

# the reference trainer's own tensor conversion and augmentation: the batched trainer feeds the same inputs
from weightspace.zoo.train import TrainConfig, TrainResult, augment_inputs, split_tensors

__all__ = ["train_models"]

#: ``on_epoch(model_index, epoch, val_acc)``, called for every model still training.
EpochCallback = Callable[[int, int, float], None]

# Largest activation tensor of one training step (batch x models x widest layer x 4 bytes): models
# are trained in stacks of at most this size. Bigger tensors leave the caches and, beyond glibc's
# mmap threshold, are page-faulted in afresh at every step (bench/bench_train.py, stack sizes:
# schurholt-cnn at batch 10 is fastest at 16-64 models, nws-cnn at batch 64 at 2-6; 8 MiB gives
# 45 and 4).
_STACK_BYTES = 8 * 2**20
# Largest activation tensor of one evaluation chunk (samples x models x widest layer x 4 bytes);
# smaller chunks stay in cache: 4 MiB evaluated 2,000 samples 5x (nws-cnn) and 2.7x (schurholt-cnn)
# faster per model than train.evaluate, 64 MiB only 1.7x.
_EVAL_BYTES = 4 * 2**20
# Models evaluated together when recording kept snapshots.
_RECORD_MODELS = 64


def train_models(
    models: Sequence[nn.Module],
    data: Dataset,
    configs: Sequence[TrainConfig],
    *,
    on_epoch: EpochCallback | None = None,
) -> list[TrainResult]:
    """Train ``models[i]`` as ``configs[i]`` says, all together; the result of each is that of
    :func:`weightspace.zoo.train.train_model` on it alone, to float tolerance.

    Parameters
    ----------
    models : sequence of nn.Module
        Freshly initialized networks of one structure (:func:`weightspace.zoo.stacked.model_signature`:
        the same ``nn.Sequential`` layers and tensor shapes; activations and dropout rates may
        differ). Each is left holding its final weights (in eval mode), as ``train_model``
        leaves it.
    data : Dataset
        Train/validation/test splits, shared by all models.
    configs : sequence of TrainConfig
        One per model; everything may differ between models. Models of one batch size and one
        set of activations are trained together, in stacks of a size that keeps one step's
        largest activation tensor near 8 MiB; the stacks are trained one after another.
    on_epoch : callable, optional
        ``on_epoch(i, epoch, val_acc)`` after every epoch of every model still training.

    Returns
    -------
    list of TrainResult
        In the order of ``models``. ``wall_time`` is the model's share of its stack's time (each
        epoch's time divided by the models trained in it, plus its share of the evaluation).

    Raises
    ------
    WeightspaceError
        Lengths differ, a model appears twice, or the models cannot be stacked (the message names
        the first difference).

    Examples
    --------
    >>> from weightspace.zoo.architectures import create_architecture
    >>> from weightspace.zoo.datasets import load_dataset
    >>> from weightspace.zoo.early_stopping import EarlyStopping
    >>> data = load_dataset("digits", seed=0)
    >>> nets = [torch.nn.Sequential(torch.nn.Flatten(), create_architecture(
    ...     "mlp", seed=s, in_features=64, hidden=(16,))) for s in range(3)]
    >>> stop = EarlyStopping(min_epochs=2, max_epochs=2)
    >>> results = train_models(nets, data, [TrainConfig(seed=s, stopping=stop) for s in range(3)])
    >>> [r.epochs for r in results]
    [2, 2, 2]
    """
    models, configs = list(models), list(configs)
    if len(models) != len(configs):
        raise WeightspaceError(
            f"train_models needs one TrainConfig per model; got {len(models)} models and "
            f"{len(configs)} configs"
        )
    if len({id(m) for m in models}) != len(models):
        raise WeightspaceError("train_models got the same model object twice; pass distinct models")
    for i, config in enumerate(configs):
        if not isinstance(config, TrainConfig):
            raise WeightspaceError(
                f"configs[{i}] must be a TrainConfig; got {type(config).__name__}"
            )
    if not models:
        return []
    check_stackable(models)
    norms = {c.input_norm for c in configs}
    if len(norms) > 1:
        raise WeightspaceError(
            f"train_models: the models share one dataset and need one input_norm; got {sorted(map(str, norms))}"
        )
    t = split_tensors(data, configs[0].input_norm)
    probe = StackedNet.from_models(models[:1])
    probe.infer_shapes(tuple(t["x_train"].shape[1:]))
    # one stack per batch size and activations (a stack of mixed activations works, but slicing
    # channels-last activations per model made nws-cnn steps 2.5x slower), at most `size` models
    groups: dict[tuple[int, str], list[int]] = {}
    for i, (model, config) in enumerate(zip(models, configs, strict=True)):
        groups.setdefault((config.batch_size, repr(activation_key(model))), []).append(i)
    results: dict[int, TrainResult] = {}
    for (batch_size, _), group in sorted(groups.items()):
        size = max(1, _STACK_BYTES // (4 * batch_size * probe.widest))
        for begin in range(0, len(group), size):
            stack = group[begin : begin + size]
            trained = _train_stack(
                [models[i] for i in stack], [configs[i] for i in stack], t, on_epoch, stack
            )
            results.update(zip(stack, trained, strict=True))
    return [results[i] for i in range(len(models))]


@dataclass
class _Model:
    """Book-keeping of one model of a stack."""

    index: int  # in the caller's list
    config: TrainConfig
    generator: torch.Generator
    stop: StopState
    exports: list[tuple[Tensor, Tensor]]  # per export: (floats row, counts row)
    reason: str | None = None
    epochs: int = 0
    seconds: float = 0.0


def _train_stack(
    models: list[nn.Module],
    configs: list[TrainConfig],
    t: dict[str, Tensor],
    on_epoch: EpochCallback | None,
    indices: list[int],
) -> list[TrainResult]:
    """Train one stack of models (same batch size); ``indices`` are their caller's indices."""
    start = time.perf_counter()
    net = StackedNet.from_models(models)
    net.infer_shapes(tuple(t["x_train"].shape[1:]))
    state = [
        _Model(
            index=i,
            config=configs[i],
            generator=torch.Generator().manual_seed(int(configs[i].seed)),
            stop=configs[i].stopping.start(),
            exports=[],
        )
        for i in range(len(models))
    ]
    opt = StackedOptimizer(
        [m.config.optimizer for m in state],
        [m.config.lr for m in state],
        [m.config.momentum for m in state],
        [m.config.weight_decay for m in state],
        net.theta.shape[1],
    )
    _export(net, state)
    template = net
    active = list(state)
    epoch = 0
    setup = time.perf_counter() - start
    while active:
        epoch_start = time.perf_counter()
        epoch += 1
        opt.set_lr([m.config.lr * m.config.lr_decay ** (epoch - 1) for m in active])
        _train_epoch(net, opt, active, t)
        val_acc, _ = _evaluate(net, t["x_val"], t["y_val"])
        _export(net, active)
        keep = []
        for r, m in enumerate(active):
            acc = float(val_acc[r])
            if on_epoch is not None:
                on_epoch(indices[m.index], epoch, acc)
            m.reason = m.stop.update(acc)
            m.epochs = epoch
            if m.reason is None:
                keep.append(r)
        share = (time.perf_counter() - epoch_start) / len(active)
        for m in active:
            m.seconds += share
        if len(keep) < len(active):  # compaction: drop the finished models from the stack
            active = [active[r] for r in keep]
            if active:
                net, opt = net.select(keep), opt.select(keep)
    records_start = time.perf_counter()
    records = _records(template, state, t)
    share = (time.perf_counter() - records_start + setup) / len(models)
    results = []
    for model, m in zip(models, state, strict=True):
        kept = kept_exports(len(m.exports), m.config.n_snapshots)
        states = [template.state_dict(*m.exports[k]) for k in kept]
        model.load_state_dict(template.state_dict(*m.exports[-1]))
        model.eval()  # as train_model leaves it
        assert m.reason is not None
        results.append(
            TrainResult(
                states=states,
                records=records[m.index],
                epochs=m.epochs,
                stop_reason=m.reason,
                wall_time=m.seconds + share,
                val_history=tuple(m.stop.history),
            )
        )
    return results


def _export(net: StackedNet, models: list[_Model]) -> None:
    floats, counts = net.export()
    for r, m in enumerate(models):
        m.exports.append((floats[r], counts[r]))


def _train_epoch(
    net: StackedNet, opt: StackedOptimizer, models: list[_Model], t: dict[str, Tensor]
) -> None:
    """One epoch of every model; the generators are used in the reference trainer's order."""
    x_train, y_train = t["x_train"], t["y_train"]
    n_train = len(y_train)
    batch_size = models[0].config.batch_size
    gens = [m.generator for m in models]
    orders = torch.stack([torch.randperm(n_train, generator=g) for g in gens])  # (N, n_train)
    augmented = [m.config.augment for m in models]
    masks = net.needs_masks()
    grad = torch.empty_like(net.theta)
    for begin in range(0, n_train, batch_size):
        idx = orders[:, begin : begin + batch_size]  # (N, B)
        if any(augmented):
            parts = [x_train[row] for row in idx]
            parts = [
                augment_inputs(x, g, models[0].config.input_norm) if a else x
                for x, g, a in zip(parts, gens, augmented, strict=True)
            ]
            xb = torch.stack(parts, dim=1)
        else:
            xb = x_train[idx.T]  # (B, N, *sample_shape)
        yb = y_train[idx.T]  # (B, N)
        drop = net.draw_masks(idx.shape[1], gens) if masks else None
        params = net.param_views(requires_grad=True)
        logits = net.forward(xb, params, training=True, masks=drop)
        loss = (
            F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), reduction="sum")
            / idx.shape[1]
        )
        grads = torch.autograd.grad(loss, params)
        torch.cat([g.reshape(g.shape[0], -1) for g in grads], dim=1, out=grad)
        opt.step(net.theta, grad)


@torch.no_grad()
def _evaluate(
    net: StackedNet, x: Tensor, y: Tensor, counts: Sequence[int] | None = None
) -> tuple[Tensor, Tensor]:
    """Accuracy and mean cross-entropy ``(N,)`` of every model (evaluation mode) on its first
    ``counts[i]`` samples of ``(x, y)`` (all by default), as :func:`train.evaluate` computes them."""
    n = net.n_models
    total = len(y) if counts is None else max(counts)
    if total == 0:
        nan = torch.full((n,), float("nan"), dtype=torch.float64)
        return nan, nan.clone()
    limit = torch.as_tensor([total] * n if counts is None else list(counts))
    chunk = max(16, _EVAL_BYTES // (4 * n * net.widest))
    correct = torch.zeros(n, dtype=torch.float64)
    loss = torch.zeros(n, dtype=torch.float64)
    params = net.param_views()
    for begin in range(0, total, chunk):
        xb, yb = x[begin : begin + chunk], y[begin : begin + chunk]
        logits = net.forward(xb, params, training=False, shared=True)  # (b, N, K)
        target = yb.unsqueeze(1).expand(-1, n)
        ce = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none"
        ).view(-1, n)
        hit = logits.argmax(-1) == target
        inside = (torch.arange(begin, begin + len(yb)).unsqueeze(1) < limit).to(torch.float64)
        correct += (hit.to(torch.float64) * inside).sum(0)
        loss += (ce.to(torch.float64) * inside).sum(0)
    denom = limit.to(torch.float64)
    return correct / denom, loss / denom


def _records(
    template: StackedNet, models: list[_Model], t: dict[str, Tensor]
) -> list[list[SnapshotRecord]]:
    """The SnapshotRecords of every model's kept snapshots, evaluated in stacks of exported
    weights; model ``i`` is row ``i`` of ``template`` (its activations)."""
    pairs = [
        (i, k)
        for i, m in enumerate(models)
        for k in kept_exports(len(m.exports), m.config.n_snapshots)
    ]
    n_train = len(t["y_train"])
    metrics: list[tuple[float, ...]] = []
    for begin in range(0, len(pairs), _RECORD_MODELS):
        part = pairs[begin : begin + _RECORD_MODELS]
        floats = torch.stack([models[i].exports[k][0] for i, k in part])
        counts = torch.stack([models[i].exports[k][1] for i, k in part])
        net = template.with_rows(floats, counts, [i for i, _ in part])
        n_eval = [min(models[i].config.train_eval_samples, n_train) for i, _ in part]
        train = _evaluate(net, t["x_train"], t["y_train"], n_eval)
        val = _evaluate(net, t["x_val"], t["y_val"])
        test = _evaluate(net, t["x_test"], t["y_test"])
        for r in range(len(part)):
            metrics.append(tuple(float(a[r]) for pair in (train, val, test) for a in pair))
    out: list[list[SnapshotRecord]] = [[] for _ in models]
    for (i, k), (tr_acc, tr_loss, va_acc, va_loss, te_acc, te_loss) in zip(
        pairs, metrics, strict=True
    ):
        out[i].append(
            SnapshotRecord(
                epoch=k,
                progress=k / models[i].epochs,
                train_acc=tr_acc,
                val_acc=va_acc,
                test_acc=te_acc,
                train_loss=tr_loss,
                val_loss=va_loss,
                test_loss=te_loss,
            )
        )
    return out
