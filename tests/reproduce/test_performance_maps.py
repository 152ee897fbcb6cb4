"""``reproduce performance-maps`` on the planted map library (``tests/probe/conftest.py``): the
subset-size study (NWS Fig. 18) and the command's report set."""

from __future__ import annotations

import json

import pytest

from weightspace import Library
from weightspace.probe.common import ProbeError
from weightspace.probe.dmc import DMCConfig
from weightspace.reproduce.performance_maps import subset_size_study

from ..probe.conftest import MAP_WINDOW as W

# tiny networks: one torch thread (tests/probe/conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


def test_subset_size_study_over_windows(planted_map):
    result = subset_size_study(
        Library(planted_map), "init", DMCConfig(steps=100), sizes=(16, 64), random_state=0
    )
    table = result.to_frame()
    assert list(table["size"]) == [16, 64]
    assert (table["accuracy_mean"] >= 0.8).all()
    assert list(result.slopes().target) == ["init"]
    assert set(result.figures()) == {"fig18"}
    assert "Fig. 18" in result.summary()


def test_subset_size_study_over_training_models(planted_map):
    result = subset_size_study(
        Library(planted_map), "init", DMCConfig(steps=100), sizes=(8, 32), vary="models", window=W,
        random_state=0,
    )  # fmt: skip
    table = result.to_frame()
    assert list(table["n_train"]) == [8, 32]
    assert (table["n_test"] == 16).all()


def test_subset_size_study_checks_vary(planted_map):
    with pytest.raises(ProbeError, match="vary must be"):
        subset_size_study(Library(planted_map), "init", vary="depth")


def test_cli_writes_maps_study_and_json(planted_map, tmp_path, cli):
    code, out, _ = cli(
        "reproduce", "performance-maps", planted_map, "--window", W, "--depth-bins", 5,
        "--steps", 50, "--study-sizes", "32,64", "--study-steps", 30, "--out", tmp_path,
        "--json", "--quiet",
    )  # fmt: skip
    assert code == 0
    records = json.loads(out)
    assert [r["target"] for r in records] == ["init"]
    for name in (
        "performance-maps.md", "performance-maps.csv", "performance-maps-grid.csv",
        "performance-maps-subset-size.csv", "performance-maps-maps.png",
        "performance-maps-map-init-all.png", "performance-maps-fig18.png",
    ):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    assert "Subset size (NWS Fig. 18)" in (tmp_path / "performance-maps.md").read_text()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--target", "nope", "--window", "64"], 1, "unknown target 'nope'"),
        (["--regions", "middle", "--window", "64"], 1, "region must be one of"),
        (["--vary", "depth"], 2, "invalid choice"),
        (["--study-sizes", "a,b", "--window", "64", "--steps", "5"], 1, "expected integers"),
    ],
)
def test_cli_exit_codes(planted_map, cli, argv, code, message):
    got, _, err = cli("reproduce", "performance-maps", planted_map, *argv, "--quiet")
    assert got == code
    assert message in err
