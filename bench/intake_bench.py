"""Intake benchmark (issue 12): hashing cost and header-read cost, in one run.

    python bench/intake_bench.py [--size BYTES] [--repeat 3] [--dir DIR] [--no-rss]

1. **Six hashes vs one SHA-256.** A ``--size`` file (default 2 GiB of incompressible bytes, written
   once to ``--dir`` and kept in the page cache by a warm-up read) is read in 1 MiB chunks and hashed
   (best of ``--repeat``):
   * ``sha256 only``: one ``hashlib.sha256`` pass, the floor any "download + SHA-256" needs, with
     1 MiB reads (against ``hash_file``) and with 64 KiB reads (against the streamed path, whose
     simulated download reads 64 KiB at a time: the reads cost CPU too);
   * ``six hashes, one thread``: SHA256, AutoV1, AutoV3 (a second SHA-256 stream), CRC32, BLAKE3 in
     sequence on each chunk (what a naive loop costs);
   * ``hash_file``: ``bot.intake.hashes.hash_file``, the worker-thread lanes (default layout);
   * ``StreamingHasher``: the bot's path, fed 64 KiB chunks from the event loop as an HTTP client
     yields them (coalesced into 1 MiB batches);
   * both again with three lanes (SHA-256 + AutoV1 | AutoV3 | BLAKE3 + CRC32), for the record.
   The ratio is t(SHA-256 only) / t(six hashes). Two SHA-256 streams are unavoidable, so on 2 cores
   the limit is about 0.67; target at least 0.6. CPU seconds per wall second show the overlap.
2. **Bytes read to inspect a 7 GB safetensors file by its header.** Sparse files with realistic
   headers (an SDXL checkpoint of 2,515 tensors padded to 7 GB; an SDXL LoRA of 2,166 tensors) are
   read the way the fetcher does: ``Range: bytes=0-99999`` (``FIRST_READ_BYTES``), then one more range
   only when :func:`missing_header_bytes` says the header is longer; the bench counts the bytes and
   requests such a reader makes and times the strict validation. Target: under 1 MB.
3. **Peak RSS of the whole bot during a 2 GB intake** is measured by ``bench/intake_rss.py`` (the bot
   as its own process, another task's bench), run from here when that module is present unless
   ``--no-rss``; this script's own process does not represent the bot's memory.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import blake3

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.intake.hashes import AUTOV3_HEADER_LIMIT, StreamingHasher, hash_file  # noqa: E402
from bot.intake.safetensors import FIRST_READ_BYTES, missing_header_bytes, parse_header  # noqa: E402
from tests.fakes.model_files import write_safetensors  # noqa: E402

MiB = 1024 * 1024
CHUNK = MiB
TARGET_RATIO = 0.6
TARGET_HEADER_BYTES = 1_000_000
THREE_LANES = (("sha256", "autov1"), ("autov3",), ("blake3", "crc32"))


# --------------------------------------------------------------------------- part 1: hashing


def make_file(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    block = os.urandom(64 * MiB)
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def _chunks(path: Path, size: int = CHUNK):
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(size):
            yield chunk


def sha256_only(path: Path, chunk_size: int = CHUNK) -> str:
    h = hashlib.sha256()
    for chunk in _chunks(path, chunk_size):
        h.update(chunk)
    return h.hexdigest().upper()


def sha256_only_64k(path: Path) -> str:
    """The like-for-like floor for the streamed path: the same 64 KiB reads, SHA-256 inline."""
    return sha256_only(path, 64 * 1024)


def six_in_one_thread(path: Path) -> str:
    """The naive loop: every hash on every chunk, one after another, in the calling thread."""
    sha, tail, window, b3, crc = hashlib.sha256(), hashlib.sha256(), hashlib.sha256(), blake3.blake3(), 0
    offset, start = 0, None
    for chunk in _chunks(path):
        sha.update(chunk)
        b3.update(chunk)
        crc = zlib.crc32(chunk, crc)
        if start is None:  # the first chunk holds the 8 length bytes (chunks are 1 MiB)
            n = int.from_bytes(chunk[:8], "little")
            start = 8 + n if n < AUTOV3_HEADER_LIMIT else 8
        if offset + len(chunk) > start:
            tail.update(memoryview(chunk)[max(start - offset, 0):])
        lo, hi = max(0x100000 - offset, 0), min(0x110000 - offset, len(chunk))
        if lo < hi:
            window.update(memoryview(chunk)[lo:hi])
        offset += len(chunk)
    return sha.hexdigest().upper()


async def _streamed(path: Path, layout: Any = None) -> str:
    kwargs = {"layout": layout} if layout else {}
    async with StreamingHasher(**kwargs) as hasher:
        for chunk in _chunks(path, 64 * 1024):
            await hasher.feed(chunk)
        return (await hasher.finish()).sha256


def streamed(path: Path) -> str:
    return asyncio.run(_streamed(path))


def streamed_three_lanes(path: Path) -> str:
    return asyncio.run(_streamed(path, THREE_LANES))


def timed(fn: Callable[[Path], str], path: Path, repeat: int) -> tuple[float, float, str]:
    """(best wall seconds, CPU seconds of that run, the SHA-256 it computed)."""
    best = (float("inf"), 0.0, "")
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        digest = fn(path)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best[0]:
            best = (wall, cpu, digest)
    return best


def bench_hashes(size: int, repeat: int, directory: Path) -> dict[str, Any]:
    path = directory / f"intake_bench_{size}.bin"
    t = time.perf_counter()
    make_file(path, size)
    print(f"test file: {path} ({size / 2**30:.2f} GiB), ready in {time.perf_counter() - t:.1f} s")
    for _ in _chunks(path):  # warm the page cache so every run reads from memory
        pass
    runs = {
        "sha256 only, 1 MiB reads": sha256_only,
        "sha256 only, 64 KiB reads": sha256_only_64k,
        "six hashes, one thread": six_in_one_thread,
        "hash_file, 2 lanes (default)": lambda p: hash_file(p).sha256,
        "hash_file, 3 lanes": lambda p: hash_file(p, layout=THREE_LANES).sha256,
        "StreamingHasher, 2 lanes (default)": streamed,
        "StreamingHasher, 3 lanes": streamed_three_lanes,
    }
    results: dict[str, tuple[float, float, str]] = {}
    for name, fn in runs.items():
        results[name] = timed(fn, path, repeat)
        wall, cpu, _ = results[name]
        print(f"  {name:36} {wall:6.2f} s  {size / wall / 1e9:5.2f} GB/s  CPU {cpu / wall:4.2f}×")
    digests = {d for _, _, d in results.values()}
    assert len(digests) == 1, f"the runs disagree on the SHA-256: {digests}"
    for name, base in (("hash_file, 2 lanes (default)", "sha256 only, 1 MiB reads"),
                       ("hash_file, 3 lanes", "sha256 only, 1 MiB reads"),
                       ("StreamingHasher, 2 lanes (default)", "sha256 only, 64 KiB reads"),
                       ("StreamingHasher, 3 lanes", "sha256 only, 64 KiB reads")):
        ratio = results[base][0] / results[name][0]
        verdict = "OK" if ratio >= TARGET_RATIO else "UNDER TARGET"
        print(f"  ratio [{base}] / [{name}]: {ratio:.2f} (target ≥ {TARGET_RATIO}): {verdict}")
    return {"size": size, "results": results}


# --------------------------------------------------------------------------- part 2: header reads


class RangeReader:
    """A stand-in for the fetcher's Range GETs on a local file: counts requests and bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.requests = 0
        self.bytes = 0

    def read(self, start: int, length: int) -> bytes:
        self.requests += 1
        with self.path.open("rb") as f:
            f.seek(start)
            data = f.read(min(length, self.size - start))
        self.bytes += len(data)
        return data


def inspect_by_range(path: Path) -> tuple[RangeReader, Any, float]:
    reader = RangeReader(path)
    started = time.perf_counter()
    prefix = reader.read(0, FIRST_READ_BYTES)  # Range: bytes=0-99999
    more = missing_header_bytes(prefix)
    if more:
        prefix += reader.read(len(prefix), more)
    header = parse_header(prefix, reader.size)
    return reader, header, time.perf_counter() - started


def sdxl_checkpoint_tensors() -> dict[str, tuple[str, tuple[int, ...]]]:
    """2,515 tensors named like a real SDXL checkpoint's (UNet, two text encoders, VAE)."""
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    unet = "model.diffusion_model."
    for block in range(9):
        for layer in range(10):
            for part in ("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0", "attn2.to_q", "attn2.to_k",
                         "attn2.to_v", "attn2.to_out.0", "ff.net.0.proj", "ff.net.2", "norm1", "norm2", "norm3"):
                for what in ("weight", "bias") if part.startswith(("norm", "ff", "attn1.to_out", "attn2.to_out")) \
                        else ("weight",):
                    tensors[f"{unet}output_blocks.{block}.1.transformer_blocks.{layer}.{part}.{what}"] = (
                        "F16", (640, 640))
    for i in range(len(tensors), 1700):
        tensors[f"{unet}input_blocks.{i % 9}.0.in_layers.{i}.weight"] = ("F16", (320, 320))
    for i in range(32):
        for part in ("attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias",
                     "ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                     "mlp.c_proj.weight", "mlp.c_proj.bias"):
            tensors[f"conditioner.embedders.1.model.transformer.resblocks.{i}.{part}"] = ("F16", (1280,))
    for i in range(12):
        for part in ("self_attn.k_proj.weight", "self_attn.k_proj.bias", "self_attn.q_proj.weight",
                     "self_attn.q_proj.bias", "self_attn.v_proj.weight", "self_attn.v_proj.bias",
                     "self_attn.out_proj.weight", "self_attn.out_proj.bias", "layer_norm1.weight",
                     "layer_norm1.bias", "layer_norm2.weight", "layer_norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                     "mlp.fc2.weight", "mlp.fc2.bias"):
            tensors[f"conditioner.embedders.0.transformer.text_model.encoder.layers.{i}.{part}"] = ("F16", (768,))
    i = 0
    while len(tensors) < 2515:
        tensors[f"first_stage_model.decoder.up.{i % 4}.block.{i % 3}.conv{i}.weight"] = ("F16", (128, 128, 3, 3))
        i += 1
    tensors["conditioner.embedders.1.model.ln_final.weight"] = ("F16", (1280,))
    return tensors


def sdxl_lora_tensors() -> dict[str, tuple[str, tuple[int, ...]]]:
    """2,166 tensors named like a kohya SDXL LoRA's (722 modules × down/up/alpha)."""
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    i = 0
    while len(tensors) < 2166:
        prefix = f"lora_unet_output_blocks_{i % 9}_1_transformer_blocks_{i % 10}_attn{1 + i % 2}_to_k_{i}"
        tensors[f"{prefix}.lora_down.weight"] = ("F16", (32, 2048))
        tensors[f"{prefix}.lora_up.weight"] = ("F16", (640, 32))
        tensors[f"{prefix}.alpha"] = ("F16", ())
        i += 1
    return tensors


def bench_header_reads(directory: Path) -> list[dict[str, Any]]:
    from tests.fakes.model_files import kohya_metadata, modelspec_metadata

    cases = [
        ("SDXL checkpoint, 7 GB", sdxl_checkpoint_tensors(), modelspec_metadata("stable-diffusion-xl-v1-base"),
         7 * 10**9),
        ("SDXL LoRA (kohya metadata)", sdxl_lora_tensors(), kohya_metadata("sdxl_base_v1-0"), None),
    ]
    out = []
    for name, tensors, metadata, pad_to in cases:
        path = write_safetensors(directory / "header_bench.safetensors", tensors, metadata, pad_to=pad_to)
        reader, header, seconds = inspect_by_range(path)
        verdict = "OK" if reader.bytes < TARGET_HEADER_BYTES else "OVER"
        print(f"  {name}: file {reader.size:,} bytes, header {header.header_size:,} bytes, "
              f"{len(header.tensors):,} tensors -> {reader.requests} Range request(s), {reader.bytes:,} bytes read "
              f"(target < {TARGET_HEADER_BYTES:,}): {verdict}; validated in {seconds * 1000:.1f} ms")
        out.append({"name": name, "size": reader.size, "header": header.header_size, "requests": reader.requests,
                    "bytes": reader.bytes, "seconds": seconds})
        path.unlink()
    return out


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2 * 2**30, help="hash test file size (default 2 GiB)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where the test files go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the hash test file for the next run")
    parser.add_argument("--no-rss", action="store_true", help="skip bench/intake_rss.py (the bot's peak RSS)")
    args = parser.parse_args(argv)
    print(f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"blake3 {blake3.__version__}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        print("1. six hashes vs one SHA-256 pass")
        bench_hashes(args.size, args.repeat, args.dir if args.keep and args.dir else directory)
        print("2. bytes read to inspect by header")
        bench_header_reads(directory)
    print("3. peak RSS of the bot during a 2 GB intake")
    if args.no_rss:
        print("  skipped (--no-rss): run bench/intake_rss.py")
        return
    try:
        from bench import intake_rss
    except ImportError:
        print("  bench/intake_rss.py is not here: the bot's peak RSS is measured by that bench (another task)")
        return
    intake_rss.main([])


if __name__ == "__main__":
    main()
