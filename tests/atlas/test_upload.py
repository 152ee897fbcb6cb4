"""Uploads: size limit before decoding, bytes only inside a temporary folder removed after reading."""

import base64

import numpy as np
import pytest
import torch

from weightspace import CheckpointError
from weightspace.atlas import UploadError, place, read_upload
from weightspace.atlas.upload import decoded_size, describe_weights
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
