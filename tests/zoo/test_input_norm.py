"""Input normalization (``input_norm``): how the Schürholt zoos feed MNIST and Fashion-MNIST."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from weightspace import WeightspaceError
from weightspace.zoo.architectures import create_architecture
from weightspace.zoo.augment import augment
from weightspace.zoo.batched import train_models
from weightspace.zoo.datasets import Dataset, load_dataset, to_common_shape
from weightspace.zoo.early_stopping import EarlyStopping
from weightspace.zoo.presets import SCHURHOLT_INPUT_NORM, get_preset
from weightspace.zoo.train import TrainConfig, augment_inputs, split_tensors, train_model

NORM = (0.1307, 0.3081)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    data = load_dataset("digits", seed=0)
    return dataclasses.replace(
        data,
        x_train=data.x_train[:300],
        y_train=data.y_train[:300],
        x_val=data.x_val[:100],
        y_val=data.y_val[:100],
        x_test=data.x_test[:100],
        y_test=data.y_test[:100],
    )


def mlp(seed: int) -> nn.Module:
    net = create_architecture("mlp", seed=seed, in_features=64, hidden=(16,), n_classes=10)
    return nn.Sequential(nn.Flatten(), net)


def test_every_split_is_fed_normalized(digits):
    t = split_tensors(digits, NORM)
    for split in ("train", "val", "test"):
        raw = torch.from_numpy(np.array(getattr(digits, f"x_{split}")))
        torch.testing.assert_close(t[f"x_{split}"], (raw - NORM[0]) / NORM[1], rtol=0, atol=0)
        assert torch.equal(
            t[f"y_{split}"], torch.from_numpy(np.array(getattr(digits, f"y_{split}")))
        )
    plain = split_tensors(digits)
    assert torch.equal(plain["x_train"], torch.from_numpy(np.array(digits.x_train)))


def test_augmentation_acts_on_the_unit_images_then_normalizes():
    data = to_common_shape(load_dataset("digits", seed=0), (3, 16, 16))
    x = torch.from_numpy(np.array(data.x_train[:16]))
    raw = augment(x.clone(), torch.Generator().manual_seed(5))
    got = augment_inputs((x - NORM[0]) / NORM[1], torch.Generator().manual_seed(5), NORM)
    torch.testing.assert_close(got, (raw - NORM[0]) / NORM[1], rtol=0, atol=1e-5)
    # the clipping to [0, 1] happens in image space: normalized bounds are the images' bounds
    lo, hi = (0 - NORM[0]) / NORM[1], (1 - NORM[0]) / NORM[1]
    assert float(got.min()) >= lo - 1e-5
    assert float(got.max()) <= hi + 1e-5


def test_normalized_training_differs_and_batched_matches_the_reference(digits):
    stop = EarlyStopping(min_epochs=2, max_epochs=2)
    configs = [TrainConfig(seed=s, stopping=stop, input_norm=NORM, n_snapshots=3) for s in range(3)]
    models = [mlp(s) for s in range(3)]
    twins = copy.deepcopy(models)
    ref = [train_model(m, digits, c) for m, c in zip(models, configs, strict=True)]
    got = train_models(twins, digits, configs)
    for r, g in zip(ref, got, strict=True):
        for a, b in zip(r.states, g.states, strict=True):
            for key in a:
                torch.testing.assert_close(b[key], a[key], rtol=1e-3, atol=1e-4)
        assert g.records[-1].test_acc == pytest.approx(r.records[-1].test_acc, abs=1e-4)
    # the same model fed [0, 1] images ends elsewhere
    plain = train_model(mlp(0), digits, dataclasses.replace(configs[0], input_norm=None))
    assert not torch.allclose(plain.states[-1]["1.0.weight"], ref[0].states[-1]["1.0.weight"])


def test_models_of_one_stack_share_one_normalization(digits):
    stop = EarlyStopping(min_epochs=1, max_epochs=1)
    configs = [TrainConfig(stopping=stop, input_norm=NORM), TrainConfig(stopping=stop)]
    with pytest.raises(WeightspaceError, match="one input_norm"):
        train_models([mlp(0), mlp(1)], digits, configs)


@pytest.mark.parametrize("bad", [(0.5, 0.0), (0.5, -1.0), (float("nan"), 1.0), (0.0, float("inf"))])
def test_invalid_normalizations_are_refused(bad):
    with pytest.raises(WeightspaceError, match="input_norm"):
        TrainConfig(input_norm=bad)


def test_schurholt_presets_normalize_as_the_authors_loaders():
    # their zoo generators: MNIST Normalize((0.1307,), (0.3081,)); Fashion-MNIST Normalize((0.5,), (0.5,))
    assert get_preset("schurholt-mnist-seed").input_norm == (0.1307, 0.3081)
    assert get_preset("schurholt-fmnist-seed").input_norm == (0.5, 0.5)
    assert get_preset("schurholt-mnist-hyp").input_norm == SCHURHOLT_INPUT_NORM["mnist"]
    assert get_preset("nws-real").input_norm is None  # NWS feeds [0, 1] images


def test_cli_refuses_a_malformed_input_norm(cli, tmp_path):
    code, _, err = cli(
        "zoo",
        "generate",
        "--preset",
        "demo",
        "--n",
        "1",
        "--out",
        tmp_path / "z",
        "--input-norm",
        "0.5",
    )
    assert code == 1
    assert "--input-norm must be MEAN,STD" in err
    assert not (tmp_path / "z").exists()
