"""describe on a real local Ray runtime: the same rows as the local path, cached the same way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weightspace import Library
from weightspace.represent.registry import describe_library

from ..conftest import make_cnn


@pytest.fixture
def small_lib(tmp_path) -> Library:
    lib = Library.create(tmp_path / "lib")
    for seed in range(7):
        lib.add(
            [make_cnn(seed), make_cnn(seed + 100)],
            hparams={"seed": seed},
            snapshots=[{"epoch": 0, "progress": 0.0}, {"epoch": 1, "progress": 1.0}],
        )
    return lib


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("miwd", {"S": 8, "B": 8}),  # vectors
        (
            "randproj",
            {"K": 4, "random_state": 0},
        ),  # vectors, fitted state (the projection) shipped to the tasks
        ("layer-stats", {}),  # WeightSets
        (
            "pca",
            {"K": 3, "random_state": 0},
        ),  # fitted on the whole selection: computed by the driver
    ],
)
def test_ray_batches_give_the_local_rows(ray_cluster, small_lib, name, params):
    ids, local = describe_library(small_lib, name, params=params, batch_size=3, cache=False)
    ray_ids, on_ray = describe_library(
        small_lib, name, params=params, batch_size=3, cache=False, engine="ray"
    )
    assert ray_ids == ids
    np.testing.assert_array_equal(on_ray, local)


def test_ray_results_are_cached_as_the_local_path_caches_them(ray_cluster, small_lib):
    ids = small_lib.ids()[1:]
    _, on_ray = describe_library(small_lib, "stats", ids=ids, snapshot=0, engine="ray")
    assert len(list((small_lib.path / "cache").glob("repr-stats-*.npz"))) == 1
    from weightspace.represent.registry import _estimator_id, create_representation

    key = {"estimator": _estimator_id(create_representation("stats")), "snapshot": 0}
    local_hit = small_lib.cache.get("repr-stats", key, ids)
    assert local_hit is not None
    np.testing.assert_array_equal(local_hit["X"], on_ray)
    _, again = describe_library(small_lib, "stats", ids=ids, snapshot=0)  # a hit: no recompute
    np.testing.assert_array_equal(again, on_ray)


def test_describe_cli_with_the_ray_engine(ray_cluster, small_lib, tmp_path, cli):
    args = ["describe", small_lib.path, "--repr", "swstats", "--quiet", "--where", "seed > 1"]
    code, out, err = cli(*args, "--engine", "ray", "-o", tmp_path / "ray.parquet")
    assert code == 0, err
    assert "5 model(s)" in out
    small_lib.cache.clear()  # the local run computes its own rows
    assert cli(*args, "-o", tmp_path / "local.parquet")[0] == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "ray.parquet"), pd.read_parquet(tmp_path / "local.parquet")
    )


def test_checkpoint_files_are_not_described_on_ray(cli, tmp_path, cnn):
    import torch

    torch.save(cnn.state_dict(), tmp_path / "a.pt")
    code, _, err = cli("describe", tmp_path / "a.pt", "--engine", "ray", "-o", tmp_path / "x.npy")
    assert code == 1
    assert "describes a library" in err
