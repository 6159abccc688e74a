"""Find the interpreter inside a target: which binary, which version, where the runtime is.

The order follows what is cheapest and most certain first: exported symbols of
libpython or the executable (`_PyRuntime`, `Py_Version`, `interp_head`), the
`.PyRuntime` section, then the target's own `_Py_DebugOffsets` (3.13+), and only then
names of files. Every step that was tried is recorded, so the error for a process we
cannot read says what was looked at.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Optional

from ..binaries.elf import ElfFile
from ..errors import ElfError, InvalidPythonProcess, MemoryReadError, PystackError
from ..target.base import Mapping, Target
from . import debug_offsets
from .layout import PythonLayout
from .layouts import layout_for
from .memory import Memory
from .. import log


_NAME_VERSION = re.compile(r"python(\d)\.(\d{1,2})")
_RODATA_VERSION = re.compile(rb"\x00([23])\.(\d{1,2})\.(\d{1,2})(?:(?:a|b|rc)\d{1,2})?\+?\x00")


@dataclass
class PythonBinary:
    """A file mapped into the target that holds the interpreter's globals."""

    path: str  # as the target names it
    elf: ElfFile
    bias: int

    def address(self, symbol: str) -> Optional[int]:
        value = self.elf.symbol(symbol)
        return None if value is None else value + self.bias

    def section_address(self, name: str) -> Optional[int]:
        section = self.elf.section(name)
        return None if section is None or not section.addr else section.addr + self.bias


@dataclass
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


def _candidate_paths(target: Target, mappings: list[Mapping]) -> list[str]:
    """Mapped files that may hold the interpreter: libpython first, then the executable."""
    seen: list[str] = []
    for m in mappings:
        if m.is_file and m.path not in seen:
            seen.append(m.path)
    try:
        # a core knows which mapped file is the program (not a shebang script)
        exe = getattr(target, "exe_mapping_path", None) or target.exe
    except PystackError:
        exe = None
    libpython = [p for p in seen if os.path.basename(p).startswith("libpython")]
    rest = [p for p in seen if p not in libpython]
    ordered = libpython + ([exe] if exe in rest else []) + [p for p in rest if p != exe]
    # Only files that look like part of Python are worth opening (libc has no _PyRuntime)
    return [p for p in ordered
            if "python" in os.path.basename(p).lower() or p == exe]


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


def _detect_version(mem: Memory, binary: PythonBinary, runtime: Optional[int],
                    tried: list) -> Optional[tuple]:
    py_version = binary.address("Py_Version")
    if py_version is not None:
        try:
            version = _version_from_hex(mem.u32(py_version))
            tried.append(f"Py_Version in {binary.path}")
            if version:
                return version
        except MemoryReadError:
            pass
    if runtime is not None:
        try:
            hexversion = debug_offsets.peek_version(mem.read(runtime, 16))
        except MemoryReadError:
            hexversion = None
        tried.append("_Py_DebugOffsets cookie")
        if hexversion:
            version = _version_from_hex(hexversion)
            if version:
                return version
    tried.append(f"file name {binary.path}")
    match = _NAME_VERSION.search(os.path.basename(binary.path))
    if match:
        return (int(match.group(1)), int(match.group(2)), None)
    rodata = binary.elf.section(".rodata")
    if rodata is not None:
        tried.append(f".rodata of {binary.path}")
        match = _RODATA_VERSION.search(bytes(binary.elf.section_data(rodata)))
        if match:
            return tuple(int(g) for g in match.groups())
    return None


def locate(target: Target, mem: Memory) -> Interpreter:
    """Find the interpreter of `target` or raise InvalidPythonProcess saying what was tried."""
    mappings = target.mappings()
    tried: list[str] = []
    for path in _candidate_paths(target, mappings):
        binary = _open_binary(target, path, mappings)
        if binary is None:
            continue
        runtime = binary.address("_PyRuntime")
        method = "symbol _PyRuntime"
        if runtime is None:
            runtime = binary.section_address(".PyRuntime")
            method = "section .PyRuntime"
        interp_head_sym = binary.address("interp_head")
        tstate_current = binary.address("_PyThreadState_Current")
        tried.append(f"symbols of {path}")
        if runtime is None and interp_head_sym is None and tstate_current is None:
            continue
        version = _detect_version(mem, binary, runtime, tried)
        if version is None:
            raise InvalidPythonProcess(
                f"found the interpreter in {path} but not its version "
                f"(tried: {', '.join(tried)})")
        layout = layout_for(version)
        if layout is None:
            raise InvalidPythonProcess(
                f"CPython {version[0]}.{version[1]} is not supported (found in {path})")
        if runtime is not None and debug_offsets.schema_size(layout.version):
            layout = _with_debug_offsets(mem, runtime, layout)
        log.info("found CPython %s in %s (%s)", ".".join(str(v) for v in version if v is not None),
                 path, method if runtime is not None else "symbol interp_head")
        if layout.has_runtime_state:
            if runtime is None:
                continue
            head = mem.ptr(runtime + layout.runtime.interpreters_head)
        elif interp_head_sym is not None:
            head = mem.ptr(interp_head_sym)
            method = "symbol interp_head"
        else:
            tstate = mem.ptr(tstate_current)
            head = mem.ptr(tstate + layout.thread.interp) if tstate else 0
            method = "symbol _PyThreadState_Current"
        return Interpreter(layout, version, binary, head, runtime, tstate_current,
                           method, tried)
    raise InvalidPythonProcess(
        "no Python interpreter found in the process "
        f"(tried: {', '.join(tried) or 'no mapped file looks like Python'})")


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
