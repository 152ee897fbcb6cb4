"""The untangling experiment (MI-WD Fig. 3) on the planted library."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from weightspace import Library
from weightspace.probe import ProbeError
from weightspace.reproduce.untangling import REPRESENTATIONS, untangling_experiment


@pytest.fixture(scope="module")
def result(planted):
    return untangling_experiment(
        Library(planted), targets=("init", "label"), dims=(4, 16), resample_to=256
    )


def test_table_has_every_representation_and_size(result):
    table = result.to_frame()
    assert set(table.representation) == set(REPRESENTATIONS)
    assert sorted(set(table.K)) == [4, 16]
    assert len(table) == 2 * (1 + 4 * 2)
    assert table.paper_accuracy.isna().all()
    assert np.allclose(table.chance, 1 / 3)


def test_planted_footprint_is_untangled_and_random_label_is_not(result):
    table = result.to_frame().set_index(["target", "representation", "K"]).sort_index()
    assert table.loc[("init", "mi-wd", 16), "accuracy_mean"] >= 0.95
    assert table.loc[("init", "global stats", 16), "accuracy_mean"] >= 0.9
    label = table.loc["label", "accuracy_mean"]
    assert (abs(label - 1 / 3) < 0.2).all()  # 13 null accuracies: a wider band than one test's


def test_summary_and_figure(result):
    text = result.summary()
    assert "mi-wd (K=16)" in text
    assert "lost" in text
    assert isinstance(result.plot(), Figure)


def test_dims_must_be_squares(planted):
    with pytest.raises(ProbeError, match="perfect squares"):
        untangling_experiment(Library(planted), dims=(10,))
