"""ONNX models that keep their weights in Constant nodes (also inside If/Loop subgraphs, as Silero
VAD does), and ONNX files that try to read outside their folder or to allocate without bound."""

from __future__ import annotations

import numpy as np
import pytest

from weightspace import CheckpointError, load_weights
from weightspace.errors import WeightLimitError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

RNG = np.random.default_rng(0)
W1 = RNG.normal(size=(4, 3)).astype(np.float32)  # (in, out), as MatMul stores it
B1 = RNG.normal(size=3).astype(np.float32)
W2 = RNG.normal(size=(4, 3)).astype(np.float32)
B2 = RNG.normal(size=3).astype(np.float32)


def const(name, array):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array, name))


def dense_nodes(prefix, w, b, x="x", y="y"):
    """``y = x @ w + b`` with ``w`` a Constant tensor and ``b`` a Constant ``value_floats``."""
    return [
        const(f"{prefix}.weight", w),
        helper.make_node("Constant", [], [f"{prefix}.bias"], value_floats=b.tolist()),
        helper.make_node("MatMul", [x, f"{prefix}.weight"], [f"{prefix}.mm"]),
        helper.make_node("Add", [f"{prefix}.mm", f"{prefix}.bias"], [y]),
    ]


def save(graph, path, **kw):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path), **kw)
    return path


X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])


def test_weights_in_constant_nodes_are_read(tmp_path):
    nodes = [
        *dense_nodes("fc", W1, B1, y="h"),
        helper.make_node("Constant", [], ["half"], value_float=0.5),  # arithmetic, not a weight
        helper.make_node("Constant", [], ["shape"], value_ints=[1, 3]),  # a shape, not a weight
        helper.make_node("Mul", ["h", "half"], ["m"]),
        helper.make_node("Reshape", ["m", "shape"], ["y"]),
    ]
    path = save(helper.make_graph(nodes, "consts", [X], [Y]), tmp_path / "consts.onnx")
    x = RNG.normal(size=(1, 4)).astype(np.float32)
    np.testing.assert_allclose(
        ReferenceEvaluator(str(path)).run(None, {"x": x})[0], (x @ W1 + B1) * 0.5, rtol=1e-6
    )
    ws = load_weights(path)
    assert ws.names == ("fc.weight", "fc.bias")
    assert [t.role for t in ws] == ["kernel", "bias"]
    np.testing.assert_array_equal(ws["fc.weight"].array, W1.T)  # PyTorch layout (out, in)
    np.testing.assert_array_equal(ws.vector(), np.concatenate([W1.T.ravel(), B1]))


def test_weights_in_both_branches_of_an_if_are_read(tmp_path):
    """Silero VAD's layout: one If on the sample rate, each branch holding its own weights."""
    then_graph = helper.make_graph(dense_nodes("sr16k.fc", W1, B1), "then", [], [Y])
    else_graph = helper.make_graph(dense_nodes("sr8k.fc", W2, B2), "else", [], [Y])
    flag = helper.make_tensor_value_info("is_16k", TensorProto.BOOL, [])
    node = helper.make_node("If", ["is_16k"], ["y"], then_branch=then_graph, else_branch=else_graph)
    path = save(helper.make_graph([node], "vad", [X, flag], [Y]), tmp_path / "vad.onnx")
    x = RNG.normal(size=(1, 4)).astype(np.float32)
    run = ReferenceEvaluator(str(path)).run
    np.testing.assert_allclose(run(None, {"x": x, "is_16k": np.array(True)})[0], x @ W1 + B1, 1e-6)
    np.testing.assert_allclose(run(None, {"x": x, "is_16k": np.array(False)})[0], x @ W2 + B2, 1e-6)

    ws = load_weights(path)
    assert ws.names == ("sr16k.fc.weight", "sr16k.fc.bias", "sr8k.fc.weight", "sr8k.fc.bias")
    assert ws.layers == ("sr16k.fc", "sr8k.fc")
    assert [t.role for t in ws] == ["kernel", "bias", "kernel", "bias"]
    np.testing.assert_array_equal(ws.vector(), np.concatenate([W1.T.ravel(), B1, W2.T.ravel(), B2]))


def test_initializers_come_first_then_constants_in_graph_order_also_in_a_loop(tmp_path):
    """An initializer of the main graph, then a Loop whose body holds a Constant weight."""
    square = RNG.normal(size=(3, 3)).astype(np.float32)
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            const("step.weight", square),
            helper.make_node("MatMul", ["h_in", "step.weight"], ["h_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("h_in", TensorProto.FLOAT, [1, 3]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, 3]),
        ],
    )
    nodes = [
        helper.make_node("MatMul", ["x", "in.weight"], ["h0"]),
        helper.make_node("Constant", [], ["trips"], value=numpy_helper.from_array(np.int64(2))),
        helper.make_node("Constant", [], ["true"], value=numpy_helper.from_array(np.bool_(True))),
        helper.make_node("Loop", ["trips", "true", "h0"], ["y"], body=body),
    ]
    graph = helper.make_graph(
        nodes, "loop", [X], [Y], initializer=[numpy_helper.from_array(W1, "in.weight")]
    )
    path = save(graph, tmp_path / "loop.onnx")
    x = RNG.normal(size=(1, 4)).astype(np.float32)
    np.testing.assert_allclose(
        ReferenceEvaluator(str(path)).run(None, {"x": x})[0], x @ W1 @ square @ square, rtol=1e-5
    )
    ws = load_weights(path)
    assert ws.names == ("in.weight", "step.weight")  # the int64 trip count is no weight
    np.testing.assert_array_equal(ws["step.weight"].array, square.T)


def test_sparse_constant_is_read_dense(tmp_path):
    values = numpy_helper.from_array(np.array([1.5, -2.0], np.float32), "sp.weight")
    indices = numpy_helper.from_array(np.array([1, 10], np.int64), "sp.idx")
    sparse = helper.make_sparse_tensor(values, indices, [4, 3])
    nodes = [
        helper.make_node("Constant", [], ["sp.weight"], sparse_value=sparse),
        helper.make_node("MatMul", ["x", "sp.weight"], ["y"]),
    ]
    path = save(helper.make_graph(nodes, "sparse", [X], [Y]), tmp_path / "sparse.onnx")
    dense = np.zeros(12, np.float32)
    dense[[1, 10]] = [1.5, -2.0]
    np.testing.assert_array_equal(load_weights(path)["sp.weight"].array, dense.reshape(4, 3).T)


def test_model_without_any_weight_is_refused(tmp_path, refused):
    nodes = [helper.make_node("Constant", [], ["two"], value_float=2.0)]
    nodes.append(helper.make_node("Mul", ["x", "two"], ["y"]))
    X3 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    path = save(helper.make_graph(nodes, "none", [X3], [Y]), tmp_path / "noweights.onnx")
    refused(path, "no initializers and no weight constants")


# ------------------------------------------------------------------------------- external data
def external_model(tmp_path, name="ext.onnx"):
    nodes = [helper.make_node("MatMul", ["x", "fc.weight"], ["y"])]
    init = numpy_helper.from_array(W1, "fc.weight")
    graph = helper.make_graph(nodes, "ext", [X], [Y], initializer=[init])
    return save(
        graph,
        tmp_path / name,
        save_as_external_data=True,
        location="weights.bin",
        size_threshold=0,
    )


def set_location(path, location, **extra):
    model = onnx.load(str(path), load_external_data=False)
    tensor = model.graph.initializer[0]
    entries = {e.key: e.value for e in tensor.external_data} | {"location": location} | extra
    del tensor.external_data[:]
    for key, value in entries.items():
        tensor.external_data.add(key=key, value=str(value))
    onnx.save(model, str(path))
    return path


def test_external_data_next_to_the_model_is_read(tmp_path):
    path = external_model(tmp_path)
    assert (tmp_path / "weights.bin").stat().st_size == W1.nbytes
    np.testing.assert_array_equal(load_weights(path)["fc.weight"].array, W1.T)


@pytest.mark.parametrize(
    ("location", "pattern"),
    [
        ("../outside.bin", "external data location '../outside.bin' is not a file name inside"),
        ("/etc/passwd", "external data location '/etc/passwd' is not a file name inside"),
        ("sub/../../outside.bin", "is not a file name inside the model's folder"),
        ("missing.bin", "external data file 'missing.bin' is missing or lies outside"),
        ("link.bin", "external data file 'link.bin' is missing or lies outside"),
    ],
)
def test_external_data_outside_the_folder_is_refused(tmp_path, refused, location, pattern):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (tmp_path / "outside.bin").write_bytes(W1.tobytes())
    (model_dir / "link.bin").symlink_to(tmp_path / "outside.bin")  # a symlink leading out
    path = set_location(external_model(model_dir), location)
    with pytest.raises(CheckpointError, match=r"refused|outside"):
        load_weights(path)
    refused(path, pattern)


def test_external_data_of_the_wrong_length_is_refused(tmp_path, refused):
    path = set_location(external_model(tmp_path), "weights.bin", length=8)
    refused(path, r"does not hold the 48 bytes its shape needs")


def test_a_tiny_file_declaring_terabytes_is_refused_before_allocating(tmp_path, refused):
    """A 200-byte model whose external tensor claims 2**40 floats: refused by the declared size,
    before any read or allocation."""
    huge = TensorProto(name="fc.weight", data_type=TensorProto.FLOAT, dims=[2**20, 2**20])
    huge.data_location = TensorProto.EXTERNAL
    huge.external_data.add(key="location", value="weights.bin")
    (tmp_path / "weights.bin").write_bytes(b"\0" * 64)
    nodes = [helper.make_node("MatMul", ["x", "fc.weight"], ["y"])]
    graph = helper.make_graph(nodes, "bomb", [X], [Y], initializer=[huge])
    path = tmp_path / "bomb.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert path.stat().st_size < 400
    with pytest.raises(WeightLimitError, match=r"declare 1,099,511,627,776 weights"):
        load_weights(path)
    refused(path, r"ONNX tensors declare 1,099,511,627,776 weights, over the limit")


def test_max_weights_counts_constants_too(tmp_path):
    then_graph = helper.make_graph(dense_nodes("a", W1, B1), "then", [], [Y])
    else_graph = helper.make_graph(dense_nodes("b", W2, B2), "else", [], [Y])
    flag = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    node = helper.make_node("If", ["c"], ["y"], then_branch=then_graph, else_branch=else_graph)
    path = save(helper.make_graph([node], "g", [X, flag], [Y]), tmp_path / "two.onnx")
    from weightspace.io.onnx_format import read_onnx

    assert read_onnx(path, max_weights=30).n_params == 30
    with pytest.raises(WeightLimitError, match="declare 30 weights, over the limit of 29"):
        read_onnx(path, max_weights=29)


def test_names_that_are_not_utf8_are_refused(tmp_path, refused):
    # protobuf returns proto2 strings that are not valid UTF-8 as bytes (found by fuzzing)
    t = numpy_helper.from_array(np.ones((2, 3), np.float32), name="wAAA")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "wAAA"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [t],
    )
    path = tmp_path / "names.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString().replace(b"wAAA", b"w\xff\xfeA"))
    refused(path, "is not valid UTF-8 text")
