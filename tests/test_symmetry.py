import numpy as np
import pytest
import torch
from torch import nn

from weightspace import WeightSet, WeightspaceError, load_weights
from weightspace.symmetry import SymmetryError, hidden_sizes, permute, random_permutations
from weightspace.zoo.architectures import create_architecture, list_architectures

# Several configurations of every registered architecture, small enough for a CPU test.
CONFIGS = [
    ("nws-cnn", {"width_scale": 0.25, "input_size": 16}),
    ("nws-cnn", {"conv_layers": 5, "fc_layers": 3, "filter_size": 3, "width_scale": 0.25,
                 "input_size": 16, "activation": "elu", "init": "glorot_normal"}),
    ("nws-cnn", {"conv_layers": 4, "fc_layers": 4, "conv_width": 4, "fc_width": 64,
                 "input_size": 8, "activation": "tanh", "init": "normal"}),
    ("schurholt-cnn", {}),
    ("schurholt-cnn", {"activation": "relu", "dropout": 0.5, "init": "kaiming_normal"}),
    ("schurholt-cnn", {"activation": "gelu", "init": "kaiming_uniform"}),
    ("tetris-mlp", {}),
    ("tetris-mlp", {"activation": "sigmoid", "init": "normal", "bias": True}),
    ("mlp", {"in_features": 6, "hidden": (7, 5), "n_classes": 3, "batch_norm": True}),
    ("mlp", {"in_features": 6, "hidden": (9, 9, 4), "activation": "tanh", "dropout": 0.5}),
    ("plain-mlp", {"in_features": 6, "hidden": (7, 5)}),
    ("plain-cnn", {"widths": (3, 4), "input_size": 8, "dataset": "digits:0v1"}),
]  # fmt: skip


def _trained_statistics(model: nn.Module, seed: int) -> nn.Module:
    """Train-mode forward passes so that batch-norm running statistics are not the defaults."""
    gen = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(2.0 * torch.randn(16, *model.input_shape, generator=gen) + 0.5)
    return model.eval()


def test_configs_cover_every_registered_architecture():
    assert {name for name, _ in CONFIGS} == set(list_architectures())


@pytest.mark.parametrize(("name", "kw"), CONFIGS)
@pytest.mark.parametrize("seed", [0, 1])
def test_permuted_network_computes_the_same_function(name, kw, seed):
    model = _trained_statistics(create_architecture(name, seed=seed, **kw), seed)
    twin = permute(model, np.random.default_rng(seed))
    x = torch.randn(8, *model.input_shape, generator=torch.Generator().manual_seed(seed + 10))
    with torch.no_grad():
        diff = (model.double()(x.double()) - twin.double()(x.double())).abs().max()
    assert float(diff) < 1e-5
    before, after = load_weights(model).vector(), load_weights(twin).vector()
    assert before.shape == after.shape
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(np.sort(before), np.sort(after))  # same weights, new places


@pytest.mark.parametrize(("name", "kw"), CONFIGS)
def test_weightset_path_agrees_with_module_path(name, kw):
    model = _trained_statistics(create_architecture(name, seed=3, **kw), 3)
    ws = load_weights(model)
    from_module = load_weights(permute(model, np.random.default_rng(7)))
    from_weightset = permute(ws, np.random.default_rng(7))
    assert isinstance(from_weightset, WeightSet)
    assert from_weightset.structure() == ws.structure()
    np.testing.assert_array_equal(from_weightset.vector(), from_module.vector())
    assert hidden_sizes(ws) == hidden_sizes(model)


def test_batch_norm_in_train_mode_stays_equivariant():
    model = create_architecture("mlp", seed=0, in_features=5, hidden=(6, 6), batch_norm=True)
    twin = permute(model, 0)
    x = torch.randn(10, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model(x), twin(x), atol=1e-5, rtol=0)
    assert twin.training


def test_input_is_left_unchanged():
    model = create_architecture("schurholt-cnn", seed=0)
    before = load_weights(model).vector().copy()
    permute(model, 0)
    permute(load_weights(model), 0)
    np.testing.assert_array_equal(load_weights(model).vector(), before)


def test_hidden_sizes_of_the_nws_fixed_architecture():
    model = create_architecture("nws-cnn", seed=0)
    assert hidden_sizes(model) == (8, 16, 32, 128, 64)


def test_flatten_boundary_permutes_groups_of_spatial_columns():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    perm = np.array([2, 0, 1])
    twin = permute(model, permutations=[perm])
    w = model[3].weight.detach().reshape(5, 3, 16)
    torch.testing.assert_close(twin[3].weight.detach(), w[:, perm].reshape(5, 48))
    torch.testing.assert_close(twin[0].weight.detach(), model[0].weight.detach()[perm])
    x = torch.randn(4, 2, 6, 6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model(x), twin(x))


def test_explicit_identity_permutations_change_nothing():
    model = create_architecture("tetris-mlp", seed=0)
    twin = permute(model, permutations=[np.arange(5)])
    np.testing.assert_array_equal(load_weights(twin).vector(), load_weights(model).vector())


def test_nested_sequentials_are_flattened():
    model = nn.Sequential(nn.Sequential(nn.Linear(3, 4), nn.Tanh()), nn.Sequential(nn.Linear(4, 2)))
    twin = permute(model, 0)
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model(x), twin(x))
    assert hidden_sizes(model) == (4,)


def test_random_permutations_are_seeded():
    a, b = random_permutations([4, 6], 3), random_permutations([4, 6], np.random.default_rng(3))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert sorted(a[1].tolist()) == list(range(6))


@pytest.mark.parametrize(
    ("perms", "message"),
    [
        ([np.arange(8)], r"expected 5 \(one per hidden layer"),
        ([np.zeros(8, int)] * 5, r"permutations\[0\]: expected a permutation of range\(8\)"),
    ],
)
def test_bad_explicit_permutations(perms, message):
    with pytest.raises(SymmetryError, match=message):
        permute(create_architecture("nws-cnn", seed=0, width_scale=1.0), permutations=perms)


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.inner(x)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (Residual(), "needs an nn.Sequential stack"),
        (nn.Sequential(nn.Linear(3, 4), Residual(), nn.Linear(4, 2)), "Residual.*not supported"),
        (
            nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2)),
            "LayerNorm.*not supported",
        ),
        (nn.Sequential(nn.Conv2d(4, 4, 3, groups=2), nn.Conv2d(4, 2, 1)), "grouped"),
        (nn.Sequential(nn.Conv2d(1, 4, 3), nn.Linear(4, 2)), "needs an nn.Flatten"),
        (nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2)), "takes 5 inputs"),
    ],
)
def test_unsupported_modules_raise_a_clear_error(model, message):
    with pytest.raises(SymmetryError, match=message):
        permute(model, 0)
    assert issubclass(SymmetryError, WeightspaceError)


def test_unsupported_weightsets_raise_a_clear_error():
    branching = WeightSet.from_arrays(
        {"a.weight": np.ones((4, 3)), "b.weight": np.ones((2, 5)), "c.weight": np.ones((2, 2))}
    )
    with pytest.raises(SymmetryError, match="plain feed-forward chain"):
        permute(branching, 0)
    odd = WeightSet.from_arrays(
        {"a.weight": np.ones((4, 3)), "a.scale_extra": np.ones(4), "b.weight": np.ones((2, 4))}
    )
    with pytest.raises(SymmetryError, match="role 'other'"):
        permute(odd, 0)
    with pytest.raises(TypeError, match=r"nn\.Module or a WeightSet"):
        permute(np.ones(3), 0)  # type: ignore[call-overload]
