"""Untrusted checkpoints through the real CLI: every bad file gives exit code 1, one line on stderr
naming the file, no traceback, and leaves the library as it was.

A corpus of hostile and malformed files is built here with the real libraries (h5py, torch.save,
numpy, zipfile); hypothesis then mutates the bytes of valid files of every format.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weightspace import CheckpointError, Library, WeightLimitError, load_weights
from weightspace.io.limits import UPLOAD_MAX_WEIGHTS

# ---------------------------------------------------------------- helpers


def library_state(path: Path) -> tuple[str, list[str], list[tuple[object, ...]]]:
    """What a failed command must not change: the database's bytes (with its write-ahead log
    folded in first, so that when SQLite does it does not matter), the weight files, the rows."""
    db = path / "weightspace.db"
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute("SELECT id, name, n_params FROM models ORDER BY id").fetchall()
    finally:
        conn.close()
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    return digest, sorted(p.name for p in (path / "weights").iterdir()), rows


@pytest.fixture
def seeded_lib(tmp_path: Path) -> Path:
    """A library holding one model (its connection closed, so the database file is complete)."""
    lib = Library.create(tmp_path / "lib")
    lib.add(torch.nn.Linear(3, 2), name="seed")
    lib.close()
    return lib.path


def assert_one_line_refusal(result: tuple[int, str, str], path: Path) -> str:
    code, out, err = result
    assert code == 1, (code, out, err)
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert err.startswith("weightspace: error: ")
    assert path.name in err
    return err


def _keras2(path: Path, fill: Callable[[h5py.File, h5py.Group], object]) -> Path:
    """A Keras 2 weights file with one layer ``dense`` whose datasets ``fill`` makes."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
        group = f.create_group("dense")
        group.attrs["weight_names"] = [b"dense/kernel:0"]
        fill(f, group)
    return path


def _target(folder: Path) -> Path:
    target = folder / "elsewhere.h5"
    with h5py.File(target, "w") as f:
        f["w"] = np.ones(4, np.float32)
    return target


# ---------------------------------------------------------------- the corpus


def external_passwd(folder: Path) -> Path:
    size = Path("/etc/passwd").stat().st_size // 4 * 4
    return _keras2(
        folder / "passwd.h5",
        lambda f, g: g.create_dataset(
            "dense/kernel:0", shape=(size // 4,), dtype="<f4", external=[("/etc/passwd", 0, size)]
        ),
    )


def external_dev_zero(folder: Path) -> Path:
    return _keras2(
        folder / "zero.h5",
        lambda f, g: g.create_dataset(
            "dense/kernel:0", shape=(2**27,), dtype="<f4", external=[("/dev/zero", 0, 2**29)]
        ),
    )


def external_link(folder: Path) -> Path:
    target = _target(folder)

    def fill(f: h5py.File, g: h5py.Group) -> None:
        g.create_group("dense")["kernel:0"] = h5py.ExternalLink(str(target), "w")

    return _keras2(folder / "extlink.h5", fill)


def soft_link_through_external_link(folder: Path) -> Path:
    target = _target(folder)

    def fill(f: h5py.File, g: h5py.Group) -> None:
        f["outside"] = h5py.ExternalLink(str(target), "/")
        g.create_group("dense")["kernel:0"] = h5py.SoftLink("/outside/w")

    return _keras2(folder / "softext.h5", fill)


def virtual_dataset(folder: Path) -> Path:
    target = _target(folder)

    def fill(f: h5py.File, g: h5py.Group) -> None:
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource(str(target), "w", shape=(4,))
        g.create_group("dense").create_virtual_dataset("kernel:0", layout)

    return _keras2(folder / "vds.h5", fill)


def gzip_bomb(folder: Path, n: int = 2**27) -> Path:
    """134,217,728 float32 zeros declared, one gzip chunk written: a few kB on disk."""

    def fill(f: h5py.File, g: h5py.Group) -> None:
        ds = g.create_dataset(
            "dense/kernel:0", shape=(n,), dtype="<f4", chunks=(2**16,), compression="gzip"
        )
        ds[: 2**16] = 0.0

    return _keras2(folder / "gzip.h5", fill)


def tebibytes(folder: Path) -> Path:
    return _keras2(
        folder / "tera.h5",
        lambda f, g: g.create_dataset(
            "dense/kernel:0", shape=(2**40,), dtype="<f4", chunks=(2**16,), compression="gzip"
        ),
    )


def missing_layer(folder: Path) -> Path:
    def fill(f: h5py.File, g: h5py.Group) -> None:
        f.attrs["layer_names"] = [b"dense", b"dense_1"]
        g.create_dataset("dense/kernel:0", data=np.ones((3, 2), np.float32))

    return _keras2(folder / "nolayer.h5", fill)


def missing_weight(folder: Path) -> Path:
    return _keras2(folder / "noweight.h5", lambda f, g: None)


def layer_names_int(folder: Path) -> Path:
    def fill(f: h5py.File, g: h5py.Group) -> None:
        f.attrs["layer_names"] = 5
        g.create_dataset("dense/kernel:0", data=np.ones((3, 2), np.float32))

    return _keras2(folder / "layerint.h5", fill)


def bit_flip_h5(folder: Path) -> Path:
    path = _keras2(
        folder / "flipped.h5",
        lambda f, g: g.create_dataset("dense/kernel:0", data=np.ones((3, 2), np.float32)),
    )
    data = bytearray(path.read_bytes())
    at = data.index(b"HEAP")  # the root group's local heap: one bit off and it cannot be found
    data[at + 3] ^= 0x01
    path.write_bytes(bytes(data))
    return path


def text_as_pt(folder: Path) -> Path:
    path = folder / "notes.pt"
    path.write_text("hello, this is a text file\n" * 5)
    return path


def symlink_to_text(folder: Path) -> Path:
    text = folder / "readme.txt"
    text.write_text("just some text")
    link = folder / "linked.pt"
    link.symlink_to(text)
    return link


def random_bytes_pt(folder: Path) -> Path:
    path = folder / "random.pt"
    path.write_bytes(b"\x80" + np.random.default_rng(0).bytes(4095))  # even with pickle's PROTO
    return path


def html_pt(folder: Path) -> Path:
    path = folder / "page.pt"
    path.write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    return path


def nested_state_dict(folder: Path, depth: int = 50_000) -> Path:
    """A torch.save zip whose state dict is nested 50,000 deep (torch.save itself cannot write
    it: its pickler recurses; the pickle is written opcode by opcode around a real tensor)."""
    plain = io.BytesIO()
    torch.save({"w": torch.ones(2)}, plain)
    path = folder / "deep.pt"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("data.pkl"):
                assert data[:2] == b"\x80\x02"  # protocol 2, as torch.save writes
                assert data[-1:] == b"."
                data = (
                    b"\x80\x02" + b"}X\x01\x00\x00\x00a" * depth + data[2:-1] + b"s" * depth + b"."
                )
            zout.writestr(info, data)
    return path


def compressed_torch_records(folder: Path) -> Path:
    plain = io.BytesIO()
    torch.save({"w": torch.zeros(2**16)}, plain)
    path = folder / "deflated.pt"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
    return path


def expanded_view(folder: Path) -> Path:
    """One stored float that a stride-0 view turns into 4,294,967,296 weights."""
    path = folder / "view.pt"
    torch.save({"w": torch.zeros(1).expand(2**32)}, path)
    return path


def plain_pickle_protocol_4(folder: Path) -> Path:
    """A pickle (protocol 4, which torch's loader warns about) that would run os.system."""

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, ("touch PWNED",))

    path = folder / "evil.pt"
    path.write_bytes(pickle.dumps({"x": Payload()}, protocol=4))
    return path


def npz_2gib_member(folder: Path) -> Path:
    """A 1 MiB npz whose member declares 2 GiB (a .npy header of 2**29 float32): the sizes in the
    zip headers are what a deflate bomb declares."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (2**29,)}
    )
    path = folder / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("w.npy", header.getvalue() + bytes(2**20))
    data = bytearray(path.read_bytes())
    declared = (2**31 + len(header.getvalue())).to_bytes(4, "little")
    data[22:26] = declared  # the local header's uncompressed size
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = declared  # the central directory's
    path.write_bytes(bytes(data))
    return path


def npz_header_past_its_data(folder: Path) -> Path:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (2**40,)}
    )
    path = folder / "short.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("w.npy", header.getvalue() + bytes(64))
    return path


def npy_header_past_its_data(folder: Path) -> Path:
    path = folder / "short.npy"
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (2**20, 2**20)}
        )
        f.write(bytes(64))
    return path


def keras_with_config_of_other_shape(folder: Path) -> Path:
    """A .keras whose config.json is ``{"config": []}`` and whose variable is a group."""
    blob = io.BytesIO()
    with h5py.File(blob, "w") as f:
        f.create_group("layers/dense/vars/0")
    path = folder / "odd.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", '{"config": []}')
        z.writestr("model.weights.h5", blob.getvalue())
    return path


def keras_zip_with_external_storage(folder: Path) -> Path:
    """A .keras whose model.weights.h5 (read from memory) keeps a variable in /etc/passwd."""
    blob = io.BytesIO()
    with h5py.File(blob, "w") as f:
        f.create_group("layers/dense/vars").create_dataset(
            "0", shape=(64,), dtype="<f4", external=[("/etc/passwd", 0, 256)]
        )
    path = folder / "outside.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", blob.getvalue())
    return path


# name -> (builder, what the one error line says)
CORPUS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "hdf5 external storage /etc/passwd": (external_passwd, r"outside the file.*/etc/passwd"),
    "hdf5 external storage /dev/zero": (external_dev_zero, r"outside the file.*/dev/zero"),
    "hdf5 external link": (external_link, r"external link to 'w' in .*elsewhere\.h5"),
    "hdf5 soft link through an external link": (soft_link_through_external_link, "external link"),
    "hdf5 virtual dataset": (virtual_dataset, "virtual dataset"),
    ".keras with external storage": (keras_zip_with_external_storage, r"outside.*/etc/passwd"),
    "hdf5 gzip bomb": (gzip_bomb, r"536,870,912 bytes but store .*decompression bomb"),
    "hdf5 4 TiB claim": (tebibytes, r"1,099,511,627,776 weights, over the limit"),
    "hdf5 missing layer": (missing_layer, r"layer 'dense_1' is missing"),
    "hdf5 missing weight": (missing_weight, r"weight 'dense/kernel:0' of layer 'dense' is missing"),
    "hdf5 layer_names an int": (layer_names_int, r"'layer_names' .* expected a list of names"),
    "hdf5 bit flip": (bit_flip_h5, "corrupt HDF5 file"),
    "text saved as .pt": (text_as_pt, "not a PyTorch checkpoint"),
    "symlink to a text file": (symlink_to_text, "not a PyTorch checkpoint"),
    "random bytes saved as .pt": (random_bytes_pt, "not a PyTorch checkpoint"),
    "html saved as .pt": (html_pt, "not a PyTorch checkpoint"),
    "state dict nested 50,000 deep": (nested_state_dict, "nested more than 64 deep"),
    "torch zip with compressed records": (compressed_torch_records, "is compressed"),
    "torch stride-0 view of 2**32": (expanded_view, r"4,294,967,296 weights, over the limit"),
    "protocol-4 pickle with code": (plain_pickle_protocol_4, r"needs code.*posix\.system"),
    "npz member declaring 2 GiB": (npz_2gib_member, r"2,147,483,776 bytes.*decompression bomb"),
    "npz header past its data": (npz_header_past_its_data, r"declares shape .* holds 64 bytes"),
    "npy header past its data": (npy_header_past_its_data, r"declares shape .*truncated"),
    ".keras config list, variable group": (keras_with_config_of_other_shape, "not a dataset"),
}


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_hostile_file_is_one_line_and_changes_nothing(case, tmp_path, seeded_lib, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    build, message = CORPUS[case]
    path = build(tmp_path)
    before = library_state(seeded_lib)
    err = assert_one_line_refusal(cli("library", "add", seeded_lib, path), path)
    assert re.search(message, err), err
    assert library_state(seeded_lib) == before
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    "build",
    [external_passwd, external_link, virtual_dataset, gzip_bomb, npz_2gib_member, tebibytes],
)
def test_hostile_file_is_refused_by_describe_too(build, tmp_path, cli):
    path = build(tmp_path)
    assert_one_line_refusal(
        cli("describe", path, "--repr", "stats", "-o", tmp_path / "x.npy"), path
    )
    assert not (tmp_path / "x.npy").exists()


def test_external_storage_bytes_never_reach_the_library(tmp_path, seeded_lib, cli):
    """The issue's exploit: ``library export`` returned /etc/passwd as weights."""
    path = external_passwd(tmp_path)
    cli("library", "add", seeded_lib, path)
    assert [r[1] for r in library_state(seeded_lib)[2]] == ["seed"]


def test_soft_link_inside_the_file_is_followed(tmp_path):
    def fill(f: h5py.File, g: h5py.Group) -> None:
        f["store/kernel"] = np.arange(6, dtype=np.float32).reshape(3, 2)
        g.create_group("dense")["kernel:0"] = h5py.SoftLink("/store/kernel")

    ws = load_weights(_keras2(tmp_path / "soft.h5", fill))
    np.testing.assert_array_equal(ws.tensors[0].array, np.arange(6).reshape(3, 2).T)


def test_upload_limit_refuses_the_gzip_bomb_before_reading(tmp_path):
    """134,217,728 declared weights: over the upload's 50 million, refused from the header."""
    import base64

    from weightspace.atlas.upload import read_upload

    path = gzip_bomb(tmp_path)
    url = "data:application/octet-stream;base64," + base64.b64encode(path.read_bytes()).decode()
    with pytest.raises(
        WeightLimitError, match=r"134,217,728 weights, over the limit of 50,000,000"
    ):
        read_upload(url, "gzip.h5", lambda ws: ws)
    with pytest.raises(WeightLimitError, match="134,217,728 weights"):
        load_weights(path, max_weights=UPLOAD_MAX_WEIGHTS)


def test_npz_bomb_is_refused_before_numpy_reads_a_member(tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("np.lib.format.read_array was called")

    monkeypatch.setattr(np.lib.format, "read_array", never)
    with pytest.raises(WeightLimitError, match="zip members declare 2,147,483,776 bytes"):
        load_weights(npz_2gib_member(tmp_path))


def test_limit_counts_declared_weights_of_every_reader(tmp_path, cnn):
    state = {k: v.numpy() for k, v in cnn.state_dict().items()}
    n = sum(v.size for v in state.values())
    torch.save(cnn.state_dict(), tmp_path / "m.pt")
    np.savez(tmp_path / "m.npz", **state)
    np.save(tmp_path / "m.npy", np.zeros(n, np.float32))
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.attrs["layer_names"] = [b"all"]
        g = f.create_group("all")
        g.attrs["weight_names"] = [k.encode() for k in state]
        for k, v in state.items():
            g[k] = v
    for name in ("m.pt", "m.npz", "m.npy", "m.h5"):
        assert load_weights(tmp_path / name, max_weights=n).n_params > 0
        with pytest.raises(WeightLimitError, match=rf"{n:,} weights, over the limit of {n - 1:,}"):
            load_weights(tmp_path / name, max_weights=n - 1)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_max_weights_must_be_a_positive_integer(tmp_path, bad):
    np.save(tmp_path / "m.npy", np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="max_weights must be a positive integer or None"):
        load_weights(tmp_path / "m.npy", max_weights=bad)


# ---------------------------------------------------------------- files that are read


def test_keras3_subclassed_model_layout_is_read(tmp_path):
    """A subclassed Keras 3 model saves its layers as groups named after its attributes and its
    own variables in the root's ``vars``, with no ``layers`` group; the optimizer is left out."""
    path = tmp_path / "sub.weights.h5"
    with h5py.File(path, "w") as f:
        f["d/vars/0"] = np.ones((4, 2), np.float32)
        f["d/vars/1"] = np.zeros(2, np.float32)
        f["vars/0"] = np.full(3, 2.0, np.float32)
        f["optimizer/vars/0"] = np.zeros(8, np.float32)
    ws = load_weights(path)
    assert ws.names == ("d/kernel", "d/bias", "model/var0")
    assert ws.n_params == 8 + 2 + 3


def test_keras3_bfloat16_variables_are_read(tmp_path):
    """Keras 3 keeps bfloat16 variables as 2-byte opaque HDF5 data tagged ``dtype=bfloat16``."""
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, dtype="bfloat16")])
    model.save_weights(tmp_path / "bf16.weights.h5")
    kernel = np.asarray(model.layers[0].kernel.numpy(), dtype=np.float32)
    ws = load_weights(tmp_path / "bf16.weights.h5")
    assert ws.names == ("dense/kernel", "dense/bias")
    np.testing.assert_array_equal(ws.tensors[0].array, kernel.T)


def test_keras_config_that_is_not_a_model_config_is_ignored(tmp_path):
    blob = io.BytesIO()
    with h5py.File(blob, "w") as f:
        f["layers/dense/vars/0"] = np.ones((3, 2), np.float32)
        f["layers/dense/vars/1"] = np.zeros(2, np.float32)
    path = tmp_path / "list.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", '{"config": []}')
        z.writestr("model.weights.h5", blob.getvalue())
    assert load_weights(path).names == ("dense/kernel", "dense/bias")


# ---------------------------------------------------------------- hypothesis: mutated bytes


def _valid_files(folder: Path) -> dict[str, Path]:
    keras = pytest.importorskip("keras")
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2)
    )
    state = model.state_dict()
    arrays = {k: v.numpy() for k, v in state.items()}
    torch.save(state, folder / "zip.pt")
    torch.save(state, folder / "legacy.pt", _use_new_zipfile_serialization=False)
    np.savez(folder / "plain.npz", **arrays)
    np.savez_compressed(folder / "deflated.npz", **arrays)
    np.save(folder / "one.npy", np.arange(12, dtype=np.float32))
    km = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization()]
    )
    km.save(folder / "k3.keras")
    km.save_weights(folder / "k3.weights.h5")
    _keras2(
        folder / "k2.h5",
        lambda f, g: g.create_dataset("dense/kernel:0", data=np.ones((4, 3), np.float32)),
    )
    return {p.name: p for p in folder.iterdir()}


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return {n: p.read_bytes() for n, p in _valid_files(tmp_path_factory.mktemp("valid")).items()}


def mutations(size: int) -> st.SearchStrategy[list[tuple[str, int, int]]]:
    """Bit flips, overwritten bytes, truncations: ``(kind, position, value)``; half of them in the
    first 512 bytes, where the headers (zip, HDF5 superblock, pickle, .npy) are."""
    edit = st.tuples(
        st.sampled_from(["flip", "byte", "cut"]),
        st.one_of(st.integers(0, min(size, 512) - 1), st.integers(0, size - 1)),
        st.integers(0, 255),
    )
    return st.lists(edit, min_size=1, max_size=4)


def mutate(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, position, value in edits:
        position %= max(1, len(out))
        if kind == "flip":
            out[position] ^= 1 << (value % 8)
        elif kind == "byte":
            out[position] = value
        else:
            del out[max(1, position) :]
    return bytes(out)


@pytest.mark.parametrize(
    "name",
    ["zip.pt", "legacy.pt", "plain.npz", "deflated.npz", "one.npy", "k2.h5", "k3.keras",
     "k3.weights.h5"],
)  # fmt: skip
def test_mutated_files_fail_in_one_line_or_read(name, valid_files, tmp_path_factory, cli):
    folder = tmp_path_factory.mktemp("mutants")
    lib = Library.create(folder / "lib")
    lib.close()
    data = valid_files[name]
    target = folder / f"mutant-{name}"

    @settings(
        max_examples=50,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(edits=mutations(len(data)))
    def run(edits: list[tuple[str, int, int]]) -> None:
        target.write_bytes(mutate(data, edits))
        before = library_state(lib.path)
        result = cli("library", "add", lib.path, target, "--quiet")
        if result[0] == 0:  # a flipped weight is still a checkpoint
            assert len(library_state(lib.path)[2]) == len(before[2]) + 1
            return
        assert_one_line_refusal(result, target)
        assert library_state(lib.path) == before

    run()


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(
    shape=st.lists(st.integers(-(2**40), 2**40), max_size=4).map(tuple),
    descr=st.sampled_from(["<f4", "<f8", "<f2", "|b1", "<i8", "|O", "<c8", "V3"]),
    data_bytes=st.integers(0, 256),
    archive=st.booleans(),
)
def test_npy_headers_declaring_anything_are_checked_first(shape, descr, data_bytes, archive):
    """A .npy header (alone or in an .npz) may declare any shape and dtype: the file is read only
    if its data holds what the header declares, and never pickles."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    raw = header.getvalue() + bytes(data_bytes)
    with tempfile.TemporaryDirectory() as folder:
        if archive:
            path = Path(folder) / "h.npz"
            with zipfile.ZipFile(path, "w") as z:
                z.writestr("w.npy", raw)
        else:
            path = Path(folder) / "h.npy"
            path.write_bytes(raw)
        needed = np.dtype(descr).itemsize * int(np.prod(shape, dtype=object))
        fits = all(n >= 0 for n in shape) and needed <= data_bytes and descr != "|O"
        error, n_params = None, None
        try:
            n_params = load_weights(path).n_params
        except CheckpointError as exc:
            error = str(exc)
        if error is None:
            assert fits
            assert n_params == int(np.prod(shape, dtype=object))
        else:
            assert error.startswith(str(path))
            assert "\n" not in error
