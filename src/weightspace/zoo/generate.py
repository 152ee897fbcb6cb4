"""Zoo generation: sample configs, train them (batched, over worker processes), store them, resume.

Every model of a plan has a key, a hash of the plan's defining fields and the model's config and
index. Generation writes each finished model (all its snapshots and metadata) into the library in
one atomic transaction, with its key in the ``zoo_key`` column; a rerun of the same plan skips the
keys already there, so a killed run loses at most the models in training and never duplicates one.

Training runs on an engine (:mod:`weightspace.zoo.engines`): worker processes of this machine
(``workers``), or Ray tasks on a cluster (:class:`weightspace.zoo.ray_engine.RayEngine`); either way
the generating process is the only writer. Models that share a dataset, a batch size and an
architecture are trained together by the batched trainer when it is available.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from weightspace.errors import WeightspaceError
from weightspace.io.weightset import Role
from weightspace.library import Library
from weightspace.zoo.data.core import Dataset, stratified_holdout, to_common_shape
from weightspace.zoo.early_stopping import EarlyStopping
from weightspace.zoo.presets import ZooPlan
from weightspace.zoo.space import Config, HyperSpace
from weightspace.zoo.train import TrainConfig, TrainResult

if TYPE_CHECKING:
    from weightspace.zoo.engines import Engine

__all__ = [
    "GenerateReport",
    "ModelSpec",
    "Trained",
    "generate_zoo",
    "plan_models",
    "prepare_dataset",
    "train_group",
]

#: Models trained together in one worker task (the batched trainer stacks those it can; a killed run
#: loses at most ``workers x group`` models in training).
DEFAULT_GROUP = 32


@dataclass(frozen=True)
class ModelSpec:
    """One model of a plan: its index, key and sampled hyper-parameters."""

    index: int
    key: str
    config: dict[str, Any]


#: A trained model as a worker returns it: its spec, the training result (NumPy snapshots) and the
#: role of each tensor.
Trained = tuple[ModelSpec, TrainResult, dict[str, Role]]


@dataclass(frozen=True)
class GenerateReport:
    """What a :func:`generate_zoo` call did."""

    planned: int
    already_done: int
    trained: int
    seconds: float


# Plan fields added after zoos were generated, left out of the fingerprint at their default so that
# the keys of earlier plans (and the libraries that hold them) stay valid.
_LATER_FIELDS: dict[str, Any] = {"grid_subset": False, "input_norm": None}


def _plan_fingerprint(plan: ZooPlan) -> str:
    fields = asdict(plan)
    fields.pop("description", None)
    for name, default in _LATER_FIELDS.items():
        if fields[name] == default:
            del fields[name]
    if plan.grid_subset:  # model i is the same for every n: a smaller zoo grows into a larger one
        del fields["n"]
    return json.dumps(fields, sort_keys=True, default=str)


def plan_models(plan: ZooPlan) -> list[ModelSpec]:
    """The models of a plan, in order; deterministic for the plan."""
    space = plan.hyperspace()
    configs = _sample(plan, space)
    base = _plan_fingerprint(plan)
    out = []
    for index, config in enumerate(configs):
        values = config.to_dict()
        digest = hashlib.sha1(
            f"{base}|{index}|{json.dumps(values, sort_keys=True, default=str)}".encode()
        )
        out.append(ModelSpec(index, digest.hexdigest()[:16], values))
    return out


def _sample(plan: ZooPlan, space: HyperSpace) -> list[Config]:
    if plan.grid and plan.grid_subset:
        grid = space.grid()
        if plan.n > len(grid):
            raise WeightspaceError(
                f"zoo plan: n={plan.n} models, but the grid of {plan.space!r} has {len(grid)} configs; "
                f"use --n {len(grid)} or less"
            )
        order = np.random.default_rng(plan.seed).permutation(len(grid))[: plan.n]
        return [grid[i] for i in order]
    if plan.grid:
        return [c for _ in range(plan.n) for c in space.grid()]
    wanted = {k: set(space[k].grid() or ()) for k in plan.cover}
    for attempt in range(100):
        configs = space.sample(plan.n, plan.seed + 1_000_003 * attempt)
        if all({c[k] for c in configs} >= values for k, values in wanted.items()):
            return configs
    raise WeightspaceError(
        f"zoo plan: {plan.n} models cannot cover every value of {list(plan.cover)}; "
        "raise n or drop keys from cover"
    )


def _train_config(spec: ModelSpec, plan: ZooPlan) -> TrainConfig:
    c = spec.config
    epochs = c.get("epochs")
    if epochs is not None:
        n = min(int(epochs), plan.max_epochs)
        stopping = EarlyStopping(min_epochs=n, max_epochs=n)
    else:
        stopping = EarlyStopping(min_epochs=plan.min_epochs, max_epochs=plan.max_epochs)
    return TrainConfig(
        optimizer=c.get("optimizer", "adam"),
        lr=float(c.get("learning_rate", 1e-3)),
        lr_decay=float(c.get("lr_decay", 1.0)),
        momentum=float(c.get("momentum", 0.95)),
        weight_decay=float(c.get("weight_decay", 0.0)),
        batch_size=int(c.get("batch_size", 64)),
        augment=bool(c.get("augmentation", False)),
        seed=int(c.get("seed", 0)),
        stopping=stopping,
        n_snapshots=plan.n_snapshots,
        input_norm=plan.input_norm,
    )


# ------------------------------------------------------------------------------ worker side
_DATA_CACHE: dict[tuple[str, int, Any, Any], Dataset] = {}


def prepare_dataset(name: str, plan: ZooPlan) -> Dataset:
    """The training data of dataset (or task) ``name`` as ``plan`` converts it: common input shape,
    training subsample. Deterministic for the plan; not cached."""
    from weightspace.zoo.tasks import load_task_dataset

    data = load_task_dataset(name, seed=plan.seed)  # a dataset, or a task: "mnist10k:3v8"
    # subsample, then convert (the same images either way; converting 60,000 MNIST images to
    # 3x32x32 first would hold 740 MB per dataset in every worker)
    if plan.train_samples is not None and plan.train_samples < data.n_train:
        fraction = plan.train_samples / data.n_train
        _, keep = stratified_holdout(data.y_train, fraction, np.random.default_rng(plan.seed))
        keep = np.sort(keep)
        data = replace(data, x_train=data.x_train[keep], y_train=data.y_train[keep])
    if plan.input_shape is not None and len(data.input_shape) == 3:
        data = to_common_shape(data, plan.input_shape)
    return data


def _dataset(name: str, plan: ZooPlan) -> Dataset:
    key = (name, plan.seed, plan.input_shape, plan.train_samples)
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = prepare_dataset(name, plan)
    return _DATA_CACHE[key]


def _build_model(
    space: HyperSpace,
    spec: ModelSpec,
    plan: ZooPlan,
    input_shape: tuple[int, ...],
    n_classes: int,
) -> Any:
    from weightspace.zoo.architectures import architecture_parameters

    accepted = architecture_parameters(space.architecture or "")
    shape_kw: dict[str, Any] = {"n_classes": n_classes}
    if "in_channels" in accepted:
        shape_kw["in_channels"] = input_shape[0]
    if "input_size" in accepted and len(input_shape) == 3:
        shape_kw["input_size"] = input_shape[1]
    if "in_features" in accepted:
        shape_kw["in_features"] = int(np.prod(input_shape))
    kwargs = shape_kw | {k: v for k, v in plan.model_overrides.items() if k in accepted}
    return space.create_model(spec.config, **kwargs)


def train_group(
    plan: ZooPlan, specs: list[ModelSpec], data: Dataset | None = None
) -> list[Trained]:
    """Train a group of models that share a dataset (in a worker process): what every engine runs.

    ``data`` is the group's dataset as :func:`prepare_dataset` gives it (the Ray engine ships it);
    by default the worker loads it once and keeps it. Snapshots travel back as NumPy arrays:
    pickled torch tensors would go through shared-memory file descriptors, thousands per group.
    """
    from weightspace.io.load import load_weights

    space = plan.hyperspace()
    if data is None:
        data = _dataset(specs[0].config["dataset"], plan)
    models = [_build_model(space, s, plan, data.input_shape, data.n_classes) for s in specs]
    configs = [_train_config(s, plan) for s in specs]
    roles = [{t.name: t.role for t in load_weights(m)} for m in models]
    results = [
        replace(r, states=[{k: v.numpy() for k, v in st.items()} for st in r.states])  # type: ignore[misc]
        for r in _train(models, data, configs)
    ]
    return [(s, r, ro) for s, r, ro in zip(specs, results, roles, strict=True)]


def _train(models: list[Any], data: Dataset, configs: list[TrainConfig]) -> list[TrainResult]:
    """Train a group: the batched trainer for each set of models that share a stacking signature,
    the reference loop for a model alone. The parent already groups by signature
    (:func:`_groups`); splitting here again makes any group trainable, whoever formed it."""
    from weightspace.zoo.stacked import StackError, model_signature
    from weightspace.zoo.train import train_model

    parts: dict[Any, list[int]] = {}
    for i, model in enumerate(models):
        try:
            key: Any = model_signature(model)
        except StackError:
            key = ("alone", i)
        parts.setdefault(key, []).append(i)
    results: list[TrainResult | None] = [None] * len(models)
    for indices in parts.values():
        if len(indices) > 1:
            from weightspace.zoo.batched import train_models

            trained = train_models(
                [models[i] for i in indices], data, [configs[i] for i in indices]
            )
        else:
            trained = [train_model(models[indices[0]], data, configs[indices[0]])]
        for i, result in zip(indices, trained, strict=True):
            results[i] = result
    return [r for r in results if r is not None]


# ------------------------------------------------------------------------------ parent side
def _input_spec(name: str, plan: ZooPlan) -> tuple[tuple[int, ...], int]:
    """Input shape (after the plan's conversion) and class count of a dataset or task."""
    key = (name, plan.seed, plan.input_shape, plan.train_samples)
    if key in _DATA_CACHE:
        data = _DATA_CACHE[key]
        return data.input_shape, data.n_classes
    from weightspace.zoo.data.registry import dataset_info
    from weightspace.zoo.tasks import load_task_dataset

    info = dataset_info(name)  # a registered dataset's metadata: no need to load it here
    if info is not None:
        if plan.input_shape is not None and len(info.shape) == 3:
            return tuple(plan.input_shape), info.n_classes
        return info.shape, info.n_classes

    data = load_task_dataset(name, seed=plan.seed)  # not cached: workers load their own copy
    shape = data.input_shape
    if plan.input_shape is not None and len(shape) == 3:
        shape = tuple(plan.input_shape)
    return shape, data.n_classes


def _stack_key(space: HyperSpace, spec: ModelSpec, plan: ZooPlan, inputs: Any) -> str:
    """What decides whether two models can be trained together: dataset, batch size and the
    stacking signature of the built model (:func:`weightspace.zoo.stacked.model_signature`).

    The model is built on PyTorch's ``meta`` device (structure without storage or initialization
    cost), or on the CPU when its initialization reads values (``meta`` tensors have none). A model
    the batched trainer cannot stack gets a key of its own.
    """
    import torch

    from weightspace.zoo.stacked import StackError, model_signature

    dataset = spec.config.get("dataset")
    try:
        with torch.device("meta"):
            model = _build_model(space, spec, plan, *inputs)
    except (RuntimeError, NotImplementedError):
        model = _build_model(space, spec, plan, *inputs)
    try:
        signature: Any = model_signature(model)
    except StackError:
        signature = ("alone", spec.index)
    return json.dumps(
        [dataset, spec.config.get("batch_size"), repr(signature)], sort_keys=True, default=str
    )


def _groups(plan: ZooPlan, specs: Sequence[ModelSpec], group_size: int) -> list[list[ModelSpec]]:
    """Split ``specs`` into groups of at most ``group_size`` models the batched trainer can stack
    (same dataset, batch size and model signature), in plan order within each group."""
    space = plan.hyperspace()
    inputs: dict[str, tuple[tuple[int, ...], int]] = {}
    buckets: dict[str, list[ModelSpec]] = defaultdict(list)
    for s in specs:
        dataset = str(s.config.get("dataset"))
        if dataset not in inputs:
            inputs[dataset] = _input_spec(dataset, plan)
        buckets[_stack_key(space, s, plan, inputs[dataset])].append(s)
    out = []
    for bucket in buckets.values():
        for start in range(0, len(bucket), group_size):
            out.append(bucket[start : start + group_size])
    return out


def _store(
    lib: Library,
    plan: ZooPlan,
    spec: ModelSpec,
    result: TrainResult,
    roles: dict[str, Role],
    seconds: float,
) -> None:
    from weightspace.io.torch_format import read_state_dict
    from weightspace.zoo.tasks import task_metadata

    snapshots = [read_state_dict(s, source=f"zoo:{spec.key}", roles=roles) for s in result.states]
    final = result.final
    lib.add(
        snapshots,
        name=f"{plan.space}-{spec.index:05d}",
        source=f"zoo {plan.space} seed={plan.seed}",
        hparams=spec.config,
        metrics={
            "test_acc": final.test_acc,
            "val_acc": final.val_acc,
            "train_acc": final.train_acc,
            "test_loss": final.test_loss,
            # a space with an ``epochs`` hyper-parameter (a budget) keeps that name
            ("epochs_trained" if "epochs" in spec.config else "epochs"): result.epochs,
            "stop_reason": result.stop_reason,
            "train_seconds": seconds,
        },
        metadata={"zoo_key": spec.key, "zoo_index": spec.index, "zoo_space": plan.space}
        | task_metadata(plan.datasets, spec.config.get("dataset"))
        | _input_norm_metadata(plan),
        snapshots=result.records,
    )


def _input_norm_metadata(plan: ZooPlan) -> dict[str, float]:
    """How the inputs were fed: what a user needs to evaluate the stored models."""
    if plan.input_norm is None:
        return {}
    mean, std = plan.input_norm
    return {"input_mean": float(mean), "input_std": float(std)}


def done_keys(lib: Library) -> set[str]:
    """Keys of the zoo models already in a library."""
    if "zoo_key" not in lib.columns():
        return set()
    return {
        str(k) for k in lib.sql("SELECT zoo_key FROM models WHERE zoo_key IS NOT NULL")["zoo_key"]
    }


def generate_zoo(
    plan: ZooPlan,
    out: str | os.PathLike[str],
    *,
    workers: int = 1,
    group_size: int = DEFAULT_GROUP,
    progress: bool = True,
    on_model: Callable[[ModelSpec], None] | None = None,
    engine: Engine | None = None,
) -> GenerateReport:
    """Train the models of ``plan`` that ``out`` does not hold yet, and add them to it.

    Parameters
    ----------
    plan : ZooPlan
    out : path
        The library (created when missing).
    workers : int, default=1
        Worker processes (0 trains in this process); the local engine's, unused with ``engine``.
    group_size : int, default=32
        Models per task; a killed run loses at most ``workers * group_size`` models in training.
    progress : bool, default=True
        Show a progress bar with models done and ETA.
    on_model : callable, optional
        Called with each model's spec once it is committed.
    engine : LocalEngine or RayEngine, optional
        Where the groups train (default ``LocalEngine(workers)``). Whatever the engine, this process
        is the library's only writer, and the same plan gives the same models.
    """
    from weightspace.zoo.engines import LocalEngine

    if engine is None:
        engine = LocalEngine(workers=workers)
    start = time.perf_counter()
    path = Path(out)
    lib = Library(path) if (path / "weightspace.db").exists() else Library.create(path)
    specs = plan_models(plan)
    done = done_keys(lib)
    todo = [s for s in specs if s.key not in done]
    groups = _groups(plan, todo, max(1, group_size))
    bar = None
    if progress:
        from weightspace._progress import progress_bar

        bar = progress_bar(
            total=len(specs),
            initial=len(specs) - len(todo),
            unit="model",
            desc=f"zoo {plan.space}",
        )
    trained = 0
    runs = engine.run(plan, groups)
    try:
        for results, seconds in runs:
            for spec, result, roles in results:
                _store(lib, plan, spec, result, roles, seconds / max(1, len(results)))
                trained += 1
                if bar is not None:
                    bar.update(1)
                if on_model is not None:
                    on_model(spec)
    finally:
        runs.close()  # stops the engine's work in flight (an error, an interrupt)
        if bar is not None:
            bar.close()
    return GenerateReport(len(specs), len(specs) - len(todo), trained, time.perf_counter() - start)
