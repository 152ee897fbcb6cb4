"""Every reader on real files written by the real libraries."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from weightspace import WeightSet, detect_format, load_weights
from weightspace.io.safetensors_format import map_tensors

ROLES_OF_CNN = [
    "kernel",
    "bias",
    "bn_gamma",
    "bn_beta",
    "bn_mean",
    "bn_var",
    "other",
    "kernel",
    "bias",
]


def nws_vector(model: torch.nn.Module) -> np.ndarray:
    """The NWS vector by hand: per layer kernel, bias, then BN gamma, beta, mean, var."""
    s = model.state_dict()
    parts = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"]
    parts += ["4.weight", "4.bias"]
    return np.concatenate([s[p].numpy().ravel() for p in parts])


def test_module_roles_layers_and_nws_vector(cnn):
    ws = load_weights(cnn)
    assert [t.role for t in ws] == ROLES_OF_CNN
    assert ws.layers == ("0", "4")  # batch norm merged into the conv layer before it
    np.testing.assert_array_equal(ws.vector(), nws_vector(cnn))
    assert ws.vector().dtype == np.float32
    assert ws["1.num_batches_tracked"].array.dtype == np.int64


def test_torch_save_state_dict(tmp_path, cnn):
    path = tmp_path / "model.pt"
    torch.save(cnn.state_dict(), path)
    ws = load_weights(path)
    assert detect_format(path) == "torch"
    assert ws.structure() == load_weights(cnn).structure()
    np.testing.assert_array_equal(ws.vector(), nws_vector(cnn))


def test_torch_nested_training_checkpoint(tmp_path, cnn):
    path = tmp_path / "ckpt.pth"
    opt = torch.optim.Adam(cnn.parameters())
    torch.save(
        {"epoch": 3, "model_state_dict": cnn.state_dict(), "optimizer": opt.state_dict()}, path
    )
    np.testing.assert_array_equal(load_weights(path).vector(), nws_vector(cnn))


def test_torch_legacy_non_zip_format(tmp_path, cnn):
    path = tmp_path / "legacy.bin"
    torch.save(cnn.state_dict(), path, _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(path)
    np.testing.assert_array_equal(load_weights(path).vector(), nws_vector(cnn))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_half_and_double_are_converted_to_float32(tmp_path, cnn, dtype):
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in cnn.state_dict().items()}
    path = tmp_path / "half.pt"
    torch.save(state, path)
    ws = load_weights(path)
    assert ws.vector().dtype == np.float32
    expected = torch.cat([v.float().ravel() for k, v in state.items() if v.is_floating_point()])
    np.testing.assert_array_equal(np.sort(ws.vector()), np.sort(expected.numpy()))


def _is_memory_mapped(array: np.ndarray) -> bool:
    while array is not None:
        if isinstance(array, np.memmap):
            return True
        array = array.base
    return False


def test_safetensors_file_is_memory_mapped(tmp_path, cnn, monkeypatch):
    from safetensors.torch import save_file

    from weightspace.io import safetensors_format

    monkeypatch.setattr(safetensors_format, "MMAP_THRESHOLD", 0)  # a "large" file

    path = tmp_path / "model.safetensors"
    save_file(cnn.state_dict(), str(path))
    ws = load_weights(path)
    assert detect_format(path) == "safetensors"
    assert _is_memory_mapped(ws["4.weight"].array)
    arrays, _ = map_tensors(path)
    assert all(_is_memory_mapped(a) for a in arrays.values())
    assert ws.structure() == load_weights(cnn).structure()
    np.testing.assert_array_equal(ws.vector(), nws_vector(cnn))


def test_safetensors_bf16(tmp_path):
    from safetensors.torch import save_file

    t = torch.randn(5, 3).to(torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    save_file({"fc.weight": t}, str(path))
    np.testing.assert_array_equal(load_weights(path).vector(), t.float().numpy().ravel())


def test_hugging_face_transformer_checkpoint(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50, n_positions=32)
    model = transformers.GPT2LMHeadModel(config)
    model.save_pretrained(tmp_path / "gpt2")
    ws = load_weights(tmp_path / "gpt2" / "model.safetensors")
    roles = {t.name: t.role for t in ws}
    assert roles["transformer.h.0.attn.c_attn.weight"] == "kernel"
    assert roles["transformer.h.0.attn.c_attn.bias"] == "bias"
    assert roles["transformer.h.0.ln_1.weight"] == "bn_gamma"
    assert roles["transformer.h.0.ln_1.bias"] == "bn_beta"
    assert roles["transformer.wte.weight"] == "kernel"
    # natural order: block 1 after block 0, layers of a block contiguous
    assert ws.names.index("transformer.h.1.ln_1.weight") > ws.names.index(
        "transformer.h.0.mlp.c_proj.bias"
    )
    state = {k: v for k, v in model.state_dict().items() if k in ws}
    assert ws.n_params == sum(v.numel() for v in state.values())
    np.testing.assert_array_equal(
        ws["transformer.h.1.mlp.c_fc.weight"].array,
        state["transformer.h.1.mlp.c_fc.weight"].numpy(),
    )


def _keras_model():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="c1"),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, name="d1"),
        ]
    )
    bn = model.get_layer("bn1")
    bn.moving_mean.assign(np.arange(4, dtype="float32"))
    bn.moving_variance.assign(np.arange(1, 5, dtype="float32"))
    return model


def _keras_expected(model) -> np.ndarray:
    kernel, bias = (np.asarray(w) for w in model.get_layer("c1").weights)
    bn = [np.asarray(w) for w in model.get_layer("bn1").weights]
    dk, db = (np.asarray(w) for w in model.get_layer("d1").weights)
    parts = [kernel.transpose(3, 2, 0, 1), bias, *bn, dk.T, db]
    return np.concatenate([p.ravel() for p in parts])


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_files_written_by_keras(tmp_path, suffix):
    model = _keras_model()
    path = tmp_path / f"model{suffix}"
    model.save(path)
    ws = load_weights(path)
    assert detect_format(path) == ("keras-zip" if suffix == ".keras" else "keras-h5")
    assert [t.role for t in ws] == [
        "kernel",
        "bias",
        "bn_gamma",
        "bn_beta",
        "bn_mean",
        "bn_var",
        "kernel",
        "bias",
    ]
    assert ws.tensors[0].shape == (4, 1, 3, 3)  # transposed from Keras (3, 3, 1, 4)
    assert len(ws.layers) == 2
    np.testing.assert_array_equal(ws.vector(), _keras_expected(model))


def test_keras_weights_h5_without_config_keeps_roles(tmp_path):
    model = _keras_model()
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    ws = load_weights(path)
    roles = {t.name: t.role for t in ws}
    assert roles["batch_normalization/moving_variance"] == "bn_var"
    assert roles["conv2d/kernel"] == "kernel"
    np.testing.assert_array_equal(np.sort(ws.vector()), np.sort(_keras_expected(model)))


def test_keras2_layout_written_with_h5py(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(3, 5)).astype("f4"), rng.normal(size=5).astype("f4")
    path = tmp_path / "tf2.h5"
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = [b"dense"]
        g = root.create_group("dense")
        g.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        g.create_dataset("dense/kernel:0", data=kernel)
        g.create_dataset("dense/bias:0", data=bias)
    ws = load_weights(path)
    assert ws.names == ("dense/kernel", "dense/bias")
    np.testing.assert_array_equal(ws["dense/kernel"].array, kernel.T)


def test_onnx_export_of_torch_model(tmp_path):
    pytest.importorskip("onnxscript")
    gen = torch.Generator().manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)
    ).eval()
    path = tmp_path / "model.onnx"
    torch.onnx.export(
        model, (torch.randn(2, 6, generator=gen),), str(path), dynamo=True, verbose=False
    )
    ws = load_weights(path)
    assert detect_format(path) == "onnx"
    assert [t.role for t in ws.float_tensors] == ["kernel", "bias", "kernel", "bias"]
    np.testing.assert_array_equal(ws.vector(), load_weights(model).vector())


@pytest.mark.filterwarnings(
    "ignore"
)  # torch's legacy exporter warns about itself; the file is real
def test_onnx_batchnorm_roles_from_graph(tmp_path, cnn):
    path = tmp_path / "bn.onnx"
    cnn.train()
    torch.onnx.export(
        cnn,
        (torch.randn(2, 1, 8, 8),),
        str(path),
        dynamo=False,
        training=torch.onnx.TrainingMode.TRAINING,
        do_constant_folding=False,
    )
    ws = load_weights(path)
    expected = load_weights(cnn.eval())
    assert [t.role for t in ws.float_tensors] == [t.role for t in expected.float_tensors]
    np.testing.assert_array_equal(ws.vector(), expected.vector())


def test_onnx_matmul_weights_are_transposed(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.arange(12, dtype=np.float32).reshape(4, 3)  # (in, out) as MatMul stores it
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        initializer=[numpy_helper.from_array(w, "W")],
    )
    path = tmp_path / "matmul.onnx"
    onnx.save(helper.make_model(graph), str(path))
    ws = load_weights(path)
    assert ws.tensors[0].role == "kernel"
    np.testing.assert_array_equal(ws.tensors[0].array, w.T)


def test_npz_keeps_save_order_and_npy_is_one_vector(tmp_path, cnn):
    state = {k: v.numpy() for k, v in cnn.state_dict().items()}
    npz = tmp_path / "model.npz"
    np.savez(npz, **state)
    ws = load_weights(npz)
    assert ws.names == load_weights(cnn).names
    np.testing.assert_array_equal(ws.vector(), nws_vector(cnn))

    npy = tmp_path / "vector.npy"
    np.save(npy, nws_vector(cnn))
    flat = load_weights(npy)
    assert flat.names == ("weights",)
    np.testing.assert_array_equal(flat.vector(), nws_vector(cnn))


def test_reader_is_chosen_by_content_not_extension(tmp_path, cnn):
    from safetensors.torch import save_file

    misnamed = tmp_path / "model.pt"
    save_file(cnn.state_dict(), str(misnamed))
    assert detect_format(misnamed) == "safetensors"
    np.testing.assert_array_equal(load_weights(misnamed).vector(), nws_vector(cnn))
    npz_as_bin = tmp_path / "weights.bin"
    with npz_as_bin.open("wb") as f:
        np.savez(f, w=np.ones((2, 2), np.float32))
    assert detect_format(npz_as_bin) == "npz"


def test_state_dict_and_weightset_sources(cnn):
    ws = load_weights(cnn.state_dict())
    assert load_weights(ws) is ws
    np.testing.assert_array_equal(ws.vector(), nws_vector(cnn))
    with pytest.raises(TypeError, match="load_weights takes a path"):
        load_weights(42)


def test_written_safetensors_restore_order_roles_and_layers(tmp_path, cnn):
    from weightspace.io.safetensors_format import weightset_metadata, write_safetensors

    ws = load_weights(cnn)
    path = tmp_path / "out.safetensors"
    write_safetensors(path, dict(ws.to_numpy()), metadata=weightset_metadata(ws))
    back = load_weights(path)
    assert back.structure() == ws.structure()
    header = json.loads(path.read_bytes()[8 : 8 + int.from_bytes(path.read_bytes()[:8], "little")])
    assert "weightspace.order" in header["__metadata__"]
    assert isinstance(back, WeightSet)


def test_integer_tensors_are_other_and_outside_the_vector(tmp_path):
    path = tmp_path / "q.pt"
    torch.save({"fc.weight": torch.ones(2, 2), "fc.qidx": torch.arange(4, dtype=torch.int32)}, path)
    ws = load_weights(path)
    assert ws["fc.qidx"].role == "other"
    assert ws.n_params == 4
    assert ws.vector().shape == (4,)
