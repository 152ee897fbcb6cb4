import torch

from weightspace.zoo.augment import augment


def batch(c: int = 3) -> torch.Tensor:
    return torch.rand((6, c, 16, 16), generator=torch.Generator().manual_seed(0))


def test_same_generator_state_gives_the_same_images():
    x = batch()
    a = augment(x, torch.Generator().manual_seed(5))
    b = augment(x, torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    c = augment(x, torch.Generator().manual_seed(6))
    assert not torch.equal(a, c)


def test_output_stays_in_range_and_shape_and_input_is_untouched():
    x = batch()
    before = x.clone()
    out = augment(x, torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    assert float(out.min()) >= 0.0
    assert float(out.max()) <= 1.0
    assert torch.equal(x, before)


def test_grey_images_and_signals():
    grey = augment(batch(1), torch.Generator().manual_seed(2))
    assert grey.shape == (6, 1, 16, 16)
    signal = torch.rand((4, 1, 40), generator=torch.Generator().manual_seed(0))
    out = augment(signal, torch.Generator().manual_seed(3))
    assert out.shape == signal.shape
    assert not torch.equal(out, signal)


def test_global_random_state_is_not_used():
    state = torch.get_rng_state()
    augment(batch(), torch.Generator().manual_seed(4))
    assert torch.equal(torch.get_rng_state(), state)
