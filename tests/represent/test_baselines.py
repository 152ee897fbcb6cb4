"""Raw, PCA and random-projection baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from weightspace import WeightSet
from weightspace.represent import (
    PCABaseline,
    RandomProjection,
    RawBaseline,
    RepresentationError,
    raw,
)
from weightspace.vectors import resample


def ragged(rng, lengths=(300, 500, 401, 800, 1000, 64)):
    return [rng.normal(size=n).astype(np.float32) for n in lengths]


# ---------------------------------------------------------------------------------- raw
def test_raw_interpolates_linearly_to_k_values():
    got = raw([np.array([0.0, 1.0]), np.arange(5.0), np.array([2.0])], K=5)
    np.testing.assert_array_equal(got, [[0, 0.25, 0.5, 0.75, 1], [0, 1, 2, 3, 4], [2, 2, 2, 2, 2]])
    assert got.dtype == np.float32


def test_raw_is_resample_of_each_vector_and_reads_weightsets():
    rng = np.random.default_rng(0)
    vectors = ragged(rng)
    np.testing.assert_array_equal(raw(vectors, K=100), [resample(v, 100) for v in vectors])
    ws = WeightSet.from_arrays({"fc.weight": np.arange(6.0).reshape(2, 3), "fc.bias": [6.0, 7.0]})
    np.testing.assert_array_equal(RawBaseline(K=3).fit_transform([ws]), [[0, 3.5, 7]])


def test_raw_refuses_bad_k_and_empty_vectors():
    with pytest.raises(RepresentationError, match="K must be a positive integer; got 0"):
        raw([np.zeros(3)], K=0)
    with pytest.raises(RepresentationError, match=r"X\[1\] is an empty vector"):
        raw([np.zeros(3), np.zeros(0)], K=2)


# ---------------------------------------------------------------------------------- PCA
def test_pca_baseline_is_sklearn_pca_on_resampled_vectors():
    rng = np.random.default_rng(1)
    train, test = ragged(rng), ragged(rng, (70, 2000))
    est = PCABaseline(K=3, resample_to=256, random_state=0).fit(train)
    reference = PCA(n_components=3, random_state=0).fit(raw(train, 256))
    np.testing.assert_allclose(est.transform(test), reference.transform(raw(test, 256)), atol=1e-5)
    assert est.pca_.components_.shape == (3, 256)
    assert est.get_feature_names_out().tolist() == ["pca0", "pca1", "pca2"]


def test_pca_baseline_needs_enough_models_and_finite_weights():
    rng = np.random.default_rng(2)
    with pytest.raises(RepresentationError, match=r"K must be at most n_samples=6 .*got K=7"):
        PCABaseline(K=7, resample_to=64).fit(ragged(rng))
    bad = ragged(rng)
    bad[2][5] = np.nan
    with pytest.raises(RepresentationError, match=r"X\[2\] contains NaN or inf"):
        PCABaseline(K=2, resample_to=64).fit(bad)


# ---------------------------------------------------------------------------------- projection
def test_random_projection_is_a_seeded_normal_matrix_scaled_by_one_over_sqrt_k():
    rng = np.random.default_rng(3)
    X = ragged(rng)
    est = RandomProjection(K=4, resample_to=128, random_state=7).fit(X)
    phi = np.random.default_rng(7).standard_normal((4, 128), dtype=np.float32)
    np.testing.assert_allclose(est.components_, phi / math.sqrt(4), rtol=1e-6)
    np.testing.assert_allclose(est.transform(X), raw(X, 128) @ (phi.T / 2), rtol=1e-4, atol=1e-5)
    assert est.transform(X).dtype == np.float32


def test_random_projection_depends_on_the_seed_only():
    rng = np.random.default_rng(4)
    X = ragged(rng)
    a = RandomProjection(K=3, resample_to=32, random_state=1).fit(X).components_
    b = RandomProjection(K=3, resample_to=32, random_state=1).fit(X[:2]).components_
    c = RandomProjection(K=3, resample_to=32, random_state=2).fit(X).components_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_baselines_check_parameters_and_fitting():
    with pytest.raises(RepresentationError, match="resample_to must be a positive integer"):
        RandomProjection(K=2, resample_to=-1).fit([np.zeros(3)])
    with pytest.raises(RepresentationError, match="K must be a positive integer; got 'a'"):
        RawBaseline(K="a").fit([np.zeros(3)])
    for est in (RawBaseline(K=2), PCABaseline(K=2), RandomProjection(K=2)):
        with pytest.raises(NotFittedError):
            est.transform([np.zeros(3)])
        assert clone(est).get_params() == est.get_params()
