"""The hub's six hashes (issue 12, acceptance 1): the reference's "hello world" vectors, the AutoV1 window
and its 2 MiB floor, the AutoV3 16 MiB rule, CRC32 in both byte orders, identical results whatever the
chunking, and memory bounded by backpressure. Expected values are the reference's vectors
(``../shared/reference/intake.md`` §1) or hashlib/zlib/blake3 run over the exact bytes the definition names.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import struct
import threading
import time
import tracemalloc
import zlib
from pathlib import Path

import blake3
import pytest

from bot.hub.models import HASH_KINDS
from bot.intake.hashes import FileHashes, MultiHasher, StreamingHasher, hash_file
from tests.fakes.model_files import header_bytes, write_safetensors

MiB = 1024 * 1024


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest().upper()


def _oracle(data: bytes, autov3_from: int | None) -> dict[str, str | None]:
    """The definitions of §1, straight from the libraries, over the bytes each one names."""
    return {
        "sha256": _sha(data),
        "autov1": _sha(data[MiB:MiB + 64 * 1024])[:8] if len(data) >= 2 * MiB else None,
        "autov3_full": _sha(data[autov3_from:]) if autov3_from is not None else None,
        "crc32": zlib.crc32(data).to_bytes(4, "little").hex().upper(),
        "crc32_zlib": f"{zlib.crc32(data):08X}",
        "blake3": blake3.blake3(data).hexdigest().upper(),
    }


def _as_dict(h: FileHashes) -> dict[str, str | None]:
    return {"sha256": h.sha256, "autov1": h.autov1, "autov3_full": h.autov3_full, "crc32": h.crc32,
            "crc32_zlib": h.crc32_zlib, "blake3": h.blake3}


async def _stream(data: bytes, sizes: list[int], **kwargs: int) -> FileHashes:
    """Feed ``data`` cut into ``sizes`` (cycled), as a download would."""
    async with StreamingHasher(**kwargs) as hasher:
        pos, i = 0, 0
        while pos < len(data):
            n = sizes[i % len(sizes)]
            await hasher.feed(data[pos:pos + n])
            pos += n
            i += 1
        return await hasher.finish()


def _cutting(total: int, fine: int, coarse: int, seed: int) -> list[int]:
    """Chunk sizes: ``fine``-byte chunks around every boundary the hashes care about (the 8-byte length, the
    AutoV3 start, both edges of the AutoV1 window), ``coarse`` or random ones elsewhere."""
    rng = random.Random(seed)
    hot = [(0, 200), (MiB - 100, MiB + 100), (MiB + 65_536 - 100, MiB + 65_536 + 100)]
    sizes, pos = [], 0
    while pos < total:
        near = any(lo <= pos < hi for lo, hi in hot)
        n = fine if near else (coarse or rng.randrange(1, 300_000))
        n = min(n, total - pos)
        sizes.append(n)
        pos += n
    return sizes


# --------------------------------------------------------------------------- the reference's vectors

HELLO = {  # intake.md §1, "Test vectors: hello world"
    "SHA256": "B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9",
    "AutoV2": "B94D27B993",
    "BLAKE3": "D74981EFA70A0C880B8D8C1985D075DBCBF679B99A5F9914E5AAF96B831A9E24",
    "CRC32": "85114A0D",
    "AutoV3": "85C76DCAE2299D2235C793FE3425BD88376F5C4721CFDDC1C9A9C452C20C5D33",
}


def _check_hello(h: FileHashes) -> None:
    assert h.size == 11
    assert h.sha256 == HELLO["SHA256"]
    assert h.autov2 == HELLO["AutoV2"]
    assert h.autov1 is None  # below 2 MiB
    assert h.blake3 == HELLO["BLAKE3"]
    assert h.crc32 == HELLO["CRC32"]
    assert h.crc32_zlib == "0D4A1185"
    assert h.autov3_full == HELLO["AutoV3"]
    assert h.autov3 == "85C76DCAE229"  # the API form
    assert h.for_hub() == {"SHA256": HELLO["SHA256"], "AutoV2": HELLO["AutoV2"], "AutoV3": "85C76DCAE229",
                           "CRC32": HELLO["CRC32"], "BLAKE3": HELLO["BLAKE3"]}
    assert set(h.for_hub()) <= set(HASH_KINDS)


def test_hello_world_vectors_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "hello.bin"
    path.write_bytes(b"hello world")
    _check_hello(hash_file(path))


async def test_hello_world_vectors_streamed_byte_by_byte() -> None:
    _check_hello(await _stream(b"hello world", [1], batch_size=1))
    _check_hello(await _stream(b"hello world", [3, 5], batch_size=2))


# --------------------------------------------------------------------------- chunking


async def test_odd_chunk_sizes_give_identical_results() -> None:
    rng = random.Random(12)
    data = rng.randbytes(3 * MiB + 4097)
    head, _ = header_bytes({"w": ("U8", (len(data),))})
    n = struct.unpack("<Q", head[:8])[0]
    data = head[:8] + data[8:]  # a plausible N (< 16 MiB), so AutoV3 starts at 8 + N, inside a chunk
    expected = _oracle(data, 8 + n)
    cuttings = [_cutting(len(data), fine, coarse, seed) for fine, coarse, seed in
                [(1, 65_537, 0), (3, 4093, 1), (7, 0, 2), (13, MiB + 3, 3), (1, 0, 4)]]
    cuttings.append([len(data)])  # one chunk
    for sizes in cuttings:
        for batch_size in (1, 4096, MiB):
            got = await _stream(data, sizes, batch_size=batch_size, max_in_flight=3)
            assert _as_dict(got) == expected, (sizes[:3], batch_size)


def test_hash_file_and_blocking_hasher_agree(tmp_path: Path) -> None:
    data = random.Random(5).randbytes(2 * MiB + 99)
    (tmp_path / "f.bin").write_bytes(data)
    expected = _oracle(data, 8)  # random first 8 bytes: N is huge, so AutoV3 hashes from 8
    assert _as_dict(hash_file(tmp_path / "f.bin", chunk_size=65_521)) == expected
    with MultiHasher(batch_size=1000, max_in_flight=2) as m:
        for i in range(0, len(data), 777):
            m.update(memoryview(data)[i:i + 777])
        assert _as_dict(m.finish()) == expected


# --------------------------------------------------------------------------- AutoV1


@pytest.mark.parametrize("size", [2 * MiB - 1, 2 * MiB, 2 * MiB + 65_536 + 1])
def test_autov1_is_null_below_2_mib_and_the_1_mib_window_above(tmp_path: Path, size: int) -> None:
    data = random.Random(size).randbytes(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    h = hash_file(path, chunk_size=100_003)
    if size < 2 * MiB:
        assert h.autov1 is None
        assert "AutoV1" not in h.for_hub()
    else:
        assert h.autov1 == hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8].upper()
        assert h.for_hub()["AutoV1"] == h.autov1


# --------------------------------------------------------------------------- AutoV3


def test_autov3_hashes_the_tensor_buffer_of_a_safetensors_file(tmp_path: Path) -> None:
    tensors = {"a.weight": ("F16", (64, 32)), "b.weight": ("F32", (100,))}
    data = random.Random(3).randbytes(64 * 32 * 2 + 400)
    one = write_safetensors(tmp_path / "one.safetensors", tensors, {"ss_output_name": "x"}, data=data)
    two = write_safetensors(tmp_path / "two.safetensors", tensors, {"ss_output_name": "a much longer name"}, data=data)
    raw = one.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n < 16 * MiB
    h1, h2 = hash_file(one), hash_file(two)
    assert h1.autov3_full == _sha(raw[8 + n:]) == _sha(data)
    assert h1.autov3 == _sha(data)[:12]
    # invariant under __metadata__ edits (as A1111/kohya rely on), unlike SHA256
    assert h2.autov3_full == h1.autov3_full
    assert h2.sha256 != h1.sha256


def test_autov3_does_not_skip_a_huge_header_zip_like_file(tmp_path: Path) -> None:
    data = b"PK\x03\x04\x14\x00\x00\x00" + random.Random(4).randbytes(50_000)
    assert int.from_bytes(data[:8], "little") >= 16 * MiB
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    assert hash_file(path).autov3_full == _sha(data[8:])


async def test_autov3_16_mib_boundary() -> None:
    at_limit = (16 * MiB).to_bytes(8, "little") + b"tail bytes"
    assert (await _stream(at_limit, [3])).autov3_full == _sha(at_limit[8:])  # N = 16 MiB: not skipped
    n = 16 * MiB - 1
    below = n.to_bytes(8, "little") + bytes(n) + b"the tensor data"
    assert (await _stream(below, [MiB])).autov3_full == _sha(b"the tensor data")  # N < 16 MiB: skipped


async def test_autov3_is_none_when_the_scanner_could_not_compute_it() -> None:
    short = (100).to_bytes(8, "little") + b"only 20 bytes follow"  # N < 16 MiB but 8 + N > size
    h = await _stream(short, [5])
    assert h.autov3_full is None and h.autov3 is None and "AutoV3" not in h.for_hub()
    assert (await _stream(b"1234567", [1])).autov3_full is None  # fewer than 8 bytes
    exact = (4).to_bytes(8, "little") + b"{}  "  # 8 + N == size: the hash of nothing
    assert (await _stream(exact, [2])).autov3_full == _sha(b"")


# --------------------------------------------------------------------------- CRC32


async def test_crc32_in_civitai_and_zlib_byte_order() -> None:
    data = random.Random(9).randbytes(300_001)
    h = await _stream(data, [65_536])
    value = zlib.crc32(data)
    assert h.crc32 == value.to_bytes(4, "little").hex().upper()
    assert h.crc32_zlib == f"{value:08X}"
    assert h.crc32 != h.crc32_zlib  # the two orders differ for this value (not a palindrome)


# --------------------------------------------------------------------------- resources


async def test_memory_stays_bounded_while_the_producer_outruns_the_hashers() -> None:
    """64 MiB fed as fresh 1 MiB chunks (allocating is far faster than hashing): without backpressure every
    chunk would be alive at once; with it, about ``max_in_flight`` are."""
    chunks, size = 64, MiB
    tracemalloc.start()
    try:
        async with StreamingHasher(batch_size=size, max_in_flight=4) as hasher:
            for _ in range(chunks):
                await hasher.feed(bytes(size))
            result = await hasher.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == chunks * size
    assert result.sha256 == _sha(bytes(chunks * size))
    assert peak < 10 * size, f"peak {peak / MiB:.1f} MiB"


def _hash_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("intake-hash")]


async def _hash_threads_after(seconds: float) -> list[threading.Thread]:
    """The hash worker threads still alive after waiting up to ``seconds`` in all for them to end."""
    deadline = time.monotonic() + seconds
    for thread in _hash_threads():
        await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))
    return _hash_threads()


async def test_an_abandoned_hasher_stops_its_threads() -> None:
    before = len(_hash_threads())
    async with StreamingHasher(batch_size=1000) as hasher:
        assert len(_hash_threads()) == before + 2
        await hasher.feed(os.urandom(5000))
    assert await _hash_threads_after(2) == []
    with pytest.raises(RuntimeError, match="finished or closed"):
        await hasher.feed(b"more")


async def test_a_cancelled_download_leaves_no_threads() -> None:
    async def download() -> None:
        async with StreamingHasher(batch_size=MiB, max_in_flight=1) as hasher:
            while True:
                await hasher.feed(bytes(MiB))

    task = asyncio.create_task(download())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _hash_threads_after(2) == []


async def test_a_reused_buffer_is_copied_before_the_workers_see_it() -> None:
    """Downloaders often read into one bytearray again and again: what was fed must be what is hashed."""
    buffer = bytearray(b"a" * 5000)
    async with StreamingHasher(batch_size=1000, max_in_flight=8) as hasher:
        await hasher.feed(buffer)
        buffer[:] = b"b" * 5000
        await hasher.feed(memoryview(buffer)[:10])
        result = await hasher.finish()
    assert result.sha256 == _sha(b"a" * 5000 + b"b" * 10)
