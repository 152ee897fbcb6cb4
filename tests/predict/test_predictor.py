"""Accuracy predictors: exact rankings of planted zoos, files without pickle, architecture checks."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from safetensors.numpy import load_file

from weightspace import Library, WeightSet
from weightspace.predict import (
    PredictorError,
    fit_predictor,
    kendall_tau,
    load_predictor,
)
from weightspace.predict.models import GBTRegressor
from weightspace.represent.registry import list_representations

from .conftest import OTHER_SHAPES, planted_accuracy, planted_arrays

# small representation and regressor settings: the tests check behaviour, not the defaults' quality
REPR_PARAMS = {
    "raw": {"K": 16},
    "pca": {"K": 4, "resample_to": 64, "random_state": 0},
    "randproj": {"K": 8, "resample_to": 64, "random_state": 0},
    "miwd": {"S": 2, "B": 8},
}
SMALL_MLP = {"hidden": 16, "epochs": 4}


def test_ridge_ranks_a_noiseless_planted_accuracy_exactly(planted, planted_other):
    predictor = fit_predictor(Library(planted), representation="unterthiner", model="ridge")
    ranked = predictor.rank_library(Library(planted_other))
    assert kendall_tau(ranked["true"], ranked["prediction"]) == pytest.approx(1.0, abs=1e-12)
    assert ranked["rank"].tolist() == list(range(1, 21))
    assert np.all(np.diff(ranked["true"].to_numpy()) < 0)  # best first
    assert predictor.info["val_kendall_tau"] == pytest.approx(1.0, abs=1e-12)
    assert predictor.info["n_train"] + predictor.info["n_val"] == 40


@pytest.mark.parametrize("model", ["gbt", "mlp"])
def test_trees_and_statnn_rank_the_planted_accuracy_well(planted, planted_other, model):
    params = {"hidden": 32, "epochs": 20} if model == "mlp" else None
    predictor = fit_predictor(
        Library(planted), representation="unterthiner", model=model, model_params=params
    )
    ranked = predictor.rank_library(Library(planted_other))
    assert kendall_tau(ranked["true"], ranked["prediction"]) > 0.6


def _files_without_pickle(path: Path) -> None:
    """JSON, safetensors and skops (a zip of JSON and arrays) files only."""
    names = sorted(p.name for p in path.iterdir())
    assert {"predictor.json", "representation.skops", "state.safetensors"} <= set(names)
    for p in path.iterdir():
        if p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".safetensors":
            load_file(p)
        else:
            assert p.suffix == ".skops", p.name
            assert zipfile.is_zipfile(p), p.name


@pytest.mark.parametrize(
    ("model", "params", "weights_file"),
    [("ridge", None, "model.safetensors"), ("gbt", None, "model.skops"),
     ("mlp", SMALL_MLP, "model.safetensors")],
)  # fmt: skip
def test_every_model_round_trips_through_its_files(
    planted, planted_other, tmp_path, model, params, weights_file
):
    predictor = fit_predictor(
        Library(planted), representation="unterthiner", model=model, model_params=params
    )
    path = predictor.save(tmp_path / "p")
    _files_without_pickle(path)
    assert (path / weights_file).is_file()
    again = load_predictor(path)
    other = Library(planted_other)
    first, second = predictor.rank_library(other), again.rank_library(other)
    np.testing.assert_array_equal(first["prediction"], second["prediction"])
    np.testing.assert_array_equal(first["zoo_distance"], second["zoo_distance"])
    assert again.info == json.loads(json.dumps(predictor.info))


def tiny_encoder(zoo: Path, folder: Path) -> Path:
    """A tiny chunk-token encoder trained on ``zoo`` (2 epochs)."""
    from weightspace.learn import TrainSettings, train_encoder

    settings = TrainSettings(d_model=16, n_heads=2, d_ff=32, latent=8, projection=8,
                             batch_size=8, epochs=2, encoder_layers=1, decoder_layers=1,
                             tokens="chunk", chunk=4)  # fmt: skip
    train_encoder(zoo, folder, settings, progress=False)
    return folder


@pytest.mark.parametrize("name", list_representations())
def test_every_registered_representation_fits_saves_and_reloads(planted, tmp_path, name):
    lib = Library(planted)
    params = REPR_PARAMS.get(name)
    if name == "hyper":  # a learned representation: a tiny chunk-token encoder of this zoo
        params = {"encoder": str(tiny_encoder(planted, tmp_path / "encoder"))}
    predictor = fit_predictor(lib, representation=name, params=params, model="ridge")
    again = load_predictor(predictor.save(tmp_path / name))
    models = [lib.get(i) for i in lib.ids()[:5]]
    np.testing.assert_array_equal(
        predictor.predict_weights(models)["prediction"], again.predict_weights(models)["prediction"]
    )
    assert again.representation == name
    # hyper reads WeightSets (the registry's `reads`), so its predictor keeps the architecture
    assert (again.architecture is None) == (name in ("miwd", "stats", "raw", "pca", "randproj"))


def test_a_checkpoint_of_another_architecture_is_refused(planted, tmp_path):
    predictor = fit_predictor(Library(planted), representation="unterthiner", model="ridge")
    other = WeightSet.from_arrays(planted_arrays(np.random.default_rng(5), OTHER_SHAPES))
    with pytest.raises(PredictorError, match=r"another architecture .* \(8, 4\)"):
        predictor.predict_weights([other])


def test_an_architecture_free_predictor_ranks_other_architectures(planted):
    predictor = fit_predictor(Library(planted), representation="stats", model="ridge")
    rng = np.random.default_rng(5)
    other = WeightSet.from_arrays(planted_arrays(rng, OTHER_SHAPES), source="wide")
    ranked = predictor.predict_weights([other])
    assert np.isfinite(ranked["prediction"]).all()


def test_far_from_zoo_flags_outliers_not_training_models(planted):
    lib = Library(planted)
    predictor = fit_predictor(lib, representation="unterthiner", model="ridge")
    train = [lib.get(i) for i in predictor.info["ids_train"]]
    assert not predictor.predict_weights(train)["far_from_zoo"].any()
    arrays = planted_arrays(np.random.default_rng(9))
    scaled = WeightSet.from_arrays({k: 50 * v for k, v in arrays.items()}, source="scaled")
    row = predictor.predict_weights([scaled]).iloc[0]
    assert bool(row["far_from_zoo"])
    assert row["zoo_percentile"] == 100.0


def test_untrusted_types_in_a_predictor_file_are_refused(planted, tmp_path):
    path = fit_predictor(Library(planted), model="ridge").save(tmp_path / "p")
    trees = GBTRegressor(max_iter=3).fit(np.arange(20.0).reshape(10, 2), np.arange(10.0))
    sio.dump(trees.model_, path / "representation.skops")  # a type representations never hold
    with pytest.raises(PredictorError, match="outside the trusted list"):
        load_predictor(path)


def test_a_directory_that_is_not_a_predictor(tmp_path):
    with pytest.raises(PredictorError, match="not a predictor"):
        load_predictor(tmp_path)
    (tmp_path / "predictor.json").write_text('{"format": "weightspace-predictor", "version": 99}')
    with pytest.raises(PredictorError, match="version 99"):
        load_predictor(tmp_path)


def test_fit_errors_name_the_problem(planted, tmp_path):
    lib = Library(planted)
    with pytest.raises(PredictorError, match="unknown representation 'nope'"):
        fit_predictor(lib, representation="nope")
    with pytest.raises(PredictorError, match="no column 'val_acc'"):
        fit_predictor(lib, target="val_acc")
    mixed = Library.create(tmp_path / "mixed")
    rng = np.random.default_rng(0)
    for shapes in [*[None] * 5, *[OTHER_SHAPES] * 5]:
        arrays = planted_arrays(rng, shapes) if shapes else planted_arrays(rng)
        mixed.add(WeightSet.from_arrays(arrays), metrics={"test_acc": planted_accuracy(arrays)})
    with pytest.raises(PredictorError, match="2 architectures; representation 'swstats'"):
        fit_predictor(mixed, representation="swstats")
    assert fit_predictor(mixed, representation="stats", model="ridge").architecture is None


@pytest.fixture(scope="module")
def hyper_predictor(planted, tmp_path_factory):
    """A ridge predictor on the hyper representation, saved: (its folder, its encoder folder)."""
    root = tmp_path_factory.mktemp("hyper")
    encoder = tiny_encoder(planted, root / "encoder")
    predictor = fit_predictor(
        Library(planted), representation="hyper", params={"encoder": str(encoder)}, model="ridge"
    )
    return predictor, predictor.save(root / "predictor"), encoder


def test_a_hyper_predictor_stores_its_encoder_by_path_and_digest(hyper_predictor):
    from weightspace.learn.represent import encoder_sha256

    predictor, path, encoder = hyper_predictor
    doc = json.loads((path / "predictor.json").read_text())
    assert doc["representation"]["encoder"] == {
        "folder": str(encoder.resolve()),
        "sha256": encoder_sha256(encoder),
    }
    assert len(doc["representation"]["encoder"]["sha256"]) == 64
    assert not (path / "representation.skops").exists()  # no dump of the encoder
    again = load_predictor(path)
    assert again.transformer.encoder_.path == encoder.resolve()
    models = [Library(doc["training"]["library"]).get(i) for i in doc["training"]["ids_val"]]
    np.testing.assert_array_equal(
        predictor.predict_weights(models)["score"], again.predict_weights(models)["score"]
    )


def test_a_changed_or_missing_encoder_folder_is_named_with_the_fix(hyper_predictor, tmp_path):
    import shutil

    _, path, encoder = hyper_predictor
    copy = tmp_path / "predictor"
    shutil.copytree(path, copy)
    moved = tmp_path / "encoder"
    shutil.copytree(encoder, moved)
    doc = json.loads((copy / "predictor.json").read_text())
    doc["representation"]["encoder"]["folder"] = str(moved)
    (copy / "predictor.json").write_text(json.dumps(doc))
    load_predictor(copy)  # an identical copy of the folder is accepted
    with (moved / "config.json").open("a") as handle:
        handle.write(" ")
    with pytest.raises(
        PredictorError, match=rf"{re.escape(str(moved))}: the encoder changed since .*refit the"
    ):
        load_predictor(copy)
    shutil.rmtree(moved)
    with pytest.raises(PredictorError, match=rf"{re.escape(str(moved))}: the encoder folder of this predictor is "
                       "missing; restore the encoder folder"):  # fmt: skip
        load_predictor(copy)
