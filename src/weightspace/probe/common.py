"""Common ground of the probes: failed-training filter, class balancing, splits by model.

Failed trainings (NWS appendix C). The test accuracies of a zoo have two modes, failed and
successful trainings; probes keep only the successful mode, rejecting every model whose test
accuracy is below a per-dataset threshold. The paper's thresholds are the defaults for its datasets
(:data:`NWS_THRESHOLDS`: MNIST 80%, CIFAR-10 25%, SVHN 50%, STL-10 25%, Fashion-MNIST 50%). For
other datasets (this project's offline ``digits``, ``mnist10k``, ``shapes``, ``textures``, ...) the
default is ``chance_multiple`` times chance, i.e. ``2 / n_classes`` (20% for ten classes): a model
at most twice as good as guessing has not learned the task. It splits the two modes of the demo
zoo's ``shapes`` models (a failed mode at 10-20%), and is loose elsewhere, as the paper's are
("the exact choice of threshold is not critical"). A model is kept when ``acc >= threshold``;
models without an accuracy are rejected.

Balancing (NWS appendix F.1): every class is cut, at random, to the size of the smallest one.

Splits by model: all snapshots of one training carry the model's id as their group, and folds
are drawn with :class:`sklearn.model_selection.StratifiedGroupKFold`, so a training is never on
both sides of a split.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from weightspace.errors import WeightspaceError
from weightspace.library import Library
from weightspace.probe.targets import resolve_target

__all__ = [
    "DATASET_CLASSES",
    "NWS_THRESHOLDS",
    "FailureFilter",
    "ProbeError",
    "Selection",
    "balance_classes",
    "chance_level",
    "dataset_key",
    "filter_notes",
    "model_splits",
    "select_models",
    "target_labels",
]

#: The NWS failed-mode thresholds on test accuracy (Eilertsen et al. 2020, appendix C).
NWS_THRESHOLDS: Mapping[str, float] = {
    "mnist": 0.80,
    "cifar10": 0.25,
    "svhn": 0.50,
    "stl10": 0.25,
    "fashion_mnist": 0.50,
}


_ALIASES = {
    "cifar_10": "cifar10",
    "stl_10": "stl10",
    "fashionmnist": "fashion_mnist",
    "fmnist": "fashion_mnist",
    "f_mnist": "fashion_mnist",
    # the official IDX files of the same images: the same thresholds apply
    "mnist_idx": "mnist",
    "fashion_mnist_idx": "fashion_mnist",
}


class ProbeError(WeightspaceError):
    """A probe got a bad parameter or a selection it cannot use (says what, and the fix)."""


def dataset_key(name: object) -> str:
    """A dataset name as the registries spell it: lower case, ``-`` and spaces read as ``_``.

    Examples
    --------
    >>> dataset_key("CIFAR-10"), dataset_key("Fashion-MNIST")
    ('cifar10', 'fashion_mnist')
    """
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    return _ALIASES.get(key, key)


class _RegistryClasses(Mapping[str, int]):
    """Classes per dataset, read from the dataset registry's entries each time (a live view).

    Keys are spelled as :func:`dataset_key` spells them; datasets whose entry does not know its
    classes without loading (:attr:`~weightspace.zoo.data.registry.DatasetEntry.info` is None) are
    left out. The registry (and with it PyTorch) is imported on first use, not with the probes.
    """

    def _counts(self) -> dict[str, int]:
        from weightspace.zoo.data.registry import dataset_info, list_datasets

        counts: dict[str, int] = {}
        for name in list_datasets():
            info = dataset_info(name)
            if info is not None:
                counts.setdefault(dataset_key(name), info.n_classes)
        return counts

    def __getitem__(self, key: str) -> int:
        return self._counts()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._counts())

    def __len__(self) -> int:
        return len(self._counts())

    def __repr__(self) -> str:
        return repr(self._counts())


#: Number of classes of the registered datasets (for the chance-based default threshold): a
#: read-only view of the dataset registry (:func:`weightspace.zoo.data.registry.dataset_info`), which
#: owns them; keys as :func:`dataset_key` spells them.
DATASET_CLASSES: Mapping[str, int] = _RegistryClasses()


@dataclass(frozen=True)
class FailureFilter:
    """Reject failed trainings: models whose accuracy is below their dataset's threshold.

    Parameters
    ----------
    thresholds : mapping of str to float, default=NWS_THRESHOLDS
        Accuracy thresholds by dataset (names as :func:`dataset_key` spells them); these win.
    chance_multiple : float, default=2.0
        For a dataset without a threshold: ``chance_multiple / n_classes``.
    n_classes : mapping of str to int, default=DATASET_CLASSES
        Classes per dataset, for the chance-based threshold.
    metric : str, default="test_acc"
        The accuracy column of the models table.
    dataset_column : str, default="dataset"
        The column naming each model's dataset.
    default : float, optional
        Threshold for models of an unknown dataset (or when there is no dataset column); without
        it such models are an error.

    Examples
    --------
    >>> f = FailureFilter()
    >>> f.threshold("MNIST"), f.threshold("shapes"), f.threshold("tetris")
    (0.8, 0.2, 0.2857142857142857)
    """

    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(NWS_THRESHOLDS))
    chance_multiple: float = 2.0
    n_classes: Mapping[str, int] = field(default_factory=lambda: DATASET_CLASSES)
    metric: str = "test_acc"
    dataset_column: str = "dataset"
    default: float | None = None

    def rule(self, dataset: object) -> tuple[float, str]:
        """The threshold of ``dataset`` and where it comes from (``"threshold"``, ``"2x chance"``)."""
        key = dataset_key(dataset) if dataset is not None else None
        given = {dataset_key(k): float(v) for k, v in self.thresholds.items()}
        if key is not None and key in given:
            source = "NWS" if NWS_THRESHOLDS.get(key) == given[key] else "given"
            return given[key], source
        classes = {dataset_key(k): int(v) for k, v in self.n_classes.items()}
        if key is not None and key in classes:
            k = classes[key]
            return self.chance_multiple / k, f"{self.chance_multiple:g}x chance (1/{k})"
        if self.default is not None:
            return float(self.default), "default"
        raise ProbeError(
            f"dataset {dataset!r} has no failed-training threshold: the NWS values cover "
            f"{', '.join(NWS_THRESHOLDS)} and the chance-based default needs its number of classes; "
            f"give one (Python: FailureFilter(thresholds={{{str(dataset)!r}: 0.5}}) or "
            f"n_classes={{{str(dataset)!r}: 10}}; CLI: --threshold {dataset}=0.5), or do not "
            "filter (Python: selection=Selection(failed=None); CLI: --no-filter)"
        )

    def threshold(self, dataset: object) -> float:
        """The accuracy threshold of ``dataset`` (see :meth:`rule`)."""
        return self.rule(dataset)[0]

    def apply(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Keep the successful trainings of ``frame`` (one row per model).

        Returns
        -------
        kept : pandas.DataFrame
            The rows of ``frame`` with ``metric >= threshold`` of their dataset.
        report : pandas.DataFrame
            One row per dataset: ``dataset, threshold, rule, n_models, n_kept``.
        """
        if self.metric not in frame.columns:
            raise ProbeError(
                f"the models have no {self.metric!r} column to reject failed trainings by; "
                "name the accuracy column (FailureFilter(metric=...)) or do not filter "
                "(Python: selection=Selection(failed=None); CLI: --no-filter)"
            )
        if self.dataset_column in frame.columns:
            datasets = np.array(
                [None if _missing(d) else d for d in frame[self.dataset_column]], dtype=object
            )
        else:
            datasets = np.full(len(frame), None, dtype=object)
        acc = pd.to_numeric(frame[self.metric], errors="coerce").to_numpy(dtype=np.float64)
        keep = np.zeros(len(frame), dtype=bool)
        rows = []
        for name in pd.unique(datasets):
            where = np.array([d == name for d in datasets], dtype=bool)
            limit, source = self.rule(None if _missing(name) else name)
            with np.errstate(invalid="ignore"):
                keep[where] = acc[where] >= limit  # NaN compares False: rejected
            rows.append(
                {
                    "dataset": "" if _missing(name) else str(name),
                    "threshold": limit,
                    "rule": source,
                    "n_models": int(where.sum()),
                    "n_kept": int(keep[where].sum()),
                }
            )
        return frame.loc[keep].copy(), pd.DataFrame(rows)


def filter_notes(report: pd.DataFrame | None) -> list[str]:
    """One line per dataset of a :meth:`FailureFilter.apply` report (none without a report)."""
    if report is None:
        return []
    return [
        f"{str(r['dataset']) or '(no dataset)'}: threshold {float(r['threshold']):.3g} "
        f"({r['rule']}), {int(r['n_kept'])} of {int(r['n_models'])} models kept"
        for r in report.to_dict("records")
    ]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def balance_classes(labels: Sequence[Any] | np.ndarray, *, random_state: Any = None) -> np.ndarray:
    """Indices of a class-balanced subset: every class cut at random to the smallest's size.

    Parameters
    ----------
    labels : sequence of shape (n,)
        One label per model.
    random_state : int, numpy Generator or None
        Seed of the choice.

    Returns
    -------
    numpy.ndarray of int, sorted
        ``k * n_min`` indices into ``labels``.

    Examples
    --------
    >>> balance_classes(["a", "a", "a", "b"], random_state=0).size
    2
    """
    y = np.asarray(labels, dtype=object)
    rng = np.random.default_rng(random_state)
    classes, counts = np.unique(y.astype(str), return_counts=True)
    if classes.size == 0:
        return np.zeros(0, dtype=np.intp)
    n_min = int(counts.min())
    parts = [rng.choice(np.flatnonzero(y.astype(str) == c), n_min, replace=False) for c in classes]
    return np.sort(np.concatenate(parts)).astype(np.intp)


def usable_classes(
    labels: Sequence[Any] | np.ndarray,
    target: str,
    *,
    n_splits: int,
    balance: bool = True,
    random_state: Any = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Indices of the models a classifier of ``target`` can use, and the classes dropped.

    Classes with fewer than ``n_splits`` models cannot be in every fold and are dropped; the rest
    are balanced (:func:`balance_classes`) when ``balance``. Raises :class:`ProbeError` when fewer
    than 2 classes remain.

    Examples
    --------
    >>> keep, dropped = usable_classes(list("aaabbbc"), "t", n_splits=2, random_state=0)
    >>> keep.size, dropped
    (6, ('c',))
    """
    text = np.asarray(labels, dtype=object).astype(str)
    counts = pd.Series(text).value_counts()
    dropped = tuple(sorted(str(c) for c in counts.index[counts < n_splits]))
    keep = np.flatnonzero(~np.isin(text, dropped))
    if np.unique(text[keep]).size < 2:
        raise ProbeError(
            f"target {target!r}: fewer than 2 classes with at least {n_splits} models each "
            f"(counts: {counts.to_dict()}); use fewer folds, more models or another target"
        )
    if balance:
        keep = keep[balance_classes(text[keep], random_state=random_state)]
    return keep.astype(np.intp), dropped


def chance_level(labels: Sequence[Any] | np.ndarray) -> float:
    """Accuracy of always guessing the majority class (``1/k`` for ``k`` balanced classes)."""
    y = np.asarray(labels, dtype=object).astype(str)
    if y.size == 0:
        return float("nan")
    return float(np.unique(y, return_counts=True)[1].max() / y.size)


def model_splits(
    labels: Sequence[Any] | np.ndarray,
    groups: Sequence[int] | npt.NDArray[np.integer[Any]],
    *,
    n_splits: int = 5,
    n_repeats: int = 1,
    random_state: Any = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Repeated, stratified k-fold splits that keep every group (model) on one side.

    Parameters
    ----------
    labels : sequence of shape (n,)
        Class of each row (a snapshot of a model).
    groups : sequence of int of shape (n,)
        Model id of each row; rows of one model are never split.
    n_splits : int, default=5
    n_repeats : int, default=1
        Repeats with different shuffles (seeds drawn from ``random_state``).
    random_state : int or None

    Returns
    -------
    list of (train, test) index arrays, ``n_repeats * n_splits`` of them, repeat by repeat.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.asarray(labels, dtype=object).astype(str)
    g = np.asarray(groups)
    if y.shape[0] != g.shape[0]:
        raise ProbeError(f"labels and groups differ in length ({y.shape[0]} vs {g.shape[0]})")
    for name, value in (("n_splits", n_splits), ("n_repeats", n_repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ProbeError(f"{name} must be a positive integer; got {value!r}")
    if n_splits < 2:
        raise ProbeError(f"n_splits must be at least 2; got {n_splits}")
    per_class = pd.Series(g).groupby(y).nunique()
    if per_class.min() < n_splits:
        raise ProbeError(
            f"class {per_class.idxmin()!r} has {per_class.min()} model(s), fewer than "
            f"n_splits={n_splits}: use fewer folds or more models"
        )
    seeds = np.random.SeedSequence(_entropy(random_state)).generate_state(n_repeats)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for seed in seeds:
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=int(seed))
        out.extend((train, test) for train, test in folds.split(np.zeros(len(y)), y, g))
    return out


def _entropy(random_state: Any) -> int | None:
    if random_state is None or isinstance(random_state, int | np.integer):
        return None if random_state is None else int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    raise ProbeError(
        f"random_state must be an int, a numpy Generator or None; got {random_state!r}"
    )


def select_models(
    lib: Library,
    *,
    where: str | None = None,
    ids: Sequence[int] | None = None,
    failed: FailureFilter | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The models table of a selection, failed trainings removed.

    Parameters
    ----------
    lib : Library
    where : str, optional
        SQL condition on the models table.
    ids : sequence of int, optional
        Only these models.
    failed : FailureFilter or None
        The filter (None: keep every model).

    Returns
    -------
    models : pandas.DataFrame
        One row per kept model, in id order.
    report : pandas.DataFrame or None
        :meth:`FailureFilter.apply`'s per-dataset counts (None without a filter).
    """
    frame = lib.query(where)
    if ids is not None:
        wanted = {int(i) for i in ids}
        missing = sorted(wanted - set(frame["id"].astype(int)))
        if missing:
            raise ProbeError(f"{lib.path}: no model(s) with id {missing[:10]} in the selection")
        frame = frame[frame["id"].astype(int).isin(wanted)]
    if frame.empty:
        raise ProbeError(f"{lib.path}: the selection holds no models")
    report = None
    if failed is not None:
        frame, report = failed.apply(frame)
        if frame.empty:
            raise ProbeError(
                f"{lib.path}: every model is below its failed-training threshold "
                f"({', '.join(f'{r.dataset}: {r.threshold:.3g}' for r in report.itertuples())}); "
                "lower the thresholds (--threshold D=ACC) or do not filter (--no-filter)"
            )
    return frame.reset_index(drop=True), report


@dataclass(frozen=True)
class Selection:
    """Which models of a library a probe reads: the successful trainings among ``ids`` (default
    all) matching ``where``.

    Parameters
    ----------
    failed : FailureFilter or None, default=FailureFilter()
        Reject failed trainings (None: keep every model).
    where : str, optional
        SQL condition on the models table.
    ids : tuple of int, optional
        Model ids.
    """

    failed: FailureFilter | None = field(default_factory=FailureFilter)
    where: str | None = None
    ids: tuple[int, ...] | None = None

    def models(self, lib: Library) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The selected models and the failure filter's report (:func:`select_models`)."""
        return select_models(lib, where=self.where, ids=self.ids, failed=self.failed)


def target_labels(frame: pd.DataFrame, target: str, *, max_classes: int = 20) -> pd.Series:
    """The categorical column ``target`` as text labels (models without a value dropped).

    ``target`` may be an alias of the column (:func:`weightspace.probe.targets.resolve_target`).

    Raises
    ------
    ProbeError
        If ``target`` is not a column, or has more than ``max_classes`` values (a continuous one).
    """
    column = resolve_target(frame.columns, target)
    if column is None:
        raise ProbeError(
            f"unknown target {target!r}; the models have the columns "
            f"{', '.join(sorted(map(str, frame.columns)))}"
        )
    values = frame[column]
    present = values.map(lambda v: not _missing(v))
    labels = values[present].map(str)
    n = labels.nunique()
    if n > max_classes:
        raise ProbeError(
            f"target {target!r} has {n} distinct values; the probes classify categorical "
            f"hyper-parameters (at most {max_classes} classes): pick a categorical column"
        )
    return labels
