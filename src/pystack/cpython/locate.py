"""Find the interpreter inside a target: which binary, which version, where the runtime is.

The methods run cheapest and most certain first, each only if the caller's
`methods` (the bits of `pystack.engine.StackMethod`) ask for it:

1. SYMBOLS: `_PyRuntime` (3.7+), `interp_head` (2.7/3.6, `.symtab` only) or
   `_PyThreadState_Current` (2.7/3.6, exported) in libpython or the executable.
2. ELF_DATA: the `.PyRuntime` section, which `strip --strip-all` keeps (3.11+
   builds that put `_PyRuntime` there).
3. DEBUG_OFFSETS: the `_Py_DebugOffsets` cookie that starts `_PyRuntime` (3.13+),
   searched in the writable data of libpython and of the executable.
4. BSS: a scan of that same writable data (.data/.bss, the rw PT_LOAD segments as
   mapped) for a pointer to a valid PyInterpreterState (see `scan.py`).
5. ANONYMOUS_MAPS, HEAP: the same scan over anonymous mappings and the heap.

`AUTO` keeps the bit value of Bloomberg's pystack (55, which includes HEAP), but
as the default it stops after step 4: a heap scan can take seconds on a large
process and only helps when the binary's data cannot be found at all, so it runs
only when asked for explicitly (`--exhaustive` passes ALL).

The version comes from `Py_Version` (3.11+), the debug offsets (3.13+), the names
libpythonX.Y / pythonX.Y, the build's cache tag and version string in `.rodata`,
and finally Py_GetVersion()'s buffer in the target's memory. Every step that was
tried is recorded, so the error for a process we cannot read says what was
looked at.
"""
from __future__ import annotations

import os
import time
from ..records import field, record

from ..binaries.elf import ElfFile
from ..errors import (ElfError, EngineError, InvalidPythonProcess, MemoryReadError,
                      NotEnoughInformation, PystackError)
from ..target.base import Mapping, Target
from . import debug_offsets
from .layout import PythonLayout
from .layouts import layout_for
from .memory import Memory
from .. import log

from ..types import StackMethod

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Callable, Iterator, Optional

    from . import scan

_PF_W = 2
_PF_X = 1
_PT_LOAD = 1
#: A core names no mapping "[heap]": the brk area is the anonymous memory that
#: starts within this distance after the executable (brk is randomised by < 32 MiB).
_HEAP_WINDOW = 1 << 30


@record
class PythonBinary:
    """A file mapped into the target that holds the interpreter's globals."""

    path: str  # as the target names it
    elf: ElfFile
    bias: int
    _static: Optional[bytes] = field(default=None, repr=False, compare=False)

    def address(self, symbol: str) -> Optional[int]:
        value = self.elf.symbol(symbol)
        return None if value is None else value + self.bias

    def section_address(self, name: str) -> Optional[int]:
        section = self.elf.section(name)
        return None if section is None or not section.addr else section.addr + self.bias

    def data_ranges(self) -> list[tuple[int, int]]:
        """The writable PT_LOAD segments (.data, .bss, …) as mapped in the target."""
        return [(s.vaddr + self.bias, s.vaddr + s.memsz + self.bias)
                for s in self.elf.segments
                if s.type == _PT_LOAD and s.flags & _PF_W and s.memsz]

    def static_data(self) -> bytes:
        """`.rodata` and `.data` as the file holds them (where a build keeps its strings).

        String constants are in `.rodata`; some builds keep path strings in
        initialised arrays in `.data` (2.7's "lib/python2.7"). Without section
        headers, every non-executable segment's file contents stand in.
        """
        if self._static is not None:
            return self._static
        pieces = []
        for name in (".rodata", ".data"):
            section = self.elf.section(name)
            if section is not None:
                try:
                    pieces.append(bytes(self.elf.section_data(section)))
                except ElfError:
                    pass
        if not pieces:
            for s in self.elf.segments:
                if s.type == _PT_LOAD and not s.flags & _PF_X and s.filesz:
                    pieces.append(self.elf.read_vaddr(s.vaddr, s.filesz) or b"")
        self._static = b"\0".join(pieces)
        return self._static


@record
class Interpreter:
    """What the walkers need: the layout and where the interpreter list starts."""

    layout: PythonLayout
    version: tuple  # (major, minor, micro) where known
    binary: PythonBinary
    interp_head: int  # address of the first PyInterpreterState
    runtime: Optional[int] = None  # address of _PyRuntime (3.7+)
    current_tstate: Optional[int] = None  # 2.7/3.6: address of _PyThreadState_Current
    method: str = ""
    tried: list = field(default_factory=list)


def named_like_python(path: str) -> bool:
    """A file the interpreter may live in, by its name (`libpython3.12.so`,
    `python3.12`, `python3.14-pie`): where every search starts."""
    return "python" in os.path.basename(path).lower()


def _candidate_paths(target: Target, mappings: list[Mapping]) -> list[str]:
    """Mapped files that may hold the interpreter: libpython first, then the executable."""
    seen: list[str] = []
    for m in mappings:
        if m.is_file and m.path not in seen:
            seen.append(m.path)
    exe = _exe_path(target)
    libpython = [p for p in seen if os.path.basename(p).startswith("libpython")]
    rest = [p for p in seen if p not in libpython]
    ordered = libpython + ([exe] if exe in rest else []) + [p for p in rest if p != exe]
    # Only files that look like part of Python are worth opening (libc has no _PyRuntime)
    return [p for p in ordered if named_like_python(p) or p == exe]


def _exe_path(target: Target) -> Optional[str]:
    try:
        # a core knows which mapped file is the program (not a shebang script)
        return getattr(target, "exe_mapping_path", None) or target.exe
    except PystackError:
        return None


def _open_binary(target: Target, path: str, mappings: list[Mapping]) -> Optional[PythonBinary]:
    own = [m for m in mappings if m.path == path]
    if not own:
        return None
    host = target.mapped_file_path(path)
    if host is None:
        log.warning("%s is mapped in the target but cannot be found here", path)
        return None
    try:
        elf = ElfFile(host)
    except (OSError, ElfError) as exc:
        log.info("cannot open %s: %s", path, exc)
        return None
    try:
        bias = elf.load_bias_from((m.start, m.offset) for m in own)
    except ElfError:
        bias = 0
    return PythonBinary(path, elf, bias)


def _version_from_hex(value: int) -> Optional[tuple]:
    major, minor, micro = value >> 24, (value >> 16) & 0xFF, (value >> 8) & 0xFF
    if major in (2, 3) and minor < 64:
        return (major, minor, micro)
    return None


def _dotted(version: tuple) -> str:
    return ".".join(str(v) for v in version if v is not None)


def locate(target: Target, mem: Memory, methods=StackMethod.AUTO) -> Interpreter:
    """Find the interpreter of `target` or raise InvalidPythonProcess saying what was tried.

    `methods` is a `StackMethod` or an int of their bits: which ways of finding the
    interpreter may be used; see the module docstring for their order.
    """
    bits = methods.value if isinstance(methods, StackMethod) else int(methods)
    return _Locator(target, mem, bits).run()


def _scan():  # -> the pystack.cpython.scan module
    # Imported on first use: it imports `re` (~5 ms), and only the fallbacks (no
    # symbols, stripped binaries) and version checks of pre-3.11 targets need it.
    from . import scan
    return scan


class _Locator:
    """One search: the binaries, what is known of each, and what was tried."""

    def __init__(self, target: Target, mem: Memory, methods: int) -> None:
        self.target = target
        self.mem = mem
        self.methods = methods
        self.mappings = target.mappings()
        self.tried: list[str] = []
        self.weak: Optional[Interpreter] = None  # found, but with no interpreter list
        self.no_version: list[str] = []  # binaries that look like Python, version unknown
        self._paths: Optional[list[str]] = None
        self._opened: dict[str, Optional[PythonBinary]] = {}
        self._versions: dict[str, Optional[tuple]] = {}
        self._data: dict[str, list[scan.Region]] = {}
        self._writable: Optional[scan.AddressSet] = None

    # -- driver ---------------------------------------------------------------------
    def run(self) -> Interpreter:
        steps: list[tuple[StackMethod, Callable[[], Optional[Interpreter]]]] = [
            (StackMethod.SYMBOLS, self._by_symbols),
            (StackMethod.ELF_DATA, self._by_section),
            (StackMethod.DEBUG_OFFSETS, self._by_debug_offsets),
            (StackMethod.BSS, self._by_data_scan),
        ]
        if self.methods != StackMethod.AUTO.value:
            steps += [(StackMethod.ANONYMOUS_MAPS, self._by_anonymous_scan),
                      (StackMethod.HEAP, self._by_heap_scan)]
        for flag, step in steps:
            if not self.methods & flag.value:
                continue
            found = step()
            if found is not None:
                return self._done(found)
        if self.weak is not None:
            return self._done(self.weak)
        raise self._failure()

    def _done(self, found: Interpreter) -> Interpreter:
        found.tried = self.tried
        log.info("found CPython %s in %s (%s)", _dotted(found.version), found.binary.path,
                 found.method)
        return found

    def _failure(self) -> EngineError:
        tried = ", ".join(self.tried) or "no mapped file looks like Python"
        restricted = self.methods not in (StackMethod.AUTO.value, StackMethod.ALL.value)
        if restricted and any(named_like_python(p) for p in self.candidate_paths()):
            # Python is mapped, only not where the caller allowed us to look
            asked = ", ".join(m.name for m in StackMethod
                              if m.value & self.methods and m not in (StackMethod.AUTO,
                                                                      StackMethod.ALL))
            return NotEnoughInformation(
                f"the interpreter was not found by {asked} (tried: {tried}); "
                "other methods may find it")
        if self.no_version:
            return InvalidPythonProcess(
                f"no Python interpreter found: {', '.join(self.no_version)} looks like "
                f"Python but its version cannot be told (tried: {tried})")
        return InvalidPythonProcess(f"no Python interpreter found in the process (tried: {tried})")

    # -- what we know about the target ---------------------------------------------------
    def candidate_paths(self) -> list[str]:
        if self._paths is None:
            self._paths = _candidate_paths(self.target, self.mappings)
        return self._paths

    def binaries(self, only: Optional[Callable[[str], bool]] = None) -> Iterator[PythonBinary]:
        """The candidate binaries, opened one at a time as a step gets to them.

        The common case returns at libpython's first symbol look-up: opening
        every extension module with "python" in its name up front would be waste.
        """
        for path in self.candidate_paths():
            if only is not None and not only(path):
                continue
            if path not in self._opened:
                self._opened[path] = _open_binary(self.target, path, self.mappings)
            binary = self._opened[path]
            if binary is not None:
                yield binary

    def scan_binaries(self) -> list[PythonBinary]:
        """The binaries whose data may hold the interpreter: libpython and the program.

        Extension modules (`*.cpython-311-*.so`) have "python" in their name but
        keep no interpreter pointer worth the scan.
        """
        exe = _exe_path(self.target)

        def wanted(path: str) -> bool:
            name = os.path.basename(path)
            return name.startswith("libpython") or path == exe or (
                ".cpython-" not in name and ".abi3." not in name
                and not name.endswith(".so") and ".so." not in name)

        return list(self.binaries(wanted))

    @property
    def writable(self) -> scan.AddressSet:
        if self._writable is None:
            self._writable = _scan().AddressSet((m.start, m.end) for m in self.mappings
                                             if "w" in m.perms)
        return self._writable

    def data_regions(self, binary: PythonBinary) -> list[scan.Region]:
        """The binary's writable segments read from the target, once."""
        cached = self._data.get(binary.path)
        if cached is not None:
            return cached
        scan = _scan()
        readable = [(m.start, m.end) for m in self.mappings if "r" in m.perms]
        pieces = []
        for lo, hi in binary.data_ranges():
            for mlo, mhi in readable:
                if mlo < hi and lo < mhi:
                    pieces.append((max(lo, mlo), min(hi, mhi)))
        if not pieces:  # the file on disk does not match: take its rw mappings as they are
            pieces = self._mapped_data_ranges(binary.path)
        ranges = [(lo, hi, binary.path) for lo, hi in scan.AddressSet(pieces).ranges]
        started = time.perf_counter()
        regions = list(scan.read_regions(self.mem, ranges))
        log.debug("read %d KiB of data of %s in %.1f ms",
                  sum(len(r.data) for r in regions) >> 10, binary.path,
                  (time.perf_counter() - started) * 1000)
        self._data[binary.path] = regions
        return regions

    def _mapped_data_ranges(self, path: str) -> list[tuple[int, int]]:
        """A file's writable mappings plus the anonymous .bss that directly follows."""
        out = []
        follows = False
        for m in self.mappings:
            if m.path == path and "w" in m.perms:
                out.append((m.start, m.end))
                follows = True
            elif follows and m.path is None and "w" in m.perms and out and m.start == out[-1][1]:
                out.append((m.start, m.end))
            else:
                follows = False
        return out

    # -- versions ---------------------------------------------------------------------------
    def version(self, binary: PythonBinary, runtime: Optional[int] = None) -> Optional[tuple]:
        """The version of the Python in `binary`, from the cheapest source that knows."""
        key = binary.path
        if key in self._versions and runtime is None:
            return self._versions[key]
        version = self._detect_version(binary, runtime)
        self._versions[key] = version
        return version

    def _detect_version(self, binary: PythonBinary, runtime: Optional[int]) -> Optional[tuple]:
        tried = self.tried
        py_version = binary.address("Py_Version")
        if py_version is not None:
            tried.append(f"Py_Version in {binary.path}")
            try:
                version = _version_from_hex(self.mem.u32(py_version))
                if version:
                    return version
            except MemoryReadError:
                pass
        if runtime is not None:
            try:
                hexversion = debug_offsets.peek_version(self.mem.read(runtime, 16))
            except MemoryReadError:
                hexversion = None
            tried.append("_Py_DebugOffsets cookie")
            if hexversion:
                version = _version_from_hex(hexversion)
                if version:
                    return version
        scan = _scan()  # not before: 3.11+ targets are done above, without it
        tried.append(f"file name {binary.path}")
        version = scan.version_from_name(binary.path)
        if version:
            return version
        tried.append(f"version strings in .rodata/.data of {binary.path}")
        version = scan.version_from_rodata(binary.static_data())
        if version:
            return version
        tried.append(f"Py_GetVersion() buffer in the data of {binary.path}")
        return scan.version_in_memory(self.data_regions(binary))

    def looks_like_python(self, binary: PythonBinary) -> bool:
        return (named_like_python(binary.path)
                or bool(_scan().version_tags(binary.static_data())))

    def layout(self, version: tuple, where: str) -> PythonLayout:
        layout = layout_for(version)
        if layout is None:
            raise InvalidPythonProcess(
                f"CPython {version[0]}.{version[1]} is not supported (found in {where})")
        return layout

    def _version_or_raise(self, binary: PythonBinary, runtime: Optional[int] = None) -> tuple:
        version = self.version(binary, runtime)
        if version is None:
            raise InvalidPythonProcess(
                f"found the interpreter in {binary.path} but not its version "
                f"(tried: {', '.join(self.tried)})")
        return version

    # -- 1. symbols ----------------------------------------------------------------------------
    def _by_symbols(self) -> Optional[Interpreter]:
        for binary in self.binaries():
            self.tried.append(f"symbols of {binary.path}")
            runtime = binary.address("_PyRuntime")
            if runtime is not None:
                return self._from_runtime(binary, runtime, "symbol _PyRuntime")
            interp_head = binary.address("interp_head")
            tstate_current = binary.address("_PyThreadState_Current")
            if interp_head is None and tstate_current is None:
                continue
            version = self._version_or_raise(binary)
            layout = self.layout(version, binary.path)
            if layout.has_runtime_state:
                continue  # a 3.7+ build always has _PyRuntime: these names are not its
            if interp_head is not None:
                return Interpreter(layout, version, binary, self.mem.ptr(interp_head), None,
                                   tstate_current, "symbol interp_head")
            tstate = self.mem.ptr(tstate_current)
            head = self.mem.ptr(tstate + layout.thread.interp) if tstate else 0
            found = Interpreter(layout, version, binary, head, None, tstate_current,
                                "symbol _PyThreadState_Current")
            if head:
                return found
            # No thread holds the GIL right now: say "not initialised" only if no
            # scan finds the interpreter either.
            self.tried.append("_PyThreadState_Current (no thread holds the GIL)")
            if self.weak is None:
                self.weak = found
        return None

    def _from_runtime(self, binary: PythonBinary, runtime: int, method: str) -> Interpreter:
        version = self._version_or_raise(binary, runtime)
        layout = self.layout(version, binary.path)
        if debug_offsets.schema_size(layout.version):
            layout = _with_debug_offsets(self.mem, runtime, layout)
        if not layout.has_runtime_state:
            raise InvalidPythonProcess(
                f"{binary.path} has _PyRuntime but CPython {_dotted(version)} should not")
        head = self.mem.ptr(runtime + layout.runtime.interpreters_head)
        return Interpreter(layout, version, binary, head, runtime, None, method)

    # -- 2. the .PyRuntime section -----------------------------------------------------------------
    def _by_section(self) -> Optional[Interpreter]:
        for binary in self.binaries():
            self.tried.append(f".PyRuntime section of {binary.path}")
            runtime = binary.section_address(".PyRuntime")
            if runtime is not None:
                return self._from_runtime(binary, runtime, "section .PyRuntime")
        return None

    # -- 3. the _Py_DebugOffsets cookie ------------------------------------------------------------
    def _by_debug_offsets(self) -> Optional[Interpreter]:
        scan = _scan()
        for binary in self.scan_binaries():
            regions = self.data_regions(binary)
            cookies = scan.find_cookies(regions)
            self.tried.append(f"_Py_DebugOffsets cookie in the data of {binary.path}"
                              + (f" ({len(cookies)} found)" if cookies else ""))
            words = scan.Words(regions, self.mem)
            for runtime in cookies:
                found = self._from_cookie(binary, runtime, words)
                if found is not None:
                    return found
        return None

    def _from_cookie(self, binary: PythonBinary, runtime: int,
                     words: scan.Words) -> Optional[Interpreter]:
        """The interpreter from a cookie, if everything around it is plausible."""
        scan = _scan()
        try:
            hexversion = debug_offsets.peek_version(self.mem.read(runtime, 16))
        except MemoryReadError:
            return None
        version = _version_from_hex(hexversion or 0)
        if version is None or version[:2] < (3, 13):
            return None
        layout = layout_for(version)
        size = debug_offsets.schema_size(version)
        if layout is None or not size:
            return None
        try:
            layout = debug_offsets.apply(self.mem.read(runtime, size), layout)
        except (MemoryReadError, debug_offsets.DebugOffsetsError) as exc:
            log.info("cookie at 0x%x in %s: %s", runtime, binary.path, exc)
            return None
        head = words.word(runtime + layout.runtime.interpreters_head)
        if head is None:
            return None
        if head:
            reason = scan.InterpreterCheck(words, layout, self.writable).reason(head)
            if reason is not None:
                log.info("cookie at 0x%x: interpreters.head 0x%x is not valid: %s",
                         runtime, head, reason)
                return None
        self._versions.setdefault(binary.path, version)
        return Interpreter(layout, version, binary, head, runtime, None,
                           "_Py_DebugOffsets found in the data of the binary")

    # -- 4. scan of .data/.bss ---------------------------------------------------------------------
    def _by_data_scan(self) -> Optional[Interpreter]:
        scan = _scan()
        for binary in self.scan_binaries():
            prepared = self._prepare_scan(binary)
            if prepared is None:
                continue
            version, layout = prepared
            regions = self.data_regions(binary)
            words = scan.Words(regions, self.mem)
            check = scan.InterpreterCheck(words, layout, self.writable)
            started = time.perf_counter()
            found = scan.scan_for_interpreters(regions, check, self.writable)
            size = sum(len(r.data) for r in regions)
            log.info("scanned %d KiB of .data/.bss of %s in %.1f ms: %d interpreter(s)",
                     size >> 10, binary.path, (time.perf_counter() - started) * 1000, len(found))
            self.tried.append(f"scan of the .data/.bss of {binary.path} ({size >> 10} KiB)")
            if found:
                return self._from_scan(binary, version, layout, found, words,
                                       "scan of .data/.bss")
        return None

    def _prepare_scan(self, binary: PythonBinary) -> Optional[tuple[tuple, PythonLayout]]:
        """Version and layout to scan `binary` with, or None (noted) when unknown."""
        version = self.version(binary)
        if version is None:
            if self.looks_like_python(binary) and binary.path not in self.no_version:
                self.no_version.append(binary.path)
            return None
        layout = layout_for(version)
        if layout is None:
            self.tried.append(f"CPython {_dotted(version)} of {binary.path} is not supported")
            return None
        return version, layout

    def _from_scan(self, binary: PythonBinary, version: tuple, layout: PythonLayout,
                   found: list[int], words: scan.Words, method: str) -> Interpreter:
        """Turn valid interpreters into an Interpreter, finding `_PyRuntime` if we can.

        3.7+: `_PyRuntime` is where a word holding a found interpreter sits at
        `interpreters.head` or `interpreters.main`, with the other one linked to it
        through `next`. Knowing it gives the GIL holder (3.7-3.11) and, for 3.13+,
        the target's own debug offsets; it also gives the true head when that is a
        subinterpreter without threads (which the scan cannot validate).
        """
        scan = _scan()
        head = scan.chain_head(found, words, layout.interpreter.next) if len(found) > 1 \
            else found[0]
        runtime = None
        if layout.has_runtime_state:
            runtime, head = self._find_runtime(layout, [head] + [i for i in found if i != head],
                                               words, head)
            if runtime is None:
                log.info("_PyRuntime not identified: the GIL holder may be unknown")
            elif debug_offsets.schema_size(layout.version):
                try:
                    if self.mem.read(runtime, 8) == scan.COOKIE:
                        layout = _with_debug_offsets(self.mem, runtime, layout)
                except MemoryReadError:
                    pass
        tstate_current = binary.address("_PyThreadState_Current")
        if len(found) > 1:
            log.info("%d interpreters found, the list starts at 0x%x", len(found), head)
        return Interpreter(layout, version, binary, head, runtime, tstate_current, method)

    def _find_runtime(self, layout: PythonLayout, interps: list[int], words: scan.Words,
                      head: int) -> tuple[Optional[int], int]:
        """(address of `_PyRuntime`, head of the interpreter list), or (None, `head`)."""
        scan = _scan()
        rt, next_offset = layout.runtime, layout.interpreter.next
        data = [r for b in self.scan_binaries() for r in self._data.get(b.path, [])]
        locations = [(interp, where) for interp in interps
                     for where in scan.pointer_locations(data, interp)]
        # the usual case first (the word is interpreters.head), then interpreters.main
        for field_offset in (rt.interpreters_head, rt.interpreters_main):
            for interp, where in locations:
                base = where - field_offset
                first = words.word(base + rt.interpreters_head)
                main = words.word(base + rt.interpreters_main)
                if not first or not main or first & 7 or first not in self.writable:
                    continue
                if interp in (first, main) and main in _chain(words, first, next_offset):
                    return base, first
        return None, head

    # -- 5. anonymous mappings and the heap ------------------------------------------------------
    def _by_anonymous_scan(self) -> Optional[Interpreter]:
        heap = set(self._heap_ranges())
        ranges = [(m.start, m.end) for m in self.mappings
                  if "w" in m.perms and (m.path is None or m.path.startswith("[anon"))
                  and (m.start, m.end) not in heap]
        return self._scan_memory(ranges, "anonymous mappings")

    def _by_heap_scan(self) -> Optional[Interpreter]:
        return self._scan_memory(self._heap_ranges(), "the heap")

    def _heap_ranges(self) -> list[tuple[int, int]]:
        named = [(m.start, m.end) for m in self.mappings if m.path == "[heap]"]
        if named:
            return named
        exe = _exe_path(self.target)
        ends = [m.end for m in self.mappings if exe and m.path == exe]
        if not ends:
            return []
        after = max(ends)
        return [(m.start, m.end) for m in self.mappings
                if m.path is None and "w" in m.perms and after <= m.start < after + _HEAP_WINDOW]

    def _scan_memory(self, ranges: list[tuple[int, int]], what: str) -> Optional[Interpreter]:
        scan = _scan()
        if not ranges:
            self.tried.append(f"scan of {what} (none found)")
            return None
        for binary in self.scan_binaries():
            prepared = self._prepare_scan(binary)
            if prepared is None:
                continue
            version, layout = prepared
            data = [r for b in self.scan_binaries() for r in self.data_regions(b)]
            words = scan.Words(data, self.mem)
            check = scan.InterpreterCheck(words, layout, self.writable)
            total = sum(hi - lo for lo, hi in ranges)
            progress = scan.Progress(f"Scanning {what}", total)
            started = time.perf_counter()
            try:
                chunks = scan.read_regions(self.mem, [(lo, hi, what) for lo, hi in ranges],
                                           progress)
                found = scan.scan_for_interpreters(chunks, check, self.writable, set())
            finally:
                progress.close()
            log.info("scanned %d MiB of %s in %.2f s: %d interpreter(s)", total >> 20, what,
                     time.perf_counter() - started, len(found))
            self.tried.append(f"scan of {what} ({total >> 20} MiB)")
            if found:
                return self._from_scan(binary, version, layout, found, words, f"scan of {what}")
            return None  # one binary's layout is enough: the memory scanned is the same
        self.tried.append(f"scan of {what} (no Python version known to scan with)")
        return None


def _chain(words: scan.Words, first: int, next_offset: int, limit: int = 1024) -> set[int]:
    seen: set[int] = set()
    cur: Optional[int] = first
    while cur and cur not in seen and len(seen) < limit:
        seen.add(cur)
        cur = words.word(cur + next_offset)
    return seen


def _with_debug_offsets(mem: Memory, runtime: int, layout: PythonLayout) -> PythonLayout:
    size = debug_offsets.schema_size(layout.version)
    try:
        blob = mem.read(runtime, size)
        updated = debug_offsets.apply(blob, layout)
        log.info("using the target's _Py_DebugOffsets (%d bytes)", size)
        return updated
    except (MemoryReadError, debug_offsets.DebugOffsetsError) as exc:
        log.warning("ignoring the target's _Py_DebugOffsets: %s", exc)
        return layout


__all__ = ["Interpreter", "PythonBinary", "locate"]
