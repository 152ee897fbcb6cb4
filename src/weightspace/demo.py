"""The placeholder main job: a small library built from checkpoint files it writes itself.

Until the zoo generator lands, ``make demo`` trains a dozen small MLPs on scikit-learn's digits with
different hyper-parameters, writes 5 snapshots of each as real checkpoint files in the supported formats
(PyTorch, safetensors, NumPy, Keras HDF5, ONNX), adds them to a library and prints its summary.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from weightspace.library import Library

__all__ = ["build_demo_library"]

_FORMATS = ("pt", "safetensors", "npz", "h5", "onnx")


def build_demo_library(out: str | Path, *, n_models: int = 12, seed: int = 0) -> Library:
    """Train ``n_models`` MLPs on digits, write their checkpoints, and add them to a library.

    The library is ``out/library``; checkpoints go to ``out/checkpoints``. An existing complete
    library is reused (the job is cached).
    """
    import torch
    from sklearn.datasets import load_digits

    out = Path(out)
    lib_path = out / "library"
    if (lib_path / "weightspace.db").exists():
        lib = Library(lib_path)
        if len(lib) == n_models:
            return lib
    shutil.rmtree(out, ignore_errors=True)
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True)

    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    x = torch.tensor(digits.data[order] / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target[order], dtype=torch.int64)
    n_train = int(0.8 * len(y))

    grid = list(itertools.product(["relu", "tanh", "sigmoid"], ["adam", "sgd"], [0.01, 0.001]))
    lib = Library.create(lib_path)
    items = []
    for i, (act, opt, lr) in enumerate(grid[:n_models]):
        fmt = _FORMATS[i % len(_FORMATS)]
        torch.manual_seed(seed * 1000 + i)  # per-model seed; the demo owns this process
        act_layer = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[act]
        model = torch.nn.Sequential(
            torch.nn.Linear(64, 32), act_layer(), torch.nn.Linear(32, 16), act_layer(),
            torch.nn.Linear(16, 10),
        )  # fmt: skip
        optimizer = (
            torch.optim.Adam(model.parameters(), lr=lr)
            if opt == "adam"
            else torch.optim.SGD(model.parameters(), lr=lr * 10, momentum=0.9)
        )
        files, records = [], []
        for epoch in range(41):
            if epoch:
                for batch in torch.randperm(n_train).split(64):  # type: ignore[no-untyped-call]
                    optimizer.zero_grad()
                    loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimizer.step()
            if epoch % 10 == 0:
                path = ckpt_dir / f"model{i:02d}_epoch{epoch:02d}.{fmt}"
                _WRITERS[fmt](model, path)
                with torch.no_grad():
                    logits = model(x)
                    hit = (logits.argmax(1) == y).float()
                    test_loss = torch.nn.functional.cross_entropy(logits[n_train:], y[n_train:])
                files.append(path)
                records.append(
                    {
                        "epoch": epoch,
                        "progress": epoch / 40,
                        "train_acc": float(hit[:n_train].mean()),
                        "test_acc": float(hit[n_train:].mean()),
                        "test_loss": float(test_loss),
                    }
                )
        items.append(
            {
                "weights": files,
                "name": f"mlp-{act}-{opt}-{lr:g}",
                "source": str(files[-1]),
                "hparams": {"activation": act, "optimizer": opt, "learning_rate": lr},
                "metrics": {"test_acc": records[-1]["test_acc"]},
                "metadata": {"dataset": "digits", "format": fmt},
                "snapshots": records,
            }
        )
    lib.add_many(items, progress=True, total=len(items))
    return lib


def _write_pt(model: object, path: Path) -> None:
    import torch

    torch.save(model.state_dict(), path)  # type: ignore[attr-defined]


def _write_safetensors(model: object, path: Path) -> None:
    from safetensors.torch import save_file

    save_file(model.state_dict(), str(path))  # type: ignore[attr-defined]


def _state_numpy(model: object) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}  # type: ignore[attr-defined]


def _write_npz(model: object, path: Path) -> None:
    arrays: dict[str, object] = dict(_state_numpy(model))
    with path.open("wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def _write_h5(model: object, path: Path) -> None:
    """Keras 2 HDF5 layout: layer groups with ``weight_names``; kernels stored (in, out)."""
    import h5py

    state = _state_numpy(model)
    layers = sorted({k.rsplit(".", 1)[0] for k in state}, key=int)
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights")
        names = [f"dense_{i}" if i else "dense" for i in range(len(layers))]
        root.attrs["layer_names"] = [n.encode() for n in names]
        for name, layer in zip(names, layers, strict=True):
            group = root.create_group(name)
            weight_names = [f"{name}/kernel:0", f"{name}/bias:0"]
            group.attrs["weight_names"] = [w.encode() for w in weight_names]
            group.create_dataset(weight_names[0], data=state[f"{layer}.weight"].T)
            group.create_dataset(weight_names[1], data=state[f"{layer}.bias"])


def _write_onnx(model: object, path: Path) -> None:
    """An ONNX graph of Gemm/activation nodes whose initializers hold the weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    state = _state_numpy(model)
    layers = sorted({k.rsplit(".", 1)[0] for k in state}, key=int)
    acts = [type(m).__name__ for m in model.children()]  # type: ignore[attr-defined]
    act_op = {"ReLU": "Relu", "Tanh": "Tanh", "Sigmoid": "Sigmoid"}
    nodes, inits, current = [], [], "input"
    for j, layer in enumerate(layers):
        w, b = f"{layer}.weight", f"{layer}.bias"
        inits += [numpy_helper.from_array(state[w], w), numpy_helper.from_array(state[b], b)]
        nodes.append(helper.make_node("Gemm", [current, w, b], [f"gemm{j}"], transB=1))
        current = f"gemm{j}"
        if j < len(layers) - 1:
            op = act_op[next(a for a in acts if a in act_op)]
            nodes.append(helper.make_node(op, [current], [f"act{j}"]))
            current = f"act{j}"
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, [None, 10])],
        initializer=inits,
    )
    onnx.save(helper.make_model(graph), str(path))


_WRITERS: dict[str, Callable[[object, Path], None]] = {
    "pt": _write_pt,
    "safetensors": _write_safetensors,
    "npz": _write_npz,
    "h5": _write_h5,
    "onnx": _write_onnx,
}
