"""Hugging Face model folders (``save_pretrained``), sharded or not, safetensors or .bin, and zips
of them: one model each, through ``load_weights``, the CLI and the atlas upload."""

from __future__ import annotations

import base64
import json
import shutil
import stat
import zipfile

import numpy as np
import pytest

from weightspace import CheckpointError, Library, detect_format, load_weights
from weightspace.errors import WeightLimitError
from weightspace.io.hf_folder import read_hf_folder, read_hf_zip

transformers = pytest.importorskip("transformers")
hub = pytest.importorskip("huggingface_hub")
INDEX = "model.safetensors.index.json"


@pytest.fixture(scope="module")
def bert():
    config = transformers.BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    return transformers.BertModel(config).eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory, bert):
    """The folders once: sharded and single safetensors (transformers), sharded and single .bin
    (huggingface_hub, what transformers 4 wrote)."""
    root = tmp_path_factory.mktemp("hf")
    bert.save_pretrained(root / "sharded", max_shard_size="20KB")
    bert.save_pretrained(root / "single")
    for name, shard in (("bin_sharded", "20KB"), ("bin_single", "10GB")):
        (root / name).mkdir()
        hub.save_torch_state_dict(
            bert.state_dict(), root / name, safe_serialization=False, max_shard_size=shard
        )
        bert.config.save_pretrained(root / name)
    return root


@pytest.fixture
def folder(saved, tmp_path):
    """A fresh copy of one saved folder, to damage."""

    def copy(name: str):
        return shutil.copytree(saved / name, tmp_path / name)

    return copy


def state(bert):
    return {k: v.numpy() for k, v in bert.state_dict().items()}


def test_sharded_safetensors_folder_is_one_model(saved, bert):
    path = saved / "sharded"
    shards = sorted(p.name for p in path.glob("model-*.safetensors"))
    assert shards == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert detect_format(path) == "hf-folder"
    ws = load_weights(path)
    expected = state(bert)
    assert set(ws.names) == set(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(ws[name].array, value)
    assert ws.n_params == sum(v.size for v in expected.values())
    assert ws.source == str(path)
    # shard 1 (embeddings, first layers) before shard 2; block 0 before block 1
    assert ws.layers[0].startswith("embeddings")
    assert ws.layers[-1] == "pooler.dense"


def test_bin_shards_keep_the_model_order_of_their_index(saved, bert):
    """huggingface_hub writes the weight_map in state-dict order: the model's own order."""
    path = saved / "bin_sharded"
    assert len(list(path.glob("pytorch_model-*-of-*.bin"))) == 2
    ws = load_weights(path)
    reference = load_weights(bert)
    assert ws.names == reference.names
    np.testing.assert_array_equal(ws.vector(), reference.vector())


@pytest.mark.parametrize("name", ["single", "bin_single"])
def test_single_file_folders(saved, bert, name):
    ws = load_weights(saved / name)
    assert ws.n_params == load_weights(bert).n_params
    assert ws.source == str(saved / name)
    np.testing.assert_array_equal(
        ws["encoder.layer.1.output.dense.weight"].array,
        bert.state_dict()["encoder.layer.1.output.dense.weight"].numpy(),
    )


def test_huggingface_cache_layout_with_links_into_blobs(saved, tmp_path, bert):
    """``snapshots/<rev>/`` holds symlinks into the repository's ``blobs/``: allowed."""
    repo = tmp_path / "models--tiny--bert"
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    for i, file in enumerate(sorted((saved / "sharded").iterdir())):
        blob = repo / "blobs" / f"blob{i}"
        shutil.copy(file, blob)
        (snapshot / file.name).symlink_to(f"../../blobs/blob{i}")
    ws = load_weights(snapshot)
    assert ws.n_params == load_weights(bert).n_params


def test_library_add_folder_adds_one_model(cli, lib, saved, bert):
    code, out, err = cli("library", "add", lib.path, saved / "sharded", saved / "bin_sharded")
    assert code == 0, err
    assert "added 2 model(s)" in out
    table = Library(lib.path).query()
    assert list(table["name"]) == ["sharded", "bin_sharded"]
    assert set(table["n_params"]) == {load_weights(bert).n_params}


def make_zip(folder, path, *, prefix="tiny-bert/"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for file in sorted(folder.iterdir()):
            z.write(file, prefix + file.name)
    return path


def test_zip_of_a_folder_reads_like_the_folder_and_leaves_nothing(saved, tmp_path):
    path = make_zip(saved / "sharded", tmp_path / "tiny-bert.zip")
    assert detect_format(path) == "hf-zip"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    ws = read_hf_zip(path, tmp_root=scratch)
    assert list(scratch.iterdir()) == []  # the extracted folder is gone
    reference = load_weights(saved / "sharded")
    assert ws.names == reference.names
    np.testing.assert_array_equal(ws.vector(), reference.vector())
    assert ws.source == str(path)
    assert load_weights(path).n_params == reference.n_params


def test_atlas_upload_of_a_zipped_folder(saved, tmp_path):
    from weightspace.atlas.upload import read_upload

    raw = make_zip(saved / "bin_sharded", tmp_path / "m.zip").read_bytes()
    contents = "data:application/zip;base64," + base64.b64encode(raw).decode()
    n = read_upload(contents, "tiny-bert.zip", lambda ws: ws.n_params, tmp_root=tmp_path)
    assert n == load_weights(saved / "bin_sharded").n_params


def test_library_add_zip(cli, lib, saved, tmp_path):
    path = make_zip(saved / "single", tmp_path / "tiny.zip", prefix="")
    code, _, err = cli("library", "add", lib.path, path)
    assert code == 0, err
    assert list(Library(lib.path).query()["name"]) == ["tiny.zip"]


# --------------------------------------------------------------------------------- refusals
def edit_index(path, change, name=INDEX):
    index = json.loads((path / name).read_text())
    change(index["weight_map"])
    (path / name).write_text(json.dumps(index))


def test_missing_shard(folder, refused):
    path = folder("sharded")
    (path / "model-00002-of-00002.safetensors").unlink()
    refused(path, r"shard model-00002-of-00002\.safetensors named by the index is missing")


@pytest.mark.parametrize(
    ("shard", "pattern"),
    [
        ("../outside.safetensors", r"shard name '\.\./outside\.safetensors' is not a file name"),
        ("/etc/passwd", r"shard name '/etc/passwd' is not a file name inside the folder"),
        ("sub\\..\\..\\x.safetensors", r"is not a file name inside the folder"),
    ],
)
def test_shard_names_escaping_the_folder(folder, refused, shard, pattern):
    path = folder("sharded")
    edit_index(
        path, lambda m: m.update({k: shard for k, v in m.items() if v.startswith("model-00002")})
    )
    refused(path, pattern)


def test_shard_symlink_leading_out_of_the_folder(folder, refused, tmp_path):
    path = folder("sharded")
    outside = tmp_path / "elsewhere.safetensors"
    (path / "model-00002-of-00002.safetensors").rename(outside)
    (path / "model-00002-of-00002.safetensors").symlink_to(outside)
    refused(path, r"model-00002-of-00002\.safetensors is a link to .*outside the model folder")


def test_extra_shard_not_in_the_index(folder, refused):
    path = folder("sharded")
    shutil.copy(
        path / "model-00002-of-00002.safetensors", path / "model-00003-of-00003.safetensors"
    )
    refused(path, r"shard model-00003-of-00003\.safetensors is not named by model\.safetensors")


def test_index_leaving_out_a_numbered_shard(folder, refused):
    path = folder("sharded")
    edit_index(
        path, lambda m: [m.pop(k) for k in [k for k, v in m.items() if v.startswith("model-00002")]]
    )
    refused(path, r"names 1 of 2 shards; shard\(s\) 2 of 2 are not in the index")


def test_index_placing_a_tensor_in_the_wrong_shard(folder, refused):
    path = folder("bin_sharded")
    name = "pytorch_model.bin.index.json"
    moved = "pooler.dense.bias"
    edit_index(path, lambda m: m.update({moved: "pytorch_model-00001-of-00002.bin"}), name=name)
    refused(path, r"places tensor 'pooler\.dense\.bias' in shard pytorch_model-00001-of-00002\.bin")


def test_shard_holding_a_tensor_the_index_does_not_list(folder, refused):
    path = folder("sharded")
    edit_index(path, lambda m: m.pop("pooler.dense.bias"))
    refused(path, r"holds tensor 'pooler\.dense\.bias', which the index does not place there")


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("{not json", r"not a JSON index"),
        ('{"weight_map": ["a"]}', r"no 'weight_map' object"),
        ('{"weight_map": {"a": 3}}', r"weight_map entry 'a' is not a shard file name"),
        ('{"weight_map": ' + "[" * 100_000 + "]" * 100_000 + "}", r"not a JSON index"),
    ],
)
def test_bad_index(folder, refused, text, pattern):
    path = folder("sharded")
    (path / INDEX).write_text(text)
    refused(path, pattern)


def test_corrupt_shard_is_named(folder, refused):
    path = folder("sharded")
    shard = path / "model-00001-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-100])
    line = refused(path, r"model-00001-of-00002\.safetensors: truncated safetensors file")
    assert "sharded" in line


def test_folder_without_a_checkpoint(tmp_path, refused):
    path = tmp_path / "notes"
    path.mkdir()
    (path / "config.json").write_text("{}")
    refused(path, r"is a directory with none of model\.safetensors")


def test_declared_size_of_the_shards_over_max_weights(saved):
    n = load_weights(saved / "sharded").n_params
    assert read_hf_folder(saved / "sharded", max_weights=n).n_params == n
    with pytest.raises(WeightLimitError, match=rf"declare {n:,} weights, over the limit"):
        read_hf_folder(saved / "sharded", max_weights=n - 1)


# ------------------------------------------------------------------------------------ zips
def symlink_member(z, name, target):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    z.writestr(info, target)


@pytest.mark.parametrize(
    ("build", "pattern"),
    [
        (
            lambda z: z.writestr("../evil/model.safetensors", b"x"),
            r"'\.\./evil/model\.safetensors' escapes",
        ),
        (
            lambda z: z.writestr("/abs/model.safetensors", b"x"),
            r"'/abs/model\.safetensors' escapes",
        ),
        (
            lambda z: symlink_member(z, "m/model.safetensors", "/etc/passwd"),
            r"is a symlink; refused",
        ),
        (lambda z: z.writestr("readme.txt", b"hello"), r"zip archive with unknown content"),
        (
            lambda z: (
                z.writestr("a/model.safetensors", b"x"),
                z.writestr("b/model.safetensors", b"x"),
            ),
            r"zip holds 2 model folders \(a, b\); zip one",
        ),
    ],
)
def test_unsafe_or_unclear_zips_are_refused(tmp_path, refused, build, pattern):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w") as z:
        build(z)
    refused(path, pattern)


def test_errors_inside_a_zip_name_the_member_not_the_temporary_folder(saved, tmp_path, refused):
    path = tmp_path / "broken.zip"
    with zipfile.ZipFile(path, "w") as z:
        for file in sorted((saved / "sharded").iterdir()):
            data = file.read_bytes()
            z.writestr(
                f"bert/{file.name}", data[:-50] if file.name.startswith("model-00002") else data
            )
    line = refused(path, r"broken\.zip: model-00002-of-00002\.safetensors: truncated safetensors")
    assert "weightspace-hf-" not in line


def test_zip_bomb_is_refused_before_extraction(tmp_path):
    path = tmp_path / "bomb.zip"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z,
        z.open("m/model.safetensors", "w") as f,
    ):
        for _ in range(70):
            f.write(bytes(2**20))  # 70 MiB of zeros, about 70 kB compressed
    assert path.stat().st_size < 200_000
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(WeightLimitError, match=r"declare 73,400,320 bytes uncompressed"):
        read_hf_zip(path, max_weights=1000, tmp_root=scratch)
    assert list(scratch.iterdir()) == []
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        read_hf_zip(path, tmp_root=scratch)  # under the default limit: extracted, then refused
    assert list(scratch.iterdir()) == []


def test_corrupt_zip_member_is_refused(saved, tmp_path, refused):
    path = make_zip(saved / "single", tmp_path / "flipped.zip")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside the deflated model.safetensors
    path.write_bytes(bytes(raw))
    refused(path, r"flipped\.zip: corrupt, encrypted or unreadable zip")
