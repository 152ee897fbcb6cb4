"""ONNX models: the graph's initializers, with roles from the operators that use them.

Roles come from the graph (``Conv``/``Gemm``/``MatMul`` weight and bias inputs, the four
``BatchNormalization`` inputs, ``LayerNormalization`` scale and bias), so exports that rename tensors
(``onnx::Conv_12``) still get the right roles. ``MatMul`` weights and ``Gemm`` weights with
``transB=0`` are stored ``(in, out)``; they are transposed to the PyTorch layout ``(out, in)``.
"""

from __future__ import annotations

import math
from pathlib import Path
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


def read_onnx(path: Path, *, max_weights: int | None = DEFAULT_MAX_WEIGHTS) -> WeightSet:
    """Read the initializers of an ONNX model (external data is read after the size check)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ImportError(
            "reading ONNX files needs onnx: pip install 'weightspace[onnx]'"
        ) from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, ValueError, OSError...
        raise CheckpointError(
            path, f"not a readable ONNX model ({type(exc).__name__}: {exc})"
        ) from None
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    if not initializers:
        raise CheckpointError(path, "the ONNX graph holds no initializers (no stored weights)")
    declared = sum(math.prod(int(d) for d in init.dims) for init in initializers.values())
    check_declared_weights(path, declared, max_weights, what="ONNX initializers")

    roles: dict[str, Role] = {}
    layer_of: dict[str, str] = {}
    transpose: set[str] = set()
    for index, node in enumerate(graph.node):
        slots = _INPUT_ROLES.get(node.op_type, ())
        for slot, name in enumerate(node.input):
            if name not in initializers:
                continue
            if slot < len(slots) and slots[slot] is not None and name not in roles:
                role = slots[slot]
                if role == "bias" and node.op_type == "Add" and _dims(initializers[name]) != 1:
                    continue
                roles[name] = role  # type: ignore[assignment]
                layer_of.setdefault(name, node.name or f"{node.op_type}_{index}")
                if role == "kernel" and _needs_transpose(node, initializers[name]):
                    transpose.add(name)

    arrays: dict[str, np.ndarray] = {}
    for name, init in initializers.items():
        try:
            array = numpy_helper.to_array(init, base_dir=str(path.parent))
        except Exception as exc:
            raise CheckpointError(
                path,
                f"initializer {name!r} cannot be read ({exc}); is its external data file here?",
            ) from None
        if name in transpose:
            array = array.T
        layer, _ = split_name(name)
        key = name if layer or name not in layer_of else f"{layer_of[name]}/{name}"
        if key != name:
            roles[key] = roles.pop(name)
        arrays[key] = array
    return assign_roles(arrays, source=str(path), roles=roles)


def _dims(init: Any) -> int:
    return len(init.dims)


def _needs_transpose(node: Any, init: Any) -> bool:
    if _dims(init) != 2:
        return False
    if node.op_type == "MatMul":
        return True
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return trans_b == 0
    return False
