"""Selections on the map and cluster summaries (mean/std descriptors, examples, category shifts)."""

import numpy as np
import pytest

from weightspace.atlas import AtlasError, filter_mask, select, summarize
from weightspace.atlas import summary as summary_module


def test_a_box_selects_exactly_the_points_inside(atlas):
    xy = atlas.coords
    x0, x1 = np.quantile(xy[:, 0], [0.2, 0.8])
    y0, y1 = np.quantile(xy[:, 1], [0.1, 0.9])
    got = select(atlas, {"range": {"x": [x1, x0], "y": [y0, y1]}})  # corners in any order
    inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    np.testing.assert_array_equal(got, np.flatnonzero(inside))


def test_a_lasso_selects_the_points_inside_its_polygon(atlas):
    center = atlas.coords.mean(axis=0)
    radius = np.median(np.linalg.norm(atlas.coords - center, axis=1))
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    lasso = {
        "x": (center[0] + radius * np.cos(t)).tolist(),
        "y": (center[1] + radius * np.sin(t)).tolist(),
    }
    got = select(atlas, {"lassoPoints": lasso})
    dist = np.linalg.norm(atlas.coords - center, axis=1)
    clear = np.abs(dist - radius) > 0.01 * radius  # points on the polygon's edge may go either way
    np.testing.assert_array_equal(np.isin(np.flatnonzero(clear), got), (dist < radius)[clear])


def test_a_filter_limits_the_selection(atlas):
    everything = {"range": {"x": [-1e9, 1e9], "y": [-1e9, 1e9]}}
    mask = filter_mask(atlas, {"dataset": ["digits"], "test_acc_norm": [0.5, 1.0]})
    codes = atlas.column("dataset").values
    digits = atlas.column("dataset").categories.index("digits")
    acc = atlas.column("test_acc_norm").values
    np.testing.assert_array_equal(mask, (codes == digits) & (acc >= 0.5) & (acc <= 1.0))
    np.testing.assert_array_equal(select(atlas, everything, mask), np.flatnonzero(mask))
    assert filter_mask(atlas, {}) is None
    assert filter_mask(atlas, {"dataset": []}) is None


def test_bad_geometries_and_filters_are_named(atlas):
    with pytest.raises(AtlasError, match="'range' \\(box\\) or 'lassoPoints'"):
        select(atlas, {"points": []})
    with pytest.raises(AtlasError, match="range x and y pairs"):
        select(atlas, {"range": {"x": [0]}})
    with pytest.raises(AtlasError, match=r"needs \[lo, hi\]"):
        filter_mask(atlas, {"test_acc_norm": ["a"]})


@pytest.mark.parametrize("gather_limit", [0, 10_000])  # a full matrix-vector pass, or a gather
def test_mean_and_std_are_those_of_the_selected_descriptors(atlas, monkeypatch, gather_limit):
    monkeypatch.setattr(summary_module, "GATHER_LIMIT", gather_limit)
    idx = np.arange(3, len(atlas), 2)
    s = summarize(atlas, [*idx[::-1].tolist(), 3])  # order and repeats do not matter
    chosen = atlas.descriptors[idx].astype(np.float64)
    np.testing.assert_array_equal(s.indices, idx)
    assert s.count == idx.size
    assert s.mean.shape == s.std.shape == atlas.descriptors.shape[1:]
    np.testing.assert_allclose(s.mean, chosen.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(s.std, chosen.std(axis=0), atol=2e-4)


def test_examples_run_from_the_best_to_the_worst_accuracy(atlas):
    idx = np.arange(20)
    s = summarize(atlas, idx)
    acc = atlas.column("test_acc_norm").values
    assert len(s.examples) == 4
    assert acc[s.examples[0]] == acc[idx].max()
    assert acc[s.examples[-1]] == acc[idx].min()
    assert np.all(np.diff(acc[s.examples]) <= 0)
    assert s.accuracy == pytest.approx(acc[idx].mean())


def test_category_shifts_compare_the_selection_with_the_library(atlas):
    codes = atlas.column("init").values
    constant = atlas.column("init").categories.index("constant")
    idx = np.flatnonzero(codes == constant)
    s = summarize(atlas, idx)
    top = s.shifts[0]
    assert (top.column, top.category, top.count) == ("init", "constant", idx.size)
    assert top.fraction == 1.0
    assert top.library_fraction == pytest.approx(idx.size / len(atlas))
    assert top.difference == pytest.approx(1.0 - idx.size / len(atlas))
    frame = s.to_frame()
    assert list(frame.columns) == [
        "column",
        "category",
        "count",
        "fraction",
        "library_fraction",
        "difference",
    ]
    assert (frame["difference"].abs().diff().dropna() <= 1e-12).all()  # sorted by |difference|


def test_an_empty_selection_has_an_empty_summary(atlas):
    s = summarize(atlas, [])
    assert s.count == 0
    assert not s.mean.any()
    assert s.shifts == ()
    assert s.accuracy is None


def test_indices_outside_the_atlas_are_refused(atlas):
    with pytest.raises(AtlasError, match="indices must be in"):
        summarize(atlas, [len(atlas)])
