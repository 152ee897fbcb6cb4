"""The reference trainer on real (small) data."""

import numpy as np
import pytest
import torch

from weightspace import WeightspaceError
from weightspace.zoo.architectures import create_architecture
from weightspace.zoo.datasets import load_dataset
from weightspace.zoo.early_stopping import EarlyStopping
from weightspace.zoo.train import TrainConfig, train_model


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def mlp(seed: int = 0) -> torch.nn.Module:
    net = create_architecture("mlp", seed=seed, in_features=64, hidden=(32,), n_classes=10)
    return torch.nn.Sequential(torch.nn.Flatten(), net)


def fixed(epochs: int) -> EarlyStopping:
    return EarlyStopping(min_epochs=epochs, max_epochs=epochs)


def test_learns_and_records_snapshots(digits):
    data = digits
    model = mlp()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    result = train_model(model, data, TrainConfig(optimizer="adam", lr=3e-3, stopping=fixed(5)))
    assert result.epochs == 5
    assert result.stop_reason == "max_epochs"
    assert len(result.states) == 6  # initialization + 5 epochs, fewer than 20
    for k, v in init.items():
        assert torch.equal(result.states[0][k], v)
    assert [r.epoch for r in result.records] == [0, 1, 2, 3, 4, 5]
    assert result.records[0].progress == 0.0
    assert result.records[-1].progress == 1.0
    assert result.final.test_acc > 0.85
    assert result.records[0].test_acc < 0.3
    assert len(result.val_history) == 5


def test_same_seed_same_weights_and_global_rng_untouched(digits):
    data = digits
    config = TrainConfig(optimizer="sgd", lr=0.05, seed=3, stopping=fixed(2), augment=False)
    state = torch.get_rng_state()
    a = train_model(mlp(1), data, config)
    b = train_model(mlp(1), data, config)
    assert torch.equal(torch.get_rng_state(), state)
    for sa, sb in zip(a.states, b.states, strict=True):
        for k in sa:
            assert torch.equal(sa[k], sb[k])
    c = train_model(mlp(1), data, TrainConfig(optimizer="sgd", lr=0.05, seed=4, stopping=fixed(2)))
    assert not torch.equal(c.states[-1]["1.0.weight"], a.states[-1]["1.0.weight"])


def test_keeps_twenty_snapshots_of_long_trainings(digits):
    data = digits
    result = train_model(mlp(), data, TrainConfig(lr=1e-3, stopping=fixed(25), n_snapshots=20))
    assert len(result.states) == 20
    epochs = [r.epoch for r in result.records]
    assert epochs[0] == 0
    assert epochs[-1] == 25
    assert np.all(np.diff(epochs) > 0)


def test_nws_cnn_with_batchnorm_dropout_and_augmentation(digits):
    from weightspace.zoo.datasets import to_common_shape

    data = to_common_shape(digits, (3, 16, 16))
    model = create_architecture(
        "nws-cnn", seed=0, in_channels=3, input_size=16, n_classes=10, width_scale=0.25
    )
    config = TrainConfig(
        optimizer="rmsprop", lr=1e-3, lr_decay=0.96, augment=True, stopping=fixed(2)
    )
    result = train_model(model, data, config)
    assert result.epochs == 2
    assert "num_batches_tracked" in "".join(result.states[-1])
    assert 0.0 <= result.final.test_acc <= 1.0


def test_config_validation():
    with pytest.raises(WeightspaceError, match="optimizer"):
        TrainConfig(optimizer="adagrad")
    with pytest.raises(WeightspaceError, match="lr_decay"):
        TrainConfig(lr_decay=1.5)
