"""ONNX models: the graph's initializers and weight constants, with roles from the operators that
use them.

What is read, in this order: the initializers (dense and sparse) of the main graph, then its
``Constant`` nodes in graph order, descending into the subgraphs of ``If``/``Loop``/``Scan`` nodes
(their initializers, then their constants; ``then_branch`` before ``else_branch``) where those
nodes stand. Models that keep their weights
in constants (Silero VAD keeps them in the branches of an ``If``) are read like any other. A constant
is a weight when it is floating point and has at least one dimension (``value``, ``sparse_value``,
``value_floats``); scalars and integer constants (shapes, indices, ``value_float``, ``value_ints``)
are arithmetic, not weights, and are left out. Constants are named by their output.

Roles come from the graph (``Conv``/``Gemm``/``MatMul`` weight and bias inputs, the four
``BatchNormalization`` inputs, ``LayerNormalization`` scale and bias), so exports that rename tensors
(``onnx::Conv_12``) still get the right roles. ``MatMul`` weights and ``Gemm`` weights with
``transB=0`` are stored ``(in, out)``; they are transposed to the PyTorch layout ``(out, in)``.

Untrusted files: the model is parsed without loading external data; the elements every tensor
declares are summed and checked against ``max_weights`` before any tensor is converted; external
data is read only from regular files inside the model's folder (a relative location without ``..``
whose real path, symlinks resolved, stays in the folder), and only the bytes the tensor declares.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from weightspace.errors import CheckpointError
from weightspace.io.limits import DEFAULT_MAX_WEIGHTS, check_declared_weights
from weightspace.io.naming import assign_roles, split_name
from weightspace.io.weightset import Role, WeightSet

__all__ = ["read_onnx"]

_INPUT_ROLES: dict[str, tuple[Role | None, ...]] = {
    "Conv": (None, "kernel", "bias"),
    "ConvTranspose": (None, "kernel", "bias"),
    "Gemm": (None, "kernel", "bias"),
    "MatMul": (None, "kernel"),
    "BatchNormalization": (None, "bn_gamma", "bn_beta", "bn_mean", "bn_var"),
    "LayerNormalization": (None, "bn_gamma", "bn_beta"),
    "InstanceNormalization": (None, "bn_gamma", "bn_beta"),
    "Add": (None, "bias"),
}
#: ``TensorProto.data_type`` codes of floating-point tensors (FLOAT, FLOAT16, DOUBLE, BFLOAT16).
_FLOAT_TYPES = {1, 10, 11, 16}
_EXTERNAL = 1  # TensorProto.EXTERNAL


@dataclass
class _Stored:
    """One stored tensor: a TensorProto, a SparseTensorProto, or a list of floats."""

    value: Any
    kind: str  # "dense", "sparse" or "floats"

    def dims(self) -> list[int]:
        if self.kind == "floats":
            return [len(self.value)]
        return [int(d) for d in self.value.dims]


def read_onnx(path: Path, *, max_weights: int | None = DEFAULT_MAX_WEIGHTS) -> WeightSet:
    """Read the initializers and weight constants of an ONNX model.

    Parameters
    ----------
    path : Path
        The ``.onnx`` file; external data files must lie in its folder.
    max_weights : int or None, default=DEFAULT_MAX_WEIGHTS
        Refuse a model whose tensors declare more elements (checked before converting any).

    Raises
    ------
    CheckpointError
        Not a readable ONNX model, no stored weights, a tensor that cannot be read, or external data
        outside the model's folder.
    WeightLimitError
        The tensors declare more than ``max_weights`` elements.
    """
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "reading ONNX files needs onnx: pip install 'weightspace[onnx]'"
        ) from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, ValueError, OSError...
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise CheckpointError(
            path, f"not a readable ONNX model ({type(exc).__name__}: {detail[:200]})"
        ) from None
    stored: dict[str, _Stored] = {}
    nodes: list[tuple[int, Any]] = []
    for graph in _graphs(model.graph):
        _collect(graph, stored, nodes)
    if not stored:
        raise CheckpointError(
            path,
            "the ONNX graph holds no initializers and no weight constants (no stored weights)",
        )
    _check_names(path, stored, nodes)
    declared = 0
    for name, item in stored.items():
        dims = item.dims()
        if any(d < 0 for d in dims):
            raise CheckpointError(path, f"tensor {name!r} declares a negative dimension {dims}")
        declared += math.prod(dims)
    check_declared_weights(path, declared, max_weights, what="ONNX tensors")

    roles, layer_of, transpose = _roles_from_graph(nodes, stored)
    folder = path.resolve().parent
    arrays: dict[str, np.ndarray] = {}
    for name, item in stored.items():
        array = _to_array(path, folder, name, item)
        if name in transpose:
            array = array.T
        layer, _ = split_name(name)
        key = name if layer or name not in layer_of else f"{layer_of[name]}/{name}"
        if key != name:
            roles[key] = roles.pop(name)
        arrays[key] = array
    return assign_roles(arrays, source=str(path), roles=roles)


def _check_names(path: Path, stored: dict[Any, Any], nodes: list[tuple[int, Any]]) -> None:
    """Refuse tensor and node names that are not text: protobuf hands proto2 strings that are not
    valid UTF-8 back as bytes."""
    names = list(stored)
    for _, node in nodes:
        names.extend([*node.input, *node.output, node.op_type])
    for name in names:
        if not isinstance(name, str):
            raise CheckpointError(
                path,
                f"tensor or node name {bytes(name)[:40]!r} is not valid UTF-8 text; "
                "the file is corrupt or not an ONNX model (export it again)",
            )


def _graphs(graph: Any) -> Iterator[Any]:
    """``graph``, then (depth first, in node order) every subgraph of its nodes; an ``If``'s
    ``then_branch`` before its ``else_branch`` (files store attributes sorted by name)."""
    yield graph
    for node in graph.node:
        for attr in sorted(node.attribute, key=lambda a: a.name != "then_branch"):
            if attr.HasField("g"):
                yield from _graphs(attr.g)
            for sub in attr.graphs:
                yield from _graphs(sub)


def _collect(graph: Any, stored: dict[str, _Stored], nodes: list[tuple[int, Any]]) -> None:
    """Add the initializers and weight constants of one graph (not its subgraphs) to ``stored``."""

    def add(name: str, item: _Stored) -> None:
        key, n = name, 1
        while key in stored:  # names are unique in a valid model; keep both if not
            n += 1
            key = f"{name}#{n}"
        stored[key] = item

    for init in graph.initializer:
        add(init.name, _Stored(init, "dense"))
    for sparse in graph.sparse_initializer:
        add(sparse.values.name, _Stored(sparse, "sparse"))
    for index, node in enumerate(graph.node):
        nodes.append((index, node))
        if node.op_type != "Constant" or not node.output:
            continue
        for attr in node.attribute:
            item: _Stored | None = None
            if attr.name == "value" and attr.t.data_type in _FLOAT_TYPES and len(attr.t.dims):
                item = _Stored(attr.t, "dense")
            elif (
                attr.name == "sparse_value" and attr.sparse_tensor.values.data_type in _FLOAT_TYPES
            ):
                item = _Stored(attr.sparse_tensor, "sparse")
            elif attr.name == "value_floats":
                item = _Stored(list(attr.floats), "floats")
            if item is not None:
                add(node.output[0], item)


def _roles_from_graph(
    nodes: list[tuple[int, Any]], stored: dict[str, _Stored]
) -> tuple[dict[str, Role], dict[str, str], set[str]]:
    roles: dict[str, Role] = {}
    layer_of: dict[str, str] = {}
    transpose: set[str] = set()
    for index, node in nodes:
        slots = _INPUT_ROLES.get(node.op_type, ())
        for slot, name in enumerate(node.input):
            if name not in stored or name in roles or slot >= len(slots) or slots[slot] is None:
                continue
            role = slots[slot]
            ndim = len(stored[name].dims())
            if role == "bias" and node.op_type == "Add" and ndim != 1:
                continue
            roles[name] = role  # type: ignore[assignment]
            layer_of.setdefault(name, node.name or f"{node.op_type}_{index}")
            if role == "kernel" and ndim == 2 and _transposed(node):
                transpose.add(name)
    return roles, layer_of, transpose


def _transposed(node: Any) -> bool:
    if node.op_type == "MatMul":
        return True
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return bool(trans_b == 0)
    return False


def _to_array(path: Path, folder: Path, name: str, item: _Stored) -> np.ndarray:
    from onnx import numpy_helper

    try:
        if item.kind == "floats":
            return np.asarray(item.value, dtype=np.float32)
        if item.kind == "sparse":
            return _dense(path, folder, name, item.value)
        return numpy_helper.to_array(_inline(path, folder, name, item.value))
    except CheckpointError:
        raise
    except Exception as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(path, f"tensor {name!r} cannot be read ({detail[:200]})") from None


def _dense(path: Path, folder: Path, name: str, sparse: Any) -> np.ndarray:
    from onnx import numpy_helper

    dims = [int(d) for d in sparse.dims]
    values = numpy_helper.to_array(_inline(path, folder, name, sparse.values)).ravel()
    indices = numpy_helper.to_array(_inline(path, folder, name, sparse.indices))
    size = math.prod(dims)
    flat = indices.ravel() if indices.ndim <= 1 else np.ravel_multi_index(indices.T, dims)
    if flat.shape != values.shape or (flat.size and (flat.min() < 0 or flat.max() >= size)):
        raise CheckpointError(
            path, f"sparse tensor {name!r}: indices do not fit its {len(values)} values or {dims}"
        )
    out = np.zeros(size, dtype=values.dtype)
    out[flat] = values
    return out.reshape(dims)


def _inline(path: Path, folder: Path, name: str, tensor: Any) -> Any:
    """The tensor with its external data read in, from a file inside ``folder`` only."""
    if tensor.data_location != _EXTERNAL:
        return tensor
    from onnx import TensorProto
    from onnx.helper import tensor_dtype_to_np_dtype

    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    pure = PurePath(location)
    if not location or pure.is_absolute() or ".." in pure.parts or "\\" in location:
        raise CheckpointError(
            path,
            f"tensor {name!r}: external data location {location[:80]!r} is not a file name "
            "inside the model's folder; refused",
        )
    target = (folder / pure).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        raise CheckpointError(
            path,
            f"tensor {name!r}: external data file {location[:80]!r} is missing or lies outside "
            "the model's folder; put it next to the model",
        )
    try:
        offset = int(info.get("offset", 0))
        itemsize = tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        length = int(info.get("length", math.prod(tensor.dims) * itemsize))
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(path, f"tensor {name!r}: invalid external data entry") from None
    expected = math.prod(tensor.dims) * itemsize
    size = target.stat().st_size
    if offset < 0 or length != expected or offset + length > size:
        raise CheckpointError(
            path,
            f"tensor {name!r}: external data ({location[:80]!r}, offset {offset}, length {length}) "
            f"does not hold the {expected} bytes its shape needs in a file of {size} bytes",
        )
    with open(target, "rb") as f:
        f.seek(offset)
        raw = f.read(length)
    inlined = TensorProto()
    inlined.CopyFrom(tensor)
    del inlined.external_data[:]
    inlined.data_location = TensorProto.DEFAULT
    inlined.raw_data = raw
    return inlined
