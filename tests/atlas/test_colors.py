"""Colourings: the paper's per-dataset accuracy normalization (exact values) and palettes."""

import numpy as np
import pytest

from weightspace.atlas import categorical_palette, normalized_accuracy
from weightspace.atlas.build import atlas_columns, default_colorings


def test_normalization_is_per_dataset_min_max():
    acc = [0.25, 0.50, 0.75, 0.125, 0.375, 0.25]  # binary fractions: exact arithmetic
    groups = ["mnist", "mnist", "mnist", "cifar", "cifar", "cifar"]
    np.testing.assert_array_equal(normalized_accuracy(acc, groups), [0.0, 0.5, 1.0, 0.0, 1.0, 0.5])


def test_normalization_keeps_missing_values_missing_and_ignores_them():
    acc = [0.25, np.nan, 0.75, 0.5]
    out = normalized_accuracy(acc, ["a", "a", "a", "a"])
    assert np.isnan(out[1])
    np.testing.assert_array_equal(out[[0, 2, 3]], [0.0, 1.0, 0.5])


def test_a_dataset_without_spread_gets_the_middle():
    out = normalized_accuracy([0.3, 0.3, 0.9, 0.1], ["a", "a", "b", "c"])
    np.testing.assert_array_equal(out, [0.5, 0.5, 0.5, 0.5])


def test_missing_dataset_labels_form_their_own_group():
    out = normalized_accuracy([0.25, 0.5, 0.875, 0.5], ["a", "a", None, None])
    np.testing.assert_array_equal(out, [0.0, 1.0, 1.0, 0.0])


def test_without_groups_the_whole_library_is_one_group():
    np.testing.assert_array_equal(normalized_accuracy([2.0, 4.0, 3.0]), [0.0, 1.0, 0.5])


def test_normalization_checks_shapes():
    with pytest.raises(ValueError, match="groups must have the shape"):
        normalized_accuracy([0.1, 0.2], ["a"])
    with pytest.raises(ValueError, match="must be 1-D"):
        normalized_accuracy([[0.1]])


def test_the_atlas_colours_by_the_normalized_accuracy_of_its_library(atlas, atlas_library):
    frame = atlas_library.query().set_index("id").loc[atlas.ids.tolist()]
    expected = np.empty(len(atlas))
    for dataset in ("digits", "shapes"):
        rows = (frame["dataset"] == dataset).to_numpy()
        p = frame["test_acc"].to_numpy()[rows]
        expected[rows] = (p - p.min()) / (p.max() - p.min())
    np.testing.assert_allclose(atlas.column("test_acc_norm").values, expected, rtol=0, atol=1e-15)
    assert atlas.coloring().column == "test_acc_norm"
    assert (atlas.coloring().cmin, atlas.coloring().cmax) == (0.0, 1.0)


@pytest.mark.parametrize("n", [0, 1, 5, 18, 19, 40])
def test_palettes_are_distinct_hex_colours(n):
    colors = categorical_palette(n)
    assert len(colors) == n == len(set(colors))
    assert all(len(c) == 7 and c.startswith("#") for c in colors)
    assert categorical_palette(n) == colors


def test_column_types_follow_the_values():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "optimizer": ["adam", "sgd", None, "adam"],
            "batch_size": [32, 64, 32, 128],
            "lr": [0.1, 0.01, 0.001, 0.0001] * 1,
            "bn": [True, False, True, True],
            "name": ["a", "b", "c", "d"],
        }
    )
    frame = pd.concat([frame] * 4, ignore_index=True)
    frame["lr"] = np.linspace(1e-4, 1e-1, 16)
    frame["name"] = [f"m{i}" for i in range(16)]  # one value per model: left out
    cols = {c.name: c for c in atlas_columns(frame, dict.fromkeys(frame.columns, "hparam"))}
    assert set(cols) == {"optimizer", "batch_size", "lr", "bn"}
    assert cols["optimizer"].categories == ("adam", "sgd")
    assert cols["optimizer"].values[:4].tolist() == [0, 1, -1, 0]
    assert cols["batch_size"].categories == ("32", "64", "128")  # numbers sorted by value
    assert cols["bn"].categories == ("False", "True")
    assert cols["lr"].type == "continuous"
    colorings = {c.column: c for c in default_colorings(cols.values())}
    assert colorings["batch_size"].colors == categorical_palette(3)
    assert (colorings["lr"].cmin, colorings["lr"].cmax) == (1e-4, 1e-1)
