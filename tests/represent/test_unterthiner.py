"""Unterthiner's per-tensor statistics: nfn's StatFeaturizer, not s(W)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weightspace import WeightSet
from weightspace.represent import (
    RepresentationError,
    UnterthinerStats,
    swstats,
    unterthiner_names,
    unterthiner_stats,
)


def _models(rng: np.random.Generator, n: int = 3) -> list[dict[str, np.ndarray]]:
    return [
        {
            "c.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
            "c.bias": rng.normal(size=4).astype(np.float32),
            "f.weight": rng.normal(size=(5, 16)).astype(np.float32),
            "f.bias": rng.normal(size=5).astype(np.float32),
        }
        for _ in range(n)
    ]


def test_matches_nfn_stat_featurizer(rng):
    nfn_common = pytest.importorskip(
        "nfn.common", reason="the optional package nfn (weightspace[nfn]) is missing"
    )
    from nfn.layers import StatFeaturizer

    arrays = _models(rng)
    ours = unterthiner_stats([WeightSet.from_arrays(a) for a in arrays])
    stack = {k: torch.tensor(np.stack([a[k] for a in arrays]))[:, None] for k in arrays[0]}
    features = nfn_common.WeightSpaceFeatures(
        [stack["c.weight"], stack["f.weight"]], [stack["c.bias"], stack["f.bias"]]
    )
    theirs = StatFeaturizer()(features).flatten(1).numpy()
    assert ours.shape == theirs.shape == (3, 28)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_exact_values_and_how_they_differ_from_swstats():
    ws = WeightSet.from_arrays({"fc.weight": np.arange(101.0).reshape(1, 101)})
    mean, var, q0, q25, q50, q75, q100 = unterthiner_stats([ws])[0]
    assert (mean, q0, q25, q50, q75, q100) == (50.0, 0.0, 25.0, 50.0, 75.0, 100.0)
    assert var == pytest.approx(np.var(np.arange(101.0), ddof=1))  # unbiased: 858.5
    _sw_mean, sw_var, p1, _, _, _, p99 = swstats([ws])[0]
    assert sw_var == pytest.approx(850.0)
    assert (p1, p99) == (1.0, 99.0)


def test_every_tensor_is_its_own_group_and_names_say_which():
    ws = WeightSet.from_arrays({"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)})
    assert unterthiner_names([ws])[:2] == ["fc/kernel/mean", "fc/kernel/var"]
    assert unterthiner_names([ws])[7] == "fc/bias/mean"
    one = WeightSet.from_arrays({"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(1)})
    assert np.isnan(unterthiner_stats([one])[0, 8])  # the unbiased variance of one value


def test_transform_refuses_another_architecture(rng):
    arrays = _models(rng, 1)[0]
    fitted = UnterthinerStats().fit([WeightSet.from_arrays(arrays)])
    other = WeightSet.from_arrays({k: v for k, v in arrays.items() if k != "f.bias"})
    with pytest.raises(RepresentationError, match="architecture seen in fit"):
        fitted.transform([other])


def test_pinned_values_of_the_three_layer_wise_statistics_on_a_cnn_with_batch_norm():
    """unterthiner, swstats and layer-stats share their layout and transformer code: their values
    stay those computed before the sharing (a CNN: conv with batch norm, six tensors; linear)."""
    from weightspace import load_weights
    from weightspace.represent import (
        LayerStats,
        SWStats,
        layer_stats,
        layer_stats_names,
        swstats_names,
    )

    from ..conftest import make_cnn

    models = [load_weights(make_cnn(seed)) for seed in (0, 1)]
    pinned = {
        (unterthiner_stats, unterthiner_names): {
            "0/kernel/var": 1.1956327531814057,
            "0/bias/q100": 2.528557300567627,
            "0/bn_var/q25": 1.7741357684135437,
            "0/bn_mean/mean": 0.08983294479548931,
            "4/kernel/q50": 0.01792543474584818,
            "4/bias/var": 1.3135919830476637,
        },
        (swstats, swstats_names): {
            "0/var": 1.351076107253067,
            "0/p99": 2.6809419631958016,
            "4/mean": 0.02332931733726331,
        },
        (layer_stats, layer_stats_names): {
            "0/bn_gamma/skew": -0.4675960417518229,
            "4/kernel/diff_p1": -3.169937320947647,
        },
    }
    for (stats, names), values in pinned.items():
        X, columns = stats(models), names(models)
        for name, value in values.items():
            assert X[1, columns.index(name)] == pytest.approx(value, rel=1e-12, abs=1e-15)
    assert unterthiner_stats(models).shape == (2, 6 * 7 + 2 * 7)  # conv + batch norm, linear
    for transformer, stats in (
        (UnterthinerStats(), unterthiner_stats),
        (SWStats(), swstats),
        (LayerStats(), layer_stats),
    ):
        np.testing.assert_array_equal(transformer.fit(models).transform(models), stats(models))
