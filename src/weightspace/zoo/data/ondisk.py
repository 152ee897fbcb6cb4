"""Factories of the papers' datasets (MNIST, Fashion-MNIST, CIFAR-10, SVHN, STL-10) read from ``root``.

Nothing is downloaded: the files must already be on disk, laid out as torchvision lays them out (or
flat in ``root``). Every factory returns the official training and test splits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from weightspace.zoo.data.core import (
    DatasetError,
    RawDataset,
    data_dir,
    resize_images,
    uint8_to_float,
)
from weightspace.zoo.data.formats import (
    find_file,
    read_cifar10_bin,
    read_cifar10_py,
    read_idx_pair,
    read_stl10_images,
    read_stl10_labels,
    read_svhn_mat,
)

__all__ = [
    "load_cifar10",
    "load_fashion_mnist",
    "load_mnist",
    "load_stl10",
    "load_svhn",
    "missing_files",
]

DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_IDX_FILES = tuple(
    f"{split}-{kind}"
    for split in ("train", "t10k")
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")
)
_CIFAR_BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
STL10_NAMES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")


def _root(root: Path | None) -> Path:
    return Path(root).expanduser() if root is not None else data_dir()


def _idx_dataset(
    dirs: list[Path], dataset: str, hint: str
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.uint8], NDArray[np.int64]]:
    def pair(prefix: str) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
        images = find_file(dirs, f"{prefix}-images-idx3-ubyte", dataset=dataset, hint=hint)
        labels = find_file(dirs, f"{prefix}-labels-idx1-ubyte", dataset=dataset, hint=hint)
        return read_idx_pair(images, labels)

    return (*pair("train"), *pair("t10k"))


def load_mnist(root: Path | None = None) -> RawDataset:
    """MNIST from its four IDX files in ``root/MNIST/raw`` (or ``root/MNIST``, ``root``), plain or .gz.

    60,000 training and 10,000 test images, 1x28x28.
    """
    base = _root(root)
    hint = (
        "Get train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
        "t10k-labels-idx1-ubyte(.gz) from an MNIST mirror (e.g. torchvision's) and put them there."
    )
    x, y, xt, yt = _idx_dataset([base / "MNIST" / "raw", base / "MNIST", base], "MNIST", hint)
    return RawDataset(
        uint8_to_float(x),
        y,
        uint8_to_float(xt),
        yt,
        DIGIT_NAMES,
        "MNIST (IDX files): official train/test.",
    )


def load_fashion_mnist(root: Path | None = None) -> RawDataset:
    """Fashion-MNIST from its IDX files in ``root/FashionMNIST/raw`` (or ``root/FashionMNIST``, ``root``).

    60,000 training and 10,000 test images, 1x28x28.
    """
    base = _root(root)
    hint = "Get the four Fashion-MNIST IDX files (github.com/zalandoresearch/fashion-mnist) and put them there."
    dirs = [base / "FashionMNIST" / "raw", base / "FashionMNIST", base]
    x, y, xt, yt = _idx_dataset(dirs, "Fashion-MNIST", hint)
    return RawDataset(
        uint8_to_float(x),
        y,
        uint8_to_float(xt),
        yt,
        FASHION_NAMES,
        "Fashion-MNIST (IDX files): official train/test.",
    )


def load_cifar10(root: Path | None = None, *, format: str = "auto") -> RawDataset:
    """CIFAR-10 from ``root/cifar-10-batches-bin`` (binary version) or ``root/cifar-10-batches-py``.

    Parameters
    ----------
    root : Path, optional
        Directory holding the extracted archive; default :func:`data_dir`.
    format : {"auto", "bin", "py"}, default "auto"
        ``"auto"`` reads the binary version when ``data_batch_1.bin`` is present, else the python
        version (through a restricted unpickler).
    """
    if format not in ("auto", "bin", "py"):
        raise DatasetError(f"cifar10: format must be 'auto', 'bin' or 'py', got {format!r}")
    base = _root(root)
    bin_dirs = [base / "cifar-10-batches-bin", base]
    py_dirs = [base / "cifar-10-batches-py", base]
    hint = "Extract cifar-10-binary.tar.gz (or cifar-10-python.tar.gz) from https://www.cs.toronto.edu/~kriz/cifar.html there."
    has_bin = any((d / "data_batch_1.bin").is_file() for d in bin_dirs)
    has_py = any((d / "data_batch_1").is_file() for d in py_dirs)
    use_bin = format == "bin" or (format == "auto" and (has_bin or not has_py))
    parts = []
    for batch in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        if use_bin:
            path = find_file(bin_dirs, f"{batch}.bin", dataset="CIFAR-10", hint=hint, gz=False)
            parts.append(read_cifar10_bin(path))
        else:
            path = find_file(py_dirs, batch, dataset="CIFAR-10", hint=hint, gz=False)
            parts.append(read_cifar10_py(path))
    x = np.concatenate([p[0] for p in parts[:5]])
    y = np.concatenate([p[1] for p in parts[:5]])
    kind = "binary" if use_bin else "python"
    return RawDataset(
        uint8_to_float(x),
        y,
        uint8_to_float(parts[5][0]),
        parts[5][1],
        CIFAR10_NAMES,
        f"CIFAR-10 ({kind} version): official train/test.",
    )


def load_svhn(root: Path | None = None, *, extra: bool = False) -> RawDataset:
    """SVHN cropped digits from ``root/SVHN`` (or ``root``): ``train_32x32.mat`` and ``test_32x32.mat``.

    Parameters
    ----------
    root : Path, optional
        Directory of the .mat files; default :func:`data_dir`.
    extra : bool, default False
        Append ``extra_32x32.mat`` (531,131 easier images) to the training data.
    """
    base = _root(root)
    dirs = [base / "SVHN", base / "svhn", base]
    hint = "Get train_32x32.mat and test_32x32.mat from http://ufldl.stanford.edu/housenumbers/ and put them there."
    names = ["train_32x32.mat", "test_32x32.mat"] + (["extra_32x32.mat"] if extra else [])
    parts = [read_svhn_mat(find_file(dirs, n, dataset="SVHN", hint=hint, gz=False)) for n in names]
    train = [parts[0], *parts[2:]]
    x = np.concatenate([p[0] for p in train])
    y = np.concatenate([p[1] for p in train])
    note = " with the extra set" if extra else ""
    return RawDataset(
        uint8_to_float(x),
        y,
        uint8_to_float(parts[1][0]),
        parts[1][1],
        DIGIT_NAMES,
        f"SVHN cropped digits (.mat files){note}: official train/test; label 10 read as digit 0.",
    )


def load_stl10(root: Path | None = None, *, size: int = 32) -> RawDataset:
    """STL-10 labelled images from ``root/stl10_binary`` (or ``root``), downsampled as in the NWS zoo.

    Parameters
    ----------
    root : Path, optional
        Directory holding ``stl10_binary/``; default :func:`data_dir`.
    size : int, default 32
        Output height and width (bilinear, antialiased); 96 keeps the original resolution.
    """
    if not isinstance(size, int) or size < 1:
        raise DatasetError(f"stl10: size must be a positive int, got {size!r}")
    base = _root(root)
    dirs = [base / "stl10_binary", base]
    hint = "Extract stl10_binary.tar.gz from https://cs.stanford.edu/~acoates/stl10/ there."
    splits = {}
    for split in ("train", "test"):
        images = read_stl10_images(
            find_file(dirs, f"{split}_X.bin", dataset="STL-10", hint=hint, gz=False)
        )
        labels = read_stl10_labels(
            find_file(dirs, f"{split}_y.bin", dataset="STL-10", hint=hint, gz=False),
            n_images=len(images),
        )
        splits[split] = (resize_images(images, (size, size)), labels)
    return RawDataset(
        *splits["train"],
        *splits["test"],
        class_names=STL10_NAMES,
        description=f"STL-10 (binary files): official labelled train/test, resized to {size}x{size}.",
    )


# (folders under root, searched in order; files that must all be in one of them; .gz allowed)
_REQUIRED: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...], bool], ...]] = {
    "mnist_idx": ((("MNIST/raw", "MNIST", ""), _IDX_FILES, True),),
    "fashion_mnist_idx": ((("FashionMNIST/raw", "FashionMNIST", ""), _IDX_FILES, True),),
    "cifar10": (
        (("cifar-10-batches-bin", ""), tuple(f"{b}.bin" for b in _CIFAR_BATCHES), False),
        (("cifar-10-batches-py", ""), _CIFAR_BATCHES, False),
    ),
    "svhn": ((("SVHN", "svhn", ""), ("train_32x32.mat", "test_32x32.mat"), False),),
    "stl10": (
        (("stl10_binary", ""), ("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin"), False),
    ),
}


def missing_files(dataset: str, root: Path | None = None) -> str:
    """Why an on-disk dataset cannot be loaded from ``root`` (``""`` when its files are there).

    Only checks that the files exist (no reading), so it is fast.

    Parameters
    ----------
    dataset : str
        ``"mnist_idx"``, ``"fashion_mnist_idx"``, ``"cifar10"``, ``"svhn"`` or ``"stl10"``.
    root : Path, optional
        Default :func:`data_dir`.
    """
    base = _root(root)
    first = ""
    for folders, names, gz in _REQUIRED[dataset]:
        for folder in folders:
            directory = base / folder
            if all(
                any((directory / n).is_file() for n in ([name, f"{name}.gz"] if gz else [name]))
                for name in names
            ):
                return ""
        first = first or f"{base / folders[0] / names[0]} not found ({len(names)} files expected)"
    return f"{first}; put the files there (weightspace never downloads datasets)"
