"""Uploads: size limits before decoding and before reading, bytes only inside a temporary folder
removed after reading, errors that name the file as the client did."""

import base64
import io
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from weightspace import CheckpointError
from weightspace.atlas import UploadError, place, read_upload
from weightspace.atlas.upload import decoded_size, describe_weights
from weightspace.errors import WeightLimitError, WeightspaceError
from weightspace.represent.miwd import miwd


def data_url(raw: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(raw).decode()


@pytest.fixture
def checkpoint(atlas_library, tmp_path) -> bytes:
    """The bytes of a torch.save file holding library model 5's weights."""
    state = {k: torch.tensor(np.array(v)) for k, v in atlas_library.get(5).to_numpy().items()}
    path = tmp_path / "model.pt"
    torch.save(state, path)
    return path.read_bytes()


@pytest.mark.parametrize("size", [0, 1, 2, 3, 100, 1001])
def test_decoded_size_is_known_without_decoding(size):
    assert decoded_size(data_url(b"x" * size)) == size


def test_an_upload_is_read_inside_a_temporary_folder_that_is_then_removed(checkpoint, tmp_path):
    root = tmp_path / "uploads"
    root.mkdir()
    seen = {}

    def use(ws):
        (folder,) = list(root.iterdir())  # one temporary folder, holding the one file
        seen["files"] = [p.name for p in folder.iterdir()]
        return ws.n_params

    n = read_upload(data_url(checkpoint), "model.pt", use, tmp_root=root)
    assert n > 0
    assert seen["files"] == ["model.pt"]
    assert list(root.iterdir()) == []


def test_an_unreadable_upload_still_removes_its_folder(tmp_path):
    with pytest.raises(CheckpointError):
        read_upload(data_url(b"not a checkpoint at all"), "x.pt", lambda ws: ws, tmp_root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_too_large_uploads_are_refused_before_anything_is_written(tmp_path, monkeypatch):
    def no_decode(*args, **kwargs):
        raise AssertionError("a too large upload must not be decoded")

    monkeypatch.setattr(base64, "b64decode", no_decode)
    with pytest.raises(UploadError, match=r"over the upload limit of 0\.0 MiB"):
        read_upload(
            data_url(b"y" * 2000), "big.pt", lambda ws: ws, max_bytes=1000, tmp_root=tmp_path
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ("hello", "expected a data URL"),
        ("data:application/octet-stream,abc", "expected a data URL"),
        ("data:application/octet-stream;base64,@@@@", "not valid base64"),
    ],
)
def test_malformed_uploads_are_named(contents, message, tmp_path):
    with pytest.raises(UploadError, match=message):
        read_upload(contents, "m.pt", lambda ws: ws, tmp_root=tmp_path)


def test_file_names_cannot_leave_the_temporary_folder(checkpoint, tmp_path):
    root = tmp_path / "uploads"
    root.mkdir()
    names = []

    def use(ws):
        (folder,) = list(root.iterdir())
        names.extend(p.name for p in folder.iterdir())
        return None

    read_upload(data_url(checkpoint), "../../etc/evil .pt", use, tmp_root=root)
    assert names == ["evil_.pt"]
    assert list(root.iterdir()) == []
    assert not list(tmp_path.rglob("evil*"))


def test_an_uploaded_library_model_lands_on_itself(atlas, atlas_library, checkpoint):
    placement = read_upload(
        data_url(checkpoint), "model.pt", lambda ws: place(atlas, "model.pt", ws, k=3)
    )
    row = int(atlas.index_of([5])[0])
    expected = miwd([atlas_library.vector(5)], S=32, B=32, value_range=(-5.0, 5.0))[0]
    np.testing.assert_array_equal(placement.descriptor, expected)
    assert placement.neighbors[0] == row
    assert placement.distances[0] == pytest.approx(0.0, abs=1e-6)
    spread = np.ptp(atlas.coords, axis=0).max()
    assert np.linalg.norm(np.array(placement.xy) - atlas.coords[row]) < 0.25 * spread
    assert placement.to_dict()["neighbors"][0] == row


def test_descriptors_follow_the_atlas_representation(atlas, atlas_library):
    ws = atlas_library.get(3)
    np.testing.assert_array_equal(
        describe_weights(atlas, ws), atlas.descriptors[atlas.index_of([3])[0]]
    )


def test_the_default_atlas_uses_the_miwd_defaults(atlas):
    from weightspace.represent import DEFAULT_BINS, DEFAULT_VALUE_RANGE, DEFAULT_WINDOWS

    rep = dict(atlas.representation)
    assert rep["name"] == "miwd"
    params = dict(rep["params"])
    assert (params["S"], params["B"]) == (DEFAULT_WINDOWS, DEFAULT_BINS)
    assert tuple(params["value_range"]) == DEFAULT_VALUE_RANGE
    assert atlas.descriptors.shape[1:] == (DEFAULT_WINDOWS, DEFAULT_BINS)


def test_an_upload_is_described_with_the_atlas_parameters(atlas_library):
    from weightspace.atlas import Atlas

    def atlas_of(name, params, shape):
        return Atlas(
            ids=np.arange(2),
            coords=np.zeros((2, 2)),
            descriptors=np.zeros((2, *shape)),
            representation={"name": name, "params": params},
        )

    # parameters as an atlas JSON file holds them (value_range a list)
    coarse = atlas_of("miwd", {"S": 4, "B": 8, "value_range": [-1, 1]}, (4, 8))
    expected = miwd([atlas_library.vector(3)], S=4, B=8, value_range=(-1.0, 1.0))[0]
    np.testing.assert_array_equal(describe_weights(coarse, atlas_library.get(3)), expected)
    default = atlas_of("miwd", {}, (32, 32))
    np.testing.assert_array_equal(
        describe_weights(default, atlas_library.get(3)), miwd([atlas_library.vector(3)])[0]
    )
    with pytest.raises(WeightspaceError, match="fitted on the whole library"):
        describe_weights(atlas_of("pca", {"K": 2}, (2,)), atlas_library.get(3))


# ------------------------------------------------------------------ what the client is shown
#: Bad checkpoints of every format (the temporary file is named after them, so their reader's
#: message would otherwise carry the server's temporary path).
BAD_FILES = {
    "notes.pt": b"hello world, not a checkpoint\n" * 3,
    "corrupt.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 200,
    "short.safetensors": b'\x10\0\0\0\0\0\0\0{"a": 1}',
    "broken.npz": b"PK\x03\x04" + b"\0" * 50,
    "empty.onnx": b"\x08\x07\x12\x04junk",
    "page.pt": b"<html><body>hi</body></html>",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_upload_is_named_as_the_client_named_it(name, tmp_path):
    with pytest.raises(CheckpointError) as info:
        read_upload(
            data_url(BAD_FILES[name]), f"C:\\Users\\me\\{name}", lambda ws: ws, tmp_root=tmp_path
        )
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    assert info.value.source == name
    assert str(tmp_path) not in message
    assert "weightspace-upload-" not in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_the_weights_are_named_after_the_upload_not_the_temporary_file(checkpoint, tmp_path):
    source = read_upload(data_url(checkpoint), "../runs/my model.pt", lambda ws: ws.source)
    assert source == "my model.pt"


def test_an_error_while_placing_names_the_upload_and_removes_the_folder(checkpoint, tmp_path):
    root = tmp_path / "uploads"
    root.mkdir()

    def use(ws):
        (folder,) = list(root.iterdir())
        raise RuntimeError(f"{folder / 'model.pt'} could not be described")

    with pytest.raises(CheckpointError, match=r"^model\.pt: could not be placed") as info:
        read_upload(data_url(checkpoint), "model.pt", use, tmp_root=root)
    assert "RuntimeError: model.pt could not be described" in str(info.value)
    assert str(root) not in str(info.value)
    assert list(root.iterdir()) == []


def npz_of(n_weights: int) -> bytes:
    """A compressed .npz of one zero matrix with ``n_weights`` elements (a few kB for millions)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{"fc.weight": np.zeros((n_weights // 100, 100), np.float32)})
    return buffer.getvalue()


def test_an_upload_over_the_weight_limit_is_refused_in_one_line(tmp_path):
    with pytest.raises(WeightLimitError) as info:
        read_upload(
            data_url(npz_of(5000)), "big.npz", lambda ws: ws, max_weights=1000, tmp_root=tmp_path
        )
    message = str(info.value)
    assert message.startswith("big.npz: ")
    assert "5,000 weights, over the limit of 1,000" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []
    # at the limit it is read
    assert (
        read_upload(data_url(npz_of(1000)), "ok.npz", lambda ws: ws.n_params, max_weights=1000)
        == 1000
    )


def test_a_decompression_bomb_is_refused_before_its_tensors_are_allocated(tmp_path):
    bomb = npz_of(20_000_000)  # 80 MB of float32 zeros in ~80 kB
    assert len(bomb) < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(WeightLimitError, match="more than 1,000 weights take"):
            read_upload(
                data_url(bomb), "bomb.npz", lambda ws: ws, max_weights=1000, tmp_root=tmp_path
            )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000  # the upload's bytes, not the 80 MB it declares
    assert list(tmp_path.iterdir()) == []


def keras_h5_reading(path: Path, target: str) -> None:
    """A Keras 2 weights file whose one kernel is stored outside the file, in ``target``."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
        group = f.create_group("dense")
        group.attrs["weight_names"] = [b"dense/kernel:0"]
        group.create_dataset(
            "dense/kernel:0", shape=(4, 8), dtype="<f4", external=[(target, 0, 128)]
        )


def test_an_hdf5_upload_reading_a_server_file_is_refused(tmp_path):
    path = tmp_path / "evil.h5"
    keras_h5_reading(path, "/etc/passwd")
    root = tmp_path / "uploads"
    root.mkdir()
    with pytest.raises(CheckpointError) as info:
        read_upload(data_url(path.read_bytes()), "evil.h5", lambda ws: ws, tmp_root=root)
    assert str(info.value).startswith("evil.h5: ")
    assert "\n" not in str(info.value)
    assert list(root.iterdir()) == []
