"""Pickle-format model files (``.ckpt``, ``.pt``, ``.pth``, ``.bin``), judged without unpickling.

Nothing here ever unpickles, imports or calls what a file names. The scanner reads the pickle
opcodes (the ``pickletools`` opcode table, with its own reader so that a huge argument is skipped
rather than loaded) and collects every global the file would import: ``GLOBAL`` and ``INST`` carry
``module name`` in their argument; ``STACK_GLOBAL`` takes both strings from the stack, so the scan
replays the unpickler's stack, mark stack and memo (``PUT``/``MEMOIZE``/``GET``) to know them; one it
cannot know (a string built at load time, a memo slot never written) makes the file suspicious.

The verdict fails closed (intake.md §6: deny lists alone have a long record of bypasses):

- **safe**: every pickle parsed, and every global is on ``ALLOWED_GLOBALS``;
- **dangerous**: a global on the deny list (``os``, ``subprocess``, ``builtins.eval``, ...);
- **suspicious**: anything else: a global on neither list, an unresolvable ``STACK_GLOBAL``, the
  copyreg extension opcodes (``EXT1/2/4``), a parse error, an encrypted or unreadable zip member, a
  pickle over the size or opcode caps, a file that is not a pickle at all.

The deny list only grades how bad a refusal is; the allow list decides what passes.

Formats (as ``torch.load`` tells them apart: a zip's local-header magic ``PK\\x03\\x04`` first):

- **zip** (PyTorch ≥ 1.6, ``archive/data.pkl`` beside raw tensor data; also Hugging Face ``.bin``):
  every member named ``*.pkl`` is scanned, read through ``zipfile`` with its size capped (zip bombs).
- **raw pickle**: pickles one after another, scanned in order from the start of the file. The
  legacy PyTorch format is 5 pickles (magic number, protocol, sys info, the object, storage keys)
  followed by raw tensor bytes, so the scan stops after 5 pickles.

``scan_file`` reads the file sequentially (never all of it: tensor data is skipped in a zip and
never reached in a legacy file). It is blocking: call it through ``asyncio.to_thread``.

``ALLOWED_GLOBALS`` is seeded from PyTorch's ``weights_only`` unpickler
(``torch/_weights_only_unpickler.py``, ``_get_allowed_globals`` and ``_tensor_rebuild_functions``):
``collections.OrderedDict``/``Counter``, the ``torch._utils._rebuild_*`` tensor rebuilders,
``torch._tensor._rebuild_from_type_v2``, ``torch.nn.parameter.Parameter``, ``torch.Size``,
``torch.Tensor``, ``torch.device``, ``torch.serialization._get_layout``, the storage classes
(``torch.FloatStorage``, ``torch.cuda.HalfStorage``, ``torch.UntypedStorage``, ...), the legacy tensor
classes, the dtypes (``torch.float16``, ...), the quantization schemes, ``_codecs.encode`` (how
protocol 2 writes ``bytes``), ``builtins.set``/``bytearray``/``complex``; plus numpy's array
rebuilders (``numpy.core.multiarray._reconstruct``, its numpy 2 spelling ``numpy._core...``,
``numpy.ndarray``, ``numpy.dtype``), which picklescan also treats as safe (intake.md §6).
Deliberately not allowed: ``numpy.core.multiarray.scalar`` (PyTorch asks for an explicit opt-in
too) and Lightning's ``pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint`` (Civitai grades
it dangerous; here it is suspicious like every unknown class), so old training ``.ckpt`` files with
callbacks or optimizer state are "suspicious" and go to a moderator with the list.
"""

from __future__ import annotations

import _compat_pickle
import io
import os
import pickletools
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Final

__all__ = [
    "ALLOWED_GLOBALS",
    "DANGEROUS_MODULES",
    "DANGEROUS_NAMES",
    "PickleScan",
    "ScanLimits",
    "Verdict",
    "scan_bytes",
    "scan_file",
    "scan_stream",
]


class Verdict(StrEnum):
    SAFE = "safe"
    SUSPICIOUS = "suspicious"
    DANGEROUS = "dangerous"


@dataclass(frozen=True, slots=True)
class ScanLimits:
    max_pickles: int = 5
    """Pickles read from a raw file (the legacy PyTorch format has 5, then raw tensor data)."""
    max_pickle_bytes: int = 512 * 1024 * 1024
    """Bytes one pickle (or zip member) may span."""
    max_opcodes: int = 10_000_000
    """Opcodes read in all."""
    max_members: int = 256
    """``*.pkl`` members scanned in a zip."""
    max_inline_argument: int = 1024 * 1024
    """Longer strings are skipped (a module or class name is never that long) and count as unknown."""
    max_line: int = 64 * 1024
    """Longest newline-terminated argument (protocol 0 text)."""


@dataclass(frozen=True, slots=True)
class PickleScan:
    """The scan's result: ``verdict``, and what it rests on."""

    verdict: Verdict
    format: str
    """``zip`` (PyTorch zip), ``legacy`` (PyTorch legacy: pickles then data), ``pickle``, or ``unknown``."""
    pickles: int
    """Pickles read to their end."""
    globals: tuple[str, ...]
    """Every global the file imports, ``module.name``, in order of first use."""
    offending: tuple[str, ...]
    """The globals not on the allow list (the dangerous ones included)."""
    dangerous: tuple[str, ...]
    """The globals on the deny list."""
    notes: tuple[str, ...]
    """Why the verdict is not "safe" (and what was scanned), in words."""

    @property
    def safe(self) -> bool:
        return self.verdict is Verdict.SAFE

    def summary(self, limit: int = 10) -> str:
        """One line for a card: ``dangerous: os.system, builtins.eval`` or ``safe (4 globals, all allowed)``."""
        if self.verdict is Verdict.SAFE:
            return f"safe ({len(self.globals)} globals, all on the allow list)"
        shown = list(self.dangerous or self.offending)
        if shown:
            more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
            return f"{self.verdict.value}: {', '.join(shown[:limit])}{more}"
        return f"{self.verdict.value}: {self.notes[0] if self.notes else 'unreadable'}"


# ------------------------------------------------------------------------------------ the lists


def _allowed() -> frozenset[str]:
    names = {
        "collections.OrderedDict",
        "collections.Counter",
        "torch.nn.parameter.Parameter",
        "torch.serialization._get_layout",
        "torch.Size",
        "torch.Tensor",
        "torch.device",
        "torch._tensor._rebuild_from_type_v2",
        "torch.UntypedStorage",
        "torch.storage.UntypedStorage",
        "_codecs.encode",
        "builtins.bytearray",
        "builtins.set",
        "builtins.complex",
        # numpy arrays inside checkpoints (picklescan's safe list; PyTorch >= 2.4 weights_only)
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.ndarray",
        "numpy.dtype",
    }
    names.update(f"torch._utils.{f}" for f in (
        "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
        "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_nested_tensor",
        "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_cpu_tensor",
        "_rebuild_device_tensor_from_numpy"))
    kinds = ("Double", "Float", "Long", "Int", "Short", "Char", "Byte", "Half", "Bool", "BFloat16",
             "ComplexDouble", "ComplexFloat")
    for kind in (*kinds, "QUInt8", "QInt8", "QInt32", "QUInt4x2", "QUInt2x4"):
        names.add(f"torch.{kind}Storage")
    for kind in kinds:
        names.add(f"torch.cuda.{kind}Storage")
        names.add(f"torch.{kind}Tensor")
        names.add(f"torch.cuda.{kind}Tensor")
    names.update(f"torch.{dtype}" for dtype in (
        "float32", "float64", "float16", "bfloat16", "complex32", "complex64", "complex128", "uint8", "uint16",
        "uint32", "uint64", "int8", "int16", "int32", "int64", "bool", "qint8", "quint8", "qint32", "quint4x2",
        "quint2x4", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu",
        "float4_e2m1fn_x2"))
    names.update(f"torch.{scheme}" for scheme in (
        "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric",
        "per_channel_affine_float_qparams"))
    return frozenset(names)


ALLOWED_GLOBALS: Final[frozenset[str]] = _allowed()
"""``module.name`` of every global a safe file may import (see the module docstring)."""

DANGEROUS_MODULES: Final[frozenset[str]] = frozenset({
    # processes, code, the interpreter
    "os", "posix", "nt", "subprocess", "sys", "runpy", "importlib", "imp", "pkgutil", "zipimport", "code", "codeop",
    "commands", "pty", "pdb", "bdb", "timeit", "cProfile", "profile", "trace", "doctest", "ctypes", "_ctypes",
    "multiprocessing", "_posixsubprocess", "signal", "_thread", "threading", "asyncio", "types", "inspect", "gc",
    "builtins.eval", "builtins.exec", "builtins.compile", "builtins.getattr", "builtins.setattr",
    "builtins.delattr", "builtins.__import__", "builtins.open", "builtins.input", "builtins.breakpoint",
    "builtins.globals", "builtins.locals", "builtins.vars", "builtins.memoryview", "builtins.help",
    "builtins.exit", "builtins.quit",
    # unpicklers and loaders (a pickle inside the pickle)
    "pickle", "_pickle", "cPickle", "dill", "joblib", "marshal", "shelve", "torch.load", "torch.hub",
    "torch.jit", "torch.storage._load_from_bytes", "torch.serialization.load", "numpy.load", "numpy.lib.npyio",
    "numpy.testing", "numpy.f2py", "numpy.distutils",
    # files and the network
    "shutil", "tempfile", "io", "_io", "fileinput", "pathlib", "glob", "socket", "ssl", "http", "urllib",
    "urllib2", "requests", "httpx", "aiohttp", "ftplib", "smtplib", "telnetlib", "webbrowser", "xmlrpc",
    "pip", "setuptools", "distutils", "ensurepip", "venv",
    # building blocks of known scanner bypasses (call anything, fetch any attribute)
    "operator", "_operator", "functools", "_functools",
    # Python 2 spellings, for protocol >= 3 pickles that the unpickler does not map
    "__builtin__.eval", "__builtin__.execfile", "__builtin__.getattr", "__builtin__.open", "__builtin__.__import__",
})
"""Deny list, dotted: an entry matches itself and what is under it (``os`` matches ``os.path.join``)."""

DANGEROUS_NAMES: Final[frozenset[str]] = frozenset({
    "eval", "exec", "execfile", "compile", "__import__", "system", "popen", "Popen", "getattr", "setattr",
    "delattr", "loads", "load", "spawnl", "spawnle", "spawnlp", "spawnv", "spawnve", "spawnvp", "execl",
    "execle", "execlp", "execv", "execve", "execvp", "check_call", "check_output", "getoutput", "getstatusoutput",
    "__getattribute__", "__globals__", "__builtins__", "__subclasses__", "__reduce__", "__reduce_ex__",
})
"""A global whose name (or any dotted part of it) is one of these is dangerous whatever its module."""


def _grade(qualified: str) -> Verdict:
    if qualified in ALLOWED_GLOBALS:
        return Verdict.SAFE
    parts = qualified.split(".")
    for i in range(1, len(parts) + 1):
        if ".".join(parts[:i]) in DANGEROUS_MODULES:
            return Verdict.DANGEROUS
    if any(part in DANGEROUS_NAMES for part in parts[1:]):
        return Verdict.DANGEROUS
    return Verdict.SUSPICIOUS


# --------------------------------------------------------------------------------------- scanning


class _Unreadable(Exception):
    """The data cannot be scanned (malformed, too large): the file is at least suspicious."""


class _Unknown:
    """A stack value the scan does not know (any object but a literal string)."""

    def __repr__(self) -> str:
        return "<unknown>"


_UNKNOWN: Final = _Unknown()
_CODE2OP: Final = {op.code.encode("latin-1"): op for op in pickletools.opcodes}
_STRING_OPS: Final = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING",
                                "SHORT_BINSTRING"})
_PUT_OPS: Final = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GET_OPS: Final = frozenset({"GET", "BINGET", "LONG_BINGET"})
# length-prefixed arguments: descriptor name -> (length bytes, signed)
_PREFIXED: Final = {
    "string1": (1, False), "bytes1": (1, False), "unicodestring1": (1, False), "long1": (1, False),
    "string4": (4, True), "long4": (4, True), "bytes4": (4, False), "unicodestring4": (4, False),
    "bytes8": (8, False), "bytearray8": (8, False), "unicodestring8": (8, False),
}
_LEGACY_MAGIC: Final = 0x1950A86A20F9469CFC6C
_MAGIC_NAMES: Final = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GGUF", "a GGUF model file"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"<", "a text or HTML file"),
    (b"{", "a JSON or text file"),
)


class _Reader:
    """A capped view of a binary stream for ``pickletools``' argument readers."""

    def __init__(self, raw: IO[bytes], limits: ScanLimits) -> None:
        self._raw = raw
        self._limits = limits
        self._pending = b""
        self.pos = 0
        self._budget = limits.max_pickle_bytes

    def new_pickle(self) -> None:
        self._budget = self.pos + self._limits.max_pickle_bytes

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self._budget:
            raise _Unreadable(f"a pickle longer than {self._limits.max_pickle_bytes:,} bytes")
        data = b""
        if self._pending and n:
            data, self._pending = self._pending, b""
        if n > len(data):
            data += self._raw.read(n - len(data))
        self.pos += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        """A line for ``pickletools`` (``size`` is ignored: the cap is ``max_line``)."""
        cap = self._limits.max_line + 1
        head, self._pending = self._pending, b""
        line = head if head == b"\n" else head + self._raw.readline(cap - len(head))
        self.pos += len(line)
        if len(line) >= cap:
            raise _Unreadable(f"a text argument longer than {self._limits.max_line:,} bytes at byte {self.pos}")
        if self.pos > self._budget:
            raise _Unreadable(f"a pickle longer than {self._limits.max_pickle_bytes:,} bytes")
        return line

    def skip(self, n: int) -> None:
        while n > 0:
            got = len(self.read(min(n, 1024 * 1024)))
            if not got:
                raise _Unreadable("the pickle ends inside an argument")
            n -= got

    def at_end(self) -> bool:
        if not self._pending:
            self._pending = self._raw.read(1)
        return not self._pending


@dataclass
class _Scan:
    limits: ScanLimits
    opcodes: int = 0
    pickles: int = 0
    globals: dict[str, Verdict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failed: bool = False

    def fail(self, note: str) -> None:
        self.failed = True
        if note not in self.notes:
            self.notes.append(note)

    def add_global(self, module: object, name: object, proto: int) -> None:
        if not isinstance(module, str) or not isinstance(name, str):
            self.fail("a STACK_GLOBAL whose module or name is not a literal string (resolved only at load time)")
            return
        if proto < 3:  # what the unpickler imports: Python 2 names mapped (pickle's fix_imports)
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        qualified = _printable(f"{module}.{name}")
        if qualified not in self.globals and len(self.globals) < 10_000:
            self.globals[qualified] = _grade(qualified)

    def result(self, fmt: str) -> PickleScan:
        dangerous = tuple(g for g, v in self.globals.items() if v is Verdict.DANGEROUS)
        offending = tuple(g for g, v in self.globals.items() if v is not Verdict.SAFE)
        notes = list(self.notes)
        if offending:
            notes.insert(0, f"{len(offending)} global(s) not on the allow list: {', '.join(offending[:10])}")
        if self.pickles == 0 and not self.failed:
            self.fail("no pickle found")
            notes = list(self.notes)
        if dangerous:
            verdict = Verdict.DANGEROUS
        elif offending or self.failed:
            verdict = Verdict.SUSPICIOUS
        else:
            verdict = Verdict.SAFE
        return PickleScan(verdict, fmt, self.pickles, tuple(self.globals), offending, dangerous, tuple(notes))


def _printable(text: str) -> str:
    return text if text.isprintable() and len(text) <= 200 else repr(text[:200])


def _ops(reader: _Reader, scan: _Scan) -> Iterator[tuple[pickletools.OpcodeInfo, object]]:
    """(opcode, argument) up to and including STOP; arguments too long to matter are skipped (None)."""
    while True:
        code = reader.read(1)
        if not code:
            raise _Unreadable(f"the pickle ends at byte {reader.pos} without a STOP")
        op = _CODE2OP.get(code)
        if op is None:
            raise _Unreadable(f"unknown opcode 0x{code[0]:02x} at byte {reader.pos - 1}")
        scan.opcodes += 1
        if scan.opcodes > scan.limits.max_opcodes:
            raise _Unreadable(f"more than {scan.limits.max_opcodes:,} opcodes")
        yield op, _argument(op, reader, scan.limits)
        if op.name == "STOP":
            return


def _argument(op: pickletools.OpcodeInfo, reader: _Reader, limits: ScanLimits) -> object:
    arg = op.arg
    if arg is None:
        return None
    if arg.name in _PREFIXED:
        width, signed = _PREFIXED[arg.name]
        raw = reader.read(width)
        if len(raw) < width:
            raise _Unreadable(f"the pickle ends inside {op.name}'s argument")
        length = int.from_bytes(raw, "little", signed=signed)
        if length < 0:
            raise _Unreadable(f"{op.name} with a negative length at byte {reader.pos}")
        if length > limits.max_inline_argument or arg.name.startswith(("bytes", "bytearray")):
            reader.skip(length)
            return None
        data = reader.read(length)
        if len(data) < length:
            raise _Unreadable(f"the pickle ends inside {op.name}'s argument")
        if arg.name.startswith("unicode"):
            try:
                return data.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                raise _Unreadable(f"a malformed {op.name} argument: not UTF-8 (at byte {reader.pos})") from None
        if arg.name.startswith("string"):
            return data.decode("latin-1")
        return pickletools.decode_long(data)
    try:
        return arg.reader(reader)
    except _Unreadable:
        raise
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise _Unreadable(f"a malformed {op.name} argument: {exc}") from None


def _scan_pickle(reader: _Reader, scan: _Scan) -> object:
    """Replay one pickle's stacks and memo, collecting its globals. Returns its top value when it
    is a literal (the legacy magic number), else the unknown marker."""
    reader.new_pickle()
    stack: list[object] = []
    metastack: list[list[object]] = []
    memo: dict[object, object] = {}
    top: object = _UNKNOWN
    proto = 0

    def pop(n: int = 1) -> list[object]:
        if len(stack) < n:
            raise _Unreadable(f"{op.name} finds too few items on the stack (at byte {reader.pos})")
        taken = stack[len(stack) - n:]
        del stack[len(stack) - n:]
        return taken

    def pop_mark() -> list[object]:
        nonlocal stack
        if not metastack:
            raise _Unreadable(f"{op.name} without a MARK (at byte {reader.pos})")
        items, stack = stack, metastack.pop()
        return items

    for op, arg in _ops(reader, scan):
        name = op.name
        if name in _STRING_OPS:
            stack.append(arg if isinstance(arg, str) else _UNKNOWN)
        elif name in ("LONG1", "LONG4", "INT", "BININT", "BININT1", "BININT2", "LONG"):
            stack.append(arg if isinstance(arg, int) else _UNKNOWN)
        elif name in ("GLOBAL", "INST"):
            module, _, qualname = str(arg).partition(" ")
            scan.add_global(module, qualname, proto)
            if name == "INST":
                pop_mark()
            stack.append(_UNKNOWN)
        elif name == "STACK_GLOBAL":
            module, qualname = pop(2)
            scan.add_global(module, qualname, proto)
            stack.append(_UNKNOWN)
        elif name in ("EXT1", "EXT2", "EXT4"):
            scan.fail(f"{name} (code {arg}): a global taken from the copyreg extension registry, unresolvable")
            stack.append(_UNKNOWN)
        elif name in _PUT_OPS:
            if not stack:
                raise _Unreadable(f"{name} on an empty stack (at byte {reader.pos})")
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            if not stack:
                raise _Unreadable(f"MEMOIZE on an empty stack (at byte {reader.pos})")
            memo[len(memo)] = stack[-1]
        elif name in _GET_OPS:
            if arg not in memo:
                raise _Unreadable(f"{name} {arg} reads a memo slot never written (at byte {reader.pos})")
            stack.append(memo[arg])
        elif name == "DUP":
            stack.append(pop()[0])
            stack.append(stack[-1])
        elif name == "PROTO":
            proto = arg if isinstance(arg, int) else 0
        elif name == "MARK":
            metastack.append(stack)
            stack = []
        elif name == "POP":
            if stack:
                stack.pop()
            else:
                pop_mark()
        elif name == "STOP":
            top = pop()[0]
            break
        else:
            before = op.stack_before
            if pickletools.markobject in before:
                pop_mark()
                pop(before.index(pickletools.markobject))
            else:
                pop(len(before))
            stack.extend(_UNKNOWN for _ in op.stack_after)
    scan.pickles += 1
    return top


def _scan_stream(raw: IO[bytes], scan: _Scan, where: str) -> bool:
    """Scan up to ``max_pickles`` pickles from ``raw``; True when the first was PyTorch's legacy magic."""
    reader = _Reader(raw, scan.limits)
    legacy = False
    try:
        for index in range(scan.limits.max_pickles):
            if index > 0 and reader.at_end():
                break
            top = _scan_pickle(reader, scan)
            if index == 0 and top == _LEGACY_MAGIC:
                legacy = True
    except _Unreadable as exc:
        scan.fail(f"{where}: {exc}")
    except Exception as exc:  # fail closed: a corrupt deflate stream, a CRC error, an I/O error, ...
        scan.fail(f"{where}: unreadable ({type(exc).__name__}: {exc})")
    return legacy


def _scan_zip(handle: IO[bytes], scan: _Scan) -> None:
    try:
        archive = zipfile.ZipFile(handle)
    except Exception as exc:  # fail closed
        scan.fail(f"a broken zip archive ({type(exc).__name__}: {exc})")
        return
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            scan.fail("the zip has several members of the same name (readers may disagree on which one counts)")
        members = [info for info in infos if info.filename.lower().endswith(".pkl")]
        if not members:
            scan.fail("a zip without any .pkl member: not a PyTorch file")
        if len(members) > scan.limits.max_members:
            scan.fail(f"more than {scan.limits.max_members} .pkl members; only the first ones were scanned")
        for info in members[:scan.limits.max_members]:
            where = f"zip member {_printable(info.filename)}"
            if info.flag_bits & 0x1:
                scan.fail(f"{where} is encrypted")
                continue
            if info.file_size > scan.limits.max_pickle_bytes:
                scan.fail(f"{where} is {info.file_size:,} bytes, over the {scan.limits.max_pickle_bytes:,} cap")
                continue
            try:
                with archive.open(info) as member:
                    _scan_stream(member, scan, where)
            except Exception as exc:  # fail closed: unsupported compression, bad header, ...
                scan.fail(f"{where} cannot be read ({type(exc).__name__}: {exc})")


def scan_file(path: str | os.PathLike[str], *, limits: ScanLimits | None = None) -> PickleScan:
    """Scan a model file on disk (blocking). ``scan_file(p).verdict`` is safe, suspicious or dangerous.

    >>> scan_file("model.ckpt").summary()            # doctest: +SKIP
    'suspicious: pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint, numpy.core.multiarray.scalar'
    """
    with Path(path).open("rb", buffering=1024 * 1024) as handle:
        return scan_stream(handle, limits=limits)


def scan_bytes(data: bytes, *, limits: ScanLimits | None = None) -> PickleScan:
    """Scan a file held in memory (small files, tests)."""
    return scan_stream(io.BytesIO(data), limits=limits)


def scan_stream(handle: IO[bytes], *, limits: ScanLimits | None = None) -> PickleScan:
    """Scan an open, seekable binary file from its start (blocking)."""
    scan = _Scan(limits or ScanLimits())
    handle.seek(0)
    head = handle.read(16)
    handle.seek(0)
    if not head:
        scan.fail("the file is empty")
        return scan.result("unknown")
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        _scan_zip(handle, scan)
        return scan.result("zip")
    if _looks_like_safetensors(head):
        scan.fail("a safetensors file, not a pickle: inspect it as safetensors")
        return scan.result("unknown")
    for magic, what in _MAGIC_NAMES:
        if head.startswith(magic):
            scan.fail(f"not a pickle: {what}")
            return scan.result("unknown")
    if head[:1] not in _CODE2OP:
        scan.fail(f"not a pickle: the first byte 0x{head[0]:02x} is no pickle opcode")
        return scan.result("unknown")
    legacy = _scan_stream(handle, scan, "pickle")
    if scan.pickles == 0:
        scan.notes.insert(0, "not a valid pickle file")
    return scan.result("legacy" if legacy else "pickle")


def _looks_like_safetensors(head: bytes) -> bool:
    return len(head) >= 10 and head[8:10] == b'{"' and int.from_bytes(head[:8], "little") < 100 * 1024 * 1024
