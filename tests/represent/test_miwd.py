"""MI-WD engine and transformer: exact values on hand-made vectors, a reference loop, the contract."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from weightspace import WeightSet, WeightspaceError
from weightspace.represent import MIWD, RepresentationError, miwd


def reference(vectors, S, B, value_range, outliers="clip"):
    """MI-WD the obvious way: the paper's 1-based windows, one np.histogram per window."""
    lo, hi = value_range
    out = np.zeros((len(vectors), S, B))
    for i, v in enumerate(vectors):
        v = np.asarray(v, dtype=np.float64)
        n = v.shape[0]
        for s in range(1, S + 1):
            window = v[n * (s - 1) // S : n * s // S]  # elements floor(N(s-1)/S)+1 .. floor(Ns/S)
            window = window[~np.isnan(window)]
            if outliers == "clip":
                window = np.clip(window, lo, hi)
            hist, _ = np.histogram(window, bins=B, range=value_range)
            if hist.sum():
                out[i, s - 1] = hist / hist.sum()
    return out


def one_hot(bins, B):
    return np.eye(B, dtype=np.float32)[bins]


# ---------------------------------------------------------------------------------- windows
def test_windows_when_n_is_divisible_by_s():
    v = np.array([0, 0, 1, 1, 2, 2, 3, 3], dtype=np.float32)
    d = miwd([v], S=4, B=4, value_range=(0, 4))
    np.testing.assert_array_equal(d[0], np.eye(4))


def test_windows_when_n_is_not_divisible_by_s():
    # N = 10, S = 4: 1-based windows 1..2, 3..5, 6..7, 8..10
    v = np.arange(10, dtype=np.float32)
    d = miwd([v], S=4, B=10, value_range=(0, 10))
    expected = np.zeros((4, 10), dtype=np.float32)
    for row, (a, b) in enumerate([(0, 2), (2, 5), (5, 7), (7, 10)]):
        expected[row, a:b] = 1 / (b - a)
    np.testing.assert_array_equal(d[0], expected)


def test_windows_when_n_is_smaller_than_s_leave_empty_rows_of_zeros():
    # N = 3, S = 5: windows 2, 4 and 5 hold elements 1, 2 and 3; windows 1 and 3 are empty
    d = miwd([np.array([0.5, 1.5, 2.5])], S=5, B=3, value_range=(0, 3))
    expected = np.zeros((5, 3), dtype=np.float32)
    expected[[1, 3, 4], [0, 1, 2]] = 1
    np.testing.assert_array_equal(d[0], expected)


def test_an_empty_vector_gives_zeros_and_an_empty_batch_gives_no_rows():
    assert not miwd([np.array([], dtype=np.float32)], S=3, B=2).any()
    assert miwd([], S=3, B=2).shape == (0, 3, 2)


# ---------------------------------------------------------------------------------- bins
@pytest.mark.parametrize(
    ("value", "expected_bin"),
    [
        (-1.0, 0),  # lower bound
        (-0.5, 1),  # inner edge: left-closed bins
        (-1e-30, 1),  # just below the zero edge
        (0.0, 2),  # the zero edge
        (-0.0, 2),
        (0.25, 2),
        (0.5, 3),  # inner edge
        (1.0, 3),  # upper bound: the last bin is closed
    ],
)
def test_bin_edges_are_those_of_np_histogram(value, expected_bin):
    v = np.array([value], dtype=np.float32)
    d = miwd([v], S=1, B=4, value_range=(-1, 1))
    np.testing.assert_array_equal(d[0, 0], one_hot(expected_bin, 4))
    hist, _ = np.histogram(v, bins=4, range=(-1, 1))
    assert hist.argmax() == expected_bin


def test_default_range_puts_edges_at_multiples_of_0_3125():
    values = np.array([-5.0, -0.3125, -1e-30, 0.0, 0.3125, 4.6875, 5.0], dtype=np.float32)
    d = miwd([values[i : i + 1] for i in range(values.shape[0])], S=1)
    assert d[:, 0].argmax(axis=1).tolist() == [0, 15, 15, 16, 17, 31, 31]


def test_clip_counts_outliers_in_the_edge_bins_and_drop_ignores_them():
    v = np.array([-7, -9, -1, 0.2, 9, -np.inf], dtype=np.float32)
    clipped = miwd([v], S=1, B=2, value_range=(-1, 1), outliers="clip")
    dropped = miwd([v], S=1, B=2, value_range=(-1, 1), outliers="drop")
    np.testing.assert_allclose(clipped[0, 0], [4 / 6, 2 / 6])
    np.testing.assert_array_equal(dropped[0, 0], [0.5, 0.5])


def test_nan_values_are_not_counted_and_an_all_nan_window_is_zeros():
    v = np.array([np.nan, np.nan, np.nan, -0.5, np.nan, 0.5, 0.7], dtype=np.float32)
    for outliers in ("clip", "drop"):
        d = miwd([v], S=2, B=2, value_range=(-1, 1), outliers=outliers)
        np.testing.assert_allclose(d[0], [[0, 0], [1 / 3, 2 / 3]], rtol=1e-6)


def test_rows_sum_to_one_except_empty_windows():
    rng = np.random.default_rng(0)
    vectors = [rng.normal(0, 3, size=n).astype(np.float32) for n in (5, 40, 1000, 7919)]
    d = miwd(vectors, S=16, B=8)
    sums = d.sum(axis=2)
    np.testing.assert_allclose(sums[1:], 1.0, rtol=1e-6)
    assert sorted(set(np.round(sums[0], 6).tolist())) == [0.0, 1.0]
    assert d.dtype == np.float32
    assert d.shape == (4, 16, 8)


# ---------------------------------------------------------------------------------- reference
def ragged_batch(rng, n_models, max_len, value_range, B, dtype=np.float32):
    lo, hi = value_range
    edges = np.linspace(lo, hi, B + 1).astype(dtype)
    vectors = []
    for n in rng.integers(0, max_len, n_models):
        v = (rng.normal(0, (hi - lo) / 3, size=n)).astype(dtype)
        if n > 20:  # values on the edges, beside them, out of range, and NaN
            v[:6] = rng.choice(edges, 6)
            v[6:9] = np.nextafter(rng.choice(edges, 3), dtype(np.inf))
            v[9] = np.nan
            v[10:12] = [lo - 1, hi + 1]
        vectors.append(v)
    return vectors


@pytest.mark.parametrize("outliers", ["clip", "drop"])
@pytest.mark.parametrize(
    ("S", "B", "value_range"), [(32, 32, (-5.0, 5.0)), (7, 5, (-0.3, 1.9)), (40, 3, (0.25, 2.0))]
)
@pytest.mark.parametrize("chunk_size", [7, 100, 5000, 1 << 17])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_the_reference_loop_on_ragged_random_batches(
    S, B, value_range, outliers, chunk_size, dtype
):
    rng = np.random.default_rng(0)
    vectors = ragged_batch(rng, 12, 4000, value_range, B, dtype)
    got = miwd(vectors, S, B, value_range, outliers, chunk_size=chunk_size)
    np.testing.assert_allclose(got, reference(vectors, S, B, value_range, outliers), atol=1e-6)


def test_float64_values_on_inexact_edges_follow_np_histogram():
    edges = np.linspace(-2.0, 0.0, 7)  # steps of 1/3, not exact in binary
    values = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)])
    got = miwd([values[i : i + 1] for i in range(values.shape[0])], S=1, B=6, value_range=(-2, 0))
    clipped = np.clip(values, -2.0, 0.0)
    expected = [np.histogram(clipped[i : i + 1], bins=6, range=(-2, 0))[0] for i in range(21)]
    np.testing.assert_array_equal(got[:, 0], expected)


def test_long_windows_counted_by_pairs_equal_the_reference():
    # windows longer than (B + 1)**2 take the pair-counting path, with odd window boundaries
    rng = np.random.default_rng(1)
    vectors = [rng.normal(0, 0.2, size=n).astype(np.float32) for n in (20_001, 9_999, 30_000)]
    got = miwd(vectors, S=3, B=32, chunk_size=4097)
    np.testing.assert_allclose(got, reference(vectors, 3, 32, (-5, 5)), atol=1e-6)


def test_other_dtypes_are_binned_by_value():
    v64 = np.array([-0.75, 0.1, 0.5, 0.9999999999], dtype=np.float64)
    np.testing.assert_array_equal(miwd([v64], S=1, B=2, value_range=(-1, 1))[0, 0], [0.25, 0.75])
    ints = np.array([0, 1, 2, 3], dtype=np.int64)
    np.testing.assert_array_equal(miwd([ints], S=2, B=2, value_range=(0, 4))[0], np.eye(2))
    half = np.array([0.5, 1.5], dtype=np.float16)
    np.testing.assert_array_equal(miwd([half], S=1, B=2, value_range=(0, 2))[0, 0], [0.5, 0.5])


def test_a_2d_array_a_memmap_and_a_list_give_the_same_descriptors(tmp_path: Path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(5, 333)).astype(np.float32)
    mm = np.memmap(tmp_path / "w.f32", dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.memmap(tmp_path / "w.f32", dtype=np.float32, mode="r", shape=X.shape)
    expected = miwd(list(X), S=8, B=4, value_range=(-2, 2))
    for batch in (X, ro, [ro[i] for i in range(5)], np.asfortranarray(X)):
        np.testing.assert_array_equal(
            miwd(batch, S=8, B=4, value_range=(-2, 2), chunk_size=50), expected
        )


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"S": 0}, r"S must be a positive integer; got 0"),
        ({"S": 2.5}, r"S must be a positive integer; got 2.5"),
        ({"B": True}, r"B must be a positive integer; got True"),
        ({"value_range": (1.0, 1.0)}, r"value_range must be \(lo, hi\) with finite lo < hi"),
        ({"value_range": (2, -2)}, r"value_range .* got \(2, -2\)"),
        ({"value_range": (0, np.inf)}, r"value_range .*finite"),
        ({"value_range": "ab"}, r"value_range must be a pair \(lo, hi\) of numbers; got 'ab'"),
        ({"value_range": (1, 2, 3)}, r"value_range must be a pair"),
        ({"outliers": "wrap"}, r"outliers must be 'clip' or 'drop'; got 'wrap'"),
        ({"chunk_size": 0}, r"chunk_size must be a positive integer; got 0"),
    ],
)
def test_bad_parameters_are_named_with_what_was_expected_and_got(kwargs, match):
    with pytest.raises(RepresentationError, match=match):
        miwd([np.zeros(4)], **kwargs)
    assert issubclass(RepresentationError, WeightspaceError)
    assert issubclass(RepresentationError, ValueError)


def test_bad_vectors_are_refused_with_a_hint():
    with pytest.raises(RepresentationError, match=r"got a 1-D array of shape \(4,\).*\[v\]"):
        miwd(np.zeros(4))
    with pytest.raises(RepresentationError, match=r"vectors\[1\] must be a 1-D array of real"):
        miwd([np.zeros(3), np.zeros((2, 2))])
    with pytest.raises(RepresentationError, match=r"vectors\[0\] .*dtype complex"):
        miwd([np.zeros(3, dtype=complex)])


# ---------------------------------------------------------------------------------- transformer
def test_transformer_flattens_window_major_and_names_its_features():
    rng = np.random.default_rng(3)
    X = [rng.normal(size=50), rng.normal(size=77)]
    est = MIWD(S=4, B=3).fit(X)
    flat = est.transform(X)
    cube = MIWD(S=4, B=3, flatten=False).fit(X).transform(X)
    assert flat.shape == (2, 12)
    assert cube.shape == (2, 4, 3)
    np.testing.assert_array_equal(flat, cube.reshape(2, 12))
    np.testing.assert_array_equal(cube, miwd(X, 4, 3))
    names = est.get_feature_names_out()
    assert names[0] == "miwd_s0_b0"
    assert names[5] == "miwd_s1_b2"
    assert len(names) == est.n_features_out_ == 12


def test_transformer_reads_weightsets():
    ws = WeightSet.from_arrays({"fc.weight": np.full((2, 3), 0.25), "fc.bias": np.full(2, -0.25)})
    d = MIWD(S=2, B=2, value_range=(-1, 1)).fit_transform([ws])
    np.testing.assert_array_equal(d, [[0, 1, 0.5, 0.5]])  # 6 x 0.25, then 2 x -0.25


def test_transformer_checks_parameters_in_fit_and_that_it_was_fitted():
    with pytest.raises(RepresentationError, match="outliers must be"):
        MIWD(outliers="wrap").fit([np.zeros(3)])
    with pytest.raises(NotFittedError):
        MIWD().transform([np.zeros(3)])
    with pytest.raises(RepresentationError, match="at least one model"):
        MIWD().fit([])


def test_fit_transform_is_fit_then_transform_and_clone_keeps_parameters():
    rng = np.random.default_rng(4)
    X = [rng.normal(size=n) for n in (10, 100, 1000)]
    est = MIWD(S=8, B=8, value_range=(-2.0, 2.0), outliers="drop")
    np.testing.assert_array_equal(est.fit_transform(X), clone(est).fit(X).transform(X))
    assert clone(est).get_params() == est.get_params()
    assert est.fit(X[:1]).transform(X[1:]).shape == (2, 64)  # any lengths in transform


def test_public_names_are_sorted_and_all_exported():
    import weightspace.represent as represent

    assert represent.__all__ == sorted(set(represent.__all__))
    assert all(hasattr(represent, name) for name in represent.__all__)
    public = {n for n, v in vars(represent).items() if not n.startswith("_")}
    modules = {n for n, v in vars(represent).items() if isinstance(v, type(represent))}
    assert public - modules == set(represent.__all__)


def test_a_large_memmap_is_read_chunk_by_chunk_not_copied(tmp_path: Path):
    shape = (4, 2_500_000)  # 40 MB
    mm = np.memmap(tmp_path / "big.f32", dtype=np.float32, mode="w+", shape=shape)
    mm[:] = np.random.default_rng(5).normal(size=shape[1]).astype(np.float32)
    mm.flush()
    ro = np.memmap(tmp_path / "big.f32", dtype=np.float32, mode="r", shape=shape)
    miwd(ro[:, :70_000])  # the kernel's one-time compilation/cache load is not the data's memory
    tracemalloc.start()
    try:
        d = miwd(ro)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000  # the chunk's temporaries, not the 40 MB of weights
    np.testing.assert_array_equal(d[0], d[3])
