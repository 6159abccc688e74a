"""Interpreters without symbols: stripped binaries, hidden exports, forced scans.

Stripped copies are made in temporary folders (never in the repository):

* pyenv 3.9 with a shared libpython, both files `strip --strip-all`ed and the
  process pointed at the stripped library with LD_LIBRARY_PATH (the exported
  `_PyRuntime` survives in `.dynsym`), and the same with that export made
  unusable (see `hide`): only the scan of .data/.bss can find it;
* pyenv 2.7 stripped: `interp_head` is gone with `.symtab`, and the exported
  `_PyThreadState_Current` is NULL while every thread sleeps;
* Debian's static /usr/bin/python3.11, renamed `python` (no version in the name)
  with `_PyRuntime`, `Py_Version` and the `.PyRuntime` section hidden;
* sid's /usr/bin/python3.14 inside the chroot, with the exports hidden (found by
  the `.PyRuntime` section) and with the section hidden too (found by the
  `_Py_DebugOffsets` cookie).

Every case must give the frames the target reports, live and from cores, and `-v`
must say which method found the interpreter. The first half of the file tests the
scan's pieces against fake memory and the version detection on real binaries.
"""
from __future__ import annotations

import glob
import io
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from typing import Optional

import pytest

from timing import assert_quick
from conftest import INTERPRETERS, interpreter_params, run_pystack
from integration.targets_util import started
from integration.test_core import core_args, gcore, kernel_cores_possible
from integration.test_remote import assert_same_stacks, expected_threads
from pystack.binaries.elf import ElfFile
from pystack.cpython import locate as locate_mod
from pystack.cpython import scan
from pystack.cpython.layouts import layout_for
from pystack.cpython.memory import Memory
from pystack.errors import MemoryReadError
from pystack.target.base import Mapping, Target
from pystack.types import StackMethod


# ======================================================================================
# Unit tests: the scan against fake memory
# ======================================================================================

class FakeTarget(Target):
    """Memory made of a few byte arrays; everything else is unmapped."""

    def __init__(self) -> None:
        self.blocks: dict[int, bytearray] = {}
        self.perms: dict[int, str] = {}

    def add(self, start: int, size: int, perms: str = "rw-p") -> None:
        self.blocks[start] = bytearray(size)
        self.perms[start] = perms

    def put(self, address: int, value: int) -> None:
        block, off = self._find(address, 8)
        struct.pack_into("<Q", block, off, value)

    def put_bytes(self, address: int, data: bytes) -> None:
        block, off = self._find(address, len(data))
        block[off:off + len(data)] = data

    def _find(self, address: int, size: int) -> tuple[bytearray, int]:
        for start, block in self.blocks.items():
            if start <= address and address + size <= start + len(block):
                return block, address - start
        raise MemoryReadError(address, size, "unmapped")

    def read(self, address: int, size: int) -> bytes:
        block, off = self._find(address, size)
        return bytes(block[off:off + size])

    def read_many(self, ranges):
        out = []
        for address, size in ranges:
            try:
                out.append(FakeTarget.read(self, address, size))
            except MemoryReadError:
                out.append(None)
        return out

    def mappings(self) -> list[Mapping]:
        return [Mapping(s, s + len(b), 0, self.perms[s], None) for s, b in self.blocks.items()]


DATA = 0x600000  # the binary's .data/.bss
HEAP = 0x2000000
RODATA = 0x400000


class FakeProcess:
    """A 3.9-shaped interpreter with two thread states, plus decoys, in fake memory."""

    def __init__(self) -> None:
        self.layout = layout_for((3, 9))
        lay = self.layout
        t = self.target = FakeTarget()
        t.add(RODATA, 0x1000, "r--p")
        t.add(DATA, 0x2000)
        t.add(HEAP, 0x20000)
        t.put_bytes(RODATA + 0x10, b"dict\0")
        t.put_bytes(RODATA + 0x20, b"list\0")
        self.dict_type, self.list_type = HEAP + 0x100, HEAP + 0x200
        t.put(self.dict_type + lay.objects.tp_name, RODATA + 0x10)
        t.put(self.list_type + lay.objects.tp_name, RODATA + 0x20)
        self.interp = HEAP + 0x1000
        self.tstates = [HEAP + 0x4000, HEAP + 0x4400]
        self.make_interpreter(self.interp, self.tstates)
        self.runtime = DATA + 0x100
        t.put(self.runtime + lay.runtime.interpreters_head, self.interp)
        t.put(self.runtime + lay.runtime.interpreters_main, self.interp)

    def make_object(self, address: int, type_: int) -> int:
        self.target.put(address + self.layout.objects.ob_type, type_)
        return address

    def make_interpreter(self, interp: int, tstates: list[int], dict_type: Optional[int] = None,
                         base: int = 0x8000) -> None:
        lay, t = self.layout, self.target
        dict_type = dict_type or self.dict_type
        t.put(interp + lay.interpreter.threads_head, tstates[0] if tstates else 0)
        prev = 0
        for i, tstate in enumerate(tstates):
            t.put(tstate + lay.thread.interp, interp)
            t.put(tstate + lay.thread.prev, prev)
            t.put(tstate + lay.thread.next, tstates[i + 1] if i + 1 < len(tstates) else 0)
            prev = tstate
        for n, off in enumerate((lay.interpreter.modules, lay.interpreter.sysdict,
                                 lay.interpreter.builtins)):
            t.put(interp + off, self.make_object(HEAP + base + 0x40 * n, dict_type))

    def check(self) -> scan.InterpreterCheck:
        mem = Memory(self.target)
        regions = [scan.Region(DATA, mem.read(DATA, 0x2000), "data")]
        writable = scan.AddressSet((m.start, m.end) for m in self.target.mappings()
                                   if "w" in m.perms)
        return scan.InterpreterCheck(scan.Words(regions, mem), self.layout, writable)

    def data_regions(self) -> list[scan.Region]:
        return [scan.Region(DATA, self.target.read(DATA, 0x2000), "data")]


def test_check_accepts_a_valid_interpreter():
    fake = FakeProcess()
    check = fake.check()
    assert check.reason(fake.interp) is None
    assert check(fake.interp)


def test_check_rejects_what_is_not_an_interpreter():
    fake = FakeProcess()
    lay, t = fake.layout, fake.target
    # its thread states do not point back at it
    liar = HEAP + 0x6000
    t.put(liar + lay.interpreter.threads_head, fake.tstates[0])
    # a thread chain that loops on itself
    looping, loop_ts = HEAP + 0x9000, [HEAP + 0xC000, HEAP + 0xC400]
    fake.make_interpreter(looping, loop_ts, base=0xD000)
    t.put(loop_ts[1] + lay.thread.next, loop_ts[0])
    # everything right but `modules` and friends are lists
    listy, listy_ts = HEAP + 0xE000, [HEAP + 0x11000]
    fake.make_interpreter(listy, listy_ts, dict_type=fake.list_type, base=0x12000)
    # a broken prev link
    badprev, badprev_ts = HEAP + 0x13000, [HEAP + 0x16000, HEAP + 0x16400]
    fake.make_interpreter(badprev, badprev_ts, base=0x17000)
    t.put(badprev_ts[1] + lay.thread.prev, 0)
    check = fake.check()
    assert check.reason(liar) == f"thread state 0x{fake.tstates[0]:x} does not point back"
    assert check.reason(looping) == "cycle in the thread states"
    assert check.reason(listy) == "modules is not a dict"
    assert "wrong prev link" in check.reason(badprev)
    assert check.reason(HEAP + 0x18000) == "no thread state"  # zeros
    assert check.reason(fake.interp + 4) == "misaligned"
    assert check.reason(0x10) == "unreadable"


def test_scan_finds_the_interpreter_among_decoys():
    fake = FakeProcess()
    lay, t = fake.layout, fake.target
    listy, listy_ts = HEAP + 0xE000, [HEAP + 0x11000]
    fake.make_interpreter(listy, listy_ts, dict_type=fake.list_type, base=0x12000)
    # pointers everywhere: to the decoy, to thread states, to dicts, into read-only data
    for i, value in enumerate([listy, fake.tstates[0], fake.tstates[1], fake.dict_type,
                               HEAP + 0x8000, RODATA + 0x10, 12345, HEAP + 3]):
        t.put(DATA + 0x800 + 8 * i, value)
    check = fake.check()
    writable = check.pointers
    assert scan.scan_for_interpreters(fake.data_regions(), check, writable) == [fake.interp]
    # where the pointer sits, and that _PyRuntime is where head and main agree
    assert scan.pointer_locations(fake.data_regions(), fake.interp) == [
        fake.runtime + lay.runtime.interpreters_head, fake.runtime + lay.runtime.interpreters_main]


def test_scan_reads_the_heap_in_few_batches():
    """Hundreds of candidates on distinct pages cost a couple of batched reads."""
    fake = FakeProcess()
    for i in range(100):  # pointers to 100 different heap pages
        fake.target.put(DATA + 0x1000 + 8 * i, HEAP + 0x1000 * (i % 0x20) + 0x10 * i)
    check = fake.check()
    calls = []
    read, read_many = fake.target.read, fake.target.read_many
    fake.target.read = lambda a, n: calls.append("read") or read(a, n)
    fake.target.read_many = lambda ranges: calls.append("many") or read_many(ranges)
    assert scan.scan_for_interpreters(fake.data_regions(), check, check.pointers) == [
        fake.interp]
    assert 1 <= calls.count("many") <= 2 and calls.count("read") <= 8, calls


def test_chain_head_picks_the_newest_interpreter():
    fake = FakeProcess()
    lay, t = fake.layout, fake.target
    sub, sub_ts = HEAP + 0x9000, [HEAP + 0xC000]
    fake.make_interpreter(sub, sub_ts, base=0xD000)
    t.put(sub + lay.interpreter.next, fake.interp)  # sub was created last: it is the head
    check = fake.check()
    assert scan.chain_head([fake.interp, sub], check.words, lay.interpreter.next) == sub


def _locator_over(fake: FakeProcess) -> tuple:
    """A `_Locator` whose only binary's data is the fake .data region."""
    from types import SimpleNamespace

    loc = locate_mod._Locator(fake.target, Memory(fake.target), StackMethod.BSS)
    binary = SimpleNamespace(path="/fake/libpython3.9.so", address=lambda name: None)
    loc._data = {binary.path: fake.data_regions()}
    loc.scan_binaries = lambda: [binary]
    return loc, binary


def test_runtime_found_where_head_and_main_sit():
    fake = FakeProcess()
    loc, binary = _locator_over(fake)
    check = fake.check()
    found = loc._from_scan(binary, (3, 9, None), fake.layout, [fake.interp], check.words, "m")
    assert (found.runtime, found.interp_head) == (fake.runtime, fake.interp)


def test_runtime_gives_a_threadless_subinterpreter_as_head():
    """The newest interpreter has no thread (so no scan validates it): `_PyRuntime`'s
    interpreters.head still names it, found through interpreters.main."""
    fake = FakeProcess()
    lay = fake.layout
    sub = HEAP + 0x9000
    fake.make_interpreter(sub, [], base=0xD000)
    fake.target.put(sub + lay.interpreter.next, fake.interp)
    fake.target.put(fake.runtime + lay.runtime.interpreters_head, sub)
    check = fake.check()
    assert check.reason(sub) == "no thread state"
    assert scan.scan_for_interpreters(fake.data_regions(), check, check.pointers) == [fake.interp]
    loc, binary = _locator_over(fake)
    found = loc._from_scan(binary, (3, 9, None), lay, [fake.interp], check.words, "m")
    assert (found.runtime, found.interp_head) == (fake.runtime, sub)


def test_address_set():
    ranges = scan.AddressSet([(0x1000, 0x3000), (0x2000, 0x5000), (0x10000, 0x10010)])
    assert ranges.ranges == [(0x1000, 0x5000), (0x10000, 0x10010)]
    assert 0x1000 in ranges and 0x4FF8 in ranges and 0x5000 not in ranges
    assert sorted(ranges.select([0x0, 0x1000, 0x1004, 0x4FF8, 0x5000, 0x10008, 0x10010])) == [
        0x1000, 0x4FF8, 0x10008]


def test_find_cookies_only_aligned():
    data = b"\0" * 3 + scan.COOKIE + b"\0" * 5 + scan.COOKIE + b"\0" * 8
    assert scan.find_cookies([scan.Region(0x1000, data)]) == [0x1000 + 16]


def test_progress_bar_draws_only_when_asked_and_clears():
    quiet = io.StringIO()
    bar = scan.Progress("Scanning", 100 << 20, stream=quiet, delay=0)
    bar.advance(50 << 20)
    bar.close()
    assert quiet.getvalue() == ""  # a StringIO is no terminal
    out = io.StringIO()
    bar = scan.Progress("Scanning the heap", 100 << 20, stream=out, delay=0, force=True)
    bar.advance(50 << 20)
    bar.close()
    text = out.getvalue()
    assert "Scanning the heap" in text and " 50%" in text and "(50/100 MiB)" in text
    assert text.endswith("\r") and text.rsplit("\r", 2)[-2].strip() == ""


# -- versions ---------------------------------------------------------------------------

@pytest.mark.parametrize("data, expected", [
    # Debian 3.11: PY_VERSION on its own, next to the 3.2.0 Unicode database
    (b"\0alloc_debug\x003.11.2\x00str\0cpython-311\0ata_version\x003.2.0\x00ucd", (3, 11, 2)),
    # the linker merged "3.9.18" into the tail of the install prefix
    (b"\0/root/.pyenv/versions/3.9.18\0python3.9\0cpython-39\0", (3, 9, 18)),
    # pre-releases and the "+" of an unreleased build
    (b"\x003.15.0a3\0cpython-315\0", (3, 15, 0)),
    (b"\x003.12.4+\0cpython-312\0", (3, 12, 4)),
    # 2.7 has no cache tag but a "lib/python2.7" path
    (b"lib/python2.7\0\0/opt/py/2.7.18\0", (2, 7, 18)),
    # two different micro versions: only the minor is sure
    (b"\x003.10.1\0\x003.10.4\0cpython-310\0", (3, 10, None)),
    # a version string but no cache tag: it may be any library's
    (b"\x003.11.2\x00", None),
    # two cache tags: ambiguous
    (b"cpython-311\0cpython-312\0", None),
    (b"", None),
])
def test_version_from_rodata(data, expected):
    assert scan.version_from_rodata(data) == expected


def test_version_in_memory():
    buffer = b"\0" * 13 + b"3.9.18 (main, May  9 2026, 07:33:49) \n[GCC 12.2.0]\0" + b"\0" * 7
    assert scan.version_in_memory([scan.Region(0x1000, buffer)]) == (3, 9, 18)
    clang = b"xx\x003.14.0rc2 (main, Oct 1 2025, 10:00:00) [Clang 18.1]\0"
    assert scan.version_in_memory([scan.Region(0, clang)]) == (3, 14, 0)
    assert scan.version_in_memory([scan.Region(0, b"see 1.3.2 (foo) [x]\0 (")]) is None


@pytest.mark.parametrize("name, expected", [
    ("/usr/lib/libpython3.11.so.1.0", (3, 11, None)),
    ("/root/.pyenv/versions/3.6.15/lib/libpython3.6m.so.1.0", (3, 6, None)),
    ("/usr/bin/python3.14-pie", (3, 14, None)),
    ("/opt/python", None),
    ("/usr/bin/python3", None),
])
def test_version_from_name(name, expected):
    assert scan.version_from_name(name) == expected


def _python_file(interpreter: dict) -> str:
    """The file holding the interpreter: pyenv's libpython, or the static executable."""
    exe = interpreter["exe"]
    libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(exe)), "lib",
                                  "libpython*.so.1.0"))
    return libs[0] if "/.pyenv/" in exe and libs else exe


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_version_from_rodata_of_real_builds(interpreter):
    """Every provisioned build names its exact version in its static data."""
    path = _python_file(interpreter)
    binary = locate_mod.PythonBinary(path, ElfFile(path), 0)
    started_at = time.perf_counter()
    version = scan.version_from_rodata(binary.static_data())
    elapsed = time.perf_counter() - started_at
    assert version == tuple(int(x) for x in interpreter["version"].split("."))
    assert_quick(elapsed, 40, "reading the version from static data")  # 0.5 s idle


# ======================================================================================
# Forcing each method on every provisioned interpreter (the engine API, in-process)
# ======================================================================================

def _frames(threads) -> dict:
    return {t.tid: (t.name, [(f.code.filename, f.code.display_name, f.code.location.lineno)
                             for f in t.frames]) for t in threads}


def _expected(report: dict) -> dict:
    return {tid: (t["name"], [(f["file"], f["name"], f["line"]) for f in t["frames"]])
            for tid, t in expected_threads(report).items()}


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_each_method_alone_finds_the_same_interpreter(interpreter):
    """BSS (and DEBUG_OFFSETS for 3.13+, HEAP) alone give what the symbols give."""
    from pystack.engine import StackMethod, get_process_threads
    from pystack.target.live import LiveProcess

    modern = tuple(int(x) for x in interpreter["version"].split(".")[:2]) >= (3, 13)
    methods = [StackMethod.BSS, StackMethod.HEAP] + ([StackMethod.DEBUG_OFFSETS] if modern else [])
    with started(interpreter) as target:
        with LiveProcess(target.pid) as process:
            by_symbols = locate_mod.locate(process, Memory(process), StackMethod.SYMBOLS)
            for method in methods:
                found = locate_mod.locate(process, Memory(process), method)
                assert (found.interp_head, found.runtime, found.layout) == (
                    by_symbols.interp_head, by_symbols.runtime, by_symbols.layout), method
        for method in methods:
            threads = get_process_threads(target.pid, method=method)
            assert _frames(threads) == _expected(target.report), method


def test_data_scan_is_fast():
    """A few MB of .data/.bss are scanned well under a second (Debian's static 3.11)."""
    system = [i for i in INTERPRETERS if i["exe"] == "/usr/bin/python3.11"]
    if not system:
        pytest.skip("no system python3.11 provisioned")
    from pystack.target.live import LiveProcess

    with started(system[0]) as target, LiveProcess(target.pid) as process:
        started_at = time.perf_counter()
        found = locate_mod.locate(process, Memory(process), StackMethod.BSS)
        elapsed = time.perf_counter() - started_at
    assert found.method == "scan of .data/.bss"
    assert_quick(elapsed, 40, "the .data/.bss scan")  # 0.5 s idle


# ======================================================================================
# Stripped copies
# ======================================================================================

_SYM = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")
_R_X86_64_64, _R_X86_64_GLOB_DAT, _R_X86_64_RELATIVE = 1, 6, 8
_SHT_RELA = 4


def hide(path: str, symbols: tuple = (b"_PyRuntime", b"Py_Version"),
         section: bool = True) -> None:
    """Make the exported `symbols` and the `.PyRuntime` section unfindable in a copy.

    What a static build without -export-dynamic looks like: each symbol becomes
    undefined (st_shndx = 0, st_value = 0, so neither the dynamic linker nor we
    find it); the file's own GLOB_DAT/64 relocations against it become RELATIVE
    ones with the same result, so the copy still loads. Extension modules that
    import the symbol (_asyncio, _json, _ctypes on Debian) fail to import and
    their pure-Python fallbacks run instead. The section is renamed `.PyRuntimX`.
    """
    elf = ElfFile(path)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    sections = elf.sections
    dynsym = elf.section(".dynsym")
    dynstr = elf.section(".dynstr")
    hidden: dict[int, int] = {}
    for index in range(dynsym.size // _SYM.size):
        off = dynsym.offset + index * _SYM.size
        st_name, info, other, shndx, value, size = _SYM.unpack_from(data, off)
        start = dynstr.offset + st_name
        name = bytes(data[start:data.index(b"\0", start)])
        if name in symbols and shndx:
            hidden[index] = value
            _SYM.pack_into(data, off, st_name, info, other, 0, 0, 0)
    dynsym_index = sections.index(dynsym)
    for sec in sections:
        if sec.type != _SHT_RELA or sec.link != dynsym_index:
            continue
        for j in range(sec.size // _RELA.size):
            off = sec.offset + j * _RELA.size
            r_offset, r_info, addend = _RELA.unpack_from(data, off)
            sym, kind = r_info >> 32, r_info & 0xFFFFFFFF
            if sym not in hidden:
                continue
            assert kind in (_R_X86_64_GLOB_DAT, _R_X86_64_64), (path, kind)
            value = hidden[sym] + (addend if kind == _R_X86_64_64 else 0)
            _RELA.pack_into(data, off, r_offset, _R_X86_64_RELATIVE, value)
    if section and elf.section(".PyRuntime") is not None:
        shstrtab = [s for s in sections if s.name == ".shstrtab"][0]
        pos = data.find(b".PyRuntime\0", shstrtab.offset, shstrtab.offset + shstrtab.size)
        data[pos:pos + 11] = b".PyRuntimX\0"
    elf.close()
    with open(path, "wb") as f:
        f.write(data)
    check = ElfFile(path)
    assert all(check.symbol(s.decode()) is None for s in symbols)
    assert not section or check.section(".PyRuntime") is None
    check.close()


def strip_copy(source: str, destination: str) -> str:
    shutil.copy2(source, destination)
    subprocess.run(["strip", "--strip-all", destination], check=True)
    elf = ElfFile(destination)
    assert elf.section(".symtab") is None
    elf.close()
    return destination


def _pyenv_case(version: str, work: str, hidden: bool) -> tuple[dict, dict]:
    prefix = f"/root/.pyenv/versions/{version}"
    minor = version.rsplit(".", 1)[0]
    exe = os.path.join(prefix, "bin", f"python{minor}")
    libs = glob.glob(os.path.join(prefix, "lib", f"libpython{minor}*.so.1.0"))
    if not os.path.exists(exe) or not libs:
        pytest.skip(f"pyenv {version} with a shared libpython is not installed")
    os.makedirs(os.path.join(work, "bin"))
    os.makedirs(os.path.join(work, "lib"))
    copy = strip_copy(exe, os.path.join(work, "bin", f"python{minor}"))
    lib = strip_copy(libs[0], os.path.join(work, "lib", os.path.basename(libs[0])))
    if hidden:
        hide(lib)
    # RUNPATH still names pyenv's lib folder: LD_LIBRARY_PATH comes first
    env = {"LD_LIBRARY_PATH": os.path.dirname(lib), "PYTHONHOME": prefix}
    return {"name": f"stripped-{version}", "exe": copy, "root": "/", "argv": [copy],
            "version": version, "lib": lib}, env


def _static_case(source: str, work: str) -> tuple[dict, dict]:
    if not os.path.exists(source):
        pytest.skip(f"{source} is not installed")
    copy = strip_copy(source, os.path.join(work, "python"))  # no version in the name
    hide(copy)
    return {"name": "stripped-static", "exe": copy, "root": "/", "argv": [copy],
            "version": None}, {"PYTHONHOME": "/usr"}


def _sid_case(work_inside: str, root: str, section: bool) -> tuple[dict, dict]:
    source = os.path.join(root, "usr/bin/python3.14")
    if not os.path.exists(source):
        pytest.skip("sid's python3.14 is not provisioned")
    host = os.path.join(root, work_inside.lstrip("/"))
    copy = strip_copy(source, os.path.join(host, "python"))
    hide(copy, section=section)
    inside = os.path.join(work_inside, "python")
    return {"name": "stripped-sid-3.14", "exe": copy, "root": root,
            "argv": ["chroot", root, inside], "version": "3.14"}, {"PYTHONHOME": "/usr"}


SID_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), ".targets", "sid")

def _provisioned_version(name_or_exe: str, default: str) -> str:
    """The exact version of a provisioned interpreter, by manifest name or executable
    (the manifest follows Debian's updates: a hardcoded patch version would break when
    sid or the host moves on)."""
    for interpreter in INTERPRETERS:
        if name_or_exe in (interpreter["name"], interpreter["exe"]):
            return interpreter["version"]
    return default


#: case -> (what -v must name as the method, the version -v must print)
CASES = {
    "pyenv-3.9-stripped": ("symbol _PyRuntime", "3.9"),
    "pyenv-3.9-hidden": ("scan of .data/.bss", "3.9"),
    "pyenv-2.7-stripped": (None, "2.7"),  # _PyThreadState_Current if a thread holds the GIL
    "debian-static-3.11-hidden": ("scan of .data/.bss",
                                  _provisioned_version("/usr/bin/python3.11", "3.11")),
    "sid-3.14-section": ("section .PyRuntime", _provisioned_version("sid-3.14", "3.14")),
    "sid-3.14-hidden": ("_Py_DebugOffsets", _provisioned_version("sid-3.14", "3.14")),
}


@pytest.fixture(scope="module")
def workdirs():
    made: list[str] = []

    def make(root: str = "/") -> str:
        if root == "/":
            path = tempfile.mkdtemp(prefix="pystack-stripped-")
            made.append(path)
            return path
        host_tmp = os.path.join(root, "tmp")
        os.makedirs(host_tmp, exist_ok=True)
        path = tempfile.mkdtemp(prefix="pystack-stripped-", dir=host_tmp)
        os.chmod(path, 0o755)
        made.append(path)
        return "/tmp/" + os.path.basename(path)

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


_cache: dict[str, tuple[dict, dict]] = {}


@pytest.fixture
def case(request, workdirs):
    """(interpreter dict for `started`, extra environment) of a stripped copy."""
    if not shutil.which("strip"):
        pytest.skip("needs binutils' strip")
    name = request.param
    if name not in _cache:
        if name.startswith("pyenv-3.9"):
            made = _pyenv_case("3.9.18", workdirs(), hidden=name.endswith("hidden"))
        elif name == "pyenv-2.7-stripped":
            made = _pyenv_case("2.7.18", workdirs(), hidden=False)
        elif name == "debian-static-3.11-hidden":
            made = _static_case("/usr/bin/python3.11", workdirs())
        else:
            if not os.path.isdir(SID_ROOT):
                pytest.skip("no sid chroot provisioned")
            made = _sid_case(workdirs(SID_ROOT), SID_ROOT, section=name.endswith("hidden"))
        _cache[name] = made
    interpreter, env = _cache[name]
    return name, interpreter, env


def _check_verbose(name: str, stderr: str) -> None:
    method, version = CASES[name]
    found = [line for line in stderr.splitlines() if "found CPython" in line]
    assert found, stderr
    assert f"found CPython {version}" in found[0], found[0]
    if method is not None:
        assert f"({method}" in found[0], found[0]


@pytest.mark.parametrize("case", list(CASES), indirect=True)
def test_stripped_remote(case):
    name, interpreter, env = case
    with started(interpreter, env=env) as target:
        started_at = time.perf_counter()
        result = run_pystack("remote", "-v", str(target.pid))
        elapsed = time.perf_counter() - started_at
        assert result.returncode == 0, result.stderr
        assert_same_stacks(result.stdout, target.report)
        _check_verbose(name, result.stderr)
        assert target.is_alive_and_running()
    print(f"{name}: pystack remote took {elapsed:.2f} s")


@pytest.mark.skipif(not shutil.which("gcore"), reason="needs gdb's gcore")
@pytest.mark.parametrize("case", list(CASES), indirect=True)
def test_stripped_gcore(case, tmp_path):
    name, interpreter, env = case
    with started(interpreter, env=env) as target:
        core = gcore(interpreter, target, tmp_path)
        os.rename(core, tmp_path / "core")
        # read while its scripts are there: their source lines are compared
        result = run_pystack(*core_args(interpreter, str(tmp_path / "core")), "-v")
    assert result.returncode == 0, result.stderr
    assert_same_stacks(result.stdout, target.report)
    _check_verbose(name, result.stderr)


@pytest.mark.skipif(not kernel_cores_possible(), reason="core_pattern does not write files")
@pytest.mark.parametrize("case", ["pyenv-3.9-hidden", "debian-static-3.11-hidden",
                                  "sid-3.14-hidden"], indirect=True)
def test_stripped_kernel_core(case):
    name, interpreter, env = case
    with started(interpreter, env=env, cores=True) as target:
        os.kill(target.pid, signal.SIGABRT)
        core = target.wait_for_core()
        result = run_pystack(*core_args(interpreter, core), "-v")
        assert result.returncode == 0, result.stderr
        assert_same_stacks(result.stdout, target.report)
        _check_verbose(name, result.stderr)


@pytest.mark.parametrize("case", ["debian-static-3.11-hidden"], indirect=True)
def test_exhaustive_is_accepted(case):
    name, interpreter, env = case
    with started(interpreter, env=env) as target:
        result = run_pystack("remote", "--exhaustive", "-v", str(target.pid))
        assert result.returncode == 0, result.stderr
        assert_same_stacks(result.stdout, target.report)
        _check_verbose(name, result.stderr)


def test_unknown_version_is_a_clear_error(tmp_path):
    """A program called python-something whose version nothing tells: say what was tried."""
    sleep = shutil.which("sleep")
    copy = tmp_path / "python-mystery"
    shutil.copy(sleep, copy)
    proc = subprocess.Popen([str(copy), "100"])
    try:
        time.sleep(0.2)
        result = run_pystack("remote", str(proc.pid))
        assert result.returncode == 8, result.stderr
        message = result.stderr.strip()
        assert "looks like Python but its version cannot be told" in message
        for step in ("symbols of", ".PyRuntime section", "file name",
                     "version strings in .rodata/.data", "Py_GetVersion() buffer"):
            assert step in message, message
        assert "Traceback" not in result.stderr
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
