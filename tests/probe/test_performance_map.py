"""Performance maps (NWS Fig. 5) on a planted library (``planted_map``, ``conftest.py``).

Every model has four snapshots of a conv layer (``conv1``, 592 weights with its bias) and two FC
layers (``fc1``: 528, ``fc2``: 170), standard normal weights, except that ``init = "b"`` scales
the ``fc1`` kernel by 3 from the third snapshot on. A map must show the footprint where it is
(windows inside ``fc1``, late snapshots) and chance elsewhere: earlier in the vector, and in
``fc1`` before the footprint appears.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from weightspace import Library
from weightspace.probe.common import ProbeError
from weightspace.probe.dmc import DMCConfig
from weightspace.probe.performance_map import performance_maps
from weightspace.reproduce.papers import NWS_MAPS, with_paper

from .conftest import MAP_WINDOW as W

# tiny networks: one torch thread (tests/probe/conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")

# Depth = window start / (1290 - 64). Windows inside the fc1 kernel (592-1104) start at depths
# 0.48-0.85: bins 5-7 of 10. Bins 0-3 (starts below 491) end before fc1 begins.
INSIDE, OUTSIDE = slice(5, 8), slice(0, 4)
# Chance is 1/2. An uninformed cell pools 16 test models x 2 windows and the outside average
# pools 16 such cells; 0.15 is far beyond its spread, and far below a found footprint (~1).
TOLERANCE = 0.15


@pytest.fixture(scope="module")
def maps(planted_map):
    return performance_maps(
        Library(planted_map), "init", DMCConfig(window=W, steps=300), regions=("all", "conv"),
        depth_bins=10, windows_per_cell=2, random_state=0,
    )  # fmt: skip


def test_footprint_is_found_where_and_when_it_was_planted(maps):
    grid = maps.maps[0].grid
    assert grid.shape == (4, 10)
    assert grid[2:, INSIDE].mean() >= 0.9
    assert maps.maps[0].model_score >= 0.9


def test_map_is_at_chance_elsewhere(maps):
    grid = maps.maps[0].grid
    assert abs(grid[:, OUTSIDE].mean() - 0.5) < TOLERANCE
    assert abs(grid[:2, INSIDE].mean() - 0.5) < TOLERANCE


def test_conv_only_map_has_no_footprint(maps):
    conv = maps.maps[1]
    assert conv.region == "conv"
    assert abs(conv.grid.mean() - 0.5) < TOLERANCE


def test_map_axes_and_layer_marks(maps):
    m = maps.maps[0]
    np.testing.assert_allclose(m.progress, [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(m.depth_edges, np.linspace(0, 1, 11))
    assert [name for name, _ in m.layer_marks] == ["conv1", "fc1", "fc2"]
    frame = m.to_frame()
    assert len(frame) == 40
    assert {"snapshot", "progress", "depth_lo", "depth_hi", "score", "chance"} <= set(frame)


def test_result_contract(maps):
    assert set(maps.figures()) == {"maps", "map-init-all", "map-init-conv"}
    assert isinstance(maps.plot(), Figure)
    table = maps.to_frame()
    assert list(table.region) == ["all", "conv"]
    assert "paper_score" not in table  # a probe knows no paper
    assert "init (all weights)" in maps.summary()
    assert "paper" not in maps.summary()
    assert with_paper(maps).to_frame().paper_score.isna().all()
    assert f"paper: {NWS_MAPS['init']}" in with_paper(maps).summary()


def test_bad_parameters(planted_map):
    lib = Library(planted_map)
    with pytest.raises(ProbeError, match="depth_bins must be a positive integer"):
        performance_maps(lib, "init", DMCConfig(window=W), depth_bins=0)
    with pytest.raises(ProbeError, match="region must be one of"):
        performance_maps(lib, "init", DMCConfig(window=W), regions=("middle",))
    with pytest.raises(ProbeError, match="need a local DMC"):
        performance_maps(lib, "init", DMCConfig(kind="global", window=W))
