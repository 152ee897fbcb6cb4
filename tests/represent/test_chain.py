"""Chain normalization: invariant under hidden-unit permutations, different across networks."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from weightspace import WeightspaceError, load_weights
from weightspace.represent.chain import ChainGram, chain_grams
from weightspace.symmetry import permute
from weightspace.zoo.architectures import create_architecture


def mlp(seed: int) -> torch.nn.Module:
    return create_architecture("mlp", seed=seed, in_features=6, hidden=(7, 5), n_classes=3)


def small_cnn(seed: int) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 3, 2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 1 * 1, 5),
        torch.nn.Tanh(),
        torch.nn.Linear(5, 2),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return net


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("build", [mlp, small_cnn])
def test_grams_are_invariant_to_hidden_permutations(build, normalize):
    rng = np.random.default_rng(0)
    net = build(0)
    for _ in range(3):
        permuted = permute(net, rng)
        assert not np.array_equal(load_weights(permuted).vector(), load_weights(net).vector())
        for a, b in zip(
            chain_grams(net, normalize=normalize),
            chain_grams(permuted, normalize=normalize),
            strict=True,
        ):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_grams_differ_between_networks():
    a, b = chain_grams(mlp(0)), chain_grams(mlp(1))
    assert all(not np.allclose(x, y) for x, y in zip(a, b, strict=True))


def test_mlp_chain_is_the_product_of_normalized_matrices():
    net = mlp(2)
    w = [t.array.astype(np.float64) for t in load_weights(net) if t.role == "kernel"]
    w = [m / np.linalg.norm(m, axis=1, keepdims=True) for m in w]
    c2 = w[1] @ w[0]
    np.testing.assert_allclose(chain_grams(net, chains=[2])[0], c2.T @ c2, rtol=1e-12)


def test_cnn_chain_dimensions_fold_kernel_positions():
    shapes = [g.shape for g in chain_grams(small_cnn(0))]
    # conv1: 2 x 3 x 3 = 18 inputs; conv2 folds 2 x 2 positions: 72; linear (1 position), 72 again
    assert shapes == [(18, 18), (72, 72), (72, 72), (72, 72)]


def test_too_large_chains_and_bad_requests_are_refused():
    with pytest.raises(WeightspaceError, match="max_dim"):
        chain_grams(small_cnn(0), max_dim=20)
    with pytest.raises(WeightspaceError, match="out of range"):
        chain_grams(mlp(0), chains=[9])


def test_transformer_features():
    nets = [mlp(0), mlp(1)]
    features = ChainGram().fit(nets).transform(nets)
    assert features.shape == (2, 3 * (6 * 7 // 2))
    with pytest.raises(NotFittedError):
        ChainGram().transform(nets)


def test_feature_names_name_each_gram_entry():
    nets = [mlp(0), mlp(1)]
    est = ChainGram(chains=[1, 3]).fit(nets)
    names = est.get_feature_names_out()
    assert est.chains_ == [1, 3]
    assert est.chain_dims_ == [6, 6]
    assert len(names) == est.transform(nets).shape[1] == 2 * 21
    assert list(names[:3]) == ["chain1_0_0", "chain1_0_1", "chain1_0_2"]
    assert names[21] == "chain3_0_0"
    assert names[-1] == "chain3_5_5"
    frame = ChainGram(chains=[1]).set_output(transform="pandas").fit_transform(nets)
    gram = chain_grams(nets[1], chains=[1])[0]
    assert frame.loc[1, "chain1_2_4"] == pytest.approx(gram[2, 4])


def test_one_network_alone_is_refused_with_the_fix():
    with pytest.raises(WeightspaceError, match=r"wrap one network in a list, \[net\]"):
        ChainGram().fit(load_weights(mlp(0)))
    with pytest.raises(WeightspaceError, match="at least one network"):
        ChainGram().fit([])
