"""On-disk dataset formats (IDX, CIFAR-10 binary and python, SVHN .mat, STL-10 binary) on small files
that the tests write in the real formats, and on missing, truncated and corrupt files."""

from __future__ import annotations

import gzip
import os
import pickle
import re
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from weightspace.zoo.data.formats import (
    IDX_MAGIC_IMAGES,
    IDX_MAGIC_LABELS,
    read_cifar10_bin,
    read_cifar10_py,
    read_idx,
    read_stl10_images,
    read_stl10_labels,
    read_svhn_mat,
)
from weightspace.zoo.data.ondisk import missing_files
from weightspace.zoo.datasets import DatasetFormatError, DatasetNotFoundError, load_dataset

N_TRAIN, N_TEST = 100, 20  # 10 and 2 per class: 1 per class held out for validation


def _labels(n: int) -> np.ndarray:
    return (np.arange(n) % 10).astype(np.uint8)


def write_idx(path: Path, array: np.ndarray) -> Path:
    """IDX as in the MNIST files: 0x0000, type 0x08 (ubyte), ndim, big-endian dims, the bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_mnist(directory: Path, rng: np.random.Generator, *, gz: bool = False) -> np.ndarray:
    suffix = ".gz" if gz else ""
    train = rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8)
    write_idx(directory / f"train-images-idx3-ubyte{suffix}", train)
    write_idx(directory / f"train-labels-idx1-ubyte{suffix}", _labels(N_TRAIN))
    write_idx(directory / f"t10k-images-idx3-ubyte{suffix}", test)
    write_idx(directory / f"t10k-labels-idx1-ubyte{suffix}", _labels(N_TEST))
    return test


# ------------------------------------------------------------------------------------------- IDX


def test_idx_header_is_the_real_mnist_magic(tmp_path: Path, rng: np.random.Generator) -> None:
    images = write_idx(tmp_path / "i", rng.integers(0, 256, (3, 28, 28), dtype=np.uint8))
    labels = write_idx(tmp_path / "l", _labels(3))
    assert (
        images.read_bytes()[:4] == bytes.fromhex("00000803") == IDX_MAGIC_IMAGES.to_bytes(4, "big")
    )
    assert (
        labels.read_bytes()[:4] == bytes.fromhex("00000801") == IDX_MAGIC_LABELS.to_bytes(4, "big")
    )
    assert read_idx(images, magic=IDX_MAGIC_IMAGES).shape == (3, 28, 28)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("name", "folder"), [("mnist_idx", "MNIST/raw"), ("fashion_mnist_idx", "FashionMNIST/raw")]
)
def test_idx_datasets_load_plain_and_gzipped(
    tmp_path: Path, rng: np.random.Generator, name: str, folder: str, gz: bool
) -> None:
    test = write_mnist(tmp_path / folder, rng, gz=gz)
    ds = load_dataset(name, root=tmp_path)
    assert ds.input_shape == (1, 28, 28)
    assert (ds.n_train, ds.n_val, ds.n_test) == (90, 10, 20)
    np.testing.assert_array_equal(ds.x_test[:, 0], test / np.float32(255))
    np.testing.assert_array_equal(ds.y_test, _labels(N_TEST))
    assert ds.class_names[0] == ("0" if name == "mnist_idx" else "T-shirt/top")


def test_missing_files_says_where_the_files_go_and_sees_them(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    expected = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    assert missing_files("mnist_idx", tmp_path).startswith(
        f"{expected} not found (4 files expected)"
    )
    write_mnist(tmp_path / "MNIST" / "raw", rng, gz=True)
    assert missing_files("mnist_idx", tmp_path) == ""
    assert "cifar-10-batches-bin/data_batch_1.bin not found" in missing_files("cifar10", tmp_path)


def test_idx_missing_file_names_the_expected_path(tmp_path: Path) -> None:
    expected = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte(.gz)"
    with pytest.raises(DatasetNotFoundError, match=re.escape(f"put it at {expected}")):
        load_dataset("mnist_idx", root=tmp_path)


def test_idx_truncated_file_is_named(tmp_path: Path, rng: np.random.Generator) -> None:
    write_mnist(tmp_path / "MNIST" / "raw", rng)
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetFormatError, match=rf"{re.escape(str(path))}: .*truncated"):
        load_dataset("mnist_idx", root=tmp_path)


def test_idx_wrong_magic_is_refused(tmp_path: Path, rng: np.random.Generator) -> None:
    write_mnist(tmp_path / "MNIST" / "raw", rng)
    labels = tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    images = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(labels.read_bytes())  # a label file where the images belong
    with pytest.raises(
        DatasetFormatError, match=r"wrong IDX magic number 0x00000801, expected 0x00000803"
    ):
        load_dataset("mnist_idx", root=tmp_path)
    images.write_bytes(b"PK\x03\x04 not idx at all")
    with pytest.raises(DatasetFormatError, match=r"not an IDX file"):
        load_dataset("mnist_idx", root=tmp_path)


def test_idx_corrupt_gzip_is_named(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(7, 90)))  # gzip magic, then garbage
    with pytest.raises(DatasetFormatError, match=rf"{re.escape(str(path))}: cannot read"):
        read_idx(path)


def test_idx_labels_out_of_range_are_refused(tmp_path: Path, rng: np.random.Generator) -> None:
    write_mnist(tmp_path, rng)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(N_TRAIN, 12, np.uint8))
    with pytest.raises(DatasetFormatError, match=r"label 12 out of range"):
        load_dataset("mnist_idx", root=tmp_path)


# -------------------------------------------------------------------------------------- CIFAR-10


def write_cifar_bin(directory: Path, rng: np.random.Generator) -> np.ndarray:
    """Binary version: per record 1 label byte then 1024 R, 1024 G, 1024 B bytes (row-major)."""
    directory.mkdir(parents=True, exist_ok=True)
    test = rng.integers(0, 256, (N_TEST, 3, 32, 32), dtype=np.uint8)
    for i in range(1, 6):
        images = rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8)
        records = np.concatenate([_labels(20)[:, None], images.reshape(20, -1)], axis=1)
        (directory / f"data_batch_{i}.bin").write_bytes(records.tobytes())
    records = np.concatenate([_labels(N_TEST)[:, None], test.reshape(N_TEST, -1)], axis=1)
    (directory / "test_batch.bin").write_bytes(records.tobytes())
    return test


def write_cifar_py(directory: Path, rng: np.random.Generator) -> np.ndarray:
    """Python version: pickled dicts with bytes keys, 'data' (N, 3072) uint8 and 'labels' a list."""
    directory.mkdir(parents=True, exist_ok=True)
    test = rng.integers(0, 256, (N_TEST, 3, 32, 32), dtype=np.uint8)
    batches = {
        f"data_batch_{i}": rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8)
        for i in range(1, 6)
    }
    batches["test_batch"] = test
    for name, images in batches.items():
        batch = {
            b"batch_label": name.encode(),
            b"labels": _labels(len(images)).tolist(),
            b"data": images.reshape(len(images), -1),
            b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
        }
        with (directory / name).open("wb") as fh:
            pickle.dump(batch, fh, protocol=2)
    return test


@pytest.mark.parametrize(
    ("writer", "folder"),
    [(write_cifar_bin, "cifar-10-batches-bin"), (write_cifar_py, "cifar-10-batches-py")],
)
def test_cifar10_loads_binary_and_python_versions(
    tmp_path: Path,
    rng: np.random.Generator,
    writer: Callable[[Path, np.random.Generator], np.ndarray],
    folder: str,
) -> None:
    test = writer(tmp_path / folder, rng)
    ds = load_dataset("cifar10", root=tmp_path)
    assert ds.input_shape == (3, 32, 32)
    assert (ds.n_train, ds.n_val, ds.n_test) == (90, 10, 20)
    np.testing.assert_array_equal(ds.x_test, test / np.float32(255))
    assert ds.class_names[-1] == "truck"


def test_cifar10_binary_truncated_and_bad_labels(tmp_path: Path, rng: np.random.Generator) -> None:
    write_cifar_bin(tmp_path, rng)
    path = tmp_path / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(
        DatasetFormatError, match=rf"{re.escape(str(path))}: .*not a whole number of 3073-byte"
    ):
        read_cifar10_bin(path)
    path.write_bytes(np.full((1, 3073), 200, np.uint8).tobytes())
    with pytest.raises(DatasetFormatError, match=r"label byte 200 out of range"):
        read_cifar10_bin(path)


def test_cifar10_missing_batch_names_the_expected_path(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    write_cifar_bin(tmp_path / "cifar-10-batches-bin", rng)
    (tmp_path / "cifar-10-batches-bin" / "test_batch.bin").unlink()
    expected = tmp_path / "cifar-10-batches-bin" / "test_batch.bin"
    with pytest.raises(DatasetNotFoundError, match=re.escape(f"put it at {expected}")):
        load_dataset("cifar10", root=tmp_path)


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (os.getcwd, ())  # harmless, but any callable must be refused


def test_cifar10_python_pickle_refuses_code(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Exploit()}, protocol=2))
    with pytest.raises(
        DatasetFormatError, match=r"global posix\.getcwd is not allowed|global nt\.getcwd"
    ):
        read_cifar10_py(path)


def test_cifar10_python_pickle_corrupt_and_wrong_content(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, protocol=2)[:-40]
    )
    with pytest.raises(DatasetFormatError, match=r"data_batch_1: (refused or )?corrupt"):
        read_cifar10_py(path)
    path.write_bytes(
        pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2)
    )
    with pytest.raises(
        DatasetFormatError, match=r"'data' must be a uint8 array of shape \(N, 3072\)"
    ):
        read_cifar10_py(path)
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(DatasetFormatError, match=r"expected a pickled dict, got list"):
        read_cifar10_py(path)


# ------------------------------------------------------------------------------------------- SVHN


def write_svhn(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """The cropped-digits .mat: X (32, 32, 3, N) uint8, y (N, 1) with 10 for the digit 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    y = np.where(labels == 0, 10, labels).astype(np.uint8)[:, None]
    scipy.io.savemat(path, {"X": np.transpose(images, (2, 3, 1, 0)), "y": y})


def test_svhn_loads_mat_files_and_maps_label_10_to_0(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    train = rng.integers(0, 256, (N_TRAIN, 3, 32, 32), dtype=np.uint8)
    test = rng.integers(0, 256, (N_TEST, 3, 32, 32), dtype=np.uint8)
    write_svhn(tmp_path / "SVHN" / "train_32x32.mat", train, _labels(N_TRAIN))
    write_svhn(tmp_path / "SVHN" / "test_32x32.mat", test, _labels(N_TEST))
    images, labels = read_svhn_mat(tmp_path / "SVHN" / "test_32x32.mat")
    np.testing.assert_array_equal(images, test)
    np.testing.assert_array_equal(labels, _labels(N_TEST))
    ds = load_dataset("svhn", root=tmp_path)
    assert (ds.n_train, ds.n_val, ds.n_test) == (90, 10, 20)
    assert ds.input_shape == (3, 32, 32)


def test_svhn_bad_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "train_32x32.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file, garbage" + bytes(50))
    with pytest.raises(
        DatasetFormatError, match=rf"{re.escape(str(path))}: not a readable MATLAB file"
    ):
        read_svhn_mat(path)
    scipy.io.savemat(
        path, {"X": np.zeros((28, 28, 1, 2), np.uint8), "y": np.ones((2, 1), np.uint8)}
    )
    with pytest.raises(DatasetFormatError, match=r"'X' must have shape \(32, 32, 3, N\)"):
        read_svhn_mat(path)
    path.unlink()
    (tmp_path / "SVHN").mkdir()
    scipy.io.savemat(
        tmp_path / "SVHN" / "train_32x32.mat", {"X": np.zeros((32, 32, 3, 1), np.uint8), "y": [[1]]}
    )
    with pytest.raises(DatasetNotFoundError, match=r"SVHN: test_32x32\.mat not found"):
        load_dataset("svhn", root=tmp_path)


# ----------------------------------------------------------------------------------------- STL-10


def write_stl10(directory: Path, images: np.ndarray, labels: np.ndarray, split: str) -> None:
    """Binary STL-10: each image's 3 channels of 96x96 in column-major order; labels 1..10 as bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{split}_X.bin").write_bytes(
        np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes()
    )
    (directory / f"{split}_y.bin").write_bytes((labels + 1).astype(np.uint8).tobytes())


def test_stl10_reads_column_major_images_and_downsamples(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    train = rng.integers(0, 256, (20, 3, 96, 96), dtype=np.uint8)
    test = np.zeros((10, 3, 96, 96), dtype=np.uint8)
    test[:, :, :48] = 255  # the top half bright: rows must come back as rows
    write_stl10(tmp_path / "stl10_binary", train, _labels(20), "train")
    write_stl10(tmp_path / "stl10_binary", test, _labels(10), "test")
    np.testing.assert_array_equal(
        read_stl10_images(tmp_path / "stl10_binary" / "train_X.bin"), train
    )
    np.testing.assert_array_equal(
        read_stl10_labels(tmp_path / "stl10_binary" / "train_y.bin"), _labels(20)
    )
    ds = load_dataset("stl10", root=tmp_path)
    assert ds.input_shape == (3, 32, 32)
    assert ds.n_train + ds.n_val == 20
    assert ds.x_test[:, :, :15].min() == 1.0
    assert ds.x_test[:, :, 17:].max() == 0.0
    assert load_dataset("stl10", root=tmp_path, size=96).input_shape == (3, 96, 96)


def test_stl10_truncated_and_mismatched_files(tmp_path: Path, rng: np.random.Generator) -> None:
    images = rng.integers(0, 256, (2, 3, 96, 96), dtype=np.uint8)
    write_stl10(tmp_path, images, np.array([0, 9]), "train")
    path = tmp_path / "train_X.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(
        DatasetFormatError, match=rf"{re.escape(str(path))}: .*27648-byte STL-10 images"
    ):
        read_stl10_images(path)
    with pytest.raises(DatasetFormatError, match=r"2 labels for 3 images"):
        read_stl10_labels(tmp_path / "train_y.bin", n_images=3)
    (tmp_path / "train_y.bin").write_bytes(bytes([0, 11]))
    with pytest.raises(DatasetFormatError, match=r"labels must lie in 1\.\.10"):
        read_stl10_labels(tmp_path / "train_y.bin")
    with pytest.raises(DatasetNotFoundError, match=r"STL-10: .*stl10_binary/train_X\.bin"):
        load_dataset("stl10", root=tmp_path / "empty")
