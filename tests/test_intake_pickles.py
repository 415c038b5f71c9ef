"""The pickle scanner (issue 12, point 5): verdicts on hand-built pickles, never loaded.

Every pickle here is assembled opcode by opcode from the table of the pickle protocol (the stdlib's
``pickletools.opcodes``, the protocol's documentation in code), and the well-formed ones are checked
with ``pickletools.dis``, which parses without executing. Nothing is ever unpickled. PyTorch is not
installed: the checkpoints are built as ``torch.save`` writes them (a zip with ``archive/data.pkl``
and raw tensor members, or the legacy five pickles followed by raw storage bytes), with the globals
PyTorch's ``weights_only`` loader accepts (``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage``,
``collections.OrderedDict``).
"""

from __future__ import annotations

import io
import pickle
import pickletools
import struct
import zipfile
from pathlib import Path

import pytest

from bot.intake.pickles import ScanLimits, Verdict, scan_bytes, scan_file, scan_stream

OPS = {op.name: op for op in pickletools.opcodes}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch/serialization.py MAGIC_NUMBER


def op(name: str, arg: object = None) -> bytes:
    """One opcode with its argument, encoded as the pickle protocol defines it."""
    info = OPS[name]
    code = info.code.encode("latin-1")
    kind = info.arg.name if info.arg is not None else None
    if kind is None:
        return code
    fixed = {"uint1": "<B", "uint2": "<H", "int4": "<i", "uint4": "<I", "uint8": "<Q"}
    if kind in fixed:
        return code + struct.pack(fixed[kind], arg)
    if kind == "stringnl_noescape_pair":
        module, name = arg  # type: ignore[misc]
        return code + f"{module}\n{name}\n".encode()
    if kind in ("decimalnl_short", "stringnl_noescape"):
        return code + f"{arg}\n".encode()
    if kind == "long1":
        data = pickle.encode_long(arg)  # type: ignore[arg-type]
        return code + bytes([len(data)]) + data
    data = arg.encode() if isinstance(arg, str) else arg
    assert isinstance(data, bytes)
    width = {"unicodestring1": "<B", "bytes1": "<B", "unicodestring4": "<I", "bytes4": "<I",
             "unicodestring8": "<Q", "bytes8": "<Q"}[kind]
    return code + struct.pack(width, len(data)) + data


def pkl(*parts: bytes, proto: int = 2, check: bool = True) -> bytes:
    """A pickle: PROTO, the parts, STOP; ``check``: the stdlib's own parser accepts it."""
    data = op("PROTO", proto) + b"".join(parts) + op("STOP")
    if check:
        pickletools.dis(data, out=io.StringIO())
    return data


def call(module: str, name: str, *args: bytes) -> bytes:
    """``module.name(*args)`` as a pickle fragment: GLOBAL, MARK, args, TUPLE, REDUCE."""
    return op("GLOBAL", (module, name)) + op("MARK") + b"".join(args) + op("TUPLE") + op("REDUCE")


def text(value: str) -> bytes:
    return op("BINUNICODE", value)


def small(value: int) -> bytes:
    return op("BININT1", value)


def tensor(key: str, *, persistent_key: str = "0") -> bytes:
    """One ``name: tensor`` item as torch.save pickles a 2x2 float tensor (``_rebuild_tensor_v2`` of a
    persistent ``('storage', torch.FloatStorage, key, 'cpu', numel)``)."""
    storage = (op("MARK") + text("storage") + op("GLOBAL", ("torch", "FloatStorage")) + text(persistent_key)
               + text("cpu") + small(4) + op("TUPLE") + op("BINPERSID"))
    size = small(2) + small(2) + op("TUPLE2")
    stride = small(2) + small(1) + op("TUPLE2")
    hooks = call("collections", "OrderedDict")
    return text(key) + call("torch._utils", "_rebuild_tensor_v2", storage, small(0), size, stride,
                            op("NEWFALSE"), hooks)


def state_dict(*keys: str) -> bytes:
    """``OrderedDict(key=tensor, ...)`` as torch.save pickles a state dict."""
    items = b"".join(tensor(key, persistent_key=str(i)) for i, key in enumerate(keys))
    return call("collections", "OrderedDict") + op("MARK") + items + op("SETITEMS")


def torch_zip(data_pkl: bytes, *, extra: dict[str, bytes] | None = None, compression: int = zipfile.ZIP_STORED
              ) -> bytes:
    """A torch.save zip: ``archive/data.pkl``, ``archive/byteorder``, ``archive/data/0``, ``archive/version``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", b"little")
        archive.writestr("archive/data/0", struct.pack("<4f", 1.0, 2.0, 3.0, 4.0))
        archive.writestr("archive/version", b"3\n")
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return out.getvalue()


def legacy(main: bytes, *, keys: bytes | None = None, tail: bytes = b"") -> bytes:
    """torch's legacy format: magic number, protocol version, sys info, the object, storage keys, raw data."""
    magic = pkl(op("LONG1", LEGACY_MAGIC))
    version = pkl(op("BININT2", 1001))
    sys_info = pkl(op("EMPTY_DICT") + op("MARK") + text("protocol_version") + op("BININT2", 1001)
                   + text("little_endian") + op("NEWTRUE") + op("SETITEMS"))
    keys = keys if keys is not None else pkl(op("EMPTY_LIST") + text("0") + op("APPEND"))
    raw = struct.pack("<q", 4) + struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    return magic + version + sys_info + main + keys + raw + tail


OS_SYSTEM = pkl(call("os", "system", text("echo owned")))


class _Recorder(pickle.Unpickler):
    """CPython's unpickler with ``find_class`` replaced: it records what would be imported and returns
    an inert stand-in, so nothing is imported or run. Used only to check the scanner's stack replay
    against the real unpickler's on the trick pickles below."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.imported: list[str] = []

    def find_class(self, module: str, name: str) -> object:
        self.imported.append(f"{module}.{name}")
        return _inert

    def persistent_load(self, pid: object) -> object:
        return None


def _inert(*args: object, **kwargs: object) -> None:
    return None


def imported_by_the_unpickler(data: bytes) -> tuple[str, ...]:
    recorder = _Recorder(data)
    recorder.load()
    return tuple(dict.fromkeys(recorder.imported))


# ------------------------------------------------------------------------------------ dangerous


def test_a_pickle_that_imports_os_system_is_dangerous() -> None:
    result = scan_bytes(OS_SYSTEM)
    assert result.verdict is Verdict.DANGEROUS
    assert result.dangerous == ("os.system",) and "os.system" in result.offending
    assert "os.system" in result.summary()


@pytest.mark.parametrize(("fragment", "shown"), [
    (call("posix", "system", text("id")), "posix.system"),
    (call("nt", "system", text("id")), "nt.system"),
    (call("subprocess", "Popen", text("id")), "subprocess.Popen"),
    (call("builtins", "eval", text("1")), "builtins.eval"),
    (call("builtins", "exec", text("1")), "builtins.exec"),
    (call("builtins", "getattr", text("x")), "builtins.getattr"),
    (call("builtins", "__import__", text("os")), "builtins.__import__"),
    (call("runpy", "_run_code", text("1")), "runpy._run_code"),
    (call("webbrowser", "open", text("http://x.invalid")), "webbrowser.open"),
    (call("socket", "create_connection", text("x")), "socket.create_connection"),
    (call("torch.serialization", "load", text("x")), "torch.serialization.load"),
    (call("pickle", "loads", text("x")), "pickle.loads"),
    (op("MARK") + text("id") + op("INST", ("os", "system")), "os.system"),
])
def test_known_dangerous_globals_are_dangerous(fragment: bytes, shown: str) -> None:
    result = scan_bytes(pkl(fragment))
    assert result.verdict is Verdict.DANGEROUS
    assert shown in result.dangerous


def test_python2_names_are_read_as_the_unpickler_maps_them() -> None:
    # protocol < 3: pickle's fix_imports maps __builtin__ to builtins (Lib/_compat_pickle.py)
    assert scan_bytes(pkl(call("__builtin__", "eval", text("1")))).dangerous == ("builtins.eval",)
    assert scan_bytes(pkl(call("__builtin__", "set", op("EMPTY_LIST")))).verdict is Verdict.SAFE


# ----------------------------------------------------------------------------------------- safe


def test_a_plain_tensor_checkpoint_is_safe() -> None:
    result = scan_bytes(torch_zip(pkl(state_dict("lora_up.weight", "lora_down.weight"))))
    assert result.verdict is Verdict.SAFE, result.notes
    assert result.format == "zip" and result.pickles == 1
    assert set(result.globals) == {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage"}
    assert result.offending == () and result.dangerous == ()


def test_tensor_data_members_are_never_read_as_pickles() -> None:
    # torch reads archive/data/N as raw bytes, never unpickles it: neither does the scanner
    result = scan_bytes(torch_zip(pkl(state_dict("w")), extra={"archive/data/1": OS_SYSTEM}))
    assert result.verdict is Verdict.SAFE


def test_every_pkl_member_of_a_zip_is_scanned() -> None:
    result = scan_bytes(torch_zip(pkl(state_dict("w")), extra={"archive/constants.pkl": OS_SYSTEM}))
    assert result.verdict is Verdict.DANGEROUS and result.pickles == 2


def test_the_torch_and_numpy_globals_of_weights_only_are_safe() -> None:
    fragment = op("MARK")
    for module, name in [("torch", "Size"), ("torch", "float16"), ("torch", "bfloat16"), ("torch", "HalfStorage"),
                         ("torch", "BFloat16Storage"), ("torch.cuda", "FloatStorage"), ("torch", "device"),
                         ("torch._utils", "_rebuild_parameter"), ("torch.nn.parameter", "Parameter"),
                         ("torch.serialization", "_get_layout"), ("torch._tensor", "_rebuild_from_type_v2"),
                         ("_codecs", "encode"), ("builtins", "set"), ("numpy.core.multiarray", "_reconstruct"),
                         ("numpy", "ndarray"), ("numpy", "dtype")]:
        fragment += op("GLOBAL", (module, name))
    result = scan_bytes(pkl(fragment + op("TUPLE")))
    assert result.verdict is Verdict.SAFE, result.offending
    assert len(result.globals) == 16


# ---------------------------------------------------------------------------------- suspicious


@pytest.mark.parametrize("global_", [
    ("mymodel.layers", "Block"),
    ("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"),  # in old SD training .ckpt files
    ("numpy.core.multiarray", "scalar"),                                  # PyTorch wants an explicit opt-in
    ("torch", "Storage"),                                                 # near an allowed name, not one
    ("torch._utils", "_rebuild_tensor_v2 "),
])
def test_an_unknown_global_is_suspicious(global_: tuple[str, str]) -> None:
    result = scan_bytes(torch_zip(pkl(state_dict("w") + op("POP") + call(*global_))))
    assert result.verdict is Verdict.SUSPICIOUS
    assert result.offending == (".".join(global_),) and result.dangerous == ()


# ------------------------------------------------------------------------------- STACK_GLOBAL


def test_stack_global_is_resolved_from_the_stack() -> None:
    data = pkl(text("os") + text("system") + op("STACK_GLOBAL") + op("MARK") + text("id") + op("TUPLE")
               + op("REDUCE"), proto=4)
    assert scan_bytes(data).dangerous == ("os.system",)
    safe = pkl(text("collections") + text("OrderedDict") + op("STACK_GLOBAL") + op("EMPTY_TUPLE") + op("REDUCE"),
               proto=4)
    assert scan_bytes(safe).verdict is Verdict.SAFE
    assert imported_by_the_unpickler(safe) == ("collections.OrderedDict",)


def test_stack_global_through_the_memo() -> None:
    # "os" is memoized, dropped, and fetched back later: its text is nowhere near the STACK_GLOBAL
    data = pkl(text("os") + op("MEMOIZE") + op("POP")
               + text("collections") + op("BINPUT", 7) + op("POP")
               + op("BINGET", 0) + text("system") + op("STACK_GLOBAL") + op("POP")
               + op("BINGET", 7) + text("OrderedDict") + op("STACK_GLOBAL"), proto=4)
    result = scan_bytes(data)
    assert result.verdict is Verdict.DANGEROUS
    assert result.globals == ("os.system", "collections.OrderedDict") == imported_by_the_unpickler(data)


def test_a_memo_slot_rewritten_holds_its_last_value() -> None:
    # the unpickler lets a PUT overwrite a slot (pickletools.dis refuses it, hence check=False)
    data = pkl(text("collections") + op("BINPUT", 1) + op("POP")
               + text("builtins") + op("BINPUT", 1) + op("POP")
               + op("BINGET", 1) + text("eval") + op("STACK_GLOBAL"), proto=4, check=False)
    assert scan_bytes(data).dangerous == ("builtins.eval",) == imported_by_the_unpickler(data)


def test_the_last_strings_seen_are_not_what_stack_global_takes() -> None:
    # a scanner that pairs the two most recent strings would see collections.OrderedDict here
    data = pkl(text("os") + text("system") + text("collections") + text("OrderedDict") + op("POP") + op("POP")
               + op("STACK_GLOBAL"), proto=4)
    assert scan_bytes(data).globals == ("os.system",) == imported_by_the_unpickler(data)
    # DUP and strings left below a MARK are followed too
    dup = pkl(text("builtins") + text("exec") + op("DUP") + op("POP") + op("STACK_GLOBAL"), proto=4)
    assert scan_bytes(dup).dangerous == ("builtins.exec",) == imported_by_the_unpickler(dup)
    marked = pkl(text("os") + text("system") + op("MARK") + text("collections") + text("OrderedDict")
                 + op("POP_MARK") + op("STACK_GLOBAL"), proto=4)
    assert scan_bytes(marked).globals == ("os.system",) == imported_by_the_unpickler(marked)


def test_a_stack_global_of_strings_made_at_load_time_is_suspicious() -> None:
    # the name is the result of a call (an OrderedDict here): only running the pickle would tell
    data = pkl(text("os") + call("collections", "OrderedDict") + op("STACK_GLOBAL"), proto=4)
    result = scan_bytes(data)
    assert result.verdict is Verdict.SUSPICIOUS
    assert result.globals == ("collections.OrderedDict",)
    assert any("not a literal string" in note for note in result.notes)


def test_a_stack_global_across_a_mark_is_malformed() -> None:
    # the unpickler's MARK starts a new stack: STACK_GLOBAL cannot reach below it
    data = pkl(text("os") + op("MARK") + text("system") + op("STACK_GLOBAL"), proto=4, check=False)
    result = scan_bytes(data)
    assert result.verdict is Verdict.SUSPICIOUS and result.globals == ()
    with pytest.raises(pickle.UnpicklingError):
        imported_by_the_unpickler(data)


def test_extension_registry_opcodes_are_suspicious() -> None:
    result = scan_bytes(pkl(op("EXT1", 1) + op("EMPTY_TUPLE") + op("REDUCE")))
    assert result.verdict is Verdict.SUSPICIOUS
    assert any("EXT1" in note for note in result.notes)


# --------------------------------------------------------------------------------- legacy format


def test_a_legacy_checkpoint_is_five_pickles_then_raw_data() -> None:
    # the raw storage bytes after the fifth pickle hold a pickle of os.system: torch reads them as
    # data, never unpickles them, and neither does the scanner
    data = legacy(pkl(state_dict("w")), tail=OS_SYSTEM)
    result = scan_bytes(data)
    assert result.verdict is Verdict.SAFE, result.notes
    assert result.format == "legacy" and result.pickles == 5


@pytest.mark.parametrize("where", ["main", "keys"])
def test_each_of_the_legacy_pickles_is_scanned(where: str) -> None:
    data = legacy(OS_SYSTEM) if where == "main" else legacy(pkl(state_dict("w")), keys=OS_SYSTEM)
    assert scan_bytes(data).verdict is Verdict.DANGEROUS


def test_a_legacy_file_is_read_only_as_far_as_its_pickles(tmp_path: Path) -> None:
    class Counting(io.BytesIO):
        read_bytes = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            Counting.read_bytes += len(data)
            return data

        def readline(self, size: int | None = -1) -> bytes:
            data = super().readline(size)
            Counting.read_bytes += len(data)
            return data

    pickles = legacy(pkl(state_dict("a", "b")))
    data = pickles + b"\0" * (8 * 1024 * 1024)  # the tensors
    result = scan_stream(Counting(data))
    assert result.verdict is Verdict.SAFE
    assert Counting.read_bytes < len(pickles) + 64 * 1024
    # the same from a file on disk
    path = tmp_path / "model.ckpt"
    path.write_bytes(data)
    assert scan_file(path).verdict is Verdict.SAFE


def test_a_plain_pickle_file_is_scanned_to_its_end() -> None:
    result = scan_bytes(pkl(state_dict("w")))
    assert result.verdict is Verdict.SAFE and result.format == "pickle" and result.pickles == 1
    two = pkl(state_dict("w")) + OS_SYSTEM  # a second pickle follows: scanned as well
    assert scan_bytes(two).verdict is Verdict.DANGEROUS


# ---------------------------------------------------------------------------------- fail closed


@pytest.mark.parametrize(("data", "words"), [
    (OS_SYSTEM[:-1], "without a STOP"),                                            # truncated
    (pkl(state_dict("w"))[:40], "pickle"),                                         # cut in an argument
    (op("PROTO", 2) + b"\xff" + op("STOP"), "unknown opcode 0xff"),
    (op("PROTO", 4) + op("STACK_GLOBAL") + op("STOP"), "too few items"),           # empty stack
    (op("PROTO", 2) + op("BINGET", 3) + op("STOP"), "memo slot never written"),
    (op("PROTO", 2) + op("APPENDS") + op("STOP"), "without a MARK"),
    (op("PROTO", 2) + op("BINUNICODE", b"\xff\xfe") + op("STOP"), "malformed BINUNICODE"),  # not UTF-8
])
def test_a_corrupted_pickle_is_suspicious(data: bytes, words: str) -> None:
    result = scan_bytes(data)
    assert result.verdict is not Verdict.SAFE
    assert any(words in note for note in result.notes), result.notes


def test_a_corrupted_pickle_keeps_the_dangerous_globals_seen_before_the_break() -> None:
    # the unpickler runs os.system before it meets the broken byte
    data = op("PROTO", 2) + call("os", "system", text("id")) + b"\xff"
    assert scan_bytes(data).verdict is Verdict.DANGEROUS


def test_a_huge_argument_is_skipped_not_loaded() -> None:
    # BINBYTES8 claiming 2**40 bytes in a 40-byte file
    data = op("PROTO", 4) + OPS["BINBYTES8"].code.encode("latin-1") + struct.pack("<Q", 2**40) + b"x" * 20
    result = scan_bytes(data)
    assert result.verdict is Verdict.SUSPICIOUS
    # a real 2 MiB bytes object between allowed globals is fine
    big = pkl(call("collections", "OrderedDict") + op("POP") + op("BINBYTES", b"\0" * (2 * 1024 * 1024)), proto=3)
    assert scan_bytes(big).verdict is Verdict.SAFE


def test_the_opcode_and_size_caps_fail_closed() -> None:
    many = pkl(op("EMPTY_LIST") + op("MARK") + small(1) * 500 + op("APPENDS"))
    assert scan_bytes(many).verdict is Verdict.SAFE
    assert scan_bytes(many, limits=ScanLimits(max_opcodes=100)).verdict is Verdict.SUSPICIOUS
    result = scan_bytes(many, limits=ScanLimits(max_pickle_bytes=200))
    assert result.verdict is Verdict.SUSPICIOUS and any("longer than 200" in note for note in result.notes)


def test_a_broken_zip_is_suspicious() -> None:
    good = torch_zip(pkl(state_dict("w")))
    result = scan_bytes(good[: len(good) - 30])  # the central directory cut off
    assert result.verdict is Verdict.SUSPICIOUS and result.format == "zip"
    assert any("broken zip" in note for note in result.notes)


def test_a_zip_member_with_a_bad_crc_is_suspicious() -> None:
    payload = pkl(state_dict("w"))
    good = torch_zip(payload)
    at = good.index(payload) + 10
    flipped = good[:at] + bytes([good[at] ^ 0x01]) + good[at + 1:]  # one bit of data.pkl, CRC unchanged
    result = scan_bytes(flipped)
    assert result.verdict is not Verdict.SAFE
    assert any("archive/data.pkl" in note for note in result.notes), result.notes


def test_an_encrypted_zip_member_is_suspicious() -> None:
    data = bytearray(torch_zip(pkl(state_dict("w"))))
    # set bit 0 of the general purpose flag ("encrypted", APPNOTE 4.4.4) in every header of data.pkl
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature)
        data[at + offset] |= 0x01
    result = scan_bytes(bytes(data))
    assert result.verdict is Verdict.SUSPICIOUS
    assert any("encrypted" in note for note in result.notes)


def test_a_zip_bomb_member_is_not_inflated() -> None:
    bomb = pkl(op("BINBYTES", b"\0" * (4 * 1024 * 1024)), proto=3)  # 4 MiB of zeros deflate to ~4 KiB
    data = torch_zip(bomb, compression=zipfile.ZIP_DEFLATED)
    assert len(data) < 64 * 1024
    result = scan_bytes(data, limits=ScanLimits(max_pickle_bytes=1024 * 1024))
    assert result.verdict is Verdict.SUSPICIOUS
    assert any("over the" in note for note in result.notes)


def test_a_zip_without_pickles_or_with_twin_members_is_suspicious() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", b"hello")
    result = scan_bytes(out.getvalue())
    assert result.verdict is Verdict.SUSPICIOUS and any("without any .pkl" in note for note in result.notes)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("archive/data.pkl", pkl(state_dict("w")))
        archive.writestr("archive/data.pkl", pkl(state_dict("w")))
    result = scan_bytes(out.getvalue())
    assert result.verdict is Verdict.SUSPICIOUS and any("same name" in note for note in result.notes)


@pytest.mark.parametrize(("data", "words"), [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "PNG"),
    (struct.pack("<Q", 20) + b'{"__metadata__":{}}' + b"\0" * 8, "safetensors"),
    (b'{"model": "not a pickle"}', "JSON"),
    (b"\x00\x01\x02\x03", "no pickle opcode"),
    (b"GGUF\x03\x00\x00\x00", "GGUF"),
    (b"cos\nsystem", "not a valid pickle"),  # starts like a protocol 0 pickle, then nothing
])
def test_a_file_that_is_not_a_pickle_is_refused_with_a_reason(data: bytes, words: str) -> None:
    result = scan_bytes(data)
    assert result.verdict is not Verdict.SAFE
    assert result.notes and any(words in note for note in result.notes), result.notes
