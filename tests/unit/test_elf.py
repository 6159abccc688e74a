"""Tests for pystack.binaries.elf.

Three kinds of evidence:

* real binaries on this machine, compared field by field with what binutils'
  ``readelf`` prints (skipped when a file or the tool is missing);
* small ELF files built here, by ``gcc`` (both hash styles, stripped copies) or
  byte by byte (cores with many notes, extended numbering, corrupt headers);
* property tests: random bytes and mutated real files must either parse or
  raise ``ElfError``, never anything else, and never hang.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterator as _IteratorABC
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest

try:
    import pystack  # noqa: F401
except ImportError:  # running from a source checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from timing import assert_quick
from pystack.binaries import elf as elfmod
from pystack.binaries.elf import ET_CORE, ET_DYN, ET_EXEC, ElfFile, Note, Section, Segment
from pystack.errors import ElfError

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

LIBPYTHON = "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"
PYENV_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3.11"
SYSTEM_PYTHON = "/usr/bin/python3.11"  # libpython linked statically into the executable
LS = "/bin/ls"  # stripped
REAL_FILES = [LIBPYTHON, PYENV_PYTHON, SYSTEM_PYTHON, LS]

READELF = shutil.which("readelf")
GCC = shutil.which("gcc")
STRIP = shutil.which("strip")
OBJCOPY = shutil.which("objcopy")


# --------------------------------------------------------------------- helpers


def _need(path: str) -> str:
    if not os.path.exists(path):
        pytest.skip(f"{path} not present on this machine")
    return path


def _readelf(*args: str) -> str:
    if READELF is None:
        pytest.skip("readelf not installed")
    return subprocess.run(
        [READELF, "-W", *args], check=True, capture_output=True, text=True, errors="replace"
    ).stdout


real_file = pytest.mark.parametrize(
    "path", REAL_FILES, ids=["libpython", "pyenv-python", "system-python", "ls"]
)

_SECTION_TYPES = {
    "NULL": 0, "PROGBITS": 1, "SYMTAB": 2, "STRTAB": 3, "RELA": 4, "HASH": 5,
    "DYNAMIC": 6, "NOTE": 7, "NOBITS": 8, "DYNSYM": 11, "INIT_ARRAY": 14,
    "FINI_ARRAY": 15, "GNU_HASH": 0x6FFFFFF6, "VERSYM": 0x6FFFFFFF,
    "VERNEED": 0x6FFFFFFE, "VERDEF": 0x6FFFFFFD,
}
_SEGMENT_TYPES = {
    "NULL": 0, "LOAD": 1, "DYNAMIC": 2, "INTERP": 3, "NOTE": 4, "PHDR": 6, "TLS": 7,
    "GNU_EH_FRAME": 0x6474E550, "GNU_STACK": 0x6474E551, "GNU_RELRO": 0x6474E552,
    "GNU_PROPERTY": 0x6474E553,
}
_SECTION_RE = re.compile(
    r"^\s*\[\s*(\d+)\]\s(.*?)\s+(\S+)\s+([0-9a-f]{16})\s([0-9a-f]+)\s([0-9a-f]+)"
    r"\s([0-9a-f]{2})\s(.*?)\s+(\d+)\s+(\d+)\s+(\d+)$"
)
_SEGMENT_RE = re.compile(
    r"^\s+(\S+)\s+0x([0-9a-f]+)\s0x([0-9a-f]+)\s0x([0-9a-f]+)\s0x([0-9a-f]+)"
    r"\s0x([0-9a-f]+)\s(.{3})\s0x([0-9a-f]+)$"
)


def _readelf_sections(path: str) -> List[dict]:
    rows = []
    for line in _readelf("-S", path).splitlines():
        m = _SECTION_RE.match(line)
        if m:
            rows.append(
                dict(
                    index=int(m[1]), name=m[2].strip(), type=m[3], addr=int(m[4], 16),
                    offset=int(m[5], 16), size=int(m[6], 16), entsize=int(m[7], 16),
                    link=int(m[9]), info=int(m[10]),
                )
            )
    return rows


def _readelf_segments(path: str) -> List[dict]:
    rows = []
    for line in _readelf("-l", path).splitlines():
        m = _SEGMENT_RE.match(line)
        if m:
            flags = m[7]
            rows.append(
                dict(
                    type=m[1], offset=int(m[2], 16), vaddr=int(m[3], 16),
                    paddr=int(m[4], 16), filesz=int(m[5], 16), memsz=int(m[6], 16),
                    flags=(4 if "R" in flags else 0) | (2 if "W" in flags else 0)
                    | (1 if "E" in flags else 0),
                    align=int(m[8], 16),
                )
            )
    return rows


def _readelf_symbols(path: str) -> Dict[str, List[Tuple[str, int, int, str, str, str]]]:
    """{'.dynsym': [(name, value, size, type, bind, ndx)], '.symtab': [...]}"""
    tables: Dict[str, List[Tuple[str, int, int, str, str, str]]] = {}
    current: Optional[List[Tuple[str, int, int, str, str, str]]] = None
    for line in _readelf("-s", path).splitlines():
        m = re.match(r"Symbol table '(\S+)'", line)
        if m:
            current = tables.setdefault(m[1], [])
            continue
        tokens = line.split()
        if current is None or len(tokens) < 8 or not tokens[0].endswith(":"):
            continue
        _num, value, size, type_, bind, vis, ndx, name = tokens[:8]
        if not re.fullmatch(r"UND|ABS|COM|\d+", ndx):
            continue  # an unusual visibility column; not worth parsing
        current.append((name, int(value, 16), int(size, 0), type_, bind, ndx))
    return tables


def _defined_unique(rows) -> Dict[str, Tuple[int, int]]:
    """name -> (value, size) for names defined exactly once (and unversioned)."""
    seen: Dict[str, List[Tuple[int, int]]] = {}
    for name, value, size, type_, _bind, ndx in rows:
        if ndx == "UND" or type_ in ("SECTION", "FILE") or "@" in name:
            continue
        seen.setdefault(name, []).append((value, size))
    return {name: vals[0] for name, vals in seen.items() if len(vals) == 1}


def _call(fn: Callable[[], object]) -> object:
    """Call fn; ElfError is an accepted outcome, anything else propagates."""
    try:
        result = fn()
        if isinstance(result, _IteratorABC):
            result = list(result)
        return result
    except ElfError:
        return None


def _exercise(path: str) -> None:
    """Touch every public API of the file; only ElfError may come out."""
    try:
        elf = ElfFile(path)
    except ElfError:
        return
    with elf:
        _call(lambda: elf.sections)
        _call(elf.notes)
        for attr in ("build_id", "soname", "interpreter", "debuglink"):
            _call(lambda: getattr(elf, attr))
        for name in ("exported_func", "exported_var", "f_7", "local_func", "main", "missing_x"):
            _call(lambda: elf.symbol(name))
            _call(lambda: elf.symbol_with_size(name))
        sections = _call(lambda: elf.sections) or []
        for sec in sections[:64]:
            _call(lambda: elf.section_data(sec))
            _call(lambda: elf.find(b"9.99", sec))
            _call(lambda: elf.read_vaddr(sec.addr, 16))
        for seg in elf.segments[:64]:
            _call(lambda: elf.read_vaddr(seg.vaddr, 32))
            _call(lambda: elf.load_bias_for(0x7F0000000000 + seg.offset, seg.offset & ~0xFFF))
        _call(lambda: elf.find(b"9.99", ".rodata"))


# ----------------------------------------------------- synthetic ELF building


def _ehdr(
    *,
    etype: int = ET_DYN,
    phoff: int = 0,
    phnum: int = 0,
    shoff: int = 0,
    shnum: int = 0,
    shstrndx: int = 0,
    ident: Optional[bytes] = None,
    phentsize: int = 56,
    shentsize: int = 64,
) -> bytes:
    if ident is None:
        ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    return struct.pack(
        "<16sHHIQQQIHHHHHH", ident, etype, 62, 1, 0, phoff, shoff, 0, 64,
        phentsize, phnum, shentsize, shnum, shstrndx,
    )


def _phdr(ptype: int, offset: int = 0, vaddr: int = 0, filesz: int = 0,
          memsz: Optional[int] = None, flags: int = 4, align: int = 0x1000) -> bytes:
    return struct.pack(
        "<IIQQQQQQ", ptype, flags, offset, vaddr, vaddr, filesz,
        filesz if memsz is None else memsz, align,
    )


def _shdr(name: int = 0, stype: int = 0, addr: int = 0, offset: int = 0, size: int = 0,
          link: int = 0, info: int = 0, entsize: int = 0) -> bytes:
    return struct.pack("<IIQQQQIIQQ", name, stype, 0, addr, offset, size, link, info, 1, entsize)


def _note(owner: bytes, ntype: int, desc: bytes, align: int = 4) -> bytes:
    """One note laid out like binutils does (padding counted from the note start)."""
    name = owner + b"\0" if owner else b""
    head = struct.pack("<III", len(name), len(desc), ntype) + name
    head += bytes(-len(head) % align)
    body = head + desc
    return body + bytes(-len(body) % align)


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# ------------------------------------------------------------ real binaries


@real_file
def test_header_matches_readelf(path: str) -> None:
    _need(path)
    out = _readelf("-h", path)
    with ElfFile(path) as elf:
        kind = re.search(r"Type:\s+(\w+)", out)[1]
        assert elf.elf_type == {"EXEC": ET_EXEC, "DYN": ET_DYN, "CORE": ET_CORE}[kind]
        assert elf.machine == 62
        assert elf.entry == int(re.search(r"Entry point address:\s+(0x[0-9a-f]+)", out)[1], 16)


@real_file
def test_segments_match_readelf(path: str) -> None:
    _need(path)
    expected = _readelf_segments(path)
    with ElfFile(path) as elf:
        assert len(elf.segments) == len(expected) > 0
        for seg, row in zip(elf.segments, expected):
            assert isinstance(seg, Segment)
            if row["type"] in _SEGMENT_TYPES:
                assert seg.type == _SEGMENT_TYPES[row["type"]]
            for field in ("offset", "vaddr", "paddr", "filesz", "memsz", "flags", "align"):
                assert getattr(seg, field) == row[field], (field, row)


@real_file
def test_sections_match_readelf(path: str) -> None:
    _need(path)
    expected = _readelf_sections(path)
    with ElfFile(path) as elf:
        assert len(elf.sections) == len(expected) > 0
        for sec, row in zip(elf.sections, expected):
            assert isinstance(sec, Section)
            assert sec.name == row["name"]
            if row["type"] in _SECTION_TYPES:
                assert sec.type == _SECTION_TYPES[row["type"]]
            for field in ("addr", "offset", "size", "entsize", "link", "info"):
                assert getattr(sec, field) == row[field], (field, row)
            assert elf.section(sec.name) is not None
        assert elf.section(".no-such-section") is None


@real_file
def test_build_id_interpreter_soname_match_readelf(path: str) -> None:
    _need(path)
    notes_out = _readelf("-n", path)
    dyn_out = _readelf("-d", path)
    prog_out = _readelf("-l", path)
    with ElfFile(path) as elf:
        m = re.search(r"Build ID: ([0-9a-f]+)", notes_out)
        assert elf.build_id == (bytes.fromhex(m[1]) if m else None)
        m = re.search(r"Library soname: \[(.*)\]", dyn_out)
        assert elf.soname == (m[1] if m else None)
        m = re.search(r"Requesting program interpreter: (.*)\]", prog_out)
        assert elf.interpreter == (m[1] if m else None)
        owners = [n.owner for n in elf.notes()]
        assert owners.count("GNU") == len(re.findall(r"^\s+GNU\s+0x", notes_out, re.M))
        assert all(isinstance(n, Note) for n in elf.notes())


@real_file
def test_debuglink_matches_readelf(path: str) -> None:
    _need(path)
    with ElfFile(path) as elf:
        if elf.section(".gnu_debuglink") is None:
            assert elf.debuglink is None
            return
        out = _readelf("-p", ".gnu_debuglink", path)
        name = re.search(r"\[\s*0\]\s+(\S+)", out)[1]
        assert elf.debuglink is not None
        assert elf.debuglink[0] == name
        raw = bytes(elf.section_data(".gnu_debuglink"))
        assert elf.debuglink[1] == struct.unpack_from("<I", raw, len(raw) - 4)[0]


@real_file
def test_dynamic_symbols_match_readelf(path: str) -> None:
    """Every defined, unversioned .dynsym name resolves through the hash table."""
    _need(path)
    tables = _readelf_symbols(path)
    dynsym = tables.get(".dynsym", [])
    with ElfFile(path) as elf:
        defined = _defined_unique(dynsym)
        for name, (value, size) in defined.items():
            assert elf.symbol_with_size(name) == (value, size), name
        everywhere = set(defined) | set(_defined_unique(tables.get(".symtab", [])))
        undefined = {row[0].split("@")[0] for row in dynsym if row[5] == "UND"}
        for name in undefined - everywhere:
            if name:
                assert elf.symbol(name) is None, name


@real_file
def test_symtab_symbols_match_readelf(path: str) -> None:
    _need(path)
    tables = _readelf_symbols(path)
    with ElfFile(path) as elf:
        if ".symtab" not in tables:
            assert elf.section(".symtab") is None
            assert elf._symtab_index == {}
            return
        dyn_names = {row[0].split("@")[0] for row in tables.get(".dynsym", [])}
        occurrences = Counter(row[0] for row in tables[".symtab"])
        checked = 0
        for name, (value, size) in _defined_unique(tables[".symtab"]).items():
            # Names also in .dynsym are answered from there; names that occur
            # more than once (static functions of several files) are ambiguous.
            if name in dyn_names or occurrences[name] != 1:
                continue
            assert elf.symbol_with_size(name) == (value, size), name
            checked += 1
        assert checked > 0


def test_libpython_runtime_symbols() -> None:
    _need(LIBPYTHON)
    out = _readelf("-s", LIBPYTHON)
    with ElfFile(LIBPYTHON) as elf:
        for name in ("_PyRuntime", "Py_Version"):
            m = re.search(rf"^\s*\d+:\s+([0-9a-f]+)\s+(\S+).*\s{name}$", out, re.M)
            assert elf.symbol(name) == int(m[1], 16)
            assert elf.symbol_with_size(name) == (int(m[1], 16), int(m[2], 0))
        runtime = elf.section(".PyRuntime")
        assert runtime is not None
        assert runtime.addr <= elf.symbol("_PyRuntime") < runtime.addr + runtime.size
        # Py_Version is the hex version, in read-only data supplied by the file.
        version = elf.read_vaddr(elf.symbol("Py_Version"), 4)
        assert struct.unpack("<I", version)[0] >> 16 == 0x030B
        # A static function only .symtab knows about.
        m = re.search(r"^\s*\d+:\s+([0-9a-f]+)\s.*\sbytearray_releasebuffer$", out, re.M)
        assert elf._lookup_dynsym(b"bytearray_releasebuffer") is None
        assert elf.symbol("bytearray_releasebuffer") == int(m[1], 16)
        assert elf.symbol("no_such_symbol_anywhere") is None
        assert elf.find(b"3.11.7", ".rodata") >= 0
        assert elf.find(b"definitely not in rodata \x00\x01", ".rodata") == -1
        assert elf.find(b"3.11.7", ".no-such-section") == -1


def test_nm_agrees_on_runtime_symbols() -> None:
    _need(LIBPYTHON)
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm not installed")
    out = subprocess.run(
        [nm, "-D", "--defined-only", LIBPYTHON], check=True, capture_output=True, text=True
    ).stdout
    values = {line.split()[2]: int(line.split()[0], 16) for line in out.splitlines()
              if len(line.split()) == 3}
    with ElfFile(LIBPYTHON) as elf:
        assert elf.symbol("_PyRuntime") == values["_PyRuntime"]
        assert elf.symbol("Py_Version") == values["Py_Version"]


def test_static_libpython_executable() -> None:
    _need(SYSTEM_PYTHON)
    with ElfFile(SYSTEM_PYTHON) as elf:
        assert elf.elf_type == ET_EXEC
        assert elf.section(".PyRuntime") is not None
        assert elf.symbol("_PyRuntime") == elf.section(".PyRuntime").addr
        assert elf.load_bias_for(0x400000, 0) == 0  # non-PIE: never relocated
        assert elf.soname is None


@real_file
def test_section_data_and_read_vaddr_agree(path: str) -> None:
    _need(path)
    with ElfFile(path) as elf:
        for sec in elf.sections:
            if not sec.flags & 2 or sec.addr == 0:  # SHF_ALLOC
                continue
            if sec.type == 8:  # NOBITS: memory beyond filesz reads as zeros
                assert elf.read_vaddr(sec.addr, min(sec.size, 64)) == bytes(min(sec.size, 64))
                assert elf.section_data(sec) == b""
                continue
            data = elf.section_data(sec)
            assert len(data) == sec.size
            assert elf.read_vaddr(sec.addr, min(sec.size, 64)) == bytes(data[:64])
        top = max(s.vaddr + s.memsz for s in elf.segments if s.type == 1)
        assert elf.read_vaddr(top + 0x100000, 8) is None
        assert elf.read_vaddr(0x10, 0) == b""


def test_load_bias_in_a_live_process() -> None:
    """Every mapping of libpython and of the executable gives the same bias."""
    _need(PYENV_PYTHON)
    proc = subprocess.Popen(
        [PYENV_PYTHON, "-c", "import sys; sys.stdout.write('ready\\n'); sys.stdout.flush(); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        maps: Dict[str, List[Tuple[int, int]]] = {}
        with open(f"/proc/{proc.pid}/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[5].startswith("/"):
                    start = int(parts[0].split("-")[0], 16)
                    maps.setdefault(os.path.realpath(parts[5]), []).append(
                        (start, int(parts[2], 16))
                    )
        lib = os.path.realpath(LIBPYTHON)
        if lib not in maps:
            pytest.skip("this python is not linked against the shared libpython")
        for path in (lib, os.path.realpath(PYENV_PYTHON)):
            with ElfFile(path) as elf:
                mappings = maps[path]
                if elf.elf_type == ET_EXEC:
                    expected = 0
                else:
                    expected = min(start for start, _ in mappings)
                bias = elf.load_bias_from(mappings)
                assert bias == expected
                assert elf.load_bias_for(*min(mappings)) == bias
                for start, off in mappings:
                    candidates = elf._bias_candidates(start, off)
                    assert bias in candidates or elf.elf_type == ET_EXEC
                    if len(candidates) == 1:  # unambiguous later mappings agree
                        assert elf.load_bias_for(start, off) == bias
                if path == lib:
                    addr = bias + elf.symbol("Py_Version")
                    try:
                        with open(f"/proc/{proc.pid}/mem", "rb") as mem:
                            mem.seek(addr)
                            live = mem.read(8)
                    except OSError:
                        continue
                    assert live == elf.read_vaddr(elf.symbol("Py_Version"), 8)
    finally:
        proc.kill()
        proc.wait()


def test_gcore_core_notes_match_readelf(tmp_path: Path) -> None:
    gcore = shutil.which("gcore")
    if gcore is None or READELF is None:
        pytest.skip("gcore/readelf not installed")
    child = subprocess.Popen(["sleep", "60"])
    try:
        prefix = str(tmp_path / "core")
        try:
            res = subprocess.run(
                [gcore, "-o", prefix, str(child.pid)], capture_output=True, text=True,
                timeout=120,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("gcore timed out")
        core = f"{prefix}.{child.pid}"
        if res.returncode != 0 or not os.path.exists(core):
            pytest.skip(f"gcore could not dump a core here: {res.stderr[-200:]}")
    finally:
        child.kill()
        child.wait()
    expected = [
        (m[1], int(m[2], 16))
        for m in re.finditer(r"^\s{2}(\S+)\s+0x([0-9a-f]+)\t", _readelf("-n", core), re.M)
    ]
    with ElfFile(core) as elf:
        assert elf.elf_type == ET_CORE
        assert elf.segments
        notes = list(elf.notes())
        assert [(n.owner, len(n.desc)) for n in notes] == expected
        assert {"CORE", "LINUX"} <= {n.owner for n in notes}
        assert elf.build_id is None
        # NT_PRSTATUS (1) carries the pid of the thread at offset 32.
        prstatus = next(n for n in notes if n.owner == "CORE" and n.type == 1)
        assert struct.unpack_from("<i", prstatus.desc, 32)[0] == child.pid


# ---------------------------------------------------------- gcc-built files

_C_SOURCE = """
int exported_var = 42;
const char version_string[] = "9.99.1 (test build)";
int big_bss[1000];
static int local_counter = 7;
static int local_func(int x) { return x + local_counter; }
int exported_func(int x) { return local_func(x) + big_bss[x]; }
%s
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Dict[str, str]:
    """Shared libraries with GNU and SysV hash tables, plus stripped copies."""
    if GCC is None:
        pytest.skip("gcc not installed")
    tmp = tmp_path_factory.mktemp("elf-gcc")
    funcs = "\n".join(f"int f_{i}(void) {{ return {i}; }}" for i in range(300))
    src = tmp / "lib.c"
    src.write_text(_C_SOURCE % funcs)
    out = {}
    for style in ("gnu", "sysv"):
        lib = tmp / f"lib{style}.so"
        res = subprocess.run(
            [GCC, "-shared", "-fPIC", "-O0", f"-Wl,--hash-style={style}",
             "-Wl,-soname,libelftest.so.1", "-o", str(lib), str(src)],
            capture_output=True, text=True,
        )
        if res.returncode != 0:
            pytest.skip(f"gcc failed: {res.stderr[-300:]}")
        out[style] = str(lib)
        if STRIP is not None:
            stripped = tmp / f"lib{style}-stripped.so"
            subprocess.run([STRIP, "--strip-all", "-o", str(stripped), str(lib)], check=True)
            out[f"{style}-stripped"] = str(stripped)
    return out


@pytest.mark.parametrize("style", ["gnu", "sysv"])
def test_gcc_hash_styles(built: Dict[str, str], style: str) -> None:
    path = built[style]
    with ElfFile(path) as elf:
        names = {s.name for s in elf.sections}
        if style == "gnu":
            assert ".gnu.hash" in names and ".hash" not in names
            assert elf._gnu_hash_layout is not None
        else:
            assert ".hash" in names and ".gnu.hash" not in names
            assert elf._sysv_hash_layout is not None and elf._gnu_hash_layout is None
        assert elf.soname == "libelftest.so.1"
        expected = _defined_unique(_readelf_symbols(path)[".dynsym"])
        for i in range(300):
            assert elf.symbol(f"f_{i}") == expected[f"f_{i}"][0]
        assert elf.symbol_with_size("exported_var") == (expected["exported_var"][0], 4)
        assert elf.symbol_with_size("big_bss") == (expected["big_bss"][0], 4000)
        assert elf.read_vaddr(elf.symbol("exported_var"), 4) == struct.pack("<i", 42)
        assert elf.read_vaddr(elf.symbol("big_bss"), 16) == bytes(16)
        assert elf.read_vaddr(elf.symbol("version_string"), 6) == b"9.99.1"
        for missing in ("f_300", "f_", "exported", "exported_funcx", "", "malloc"):
            assert elf._lookup_dynsym(missing.encode()) is None, missing
        # The hash lookup must agree with a plain scan of the whole table.
        table = elf._dynsym
        scan = elf._build_index(table._replace(count=elf._dynsym_from_sections.count))
        for name, (value, size) in scan.items():
            assert elf._lookup_dynsym(name) == (value, size), name
        # local symbols only exist in .symtab
        symtab = _defined_unique(_readelf_symbols(path)[".symtab"])
        assert elf.symbol("local_func") == symtab["local_func"][0]
        assert elf.symbol("local_counter") == symtab["local_counter"][0]
        assert elf.read_vaddr(elf.symbol("local_counter"), 4) == struct.pack("<i", 7)
        assert elf.find(b"9.99.1 (", ".rodata") >= 0


@pytest.mark.parametrize("style", ["gnu", "sysv"])
def test_gcc_stripped(built: Dict[str, str], style: str) -> None:
    if f"{style}-stripped" not in built:
        pytest.skip("strip not installed")
    with ElfFile(built[style]) as full, ElfFile(built[f"{style}-stripped"]) as stripped:
        assert stripped.section(".symtab") is None
        assert stripped.symbol("local_func") is None
        assert stripped.symbol("local_counter") is None
        assert full.symbol("local_func") is not None
        for name in ("exported_func", "exported_var", "f_0", "f_299", "big_bss"):
            assert stripped.symbol_with_size(name) == full.symbol_with_size(name)
        assert stripped.build_id == full.build_id


def test_gcc_debuglink_crc(built: Dict[str, str], tmp_path: Path) -> None:
    if OBJCOPY is None:
        pytest.skip("objcopy not installed")
    debug = tmp_path / "lib.debug"
    debug.write_bytes(b"pretend debug info" * 100)
    linked = tmp_path / "linked.so"
    subprocess.run(
        [OBJCOPY, f"--add-gnu-debuglink={debug}", built["gnu"], str(linked)], check=True
    )
    with ElfFile(str(linked)) as elf:
        assert elf.debuglink == ("lib.debug", zlib.crc32(debug.read_bytes()))
    with ElfFile(built["gnu"]) as elf:
        assert elf.debuglink is None


def test_lookup_without_section_headers(built: Dict[str, str], tmp_path: Path) -> None:
    """With no section headers the dynamic symbols are found through PT_DYNAMIC."""
    for style in ("gnu", "sysv"):
        data = bytearray(Path(built[style]).read_bytes())
        struct.pack_into("<Q", data, 0x28, 0)  # e_shoff
        struct.pack_into("<HH", data, 0x3C, 0, 0)  # e_shnum, e_shstrndx
        path = _write(tmp_path, f"nosections-{style}.so", bytes(data))
        with ElfFile(built[style]) as full, ElfFile(path) as elf:
            assert elf.sections == []
            assert elf.soname == "libelftest.so.1"
            assert elf.build_id == full.build_id  # from PT_NOTE
            for name in ("exported_func", "f_123", "big_bss"):
                assert elf.symbol_with_size(name) == full.symbol_with_size(name)
            assert elf.symbol("local_func") is None


def test_lookup_without_dynamic_segment(built: Dict[str, str], tmp_path: Path) -> None:
    """With PT_DYNAMIC gone the section headers are used instead."""
    data = bytearray(Path(built["gnu"]).read_bytes())
    with ElfFile(built["gnu"]) as full:
        for i, seg in enumerate(full.segments):
            if seg.type == 2:
                struct.pack_into("<I", data, 64 + i * 56, 0)  # PT_NULL
        path = _write(tmp_path, "nodynamic.so", bytes(data))
        with ElfFile(path) as elf:
            assert elf._dynamic == {}
            assert elf.soname is None
            for name in ("exported_func", "f_123", "local_func"):
                assert elf.symbol_with_size(name) == full.symbol_with_size(name)


def test_gcc_executables_load_bias(tmp_path: Path) -> None:
    if GCC is None:
        pytest.skip("gcc not installed")
    src = tmp_path / "main.c"
    src.write_text("int main(void) { return 0; }\n")
    for flag, kind in (("-no-pie", ET_EXEC), ("-pie", ET_DYN)):
        exe = tmp_path / f"exe{flag}"
        subprocess.run([GCC, flag, "-fPIE" if flag == "-pie" else "-fno-pie", "-o",
                        str(exe), str(src)], check=True, capture_output=True)
        with ElfFile(str(exe)) as elf:
            assert elf.elf_type == kind
            assert elf.interpreter is not None and "ld-linux" in elf.interpreter
            loads = [s for s in elf.segments if s.type == 1]
            bias = 0 if kind == ET_EXEC else 0x555555554000
            mappings = [(bias + (s.vaddr & ~0xFFF), s.offset & ~0xFFF) for s in loads]
            assert elf.load_bias_from(mappings) == bias
            assert elf.load_bias_for(*mappings[0]) == bias
            for start, page in mappings:
                if kind == ET_EXEC:
                    assert elf.load_bias_for(start, page) == 0
                else:
                    assert bias in elf._bias_candidates(start, page)


# ------------------------------------------------- load bias, synthetic layouts


def _loads_only(tmp_path: Path, name: str, loads: List[Tuple[int, int, int, int]],
                etype: int = ET_DYN, size: int = 0x6000) -> str:
    """A file with just PT_LOADs given as (offset, vaddr, filesz, memsz)."""
    phdrs = b"".join(_phdr(1, off, va, fs, ms) for off, va, fs, ms in loads)
    data = _ehdr(etype=etype, phoff=64, phnum=len(loads)) + phdrs
    return _write(tmp_path, name, data + bytes(size - len(data)))


def test_load_bias_old_layout_and_relro_split(tmp_path: Path) -> None:
    # Old binutils layout: text at offset 0; data at offset 0x2db0 mapped
    # 2 MiB higher, its first page (offset 0x2000) also inside text's range.
    path = _loads_only(tmp_path, "old.so", [(0, 0, 0x2D8C, 0x2D8C),
                                            (0x2DB0, 0x202DB0, 0x1250, 0x1400)])
    bias = 0x7F1234560000
    with ElfFile(path) as elf:
        assert elf.load_bias_for(bias, 0) == bias
        assert elf.load_bias_for(bias + 0x202000, 0x2000) == bias
        # After mprotect(RELRO) splits the data mapping, its second part.
        assert elf.load_bias_for(bias + 0x203000, 0x3000) == bias
        with pytest.raises(ElfError):
            elf.load_bias_for(bias + 0x900000, 0x900000)
        with pytest.raises(ElfError):
            elf.load_bias_from([])
        assert elf.load_bias_from([(bias + 0x203000, 0x3000), (bias, 0)]) == bias


def test_load_bias_shared_page_is_ambiguous_for_one_mapping(tmp_path: Path) -> None:
    # Modern small-binary layout: .rodata at 0x2000 and .data at file offset
    # 0x2e00 (vaddr 0x3e00) start in the same file page.
    path = _loads_only(tmp_path, "shared.so", [(0, 0, 0x5E0, 0x5E0),
                                               (0x1000, 0x1000, 0x13D, 0x13D),
                                               (0x2000, 0x2000, 0xDC, 0xDC),
                                               (0x2E00, 0x3E00, 0x210, 0x218)])
    bias = 0x555555554000
    mappings = [(bias, 0), (bias + 0x1000, 0x1000), (bias + 0x2000, 0x2000),
                (bias + 0x3000, 0x2000)]
    with ElfFile(path) as elf:
        assert elf.load_bias_from(mappings) == bias
        assert elf.load_bias_for(bias + 0x2000, 0x2000) == bias
        assert elf._bias_candidates(bias + 0x3000, 0x2000) == [bias + 0x1000, bias]


def test_load_bias_exec_is_zero(tmp_path: Path) -> None:
    path = _loads_only(tmp_path, "exec", [(0, 0x400000, 0x1000, 0x1000)], etype=ET_EXEC)
    with ElfFile(path) as elf:
        assert elf.load_bias_for(0x400000, 0) == 0
        assert elf.load_bias_for(0x12345000, 0) == 0


def test_read_vaddr_spans_adjacent_segments(tmp_path: Path) -> None:
    path = _loads_only(tmp_path, "adj.so", [(0x1000, 0x1000, 0x1000, 0x1000),
                                            (0x2000, 0x2000, 0x800, 0x1000)])
    data = bytearray(Path(path).read_bytes())
    data[0x1FFC:0x2004] = b"ABCDEFGH"
    Path(path).write_bytes(bytes(data))
    with ElfFile(path) as elf:
        assert elf.read_vaddr(0x1FFC, 8) == b"ABCDEFGH"
        assert elf.read_vaddr(0x27FE, 4) == bytes(4)
        assert elf.read_vaddr(0x2FFE, 4) is None  # runs past the last segment
        assert elf.read_vaddr(0x500, 4) is None
        assert elf.read_vaddr(0x1000, -1) is None


# ------------------------------------------------------------ notes and cores


def test_core_with_many_notes_is_fast(tmp_path: Path) -> None:
    count = 20000
    blob = b"".join(
        _note(b"CORE" if i % 3 else b"LINUX", i % 7, bytes([i % 256]) * (i % 13))
        for i in range(count)
    )
    notes_off = 64 + 2 * 56
    data = (
        _ehdr(etype=ET_CORE, phoff=64, phnum=2)
        + _phdr(4, notes_off, 0, len(blob), align=0)
        + _phdr(1, notes_off + len(blob), 0x10000, 0x1000, flags=6)
        + blob
        + bytes(0x1000)
    )
    path = _write(tmp_path, "core", data)
    start = time.perf_counter()
    with ElfFile(path) as elf:
        notes = list(elf.notes())
    elapsed = time.perf_counter() - start
    assert len(notes) == count
    for i in (0, 1, 2, 12, 13, count - 1):
        assert notes[i].owner == ("CORE" if i % 3 else "LINUX")
        assert notes[i].type == i % 7
        assert bytes(notes[i].desc) == bytes([i % 256]) * (i % 13)
    assert_quick(elapsed, 80, f"reading {count} notes")  # 1 s idle


def test_note_alignment_4_and_8(tmp_path: Path) -> None:
    four = _note(b"GO", 1, b"abcde") + _note(b"LINUX", 2, b"xyz")
    eight = _note(b"GO", 1, b"abcde", align=8) + _note(b"GNU", 3, b"\x01\x02\x03", align=8)
    off4 = 64 + 2 * 56
    off8 = (off4 + len(four) + 7) & ~7
    data = (
        _ehdr(etype=ET_DYN, phoff=64, phnum=2)
        + _phdr(4, off4, 0, len(four), align=4)
        + _phdr(4, off8, 0, len(eight), align=8)
    )
    data += four
    data += bytes(off8 - len(data)) + eight
    path = _write(tmp_path, "notes.so", data)
    with ElfFile(path) as elf:
        got = [(n.owner, n.type, bytes(n.desc)) for n in elf.notes()]
        assert got == [
            ("GO", 1, b"abcde"), ("LINUX", 2, b"xyz"),
            ("GO", 1, b"abcde"), ("GNU", 3, b"\x01\x02\x03"),
        ]
        assert elf.build_id == b"\x01\x02\x03"
    if READELF is not None:
        out = _readelf("-n", path)
        assert len(re.findall(r"^\s+(GO|LINUX|GNU)\s+0x", out, re.M)) == 4


def test_truncated_note_area_stops_quietly(tmp_path: Path) -> None:
    blob = _note(b"CORE", 1, b"A" * 8) + _note(b"CORE", 2, b"B" * 4000)
    data = _ehdr(etype=ET_CORE, phoff=64, phnum=1) + _phdr(4, 120, 0, len(blob)) + blob
    path = _write(tmp_path, "trunc", data[:-100])  # the core was cut short
    with ElfFile(path) as elf:
        assert [(n.type, bytes(n.desc)) for n in elf.notes()] == [(1, b"A" * 8)]


def test_notes_from_sections_when_no_pt_note(tmp_path: Path) -> None:
    note = _note(b"GNU", 3, b"\xaa" * 20)
    shstr = b"\0.note.gnu.build-id\0.shstrtab\0"
    note_off = 64
    str_off = note_off + len(note)
    sh_off = (str_off + len(shstr) + 7) & ~7
    data = _ehdr(etype=1, shoff=sh_off, shnum=3, shstrndx=2) + note + shstr
    data += bytes(sh_off - len(data))
    data += _shdr() + _shdr(1, 7, 0, note_off, len(note)) + _shdr(20, 3, 0, str_off, len(shstr))
    path = _write(tmp_path, "rel.o", data)
    with ElfFile(path) as elf:
        assert [s.name for s in elf.sections] == ["", ".note.gnu.build-id", ".shstrtab"]
        assert elf.build_id == b"\xaa" * 20


# ------------------------------------------------ extended numbering, errors


def test_extended_section_numbering(tmp_path: Path) -> None:
    """e_shnum == 0 and e_shstrndx == SHN_XINDEX: both live in section 0."""
    shstr = b"\0.text\0.shstrtab\0"
    sh_off = 64 + 32
    data = _ehdr(shoff=sh_off, shnum=0, shstrndx=0xFFFF) + shstr
    data += bytes(sh_off - len(data))
    data += _shdr(size=3, link=2)  # section 0: real count and string table index
    data += _shdr(1, 1, 0x1000, 0, 16)
    data += _shdr(7, 3, 0, 64, len(shstr))
    path = _write(tmp_path, "xnum.so", data)
    with ElfFile(path) as elf:
        assert [s.name for s in elf.sections] == ["", ".text", ".shstrtab"]


def test_pn_xnum_program_headers(tmp_path: Path) -> None:
    """A core with more than 65535 segments keeps the count in sh_info."""
    count = 70000
    phoff = 64
    sh_off = phoff + count * 56
    phdrs = b"".join(_phdr(1, 0, 0x10000 * (i + 1), 0, 0x1000) for i in range(count))
    data = _ehdr(etype=ET_CORE, phoff=phoff, phnum=0xFFFF, shoff=sh_off, shnum=0)
    data += phdrs + _shdr(size=1, info=count)
    path = _write(tmp_path, "bigcore", data)
    with ElfFile(path) as elf:
        assert len(elf.segments) == count
        assert elf.segments[-1].vaddr == 0x10000 * count
        assert elf.read_vaddr(0x10000 * 500 + 8, 8) == bytes(8)  # memsz beyond filesz


def test_counts_are_capped_to_the_file(tmp_path: Path) -> None:
    data = _ehdr(phoff=64, phnum=0xFFF0, shoff=64 + 56, shnum=0xFFF0, shstrndx=0xFFEE)
    data += _phdr(1, 0, 0, 0x100) + _shdr(0, 1, 0, 0, 0x100)
    path = _write(tmp_path, "capped.so", data)
    with ElfFile(path) as elf:
        assert len(elf.segments) == 2  # the 56-byte phdr, then the shdr read as one
        assert len(elf.sections) == 1
        assert elf.sections[0].name == ""


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "not an ELF file"),
        (b"\x7fEL", "not an ELF file"),
        (b"MZ\x90\x00" + bytes(100), "not an ELF file"),
        (b"\x7fELF\x01\x01\x01" + bytes(60), "32-bit ELF file, not supported"),
        (b"\x7fELF\x02\x02\x01" + bytes(60), "big-endian ELF file, not supported"),
        (b"\x7fELF\x07\x01\x01" + bytes(60), "invalid ELF class"),
        (b"\x7fELF\x02\x01\x01" + bytes(20), "truncated"),
        (b"\x7fELF\x02\x01", "truncated"),
    ],
)
def test_rejects_bad_headers(tmp_path: Path, data: bytes, message: str) -> None:
    path = _write(tmp_path, "bad", data)
    with pytest.raises(ElfError, match=message):
        ElfFile(path)


def test_open_errors_are_elf_errors(tmp_path: Path) -> None:
    with pytest.raises(ElfError, match="cannot open"):
        ElfFile(str(tmp_path / "does-not-exist"))
    with pytest.raises(ElfError, match="cannot open"):
        ElfFile(str(tmp_path))


def test_small_phentsize_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "ph", _ehdr(phoff=64, phnum=1, phentsize=8) + bytes(64))
    with pytest.raises(ElfError, match="program header size"):
        ElfFile(path)


def test_section_outside_file(tmp_path: Path) -> None:
    shstr = b"\0.data\0.shstrtab\0"
    sh_off = 64 + 32
    data = _ehdr(shoff=sh_off, shnum=3, shstrndx=2) + shstr
    data += bytes(sh_off - len(data))
    data += _shdr() + _shdr(1, 1, 0, 0x100000, 0x10) + _shdr(7, 3, 0, 64, len(shstr))
    path = _write(tmp_path, "out.so", data)
    with ElfFile(path) as elf:
        with pytest.raises(ElfError, match="outside the file"):
            elf.section_data(".data")
        with pytest.raises(ElfError, match="no section"):
            elf.section_data(".nope")
        assert elf.find(b"x", ".data") == -1


def test_close_and_context_manager(tmp_path: Path) -> None:
    path = _loads_only(tmp_path, "c.so", [(0, 0, 0x100, 0x100)])
    elf = ElfFile(path)
    held = elf.section_data(Section("x", 1, 0, 0, 0, 16, 0, 0, 0))
    elf.close()  # a held view must not make close() fail
    assert bytes(held[:4]) == b"\x7fELF"
    with pytest.raises(ElfError, match="closed"):
        elf.read_vaddr(0, 4)
    elf.close()  # idempotent
    with ElfFile(path) as elf2:
        assert elf2.read_vaddr(0, 4) == b"\x7fELF"


def test_hash_functions() -> None:
    # Reference values from the GNU hash and System V ABI descriptions.
    assert elfmod._gnu_hash(b"") == 5381
    assert elfmod._gnu_hash(b"printf") == 0x156B2BB8
    assert elfmod._sysv_hash(b"") == 0
    assert elfmod._sysv_hash(b"printf") == 0x077905A6


def test_open_and_lookup_is_fast() -> None:
    """Opening libpython and finding one exported symbol: well under 1 ms."""
    _need(LIBPYTHON)
    times = []
    for _ in range(50):
        start = time.perf_counter()
        with ElfFile(LIBPYTHON) as elf:
            assert elf.symbol("_PyRuntime") is not None
        times.append(time.perf_counter() - start)
    times.sort()
    # The median is ~0.1-0.2 ms; the bound leaves room for slow CI machines.
    assert times[len(times) // 2] < 0.005


# ---------------------------------------------------------- property tests

_FUZZ = settings(
    max_examples=200,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("elf-fuzz")


def _fuzz_file(directory: Path, data: bytes) -> str:
    fd, path = tempfile.mkstemp(dir=str(directory))
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


@_FUZZ
@given(
    prefix=st.sampled_from([b"", b"\x7fELF", b"\x7fELF\x02\x01\x01", b"\x7fELF\x02\x01\x01\x00"]),
    body=st.binary(max_size=4096),
)
def test_random_bytes_parse_or_raise_elf_error(fuzz_dir: Path, prefix: bytes, body: bytes) -> None:
    path = _fuzz_file(fuzz_dir, prefix + body)
    try:
        _exercise(path)
    finally:
        os.unlink(path)


@pytest.fixture(scope="module")
def fuzz_base(built_or_ls) -> Tuple[bytes, List[Tuple[int, int]]]:
    """A real ELF file's bytes, and the ranges holding its structures."""
    path = built_or_ls
    data = Path(path).read_bytes()
    ranges = [(0, 64)]
    with ElfFile(path) as elf:
        ranges.append((elf._phoff, elf._phoff + 56 * len(elf.segments)))
        ranges.append((elf._shoff, elf._shoff + 64 * len(elf.sections)))
        for sec in elf.sections:
            if sec.type in (2, 3, 5, 6, 7, 11, 0x6FFFFFF6) or sec.name == ".gnu_debuglink":
                ranges.append((sec.offset, sec.offset + min(sec.size, 512)))
        for seg in elf.segments:
            if seg.type in (2, 3, 4):
                ranges.append((seg.offset, seg.offset + min(seg.filesz, 512)))
    return data, [(a, b) for a, b in ranges if b > a]


@pytest.fixture(scope="module")
def built_or_ls(request) -> str:
    if GCC is not None:
        try:
            return request.getfixturevalue("built")["gnu"]
        except pytest.skip.Exception:
            pass
    return _need(LS)


_WORDS = [0, 1, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 63, (1 << 64) - 1]


@st.composite
def _mutations(draw, ranges: List[Tuple[int, int]], size: int):
    muts = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            lo, hi = draw(st.sampled_from(ranges))
            pos = draw(st.integers(lo, hi - 1))
        else:
            pos = draw(st.integers(0, size - 1))
        kind = draw(st.sampled_from(["byte", "u32", "u64"]))
        if kind == "byte":
            muts.append((pos, bytes([draw(st.integers(0, 255))])))
        else:
            word = draw(st.sampled_from(_WORDS + [size, size - 1, draw(st.integers(0, size))]))
            width = 4 if kind == "u32" else 8
            raw = (word & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
            muts.append((pos & ~(width - 1), raw))
    truncate = draw(st.one_of(st.none(), st.integers(0, size)))
    return muts, truncate


@_FUZZ
@given(data=st.data())
def test_mutated_real_elf_parses_or_raises_elf_error(
    fuzz_dir: Path, fuzz_base: Tuple[bytes, List[Tuple[int, int]]], data
) -> None:
    base, ranges = fuzz_base
    muts, truncate = data.draw(_mutations(ranges, len(base)))
    blob = bytearray(base)
    for pos, value in muts:
        blob[pos : pos + len(value)] = value
    if truncate is not None:
        del blob[truncate:]
    path = _fuzz_file(fuzz_dir, bytes(blob))
    try:
        _exercise(path)
    finally:
        os.unlink(path)
