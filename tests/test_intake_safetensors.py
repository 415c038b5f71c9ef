"""Strict safetensors validation (issue 12 point 3; ``../shared/reference/intake.md`` §2, §3, §4).

Each rule has a crafted file, and every crafted file also goes through the real ``safetensors`` library
(``deserialize``, which needs no numpy): the table records what the library does, so the places where we
are deliberately stricter (duplicates, leading whitespace, the 25 MB cap) are explicit, and the rest
must agree. Hypothesis then fuzzes headers: every one is accepted or refused with a message, and on
well-formed JSON without duplicates our verdict equals the library's.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import safetensors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.intake.detect import detect_header
from bot.intake.safetensors import (
    FIRST_READ_BYTES,
    MAX_HEADER_BYTES,
    MAX_KEYS,
    MAX_VALUE_CHARS,
    IncompleteHeader,
    SafetensorsError,
    header_length,
    missing_header_bytes,
    parse_header,
    read_header_file,
    summarize_metadata,
    trigger_words,
)
from tests.fakes.model_files import PRESETS, checkpoint_sdxl, header_bytes, kohya_metadata, modelspec_metadata

T = '"dtype":"F32","shape":[2],"data_offsets":[0,8]'  # one valid 8-byte tensor entry's fields


def raw_file(header: str | bytes, data: int = 8, *, tail: bytes = b"") -> bytes:
    """u64 N + the header exactly as given + ``data`` zero bytes + ``tail``."""
    head = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(head)) + head + bytes(data) + tail


def ours(blob: bytes) -> str | None:
    """None when accepted, else our refusal's message."""
    try:
        parse_header(blob, len(blob))
    except SafetensorsError as exc:
        return str(exc)
    return None


def library_accepts(blob: bytes) -> bool:
    try:
        safetensors.deserialize(blob)
    except Exception:
        return False
    return True


# (id, file bytes, our refusal (a fragment of the message) or None, does the library accept it?)
CASES: list[tuple[str, bytes, str | None, bool]] = [
    # accepted
    ("two tensors and metadata", raw_file('{"__metadata__":{"format":"pt"},"a":{' + T + '},'
                                          '"b":{"dtype":"F16","shape":[2,2],"data_offsets":[8,16]}}', 16), None, True),
    ("empty header", raw_file("{}", 0), None, True),
    ("metadata only", raw_file('{"__metadata__":{"a":"b"}}', 0), None, True),
    ("metadata null", raw_file('{"__metadata__":null,"a":{' + T + "}}"), None, True),
    ("scalar and empty tensors", raw_file('{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},'
                                          '"e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},'
                                          '"f":{"dtype":"I64","shape":[3,0],"data_offsets":[4,4]}}', 4), None, True),
    ("buffer order differs from JSON order", raw_file('{"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},'
                                                      '"a":{' + T + "}}", 16), None, True),
    ("trailing spaces (library padding)", raw_file('{"a":{' + T + "}}   \t\r\n"), None, True),
    ("unknown field in a tensor", raw_file('{"a":{' + T + ',"quant":{"x":[1,-0,2.5]}}}'), None, True),
    ("F4 packed in whole bytes", raw_file('{"a":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}', 2), None, True),
    ("paired surrogate escape", raw_file('{"\\ud83d\\ude00":{' + T + "}}"), None, True),
    # refused by both
    ("shorter than 8 bytes", b"\x01\x00\x00", "fewer than the 8", False),
    ("header past the end", struct.pack("<Q", 1000) + b"{}" + bytes(10), "past the end", False),
    ("invalid UTF-8", raw_file(b'{"a\xff":{' + T.encode() + b"}}"), "UTF-8", False),
    ("not JSON", raw_file('{"a":{' + T), "not valid JSON", False),
    ("an array", raw_file("[1]", 0), "must begin with '{'", False),
    ("trailing NULs", raw_file(b'{"a":{' + T.encode() + b"}}\x00\x00"), "not valid JSON", False),
    ("NaN", raw_file('{"a":{' + T + ',"x":NaN}}'), "NaN", False),
    ("number out of range", raw_file('{"a":{' + T + ',"x":1e400}}'), "out of range", False),
    ("lone surrogate", raw_file('{"\\ud800":{' + T + "}}"), "surrogate", False),
    ("control character in a string", raw_file(b'{"__metadata__":{"k":"a\x01b"},"a":{' + T.encode() + b"}}"),
     "not valid JSON", False),
    ("unknown field nested 126 deep", raw_file('{"a":{' + T + ',"x":' + "[" * 126 + "]" * 126 + "}}"),
     "nested too deeply", False),
    ("metadata not an object", raw_file('{"__metadata__":"x","a":{' + T + "}}"), "__metadata__ is not", False),
    ("metadata number value", raw_file('{"__metadata__":{"k":1},"a":{' + T + "}}"), "int, not a string", False),
    ("metadata object value", raw_file('{"__metadata__":{"k":{"n":"v"}},"a":{' + T + "}}"), "not a string", False),
    ("metadata null value", raw_file('{"__metadata__":{"k":null},"a":{' + T + "}}"), "null, not a string", False),
    ("tensor entry not an object", raw_file('{"a":null}', 0), "not a JSON object", False),
    ("unknown dtype", raw_file('{"a":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}}'), "unknown dtype", False),
    ("lower-case dtype", raw_file('{"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}}'), "unknown dtype", False),
    ("negative dimension", raw_file('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}'), "shape", False),
    ("float dimension", raw_file('{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}'), "shape", False),
    ("boolean dimension", raw_file('{"a":{"dtype":"U8","shape":[true],"data_offsets":[0,1]}}', 1), "shape", False),
    ("dimension of 2**64", raw_file('{"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,0]}}', 0),
     "shape", False),
    ("negative zero offset", raw_file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[-0,8]}}'), "data_offsets",
     False),
    ("missing data_offsets", raw_file('{"a":{"dtype":"F32","shape":[2]}}'), "no 'data_offsets'", False),
    ("missing dtype", raw_file('{"a":{"shape":[2],"data_offsets":[0,8]}}'), "no 'dtype'", False),
    ("three offsets", raw_file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}'), "two non-negative",
     False),
    ("a hole", raw_file('{"a":{' + T + '},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}', 24), "hole",
     False),
    ("an overlap", raw_file('{"a":{' + T + '},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12),
     "overlaps", False),
    ("not starting at 0", raw_file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', 16), "hole", False),
    ("end before begin", raw_file('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', 8), "before it begins",
     False),
    ("size does not match the shape", raw_file('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}'), "needs 12",
     False),
    ("sub-byte dtype not byte-aligned", raw_file('{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}', 1),
     "whole number of bytes", False),
    ("element count overflow before a 0", raw_file('{"a":{"dtype":"F32","shape":[4294967296,4294967296,0],'
                                                   '"data_offsets":[0,0]}}', 0), "overflows", False),
    ("trailing bytes", raw_file('{"a":{' + T + "}}", tail=b"x"), "after its last tensor", False),
    ("truncated data", raw_file('{"a":{' + T + "}}", 7), "truncated", False),
    ("duplicate field in an entry", raw_file('{"a":{"dtype":"F32",' + T + "}}"), "repeats the key 'dtype'", False),
    ("duplicate __metadata__", raw_file('{"__metadata__":null,"__metadata__":null}', 0), "repeats", False),
    # refused by us only: deliberately stricter than the library
    ("duplicate tensor name", raw_file('{"a":{' + T + '},"a":{' + T + "}}"), "repeats the key 'a'", True),
    ("duplicate metadata key", raw_file('{"__metadata__":{"k":"v","k":"w"},"a":{' + T + "}}"), "repeats the key 'k'",
     True),
    ("leading whitespace", raw_file(' {"a":{' + T + "}}"), "must begin with '{'", True),
]


@pytest.mark.parametrize(("blob", "refusal", "library"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_with_a_crafted_file(blob: bytes, refusal: str | None, library: bool) -> None:
    got = ours(blob)
    if refusal is None:
        assert got is None, got
    else:
        assert got is not None and refusal in got, got
    assert library_accepts(blob) is library, "the library's behaviour changed: revisit the table"


def test_the_header_cap_is_stricter_than_the_library() -> None:
    n = MAX_HEADER_BYTES + 8  # a valid header padded with spaces past our cap, under the library's 100 MB
    blob = struct.pack("<Q", n) + b"{}" + b" " * (n - 2)
    assert library_accepts(blob)
    refusal = ours(blob)
    assert refusal is not None and "cap" in refusal
    with pytest.raises(SafetensorsError, match="cap"):
        header_length(blob[:8])


def test_what_a_parsed_header_holds() -> None:
    blob = CASES[0][1]
    header = parse_header(blob, len(blob))
    assert header.metadata == {"format": "pt"}
    assert [(t.name, t.dtype, t.shape, t.begin, t.end) for t in header.tensors] == [
        ("a", "F32", (2,), 0, 8), ("b", "F16", (2, 2), 8, 16)]
    assert header.data_size == 16 and header.file_size == len(blob)
    assert header.notes == ()
    unknown = CASES[7][1]
    assert "unknown fields: 'quant'" in parse_header(unknown, len(unknown)).notes[0]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_fake_model_file_is_valid_for_us_and_for_the_library(tmp_path: Path, name: str) -> None:
    path = PRESETS[name](tmp_path / f"{name}.safetensors")
    header = read_header_file(path)
    assert header.file_size == path.stat().st_size
    if path.stat().st_size <= 16 * 1024 * 1024:  # the library reads the whole buffer
        assert library_accepts(path.read_bytes())


def test_sparse_file_cross_check_with_numpy(tmp_path: Path) -> None:
    """The reference's sparse-file trick: the library validates a 7 GB declared file without its data."""
    pytest.importorskip("numpy")
    path = checkpoint_sdxl(tmp_path / "big.safetensors", pad_to=7 * 10**9)
    with safetensors.safe_open(path, "numpy") as f:
        keys = set(f.keys())
    assert {t.name for t in read_header_file(path).tensors} == keys


# --------------------------------------------------------------------------- reading only the header


def test_a_reader_needs_one_request_for_a_small_header_and_two_for_a_large_one(tmp_path: Path) -> None:
    small = PRESETS["lora_sdxl"](tmp_path / "small.safetensors")
    raw = small.read_bytes()
    first = raw[:FIRST_READ_BYTES]
    assert missing_header_bytes(first) == 0
    assert parse_header(first, len(raw)).file_size == len(raw)

    tensors = {f"model.diffusion_model.block_{i:05d}.some_long_parameter_name.weight": ("F16", (4, 4))
               for i in range(3000)}
    head, data = header_bytes(tensors)
    assert len(head) > FIRST_READ_BYTES
    size = len(head) + data
    first = head[:FIRST_READ_BYTES]
    more = missing_header_bytes(first)
    assert more == len(head) - FIRST_READ_BYTES
    with pytest.raises(IncompleteHeader) as info:
        parse_header(first, size)
    assert info.value.needed == len(head)
    assert len(parse_header(first + head[FIRST_READ_BYTES:FIRST_READ_BYTES + more], size).tensors) == 3000
    assert missing_header_bytes(b"\x01\x02") == 6


def test_read_header_file_reads_a_7_gb_sparse_file_by_its_header(tmp_path: Path) -> None:
    path = checkpoint_sdxl(tmp_path / "big.safetensors", pad_to=7 * 10**9)
    header = read_header_file(path)
    assert header.file_size == path.stat().st_size == 7 * 10**9
    with pytest.raises(SafetensorsError, match="fewer than the 8"):
        read_header_file(path.with_name("tiny").write_bytes(b"abc") and path.with_name("tiny"))


# --------------------------------------------------------------------------- metadata summary


def test_the_summary_strips_data_urls_and_caps_sizes() -> None:
    meta = {**kohya_metadata("sdxl_base_v1-0"), **modelspec_metadata("stable-diffusion-xl-v1-base/lora"),
            "ss_training_comment": "see data:image/png;base64,AAAA== and more", "ss_dataset_dirs": "x" * 5000,
            "format": "pt", "k" * 300: "long key"}
    summary = summarize_metadata(meta)
    assert "modelspec.thumbnail" not in summary.modelspec
    assert "modelspec.thumbnail" in summary.removed_data_urls
    assert summary.kohya["ss_training_comment"] == "see [data URL removed] and more"
    assert "ss_training_comment" in summary.removed_data_urls
    assert len(summary.kohya["ss_dataset_dirs"]) == MAX_VALUE_CHARS + 1 and "ss_dataset_dirs" in summary.truncated
    assert summary.other["format"] == "pt"
    assert ("k" * 100 + "…") in summary.other
    assert summary.modelspec["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
    assert ("Dim / alpha", "8 / 4") in summary.highlights()
    assert all("data:" not in v for v in [*summary.kohya.values(), *summary.modelspec.values()])


def test_the_summary_keeps_at_most_max_keys() -> None:
    summary = summarize_metadata({f"key{i}": "v" for i in range(MAX_KEYS + 7)})
    assert len(summary.other) == MAX_KEYS and summary.dropped_keys == 7


def test_tag_frequency_gives_top_tags_over_all_folders() -> None:
    freq = {"10_alice": {"alice": 20, "1girl": 19, "smile": 3}, "5_bob": {"bob": 8, "1girl": 2, " smile ": 4}}
    summary = summarize_metadata({"ss_tag_frequency": json.dumps(freq)})
    assert summary.top_tags[:4] == (("1girl", 21), ("alice", 20), ("bob", 8), ("smile", 7))


def test_trigger_words_prefer_modelspec_then_tags_in_every_caption() -> None:
    assert trigger_words({"modelspec.trigger_phrase": "ohwx man, red hat, ,ohwx man"}) == ["ohwx man", "red hat"]
    meta = kohya_metadata(folder="10_alice", tags={"alice": 20, "1girl": 20, "smile": 5}, images=20)
    assert trigger_words(meta) == ["alice", "1girl"]
    no_dirs = {"ss_tag_frequency": json.dumps({"x": {"bob": 7, "hat": 3}})}
    assert trigger_words(no_dirs) == ["bob"]
    for broken in ("not json", "[1, 2]", '{"x": [1]}', '{"x": {"t": "many"}}', "[" * 5000):
        assert trigger_words({"ss_tag_frequency": broken}) == []
        assert summarize_metadata({"ss_tag_frequency": broken}).top_tags == ()


# --------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=10**12))
def test_fuzzed_bytes_are_accepted_or_refused_with_a_message(blob: bytes, size: int) -> None:
    for file_size in (len(blob), size):
        try:
            parse_header(blob, file_size)
        except IncompleteHeader as exc:
            assert str(exc) and exc.needed > len(blob)
        except SafetensorsError as exc:
            assert str(exc)


_names = st.text(max_size=12)
_good_dim = st.integers(0, 6)
_dims = st.lists(st.one_of(_good_dim, _good_dim, _good_dim, _good_dim, st.integers(-3, 2**65), st.booleans(),
                           st.floats(0, 4)), max_size=4)
_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                        max_size=3), max_leaves=8)


@st.composite
def headers(draw: st.DrawFn) -> tuple[bytes, int]:
    """A JSON header mostly shaped like safetensors, with offsets usually consistent, sometimes not."""
    from bot.intake.safetensors import DTYPE_BITS

    header: dict[str, object] = {}
    if draw(st.booleans()):
        header["__metadata__"] = draw(st.one_of(
            st.none(), st.dictionaries(_names, st.text(max_size=20), max_size=4),
            st.dictionaries(_names, _json_values, max_size=3)))
    offset = 0
    for name in draw(st.lists(_names, max_size=5, unique=True)):
        if name == "__metadata__":
            continue
        dtype = draw(st.sampled_from([*DTYPE_BITS, "f32", "X"]))
        shape = draw(_dims)
        size = 0
        if all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d for d in shape):
            elements = 1
            for d in shape:
                elements *= d
            size = elements * DTYPE_BITS.get(dtype, 8) // 8
        size = min(size, 4096) if draw(st.booleans()) else draw(st.integers(0, 64))
        entry: dict[str, object] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        if draw(st.integers(0, 9)) == 0:
            entry.pop(draw(st.sampled_from(["dtype", "shape", "data_offsets"])))
        if draw(st.integers(0, 9)) == 0:
            entry[draw(st.text(max_size=5))] = draw(_json_values)
        header[name] = entry if draw(st.integers(0, 19)) else draw(_json_values)
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode() + b" " * draw(st.integers(0, 7))
    data = offset + draw(st.sampled_from([0, 0, 0, 1, -1]))
    return struct.pack("<Q", len(text)) + text + bytes(max(data, 0)), 8 + len(text) + max(data, 0)


@FUZZ
@given(headers())
def test_fuzzed_headers_agree_with_the_library(case: tuple[bytes, int]) -> None:
    """No duplicates and no leading whitespace here (json.dumps of a dict), so our verdict must be the library's;
    and whatever we accept, the summary and the detector take without crashing."""
    blob, size = case
    assert size == len(blob)
    refusal = ours(blob)
    assert (refusal is None) is library_accepts(blob), refusal
    if refusal is None:
        header = parse_header(blob, size)
        summarize_metadata(header.metadata)
        detect_header(header, file_name="x.safetensors")


@FUZZ
@given(headers(), st.data())
def test_fuzzed_mutations_never_crash_the_inspector(case: tuple[bytes, int], data: st.DataObject) -> None:
    blob = bytearray(case[0])
    for _ in range(data.draw(st.integers(1, 4))):
        if not blob:
            break
        i = data.draw(st.integers(0, len(blob) - 1))
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip":
            blob[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del blob[i:i + data.draw(st.integers(1, 8))]
        else:
            blob[i:i] = data.draw(st.sampled_from([b"{", b'"', b"\\u", b"\\ud800", b",", b"-0", b"1e999", b"\x00"]))
    try:
        header = parse_header(bytes(blob), len(blob))
    except SafetensorsError as exc:
        assert str(exc)
    else:
        summarize_metadata(header.metadata)
        detect_header(header)
