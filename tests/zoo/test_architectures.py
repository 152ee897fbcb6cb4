import numpy as np
import pytest
import torch

from weightspace import WeightspaceError, load_weights
from weightspace.zoo.architectures import (
    ArchitectureError,
    SequentialNet,
    create_architecture,
    list_architectures,
    register_architecture,
    registry,
)

# Small but representative settings per registered architecture (fast on a CPU).
SMALL = {
    "nws-cnn": {"width_scale": 0.25, "input_size": 16, "fc_width": 64},
    "schurholt-cnn": {},
    "tetris-mlp": {},
    "mlp": {"in_features": 6, "hidden": (5, 4), "n_classes": 3},
}
BUILTIN = ("mlp", "nws-cnn", "schurholt-cnn", "tetris-mlp")


def _vector(model: torch.nn.Module) -> np.ndarray:
    return load_weights(model).vector()


def test_registry_lists_the_builtin_architectures():
    assert set(BUILTIN) <= set(list_architectures())
    assert list(list_architectures()) == sorted(list_architectures())


@pytest.mark.parametrize("name", list_architectures())
def test_forward_pass_gives_one_logit_per_class(name):
    net = create_architecture(name, seed=0, **SMALL.get(name, {}))
    assert isinstance(net, SequentialNet), f"{name!r} does not record its input shape"
    assert net.architecture == name
    x = torch.randn(3, *net.input_shape, generator=torch.Generator().manual_seed(1))
    assert net(x).shape == (3, net.n_classes)


@pytest.mark.parametrize("name", list_architectures())
def test_same_seed_gives_identical_weights_and_other_seeds_differ(name):
    kw = SMALL.get(name, {})
    a = _vector(create_architecture(name, seed=11, **kw))
    b = _vector(create_architecture(name, seed=11, **kw))
    c = _vector(create_architecture(name, seed=12, **kw))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", list_architectures())
def test_generator_and_seed_agree_and_global_rng_is_untouched(name):
    kw, state = SMALL.get(name, {}), torch.get_rng_state()
    from_seed = create_architecture(name, seed=5, **kw)
    from_gen = create_architecture(name, generator=torch.Generator().manual_seed(5), **kw)
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(_vector(from_seed), _vector(from_gen))


def test_schurholt_cnn_has_the_exact_layer_sizes():
    net = create_architecture("schurholt-cnn", seed=0)
    sizes = {}
    for name, p in net.named_parameters():
        sizes[name.split(".")[0]] = sizes.get(name.split(".")[0], 0) + p.numel()
    assert sizes == {"0": 208, "3": 1206, "6": 100, "9": 740, "11": 210}
    assert sum(sizes.values()) == 2464
    assert load_weights(net).n_params == 2464
    assert net[8].__class__ is torch.nn.Flatten
    assert net[9].in_features == 36


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "gelu"])
@pytest.mark.parametrize("init", ["uniform", "normal", "kaiming_uniform", "kaiming_normal"])
def test_schurholt_cnn_grid_options_keep_2464_parameters(activation, init):
    net = create_architecture(
        "schurholt-cnn", seed=0, activation=activation, init=init, dropout=0.5
    )
    assert sum(p.numel() for p in net.parameters()) == 2464
    assert sum(isinstance(m, torch.nn.Dropout) for m in net) == 3
    biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
    assert all(torch.all(b == 0.01) for b in biases)


def test_schurholt_uniform_init_is_torch_default_unit_interval():
    net = create_architecture("schurholt-cnn", seed=0, init="uniform")
    w = net[0].weight
    assert w.min() >= 0.0
    assert w.max() < 1.0


def test_tetris_mlp_has_100_parameters_without_bias():
    net = create_architecture("tetris-mlp", seed=0)
    assert [tuple(p.shape) for p in net.parameters()] == [(5, 16), (4, 5)]
    assert load_weights(net).n_params == 100
    assert net(torch.zeros(2, 16)).shape == (2, 4)


BLOCKS = {3: [1, 1, 1], 4: [1, 1, 2], 5: [1, 2, 2]}


@pytest.mark.parametrize(
    ("filter_size", "conv_layers", "fc_layers", "conv_width", "fc_width"),
    [(5, 3, 2, 8, 128), (3, 4, 3, 4, 64), (7, 5, 4, 12, 192), (3, 5, 2, 8, 192)],
)
def test_nws_cnn_layer_shapes_follow_the_builder(
    filter_size, conv_layers, fc_layers, conv_width, fc_width
):
    net = create_architecture(
        "nws-cnn",
        seed=0,
        filter_size=filter_size,
        conv_layers=conv_layers,
        fc_layers=fc_layers,
        conv_width=conv_width,
        fc_width=fc_width,
    )
    expected = []
    channels = 3
    for c, count in enumerate(BLOCKS[conv_layers]):
        for _ in range(count):
            width = conv_width * 2**c
            expected.append((width, channels, filter_size, filter_size))
            channels = width
    features = channels * 4 * 4  # 32 -> 16 -> 8 -> 4
    for c in range(fc_layers):
        units = fc_width // 2**c
        expected.append((units, features))
        features = units
    expected.append((10, features))
    ws = load_weights(net)
    assert [t.shape for t in ws if t.role == "kernel"] == expected
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_nws_fixed_architecture_has_the_papers_weight_counts():
    # The authors' final layer had 20 outputs; with it the fixed architecture has 92,868 weights,
    # 16,880 in the conv layers and 75,988 in the FC layers (supplementary, section B).
    ws = load_weights(create_architecture("nws-cnn", seed=0, n_classes=20))
    conv = sum(t.size for t in ws.float_tensors if t.layer.startswith("conv"))
    assert (ws.n_params, conv, ws.n_params - conv) == (92868, 16880, 75988)


@pytest.mark.parametrize(
    ("config", "count"), [((3, 3, 2, 4, 64), 21260), ((7, 5, 4, 12, 192), 388172)]
)
def test_nws_smallest_and_largest_models_fit_20k_to_390k_weights(config, count):
    keys = ("filter_size", "conv_layers", "fc_layers", "conv_width", "fc_width")
    net = create_architecture(
        "nws-cnn", seed=0, n_classes=20, **dict(zip(keys, config, strict=True))
    )
    assert load_weights(net).n_params == count
    assert 20_000 <= count <= 390_000


def test_nws_layerwise_statistics_give_480_features():
    # 3 conv + 2 hidden FC layers, each kernel, bias, BN gamma, beta, mean, var: 30 groups x 16
    # statistics = 480 features; the logits layer adds its own kernel and bias groups.
    ws = load_weights(create_architecture("nws-cnn", seed=0))
    groups = list(dict.fromkeys((t.layer, t.role) for t in ws.float_tensors))
    bn_layers = {t.layer for t in ws.float_tensors if t.role == "bn_gamma"}
    assert bn_layers == {"conv11", "conv21", "conv31", "fc1", "fc2"}
    in_bn_layers = [g for g in groups if g[0] in bn_layers]
    assert len(in_bn_layers) == 30
    assert len(in_bn_layers) * 16 == 480
    assert [g for g in groups if g[0] not in bn_layers] == [
        ("fc_final", "kernel"),
        ("fc_final", "bias"),
    ]


def test_nws_vector_is_kernel_bias_then_batch_norm_per_layer():
    net = create_architecture("nws-cnn", seed=0, width_scale=0.25)
    with torch.no_grad():  # non-trivial running statistics
        net(torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    state = net.state_dict()
    parts = []
    for conv in ("conv11", "conv21", "conv31"):
        bn = f"{conv}_bn"
        for key in (f"{conv}.weight", f"{conv}.bias", f"{bn}.weight", f"{bn}.bias"):
            parts.append(state[key])
        parts += [state[f"{bn}.running_mean"], state[f"{bn}.running_var"]]
    for fc in ("fc1", "fc2"):
        for key in ("weight", "bias"):
            parts.append(state[f"{fc}.{key}"])
        for key in ("weight", "bias", "running_mean", "running_var"):
            parts.append(state[f"{fc}_bn.{key}"])
    parts += [state["fc_final.weight"], state["fc_final.bias"]]
    expected = torch.cat([p.reshape(-1) for p in parts]).numpy()
    np.testing.assert_array_equal(load_weights(net).vector(), expected)


def test_nws_initializations():
    constant = create_architecture("nws-cnn", seed=0, init="constant", width_scale=0.25)
    kernels = [m.weight for m in constant if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    assert all(torch.all(w == 0.1) for w in kernels)
    assert all(torch.all(m.bias == 0) for m in constant if isinstance(m, torch.nn.Linear))
    normal = create_architecture("nws-cnn", seed=0, init="normal")
    assert abs(float(normal.fc1.weight.detach().std()) - 1.0) < 0.02
    glorot = create_architecture("nws-cnn", seed=0, init="glorot_normal")
    w = glorot.fc1.weight.detach()  # 512 -> 128, truncated at 2 std as in TensorFlow 1.x
    std = (2.0 / (512 + 128)) ** 0.5
    assert abs(float(w.std()) / std - 1.0) < 0.02
    assert float(w.abs().max()) <= 2 * std / 0.87962566103423978 + 1e-6
    bn = glorot.conv11_bn
    gamma = bn.weight.detach()
    assert abs(float(gamma.mean()) - 1.0) < 0.01
    assert 0 < float(gamma.std()) < 0.01
    assert torch.all(bn.running_var == 1)
    assert torch.all(bn.running_mean == 0)


def test_width_scale_shrinks_every_hidden_width():
    net = create_architecture("nws-cnn", seed=0, width_scale=0.5)
    assert net.conv11.out_channels == 4
    assert net.conv31.out_channels == 16
    assert net.fc1.out_features == 64
    assert net.fc_final.out_features == 10


def test_mlp_with_batch_norm_and_default_init():
    net = create_architecture("mlp", seed=0, in_features=4, hidden=(8,), batch_norm=True)
    assert [type(m).__name__ for m in net] == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    bound = 1 / 4**0.5
    assert float(net.get_submodule("0").bias.detach().abs().max()) <= bound


def test_mlps_flatten_image_inputs():
    net = create_architecture("tetris-mlp", seed=0)
    x = torch.rand(3, 1, 4, 4)
    torch.testing.assert_close(net(x), net(x.reshape(3, 16)))
    assert list(net.state_dict()) == ["0.weight", "2.weight"]


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ArchitectureError, match="did you mean 'nws-cnn'"):
        create_architecture("nws_cnn")
    assert issubclass(ArchitectureError, WeightspaceError)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"widht": 3}, "unknown parameter widht; accepted: .*conv_width"),
        ({"activation": "gelu"}, r"activation must be one of \['relu', 'elu'"),
        ({"init": "xavier"}, "init must be one of"),
        ({"conv_layers": 2}, "conv_layers must be an int >= 3"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"width_scale": 0}, "width_scale must be > 0"),
    ],
)
def test_bad_parameters_name_what_was_expected(kw, message):
    with pytest.raises(ArchitectureError, match=message):
        create_architecture("nws-cnn", seed=0, **kw)


def test_seed_and_generator_are_exclusive_and_seed_is_checked():
    with pytest.raises(ArchitectureError, match="not both"):
        create_architecture("mlp", seed=1, generator=torch.Generator())
    with pytest.raises(ArchitectureError, match="non-negative int"):
        create_architecture("mlp", seed=-1)


def test_register_a_custom_architecture(monkeypatch):
    list_architectures()  # registers the built-in families, so that the copy holds them
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    def tiny(*, generator, width=2):
        layer = torch.nn.Linear(width, 1)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator))
        return layer

    register_architecture("tiny", tiny)
    assert "tiny" in list_architectures()
    assert create_architecture("tiny", seed=0, width=3).weight.shape == (1, 3)
    with pytest.raises(ArchitectureError, match="already registered"):
        register_architecture("tiny", tiny)
