"""The learn CLI and the ``hyper`` representation through describe, the probes and the atlas."""

import json
import shutil

import numpy as np
import pytest

from weightspace import Library
from weightspace.learn import load_encoder
from weightspace.represent.registry import describe_library


def test_learn_train_then_info(cli, tiny_zoo, tmp_path):
    out = tmp_path / "enc"
    code, stdout, err = cli(
        "learn", "train", tiny_zoo, "-o", out, "--epochs", "2", "--d-model", "16", "--heads", "2",
        "--layers", "1", "--latent", "4", "--batch-size", "8", "--loss", "d",
    )  # fmt: skip
    assert code == 0, err
    assert "12 models, 48 snapshots, 2 epochs" in stdout
    assert err.count("epoch ") == 2  # one line per epoch (stderr is not a terminal here)
    code, stdout, err = cli("learn", "info", out, "--json")
    assert code == 0, err
    info = json.loads(stdout)
    assert info["tokens"] == "neuron"
    assert info["n_tokens"] == 9  # 6 hidden + 3 output units
    assert info["latent"] == 4
    assert info["finished"] is True
    assert info["settings"]["loss"] == "d"
    code, stdout, _ = cli("learn", "info", out)
    assert "architecture  6x5 3x7" in stdout
    code, stdout, _ = cli("learn", "train", tiny_zoo, "-o", out, "--epochs", "2", "--d-model", "16",
                          "--heads", "2", "--layers", "1", "--latent", "4", "--batch-size", "8",
                          "--loss", "d")  # fmt: skip
    assert "resumed after epoch 1" in stdout  # finished: reused as it is


def test_describe_with_the_hyper_representation(cli, tiny_zoo, encoder_dir, tmp_path):
    out = tmp_path / "h.npy"
    code, _, err = cli("describe", tiny_zoo, "--repr", "hyper", "--param",
                       f"encoder={encoder_dir}", "-o", out, "--quiet")  # fmt: skip
    assert code == 0, err
    X = np.load(out)
    lib = Library(tiny_zoo)
    expected = load_encoder(encoder_dir).embed([lib.get(i) for i in lib.ids()])
    np.testing.assert_array_equal(X, expected)
    files = [lib.export(i, tmp_path / f"m{i}.safetensors") for i in lib.ids()[:2]]
    code, _, err = cli("describe", *files, "--repr", "hyper", "--param", f"encoder={encoder_dir}",
                       "-o", tmp_path / "f.npy")  # fmt: skip
    assert code == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), expected[:2])


def test_the_describe_cache_follows_a_retrained_encoder(tiny_zoo, encoder_dir, tmp_path, settings):
    from weightspace.learn import train_encoder

    lib = Library(shutil.copytree(tiny_zoo, tmp_path / "zoo"))
    folder = shutil.copytree(encoder_dir, tmp_path / "enc")
    _, first = describe_library(lib, "hyper", params={"encoder": str(folder)})
    _, again = describe_library(lib, "hyper", params={"encoder": str(folder)})
    np.testing.assert_array_equal(first, again)
    train_encoder(lib, folder, settings(seed=1), restart=True, progress=False)
    _, retrained = describe_library(lib, "hyper", params={"encoder": str(folder)})
    assert not np.array_equal(first, retrained)


def test_another_architecture_is_a_one_line_error_for_neuron_tokens(cli, other_zoo, encoder_dir):
    code, _, err = cli("describe", other_zoo, "--repr", "hyper", "--param",
                       f"encoder={encoder_dir}", "-o", "x.npy", "--quiet")  # fmt: skip
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "architecture 5x5 3x6" in err
    assert "not the encoder's 6x5 3x7" in err


def test_chunk_tokens_embed_another_architecture(cli, other_zoo, chunk_encoder_dir, tmp_path):
    code, _, err = cli("describe", other_zoo, "--repr", "hyper", "--param",
                       f"encoder={chunk_encoder_dir}", "-o", tmp_path / "x.npy", "--quiet")  # fmt: skip
    assert code == 0, err
    X = np.load(tmp_path / "x.npy")
    assert X.shape == (4, 8)
    assert np.isfinite(X).all()
    assert np.unique(X, axis=0).shape[0] == 4


@pytest.mark.parametrize("make", ["missing", "empty", "junk-config"])
def test_bad_encoder_folders_are_one_line_errors(cli, tiny_zoo, tmp_path, make):
    folder = tmp_path / "enc"
    if make != "missing":
        folder.mkdir()
    if make == "junk-config":
        (folder / "config.json").write_text("[1, 2]")
    for argv in (
        ("learn", "info", folder),
        ("describe", tiny_zoo, "--repr", "hyper", "--param", f"encoder={folder}", "-o", "x.npy",
         "--quiet"),
        ("probe", "linear", tiny_zoo, "--repr", "hyper", "--param", f"encoder={folder}",
         "--target", "test_acc", "--no-filter", "--quiet"),
    ):  # fmt: skip
        code, _, err = cli(*argv)
        assert code == 1, argv
        assert len(err.strip().splitlines()) == 1, err
        assert str(folder) in err


def test_hyper_without_an_encoder_says_how_to_give_one(cli, tiny_zoo):
    code, _, err = cli("describe", tiny_zoo, "--repr", "hyper", "-o", "x.npy", "--quiet")
    assert code == 1
    assert "--param encoder=DIR" in err


def test_the_probes_use_the_hyper_representation(cli, tiny_zoo, encoder_dir, tmp_path):
    code, out, err = cli(
        "probe", "linear", tiny_zoo, "--repr", "hyper", "--param", f"encoder={encoder_dir}",
        "--target", "test_acc,epoch,optimizer", "--no-filter", "--json", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, err
    rows = {r["target"]: r for r in json.loads(out)}
    assert rows["test_acc"]["n_features"] == 8
    assert rows["test_acc"]["n_samples"] == 48
    assert rows["optimizer"]["kind"] == "categorical"
    code, out, err = cli(
        "probe", "svm", tiny_zoo, "--repr", "hyper", "--param", f"encoder={encoder_dir}",
        "--target", "optimizer", "--folds", "2", "--repeats", "1", "--no-filter", "--json",
        "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)[0]["n_features"] == 8


def test_the_atlas_maps_the_hyper_representation(cli, tiny_zoo, encoder_dir, tmp_path):
    lib = shutil.copytree(tiny_zoo, tmp_path / "zoo")
    code, _, err = cli(
        "atlas",
        "export",
        lib,
        "--repr",
        "hyper",
        "--param",
        f"encoder={encoder_dir}",
        "--where",
        "id <= 4",
        "-o",
        tmp_path / "a.html",
        "--json",
        tmp_path / "a.json",
        "--quiet",
    )  # fmt: skip  (4 models: PCA map, no UMAP JIT)
    assert code == 0, err
    atlas = json.loads((tmp_path / "a.json").read_text())
    assert atlas["representation"]["name"] == "hyper"
    assert atlas["representation"]["params"] == {"encoder": str(encoder_dir)}
    assert (tmp_path / "a.html").stat().st_size > 1000
