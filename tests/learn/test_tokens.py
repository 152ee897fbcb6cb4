"""Tokens: exact round trips, the paper's token layout, and tokens under hidden-unit permutations."""

import numpy as np
import pytest

from weightspace import WeightSet, load_weights
from weightspace.learn import LearnError, Permuter, WeightLayout, chunk_tokens, neuron_tokens
from weightspace.symmetry import hidden_sizes, permute
from weightspace.zoo.architectures import create_architecture

from ..conftest import make_cnn


def schurholt(seed: int = 0, **kw: object) -> WeightSet:
    return load_weights(create_architecture("schurholt-cnn", seed=seed, **kw))


@pytest.mark.parametrize("make", [schurholt, lambda: load_weights(make_cnn(3))])
@pytest.mark.parametrize("kind", ["neuron", "chunk"])
def test_tokens_round_trip_a_model_exactly(make, kind):
    ws = make()
    layout = WeightLayout.from_weightset(ws)
    tm = neuron_tokens(layout) if kind == "neuron" else chunk_tokens(layout, chunk=16)
    tokens = tm.tokenize(ws.vector())
    back = ws.with_vector(tm.detokenize(tokens)[0])
    for a, b in zip(ws.tensors, back.tensors, strict=True):
        np.testing.assert_array_equal(a.array, b.array)
    assert (tokens[0][~tm.mask] == 0).all()
    assert np.sort(tm.index[tm.mask]).tolist() == list(range(ws.n_params))  # each weight once


def test_schurholt_cnn_gives_the_papers_48_neuron_tokens():
    tm = neuron_tokens(WeightLayout.from_weightset(schurholt()))
    assert tm.n_tokens == 48
    assert tm.layer_widths == [26, 201, 25, 37, 21]  # fan-in + bias of each layer
    assert tm.width == 201
    assert [s.stop - s.start for s in tm.layer_slices] == [8, 6, 4, 20, 10]


def test_a_neuron_token_is_its_kernel_row_then_bias_then_batch_norm():
    ws = load_weights(make_cnn(0))  # conv 4x1x3x3 + bias + BN(4), then linear 10x144 + bias
    tm = neuron_tokens(WeightLayout.from_weightset(ws))
    tokens = tm.tokenize(ws.vector())[0]
    arrays = {t.role: t.array for t in ws.layer(ws.layers[0]).tensors if t.is_float}
    unit = 2
    expected = [arrays["kernel"][unit].ravel(), [arrays["bias"][unit]]] + [
        [arrays[r][unit]] for r in ("bn_gamma", "bn_beta", "bn_mean", "bn_var")
    ]
    np.testing.assert_array_equal(tokens[unit, :14], np.concatenate(expected))


def test_chunk_tokens_cut_every_row_and_carry_their_positions():
    layout = WeightLayout.from_weightset(schurholt())
    tm = chunk_tokens(layout, chunk=16)
    widths, rows = [26, 201, 25, 37, 21], [8, 6, 4, 20, 10]
    assert tm.n_tokens == sum(r * -(-w // 16) for w, r in zip(widths, rows, strict=True))
    second = tm.layer == 1
    assert tm.chunk[second].max() == 12  # 201 entries -> 13 chunks
    assert tm.unit[second].max() == 5
    # the last chunk of a 201-wide row has 201 - 12 * 16 = 9 real entries
    last = np.flatnonzero(second & (tm.chunk == 12))[0]
    assert tm.mask[last].sum() == 9


def test_layout_ignores_names_so_dropout_variants_are_one_architecture():
    with_dropout = schurholt(dropout=0.5)
    assert with_dropout.layers != schurholt().layers  # module indices shift
    a = WeightLayout.from_weightset(with_dropout)
    b = WeightLayout.from_weightset(schurholt())
    assert a.signature == b.signature


def test_a_permuted_model_gives_the_same_tokens_up_to_the_permutation():
    ws = schurholt(seed=4)
    tm = neuron_tokens(WeightLayout.from_weightset(ws))
    rng = np.random.default_rng(0)
    perms = [rng.permutation(s) for s in hidden_sizes(ws)]
    before = tm.tokenize(ws.vector())[0]
    after = tm.tokenize(permute(ws, permutations=perms).vector())[0]
    s = tm.layer_slices
    # inputs are never permuted: the first layer's tokens are its tokens, reordered
    np.testing.assert_array_equal(after[s[0]], before[s[0]][perms[0]])
    # later layers: unit i is the old unit perms[l][i] with its fan-in reordered (same values)
    for layer in range(1, 5):
        order = perms[layer] if layer < 4 else np.arange(10)  # output units stay
        np.testing.assert_array_equal(
            np.sort(after[s[layer]], axis=1), np.sort(before[s[layer]][order], axis=1)
        )
    assert not np.array_equal(after, before)


@pytest.mark.parametrize("make", [schurholt, lambda: load_weights(make_cnn(1))])
def test_permuter_gathers_are_symmetry_permute(make):
    ws = make()
    permuter = Permuter(ws)
    rng = np.random.default_rng(5)
    for _ in range(3):
        perms = [rng.permutation(s) for s in permuter.sizes]
        gather = permuter.gathers([p[None] for p in perms])[0]
        expected = permute(ws, permutations=perms).vector()
        np.testing.assert_array_equal(ws.vector()[gather], expected)


def test_a_random_batch_of_permutations_preserves_every_models_weights():
    ws = schurholt()
    g = Permuter(ws).random(4, np.random.default_rng(0))
    assert g.shape == (4, ws.n_params)
    assert all(np.array_equal(np.sort(row), np.arange(ws.n_params)) for row in g)
    assert len({row.tobytes() for row in g}) == 4


def test_neuron_tokens_refuse_units_wider_than_the_limit():
    ws = WeightSet.from_arrays({"fc.weight": np.ones((2, 5000), np.float32)})
    with pytest.raises(LearnError, match="chunk tokens"):
        neuron_tokens(WeightLayout.from_weightset(ws))
    assert chunk_tokens(WeightLayout.from_weightset(ws), chunk=1000).n_tokens == 10


def test_other_architectures_are_named_in_the_error():
    layout = WeightLayout.from_weightset(schurholt())
    other = load_weights(make_cnn(0))
    with pytest.raises(LearnError, match=r"architecture .* is not the encoder's 8x26 6x201"):
        layout.check(other, "encoder")
