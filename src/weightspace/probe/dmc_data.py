"""Weights for the deep meta-classifiers: regions of the vectors, windows, targets, splits.

- :func:`region_spans` finds the convolutional or fully connected (FC) part of a model's vector from
  its layer table: a layer is convolutional when its kernel has 3 or more dimensions (``(out, in,
  kh, kw)``), FC when it has 2; all of a layer's tensors (kernel, bias, batch norm) go with it.
- :class:`WindowData` holds, per model, the ``(n_snapshots, region_length)`` matrix of that region
  (a view of the memory-mapped weight file when the region is one contiguous span) and cuts windows
  of consecutive weights out of it. A window's *depth position* is its start relative to the valid
  starts: 0 is the first ``W`` weights of the region, 1 the last ``W``.
- :func:`target_data` turns a models-table column into class codes (a categorical column, balanced)
  or a log10 regression target (``learning_rate``, alias ``lr``); :func:`target_splits` draws folds
  by model (:func:`weightspace.probe.common.model_splits`; regression targets are stratified by
  quartile).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from weightspace.library import Library
from weightspace.probe.common import (
    ProbeError,
    chance_level,
    model_splits,
    target_labels,
    usable_classes,
)
from weightspace.probe.targets import resolve_target

__all__ = [
    "REGIONS",
    "TargetData",
    "WindowData",
    "load_windows",
    "region_spans",
    "target_data",
    "target_splits",
    "target_with_splits",
]

Region = Literal["all", "conv", "fc"]
Task = Literal["auto", "classification", "regression"]
#: The parts of a vector a DMC can read.
REGIONS: tuple[str, ...] = ("all", "conv", "fc")
_KERNELS = {"conv": "kernels with 3+ dimensions", "fc": "2-D kernels", "all": "weights"}


def region_spans(layers: pd.DataFrame, region: str) -> list[tuple[int, int]]:
    """``[start, stop)`` spans of the vector that make up ``region`` (merged where adjacent).

    Parameters
    ----------
    layers : pandas.DataFrame
        A model's layer table (:meth:`Library.layer_table`: ``layer, role, shape, offset, length``).
    region : {"all", "conv", "fc"}
    """
    if region not in REGIONS:
        raise ProbeError(f"region must be one of {', '.join(REGIONS)}; got {region!r}")
    rows = layers[layers["offset"].notna()]
    if region == "all":
        return [(0, int((rows["offset"] + rows["length"]).max()))]
    kernels = rows[rows["role"] == "kernel"]
    ndim = {
        layer: len(json.loads(shape) if isinstance(shape, str) else shape)
        for layer, shape in zip(kernels["layer"], kernels["shape"], strict=True)
    }
    wanted = {k for k, d in ndim.items() if (d >= 3 if region == "conv" else d == 2)}
    part = rows[rows["layer"].isin(wanted)].sort_values("offset")
    spans: list[tuple[int, int]] = []
    for offset, length in zip(part["offset"].astype(int), part["length"].astype(int), strict=True):
        if spans and spans[-1][1] == offset:
            spans[-1] = (spans[-1][0], offset + length)
        else:
            spans.append((offset, offset + length))
    return spans


@dataclass(frozen=True, eq=False)
class WindowData:
    """The region of every model's snapshots, ready to cut windows from.

    Attributes
    ----------
    ids : tuple of int
        Model ids, one per matrix.
    mats : tuple of numpy.ndarray
        Per model, ``(n_snapshots, region_length)`` float32 (read-only views where possible).
    region : str
    """

    ids: tuple[int, ...]
    mats: tuple[np.ndarray, ...]
    region: str

    @property
    def lengths(self) -> np.ndarray:
        """Region length of every model."""
        return np.array([m.shape[1] for m in self.mats], dtype=np.int64)

    @property
    def n_snapshots(self) -> np.ndarray:
        """Number of snapshots of every model."""
        return np.array([m.shape[0] for m in self.mats], dtype=np.int64)

    def ids_of(self, rows: np.ndarray) -> np.ndarray:
        """Model ids of positions ``rows``."""
        ids: np.ndarray = np.asarray(self.ids, dtype=np.int64)[rows]
        return ids

    def snapshot_index(self, rows: np.ndarray, snapshot: int) -> np.ndarray:
        """Index of snapshot ``snapshot`` (negative: from the end) for each model row."""
        counts = self.n_snapshots[rows]
        index = np.where(snapshot < 0, counts + snapshot, snapshot)
        if (index < 0).any() or (index >= counts).any():
            raise ProbeError(
                f"snapshot {snapshot} does not exist for every model (some have "
                f"{int(counts.min())} snapshots): ask for snapshots within that range"
            )
        return np.asarray(index, dtype=np.int64)

    def starts(self, rows: np.ndarray, relative: np.ndarray, window: int) -> np.ndarray:
        """Window starts at relative positions in [0, 1] of the valid starts of each row."""
        span = self.lengths[rows] - window
        starts: np.ndarray = np.rint(np.clip(relative, 0.0, 1.0) * span).astype(np.int64)
        return starts

    def gather(
        self, rows: np.ndarray, snaps: np.ndarray, starts: np.ndarray | None, window: int | None
    ) -> np.ndarray:
        """Windows ``(len(rows), window)`` (or whole regions when ``window`` is None), float32."""
        if window is None:
            return np.stack([self.mats[r][s] for r, s in zip(rows, snaps, strict=True)])
        assert starts is not None
        out = np.empty((len(rows), window), dtype=np.float32)
        for i, (r, s, o) in enumerate(zip(rows, snaps, starts, strict=True)):
            out[i] = self.mats[r][s, o : o + window]
        return out

    def check_window(self, window: int) -> None:
        """Raise if some model's region is shorter than ``window``."""
        lengths = self.lengths
        short = lengths < window
        if short.any():
            raise ProbeError(
                f"{int(short.sum())} of {len(lengths)} models have fewer than {window} weights in "
                f"region {self.region!r} (the shortest has {int(lengths.min())}); use a smaller "
                f"window (--window {int(lengths.min())} or less), another region, or select "
                "larger models (--where)"
            )


def load_windows(lib: Library, models: pd.DataFrame, region: str = "all") -> WindowData:
    """:class:`WindowData` of the models of ``models`` (rows of the models table, in order)."""
    spans_by_arch: dict[str, list[tuple[int, int]]] = {}
    mats = []
    for model_id, arch in zip(models["id"].astype(int), models["arch_id"].astype(str), strict=True):
        if arch not in spans_by_arch:
            spans_by_arch[arch] = region_spans(lib.layer_table(int(model_id)), region)
        spans = spans_by_arch[arch]
        if not spans:
            raise ProbeError(
                f"model {model_id} has no {region.upper()} layers ({_KERNELS[region]}); "
                "choose another region (--region all|conv|fc) or select other models (--where)"
            )
        full = lib.snapshot_matrix(int(model_id))
        if len(spans) == 1:
            mats.append(full[:, spans[0][0] : spans[0][1]])
        else:
            mats.append(np.concatenate([full[:, a:b] for a, b in spans], axis=1))
    return WindowData(tuple(int(i) for i in models["id"]), tuple(mats), region)


@dataclass(frozen=True, eq=False)
class TargetData:
    """A target column of the probed models.

    Attributes
    ----------
    target : str
        The name asked for.
    column : str
        The models-table column (``lr`` reads ``learning_rate``).
    task : {"classification", "regression"}
    rows : numpy.ndarray of int
        Positions (in the models table given) of the models used.
    y : numpy.ndarray
        Class codes (int) or the regression target (log10 of the column when ``log_scale``).
    classes : tuple of str
        Class names (empty for regression).
    chance : float
        Majority-class share (classification) or 0.0 (R^2 of the mean, regression).
    dropped_classes : tuple of str
        Classes with fewer models than folds, left out.
    log_scale : bool
    """

    target: str
    column: str
    task: str
    rows: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    chance: float
    dropped_classes: tuple[str, ...] = ()
    log_scale: bool = False

    @property
    def n_outputs(self) -> int:
        """Outputs of the network (classes, or 1)."""
        return len(self.classes) if self.task == "classification" else 1


def target_data(
    models: pd.DataFrame,
    target: str,
    *,
    task: Task = "auto",
    n_splits: int = 5,
    balance: bool = True,
    random_state: Any = None,
) -> TargetData:
    """Class codes or a regression target for ``target``, classes balanced (see module notes).

    ``task="auto"`` regresses a numeric column with more than 20 distinct values (log10 when all
    values are positive) and classifies any other column.
    """
    column = resolve_target(models.columns, target)
    if column is None:
        raise ProbeError(
            f"unknown target {target!r}; the models have the columns "
            f"{', '.join(sorted(map(str, models.columns)))}"
        )
    values = models[column]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if task == "auto":
        task = "regression" if numeric and values.nunique() > 20 else "classification"
    if task == "regression":
        y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        rows = np.flatnonzero(np.isfinite(y))
        if rows.size < 2 * n_splits:
            raise ProbeError(
                f"target {target!r}: {rows.size} models with a value, need {2 * n_splits}+"
            )
        log_scale = bool((y[rows] > 0).all())
        out = np.log10(y[rows]) if log_scale else y[rows]
        return TargetData(target, column, "regression", rows, out, (), 0.0, (), log_scale)
    if task != "classification":
        raise ProbeError(f"task must be 'auto', 'classification' or 'regression'; got {task!r}")
    labels = target_labels(models, column)
    rows = models.index.get_indexer(labels.index)
    text = labels.to_numpy(dtype=object).astype(str)
    keep, small = usable_classes(
        text, target, n_splits=n_splits, balance=balance, random_state=random_state
    )
    rows, text = rows[keep], text[keep]
    classes, codes = np.unique(text, return_inverse=True)
    return TargetData(
        target, column, "classification", np.asarray(rows, dtype=np.int64), codes.astype(np.int64),
        tuple(str(c) for c in classes), chance_level(text), small,
    )  # fmt: skip


def target_splits(
    data: TargetData,
    ids: Sequence[int] | np.ndarray,
    *,
    n_splits: int = 5,
    rounds: int = 1,
    random_state: Any = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``rounds`` (train, test) splits of ``data.rows`` (as positions into ``data.rows``), by model.

    Folds come from :func:`model_splits` (stratified by class, or by quartile of a regression
    target); ``rounds`` beyond ``n_splits`` take folds of further repeats.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ProbeError(f"rounds must be a positive integer; got {rounds!r}")
    if data.task == "classification":
        strata = data.y.astype(str)
    else:
        strata = pd.qcut(data.y, q=4, labels=False, duplicates="drop").astype(str)
    groups = np.asarray(ids)[data.rows]
    repeats = -(-rounds // n_splits)
    splits = model_splits(
        strata, groups, n_splits=n_splits, n_repeats=repeats, random_state=random_state
    )
    return splits[:rounds]


def target_with_splits(
    models: pd.DataFrame,
    target: str,
    rng: np.random.Generator,
    *,
    task: Task = "auto",
    n_splits: int = 5,
    rounds: int = 1,
    balance: bool = True,
) -> tuple[TargetData, list[tuple[np.ndarray, np.ndarray]]]:
    """:func:`target_data` of ``target`` and its :func:`target_splits` over ``models``, both drawn
    from ``rng`` (the one sequence of random draws every DMC study uses)."""
    data = target_data(
        models, target, task=task, n_splits=n_splits, balance=balance, random_state=rng
    )
    seed = int(rng.integers(2**31))
    ids = models["id"].to_numpy()
    return data, target_splits(data, ids, n_splits=n_splits, rounds=rounds, random_state=seed)
