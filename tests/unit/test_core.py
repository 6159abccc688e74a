"""Tests of the core-file target on real cores made during the test, and on synthetic ones.

Real cores: `gcore` of a running CPython 3.11 and two kernel cores (SIGABRT from
os.abort() and SIGSEGV from reading address 1).  The target process reports,
as one JSON line, the facts to check the core against: its threads, the
address and content of a bytes object, the machine code at a libpython
function (.text is never in a core: the reader must serve it from the file),
and read-only file mappings.  Synthetic cores, written field by field, cover
what real cores cannot be made to show on demand: sparse multi-GB segments,
partially present segments, truncation and hostile headers.
"""
from __future__ import annotations

import gzip
import json
import lzma
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from timing import assert_quick
from pystack.binaries.elf import ElfFile  # noqa: E402
from pystack.errors import (  # noqa: E402
    CoreExecutableNotFound,
    EngineError,
    InvalidExecutable,
    MemoryReadError,
    MissingExecutableMaps,
    PystackError,
)
from pystack.target import corenotes, decompress  # noqa: E402
from pystack.target.core import CoreFile  # noqa: E402

TARGET_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux only")

# --------------------------------------------------------------------------- target

TARGET_SOURCE = r'''
import ctypes, json, mmap, os, sys, threading

mode, ro_path, gone_path = sys.argv[1:4]
data = b"pystack-core-test:" + os.urandom(6).hex().encode()

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]

def map_readonly(path):
    """A private read-only file mapping: never written, so cores leave it out."""
    fd = os.open(path, os.O_RDONLY)
    addr = libc.mmap(None, os.path.getsize(path), mmap.PROT_READ, mmap.MAP_PRIVATE, fd, 0)
    os.close(fd)
    return addr

ro_addr = map_readonly(ro_path)
gone_addr = map_readonly(gone_path)
os.unlink(gone_path)  # the core will name it "... (deleted)"

started = threading.Event()
worker = {}
def run():
    worker["tid"] = threading.get_native_id()
    worker["ident"] = threading.get_ident()
    started.set()
    threading.Event().wait()
threading.Thread(target=run, daemon=True).start()
started.wait()

func = ctypes.cast(ctypes.pythonapi.PyList_Append, ctypes.c_void_p).value
with open("/proc/self/cmdline", "rb") as f:
    cmdline = [a.decode() for a in f.read().split(b"\0")[:-1]]
with open("/proc/self/comm") as f:
    comm = f.read().strip()
libpython = sorted({line.split()[-1] for line in open("/proc/self/maps")
                    if "libpython" in line})
print(json.dumps({
    "pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid(), "gid": os.getgid(),
    "tids": sorted(int(t) for t in os.listdir("/proc/self/task")),
    "main_ident": threading.get_ident(), "worker": worker,
    "bytes_addr": id(data) + sys.getsizeof(b"") - 1, "bytes_hex": data.hex(),
    "ro_addr": ro_addr, "ro_text": open(ro_path).read(), "gone_addr": gone_addr,
    "func_addr": func, "func_hex": ctypes.string_at(func, 64).hex(),
    "comm": comm, "cmdline": cmdline, "executable": os.path.realpath(sys.executable),
    "libpython": libpython[0] if libpython else None,
}), flush=True)

if mode == "wait":
    sys.stdin.read()
elif mode == "abort":
    os.abort()
elif mode == "segv":
    ctypes.string_at(1)
'''

RO_TEXT = "read-only text mapped from a file, never written\n" * 4


class CoreCase:
    """One real core and what its process said about itself."""

    def __init__(self, kind: str, path: Path, info: dict[str, Any], script: Path) -> None:
        self.kind = kind
        self.path = path
        self.info = info
        self.script = script


def _require_target_python() -> None:
    if not os.path.exists(TARGET_PYTHON):
        pytest.skip(f"{TARGET_PYTHON} is not installed")


def _prepare(directory: Path, shebang: bool) -> tuple[Path, Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "target.py"
    head = f"#!{os.path.realpath(TARGET_PYTHON)}\n" if shebang else ""
    script.write_text(head + TARGET_SOURCE)
    script.chmod(0o755)
    ro = directory / "ro.txt"
    ro.write_text(RO_TEXT)
    gone = directory / "gone.bin"
    gone.write_bytes(b"G" * 8192)
    return script, ro, gone


def _make_gcore(directory: Path) -> CoreCase:
    _require_target_python()
    if shutil.which("gcore") is None:
        pytest.skip("gcore (gdb) is not installed")
    script, ro, gone = _prepare(directory, shebang=False)
    proc = subprocess.Popen(
        [TARGET_PYTHON, str(script), "wait", str(ro), str(gone)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"target died: {proc.stderr.read().decode()}")
        info = json.loads(line)
        prefix = directory / "gcore"
        res = subprocess.run(["gcore", "-o", str(prefix), str(proc.pid)],
                             capture_output=True, text=True, timeout=120)
        core = Path(f"{prefix}.{proc.pid}")
        if res.returncode != 0 or not core.exists():
            pytest.skip(f"gcore failed: {res.stderr.strip()[-300:]}")
    finally:
        proc.kill()
        proc.wait()
    return CoreCase("gcore", core, info, script)


def _core_pattern() -> str:
    try:
        with open("/proc/sys/kernel/core_pattern") as f:
            return f.read().strip()
    except OSError:
        return ""


def _make_kernel_core(directory: Path, mode: str) -> CoreCase:
    """A core written by the kernel into `directory` (needs a plain, relative core_pattern).

    The system-wide core_pattern is never changed: other work on this machine
    may depend on it.  If it pipes cores to a program or writes them elsewhere,
    the test is skipped with the pattern in the reason.
    """
    _require_target_python()
    pattern = _core_pattern()
    if not pattern or pattern.startswith("|") or "/" in pattern:
        pytest.skip(f"core_pattern is {pattern!r}: kernel cores would not land in the test directory")
    script, ro, gone = _prepare(directory, shebang=(mode == "abort"))
    # SIGABRT runs the script through its shebang (so AT_EXECFN names the
    # script, not the interpreter); SIGSEGV runs the interpreter directly.
    argv = [str(script)] if mode == "abort" else [TARGET_PYTHON, str(script)]
    wrapper = 'ulimit -S -c unlimited 2>/dev/null || exit 99; exec "$@"'
    res = subprocess.run(["bash", "-c", wrapper, "bash", *argv, mode, str(ro), str(gone)],
                         cwd=directory, capture_output=True, timeout=120)
    if res.returncode == 99:
        pytest.skip("cannot raise RLIMIT_CORE (ulimit -c unlimited refused)")
    lines = res.stdout.splitlines()
    if not lines:
        pytest.fail(f"target printed nothing: {res.stderr.decode()[-500:]}")
    info = json.loads(lines[0])
    cores = [p for p in directory.iterdir() if p.name.startswith(pattern.split("%")[0] or "core")
             and p.is_file() and p.suffix not in (".py", ".txt", ".bin")]
    if not cores:
        pytest.skip(f"no kernel core appeared (core_pattern {pattern!r}, exit {res.returncode})")
    return CoreCase(mode, cores[0], info, script)


@pytest.fixture(scope="module")
def gcore_case(tmp_path_factory) -> CoreCase:
    return _make_gcore(tmp_path_factory.mktemp("gcore"))


@pytest.fixture(scope="module")
def abort_case(tmp_path_factory) -> CoreCase:
    return _make_kernel_core(tmp_path_factory.mktemp("abort"), "abort")


@pytest.fixture(scope="module")
def segv_case(tmp_path_factory) -> CoreCase:
    return _make_kernel_core(tmp_path_factory.mktemp("segv"), "segv")


@pytest.fixture(params=["gcore", "abort"])
def real_case(request) -> CoreCase:
    return request.getfixturevalue(f"{request.param}_case")


# --------------------------------------------------------------------------- real cores


def test_threads_match_the_target(real_case):
    info = real_case.info
    with CoreFile(real_case.path) as core:
        assert sorted(core.thread_ids()) == info["tids"]
        assert core.pid == info["pid"]
        # The main thread (the one that crashed, for kernel cores) comes first.
        assert core.thread_ids()[0] == info["pid"]
        assert core.thread_name(info["pid"]) is None


def test_registers_and_thread_pointers(real_case):
    info = real_case.info
    with CoreFile(real_case.path) as core:
        pointers = core.thread_pointers()
        assert pointers[info["pid"]] == info["main_ident"]
        assert pointers[info["worker"]["tid"]] == info["worker"]["ident"]
        regs = core.registers(info["pid"])
        assert {"rip", "rsp", "rbp", "fs_base"} <= set(regs)
        core.read(regs["rsp"], 64)  # the stack is in every core
        with pytest.raises(EngineError):
            core.registers(1)


def test_bytes_object_read_at_its_id(real_case):
    info = real_case.info
    with CoreFile(real_case.path) as core:
        want = bytes.fromhex(info["bytes_hex"])
        assert core.read(info["bytes_addr"], len(want)) == want
        assert core.read_from_core(info["bytes_addr"], len(want)) == want


def test_libpython_text_is_served_from_the_file(real_case):
    info = real_case.info
    want = bytes.fromhex(info["func_hex"])
    with CoreFile(real_case.path) as core:
        with pytest.raises(MemoryReadError):
            core.read_from_core(info["func_addr"], len(want))  # .text is not in the core
        assert core.read(info["func_addr"], len(want)) == want
        text = [m for m in core.mappings() if m.contains(info["func_addr"])]
        assert len(text) == 1 and text[0].path == info["libpython"] and "x" in text[0].perms


def test_readonly_file_mapping_is_served_from_the_file(real_case):
    info = real_case.info
    with CoreFile(real_case.path) as core:
        assert core.read(info["ro_addr"], len(RO_TEXT)).decode() == RO_TEXT
        if real_case.kind != "gcore":  # the kernel leaves unwritten file memory out
            with pytest.raises(MemoryReadError):
                core.read_from_core(info["ro_addr"], 16)


def test_deleted_file_is_missing_and_unreadable(abort_case):
    info = abort_case.info
    with CoreFile(abort_case.path) as core:
        missing = core.missing_files()
        assert any(p.endswith("gone.bin (deleted)") for p in missing), missing
        with pytest.raises(MemoryReadError, match="not found"):
            core.read(info["gone_addr"], 16)


def test_psinfo(real_case):
    info = real_case.info
    with CoreFile(real_case.path) as core:
        ps = core.psinfo
        assert ps is not None
        assert (ps.pid, ps.ppid, ps.uid, ps.gid) == (info["pid"], info["ppid"], info["uid"], info["gid"])
        assert ps.fname == info["comm"]
        if real_case.kind == "gcore":
            assert ps.psargs.startswith(info["cmdline"][0])
        else:
            assert ps.psargs == " ".join(info["cmdline"])[:79].rstrip(" ")


def test_abort_siginfo(abort_case):
    info = abort_case.info
    with CoreFile(abort_case.path) as core:
        sig = core.siginfo
        assert sig is not None
        assert sig.signo == 6 and sig.code == corenotes.SI_TKILL
        assert sig.sender_pid == info["pid"] and sig.sender_uid == info["uid"]
        assert sig.fault_address is None
        assert core.prstatus[0].cursig == 6


def test_segv_siginfo(segv_case):
    with CoreFile(segv_case.path) as core:
        sig = core.siginfo
        assert sig is not None
        assert sig.signo == 11 and sig.code == 1  # SEGV_MAPERR
        assert sig.fault_address == 1
        assert sig.sender_pid is None


def test_failure_info_for_scripts(abort_case, segv_case):
    """CoreFileAnalyzer.extract_failure_info: every key, 0 where the signal carries
    no such fact (Bloomberg's dictionary), never None."""
    from pystack.engine import CoreFileAnalyzer
    with CoreFileAnalyzer(segv_case.path) as analyzer:
        assert analyzer.extract_failure_info() == {
            "si_signo": 11, "si_errno": 0, "si_code": 1, "sender_pid": 0, "sender_uid": 0,
            "failed_addr": 1}
    with CoreFileAnalyzer(abort_case.path) as analyzer:
        info = analyzer.extract_failure_info()
    assert info == {"si_signo": 6, "si_errno": 0, "si_code": corenotes.SI_TKILL,
                    "sender_pid": abort_case.info["pid"],
                    "sender_uid": abort_case.info["uid"], "failed_addr": 0}


def test_gcore_siginfo_per_thread(gcore_case):
    with CoreFile(gcore_case.path) as core:
        assert core.siginfo is not None
        assert set(core.thread_siginfo) <= set(core.thread_ids())


def test_executable_of_a_plain_run(segv_case):
    info = segv_case.info
    with CoreFile(segv_case.path) as core:
        assert core.exe == TARGET_PYTHON  # AT_EXECFN, as exec'ed
        assert os.path.realpath(core.executable) == info["executable"]
        assert core.exe_mapping_path == info["executable"]


def test_executable_of_a_shebang_script(abort_case):
    """AT_EXECFN names the script; the executable is the interpreter that was mapped."""
    info = abort_case.info
    with CoreFile(abort_case.path) as core:
        assert core.exe == str(abort_case.script)
        assert core.executable == info["executable"]
        assert core.exe_mapping_path == info["executable"]


def test_given_executable_is_checked(abort_case, tmp_path):
    info = abort_case.info
    with CoreFile(abort_case.path, info["executable"]) as core:
        assert core.executable == info["executable"]
    other_elf = os.path.realpath(shutil.which("ls") or "/bin/ls")
    with pytest.raises(InvalidExecutable, match="build id"):
        CoreFile(abort_case.path, other_elf)
    with pytest.raises(InvalidExecutable, match="not an ELF"):
        CoreFile(abort_case.path, str(abort_case.script))
    with pytest.raises(CoreExecutableNotFound):
        CoreFile(abort_case.path, str(tmp_path / "nope"))


def test_build_ids_match_and_mismatch(abort_case, tmp_path):
    info = abort_case.info
    with CoreFile(abort_case.path) as core:
        ids = {path: (c, d) for path, c, d in core.build_ids()}
        core_id, disk_id = ids[info["libpython"]]
        assert core_id and core_id == disk_id
        assert core.build_id_mismatches() == []
    # A root where libpython is some other ELF file.
    root = tmp_path / "root"
    fake = root / info["libpython"].lstrip("/")
    fake.parent.mkdir(parents=True)
    fake.symlink_to(os.path.realpath(shutil.which("ls") or "/bin/ls"))
    with CoreFile(abort_case.path, lib_search_root=str(root)) as core:
        mismatches = core.build_id_mismatches()
        assert [m[0] for m in mismatches] == [info["libpython"]]
        assert mismatches[0][1] == core_id and mismatches[0][2] != core_id


def _symlink_tree(root: Path, paths: list[str]) -> None:
    for path in paths:
        if not os.path.isfile(path):
            continue
        link = root / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(path)


def test_lib_search_root(gcore_case, tmp_path):
    info = gcore_case.info
    root = tmp_path / "sysroot"
    with CoreFile(gcore_case.path) as plain:
        _symlink_tree(root, [m.path for m in plain.file_mappings])
    with CoreFile(gcore_case.path, lib_search_root=str(root)) as core:
        assert core.root == str(root)
        lib = info["libpython"]
        assert core.mapped_file_path(lib) == str(root / lib.lstrip("/"))
        assert core.host_path("/app/main.py") == str(root / "app/main.py")
        want = bytes.fromhex(info["func_hex"])
        assert core.read(info["func_addr"], len(want)) == want
        # AT_EXECFN (bin/python) is not in the root, the mapped bin/python3.11 is: the
        # root's file wins over the host's file of the AT_EXECFN name.
        assert core.executable == str(root / info["executable"].lstrip("/"))
        assert core.mapped_file_path("/nowhere/libnothing.so") is None


def test_lib_search_path(gcore_case, tmp_path):
    info = gcore_case.info
    libdir = tmp_path / "libs"
    libdir.mkdir()
    lib = info["libpython"]
    (libdir / os.path.basename(lib)).symlink_to(lib)
    with CoreFile(gcore_case.path, lib_search_path=[str(tmp_path / "empty"), str(libdir)]) as core:
        assert core.mapped_file_path(lib) == str(libdir / os.path.basename(lib))
        want = bytes.fromhex(info["func_hex"])
        assert core.read(info["func_addr"], len(want)) == want
        # Files not in the search path are still found where the core says they were.
        assert core.mapped_file_path(info["executable"]) == info["executable"]


def test_mappings_cover_file_and_anonymous_memory(real_case):
    info = real_case.info
    with CoreFile(real_case.path) as core:
        maps = core.mappings()
        assert maps == sorted(maps, key=lambda m: (m.start, m.end))
        files = [m for m in maps if m.path]
        anon = [m for m in maps if m.path is None]
        assert files and anon
        assert {m.path for m in files} == {fm.path for fm in core.file_mappings}
        heap = [m for m in maps if m.contains(info["bytes_addr"])]
        assert len(heap) == 1 and heap[0].perms.startswith("rw")
        for m in files:
            assert len(m.perms) == 4 and m.perms.endswith("p")
        for a, b in zip(anon, anon[1:]):
            assert a.end <= b.start


# --------------------------------------------------------------------------- compressed


def _compress(src: Path, dst: Path, opener) -> None:
    with open(src, "rb") as fin, opener(dst) as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


def _check_same_reads(path: Path, case: CoreCase) -> None:
    info = case.info
    with CoreFile(path) as core:
        assert sorted(core.thread_ids()) == info["tids"]
        want = bytes.fromhex(info["bytes_hex"])
        assert core.read(info["bytes_addr"], len(want)) == want
        func = bytes.fromhex(info["func_hex"])
        assert core.read(info["func_addr"], len(func)) == func
        assert core.compression is not None and not core.truncated


@pytest.mark.parametrize("fmt", ["gzip", "xz"])
def test_compressed_cores_read_the_same(abort_case, tmp_path, monkeypatch, fmt):
    openers = {
        "gzip": lambda p: gzip.open(p, "wb", compresslevel=1),
        "xz": lambda p: lzma.open(p, "wb", preset=0),
    }
    packed = tmp_path / "core.packed"  # the name says nothing: detection is by magic
    _compress(abort_case.path, packed, openers[fmt])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    core = CoreFile(packed)
    try:
        assert core.compression == fmt
        assert os.path.dirname(core.core_path) == str(scratch)
        assert os.path.exists(core.core_path)
    finally:
        core.close()
    assert list(scratch.iterdir()) == []  # the temporary copy is gone
    _check_same_reads(packed, abort_case)


def _optional(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        return None


@pytest.mark.parametrize("fmt,module,magic", [
    ("zstd", "zstandard", b"\x28\xb5\x2f\xfd"),
    ("lz4", "lz4.frame", b"\x04\x22\x4d\x18"),
])
def test_zstd_and_lz4(abort_case, tmp_path, fmt, module, magic):
    packed = tmp_path / f"core.{fmt}"
    mod = _optional(module)
    if mod is None:
        packed.write_bytes(magic + b"\0" * 64)
        package = module.split(".")[0]
        with pytest.raises(EngineError, match=f"pip install {package}"):
            CoreFile(packed)
        return
    if fmt == "zstd":
        _compress(abort_case.path, packed, lambda p: mod.ZstdCompressor(level=1).stream_writer(open(p, "wb")))
    else:
        _compress(abort_case.path, packed, lambda p: mod.open(p, "wb"))
    _check_same_reads(packed, abort_case)


def test_corrupt_and_truncated_compressed_cores(abort_case, tmp_path):
    packed = tmp_path / "core.gz"
    _compress(abort_case.path, packed, lambda p: gzip.open(p, "wb", compresslevel=1))
    blob = packed.read_bytes()
    corrupt = tmp_path / "corrupt"
    corrupt.write_bytes(blob[:10] + b"\xff" * 200 + blob[210:])
    with pytest.raises(decompress.CompressedCoreError):
        CoreFile(corrupt)
    cut = tmp_path / "cut"
    cut.write_bytes(blob[: len(blob) // 2])
    with CoreFile(cut) as core:
        assert core.truncated and core.warnings
        assert sorted(core.thread_ids()) == abort_case.info["tids"]  # kernel notes come first


def test_decompress_keeps_zero_runs_sparse(tmp_path):
    raw = tmp_path / "raw"
    with open(raw, "wb") as f:
        f.write(b"head")
        f.seek(64 << 20)
        f.write(b"tail")
    packed = tmp_path / "raw.gz"
    _compress(raw, packed, lambda p: gzip.open(p, "wb", compresslevel=1))
    result = decompress.decompress_to_tempfile(str(packed), "gzip", directory=str(tmp_path))
    try:
        assert result.size == os.path.getsize(raw) and not result.truncated
        with open(result.path, "rb") as f:
            assert f.read(4) == b"head"
            f.seek(64 << 20)
            assert f.read() == b"tail"
        assert os.stat(result.path).st_blocks * 512 < (8 << 20)
    finally:
        os.unlink(result.path)


# --------------------------------------------------------------------------- truncated / not a core


def test_truncated_copy_still_reads_early_memory(abort_case, tmp_path):
    full = CoreFile(abort_case.path)
    try:
        segments = [s for s in full._segments if s.present]
        cut_at = segments[len(segments) // 2].offset + 100
        cut = tmp_path / "cut.core"
        with open(abort_case.path, "rb") as fin, open(cut, "wb") as fout:
            fout.write(fin.read(cut_at))
        with CoreFile(cut) as core:
            assert core.truncated and any("truncated" in w for w in core.warnings)
            assert core.thread_ids() == full.thread_ids()
            early = segments[0]
            assert core.read(early.start, 256) == full.read(early.start, 256)
            late = segments[-1]
            if not any(fm.contains(late.start) for fm in full.file_mappings):
                with pytest.raises(MemoryReadError):
                    core.read(late.start, 16)
    finally:
        full.close()


def test_not_a_core(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    with pytest.raises(EngineError, match="is not a core file"):
        CoreFile(text)
    with pytest.raises(EngineError, match="is not a core file"):
        CoreFile(os.path.realpath(sys.executable))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(EngineError, match="is not a core file"):
        CoreFile(empty)
    with pytest.raises(EngineError, match="no such file"):
        CoreFile(tmp_path / "missing")
    with pytest.raises(EngineError, match="not a regular file"):
        CoreFile(tmp_path)


def test_error_messages_are_one_line(tmp_path):
    text = tmp_path / "x"
    text.write_text("x")
    for path in (text, tmp_path / "missing"):
        with pytest.raises(EngineError) as exc:
            CoreFile(path)
        assert "\n" not in str(exc.value)


# --------------------------------------------------------------------------- synthetic cores

PAGE = 4096
PF_R, PF_W, PF_X = 4, 2, 1


def _note(owner: bytes, ntype: int, desc: bytes) -> bytes:
    name = owner + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def _prstatus(tid: int, fs_base: int = 0x7F0000001000) -> bytes:
    head = struct.pack("<iiih2xQQiiii", 0, 0, 0, 0, 0, 0, tid, 1, tid, tid) + b"\0" * 64
    regs = [0] * 27
    regs[16] = 0x401000  # rip
    regs[19] = 0x7FFF0000  # rsp
    regs[21] = fs_base
    return head + struct.pack("<27Q", *regs) + b"\0" * 8


def _prpsinfo(pid: int, fname: bytes = b"synthetic") -> bytes:
    return (struct.pack("<cBBb4xQIIiiii", b"\0", ord("R"), 0, 0, 0, 0, 0, pid, 1, pid, pid)
            + fname.ljust(16, b"\0") + b"synthetic --test".ljust(80, b"\0"))


def _file_note(entries: list[tuple[int, int, int, str]]) -> bytes:
    out = struct.pack("<QQ", len(entries), PAGE)
    for start, end, offset, _ in entries:
        out += struct.pack("<QQQ", start, end, offset // PAGE)
    return out + b"".join(p.encode() + b"\0" for *_, p in entries)


def _auxv(pairs: dict[int, int]) -> bytes:
    return b"".join(struct.pack("<QQ", k, v) for k, v in pairs.items()) + struct.pack("<QQ", 0, 0)


def build_core(path: Path, loads: list[tuple[int, int, int, int, bytes]],
               notes: list[tuple[bytes, int, bytes]], *, cut: Optional[int] = None) -> list[int]:
    """Write an ELF core: loads are (vaddr, memsz, filesz, flags, content); returns data offsets.

    Segment data is laid out page-aligned after the notes; the file is
    extended with truncate(), so large segments are holes, not written zeros.
    """
    phnum = 1 + len(loads)
    blob = b"".join(_note(*n) for n in notes)
    note_off = 64 + 56 * phnum
    cur = -(-(note_off + len(blob)) // PAGE) * PAGE
    phdrs = [struct.pack("<IIQQQQQQ", 4, 0, note_off, 0, 0, len(blob), 0, 4)]
    offsets = []
    for vaddr, memsz, filesz, flags, _ in loads:
        phdrs.append(struct.pack("<IIQQQQQQ", 1, flags, cur, vaddr, 0, filesz, memsz, PAGE))
        offsets.append(cur)
        cur += -(-filesz // PAGE) * PAGE
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", ident, 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 64, 0, 0)
    with open(path, "wb") as f:
        f.write(ehdr + b"".join(phdrs) + blob)
        for off, (_, _, _, _, content) in zip(offsets, loads):
            if content:
                f.seek(off)
                f.write(content)
        f.truncate(cur if cut is None else cut)
    return offsets


@pytest.fixture
def backing_file(tmp_path) -> Path:
    """A 4-page file whose every byte says which page and offset it is."""
    path = tmp_path / "libbacking.so"
    path.write_bytes(b"".join(bytes([0xA0 + p]) * PAGE for p in range(4)))
    return path


def _standard_notes(backing: Path, execfn: int = 0) -> list[tuple[bytes, int, bytes]]:
    entries = [
        (0x10000, 0x14000, 0, str(backing)),        # whole file, absent from the core
        (0x20000, 0x23000, PAGE, str(backing)),     # pages 1-3: first page in the core only
    ]
    aux = {corenotes.AT_PAGESZ: PAGE}
    if execfn:
        aux[corenotes.AT_EXECFN] = execfn
    return [
        (b"CORE", corenotes.NT_PRSTATUS, _prstatus(500)),
        (b"CORE", corenotes.NT_PRPSINFO, _prpsinfo(500)),
        (b"CORE", corenotes.NT_AUXV, _auxv(aux)),
        (b"CORE", corenotes.NT_FILE, _file_note(entries)),
        (b"CORE", corenotes.NT_PRSTATUS, _prstatus(501, 0x7F0000002000)),
    ]


def _synthetic(tmp_path: Path, backing: Path, **kw) -> Path:
    core = tmp_path / "synthetic.core"
    execfn = 0x30000 + 100
    loads = [
        (0x10000, 0x4000, 0, PF_R | PF_X, b""),                       # filesz 0: all from the file
        (0x20000, 0x3000, PAGE, PF_R, b"\xEE" * PAGE),               # partially present
        (0x30000, 0x2000, 0x2000, PF_R | PF_W, b"\x11" * 100 + b"/opt/app/bin/prog\0"),
        (0x32000, 0x1000, 0x1000, PF_R | PF_W, b"\x22" * PAGE),       # adjacent to the one before
        (0x40000, 0x3000, 0x1000, PF_R | PF_W, b"\x33" * PAGE),       # anonymous, partly absent
    ]
    build_core(core, loads, _standard_notes(backing, execfn), **kw)
    return core


def test_synthetic_threads_and_notes(tmp_path, backing_file):
    with CoreFile(_synthetic(tmp_path, backing_file)) as core:
        assert core.thread_ids() == [500, 501]
        assert core.pid == 500 and core.psinfo.fname == "synthetic"
        assert core.thread_pointers() == {500: 0x7F0000001000, 501: 0x7F0000002000}
        assert core.registers(501)["rip"] == 0x401000
        assert core.exe == "/opt/app/bin/prog"  # AT_EXECFN read from core memory
        assert core.file_mappings[1].offset == PAGE
        assert core.siginfo is None and not core.truncated and core.warnings == []


def test_synthetic_reads(tmp_path, backing_file):
    with CoreFile(_synthetic(tmp_path, backing_file)) as core:
        # filesz 0: every byte from the file at offset + (addr - start)
        assert core.read(0x10000, 4) == b"\xA0" * 4
        assert core.read(0x12FFE, 4) == b"\xA2\xA2\xA3\xA3"
        # partially present: the core's first page, then the file (offset PAGE + ...)
        assert core.read(0x20FFE, 4) == b"\xEE\xEE\xA2\xA2"
        assert core.read(0x22000, 2) == b"\xA3\xA3"
        # spanning two adjacent segments of the core
        assert core.read(0x31FFF, 2) == b"\x00\x22"
        # anonymous memory beyond p_filesz is not anywhere
        assert core.read(0x40FFC, 4) == b"\x33" * 4
        with pytest.raises(MemoryReadError):
            core.read(0x40FFC, 8)
        with pytest.raises(MemoryReadError):
            core.read(0x50000, 1)
        with pytest.raises(MemoryReadError):
            core.read_from_core(0x10000, 1)
        assert core.read(0x10000, 0) == b""
        with pytest.raises(MemoryReadError):
            core.read((1 << 64) - 4, 8)
        assert core.read_many([(0x10000, 2), (0x50000, 1)]) == [b"\xA0\xA0", None]


def test_synthetic_file_past_its_end_reads_zero_to_the_page(tmp_path):
    short = tmp_path / "short.bin"
    short.write_bytes(b"S" * 100)
    core = tmp_path / "c"
    build_core(core, [], [
        (b"CORE", corenotes.NT_PRSTATUS, _prstatus(1)),
        (b"CORE", corenotes.NT_FILE, _file_note([(0x10000, 0x12000, 0, str(short))])),
    ])
    with CoreFile(core) as c:
        assert c.read(0x10000 + 98, 4) == b"SS\0\0"
        with pytest.raises(MemoryReadError, match="past the end"):
            c.read(0x11000, 1)


def test_synthetic_mappings(tmp_path, backing_file):
    with CoreFile(_synthetic(tmp_path, backing_file)) as core:
        got = [(m.start, m.end, m.offset, m.perms, m.path) for m in core.mappings()]
    b = str(backing_file)
    assert got == [
        (0x10000, 0x14000, 0, "r-xp", b),
        (0x20000, 0x23000, PAGE, "r--p", b),
        (0x30000, 0x32000, 0, "rw-p", None),
        (0x32000, 0x33000, 0, "rw-p", None),
        (0x40000, 0x43000, 0, "rw-p", None),
    ]


def test_synthetic_missing_file_and_search(tmp_path, backing_file):
    core_path = _synthetic(tmp_path, backing_file)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    backing_file.rename(moved / backing_file.name)
    with CoreFile(core_path) as core:
        assert core.missing_files() == [str(backing_file)]
        with pytest.raises(MemoryReadError, match="not found"):
            core.read(0x10000, 1)
        assert core.read(0x20000, 1) == b"\xEE"  # what the core has is still there
    with CoreFile(core_path, lib_search_path=[str(moved)]) as core:
        assert core.missing_files() == []
        assert core.read(0x10000, 1) == b"\xA0"


def test_synthetic_no_executable(tmp_path):
    core = tmp_path / "c"
    build_core(core, [(0x1000, 0x1000, 0x1000, PF_R, b"x")], [])
    with CoreFile(core) as c:
        assert c.thread_ids() == []
        with pytest.raises(MissingExecutableMaps):
            c.exe
        with pytest.raises(MissingExecutableMaps):
            c.executable


def test_synthetic_given_executable_when_the_core_names_none(tmp_path):
    core = tmp_path / "c"
    build_core(core, [(0x1000, 0x1000, 0x1000, PF_R, b"x")], [])
    exe = os.path.realpath(sys.executable)
    with CoreFile(core, exe) as c:
        assert c.exe == exe and c.executable == exe


def test_paths_stay_beneath_the_root(tmp_path, backing_file):
    root = tmp_path / "root"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "x.so").write_bytes(b"x")
    with CoreFile(_synthetic(tmp_path, backing_file), lib_search_root=str(root)) as core:
        assert core.host_path("/../../etc/passwd") == str(root / "etc/passwd")
        assert core.host_path("relative/file.py") == "relative/file.py"
        assert core.mapped_file_path("/../lib/../lib/x.so") == str(root / "lib/x.so")
        # Not beneath the root: found where the core says it was, as a last resort.
        assert core.mapped_file_path(str(backing_file)) == str(backing_file)


def test_synthetic_truncated(tmp_path, backing_file):
    core_path = tmp_path / "t.core"
    offsets = build_core(core_path, [
        (0x30000, 0x1000, 0x1000, PF_R | PF_W, b"\x44" * PAGE),
        (0x40000, 0x1000, 0x1000, PF_R | PF_W, b"\x55" * PAGE),
    ], _standard_notes(backing_file), cut=None)
    with open(core_path, "r+b") as f:
        f.truncate(offsets[1] + 10)
    with CoreFile(core_path) as core:
        assert core.truncated and len(core.warnings) == 1 and "truncated" in core.warnings[0]
        assert core.read(0x30000, 16) == b"\x44" * 16
        assert core.read(0x40000, 10) == b"\x55" * 10
        with pytest.raises(MemoryReadError, match="truncated"):
            core.read(0x40000, 11)


def test_synthetic_hostile_file_note_is_a_warning(tmp_path):
    core = tmp_path / "c"
    bad = struct.pack("<QQ", 1 << 62, PAGE) + b"\0" * 48
    build_core(core, [], [(b"CORE", corenotes.NT_PRSTATUS, _prstatus(9)),
                          (b"CORE", corenotes.NT_FILE, bad)])
    with CoreFile(core) as c:
        assert c.thread_ids() == [9] and c.file_mappings == []
        assert any("NT_FILE" in w for w in c.warnings)


def test_never_opens_non_regular_files(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    core = tmp_path / "c"
    build_core(core, [], [(b"CORE", corenotes.NT_FILE,
                           _file_note([(0x1000, 0x2000, 0, str(fifo)), (0x3000, 0x4000, 0, "/dev/zero")]))])
    with CoreFile(core) as c:  # opening the FIFO would block forever
        assert c.mapped_file_path(str(fifo)) is None
        with pytest.raises(MemoryReadError):
            c.read(0x1000, 1)
        with pytest.raises(MemoryReadError):
            c.read(0x3000, 1)
        assert c.missing_files() == [str(fifo)]  # /dev/ paths are never files to look for


def test_sparse_1gb_core_opens_fast(tmp_path):
    core = tmp_path / "sparse.core"
    size = 1 << 30
    base = 0x7F0000000000
    offsets = build_core(core, [(base, size, size, PF_R | PF_W, b"start")],
                         [(b"CORE", corenotes.NT_PRSTATUS, _prstatus(1)),
                          (b"CORE", corenotes.NT_PRPSINFO, _prpsinfo(1))])
    with open(core, "r+b") as f:
        f.seek(offsets[0] + size // 2)
        f.write(b"middle")
        f.seek(offsets[0] + size - 3)
        f.write(b"end")
    assert os.path.getsize(core) >= size
    best = float("inf")
    for _ in range(3):  # best of three: the machine may be busy with other work
        t0 = time.perf_counter()
        with CoreFile(core) as c:
            assert c.read(base, 5) == b"start"
            assert c.read(base + size // 2, 6) == b"middle"
            assert c.read(base + size - 3, 3) == b"end"
            assert c.read(base + 12345, 4096) == bytes(4096)
            assert c.thread_ids() == [1]
        best = min(best, time.perf_counter() - t0)
    assert_quick(best, 4, "opening a 1 GB sparse core")  # 50 ms idle


# --------------------------------------------------------------------------- hostile input

_FUZZ_BASE: dict[str, bytes] = {}


def _fuzz_base(tmp: Path) -> bytes:
    if "core" not in _FUZZ_BASE:
        backing = tmp / "libbacking.so"
        backing.write_bytes(b"B" * 4 * PAGE)
        path = _synthetic(tmp, backing)
        _FUZZ_BASE["core"] = path.read_bytes()
    return _FUZZ_BASE["core"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 4095), st.binary(min_size=1, max_size=8)), max_size=12),
       cut=st.one_of(st.none(), st.integers(0, 5000)))
def test_mutated_cores_only_raise_pystack_errors(tmp_path, edits, cut):
    """Random edits of the headers and notes: only our errors, no hangs, no huge allocations."""
    blob = bytearray(_fuzz_base(tmp_path))
    for pos, data in edits:
        blob[pos:pos + len(data)] = data
    if cut is not None:
        del blob[cut:]
    path = tmp_path / "fuzzed.core"
    path.write_bytes(bytes(blob))
    try:
        core = CoreFile(path)
    except PystackError:
        return
    with core:
        for call in (core.mappings, core.thread_ids, core.thread_pointers, core.missing_files,
                     core.build_ids, lambda: core.exe, lambda: core.executable):
            try:
                call()
            except PystackError:
                pass
        for address in (0x10000, 0x20FFE, 0x30000, 0x40000):
            try:
                core.read(address, 64)
            except PystackError:
                pass


def test_analyzer_ps_info_as_bloombergs(tmp_path):
    """sname is the kernel's byte, psargs keeps the space that replaced the last NUL;
    the header keeps reading them as text."""
    from pystack.engine import CoreFileAnalyzer
    from test_corenotes import prpsinfo_payload
    core = tmp_path / "c"
    build_core(core, [], [
        (b"CORE", corenotes.NT_PRSTATUS, _prstatus(77)),
        (b"CORE", corenotes.NT_PRPSINFO, prpsinfo_payload(sname=b"R")),
    ])
    with CoreFileAnalyzer(core) as analyzer:
        info = analyzer.extract_ps_info()
        assert (info["sname"], info["psargs"]) == (ord("R"), "python3 -c pass ")
        assert analyzer.core.psinfo.sname == "R" and analyzer.core.psinfo.psargs == "python3 -c pass"
