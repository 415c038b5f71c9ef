"""The hub's six file hashes (SHA256, AutoV1, AutoV2, AutoV3, CRC32, BLAKE3), computed in one pass.

Why one pass, in threads: a model file is several GB and arrives once, from the network. Reading it
again to hash it would double the disk work, and hashing it on the event loop would stall the bot.
So the downloader hands each chunk to :class:`StreamingHasher`, which passes it to worker threads
("lanes"); each lane runs some of the hash functions over every chunk, in order. ``hashlib``,
``zlib.crc32`` and ``blake3`` release the GIL on large buffers, so the lanes run on separate cores,
beside the download. Two SHA-256 streams are unavoidable (the whole file, and AutoV3's tail), and
SHA-256 is the slowest function, so each lane gets one SHA-256 stream: lane 1 = SHA-256 + CRC32
(+ the 64 KiB AutoV1 window), lane 2 = AutoV3's SHA-256 + BLAKE3 (bench/RESULTS.md has the numbers).

Memory is bounded: at most ``max_in_flight`` batches are referenced at once; :meth:`StreamingHasher.feed`
waits for a free slot (backpressure to the download) rather than queueing. Small chunks (an HTTP
client yields ~64 KiB) are coalesced into ``batch_size`` batches so the per-chunk hand-over cost stays
negligible; the result never depends on how the data was cut.

Definitions (``../shared/reference/intake.md`` §1, from Civitai's model scanner), S = file size, B = bytes:

* SHA256 = SHA-256(B); AutoV2 = its first 10 hex characters.
* AutoV1 = SHA-256(B[1 MiB : 1 MiB + 64 KiB]), first 8 hex characters; **None when S < 2 MiB**.
* AutoV3: N = u64 little-endian of B[0:8]; SHA-256(B[8+N:]) when N < 16 MiB, else SHA-256(B[8:])
  (the header is not skipped; a zip starting ``PK\\x03\\x04`` is such a case). The hub shows its first
  12 hex characters. None when S < 8, or when N < 16 MiB but 8+N > S (the scanner fails there).
* CRC32 = zlib's CRC-32, written as the hex of its **little-endian** bytes (.NET's order): "hello
  world" is ``85114A0D``, where ``zlib.crc32`` prints ``0D4A1185``. Both forms are kept.
* BLAKE3 = BLAKE3-256(B).

All values are upper-case hex, as the hub returns them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import queue
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import blake3

AUTOV1_OFFSET = 0x100000
AUTOV1_LENGTH = 0x10000
AUTOV1_MIN_SIZE = 2 * 0x100000
AUTOV3_HEADER_LIMIT = 16 * 1024 * 1024
AUTOV3_API_LENGTH = 12

DEFAULT_BATCH_SIZE = 1024 * 1024
DEFAULT_MAX_IN_FLIGHT = 4
#: Which hash parts run together in one worker thread (see the module docstring for why).
DEFAULT_LAYOUT: tuple[tuple[str, ...], ...] = (("sha256", "crc32", "autov1"), ("autov3", "blake3"))


@dataclass(frozen=True)
class FileHashes:
    """The six hashes of one file, upper-case hex. ``autov1``/``autov3_full`` are None where the hub has none."""

    size: int
    sha256: str
    autov1: str | None
    autov3_full: str | None
    crc32: str
    """Civitai's order (hex of the little-endian bytes)."""
    crc32_zlib: str
    """``zlib.crc32`` printed as a number (the order most tools show)."""
    blake3: str

    @property
    def autov2(self) -> str:
        return self.sha256[:10]

    @property
    def autov3(self) -> str | None:
        """The hub's form of AutoV3 (first 12 characters); compare and look up on this."""
        return self.autov3_full[:AUTOV3_API_LENGTH] if self.autov3_full else None

    def for_hub(self) -> dict[str, str]:
        """``{kind: value}`` with the hub's kind names (``bot.hub.models.HASH_KINDS``), None values left out."""
        values = {"SHA256": self.sha256, "AutoV1": self.autov1, "AutoV2": self.autov2, "AutoV3": self.autov3,
                  "CRC32": self.crc32, "BLAKE3": self.blake3}
        return {k: v for k, v in values.items() if v is not None}


class HashingError(RuntimeError):
    """A worker thread failed (it should not: the hash functions take any bytes); the cause is chained."""


# --------------------------------------------------------------------------- the hash parts


class _Part(Protocol):
    def update(self, data: memoryview, offset: int) -> None: ...


class _Sha256:
    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def update(self, data: memoryview, offset: int) -> None:
        self.h.update(data)


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: memoryview, offset: int) -> None:
        self.value = zlib.crc32(data, self.value)


class _Blake3:
    def __init__(self) -> None:
        self.h = blake3.blake3()

    def update(self, data: memoryview, offset: int) -> None:
        self.h.update(data)


class _AutoV1:
    """SHA-256 of the 64 KiB window at 1 MiB; only the bytes that fall in the window are hashed."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def update(self, data: memoryview, offset: int) -> None:
        lo = max(AUTOV1_OFFSET - offset, 0)
        hi = min(AUTOV1_OFFSET + AUTOV1_LENGTH - offset, len(data))
        if lo < hi:
            self.h.update(data[lo:hi])


class _AutoV3:
    """SHA-256 from offset 8+N (N < 16 MiB) or 8; N is known once the first 8 bytes have been seen."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.head = bytearray()
        self.start: int | None = None

    def update(self, data: memoryview, offset: int) -> None:
        if self.start is None:
            self.head += data[: 8 - len(self.head)]
            if len(self.head) < 8:
                return
            n = int.from_bytes(self.head, "little")
            self.start = 8 + n if n < AUTOV3_HEADER_LIMIT else 8
        lo = self.start - offset
        if lo < len(data):
            self.h.update(data[max(lo, 0):])


_PARTS: dict[str, Callable[[], _Part]] = {
    "sha256": _Sha256, "crc32": _Crc32, "blake3": _Blake3, "autov1": _AutoV1, "autov3": _AutoV3,
}


# --------------------------------------------------------------------------- worker threads

_STOP = object()


class _Lane:
    """One worker thread running some parts over every batch, in submission order."""

    def __init__(self, parts: Sequence[_Part], name: str) -> None:
        self.parts = parts
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.abandoned = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        offset = 0
        while True:
            item = self.queue.get()
            if item is _STOP:
                return
            data, done = item
            try:
                if self.error is None and not self.abandoned:
                    view = memoryview(data)
                    for part in self.parts:
                        part.update(view, offset)
                offset += len(data)
            except BaseException as exc:  # kept for the feeding side; the lane keeps draining its queue
                self.error = exc
            finally:
                done()


class _Lanes:
    """The parts of all six hashes spread over worker threads; ``submit`` never blocks (callers bound it)."""

    def __init__(self, layout: Sequence[Sequence[str]]) -> None:
        names = [name for lane in layout for name in lane]
        if sorted(names) != sorted(_PARTS):
            raise ValueError(f"the layout must name each of {sorted(_PARTS)} once, got {names}")
        self.parts: dict[str, Any] = {name: _PARTS[name]() for name in names}
        self.lanes = [_Lane([self.parts[n] for n in lane], f"intake-hash-{'+'.join(lane)}") for lane in layout]
        self.size = 0

    def submit(self, data: bytes, on_done: Callable[[], None]) -> None:
        """Queue ``data`` on every lane; ``on_done`` runs (in a worker) once the last lane has hashed it."""
        self.size += len(data)
        remaining = [len(self.lanes)]
        lock = threading.Lock()

        def done() -> None:
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                on_done()

        for lane in self.lanes:
            lane.queue.put((data, done))

    def check(self) -> None:
        for lane in self.lanes:
            if lane.error is not None:
                raise HashingError(f"a hash worker failed: {lane.error!r}") from lane.error

    def stop(self, *, abandon: bool) -> None:
        for lane in self.lanes:
            lane.abandoned = lane.abandoned or abandon
            lane.queue.put(_STOP)

    def result(self) -> FileHashes:
        """Only once every submitted batch is done (the callers wait for all their slots first)."""
        p = self.parts
        crc = p["crc32"].value
        autov3 = p["autov3"]
        autov3_ok = autov3.start is not None and autov3.start <= self.size
        return FileHashes(
            size=self.size,
            sha256=p["sha256"].h.hexdigest().upper(),
            autov1=p["autov1"].h.hexdigest()[:8].upper() if self.size >= AUTOV1_MIN_SIZE else None,
            autov3_full=autov3.h.hexdigest().upper() if autov3_ok else None,
            crc32=crc.to_bytes(4, "little").hex().upper(),
            crc32_zlib=f"{crc:08X}",
            blake3=p["blake3"].h.hexdigest().upper(),
        )


class _Batcher:
    """Coalesces small chunks into batches of at least ``batch_size`` bytes (large chunks pass as they are).

    Pending chunks are kept as they came and joined once (one copy of the data, not two); a caller's
    mutable buffer (bytearray, memoryview) is copied on arrival, since the caller may reuse it.
    """

    def __init__(self, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.batch_size = batch_size
        self.pending: list[bytes] = []
        self.pending_size = 0

    def add(self, chunk: bytes | bytearray | memoryview) -> bytes | None:
        data = chunk if isinstance(chunk, bytes) else bytes(chunk)
        if not self.pending and len(data) >= self.batch_size:
            return data
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size >= self.batch_size:
            return self.flush()
        return None

    def flush(self) -> bytes | None:
        if not self.pending:
            return None
        data = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
        self.pending = []
        self.pending_size = 0
        return data


# --------------------------------------------------------------------------- public API


class StreamingHasher:
    """All six hashes over data fed in chunks of any size, for the event loop.

    ``await feed(chunk)`` returns as soon as the chunk is handed to the workers, and waits only when
    ``max_in_flight`` batches are still being hashed (so memory stays at about ``max_in_flight *
    batch_size``). ``await finish()`` waits for the last batch and returns :class:`FileHashes`. Use it
    as ``async with StreamingHasher() as h:``, so the worker threads stop if the download fails or is
    cancelled before ``finish``.
    """

    def __init__(self, *, batch_size: int = DEFAULT_BATCH_SIZE, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
                 layout: Sequence[Sequence[str]] = DEFAULT_LAYOUT) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be positive")
        self._batcher = _Batcher(batch_size)
        self._max_in_flight = max_in_flight
        self._slots = asyncio.Semaphore(max_in_flight)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lanes = _Lanes(layout)
        self._fed = 0
        self._result: FileHashes | None = None
        self._closed = False

    @property
    def bytes_fed(self) -> int:
        return self._fed

    async def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        self._usable()
        self._fed += len(chunk)
        batch = self._batcher.add(chunk)
        if batch is not None:
            await self._submit(batch)

    async def finish(self) -> FileHashes:
        self._usable()
        batch = self._batcher.flush()
        if batch is not None:
            await self._submit(batch)
        for _ in range(self._max_in_flight):  # every slot back = every batch hashed
            await self._slots.acquire()
        self._lanes.check()
        self._result = self._lanes.result()
        self._close(abandon=False)
        return self._result

    async def aclose(self) -> None:
        """Stop the workers without a result (idempotent; a no-op after ``finish``)."""
        self._close(abandon=True)

    async def __aenter__(self) -> StreamingHasher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _usable(self) -> None:
        if self._closed:
            raise RuntimeError("this hasher is finished or closed")
        self._lanes.check()

    async def _submit(self, batch: bytes) -> None:
        await self._slots.acquire()
        loop = self._loop = self._loop or asyncio.get_running_loop()

        def release() -> None:
            try:
                loop.call_soon_threadsafe(self._slots.release)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

        self._lanes.submit(batch, release)

    def _close(self, *, abandon: bool) -> None:
        if not self._closed:
            self._closed = True
            self._lanes.stop(abandon=abandon)


class MultiHasher:
    """The blocking flavour of :class:`StreamingHasher` (same workers), for threads and scripts."""

    def __init__(self, *, batch_size: int = DEFAULT_BATCH_SIZE, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
                 layout: Sequence[Sequence[str]] = DEFAULT_LAYOUT) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be positive")
        self._batcher = _Batcher(batch_size)
        self._max_in_flight = max_in_flight
        self._slots = threading.Semaphore(max_in_flight)
        self._lanes = _Lanes(layout)
        self._closed = False

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._usable()
        batch = self._batcher.add(chunk)
        if batch is not None:
            self._slots.acquire()
            self._lanes.submit(batch, self._slots.release)

    def finish(self) -> FileHashes:
        self._usable()
        batch = self._batcher.flush()
        if batch is not None:
            self._slots.acquire()
            self._lanes.submit(batch, self._slots.release)
        for _ in range(self._max_in_flight):
            self._slots.acquire()
        self._lanes.check()
        result = self._lanes.result()
        self.close(abandon=False)
        return result

    def close(self, *, abandon: bool = True) -> None:
        if not self._closed:
            self._closed = True
            self._lanes.stop(abandon=abandon)

    def __enter__(self) -> MultiHasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _usable(self) -> None:
        if self._closed:
            raise RuntimeError("this hasher is finished or closed")
        self._lanes.check()


def hash_file(path: str | os.PathLike[str], *, chunk_size: int = DEFAULT_BATCH_SIZE,
              layout: Sequence[Sequence[str]] = DEFAULT_LAYOUT) -> FileHashes:
    """All six hashes of a file on disk, in one read (blocking: call it with ``asyncio.to_thread``)."""
    with MultiHasher(batch_size=chunk_size, layout=layout) as hasher, Path(path).open("rb", buffering=0) as f:
        while chunk := f.read(chunk_size):
            hasher.update(chunk)
        return hasher.finish()
