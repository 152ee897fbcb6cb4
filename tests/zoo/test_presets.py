"""The presets on real data: what each plan holds, scaling with n, and two tiny trainings of each."""

from __future__ import annotations

from pathlib import Path

import pytest

from weightspace import Library, WeightspaceError
from weightspace.zoo.architectures import create_architecture
from weightspace.zoo.generate import generate_zoo, plan_models
from weightspace.zoo.presets import SCHURHOLT_INPUT_NORM, ZooPlan, get_preset, list_presets

SCHURHOLT = [
    "schurholt-mnist-seed",
    "schurholt-fmnist-seed",
    "schurholt-mnist-hyp",
    "schurholt-mnist-hyp-mini",
    "schurholt-fmnist-hyp-mini",
]


def test_the_real_data_presets_are_listed() -> None:
    assert {"nws-real", *SCHURHOLT} <= set(list_presets())


def test_schurholt_cnn_has_the_papers_2464_parameters_layer_by_layer() -> None:
    net = create_architecture("schurholt-cnn", seed=0)
    sizes: dict[str, int] = {}
    for name, param in net.named_parameters():
        layer = name.rsplit(".", 1)[0]
        sizes[layer] = sizes.get(layer, 0) + param.numel()
    assert list(sizes.values()) == [208, 1206, 100, 740, 210]


@pytest.mark.parametrize(
    ("preset", "dataset"),
    [("schurholt-mnist-seed", "mnist"), ("schurholt-fmnist-seed", "fashion_mnist")],
)
def test_seed_presets_fix_one_configuration_and_vary_the_seed_over_1_to_1000(
    preset: str, dataset: str
) -> None:
    plan = get_preset(preset)
    assert (plan.min_epochs, plan.max_epochs, plan.n_snapshots, plan.input_shape) == (
        50,
        50,
        51,
        None,
    )
    configs = [s.config for s in plan_models(plan)]
    assert sorted(c["seed"] for c in configs) == list(range(1, 1001))
    fixed = {k: v for k, v in configs[0].items() if k != "seed"}
    assert fixed == {
        "dataset": dataset,
        "activation": "tanh",
        "dropout": 0.0,
        "init": "uniform",
        "optimizer": "adam",
        "momentum": 0.9,  # used by sgd only
        "learning_rate": 3e-4,
        "weight_decay": 0.0,
        "batch_size": 10,
        "epochs": 50,
    }
    assert all({k: v for k, v in c.items() if k != "seed"} == fixed for c in configs)


def test_hyp_preset_is_the_full_grid_with_five_seeds() -> None:
    configs = [s.config for s in plan_models(get_preset("schurholt-mnist-hyp"))]
    assert len(configs) == 256 * 5
    keys = ("activation", "dropout", "init", "optimizer", "learning_rate", "weight_decay", "seed")
    assert len({tuple(c[k] for k in keys) for c in configs}) == 1280
    values = {k: {c[k] for c in configs} for k in keys}
    assert values == {
        "activation": {"tanh", "relu", "sigmoid", "gelu"},
        "dropout": {0.0, 0.5},
        "init": {"uniform", "normal", "kaiming_uniform", "kaiming_normal"},
        "optimizer": {"adam", "sgd"},
        "learning_rate": {1e-3, 1e-4},
        "weight_decay": {1e-3, 1e-4},
        "seed": {1, 2, 3, 4, 5},
    }
    assert {(c["batch_size"], c["epochs"]) for c in configs} == {(10, 50)}


@pytest.mark.parametrize(
    ("preset", "dataset"),
    [("schurholt-mnist-hyp-mini", "mnist"), ("schurholt-fmnist-hyp-mini", "fashion_mnist")],
)
def test_reduced_hyp_presets_keep_the_grid_and_cut_only_the_budget(
    preset: str, dataset: str
) -> None:
    full = [s.config for s in plan_models(get_preset("schurholt-mnist-hyp"))]
    mini = [s.config for s in plan_models(get_preset(preset))]
    # the same 1,280 configurations in the same order; only the dataset and the epochs differ
    assert [c | {"dataset": dataset, "epochs": 5} for c in full] == mini
    plan = get_preset(preset)
    assert (plan.min_epochs, plan.max_epochs, plan.n_snapshots) == (5, 5, 6)
    assert plan.train_samples == 6000
    assert plan.input_norm == SCHURHOLT_INPUT_NORM[dataset]


@pytest.mark.parametrize("preset", SCHURHOLT)
def test_n_scales_a_grid_preset_down_to_a_prefix_so_a_small_zoo_grows(preset: str) -> None:
    full = plan_models(get_preset(preset))
    small = plan_models(get_preset(preset).with_(n=20))
    assert small == full[:20]  # same configs and keys: rerun with a larger --n to add models
    with pytest.raises(WeightspaceError, match=rf"the grid of 'schurholt-cnn' has {len(full)}"):
        plan_models(get_preset(preset).with_(n=len(full) + 1))


def test_grid_subset_needs_a_grid() -> None:
    with pytest.raises(WeightspaceError, match=r"grid_subset=True needs grid=True"):
        ZooPlan(space="nws", n=2, datasets=("digits",), grid_subset=True)


def test_nws_real_mixes_grey_and_colour_datasets_at_32x32x3() -> None:
    plan = get_preset("nws-real")
    assert plan.space == "nws"
    assert plan.input_shape == (3, 32, 32)
    assert set(plan.datasets) == {"mnist", "fashion_mnist", "colour_shapes"}
    configs = [s.config for s in plan_models(plan)]
    assert {c["dataset"] for c in configs} == set(plan.datasets)
    assert {c["filter_size"] for c in configs} == {3, 5, 7}  # the NWS architectures, as sampled


def _tiny(preset: str) -> ZooPlan:
    """The preset with tiny budgets: one or two epochs on 100 training images per dataset."""
    return get_preset(preset).with_(
        n=2, min_epochs=1, max_epochs=1, train_samples=100, seed=3, cover=()
    )


@pytest.mark.parametrize("preset", SCHURHOLT)
def test_schurholt_presets_generate_two_models(preset: str, prepared: Path, tmp_path: Path) -> None:
    plan = _tiny(preset)
    report = generate_zoo(plan, tmp_path / "zoo", workers=0, progress=False)
    assert report.trained == 2
    lib = Library(tmp_path / "zoo")
    frame = lib.query()
    assert set(frame["dataset"]) == {plan.datasets[0]}
    assert frame["epochs_trained"].tolist() == [1, 1]
    for model_id in frame["id"]:
        snapshots = lib.snapshot_matrix(model_id)
        assert snapshots.shape == (2, 2464)  # the initialization and the one epoch
    assert frame["test_acc"].between(0.0, 1.0).all()


def test_nws_real_generates_two_models_on_grey_and_colour_data(
    prepared: Path, tmp_path: Path
) -> None:
    # the smallest NWS architecture: the cost here is evaluating 16,000 images per snapshot
    smallest = {"filter_size": 3, "conv_layers": 3, "fc_layers": 2, "conv_width": 4, "fc_width": 64}
    plan = _tiny("nws-real").with_(
        datasets=("fashion_mnist", "colour_shapes"), space_overrides=smallest, cover=("dataset",)
    )
    assert {s.config["dataset"] for s in plan_models(plan)} == {"fashion_mnist", "colour_shapes"}
    report = generate_zoo(plan, tmp_path / "zoo", workers=0, progress=False)
    assert report.trained == 2
    lib = Library(tmp_path / "zoo")
    frame = lib.query()
    assert frame["test_acc"].between(0.0, 1.0).all()
    first = lib.get(int(frame["id"].iloc[0]))
    assert first.tensors[0].shape[1] == 3  # the first convolution takes three channels
