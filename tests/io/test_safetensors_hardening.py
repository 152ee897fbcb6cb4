"""safetensors headers are untrusted: every malformed header is refused in one line, and the
tensors come back in the order the writer laid them out."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weightspace import CheckpointError, load_weights
from weightspace.errors import WeightLimitError
from weightspace.io.safetensors_format import (
    MAX_HEADER_BYTES,
    ORDER_KEY,
    ROLES_KEY,
    map_tensors,
    read_header,
    read_safetensors,
)


def write_raw(path, header, data=b"", *, length=None):
    """A safetensors file laid out by hand: 8-byte length, header (JSON or raw bytes), data."""
    blob = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(blob) if length is None else length
    path.write_bytes(n.to_bytes(8, "little") + blob + data)
    return path


def f32(n, start=0.0):
    return np.arange(start, start + n, dtype="<f4").tobytes()


def entry(shape, begin, end, dtype="F32"):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


BAD_HEADERS = {
    "overlapping": (
        {"a.weight": entry([4], 0, 16), "b.weight": entry([4], 8, 24)},
        f32(6),
        r"'a\.weight' \(bytes 0-16\) and 'b\.weight' \(bytes 8-24\) overlap",
    ),
    "negative-offset": (
        {"a.weight": entry([4], -16, 0)},
        f32(4),
        r"'a\.weight': data_offsets must be two whole non-negative numbers",
    ),
    "outside-data": (
        {"a.weight": entry([4], 16, 32)},
        f32(4),
        r"tensor 'a\.weight' ends at byte 32 of the data section, which has 16",
    ),
    "fractional-shape": (
        {"a.weight": entry([2.5, 2], 0, 16)},
        f32(4),
        r"'a\.weight': shape must be a list of whole non-negative numbers; got \[2\.5, 2\]",
    ),
    "negative-shape": (
        {"a.weight": entry([-2, -2], 0, 16)},
        f32(4),
        r"shape must be a list of whole non-negative numbers; got \[-2, -2\]",
    ),
    "overflowing-shape": (
        {"a.weight": entry([2**40, 2**40, 2**40], 0, 16)},
        f32(4),
        r"'a\.weight': shape \(1099511627776, .*\) overflows",
    ),
    "wrong-size": (
        {"a.weight": entry([3], 0, 16)},
        f32(4),
        r"'a\.weight' of shape \(3,\) and dtype F32 needs 12 bytes, offsets give 16",
    ),
    "dtype-list": (
        {"a.weight": entry([4], 0, 16, dtype=["F32"])},
        f32(4),
        r"'a\.weight': dtype must be text like 'F32'; got a list",
    ),
    "unknown-dtype": (
        {"a.weight": entry([4], 0, 16, dtype="F33")},
        f32(4),
        r"'a\.weight': unknown dtype 'F33'",
    ),
    "float8": (
        {"a.weight": entry([4], 0, 4, dtype="F8_E4M3")},
        f32(1),
        r"dtype F8_E4M3, which weightspace does not read",
    ),
    "offsets-not-a-pair": (
        {"a.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0]}},
        f32(4),
        r"data_offsets must be two whole non-negative numbers \[begin, end\]; got \[0\]",
    ),
    "entry-not-an-object": ({"a.weight": [1, 2]}, f32(4), r"'a\.weight' lacks dtype/shape"),
    "metadata-string": (
        {"__metadata__": "hello", "a.weight": entry([4], 0, 16)},
        f32(4),
        r"__metadata__ must be an object of text values; got text",
    ),
    "metadata-list": (
        {"__metadata__": ["a", "b"], "a.weight": entry([4], 0, 16)},
        f32(4),
        r"__metadata__ must be an object of text values; got a list",
    ),
    "metadata-number-value": (
        {"__metadata__": {"epoch": 3}, "a.weight": entry([4], 0, 16)},
        f32(4),
        r"__metadata__ 'epoch' must be text; got a number \(3\)",
    ),
    "roles-not-json": (
        {"__metadata__": {ROLES_KEY: "{not json"}, "a.weight": entry([4], 0, 16)},
        f32(4),
        r"metadata 'weightspace\.roles' is not an object in JSON",
    ),
    "roles-a-list": (
        {"__metadata__": {ROLES_KEY: '["kernel"]'}, "a.weight": entry([4], 0, 16)},
        f32(4),
        r"metadata 'weightspace\.roles' is not an object in JSON",
    ),
    "roles-unknown-role": (
        {"__metadata__": {ROLES_KEY: '{"a.weight": "wizard"}'}, "a.weight": entry([4], 0, 16)},
        f32(4),
        r"tensor 'a\.weight' has role 'wizard'; expected one of kernel",
    ),
    "order-not-json": (
        {"__metadata__": {ORDER_KEY: "[[["}, "a.weight": entry([4], 0, 16)},
        f32(4),
        r"metadata 'weightspace\.order' is not a list in JSON",
    ),
    "header-a-list": ([1, 2, 3], b"", r"corrupt safetensors header \(not a JSON object\)"),
    "not-json": (b"{'a': 1}", b"", r"corrupt safetensors header \(Expecting property name"),
    "duplicate-tensor": (
        b'{"a.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, '
        b'"a.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}',
        f32(4),
        r"'a\.weight' appears twice",
    ),
    "nested-100000-deep": (
        b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"",
        r"JSON nested far deeper than the format's three levels",
    ),
    "nested-objects-deep": (
        b"{" + b'"a": {' * 50_000 + b"}" * 50_001,
        b"",
        r"JSON nested far deeper",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_bad_header_is_refused_in_one_line(tmp_path, refused, case):
    header, data, pattern = BAD_HEADERS[case]
    path = write_raw(tmp_path / f"{case}.safetensors", header, data)
    with pytest.raises(CheckpointError, match=pattern):
        read_safetensors(path)
    # a header that does not start with "{" is not recognized as safetensors at all
    refused(path, "unrecognized format" if case == "header-a-list" else pattern)


def test_header_length_beyond_the_file_is_refused(tmp_path, refused):
    header = json.dumps({"a.weight": entry([4], 0, 16)}).encode()
    path = write_raw(tmp_path / "long.safetensors", header, f32(4), length=10**12)
    refused(path, r"header says 1000000000000 bytes but the file has \d+; the file is truncated")
    with pytest.raises(CheckpointError, match="header of 1000000000000 bytes, file of"):
        read_header(path)


def test_header_over_the_format_limit_is_refused_before_reading_it(tmp_path, refused):
    path = write_raw(tmp_path / "huge.safetensors", b"{", length=MAX_HEADER_BYTES + 1)
    with path.open("r+b") as f:  # a sparse file: the claimed header is "there" but never read
        f.truncate(MAX_HEADER_BYTES + 64)
    refused(path, r"header of 100,000,001 bytes is over the format's limit of 100,000,000")


def test_declared_size_over_max_weights_is_refused(tmp_path):
    path = write_raw(
        tmp_path / "big.safetensors",
        {"a.weight": entry([10, 10], 0, 400), "a.bias": entry([10], 400, 440)},
        f32(110),
    )
    assert read_safetensors(path, max_weights=110).n_params == 110
    with pytest.raises(WeightLimitError, match=r"big\.safetensors: .*declare 110 weights, over "):
        read_safetensors(path, max_weights=109)
    assert load_weights(path).n_params == 110  # the default limit is far above


def test_empty_tensors_and_gaps_are_accepted(tmp_path):
    path = write_raw(
        tmp_path / "gaps.safetensors",
        {"a.weight": entry([2], 0, 8), "a.empty": entry([0], 8, 8), "b.weight": entry([2], 16, 24)},
        f32(6),
    )
    ws = read_safetensors(path)
    np.testing.assert_array_equal(ws["b.weight"].array, [4.0, 5.0])
    assert ws["a.empty"].shape == (0,)


# --------------------------------------------------------------------------------------- order
def test_tensors_keep_the_writers_data_offset_order(tmp_path):
    """A writer that lays tensors out in model order: the stem stays first (it used to move to the
    end, after ``head``, when tensors were sorted by name)."""
    layout = [("stem.weight", 6), ("blocks.0.weight", 4), ("blocks.10.weight", 2)]
    layout += [("blocks.2.weight", 2), ("head.weight", 4)]
    header, offset, data = {}, 0, b""
    for i, (name, n) in enumerate(layout):
        header[name] = entry([n // 2, 2], offset, offset + 4 * n)
        data += f32(n, start=100 * i)
        offset += 4 * n
    # the JSON lists them by name, as many writers do; the offsets decide
    header = dict(sorted(header.items()))
    ws = load_weights(write_raw(tmp_path / "model.safetensors", header, data))
    assert ws.names == tuple(name for name, _ in layout)
    expected = np.concatenate([np.arange(100 * i, 100 * i + n) for i, (_, n) in enumerate(layout)])
    np.testing.assert_array_equal(ws.vector(), expected)


def test_files_of_the_safetensors_writer_are_read_in_natural_name_order(tmp_path):
    """``safetensors`` sorts tensors by dtype and name when writing: no save order to keep, so
    ``layers.2`` comes before ``layers.10`` (plain name order would put it after)."""
    from safetensors.numpy import save_file

    arrays = {f"layers.{i}.weight": np.full((2, 2), i, np.float32) for i in (0, 1, 2, 10)}
    arrays["layers.1.num_batches_tracked"] = np.array(3, dtype=np.int64)
    path = tmp_path / "sorted.safetensors"
    save_file(arrays, str(path))
    offsets = [e.name for e in read_header(path).entries]
    assert offsets.index("layers.10.weight") < offsets.index("layers.2.weight")
    names = [n for n in load_weights(path).names if n.endswith("weight")]
    assert names == ["layers.0.weight", "layers.1.weight", "layers.2.weight", "layers.10.weight"]


# ---------------------------------------------------------------------------------- hypothesis
_DTYPES = st.sampled_from(["F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F33", "", "f32"])
_NUMBER = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.booleans(), st.none()
)
_SHAPES = st.one_of(
    st.lists(st.integers(0, 6), max_size=3), st.lists(_NUMBER, max_size=3), _NUMBER, st.text()
)
_ENTRY = st.one_of(
    st.fixed_dictionaries(
        {"dtype": st.one_of(_DTYPES, _NUMBER, st.lists(_DTYPES)), "shape": _SHAPES},
        optional={"data_offsets": st.lists(st.one_of(st.integers(-8, 200), _NUMBER), max_size=3)},
    ),
    st.recursive(
        _NUMBER | st.text(max_size=5),
        lambda c: st.lists(c) | st.dictionaries(st.text(max_size=3), c),
        max_leaves=8,
    ),
)
_METADATA = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.dictionaries(st.text(max_size=20), st.one_of(st.text(max_size=30), _NUMBER)),
    st.fixed_dictionaries(
        {ROLES_KEY: st.sampled_from(['{"w.0": "kernel"}', "[]", "{", '"kernel"', '{"w.0": 3}'])}
    ),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    entries=st.dictionaries(st.sampled_from(["w.0", "w.1", "b.0", "x"]), _ENTRY, max_size=4),
    metadata=_METADATA,
    data_len=st.integers(0, 160),
)
def test_any_header_is_read_or_refused_cleanly(tmp_path, entries, metadata, data_len):
    """Whatever the header holds, the reader returns tensors that are exactly the bytes their
    offsets name, or raises CheckpointError naming the file: never another exception."""
    header = dict(entries)
    if metadata is not None:
        header["__metadata__"] = metadata
    data = bytes(range(256))[:data_len]
    path = write_raw(tmp_path / "fuzz.safetensors", header, data)
    try:
        arrays, _ = map_tensors(path)
        ws = read_safetensors(path)
    except CheckpointError as exc:
        message = str(exc)
        assert message.startswith(str(path))
        assert "\n" not in message
        return
    finally:
        os.remove(path)
    assert set(ws.names) == set(entries)
    for name, info in entries.items():
        begin, end = info["data_offsets"]
        assert arrays[name].tobytes() == data[begin:end]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shapes=st.lists(st.lists(st.integers(0, 4), max_size=3), min_size=1, max_size=5),
    order=st.randoms(use_true_random=False),
)
def test_any_valid_layout_round_trips(tmp_path, shapes, order):
    """Tensors laid out in any order, with any shapes, read back with their values, in layout
    order (or natural name order when the layout happens to be sorted by name)."""
    names = [f"t{i}.weight" for i in range(len(shapes))]
    layout = list(range(len(shapes)))
    order.shuffle(layout)
    header, data, offset, values = {}, b"", 0, {}
    for i in layout:
        n = int(np.prod(shapes[i]))
        values[names[i]] = np.arange(offset // 4, offset // 4 + n, dtype=np.float32)
        header[names[i]] = entry(shapes[i], offset, offset + 4 * n)
        data += values[names[i]].tobytes()
        offset += 4 * n
    path = write_raw(tmp_path / "valid.safetensors", header, data)
    ws = read_safetensors(path)
    for name, value in values.items():
        np.testing.assert_array_equal(ws[name].array.ravel(), value)
    assert ws.names == tuple(names[i] for i in layout)
    os.remove(path)
