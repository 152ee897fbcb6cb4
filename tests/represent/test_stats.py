"""Statistical features: values against numpy/scipy, NaN and degenerate tensors, names, contract."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from weightspace import WeightSet, WeightTensor
from weightspace.represent import (
    GLOBAL_STAT_NAMES,
    SW_STAT_NAMES,
    GlobalStats,
    LayerStats,
    RepresentationError,
    SWStats,
    global_stats,
    layer_stats,
    layer_stats_names,
    swstats,
    swstats_names,
)


def eight(x):
    x = np.asarray(x, dtype=np.float64)
    return [
        np.mean(x),
        np.var(x),
        scipy.stats.skew(x, bias=True),
        *np.percentile(x, [1, 25, 50, 75, 99]),
    ]


def cnn(rng, widths=(4, 8, 8), fc=(16, 10), scale=1.0):
    """3 conv layers and 2 FC layers, each with bias and batch norm (PyTorch names)."""
    arrays = {}
    shapes = [(w, c, 3, 3) for w, c in zip(widths, (1, *widths[:-1]), strict=True)]
    shapes += [(fc[0], widths[-1] * 4), (fc[1], fc[0])]
    for i, shape in enumerate(shapes):
        name = f"conv{i}" if len(shape) == 4 else f"fc{i}"
        arrays[f"{name}.weight"] = rng.normal(0, scale, shape)
        arrays[f"{name}.bias"] = rng.normal(0, scale, shape[0])
        arrays[f"bn{i}.weight"] = rng.normal(1, 0.1, shape[0])
        arrays[f"bn{i}.bias"] = rng.normal(0, 0.1, shape[0])
        arrays[f"bn{i}.running_mean"] = rng.normal(0, 1, shape[0])
        arrays[f"bn{i}.running_var"] = rng.uniform(0.5, 2, shape[0])
        arrays[f"bn{i}.num_batches_tracked"] = np.array(100)
    return WeightSet.from_arrays(arrays)


# ---------------------------------------------------------------------------------- global
def test_sixteen_names():
    assert len(GLOBAL_STAT_NAMES) == 16 == len(set(GLOBAL_STAT_NAMES))
    assert GLOBAL_STAT_NAMES[:3] == ("mean", "var", "skew")
    assert GLOBAL_STAT_NAMES[8] == "diff_mean"
    assert GLOBAL_STAT_NAMES[-1] == "diff_p99"


def test_global_stats_of_a_small_vector():
    # theta = 0, 1, 3: differences 1, 2
    f = dict(zip(GLOBAL_STAT_NAMES, global_stats([np.array([0.0, 1.0, 3.0])])[0], strict=True))
    assert f["mean"] == pytest.approx(4 / 3)
    assert f["var"] == pytest.approx(14 / 9)
    assert f["p50"] == 1.0
    assert f["p25"] == 0.5
    assert f["p99"] == pytest.approx(2.96)
    assert f["diff_mean"] == 1.5
    assert f["diff_var"] == 0.25
    assert f["diff_skew"] == 0.0
    assert f["diff_p1"] == pytest.approx(1.01)
    assert f["diff_p99"] == pytest.approx(1.99)


def test_global_stats_match_numpy_and_scipy_on_ragged_random_vectors():
    rng = np.random.default_rng(0)
    vectors = [rng.gamma(2.0, 1.0, size=n).astype(np.float32) for n in (10, 333, 5000)]
    got = global_stats(vectors)
    assert got.shape == (3, 16)
    assert got.dtype == np.float64
    for row, v in zip(got, vectors, strict=True):
        expected = eight(v) + eight(np.diff(v.astype(np.float64)))
        np.testing.assert_allclose(row, expected, rtol=1e-10, atol=1e-12)


def test_nan_values_are_ignored_and_so_are_the_differences_beside_them():
    v = np.array([1.0, np.nan, 2.0, 4.0, 7.0, np.nan])
    got = global_stats([v])[0]
    np.testing.assert_allclose(got[:8], eight([1.0, 2.0, 4.0, 7.0]))
    np.testing.assert_allclose(got[8:], eight([2.0, 3.0]))  # 4 - 2 and 7 - 4 only


def test_one_element_has_nan_difference_features_and_constants_have_zero_skew():
    got = global_stats([np.array([0.5]), np.full(10, 0.1, dtype=np.float32)])
    np.testing.assert_array_equal(got[0, :8], [0.5, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5])
    assert np.isnan(got[0, 8:]).all()
    assert got[1, 2] == 0.0  # skew of a constant (scipy: NaN)
    assert got[1, 10] == 0.0


def test_an_empty_or_all_nan_vector_gives_nan():
    got = global_stats([np.array([]), np.array([np.nan, np.nan])])
    assert np.isnan(got).all()


def test_global_stats_read_weightsets_and_2d_arrays():
    rng = np.random.default_rng(1)
    ws = cnn(rng)
    np.testing.assert_array_equal(global_stats([ws]), global_stats([ws.vector()]))
    X = rng.normal(size=(3, 50))
    np.testing.assert_array_equal(global_stats(X), global_stats(list(X)))


# ---------------------------------------------------------------------------------- layers
def test_three_conv_and_two_fc_layers_with_batch_norm_give_480_features():
    rng = np.random.default_rng(2)
    models = [cnn(rng), cnn(rng, scale=2.0)]
    names = layer_stats_names(models)
    features = layer_stats(models)
    assert features.shape == (2, 480)
    assert len(names) == 480 == len(set(names))
    assert names[:2] == ["conv0/kernel/mean", "conv0/kernel/var"]
    assert names[16] == "conv0/bias/mean"
    assert "fc4/bn_var/diff_p99" in names
    groups = {name.rsplit("/", 1)[0] for name in names}
    assert len(groups) == 30
    assert {g.split("/")[1] for g in groups} == {
        "kernel",
        "bias",
        "bn_gamma",
        "bn_beta",
        "bn_mean",
        "bn_var",
    }


def test_layer_stats_are_the_global_stats_of_each_group():
    rng = np.random.default_rng(3)
    ws = cnn(rng)
    features = layer_stats([ws])[0]
    names = layer_stats_names([ws])
    for i, t in enumerate(ws.float_tensors):
        assert names[16 * i] == f"{t.layer}/{t.role}/mean"
        np.testing.assert_array_equal(
            features[16 * i : 16 * (i + 1)], global_stats([t.array.ravel()])[0]
        )


def test_tensors_of_one_layer_and_role_are_pooled():
    a = WeightTensor("x.a", "x", "other", np.array([1.0, 2.0], dtype=np.float32))
    b = WeightTensor("x.b", "x", "other", np.array([3.0], dtype=np.float32))
    ws = WeightSet((a, b))
    assert layer_stats_names([ws])[0] == "x/other/mean"
    np.testing.assert_array_equal(layer_stats([ws]), global_stats([np.array([1.0, 2.0, 3.0])]))


def test_models_of_another_architecture_are_refused():
    rng = np.random.default_rng(4)
    small = WeightSet.from_arrays({"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)})
    with pytest.raises(RepresentationError, match=r"model 1 .*other layers than model 0"):
        layer_stats([cnn(rng), small])
    with pytest.raises(RepresentationError, match="one architecture"):
        swstats([cnn(rng), small])
    # same layers, other widths: the same columns, so accepted
    assert layer_stats([cnn(rng), cnn(rng, widths=(2, 4, 6))]).shape == (2, 480)


def test_layer_features_need_weightsets():
    with pytest.raises(RepresentationError, match=r"needs WeightSets.*use global_stats"):
        layer_stats([np.zeros(3)])
    with pytest.raises(RepresentationError, match=r"wrap one in a list: \[ws\]"):
        swstats(cnn(np.random.default_rng(0)))


def test_swstats_pool_each_layer():
    rng = np.random.default_rng(5)
    ws = cnn(rng)
    features = swstats([ws])[0]
    names = swstats_names([ws])
    assert len(SW_STAT_NAMES) == 7
    assert features.shape == (5 * 7,)
    assert names[:3] == ["conv0/mean", "conv0/var", "conv0/p1"]
    pooled = np.concatenate([t.array.ravel() for t in ws.layer("fc3").float_tensors])
    x = pooled.astype(np.float64)
    expected = [np.mean(x), np.var(x), *np.percentile(x, [1, 25, 50, 75, 99])]
    np.testing.assert_allclose(features[names.index("fc3/mean") :][:7], expected, rtol=1e-12)


# ---------------------------------------------------------------------------------- transformers
def test_layer_transformers_learn_the_layout_in_fit():
    rng = np.random.default_rng(6)
    train, test = [cnn(rng) for _ in range(3)], [cnn(rng) for _ in range(2)]
    est = LayerStats().fit(train)
    np.testing.assert_array_equal(est.transform(test), layer_stats(test))
    assert est.get_feature_names_out().tolist() == layer_stats_names(train)
    sw = SWStats().fit(train)
    np.testing.assert_array_equal(sw.transform(test), swstats(test))
    assert len(sw.get_feature_names_out()) == 35
    other = [WeightSet.from_arrays({"fc.weight": np.ones((2, 3))})]
    with pytest.raises(RepresentationError, match=r"LayerStats.transform: .*fit saw 30"):
        est.transform(other)


def test_transformers_check_that_they_were_fitted_and_clone():
    rng = np.random.default_rng(7)
    for est in (GlobalStats(), LayerStats(), SWStats()):
        with pytest.raises(NotFittedError):
            est.transform([cnn(rng)])
        assert clone(est).get_params() == {}
    assert GlobalStats().fit([np.zeros(3)]).get_feature_names_out().tolist() == list(
        GLOBAL_STAT_NAMES
    )


def test_layers_are_matched_by_position_not_by_module_index():
    """A dropout module shifts the module indices of the layers after it (``3.weight`` ->
    ``4.weight``): the same architecture, the same layer-wise features, named as the first model."""
    from weightspace import load_weights
    from weightspace.zoo.architectures import create_architecture

    plain = load_weights(create_architecture("schurholt-cnn", seed=1, dropout=0.0))
    dropped = load_weights(create_architecture("schurholt-cnn", seed=1, dropout=0.5))
    assert [t.layer for t in plain.float_tensors] != [t.layer for t in dropped.float_tensors]
    for features in (layer_stats, swstats):
        both = features([plain, dropped])
        np.testing.assert_array_equal(both[0], both[1])  # same seed, same weights
    names = layer_stats_names([plain, dropped])
    assert names == layer_stats_names([plain])
    assert LayerStats().fit([plain]).transform([dropped]).shape == (1, len(names))
