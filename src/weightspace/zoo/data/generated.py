"""Procedurally generated image sets: Tetris pieces (4x4), shapes (32x32 grey or RGB), textures (grey).

Each is a pure function of its options: ``data_seed`` seeds two independent streams, one for the
training and one for the test images, so changing the number of training samples leaves the test
split unchanged. The validation split is then held out by the registry with its own ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from weightspace.zoo.data.core import DatasetError, RawDataset

__all__ = [
    "SHAPE_CLASSES",
    "TETROMINOES",
    "TEXTURE_CLASSES",
    "load_colour_shapes",
    "load_shapes",
    "load_tetris",
    "load_textures",
]

FloatArray = NDArray[np.float32]
Bool = NDArray[np.bool_]
Render = Callable[[int, np.random.Generator], FloatArray]


def _check_options(
    name: str, n_train_per_class: int, n_test_per_class: int, noise: float, data_seed: int
) -> None:
    for option, value in (
        ("n_train_per_class", n_train_per_class),
        ("n_test_per_class", n_test_per_class),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise DatasetError(f"{name}: {option} must be a positive int, got {value!r}")
    if not isinstance(noise, float | int) or not 0.0 <= noise <= 1.0:
        raise DatasetError(f"{name}: noise must be a standard deviation in [0, 1], got {noise!r}")
    if not isinstance(data_seed, int) or data_seed < 0:
        raise DatasetError(f"{name}: data_seed must be a non-negative int, got {data_seed!r}")


def _generate(
    renderers: Sequence[Render],
    class_names: Sequence[str],
    n_train_per_class: int,
    n_test_per_class: int,
    data_seed: int,
    description: str,
) -> RawDataset:
    """Render every class for both splits from two seeded streams and shuffle each split."""

    def split(stream: int, n: int) -> tuple[FloatArray, NDArray[np.int64]]:
        rng = np.random.default_rng([data_seed, stream])
        x = np.concatenate([render(n, rng) for render in renderers])
        if x.ndim == 3:  # grey (n, H, W) renders get their channel axis
            x = x[:, None]
        y = np.repeat(np.arange(len(renderers), dtype=np.int64), n)
        order = rng.permutation(len(y))
        return np.ascontiguousarray(x[order], dtype=np.float32), y[order]

    x_train, y_train = split(0, n_train_per_class)
    x_test, y_test = split(1, n_test_per_class)
    return RawDataset(x_train, y_train, x_test, y_test, tuple(class_names), description)


def _add_noise(images: NDArray[np.float64], noise: float, rng: np.random.Generator) -> FloatArray:
    if noise > 0:
        images = images + rng.normal(0.0, noise, images.shape)
    return np.clip(images, 0.0, 1.0).astype(np.float32)


# ------------------------------------------------------------------------------------------- tetris

TETROMINOES: dict[str, tuple[str, ...]] = {
    "I": ("####",),
    "O": ("##", "##"),
    "T": ("###", ".#."),
    "S": (".##", "##."),
    "Z": ("##.", ".##"),
    "J": ("#..", "###"),
    "L": ("..#", "###"),
}
"""The seven one-sided tetrominoes (mirror images are different pieces), as rows of ``#``."""


def tetris_placements(piece: str, size: int = 4) -> Bool:
    """Every rotation and position of one tetromino that fits in a ``size x size`` grid.

    Returns
    -------
    ndarray of shape (K, size, size), bool
        Distinct placements (e.g. K = 8 for I, 9 for O, 24 for T, J and L, 12 for S and Z at size 4).
    """
    mask = np.array([[c == "#" for c in row] for row in TETROMINOES[piece]])
    seen: dict[bytes, Bool] = {}
    for k in range(4):
        rotated = np.rot90(mask, k)
        h, w = rotated.shape
        for top in range(size - h + 1):
            for left in range(size - w + 1):
                grid = np.zeros((size, size), dtype=bool)
                grid[top : top + h, left : left + w] = rotated
                seen.setdefault(grid.tobytes(), grid)
    return np.stack(list(seen.values()))


def load_tetris(
    root: Path | None = None,
    *,
    n_train_per_class: int = 500,
    n_test_per_class: int = 100,
    noise: float = 0.1,
    pieces: str = "IOTSZJL",
    data_seed: int = 0,
) -> RawDataset:
    """4x4 Tetris pieces, as in the Tetris zoos of Schürholt et al. (NeurIPS 2021).

    Each image shows one tetromino (pixels 1 on 0) in a uniformly drawn rotation and position that fits
    the 4x4 grid, plus Gaussian pixel noise clipped to ``[0, 1]``. The poster does not list the piece
    classes; by default all seven tetrominoes are classes (pass e.g. ``pieces="LTSO"`` for four).

    Parameters
    ----------
    root : Path, optional
        Unused.
    n_train_per_class, n_test_per_class : int, default 500 and 100
        Samples per class in the training (before the validation hold-out) and test splits.
    noise : float, default 0.1
        Standard deviation of the pixel noise; 0 gives binary images.
    pieces : str, default "IOTSZJL"
        The classes, one letter per tetromino, in label order.
    data_seed : int, default 0
        Seed of the generator.
    """
    _check_options("tetris", n_train_per_class, n_test_per_class, noise, data_seed)
    if (
        not isinstance(pieces, str)
        or len(set(pieces)) != len(pieces)
        or not set(pieces) <= set(TETROMINOES)
    ):
        raise DatasetError(
            f"tetris: pieces must be distinct letters of {''.join(TETROMINOES)!r}, got {pieces!r}"
        )
    if len(pieces) < 2:
        raise DatasetError(f"tetris: pieces needs at least two classes, got {pieces!r}")

    def renderer(piece: str) -> Render:
        placements = tetris_placements(piece).astype(np.float64)

        def render(n: int, rng: np.random.Generator) -> FloatArray:
            return _add_noise(placements[rng.integers(len(placements), size=n)], noise, rng)

        return render

    return _generate(
        [renderer(p) for p in pieces],
        list(pieces),
        n_train_per_class,
        n_test_per_class,
        data_seed,
        f"Generated 4x4 Tetris pieces {pieces} in all rotations/positions, noise std {noise}.",
    )


# ------------------------------------------------------------------------------------------- shapes

_SQRT3 = float(np.sqrt(3.0))

# Inside-tests in shape coordinates (u, v): the shape's frame, rotated and scaled to unit radius.
SHAPE_CLASSES: dict[str, Callable[[NDArray[np.float64], NDArray[np.float64]], Bool]] = {
    "disk": lambda u, v: u**2 + v**2 <= 1.0,
    "ring": lambda u, v: (u**2 + v**2 <= 1.0) & (u**2 + v**2 >= 0.55**2),
    "ellipse": lambda u, v: u**2 + (v / 0.45) ** 2 <= 1.0,
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 0.75,
    "frame": lambda u, v: (
        (np.maximum(np.abs(u), np.abs(v)) <= 0.8) & (np.maximum(np.abs(u), np.abs(v)) >= 0.45)
    ),
    "triangle": lambda u, v: (v >= -0.5) & (_SQRT3 * u + v <= 1.0) & (-_SQRT3 * u + v <= 1.0),
    "cross": lambda u, v: (
        ((np.abs(u) <= 0.28) & (np.abs(v) <= 0.95)) | ((np.abs(v) <= 0.28) & (np.abs(u) <= 0.95))
    ),
    "star": lambda u, v: np.hypot(u, v) <= 0.55 + 0.45 * np.cos(5.0 * np.arctan2(v, u)),
    "half_disk": lambda u, v: (u**2 + (v + 0.4) ** 2 <= 1.0) & (v >= -0.4),
    "crescent": lambda u, v: (u**2 + v**2 <= 1.0) & ((u - 0.5) ** 2 + v**2 >= 0.8**2),
}
"""The ten shape classes of :func:`load_shapes`, in label order, each a test of unit-radius coordinates."""


def _shape_renderer(
    inside: Callable[[NDArray[np.float64], NDArray[np.float64]], Bool],
    noise: float,
    colour: bool = False,
) -> Render:
    size, ss = 32, 2  # 2x2 supersampling for anti-aliased edges
    grid = (np.arange(size * ss) + 0.5) / ss
    # one intensity per image (grey), or one per image and channel (colour): (n, C, 1, 1)
    channels = 3 if colour else 1

    def render(n: int, rng: np.random.Generator) -> FloatArray:
        cx, cy = rng.uniform(0.4 * size, 0.6 * size, (2, n))
        radius = rng.uniform(0.2 * size, 0.3 * size, n)
        theta = rng.uniform(0.0, 2.0 * np.pi, n)
        dx = grid[None, None, :] - cx[:, None, None]
        dy = grid[None, :, None] - cy[:, None, None]
        cos, sin, r = (
            np.cos(theta)[:, None, None],
            np.sin(theta)[:, None, None],
            radius[:, None, None],
        )
        u, v = (cos * dx + sin * dy) / r, (cos * dy - sin * dx) / r
        coverage = inside(u, v).reshape(n, 1, size, ss, size, ss).mean(axis=(3, 5))
        background = rng.uniform(0.0, 0.3, (n, channels))[:, :, None, None]
        foreground = rng.uniform(0.6, 1.0, (n, channels))[:, :, None, None]
        images = _add_noise(background + (foreground - background) * coverage, noise, rng)
        return images if colour else images[:, 0]

    return render


def load_shapes(
    root: Path | None = None,
    *,
    n_train_per_class: int = 600,
    n_test_per_class: int = 100,
    noise: float = 0.05,
    data_seed: int = 0,
) -> RawDataset:
    """32x32 grey images of ten geometric shapes (see :data:`SHAPE_CLASSES`).

    Every image draws one shape at a random position (centre within the middle 20% of the image),
    radius (6.4 to 9.6 pixels), rotation and intensity (foreground 0.6-1.0 on background 0.0-0.3),
    anti-aliased by 2x2 supersampling, plus Gaussian pixel noise clipped to ``[0, 1]``.

    Parameters
    ----------
    root : Path, optional
        Unused.
    n_train_per_class, n_test_per_class : int, default 600 and 100
        Samples per class in the training (before the validation hold-out) and test splits.
    noise : float, default 0.05
        Standard deviation of the pixel noise.
    data_seed : int, default 0
        Seed of the generator.
    """
    _check_options("shapes", n_train_per_class, n_test_per_class, noise, data_seed)
    return _generate(
        [_shape_renderer(inside, noise) for inside in SHAPE_CLASSES.values()],
        list(SHAPE_CLASSES),
        n_train_per_class,
        n_test_per_class,
        data_seed,
        f"Generated 32x32 geometric shapes (random position, scale, rotation, intensity), noise std {noise}.",
    )


def load_colour_shapes(
    root: Path | None = None,
    *,
    n_train_per_class: int = 600,
    n_test_per_class: int = 100,
    noise: float = 0.05,
    data_seed: int = 0,
) -> RawDataset:
    """32x32 colour (3-channel) images of the ten shapes of :func:`load_shapes`.

    As :func:`load_shapes`, but the background and the foreground draw one intensity per RGB channel
    (background 0.0-0.3, foreground 0.6-1.0 in each), so every image has its own pair of colours and
    the shape stands out in every channel; the pixel noise is drawn per channel. The colours carry no
    information on the class. A colour dataset of this project's own, for zoos that mix grey and
    colour inputs as the NWS zoo does.

    Parameters
    ----------
    root : Path, optional
        Unused.
    n_train_per_class, n_test_per_class : int, default 600 and 100
        Samples per class in the training (before the validation hold-out) and test splits.
    noise : float, default 0.05
        Standard deviation of the pixel noise.
    data_seed : int, default 0
        Seed of the generator.
    """
    _check_options("colour_shapes", n_train_per_class, n_test_per_class, noise, data_seed)
    return _generate(
        [_shape_renderer(inside, noise, colour=True) for inside in SHAPE_CLASSES.values()],
        list(SHAPE_CLASSES),
        n_train_per_class,
        n_test_per_class,
        data_seed,
        f"Generated 32x32 RGB geometric shapes (random position, scale, rotation, and a random colour "
        f"per image for shape and background), noise std {noise}.",
    )


# ----------------------------------------------------------------------------------------- textures

TEXTURE_CLASSES = (
    "grating_0",
    "grating_45",
    "grating_90",
    "grating_135",
    "checkerboard",
    "rings",
    "spokes",
    "spots",
    "clouds",
    "white_noise",
)
"""The ten texture classes of :func:`load_textures`, in label order."""


def _lowpass(field: NDArray[np.float64], sigma: float) -> NDArray[np.float64]:
    """Gaussian low-pass filter of each (periodic) image in the last two axes, through the FFT."""
    freq = np.fft.fftfreq(field.shape[-1])
    gain = np.exp(-2.0 * (np.pi * sigma) ** 2 * (freq[:, None] ** 2 + freq[None, :] ** 2))
    return np.real(np.fft.ifft2(np.fft.fft2(field) * gain))


def _normalise(field: NDArray[np.float64]) -> NDArray[np.float64]:
    low = field.min(axis=(1, 2), keepdims=True)
    high = field.max(axis=(1, 2), keepdims=True)
    return np.asarray((field - low) / np.maximum(high - low, 1e-12), dtype=np.float64)


def _texture(kind: str, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Texture patterns in [0, 1], shape (n, 32, 32)."""
    return np.asarray(_texture_any(kind, n, rng), dtype=np.float64)


def _texture_any(kind: str, n: int, rng: np.random.Generator) -> Any:
    size = 32
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    x, y = x[None], y[None]

    def param(low: float, high: float) -> NDArray[np.float64]:
        return rng.uniform(low, high, n)[:, None, None]

    if kind.startswith("grating_"):
        theta = np.deg2rad(float(kind.split("_")[1]) + param(-10.0, 10.0))
        phase = 2 * np.pi * param(2.5, 6.0) * (x * np.cos(theta) + y * np.sin(theta)) / size
        return 0.5 + 0.5 * np.sin(phase + param(0.0, 2 * np.pi))
    if kind == "checkerboard":
        theta, period = param(0.0, np.pi / 2), param(3.0, 8.0)
        u = (x * np.cos(theta) + y * np.sin(theta)) / period + param(0.0, 2.0)
        v = (y * np.cos(theta) - x * np.sin(theta)) / period + param(0.0, 2.0)
        return ((np.floor(u) + np.floor(v)) % 2).astype(np.float64)
    cx, cy = param(0.25 * size, 0.75 * size), param(0.25 * size, 0.75 * size)
    if kind == "rings":
        radius = np.hypot(x - cx, y - cy)
        return 0.5 + 0.5 * np.sin(2 * np.pi * radius / param(3.0, 7.0) + param(0.0, 2 * np.pi))
    if kind == "spokes":
        count = rng.integers(4, 9, n)[:, None, None]
        return 0.5 + 0.5 * np.sin(count * np.arctan2(y - cy, x - cx) + param(0.0, 2 * np.pi))
    if kind == "spots":
        impulses = (rng.random((n, size, size)) < param(0.01, 0.025)).astype(np.float64)
        return _normalise(_lowpass(impulses, 1.2))
    if kind == "clouds":
        return _normalise(_lowpass(rng.normal(size=(n, size, size)), 3.0))
    if kind == "white_noise":
        return rng.random((n, size, size))
    raise DatasetError(
        f"textures: unknown texture class {kind!r}; known: {', '.join(TEXTURE_CLASSES)}"
    )


def _texture_renderer(kind: str, noise: float) -> Render:
    def render(n: int, rng: np.random.Generator) -> FloatArray:
        pattern = _texture(kind, n, rng)
        low = rng.uniform(0.0, 0.3, n)[:, None, None]
        high = rng.uniform(0.7, 1.0, n)[:, None, None]
        return _add_noise(low + (high - low) * pattern, noise, rng)

    return render


def load_textures(
    root: Path | None = None,
    *,
    n_train_per_class: int = 600,
    n_test_per_class: int = 100,
    noise: float = 0.03,
    data_seed: int = 0,
) -> RawDataset:
    """32x32 grey textures of ten classes (see :data:`TEXTURE_CLASSES`).

    Oriented sine gratings at 0, 45, 90 and 135 degrees (+-10 degrees, 2.5-6 cycles per image),
    rotated checkerboards, concentric rings and spokes around a random centre, Gaussian spots, smooth
    "cloud" noise and white noise; each with random phase, scale and contrast, plus pixel noise.

    Parameters
    ----------
    root : Path, optional
        Unused.
    n_train_per_class, n_test_per_class : int, default 600 and 100
        Samples per class in the training (before the validation hold-out) and test splits.
    noise : float, default 0.03
        Standard deviation of the pixel noise.
    data_seed : int, default 0
        Seed of the generator.
    """
    _check_options("textures", n_train_per_class, n_test_per_class, noise, data_seed)
    return _generate(
        [_texture_renderer(kind, noise) for kind in TEXTURE_CLASSES],
        TEXTURE_CLASSES,
        n_train_per_class,
        n_test_per_class,
        data_seed,
        f"Generated 32x32 textures (gratings, checkerboards, rings, spokes, spots, noise), noise std {noise}.",
    )
