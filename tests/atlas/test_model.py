"""The Atlas object: validation, JSON round trip, lookups, nearest neighbours."""

import json

import numpy as np
import pandas as pd
import pytest

from weightspace.atlas import Atlas, AtlasError, Coloring, Column
from weightspace.atlas._codec import decode_array, encode_array
from weightspace.atlas.build import default_colorings


def tiny_atlas(rng: np.random.Generator, n: int = 6) -> Atlas:
    columns = [
        Column(
            "optimizer", "hparam", "categorical", rng.integers(-1, 3, n), ("adam", "sgd", "rms")
        ),
        Column("test_acc", "metric", "continuous", np.r_[rng.uniform(0, 1, n - 1), np.nan]),
    ]
    return Atlas(
        ids=np.arange(10, 10 + n),
        coords=rng.normal(size=(n, 2)),
        descriptors=rng.random((n, 4, 3)),
        columns=tuple(columns),
        colorings=default_colorings(columns),
        hover=("optimizer", "test_acc"),
        parallel=("optimizer", "test_acc"),
        title="tiny",
        representation={"name": "miwd", "params": {"S": 4, "B": 3, "value_range": (-1.0, 1.0)}},
        embedding={"method": "umap", "random_state": 0, "min_dist": np.float64(0.1)},
        source="somewhere",
    )


@pytest.mark.parametrize(
    "array",
    [
        np.arange(5, dtype=np.int64),
        np.array([[1.5, np.nan], [-np.inf, 3.0]], dtype=np.float32),
        np.array([0.1, 1e-300, -2.5]),
        np.array([-1, 0, 127], dtype=np.int8),
        np.array([True, False]),
        np.zeros((0, 2), dtype=np.float32),
    ],
)
def test_encoded_arrays_round_trip_exactly(array):
    back = decode_array(json.loads(json.dumps(encode_array(array))))
    expected = array.astype(np.int32) if array.dtype == np.int64 else array
    expected = expected.astype(np.uint8) if array.dtype == np.bool_ else expected
    assert back.dtype == expected.dtype
    np.testing.assert_array_equal(back, expected)


def test_decoding_a_truncated_array_names_the_problem():
    enc = encode_array(np.arange(4, dtype=np.float32))
    enc["shape"] = [5]
    with pytest.raises(ValueError, match="do not fit shape"):
        decode_array(enc, name="coords")


def test_json_round_trip_keeps_every_field(rng):
    atlas = tiny_atlas(rng)
    back = Atlas.from_json(atlas.to_json())
    np.testing.assert_array_equal(back.ids, atlas.ids)
    np.testing.assert_array_equal(back.coords, atlas.coords)
    np.testing.assert_array_equal(back.descriptors, atlas.descriptors)
    for a, b in zip(atlas.columns, back.columns, strict=True):
        assert (a.name, a.kind, a.type, a.categories, a.label) == (
            b.name, b.kind, b.type, b.categories, b.label,
        )  # fmt: skip
        np.testing.assert_array_equal(a.values, b.values)
        assert a.values.dtype == b.values.dtype
    assert back.colorings == atlas.colorings
    assert (back.hover, back.parallel, back.title, back.source) == (
        atlas.hover, atlas.parallel, atlas.title, atlas.source,
    )  # fmt: skip
    assert back.representation["params"]["value_range"] == [-1.0, 1.0]
    assert back.embedding["min_dist"] == 0.1


def test_save_and_load_through_a_file(rng, tmp_path):
    atlas = tiny_atlas(rng)
    path = atlas.save(tmp_path / "atlas.json")
    assert not list(tmp_path.glob(".*.tmp"))
    np.testing.assert_array_equal(Atlas.load(path).coords, atlas.coords)


def test_the_browser_payload_leaves_out_descriptors(rng):
    atlas = tiny_atlas(rng)
    payload = atlas.to_dict(descriptors=False)
    assert "descriptors" not in payload
    assert payload["descriptor_shape"] == [4, 3]
    with pytest.raises(AtlasError, match="without descriptors"):
        Atlas.from_dict(payload)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "other"}, "not a serialized atlas"),
        ({"version": 99}, "version 99 is not supported"),
    ],
)
def test_foreign_json_is_refused(rng, change, message):
    obj = {**tiny_atlas(rng).to_dict(), **change}
    with pytest.raises(AtlasError, match=message):
        Atlas.from_dict(obj)


def test_invalid_json_text_is_refused():
    with pytest.raises(AtlasError, match="not valid JSON"):
        Atlas.from_json("{nope")
    with pytest.raises(AtlasError, match="JSON object"):
        Atlas.from_json("[1, 2]")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"coords": np.zeros((3, 3))}, r"coords must have shape \(4, 2\)"),
        ({"coords": np.full((4, 2), np.nan)}, "coords must be finite"),
        ({"descriptors": np.zeros((3, 2))}, "descriptors must have shape"),
        ({"hover": ("nope",)}, "unknown column 'nope'"),
    ],
)
def test_inconsistent_atlases_are_refused(kwargs, message):
    base = {"ids": np.arange(4), "coords": np.zeros((4, 2)), "descriptors": np.zeros((4, 2, 2))}
    with pytest.raises(AtlasError, match=message):
        Atlas(**{**base, **kwargs})


def test_columns_check_their_codes_and_lengths():
    with pytest.raises(AtlasError, match=r"codes must be in \[-1, 1\]"):
        Column("opt", "hparam", "categorical", np.array([0, 2]), ("a", "b"))
    with pytest.raises(AtlasError, match="type must be one of"):
        Column("opt", "hparam", "ordinal", np.array([0]), ("a",))  # type: ignore[arg-type]
    col = Column("opt", "hparam", "categorical", np.array([0]), ("a",))
    with pytest.raises(AtlasError, match="has 1 values for 3 models"):
        Atlas(
            ids=np.arange(3), coords=np.zeros((3, 2)), descriptors=np.zeros((3, 4)), columns=(col,)
        )


def test_decoded_columns_and_frame(rng):
    atlas = tiny_atlas(rng)
    frame = atlas.frame()
    assert list(frame.columns) == ["id", "optimizer", "test_acc", "x", "y"]
    codes = atlas.column("optimizer").values
    labels = frame["optimizer"].tolist()
    for code, label in zip(codes, labels, strict=True):
        if code < 0:
            assert pd.isna(label)
        else:
            assert label == ("adam", "sgd", "rms")[code]
    assert atlas.column("optimizer").decoded().tolist() == [
        None if c < 0 else ("adam", "sgd", "rms")[c] for c in codes
    ]
    assert np.isnan(frame["test_acc"].iloc[-1])


def test_lookups_name_what_is_known(rng):
    atlas = tiny_atlas(rng)
    np.testing.assert_array_equal(atlas.index_of([12, 10]), [2, 0])
    with pytest.raises(AtlasError, match=r"not in the atlas: \[99\]"):
        atlas.index_of([10, 99])
    with pytest.raises(AtlasError, match="columns are"):
        atlas.column("nope")
    with pytest.raises(AtlasError, match="choose one of"):
        atlas.coloring("nope")
    assert atlas.coloring().column == "optimizer"  # hyper-parameters before metrics
    assert isinstance(atlas.coloring("test_acc"), Coloring)


def test_nearest_models_match_brute_force(rng):
    atlas = tiny_atlas(rng, n=30)
    queries = rng.random((3, 4, 3))
    idx, dist = atlas.nearest(queries, k=5)
    flat = atlas.descriptors.reshape(30, -1).astype(np.float64)
    for q, row_idx, row_dist in zip(queries, idx, dist, strict=True):
        d = np.linalg.norm(flat - q.reshape(-1), axis=1)
        np.testing.assert_array_equal(row_idx, np.argsort(d, kind="stable")[:5])
        np.testing.assert_allclose(row_dist, np.sort(d)[:5], rtol=1e-6)


def test_nearest_model_of_a_library_descriptor_is_itself(rng):
    atlas = tiny_atlas(rng, n=30)
    idx, dist = atlas.nearest(atlas.descriptors[7], k=100)
    assert idx.shape == (1, 30)
    assert idx[0, 0] == 7
    assert dist[0, 0] == pytest.approx(0.0, abs=1e-6)


def test_nearest_checks_its_input(rng):
    atlas = tiny_atlas(rng)
    with pytest.raises(AtlasError, match="12 values per model"):
        atlas.nearest(np.zeros(5))
    with pytest.raises(AtlasError, match="k must be a positive integer"):
        atlas.nearest(np.zeros(12), k=0)


def test_the_atlas_package_exports_a_sorted_public_surface():
    import weightspace.atlas as package

    assert package.__all__ == sorted(set(package.__all__))
    for name in package.__all__:
        assert hasattr(package, name), name
