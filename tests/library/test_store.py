"""The model library: round trips, queries, batches, schema checks."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import torch

from weightspace import Library, LibraryError, SnapshotRecord, WeightspaceError, load_weights
from weightspace.library.schema import DB_NAME, SCHEMA_VERSION


def make_snapshots(model: torch.nn.Module, n: int = 3) -> list:
    """n snapshots of a training: the weights drift a little each time."""
    out = []
    for i in range(n):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01 * (i + 1))
        out.append(load_weights({k: v.clone() for k, v in model.state_dict().items()}))
    return out


def test_round_trip_is_bit_exact(lib, cnn):
    snaps = make_snapshots(cnn, 4)
    records = [{"epoch": i, "progress": i / 3, "test_acc": 0.1 * i} for i in range(4)]
    model_id = lib.add(snaps, hparams={"optimizer": "adam", "lr": 0.001}, snapshots=records)
    for i, ws in enumerate(snaps):
        back = lib.get(model_id, snapshot=i)
        assert back.structure() == ws.structure()
        for a, b in zip(back, ws, strict=True):
            assert a.array.tobytes() == b.array.tobytes()
            assert a.array.dtype == b.array.dtype
    np.testing.assert_array_equal(
        lib.snapshot_matrix(model_id), np.stack([s.vector() for s in snaps])
    )
    assert lib.get(model_id).vector().tobytes() == snaps[-1].vector().tobytes()
    assert [w.vector().tobytes() for w in lib.snapshots_of(model_id)] == [
        s.vector().tobytes() for s in snaps
    ]


def test_export_round_trip(lib, cnn, tmp_path):
    model_id = lib.add(cnn)
    out = lib.export(model_id, tmp_path / "out.safetensors")
    back = load_weights(out)
    original = load_weights(cnn)
    assert back.structure() == original.structure()
    assert back.vector().tobytes() == original.vector().tobytes()
    state = {k: v.numpy() for k, v in cnn.state_dict().items()}
    for t in back:
        assert t.array.tobytes() == state[t.name].tobytes()


def test_tables_and_columns(lib, cnn):
    a = lib.add(cnn, name="a", hparams={"optimizer": "adam", "bn": True}, metrics={"test_acc": 0.9})
    b = lib.add(cnn, name="b", hparams={"optimizer": "sgd", "bn": False}, metrics={"test_acc": 0.2})
    frame = lib.query()
    assert list(frame["id"]) == [a, b]
    assert list(frame["optimizer"]) == ["adam", "sgd"]
    assert list(frame["bn"]) == [True, False]
    assert lib.columns() == {"optimizer": "hparam", "bn": "hparam", "test_acc": "metric"}
    assert list(lib.query("test_acc > ?", [0.5])["name"]) == ["a"]
    assert list(lib.query(optimizer="sgd")["id"]) == [b]
    assert lib.ids("optimizer = 'adam'") == [a]
    layers = lib.layer_table(a)
    assert list(layers["role"])[:2] == ["kernel", "bias"]
    assert layers["length"].sum() == load_weights(cnn).n_params + 1  # + num_batches_tracked
    snaps = lib.snapshot_table([a])
    assert list(snaps["idx"]) == [0]


def test_a_missing_bool_reads_back_as_missing(lib, cnn):
    lib.add(cnn, name="a", hparams={"bn": True})
    lib.add(cnn, name="b", hparams={"bn": False})
    lib.add(cnn, name="c", hparams={"optimizer": "adam"})  # no "bn"
    assert lib.query()["bn"].tolist() == [True, False, None]


def test_sql_is_read_only(lib, cnn):
    lib.add(cnn)
    assert lib.sql("SELECT COUNT(*) AS n FROM models")["n"][0] == 1
    with pytest.raises(LibraryError, match="readonly"):
        lib.sql("DELETE FROM models")
    assert len(lib) == 1


def test_matrix_and_batches(lib, rng):
    small = lib.add({"fc.weight": rng.normal(size=(3, 4)).astype("f4")})
    large = lib.add({"fc.weight": rng.normal(size=(5, 4)).astype("f4")})
    with pytest.raises(WeightspaceError, match="pass length=K"):
        lib.matrix()
    m = lib.matrix(length=16)
    assert m.shape == (2, 16)
    assert m[0, 0] == lib.vector(small)[0]
    assert m[1, -1] == lib.vector(large)[-1]
    vecs = lib.vectors()
    assert [v.shape for v in vecs] == [(12,), (20,)]
    batches = list(lib.iter_batches(batch_size=1))
    assert [b.ids for b in batches] == [(small,), (large,)]
    batches = list(lib.iter_batches(batch_size=5, length=8))
    assert batches[0].vectors.shape == (2, 8)


def test_nonfinite_weights_are_stored_and_flagged(lib):
    w = np.ones((2, 3), np.float32)
    w[0, 1] = np.nan
    w[1, 2] = np.inf
    model_id = lib.add({"fc.weight": w})
    assert np.isnan(lib.vector(model_id)[1])
    assert lib.info().nonfinite_models == (model_id,)
    assert lib.query()["nonfinite"][0] == 2
    assert "1 model(s) with non-finite weights" in lib.info().to_text()


def test_snapshots_must_share_structure(lib, cnn):
    other = torch.nn.Linear(3, 2)
    with pytest.raises(LibraryError, match="different structure"):
        lib.add([cnn, other])
    assert len(lib) == 0
    assert not any((lib.path / "weights").iterdir())


def test_snapshot_records_are_validated(lib, cnn):
    with pytest.raises(LibraryError, match="'progress' must be in"):
        lib.add(cnn, snapshots=[{"progress": 2.0}])
    with pytest.raises(LibraryError, match="unknown snapshot field"):
        lib.add(cnn, snapshots=[{"acc": 0.5}])
    with pytest.raises(LibraryError, match="1 snapshot record"):
        lib.add([cnn, cnn], snapshots=[SnapshotRecord(epoch=0)])
    assert len(lib) == 0


@pytest.mark.parametrize(
    ("key", "message"),
    [("my key", "not a valid column name"), ("id", "clashes with a built-in column")],
)
def test_bad_metadata_keys(lib, cnn, key, message):
    with pytest.raises(LibraryError, match=message):
        lib.add(cnn, metadata={key: 1})
    assert len(lib) == 0


def test_unknown_model_and_snapshot(lib, cnn):
    model_id = lib.add(cnn)
    with pytest.raises(LibraryError, match="no model with id 99"):
        lib.get(99)
    with pytest.raises(LibraryError, match="snapshot 5 out of range"):
        lib.get(model_id, snapshot=5)


def test_remove(lib, cnn):
    a = lib.add(cnn)
    b = lib.add(cnn)
    lib.remove(a)
    assert lib.ids() == [b]
    assert a not in lib
    assert b in lib
    assert len(list((lib.path / "weights").iterdir())) == 1
    assert lib.snapshot_table()["model"].tolist() == [b]


def test_open_errors(tmp_path):
    with pytest.raises(LibraryError, match="no library here; create one"):
        Library(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(LibraryError, match="not a weightspace library"):
        Library(tmp_path / "plain")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(LibraryError, match="not an empty directory"):
        Library.create(tmp_path / "full")


def test_create_twice(tmp_path):
    Library.create(tmp_path / "lib")
    with pytest.raises(LibraryError, match="already exists"):
        Library.create(tmp_path / "lib")
    assert Library.create(tmp_path / "lib", exist_ok=True).schema_version == SCHEMA_VERSION


def test_newer_schema_is_refused(lib):
    conn = sqlite3.connect(lib.path / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LibraryError, match=r"newer than this weightspace supports.*upgrade"):
        Library(lib.path)


def test_corrupt_database(tmp_path):
    path = tmp_path / "lib"
    Library.create(path)
    (path / DB_NAME).write_bytes(b"garbage" * 100)
    with pytest.raises(LibraryError, match="corrupt library database"):
        Library(path)


def test_same_architecture_shares_arch_id_across_naming(lib, cnn, tmp_path):
    state = {k.replace(".", "/"): v for k, v in cnn.state_dict().items()}
    a = lib.add(cnn)
    b = lib.add(state)
    frame = lib.query()
    assert frame.loc[frame.id == a, "arch_id"].item() == frame.loc[frame.id == b, "arch_id"].item()
    assert lib.info().n_architectures == 1


def test_array_cache_is_keyed_by_parameters_and_ids(lib, cnn):
    a = lib.add(cnn)
    cache = lib.cache
    assert cache.get("miwd", {"S": 4}, [a]) is None
    cache.put("miwd", {"S": 4}, [a], {"X": np.arange(3.0)})
    np.testing.assert_array_equal(cache.get("miwd", {"S": 4}, [a])["X"], [0.0, 1.0, 2.0])
    assert cache.get("miwd", {"S": 8}, [a]) is None
    assert cache.get("miwd", {"S": 4}, [a, a + 1]) is None
    next(iter((lib.path / "cache").glob("*.npz"))).write_bytes(b"corrupt")
    assert cache.get("miwd", {"S": 4}, [a]) is None
    assert cache.clear() == 1
