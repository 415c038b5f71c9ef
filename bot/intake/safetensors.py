"""Strict safetensors header validation from bytes, and a summary of its ``__metadata__``.

Why our own parser: the ``safetensors`` library needs numpy or torch to open a file, copies the whole
buffer to deserialize it, and cannot take a header-only prefix; yet the intake reads only the header
of a remote file (two Range requests at most) and must decide before downloading GBs. This module
needs only the stdlib, works on the first ``8 + N`` bytes plus the file size, and is stricter than the
library (``../shared/reference/intake.md`` §2):

Layout: 8 bytes N (u64 little-endian), N bytes of UTF-8 JSON, then the tensor buffer. Rules checked,
each refusal a :class:`SafetensorsError` whose message names the reason in words:

* the file has at least 8 bytes; N ≤ :data:`MAX_HEADER_BYTES` (25 MB, huggingface_hub's cap; the
  library allows 100 MB); 8 + N ≤ file size;
* the header starts with ``{`` (**stricter**: the library accepts leading whitespace; trailing JSON
  whitespace is accepted, as the library pads headers with spaces; trailing NULs are refused, as by
  the library); strict UTF-8; JSON without NaN/Infinity, without lone surrogate escapes, and **without
  duplicate keys at any level** (stricter: the library keeps the last one);
* the top level is an object; ``__metadata__`` is an object of string values, or null (no metadata).
  A null *value* is refused, as the library 0.8.0 does (measured; the reference says it is accepted);
* each tensor entry has ``dtype`` (one of :data:`DTYPE_BITS`, case-sensitive), ``shape`` (a list of
  non-negative integers) and ``data_offsets`` (exactly two non-negative integers; integers mean JSON
  integers: ``2.0``, ``-0`` and ``true`` are refused, as by the library). **Unknown fields are
  accepted** (as by the library, which ignores them: refusing would refuse loadable files) and
  reported in :attr:`SafetensorsHeader.notes` for moderators; like the library, no value may nest
  more than 127 arrays/objects deep;
* sorted by offsets, the tensors tile the buffer exactly from 0 (no hole, no overlap, end ≥ begin);
* per tensor, prod(shape) × bits is computed left to right with the library's u64 overflow check, is a
  whole number of bytes, and equals end − begin;
* 8 + N + the last end equals the file size (**trailing bytes are refused**, as by the library).

Remote reads (§3): ask for :data:`FIRST_READ_BYTES` first; :func:`missing_header_bytes` tells whether
a second request is needed (and how many more bytes) once the first 8 bytes are in.

Metadata (§4): :func:`summarize_metadata` splits kohya ``ss_*``/``sshs_*`` and SAI ``modelspec.*`` keys,
strips ``data:`` URLs (thumbnails), caps sizes, parses ``ss_tag_frequency`` into top tags and
suggests trigger words. Values stay raw text: escaping for Discord is the renderer's job.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_HEADER_BYTES = 25_000_000
FIRST_READ_BYTES = 100_000
_U64_MAX = 2**64 - 1
_MAX_NOTES = 20
_MAX_JSON_DEPTH = 127  # nested arrays/objects serde_json (the library's parser) accepts, measured

#: Bits per element of each dtype the library knows (safetensors 0.8.0 ``Dtype``), case-sensitive.
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
    "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}
_REQUIRED_FIELDS = ("dtype", "shape", "data_offsets")


class SafetensorsError(ValueError):
    """The bytes are not a valid safetensors file (or header); the message says why, in words."""


class IncompleteHeader(SafetensorsError):
    """Fewer bytes were given than the header needs: fetch ``needed`` bytes from offset 0 and retry."""

    def __init__(self, message: str, needed: int) -> None:
        super().__init__(message)
        self.needed = needed


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    """Offset in the tensor buffer (the file offset is ``8 + header_size + begin``)."""
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


@dataclass(frozen=True)
class SafetensorsHeader:
    header_size: int
    """N, the JSON header's length in bytes."""
    tensors: tuple[TensorInfo, ...]
    """In the header's order."""
    metadata: dict[str, str]
    """``__metadata__`` as stored (empty when absent or null). Free text: see :func:`summarize_metadata`."""
    data_size: int
    notes: tuple[str, ...] = ()
    """Oddities that the format allows but a moderator may want to see (unknown fields)."""

    @property
    def file_size(self) -> int:
        return 8 + self.header_size + self.data_size

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {t.name: t.shape for t in self.tensors}


# --------------------------------------------------------------------------- reading the length


def header_length(first_bytes: bytes, *, max_header_bytes: int = MAX_HEADER_BYTES) -> int:
    """N from the first 8 bytes (more may be given); refused when N is above the cap."""
    if len(first_bytes) < 8:
        raise IncompleteHeader(f"need the first 8 bytes to read the header length, got {len(first_bytes)}", 8)
    n = int.from_bytes(first_bytes[:8], "little")
    if n > max_header_bytes:
        raise SafetensorsError(f"the header declares {n:,} bytes, more than the {max_header_bytes:,}-byte cap "
                               "(not a safetensors file, or a hostile one)")
    return n


def missing_header_bytes(prefix: bytes, *, max_header_bytes: int = MAX_HEADER_BYTES) -> int:
    """How many bytes after ``prefix`` a reader still needs for the whole header (0: it has them all).

    A fetcher asks for ``bytes=0-{FIRST_READ_BYTES - 1}``; when this returns more than 0 it asks once more for
    exactly that many bytes from ``len(prefix)``.
    """
    if len(prefix) < 8:
        return 8 - len(prefix)
    return max(0, 8 + header_length(prefix, max_header_bytes=max_header_bytes) - len(prefix))


# --------------------------------------------------------------------------- parsing


class _Duplicate(Exception):
    pass


class _BadConstant(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise _BadConstant(f"{name}, which is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _BadConstant(f"the number {text[:30]}, which is out of range")
    return value


class _NegativeZero:
    """JSON ``-0``: Python reads it as the integer 0, the library as a float, which no integer field takes."""


_NEGATIVE_ZERO = _NegativeZero()


def _int(text: str) -> Any:
    return _NEGATIVE_ZERO if text == "-0" else int(text)


def _depth(value: Any) -> int:
    """How many arrays/objects deep ``value`` nests (0 for a scalar), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _load_json(raw: bytes) -> Any:
    if not raw.startswith(b"{"):
        what = "whitespace" if raw[:1].isspace() else repr(raw[:1])
        raise SafetensorsError(f"the header must begin with '{{', it begins with {what}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SafetensorsError(f"the header is not valid UTF-8 (byte {exc.start})") from None
    try:
        obj = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant, parse_int=_int,
                         parse_float=_float)
    except _Duplicate as exc:
        raise SafetensorsError(f"the header repeats the key {_short(str(exc))}") from None
    except _BadConstant as exc:
        raise SafetensorsError(f"the header contains {exc}") from None
    except json.JSONDecodeError as exc:
        raise SafetensorsError(f"the header is not valid JSON: {exc.msg} at character {exc.pos}") from None
    except RecursionError:
        raise SafetensorsError("the header's JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise SafetensorsError(f"the header is not valid JSON: {exc}") from None
    if "\\u" in text and _has_lone_surrogate(obj):
        raise SafetensorsError("the header contains an unpaired UTF-16 surrogate escape")
    return obj


def _is_uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _U64_MAX


def _tensor(name: str, entry: Any, notes: list[str]) -> TensorInfo:
    where = f"tensor {_short(name)}"
    if not isinstance(entry, dict):
        raise SafetensorsError(f"{where} is not a JSON object")
    for key in _REQUIRED_FIELDS:
        if key not in entry:
            raise SafetensorsError(f"{where} has no {key!r}")
    extra = [k for k in entry if k not in _REQUIRED_FIELDS]
    if extra:
        # the library's JSON parser stops at 128 nested levels; the top level and this entry are two of them
        if any(_depth(entry[k]) > _MAX_JSON_DEPTH - 2 for k in extra):
            raise SafetensorsError(f"{where} has an unknown field nested too deeply")
        if len(notes) < _MAX_NOTES:
            notes.append(f"{where} has unknown fields: {', '.join(_short(k, 30) for k in extra[:5])}")
    dtype = entry["dtype"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise SafetensorsError(f"{where} has an unknown dtype {_short(str(dtype), 30)}")
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(_is_uint(d) for d in shape):
        raise SafetensorsError(f"{where} has a shape that is not a list of non-negative integers")
    offsets = entry["data_offsets"]
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_uint(o) for o in offsets):
        raise SafetensorsError(f"{where} has data_offsets that are not two non-negative integers")
    begin, end = offsets
    if end < begin:
        raise SafetensorsError(f"{where} ends (at {end}) before it begins (at {begin})")
    # the library's arithmetic: u64, left to right, overflow refused
    elements = 1
    for dim in shape:
        elements *= dim
        if elements > _U64_MAX:
            raise SafetensorsError(f"{where}: the element count of shape {shape[:8]} overflows")
    bits = elements * DTYPE_BITS[dtype]
    if bits > _U64_MAX:
        raise SafetensorsError(f"{where}: the size of shape {shape[:8]} overflows")
    if bits % 8:
        raise SafetensorsError(f"{where}: {elements} elements of {dtype} are not a whole number of bytes")
    if bits // 8 != end - begin:
        raise SafetensorsError(f"{where}: shape {shape[:8]} of {dtype} needs {bits // 8:,} bytes, "
                               f"its offsets span {end - begin:,}")
    return TensorInfo(name=name, dtype=dtype, shape=tuple(shape), begin=begin, end=end)


def parse_header(prefix: bytes, file_size: int, *, max_header_bytes: int = MAX_HEADER_BYTES) -> SafetensorsHeader:
    """Validate a safetensors file from its first bytes (at least ``8 + N``; more are ignored) and its size.

    ``file_size`` is the whole file's size (from ``Content-Range``, ``Content-Length`` or the disk): the
    tensors must cover the file exactly. Raises :class:`IncompleteHeader` when ``prefix`` is too short
    for the header it declares (read more and call again), :class:`SafetensorsError` otherwise.
    """
    if file_size < 8:
        raise SafetensorsError(f"the file has {file_size} bytes, fewer than the 8 that hold the header length")
    n = header_length(prefix, max_header_bytes=max_header_bytes)
    if 8 + n > file_size:
        raise SafetensorsError(f"the header declares {n:,} bytes, past the end of the {file_size:,}-byte file")
    if len(prefix) < 8 + n:
        raise IncompleteHeader(f"the header needs {8 + n:,} bytes, {len(prefix):,} were read", 8 + n)
    obj = _load_json(bytes(prefix[8:8 + n]))
    if not isinstance(obj, dict):
        raise SafetensorsError("the header is not a JSON object")

    metadata: dict[str, str] = {}
    notes: list[str] = []
    tensors: list[TensorInfo] = []
    for name, entry in obj.items():
        if name == "__metadata__":
            if entry is None:
                continue
            if not isinstance(entry, dict):
                raise SafetensorsError("__metadata__ is not a JSON object")
            for key, value in entry.items():
                if not isinstance(value, str):
                    kind = "null" if value is None else type(value).__name__
                    raise SafetensorsError(f"the metadata value of {_short(key)} is {kind}, not a string")
            metadata = entry
            continue
        tensors.append(_tensor(name, entry, notes))

    expected = 0
    for t in sorted(tensors, key=lambda t: (t.begin, t.end)):
        if t.begin != expected:
            problem = "leaves a hole before it" if t.begin > expected else "overlaps the tensor before it"
            raise SafetensorsError(f"tensor {_short(t.name)} (bytes {t.begin:,}-{t.end:,}) {problem}: "
                                   f"the tensors must cover the data exactly")
        expected = t.end
    total = 8 + n + expected
    if total < file_size:
        raise SafetensorsError(f"the file has {file_size - total:,} bytes after its last tensor")
    if total > file_size:
        raise SafetensorsError(f"the tensors need {total:,} bytes, the file has {file_size:,} (truncated?)")
    return SafetensorsHeader(header_size=n, tensors=tuple(tensors), metadata=metadata, data_size=expected,
                             notes=tuple(notes))


def read_header_file(path: str | Path, *, max_header_bytes: int = MAX_HEADER_BYTES) -> SafetensorsHeader:
    """:func:`parse_header` on a file on disk, reading only its header (blocking)."""
    path = Path(path)
    with path.open("rb") as f:
        size = path.stat().st_size
        first = f.read(8)
        if size < 8 or len(first) < 8:
            return parse_header(first, size, max_header_bytes=max_header_bytes)  # refuses, with the reason
        n = header_length(first, max_header_bytes=max_header_bytes)
        prefix = first + f.read(min(n, max(size - 8, 0)))
    return parse_header(prefix, size, max_header_bytes=max_header_bytes)


# --------------------------------------------------------------------------- metadata summary

MAX_KEYS = 100
MAX_KEY_CHARS = 100
MAX_VALUE_CHARS = 1000
TOP_TAGS = 20
MAX_TRIGGER_WORDS = 5
_DATA_URL = re.compile(r"data:[a-z0-9.+-]+/[a-z0-9.+-]+[^\s\"'<>]*", re.IGNORECASE)
_DATA_URL_NOTE = "[data URL removed]"

#: (label, keys) for :meth:`MetadataSummary.highlights`: the lines a moderator reads first.
_HIGHLIGHTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Title", ("modelspec.title", "ss_output_name")),
    ("Author", ("modelspec.author",)),
    ("Architecture", ("modelspec.architecture",)),
    ("Base version", ("ss_base_model_version",)),
    ("Trained on", ("ss_sd_model_name",)),
    ("Network", ("ss_network_module",)),
    ("Dim / alpha", ("ss_network_dim", "ss_network_alpha")),
    ("Resolution", ("modelspec.resolution", "ss_resolution")),
    ("Images", ("ss_num_train_images",)),
    ("Epochs / steps", ("ss_epoch", "ss_steps")),
    ("License", ("modelspec.license",)),
)


@dataclass(frozen=True)
class MetadataSummary:
    """``__metadata__`` made safe to show: grouped, capped, without data URLs. Values are still raw text."""

    kohya: dict[str, str] = field(default_factory=dict)
    """``ss_*`` and ``sshs_*`` keys (kohya-ss sd-scripts)."""
    modelspec: dict[str, str] = field(default_factory=dict)
    """``modelspec.*`` keys (SAI ModelSpec), full key names."""
    other: dict[str, str] = field(default_factory=dict)
    removed_data_urls: tuple[str, ...] = ()
    """Keys whose value held a ``data:`` URL (e.g. ``modelspec.thumbnail``), now removed."""
    truncated: tuple[str, ...] = ()
    """Keys whose value was cut to :data:`MAX_VALUE_CHARS`."""
    dropped_keys: int = 0
    """Keys left out beyond :data:`MAX_KEYS`."""
    top_tags: tuple[tuple[str, int], ...] = ()
    """From ``ss_tag_frequency``, summed over the dataset folders, most frequent first."""
    trigger_words: tuple[str, ...] = ()
    """``modelspec.trigger_phrase``, else a guess from the tag frequency (see :func:`trigger_words`)."""

    def get(self, key: str) -> str | None:
        return self.kohya.get(key) or self.modelspec.get(key) or self.other.get(key)

    def highlights(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a card, only those present."""
        out: list[tuple[str, str]] = []
        for label, keys in _HIGHLIGHTS:
            values = [v for v in (self.get(k) for k in keys) if v]
            if values:
                out.append((label, values[0] if len(keys) == 1 or label in ("Title", "Resolution")
                            else " / ".join(values)))
        return out


def _clean_value(value: str) -> tuple[str, bool, bool]:
    """(value without data URLs, cut to the cap; had a data URL; was cut)."""
    had_url = False
    if "data:" in value.lower():
        value, count = _DATA_URL.subn(_DATA_URL_NOTE, value)
        had_url = count > 0
    cut = len(value) > MAX_VALUE_CHARS
    if cut:
        value = value[:MAX_VALUE_CHARS] + "…"
    return value, had_url, cut


def _loads(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def tag_frequency(metadata: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """``ss_tag_frequency`` parsed as ``{folder: {tag: count}}``; anything malformed is skipped."""
    parsed = _loads(metadata.get("ss_tag_frequency"))
    out: dict[str, dict[str, int]] = {}
    if not isinstance(parsed, dict):
        return out
    for folder, tags in parsed.items():
        if not isinstance(tags, dict):
            continue
        counts: dict[str, int] = {}
        for tag, count in tags.items():
            tag = str(tag).strip()[:MAX_KEY_CHARS]
            if isinstance(count, str) and count.strip().isdigit():
                count = int(count)
            if tag and isinstance(count, int) and not isinstance(count, bool) and count > 0:
                counts[tag] = counts.get(tag, 0) + count
        out[str(folder)[:MAX_KEY_CHARS]] = counts
    return out


def trigger_words(metadata: Mapping[str, str], limit: int = MAX_TRIGGER_WORDS) -> list[str]:
    """Trigger words for the hub's draft: ``modelspec.trigger_phrase`` (comma-separated), else a guess.

    The guess (a heuristic, for a moderator to confirm): in each dataset folder of ``ss_tag_frequency``,
    the tags found in every caption (count = the folder's ``img_count`` from ``ss_dataset_dirs``, else
    the folder's highest count), in caption order, at most 2 a folder. A trigger word is usually the
    first tag of every caption; generic tags that are also everywhere ("1girl") can come along.
    """
    phrase = metadata.get("modelspec.trigger_phrase")
    if phrase:
        words = [w.strip() for w in _DATA_URL.sub("", phrase).split(",")]
        return list(dict.fromkeys(w[:MAX_KEY_CHARS] for w in words if w))[:limit]
    dirs = _loads(metadata.get("ss_dataset_dirs"))
    found: list[str] = []
    for folder, counts in tag_frequency(metadata).items():
        if not counts:
            continue
        images = None
        if isinstance(dirs, dict) and isinstance(dirs.get(folder), dict):
            images = dirs[folder].get("img_count")
        if not isinstance(images, int) or isinstance(images, bool) or images <= 0:
            images = max(counts.values())
        found.extend([tag for tag, count in counts.items() if count >= images][:2])
    return list(dict.fromkeys(found))[:limit]


def summarize_metadata(metadata: Mapping[str, str]) -> MetadataSummary:
    """Group, clean and cap ``__metadata__`` (see :class:`MetadataSummary`)."""
    kohya: dict[str, str] = {}
    modelspec: dict[str, str] = {}
    other: dict[str, str] = {}
    removed: list[str] = []
    truncated: list[str] = []
    kept = dropped = 0
    for key, value in metadata.items():
        if not isinstance(value, str):
            continue
        if kept >= MAX_KEYS:
            dropped += 1
            continue
        key_out = key if len(key) <= MAX_KEY_CHARS else key[:MAX_KEY_CHARS] + "…"
        cleaned, had_url, cut = _clean_value(value)
        if had_url:
            removed.append(key_out)
            if cleaned.strip() == _DATA_URL_NOTE:
                continue  # a thumbnail and nothing else: nothing to show
        if cut:
            truncated.append(key_out)
        if key.startswith(("ss_", "sshs_")):
            kohya[key_out] = cleaned
        elif key.startswith("modelspec."):
            modelspec[key_out] = cleaned
        else:
            other[key_out] = cleaned
        kept += 1
    totals: dict[str, int] = {}
    for counts in tag_frequency(metadata).values():
        for tag, count in counts.items():
            totals[tag] = totals.get(tag, 0) + count
    top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TAGS]
    return MetadataSummary(
        kohya=kohya, modelspec=modelspec, other=other, removed_data_urls=tuple(removed),
        truncated=tuple(truncated), dropped_keys=dropped,
        top_tags=tuple(top), trigger_words=tuple(trigger_words(metadata)),
    )
