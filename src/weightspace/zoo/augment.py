"""The NWS online data augmentation (Eilertsen et al. 2020, Table 1), on batches of tensors.

Each image of a mini-batch gets its own random transform: translation +-3 px, rotation +-15 deg,
zoom 1 +- 0.099, shear +-3 deg (one affine warp, bilinear, zero padding), brightness +-0.2, contrast
factor in [0.5, 1.5], hue +-0.08 of a turn and saturation x[0.3, 1.5] (colour images only), and
Gaussian noise with a standard deviation drawn from U(0, 0.03); the result is clipped to [0, 1].
1-D signals (``(B, C, L)``) get the shift, brightness, contrast and noise parts.

All randomness comes from the ``torch.Generator`` passed in, in a fixed order, so that a model
trained alone and the same model trained in a batch see the same augmented images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["NWS_AUGMENTATION", "AugmentationRanges", "augment"]


@dataclass(frozen=True)
class AugmentationRanges:
    """The ranges of the NWS augmentation (Table 1 of Eilertsen et al. 2020)."""

    translate_px: float = 3.0
    rotate_deg: float = 15.0
    zoom: float = 0.099
    shear_deg: float = 3.0
    brightness: float = 0.2
    contrast: tuple[float, float] = (0.5, 1.5)
    hue: float = 0.08
    saturation: tuple[float, float] = (0.3, 1.5)
    noise_std: float = 0.03


NWS_AUGMENTATION = AugmentationRanges()

_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Augment a batch of images ``(B, C, H, W)`` or signals ``(B, C, L)`` in [0, 1].

    Parameters
    ----------
    x : torch.Tensor
        The batch (float, values in [0, 1]); not modified.
    gen : torch.Generator
        The source of randomness (CPU generator).

    Returns
    -------
    torch.Tensor of the same shape, values in [0, 1].
    """
    a = NWS_AUGMENTATION
    n = x.shape[0]
    if x.dim() == 4:
        x = _affine(x, gen)
    elif x.dim() == 3:
        shifts = torch.randint(-int(a.translate_px), int(a.translate_px) + 1, (n,), generator=gen)
        x = torch.stack([torch.roll(xi, int(s), dims=-1) for xi, s in zip(x, shifts, strict=True)])
    view = (n,) + (1,) * (x.dim() - 1)
    brightness = _uniform(n, -a.brightness, a.brightness, gen).view(view)
    contrast = _uniform(n, *a.contrast, gen).view(view)
    mean = x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
    x = (x - mean) * contrast + mean + brightness
    if x.dim() == 4 and x.shape[1] == 3:
        x = _colour(x, gen)
    std = _uniform(n, 0.0, a.noise_std, gen).view(view)
    x = x + std * torch.randn(x.shape, generator=gen)
    return x.clamp_(0.0, 1.0)


def _affine(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    a = NWS_AUGMENTATION
    n, _, h, w = x.shape
    rot = torch.deg2rad(_uniform(n, -a.rotate_deg, a.rotate_deg, gen))
    shear = torch.deg2rad(_uniform(n, -a.shear_deg, a.shear_deg, gen))
    zoom = _uniform(n, 1 - a.zoom, 1 + a.zoom, gen)
    tx = _uniform(n, -a.translate_px, a.translate_px, gen) * 2 / w
    ty = _uniform(n, -a.translate_px, a.translate_px, gen) * 2 / h
    cos, sin = torch.cos(rot), torch.sin(rot)
    # sampling grid: rotation @ shear, scaled by 1/zoom (zoom > 1 magnifies), then translation
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos / zoom
    theta[:, 0, 1] = (-sin + cos * torch.tan(shear)) / zoom
    theta[:, 1, 0] = sin / zoom
    theta[:, 1, 1] = (cos + sin * torch.tan(shear)) / zoom
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _colour(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    a = NWS_AUGMENTATION
    n = x.shape[0]
    angle = _uniform(n, -a.hue, a.hue, gen) * 2 * math.pi
    saturation = _uniform(n, *a.saturation, gen)
    yiq = torch.einsum("ij,bjhw->bihw", _YIQ, x)
    cos, sin = torch.cos(angle).view(n, 1, 1), torch.sin(angle).view(n, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    i2 = (i * cos - q * sin) * saturation.view(n, 1, 1)
    q2 = (i * sin + q * cos) * saturation.view(n, 1, 1)
    yiq = torch.stack([yiq[:, 0], i2, q2], dim=1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_YIQ), yiq)
