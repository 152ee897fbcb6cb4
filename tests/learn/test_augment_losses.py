"""Random erasing, noise and the losses, against their definitions."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from weightspace.learn import add_noise, masked_mse, nt_xent, random_erase, reconstruction_r2


def test_random_erasing_erases_one_rectangle_of_the_allowed_area():
    x = torch.ones(400, 20, 30)
    out = random_erase(x, torch.Generator().manual_seed(0), p=1.0)
    for sample in out:
        zero = (sample == 0).nonzero()
        rows, cols = zero[:, 0], zero[:, 1]
        h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert len(zero) == h * w  # one full rectangle
        assert 0.5 * 0.02 * 600 <= h * w <= 0.33 * 600 * 1.2  # rounding of sides allowed
    assert not torch.equal(out[0], out[1])


def test_random_erasing_applies_with_probability_p_and_repeats_with_the_seed():
    x = torch.ones(2000, 8, 8)
    out = random_erase(x, torch.Generator().manual_seed(1), p=0.5)
    erased = (out == 0).flatten(1).any(dim=1).float().mean().item()
    assert erased == pytest.approx(0.5, abs=0.05)
    again = random_erase(x, torch.Generator().manual_seed(1), p=0.5)
    assert torch.equal(out, again)
    assert torch.equal(random_erase(x, torch.Generator(), p=0.0), x)


def test_noise_touches_only_real_entries():
    x = torch.zeros(3, 4, 5)
    mask = torch.zeros(4, 5, dtype=torch.bool)
    mask[:, :3] = True
    out = add_noise(x, mask, 0.1, torch.Generator().manual_seed(0))
    assert (out[:, :, 3:] == 0).all()
    assert (out[:, :, :3] != 0).all()
    assert out[:, :, :3].std().item() == pytest.approx(0.1, rel=0.3)


def test_nt_xent_is_the_simclr_loss():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 7, generator=gen), torch.randn(5, 7, generator=gen)
    z = F.normalize(torch.cat([a, b]), dim=1)
    losses = []
    for i in range(10):
        j = (i + 5) % 10
        sims = [math.exp(float(z[i] @ z[k]) / 0.1) for k in range(10) if k != i]
        losses.append(-math.log(math.exp(float(z[i] @ z[j]) / 0.1) / sum(sims)))
    assert nt_xent(a, b, 0.1).item() == pytest.approx(np.mean(losses), rel=1e-5)


def test_nt_xent_is_small_for_matching_views_and_large_for_swapped_ones():
    a = torch.eye(4) * 3
    assert nt_xent(a, a.clone()).item() < 1e-3
    assert nt_xent(a, a[[1, 2, 3, 0]]).item() > 5


def test_masked_mse_ignores_padding():
    target = torch.zeros(2, 3, 4)
    mask = torch.tensor([[True, True, False, False]] * 3)
    pred = target.clone()
    pred[:, :, 2:] = 100.0  # padding only
    assert masked_mse(pred, target, mask).item() == 0.0
    pred[:, :, 0] = 2.0
    assert masked_mse(pred, target, mask).item() == pytest.approx(2.0)  # 4 on half the entries


def test_reconstruction_r2_is_variance_weighted_over_real_entries():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(6, 3, 2))
    mask = np.array([[True, False]] * 3)
    pred = target.copy()
    pred[:, :, 1] = 99.0  # padding: ignored
    assert reconstruction_r2(pred, target, mask) == 1.0
    mean = np.broadcast_to(target.mean(axis=0), target.shape)
    assert reconstruction_r2(mean, target, mask) == pytest.approx(0.0, abs=1e-12)
