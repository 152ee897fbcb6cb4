"""Representations by name over a library, cached; the describe CLI."""

import numpy as np
import pandas as pd
import pytest

from weightspace import Library, WeightspaceError, load_weights
from weightspace.cli.main import main
from weightspace.represent import DEFAULT_BINS, DEFAULT_WINDOWS, miwd
from weightspace.represent.registry import (
    REPRESENTATION_SPECS,
    create_representation,
    describe_library,
    describe_weights,
    list_representations,
    representation_spec,
)

from ..conftest import make_cnn


@pytest.fixture
def small_lib(tmp_path) -> Library:
    lib = Library.create(tmp_path / "lib")
    for seed in range(6):
        lib.add(
            [make_cnn(seed), make_cnn(seed + 100)],
            hparams={"seed": seed, "optimizer": "adam" if seed % 2 else "sgd"},
            snapshots=[{"epoch": 0, "progress": 0.0}, {"epoch": 1, "progress": 1.0}],
        )
    return lib


def _tiny_encoder(lib: Library, folder) -> dict:
    from weightspace.learn import TrainSettings, train_encoder

    sizes = dict(d_model=8, n_heads=2, d_ff=8, latent=4, projection=4, encoder_layers=1,
                 decoder_layers=1, epochs=1, batch_size=4)  # fmt: skip
    train_encoder(lib, folder, TrainSettings(**sizes), progress=False)
    return {"encoder": str(folder)}


def test_every_registered_representation_describes_a_library(small_lib, tmp_path):
    for name in list_representations():
        params = {"K": 4} if name in ("raw", "pca", "randproj") else {}
        if name == "hyper":
            params = _tiny_encoder(small_lib, tmp_path / "encoder")
        ids, X = describe_library(small_lib, name, params=params)
        assert ids == small_lib.ids()
        assert X.shape[0] == 6
        assert X.dtype == np.float32


def test_miwd_matches_the_engine_and_is_cached(small_lib):
    ids, X = describe_library(small_lib, "miwd", params={"S": 8, "B": 8}, batch_size=4)
    expected = miwd(small_lib.vectors(ids), S=8, B=8).reshape(6, -1)
    np.testing.assert_array_equal(X, expected)
    assert len(list((small_lib.path / "cache").glob("repr-miwd-*.npz"))) == 1
    _, again = describe_library(small_lib, "miwd", params={"S": 8, "B": 8})
    np.testing.assert_array_equal(again, X)
    _, first_snapshot = describe_library(small_lib, "miwd", params={"S": 8, "B": 8}, snapshot=0)
    assert not np.array_equal(first_snapshot, X)


def test_a_changed_default_never_returns_stale_cached_descriptors(small_lib, monkeypatch):
    from weightspace.represent.miwd import MIWD

    _, before = describe_library(small_lib, "miwd")
    # a new release changes MIWD's default granularity: the cache must not answer with the old one
    defaults = MIWD.__init__.__kwdefaults__
    monkeypatch.setitem(defaults, "S", defaults["S"] // 2)
    _, after = describe_library(small_lib, "miwd")
    assert after.shape[1] == before.shape[1] // 2
    np.testing.assert_array_equal(
        after, create_representation("miwd").fit_transform(small_lib.vectors())
    )


def test_unknown_representation_and_parameter():
    with pytest.raises(WeightspaceError, match="unknown representation"):
        create_representation("nope")
    with pytest.raises(WeightspaceError, match="representation 'miwd'"):
        create_representation("miwd", bins=3)


def test_representation_spec_says_what_a_representation_reads():
    assert representation_spec("miwd").reads == "vectors"
    assert representation_spec("layer-stats").reads == "weightsets"
    assert representation_spec("pca").fit_on_all
    assert not representation_spec("miwd").fit_on_all
    with pytest.raises(WeightspaceError, match=r"unknown representation 'nope'; choose one of "):
        representation_spec("nope")
    assert sorted(REPRESENTATION_SPECS) == list_representations()
    assert REPRESENTATION_SPECS["chain"] is representation_spec("chain")
    with pytest.raises(TypeError):
        REPRESENTATION_SPECS["mine"] = representation_spec("miwd")  # type: ignore[index]


def test_describe_weights_fits_on_the_given_models(small_lib):
    sets = [small_lib.get(i) for i in small_lib.ids()]
    X = describe_weights("miwd", sets, S=8, B=4)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X, miwd([w.vector() for w in sets], S=8, B=4).reshape(6, -1))
    np.testing.assert_array_equal(
        describe_weights("layer-stats", sets),
        create_representation("layer-stats").fit_transform(sets).astype(np.float32),
    )
    vectors = [w.vector() for w in sets]
    # PCA of the same vectors differs between fits in the last float32 digits
    np.testing.assert_allclose(
        describe_weights("pca", sets, K=3),
        create_representation("pca", K=3).fit_transform(vectors),
        rtol=1e-4,
        atol=1e-3,
    )
    with pytest.raises(WeightspaceError, match="representation 'miwd'"):
        describe_weights("miwd", sets, bins=3)


def test_describe_cli_files_use_the_miwd_defaults(tmp_path, cnn, capsys):
    import torch

    ckpt = tmp_path / "a.pt"
    torch.save(cnn.state_dict(), ckpt)
    assert main(["describe", str(ckpt), "-o", str(tmp_path / "d.npy")]) == 0
    X = np.load(tmp_path / "d.npy")
    assert X.shape == (1, DEFAULT_WINDOWS * DEFAULT_BINS)
    vector = load_weights(ckpt).vector()
    expected = miwd([vector], S=32, B=32, value_range=(-5.0, 5.0)).reshape(1, -1)
    np.testing.assert_allclose(X, expected, atol=1e-7)
    capsys.readouterr()


def test_describe_cli_library_files_and_plot(small_lib, tmp_path, capsys, cnn):
    out = tmp_path / "x.parquet"
    assert (
        main(["describe", str(small_lib.path), "--repr", "stats", "-o", str(out), "--quiet"]) == 0
    )
    frame = pd.read_parquet(out)
    assert list(frame["model"]) == [str(i) for i in small_lib.ids()]
    assert frame.shape == (6, 17)
    where = ["--where", "optimizer = 'adam'"]
    assert (
        main(
            [
                "describe",
                str(small_lib.path),
                "--repr",
                "miwd",
                "--param",
                "S=4",
                "--param",
                "B=4",
                *where,
                "-o",
                str(tmp_path / "m.npy"),
                "--quiet",
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "m.npy").shape == (3, 16)
    import torch

    ckpt = tmp_path / "a.pt"
    torch.save(cnn.state_dict(), ckpt)
    assert (
        main(
            [
                "describe",
                str(ckpt),
                str(ckpt),
                "--repr",
                "layer-stats",
                "-o",
                str(tmp_path / "f.npy"),
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "f.npy").shape[0] == 2
    png = tmp_path / "d.png"
    assert main(["describe", str(small_lib.path), "--model", "1", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert (
        main(["describe", str(small_lib.path), "--repr", "stats", "-o", str(tmp_path / "x.txt")])
        == 1
    )
    assert "must end in .npy or .parquet" in capsys.readouterr().err
