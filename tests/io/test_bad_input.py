"""Bad checkpoints: each gives a CheckpointError naming the file and the problem."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from weightspace import CheckpointError, UnsafeCheckpointError, load_weights


class Payload:
    """A pickle that would run code when loaded."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.pt: no such file"):
        load_weights(tmp_path / "nope.pt")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.safetensors: empty file"):
        load_weights(path)


def test_directory_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory"):
        load_weights(tmp_path)


@pytest.mark.parametrize("kind", ["pt", "safetensors", "npz", "h5", "keras"])
def test_truncated_files(tmp_path, cnn, kind):
    path = tmp_path / f"model.{kind}"
    if kind == "pt":
        torch.save(cnn.state_dict(), path)
    elif kind == "safetensors":
        from safetensors.torch import save_file

        save_file(cnn.state_dict(), str(path))
    elif kind == "npz":
        np.savez(path, **{k: v.numpy() for k, v in cnn.state_dict().items()})
        path = tmp_path / "model.npz"
    else:
        keras = pytest.importorskip("keras")
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(300)])
        m.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"model\.{kind}: .*(truncated|corrupt)"):
        load_weights(path)


def test_corrupt_safetensors_header(tmp_path):
    path = tmp_path / "bad.safetensors"
    header = b'{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}'
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 8)
    with pytest.raises(CheckpointError, match="needs 16 bytes, offsets give 8"):
        load_weights(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "weights.dat"
    path.write_bytes(b"hello world, not a checkpoint")
    with pytest.raises(CheckpointError, match="unrecognized format"):
        load_weights(path)


def test_pickle_with_code_is_refused_and_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(2), "x": Payload()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.pt: the pickle needs code to load"):
        load_weights(path)
    assert not (tmp_path / "PWNED").exists()


def test_plain_pickle_with_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(Payload(), protocol=2))
    with pytest.raises(UnsafeCheckpointError, match="never runs pickled code"):
        load_weights(path)
    assert not (tmp_path / "PWNED").exists()


def test_pickled_module_is_refused(tmp_path, cnn):
    path = tmp_path / "whole_model.pt"
    torch.save(cnn, path)
    with pytest.raises(UnsafeCheckpointError, match=r"torch\.save\(model\.state_dict\(\), path\)"):
        load_weights(path)


def test_no_floating_point_tensors(tmp_path):
    path = tmp_path / "ints.pt"
    torch.save({"ids": torch.arange(10)}, path)
    with pytest.raises(CheckpointError, match=r"ints\.pt: no floating-point tensors"):
        load_weights(path)


def test_object_arrays_in_npz_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="pickle, which is refused"):
        load_weights(path)


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")
def test_quantized_tensor_is_refused_with_fix(tmp_path):
    q = torch.quantize_per_tensor(torch.ones(4), 0.1, 0, torch.qint8)
    with pytest.raises(CheckpointError, match=r"quantized.*dequantize"):
        load_weights({"fc.weight": q})


def test_complex_tensor_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="complex"):
        load_weights({"w": torch.ones(2, dtype=torch.complex64)})
