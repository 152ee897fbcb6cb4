"""Task zoos: learning tasks made of class subsets of a dataset, many trainings per task.

The zoos of hypothesis-training-testing (*Understanding Weight Similarity of Neural Networks via
Chain Normalization Rule and Hypothesis-Training-Testing*, sec. 4 and appendix E): the classes of a
dataset are grouped into learning tasks (CIFAR-100: 50 binary tasks, classes ``2k`` vs ``2k+1``),
and one network is trained ``N`` times per task, the trainings differing only in their seed.

A task is named ``"<dataset>:<c1>v<c2>[v...]"`` (``"mnist10k:3v8"``: the digits 3 and 8, relabelled
0 and 1 in that order). The name is the model's ``dataset`` value, so the zoo generator trains task
zoos as it trains any zoo (:func:`load_task_dataset` loads the dataset restricted and relabelled);
the generator also stores the columns ``task`` (the task's index in the plan), ``task_classes``
(``"3,8"``) and ``task_dataset`` (``"mnist10k"``), see :func:`task_metadata`.

Defined here:

- :func:`htt_space`, the spaces ``htt-mlp`` and ``htt-cnn`` (registered with the built-in spaces by
  :mod:`weightspace.zoo.space`): every task x ``runs`` seeds (a grid), SGD with fixed settings;
- :func:`htt_plan_fields`, the fields of the presets ``htt-mnist10k-mlp`` and ``htt-mnist10k-cnn``.

Their architectures ``plain-mlp`` (the paper's MLP-4: flatten, linear + ReLU layers, a linear
output) and ``plain-cnn`` (PlainNet: conv k x k -> ReLU -> BN -> 2 x 2 max-pool units, one linear
layer) live in :mod:`weightspace.zoo.architectures.plain` (re-exported here); both mix the task name
into the initialization seed, so that run ``r`` of two tasks does not start from one
initialization.

Examples
--------
>>> from weightspace.zoo.tasks import Task, binary_tasks, task_names
>>> task_names("digits", binary_tasks(4))
('digits:0v1', 'digits:2v3')
>>> Task.parse("mnist10k:3v8").classes
(3, 8)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from weightspace.errors import WeightspaceError
from weightspace.zoo.architectures.plain import plain_cnn, plain_mlp
from weightspace.zoo.data.core import Dataset
from weightspace.zoo.hyperspace import HyperSpace, IntRange

__all__ = [
    "HTT_DEFAULTS",
    "HTT_EPOCHS",
    "Task",
    "TaskError",
    "binary_tasks",
    "htt_plan_fields",
    "htt_space",
    "is_task_name",
    "load_task_dataset",
    "plain_cnn",
    "plain_mlp",
    "random_tasks",
    "restrict_classes",
    "task_metadata",
    "task_names",
]

_NAME = re.compile(r"^(?P<dataset>[A-Za-z][A-Za-z0-9_\-]*):(?P<classes>\d+(?:v\d+)+)$")


class TaskError(WeightspaceError):
    """A task is malformed or does not fit its dataset (unknown class, repeated class, ...)."""


@dataclass(frozen=True)
class Task:
    """A learning task: a dataset restricted to some of its classes.

    Parameters
    ----------
    dataset : str
        A registered dataset (:func:`weightspace.zoo.datasets.list_datasets`).
    classes : tuple of int
        At least two distinct class indices of ``dataset``; class ``classes[i]`` becomes label ``i``.

    Examples
    --------
    >>> Task("mnist10k", (3, 8)).name
    'mnist10k:3v8'
    """

    dataset: str
    classes: tuple[int, ...]

    def __post_init__(self) -> None:
        classes = tuple(self.classes)
        if not isinstance(self.dataset, str) or not self.dataset:
            raise TaskError(f"task: the dataset must be a non-empty name; got {self.dataset!r}")
        bad = [c for c in classes if isinstance(c, bool) or not isinstance(c, int | np.integer)]
        if bad or any(int(c) < 0 for c in classes):
            raise TaskError(
                f"task on {self.dataset!r}: classes must be non-negative class indices; "
                f"got {list(classes)}"
            )
        classes = tuple(int(c) for c in classes)
        if len(classes) < 2 or len(set(classes)) != len(classes):
            raise TaskError(
                f"task on {self.dataset!r}: expected at least two distinct classes; got "
                f"{list(classes)} (e.g. Task({self.dataset!r}, (0, 1)))"
            )
        object.__setattr__(self, "classes", classes)

    @property
    def name(self) -> str:
        """``"<dataset>:<c1>v<c2>..."``, the task's dataset name in a zoo."""
        return f"{self.dataset}:{'v'.join(map(str, self.classes))}"

    @classmethod
    def parse(cls, name: str) -> Task:
        """The task a name like ``"mnist10k:3v8"`` stands for.

        Raises
        ------
        TaskError
            If ``name`` is not of the form ``DATASET:C1vC2[v...]``.
        """
        match = _NAME.match(str(name).strip())
        if match is None:
            raise TaskError(
                f"task {name!r}: expected DATASET:C1vC2[vC3...] with class indices, "
                "e.g. 'mnist10k:3v8'"
            )
        classes = tuple(int(c) for c in match["classes"].split("v"))
        return cls(match["dataset"], classes)


def _count(where: str, param: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise TaskError(f"{where}: {param} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def is_task_name(name: object) -> bool:
    """Whether ``name`` has the form of a task (``DATASET:C1vC2...``).

    Examples
    --------
    >>> is_task_name("mnist10k:0v1"), is_task_name("mnist10k")
    (True, False)
    """
    return isinstance(name, str) and ":" in name


def binary_tasks(n_classes: int) -> list[tuple[int, int]]:
    """The paper's binary tasks: classes ``(2k, 2k+1)`` for ``k < n_classes // 2``.

    Examples
    --------
    >>> binary_tasks(5)
    [(0, 1), (2, 3)]
    """
    _count("binary_tasks", "n_classes", n_classes, 2)
    return [(2 * k, 2 * k + 1) for k in range(n_classes // 2)]


def random_tasks(
    n_classes: int, n_tasks: int, *, size: int = 2, random_state: int = 0
) -> list[tuple[int, ...]]:
    """``n_tasks`` distinct random class subsets of ``size`` classes (in increasing order).

    Two tasks may share classes, never all of them.

    Examples
    --------
    >>> random_tasks(10, 3, random_state=0)
    [(6, 7), (2, 3), (0, 9)]
    """
    _count("random_tasks", "n_classes", n_classes, 2)
    _count("random_tasks", "n_tasks", n_tasks, 1)
    _count("random_tasks", "size", size, 2)
    if size > n_classes or n_tasks > math.comb(n_classes, size):
        raise TaskError(
            f"random_tasks: {n_classes} classes give {math.comb(n_classes, size)} subsets of "
            f"{size}, fewer than n_tasks={n_tasks}; ask for fewer tasks or smaller subsets"
        )
    rng = np.random.default_rng(random_state)
    chosen: list[tuple[int, ...]] = []
    while len(chosen) < n_tasks:
        subset = tuple(sorted(int(c) for c in rng.choice(n_classes, size, replace=False)))
        if subset not in chosen:
            chosen.append(subset)
    return chosen


def task_names(dataset: str, tasks: Sequence[Sequence[int]]) -> tuple[str, ...]:
    """The zoo dataset names of ``tasks`` on ``dataset`` (see :class:`Task`)."""
    return tuple(Task(dataset, tuple(t)).name for t in tasks)


def restrict_classes(data: Dataset, classes: Sequence[int], *, name: str | None = None) -> Dataset:
    """``data`` restricted to ``classes``, relabelled ``0..k-1`` in the order given.

    Parameters
    ----------
    data : Dataset
    classes : sequence of int
        Distinct class indices of ``data`` (``0 <= c < data.n_classes``).
    name : str, optional
        Name of the result (default: the task name, e.g. ``"digits:3v8"``).

    Returns
    -------
    Dataset
        Every split keeps the samples of ``classes`` only, in their order; ``class_names`` are those
        of ``classes``.

    Raises
    ------
    TaskError
        A class outside ``data``'s classes, a repeated class, fewer than two classes.

    Examples
    --------
    >>> from weightspace.zoo.datasets import load_dataset
    >>> task = restrict_classes(load_dataset("digits"), (3, 8))
    >>> task.name, task.n_classes, task.class_names
    ('digits:3v8', 2, ('3', '8'))
    """
    task = Task(data.name, tuple(classes))
    unknown = [c for c in task.classes if c >= data.n_classes]
    if unknown:
        raise TaskError(
            f"task {task.name!r}: dataset {data.name!r} has no class {unknown[0]} (it has "
            f"{data.n_classes} classes, 0..{data.n_classes - 1}: "
            f"{', '.join(data.class_names)}); choose class indices below {data.n_classes}"
        )
    lookup = np.full(data.n_classes, -1, dtype=np.int64)
    lookup[list(task.classes)] = np.arange(len(task.classes))
    xs, ys = {}, {}
    for split in ("train", "val", "test"):
        y = np.asarray(getattr(data, f"y_{split}"))
        keep = lookup[y] >= 0
        xs[split] = np.ascontiguousarray(getattr(data, f"x_{split}")[keep])
        ys[split] = lookup[y[keep]]
    if ys["train"].size == 0:
        raise TaskError(f"task {task.name!r}: no training samples of these classes")
    return replace(
        data,
        name=name or task.name,
        n_classes=len(task.classes),
        class_names=tuple(data.class_names[c] for c in task.classes),
        description=(
            f"{data.description} Task: classes {', '.join(map(str, task.classes))} relabelled "
            f"0..{len(task.classes) - 1}."
        ).strip(),
        x_train=xs["train"],
        y_train=ys["train"],
        x_val=xs["val"],
        y_val=ys["val"],
        x_test=xs["test"],
        y_test=ys["test"],
    )


def load_task_dataset(name: str, *, seed: int = 0, **options: Any) -> Dataset:
    """Load a dataset by name, or a task's dataset when ``name`` is a task (``"mnist10k:3v8"``).

    The validation split is drawn on the whole dataset (class-balanced, ``seed``) before the
    restriction, so every task of a dataset shares its splits. ``options`` go to
    :func:`weightspace.zoo.datasets.load_dataset`.

    Examples
    --------
    >>> load_task_dataset("digits:0v1").n_classes
    2
    """
    from weightspace.zoo.data.registry import load_dataset

    if not is_task_name(name):
        return load_dataset(name, seed=seed, **options)
    task = Task.parse(name)
    return restrict_classes(load_dataset(task.dataset, seed=seed, **options), task.classes)


def task_metadata(tasks: Sequence[str], dataset: object) -> dict[str, Any]:
    """The library columns of a model trained on ``dataset`` in a zoo of ``tasks``.

    Returns ``{}`` unless ``dataset`` is a task name; else ``task`` (its index in ``tasks``),
    ``task_classes`` (``"3,8"``) and ``task_dataset`` (``"mnist10k"``).

    Examples
    --------
    >>> task_metadata(("digits:0v1", "digits:2v3"), "digits:2v3")
    {'task': 1, 'task_classes': '2,3', 'task_dataset': 'digits'}
    """
    if not is_task_name(dataset):
        return {}
    task = Task.parse(str(dataset))
    names = list(tasks)
    return {
        "task": names.index(str(dataset)) if str(dataset) in names else -1,
        "task_classes": ",".join(map(str, task.classes)),
        "task_dataset": task.dataset,
    }


# ------------------------------------------------------------------------------ spaces, presets
#: Training of the task zoos: SGD as the paper (sec. 4.1: "We use SGD as the optimizer"), with
#: momentum 0.9, the same settings for every training; only the seed differs.
HTT_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {"learning_rate": 0.05, "batch_size": 32},
    "cnn": {"learning_rate": 0.05, "batch_size": 32},
}
#: Epochs of every training (the plan's ``min_epochs = max_epochs``; an ``epochs`` parameter in the
#: space would clash with the ``epochs`` metric the generator stores).
HTT_EPOCHS = 12

_DEFAULT_TASKS = task_names("mnist10k", binary_tasks(10))


def htt_space(
    *,
    datasets: Sequence[str] | str = _DEFAULT_TASKS,
    kind: str = "mlp",
    runs: int = 30,
) -> HyperSpace:
    """The task-zoo space: every task (``dataset``) x ``runs`` seeds, as a grid.

    Parameters
    ----------
    datasets : sequence of str
        Task names (``"mnist10k:0v1"``, see :class:`Task`) or plain dataset names.
    kind : {"mlp", "cnn"}, default="mlp"
        ``plain-mlp`` or ``plain-cnn``.
    runs : int, default=30
        Trainings per task; run ``r`` has ``seed = r`` (the architectures mix the task name into
        the initialization seed).
    """
    if kind not in HTT_DEFAULTS:
        raise TaskError(f"htt_space: kind must be 'mlp' or 'cnn'; got {kind!r}")
    _count("htt_space", "runs", runs, 1)
    names = (datasets,) if isinstance(datasets, str) else tuple(datasets)
    if not names:
        raise TaskError("htt_space: give at least one task (datasets=['mnist10k:0v1', ...])")
    params: dict[str, Any] = {
        "dataset": list(names),
        "optimizer": "sgd",
        "momentum": 0.9,
        "lr_decay": 1.0,
        "weight_decay": 0.0,
        **HTT_DEFAULTS[kind],
        "activation": "relu",
        "seed": IntRange(0, runs - 1),
    }
    return HyperSpace.create(
        f"htt-{kind}",
        params,
        architecture=f"plain-{kind}",
        model_keys=("dataset", "activation"),
        description=f"task zoo: every task x {runs} seeds, plain-{kind}, SGD",
    )


def htt_plan_fields(
    kind: str,
    *,
    dataset: str = "mnist10k",
    n_tasks: int = 10,
    runs: int = 30,
    input_size: int = 8,
    random_state: int = 0,
) -> dict[str, Any]:
    """The fields of a :class:`~weightspace.zoo.presets.ZooPlan` for a task zoo.

    ``n_tasks`` random class pairs of ``dataset`` (:func:`random_tasks`), ``runs`` trainings of
    ``plain-<kind>`` per task on ``1 x input_size x input_size`` images (small inputs keep the
    chain Gram matrices small: 64 x 64 for the MLP, up to 324 x 324 for the CNN).
    """
    from weightspace.zoo.data.registry import dataset_classes

    if kind not in HTT_DEFAULTS:
        raise TaskError(f"htt_plan_fields: kind must be 'mlp' or 'cnn'; got {kind!r}")
    n_classes = dataset_classes(dataset)
    tasks = task_names(dataset, random_tasks(n_classes, n_tasks, random_state=random_state))
    epochs = HTT_EPOCHS
    return {
        "space": f"htt-{kind}",
        "n": 1,
        "grid": True,
        "datasets": tasks,
        "seed": random_state,
        "input_shape": (1, input_size, input_size),
        "space_overrides": {"seed": IntRange(0, runs - 1)},
        "min_epochs": epochs,
        "max_epochs": epochs,
        "n_snapshots": 5,
        "description": (
            f"hypothesis-training-testing task zoo: {n_tasks} random class pairs of {dataset} x "
            f"{runs} seeds = {n_tasks * runs} plain-{kind} nets, {input_size}x{input_size} grey "
            f"inputs, SGD, {epochs} epochs"
        ),
    }
