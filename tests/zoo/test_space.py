import math
import sys

import numpy as np
import pytest

from weightspace import WeightspaceError, load_weights
from weightspace.zoo import space as space_module
from weightspace.zoo.space import (
    NWS_DATASETS,
    Choice,
    Config,
    Fixed,
    HyperSpace,
    IntRange,
    LogUniform,
    SpaceError,
    Uniform,
    dump_space,
    get_space,
    list_spaces,
    load_space,
    register_space,
)

BUILTIN = ("nws", "nws-fixed", "schurholt-cnn", "tetris-mlp")


def test_registry_lists_the_builtin_spaces():
    assert set(BUILTIN) <= set(list_spaces())
    assert list(list_spaces()) == sorted(list_spaces())


@pytest.mark.parametrize("name", list_spaces())
def test_samples_carry_every_parameter_within_range(name):
    space = get_space(name)
    configs = space.sample(50, np.random.default_rng(0))
    assert len(configs) == 50
    for cfg in configs:
        assert isinstance(cfg, Config)
        assert tuple(cfg) == space.names
        assert cfg.space == name
        assert cfg.architecture == space.architecture
        space.validate(cfg)
        for key, param in space.params:
            assert param.contains(cfg[key])


@pytest.mark.parametrize("name", list_spaces())
def test_sampling_is_deterministic_per_seed(name):
    space = get_space(name)
    assert space.sample(10, 3) == space.sample(10, np.random.default_rng(3))
    if any(not isinstance(p, Fixed) for _, p in space.params):
        assert space.sample(10, 3) != space.sample(10, 4)


@pytest.mark.parametrize(
    "name", [n for n in list_spaces() if get_space(n).architecture is not None]
)
def test_configs_build_their_architecture(name):
    space = get_space(name)
    cfg = space.sample(1, 0)[0]
    model = space.create_model(cfg)
    again = space.create_model(cfg)
    np.testing.assert_array_equal(load_weights(model).vector(), load_weights(again).vector())


def test_nws_space_matches_table_1():
    space = get_space("nws", datasets=["mnist", "cifar10"])
    assert space["dataset"] == Choice(("mnist", "cifar10"))
    assert space["learning_rate"] == Uniform(0.0002, 0.005)
    assert space["lr_decay"] == Fixed(0.96)
    assert space["batch_size"] == Choice((32, 64, 128, 256))
    assert space["optimizer"] == Choice(("adam", "rmsprop", "sgd"))
    assert space["momentum"] == Fixed(0.95)
    assert space["init"] == Choice(("constant", "normal", "glorot_uniform", "glorot_normal"))
    for key, values in {
        "filter_size": (3, 5, 7),
        "conv_layers": (3, 4, 5),
        "fc_layers": (2, 3, 4),
        "conv_width": (4, 8, 12),
        "fc_width": (64, 128, 192),
    }.items():
        assert space[key] == Choice(values)
    rates = [c["learning_rate"] for c in space.sample(500, 0)]
    assert 0.0002 <= min(rates) < 0.0004
    assert 0.0048 < max(rates) <= 0.005
    assert get_space("nws")["dataset"] == Choice(NWS_DATASETS)


def test_nws_fixed_space_fixes_only_the_architecture():
    fixed = get_space("nws-fixed")
    arch = {"filter_size": 5, "conv_layers": 3, "fc_layers": 2, "conv_width": 8, "fc_width": 128}
    for key, value in arch.items():
        assert fixed[key] == Fixed(value)
    assert fixed.model_kwargs(fixed.sample(1, 0)[0]) == {
        **arch,
        "activation": fixed.sample(1, 0)[0]["activation"],
        "init": fixed.sample(1, 0)[0]["init"],
        "dropout": 0.5,
    }
    assert isinstance(fixed["optimizer"], Choice)


def test_schurholt_grid_has_256_configs_and_seeds_extend_it():
    space = get_space("schurholt-cnn")
    grid = space.grid()
    assert len(grid) == 256 == len(set(grid))
    assert {c["batch_size"] for c in grid} == {10}
    assert {c["epochs"] for c in grid} == {50}
    assert {c["activation"] for c in grid} == {"tanh", "relu", "sigmoid", "gelu"}
    assert len(space.grid(seed=[1, 2])) == 512
    model = space.create_model(grid[-1])
    assert sum(p.numel() for p in model.parameters()) == 2464


def test_grid_of_a_continuous_space_explains_the_fix():
    with pytest.raises(SpaceError, match=r"learning_rate: expected a finite parameter.*grid"):
        get_space("nws").grid()
    assert (
        len(get_space("nws-fixed").grid(learning_rate=[0.001], seed=[0])) == 5 * 4 * 2 * 3 * 4 * 4
    )


def test_parameter_kinds_sample_within_their_ranges():
    rng = np.random.default_rng(0)
    ints = IntRange(4, 20, step=4).sample(rng, 200)
    assert set(ints) == {4, 8, 12, 16, 20}
    logs = LogUniform(1e-4, 1e-1).sample(rng, 2000)
    assert all(1e-4 <= v <= 1e-1 for v in logs)
    assert 0.4 < np.mean([v < 10**-2.5 for v in logs]) < 0.6  # log-uniform median 10^-2.5
    assert Fixed(3).sample(rng, 2) == [3, 3]
    assert Choice((True, False)).contains(True)
    assert not Choice((1, 2)).contains(True)
    assert not Uniform(0, 1).contains(math.nan)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Uniform(2.0, 1.0), "low: expected low <= high"),
        (lambda: LogUniform(0.0, 1.0), "low: expected a number > 0"),
        (lambda: IntRange(0, 5, step=0), "step: expected an integer >= 1"),
        (lambda: IntRange(0.5, 5), "low: expected an integer"),
        (lambda: Choice(()), "values: expected a non-empty list"),
        (lambda: HyperSpace.create("s", {"a": 1}, model_keys=["b"]), "model_keys"),
    ],
)
def test_bad_parameters_are_refused(make, message):
    with pytest.raises(SpaceError, match=message):
        make()


def test_sample_checks_n_and_config_validation_names_the_key():
    space = get_space("schurholt-cnn")
    with pytest.raises(SpaceError, match="n: expected an integer >= 0"):
        space.sample(-1)
    cfg = space.sample(1, 0)[0].to_dict()
    with pytest.raises(SpaceError, match="dropout: expected a value of"):
        space.validate({**cfg, "dropout": 0.3})
    with pytest.raises(SpaceError, match="seed: expected a value, got '<missing>'"):
        space.validate({k: v for k, v in cfg.items() if k != "seed"})


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
@pytest.mark.parametrize("name", list_spaces())
def test_builtin_spaces_round_trip_through_files(tmp_path, name, suffix):
    if suffix == ".yaml":
        pytest.importorskip("yaml")
    space = get_space(name)
    path = dump_space(space, tmp_path / f"space{suffix}")
    loaded = load_space(path)
    assert loaded == space
    assert loaded.sample(5, 1) == space.sample(5, 1)


TOML = """
name = "small-mlp"
architecture = "mlp"
model_keys = ["activation", "hidden"]
[params]
seed = {kind = "int", low = 0, high = 1000}
learning_rate = {kind = "log-uniform", low = 1e-4, high = 1e-2}
activation = ["relu", "tanh"]
hidden = {kind = "choice", values = [[8], [8, 8]]}
width = {kind = "int", low = 4, high = 16, step = 4}
epochs = 20
"""


def test_user_space_from_toml(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(TOML)
    space = load_space(path)
    assert space.names == ("seed", "learning_rate", "activation", "hidden", "width", "epochs")
    assert space["hidden"] == Choice(((8,), (8, 8)))
    assert space["epochs"] == Fixed(20)
    cfg = space.sample(1, 0)[0]
    model = space.create_model(cfg, in_features=3, n_classes=2)
    assert model.hparams["hidden"] == cfg["hidden"]
    assert load_space(dump_space(space, tmp_path / "again.toml")) == space


def test_user_space_from_yaml(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "space.yml"
    path.write_text(
        "name: y\nparams:\n  lr: {kind: uniform, low: 0.1, high: 0.2}\n  act: [relu, elu]\n"
    )
    space = load_space(path)
    assert space["lr"] == Uniform(0.1, 0.2)
    assert space["act"] == Choice(("relu", "elu"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'name = "s"\n[params]\nlr = {kind = "gaussian", low = 0, high = 1}\n',
            r"space\.toml: params\.lr\.kind: expected one of .*got 'gaussian'",
        ),
        (
            'name = "s"\n[params]\nlr = {kind = "unifrom", low = 0, high = 1}\n',
            "did you mean 'uniform'",
        ),
        (
            'name = "s"\n[params]\nlr = {kind = "uniform", low = 0}\n',
            r"params\.lr\.high: expected a value for kind 'uniform', got '<missing>'; add high",
        ),
        (
            'name = "s"\n[params]\nlr = {kind = "uniform", low = 2, high = 1}\n',
            r"space\.toml: params\.lr\.low: expected low <= high \(1\), got 2; swap them",
        ),
        (
            'name = "s"\n[params]\nn = {kind = "int", low = 9, high = 1}\n',
            r"params\.n\.low: expected low <= high",
        ),
        (
            'name = "s"\n[params]\nlr = {kind = "uniform", low = 0, high = 1, lo = 3}\n',
            r"params\.lr\.lo: expected only \['kind', 'low', 'high'\]",
        ),
        ('name = "s"\n[params]\nlr = {low = 0, high = 1}\n', r"params\.lr\.kind: .*add kind"),
        ("[params]\nlr = 1\n", "name: expected a value, got '<missing>'; add a 'name' key"),
        ('name = "s"\n', "params: expected a value"),
        ('name = "s"\nseed = 1\n[params]\nlr = 1\n', "seed: expected one of"),
        ('name = "s"\narchitecture = "nws_cnn"\n[params]\nlr = 1\n', "did you mean 'nws-cnn'"),
        ('name = "s"\nmodel_keys = ["x"]\n[params]\nlr = 1\n', "model_keys: expected"),
        ('name = "s"\n[params\n', "not valid TOML"),
    ],
)
def test_bad_toml_files_name_file_key_expected_and_fix(tmp_path, text, message):
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(SpaceError, match=message):
        load_space(path)


def test_bad_paths(tmp_path):
    with pytest.raises(SpaceError, match=r"a \.toml, \.yaml or \.yml file, got '\.json'"):
        load_space(tmp_path / "space.json")
    with pytest.raises(SpaceError, match="no such file"):
        load_space(tmp_path / "missing.toml")


def test_yaml_without_pyyaml_gives_an_install_hint(tmp_path, monkeypatch):
    path = tmp_path / "space.yaml"
    path.write_text("name: y\nparams:\n  a: 1\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(SpaceError, match="pip install pyyaml"):
        load_space(path)


def test_register_and_get_spaces(monkeypatch):
    list_spaces()  # registers the built-in spaces, so that the copy holds them
    monkeypatch.setattr(space_module, "_SPACES", dict(space_module._SPACES))
    tiny = HyperSpace.create("tiny", {"a": [1, 2]})
    register_space("tiny", tiny)
    assert get_space("tiny") is tiny
    with pytest.raises(SpaceError, match="already registered"):
        register_space("tiny", tiny)
    with pytest.raises(SpaceError, match="did you mean 'tiny'"):
        get_space("tiney")
    assert issubclass(SpaceError, WeightspaceError)


def test_replace_and_config_mapping():
    space = get_space("tetris-mlp").replace(seed=IntRange(1, 1000), extra=range(3))
    assert space["extra"] == IntRange(0, 2)
    cfg = space.sample(1, 0)[0]
    assert dict(cfg) == cfg.to_dict()
    assert len(cfg) == len(space.names)
    assert list(cfg.values())[-1] in (0, 1, 2)
    with pytest.raises(KeyError, match="not a parameter"):
        cfg["nope"]
