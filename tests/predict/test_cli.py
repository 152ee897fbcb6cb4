"""``weightspace predict fit|rank``: real files, the JSON schema, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from .conftest import OTHER_SHAPES, planted_accuracy, planted_arrays

CHECKPOINT_KEYS = {
    "rank": int,
    "source": str,
    "id": (int, type(None)),
    "prediction": float,
    "zoo_distance": float,
    "zoo_percentile": float,
    "far_from_zoo": bool,
    "warning": (str, type(None)),
    "true": (float, type(None)),
}
DOCUMENT_KEYS = {
    "predictor": str,
    "target": str,
    "representation": str,
    "model": str,
    "n_checkpoints": int,
    "n_far_from_zoo": int,
    "kendall_tau": (float, type(None)),
    "checkpoints": list,
}


def _check_schema(doc: dict) -> None:
    assert set(doc) == set(DOCUMENT_KEYS)
    for key, kind in DOCUMENT_KEYS.items():
        assert isinstance(doc[key], kind), key
    for item in doc["checkpoints"]:
        assert set(item) == set(CHECKPOINT_KEYS)
        for key, kind in CHECKPOINT_KEYS.items():
            assert isinstance(item[key], kind), key
    assert [c["rank"] for c in doc["checkpoints"]] == list(range(1, doc["n_checkpoints"] + 1))
    predictions = [c["prediction"] for c in doc["checkpoints"]]
    assert predictions == sorted(predictions, reverse=True)


@pytest.fixture(scope="module")
def predictor(planted, tmp_path_factory):
    from weightspace.cli.main import main

    out = tmp_path_factory.mktemp("cli") / "predictor"
    code = main(["predict", "fit", str(planted), "--target", "test_acc", "--repr", "unterthiner",
                 "--model", "ridge", "-o", str(out), "--json"])  # fmt: skip
    assert code == 0
    return out


def test_fit_prints_its_facts(planted, tmp_path, cli):
    code, out, _ = cli("predict", "fit", planted, "--repr", "swstats", "--model", "gbt",
                       "-o", tmp_path / "p", "--json")  # fmt: skip
    assert code == 0
    facts = json.loads(out)
    assert facts["representation"] == "swstats"
    assert facts["model"] == "gbt"
    assert facts["n_train"] == 32
    assert facts["n_val"] == 8
    assert -1.0 <= facts["val_kendall_tau"] <= 1.0
    assert (tmp_path / "p" / "model.skops").is_file()


def test_rank_checkpoint_files_best_first(predictor, tmp_path, cli):
    rng = np.random.default_rng(3)
    paths, truth = [], {}
    for i in range(4):
        arrays = planted_arrays(rng)
        path = tmp_path / (f"m{i}.safetensors" if i % 2 else f"m{i}.pt")
        if i % 2:
            save_file(arrays, path)
        else:
            torch.save({k: torch.from_numpy(v) for k, v in arrays.items()}, path)
        paths.append(path)
        truth[str(path)] = planted_accuracy(arrays)
    code, out, err = cli("predict", "rank", predictor, *paths, "--json")
    assert code == 0, err
    doc = json.loads(out)
    _check_schema(doc)
    assert doc["kendall_tau"] is None
    assert doc["n_checkpoints"] == 4
    ranked = [c["source"] for c in doc["checkpoints"]]
    assert ranked == sorted(truth, key=truth.__getitem__, reverse=True)
    code, text, _ = cli("predict", "rank", predictor, *paths)
    assert code == 0
    assert text.splitlines()[1].split()[0] == "1"


def test_rank_another_library_with_its_true_accuracy(predictor, planted_other, cli):
    code, out, _ = cli("predict", "rank", predictor, "--library", planted_other, "--json")
    assert code == 0
    doc = json.loads(out)
    _check_schema(doc)
    assert doc["n_checkpoints"] == 20
    assert doc["kendall_tau"] == pytest.approx(1.0, abs=1e-12)
    assert all(isinstance(c["id"], int) and c["true"] is not None for c in doc["checkpoints"])


def test_far_checkpoints_are_flagged_with_a_warning(predictor, tmp_path, cli):
    arrays = planted_arrays(np.random.default_rng(4))
    save_file({k: 40 * v for k, v in arrays.items()}, tmp_path / "far.safetensors")
    code, out, _ = cli("predict", "rank", predictor, tmp_path / "far.safetensors", "--json")
    item = json.loads(out)["checkpoints"][0]
    assert code == 0
    assert item["far_from_zoo"] is True
    assert "far from the training zoo" in item["warning"]
    code, text, err = cli("predict", "rank", predictor, tmp_path / "far.safetensors")
    assert "FAR FROM ZOO" in text
    assert "warning:" in err


def test_another_architecture_is_a_one_line_error(predictor, tmp_path, cli):
    path = tmp_path / "wide.safetensors"
    save_file(planted_arrays(np.random.default_rng(5), OTHER_SHAPES), path)
    code, out, err = cli("predict", "rank", predictor, path)
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert str(path) in err
    assert "another architecture" in err


def test_rank_needs_files_or_a_library(predictor, planted_other, tmp_path, cli):
    code, _, err = cli("predict", "rank", predictor)
    assert code == 1
    assert "one of the two" in err
    code, _, err = cli("predict", "rank", predictor, tmp_path / "x.pt", "--library", planted_other)
    assert code == 1
    assert "one of the two" in err
    code, _, err = cli("predict", "rank", tmp_path, "--library", planted_other)
    assert code == 1
    assert "not a predictor" in err


def test_a_hyper_predictor_saves_ranks_and_names_a_changed_encoder(planted, tmp_path, cli):
    from .test_predictor import tiny_encoder

    encoder = tiny_encoder(planted, tmp_path / "encoder")
    out = tmp_path / "predictor"
    code, _, err = cli("predict", "fit", planted, "--repr", "hyper", "--param",
                       f"encoder={encoder}", "--model", "ridge", "-o", out, "--json")  # fmt: skip
    assert code == 0, err
    path = tmp_path / "m.safetensors"
    save_file(planted_arrays(np.random.default_rng(6)), path)
    code, text, err = cli("predict", "rank", out, path, "--json")
    assert code == 0, err
    _check_schema(json.loads(text))
    (encoder / "encoder.safetensors").unlink()
    code, text, err = cli("predict", "rank", out, path)
    assert code == 1
    assert text == ""
    assert len(err.strip().splitlines()) == 1
    assert f"{encoder.resolve()}: the encoder folder of this predictor is missing" in err
    assert "refit the predictor" in err
