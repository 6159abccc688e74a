"""Native stacks without libdw: our own unwinder over `.eh_frame`, names from ELF
symbol tables.

Used when elfutils cannot be loaded (a slim container, a minimal host), so that
`pip install pystack` is all `--native` needs. It walks each thread from the
registers ptrace (or the core's NT_PRSTATUS) gives, one frame at a time by the CFI
of the file mapped at the pc (`cfi.FrameTable`), steps over perf trampolines
(`jit`), and names frames from `.symtab`, the debug file's, `.dynsym` or
MiniDebugInfo (`elfsyms`). It does not read DWARF: frames have no source line and
inlined calls are not shown (libdw does both when it is there).

The interface is `NativeUnwinder`'s, so the engine uses either. x86-64 only.
"""
from __future__ import annotations

import bisect
import os
import struct

from ..binaries.elf import ElfError, ElfFile
from ..errors import EngineError, MemoryReadError
from . import cfi, jit
from .demangle import demangle
from .symbols import UNKNOWN, RawNativeFrame, ResolvedFrame

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Dict, List, Optional, Tuple

#: user_regs_struct names -> DWARF register numbers (x86-64).
_DWARF_NUMBERS = {"rax": 0, "rdx": 1, "rcx": 2, "rbx": 3, "rsi": 4, "rdi": 5, "rbp": 6,
                  "rsp": 7, "r8": 8, "r9": 9, "r10": 10, "r11": 11, "r12": 12, "r13": 13,
                  "r14": 14, "r15": 15, "rip": 16}
_PC = 16
_SP = 7


class _Module:
    """One file mapped in the target, opened on first use."""

    __slots__ = ("path", "host", "mappings", "library", "bias", "elf", "frames",
                 "symbols", "opened", "failed")

    def __init__(self, path: str, host: Optional[str]) -> None:
        self.path = path
        self.host = host
        self.mappings: List[Tuple[int, int]] = []  # (start, file offset)
        self.library = os.path.basename(path.split(" (deleted)")[0]) or path
        self.bias: Optional[int] = None
        self.elf: Optional[ElfFile] = None
        self.frames: Optional[cfi.FrameTable] = None
        self.symbols = None
        self.opened: List[ElfFile] = []
        self.failed = False


class CfiUnwinder:
    """Unwinds the threads of a stopped process or a core through their CFI."""

    def __init__(self, target, roots: List[Optional[str]], core: bool) -> None:
        """`roots`: where debug files may be (the target's root, a core's image);
        `core`: the target is a core, whose files are checked against its build ids."""
        if os.uname().machine != "x86_64":
            raise EngineError("native stacks without libdw are only read on x86-64: "
                              "install libdw1 (elfutils)")
        self._target = target
        self._roots = roots
        self.is_core = core
        self.read_memory = target.read
        mappings = target.mappings()
        self.anonymous_code = jit.AnonymousCode(mappings)
        self.unwind_errors: Dict[int, str] = {}
        self._pages: Dict[int, bytes] = {}  # the target is stopped: pages do not change
        #: Set when another object says in -v what this one did.
        self.quiet = False
        modules: Dict[str, _Module] = {}
        code = []
        for mapping in mappings:
            if not mapping.is_file:
                continue
            module = modules.get(mapping.path)
            if module is None:
                module = modules[mapping.path] = _Module(mapping.path, None)
            module.mappings.append((mapping.start, mapping.offset))
            if "x" in (mapping.perms or "x"):
                code.append((mapping.start, mapping.end, module))
        code.sort(key=lambda item: item[0])
        self._code = code
        self._code_starts = [start for start, _, _ in code]
        self._used: List[_Module] = []

    # -- construction, as NativeUnwinder's ------------------------------------------------

    @classmethod
    def for_target(cls, target, *, core: bool = False) -> "CfiUnwinder":
        roots = [getattr(target, "lib_search_root", None) if core else target.root]
        return cls(target, roots, core=core)

    def __enter__(self) -> "CfiUnwinder":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        from .. import log
        if self._used and not self.quiet and log.enabled(log.INFO):
            log.info("native frames: %s", self.describe())
        for module in self._used:
            for elf in module.opened:
                elf.close()
        self._used = []

    def describe(self) -> str:
        """What unwound and named the frames, for -v (before `close`)."""
        named = self.sources()
        return ("unwound by pystack from .eh_frame"
                + ("; names from " + "; ".join(named) if named else ""))

    def sources(self) -> List[str]:
        """Where the names of each library came from (none when another names)."""
        return [f"{module.library}: " + ", ".join(module.symbols.sources or ["no symbols"])
                for module in self._used if module.symbols is not None]

    # -- threads --------------------------------------------------------------------------

    def threads(self) -> List[int]:
        return list(self._target.thread_ids())

    def unwind(self, tid: int, max_frames: int = 4096) -> List[RawNativeFrame]:
        try:
            named = self._target.registers(tid)
        except EngineError as exc:
            self.unwind_errors[tid] = str(exc)
            return []
        registers = {number: named[name] for name, number in _DWARF_NUMBERS.items()
                     if name in named}
        frames: List[RawNativeFrame] = []
        reason = self._walk(registers, frames, max_frames)
        if reason:
            self.unwind_errors[tid] = reason
        else:
            self.unwind_errors.pop(tid, None)
        return frames

    def _walk(self, registers: Dict[int, int], frames: List[RawNativeFrame],
              max_frames: int) -> Optional[str]:
        """Frames from `registers` on, appended innermost first; why it stopped early."""
        pc = registers.get(_PC)
        activation = True
        read_word = self._read_word
        while pc and len(frames) < max_frames:
            sp = registers.get(_SP, 0)
            frames.append(RawNativeFrame(pc, activation, sp))
            lookup = pc if activation else pc - 1
            try:
                rules = self._rules_at(lookup)
                if rules is None:
                    if activation or lookup not in self.anonymous_code:
                        return f"no CFI for 0x{pc:x}"
                    step = jit.step_over(pc, registers, self.read_memory)
                    if step is None:
                        return f"no CFI for 0x{pc:x}"
                    pc, registers = step
                    registers[_PC] = pc
                    activation = False
                    continue
                caller = cfi.caller_registers(rules, registers, read_word)
            except (cfi.CfiError, MemoryReadError, EngineError, struct.error,
                    IndexError) as exc:
                return f"cannot unwind past 0x{pc:x}: {exc}"
            if rules.signal_frame and not activation:
                # the signal trampoline itself: the handler "returned" to its very
                # first instruction, not past a call (its CFI covers the byte before,
                # so the rules found are right; its name is at the pc itself)
                frames[-1] = RawNativeFrame(pc, True, sp)
            return_address = caller.get(rules.ra_register)
            if not return_address:
                return None  # the outermost frame (_start, clone3: RA undefined)
            if caller.get(_SP, 0) <= sp and not rules.signal_frame:
                return f"the stack pointer does not grow at 0x{pc:x}"
            caller[_PC] = return_address
            pc, registers = return_address, caller
            activation = rules.signal_frame  # a signal frame's caller was interrupted
        if pc and len(frames) >= max_frames:
            return f"stopped after {max_frames} frames"
        return None

    def _read_word(self, address: int) -> int:
        """A word of the stack, through a cache of whole pages: a walk reads a few
        words of every frame, all from the same few pages."""
        page = address & ~0xFFF
        data = self._pages.get(page)
        if data is None:
            try:
                data = self.read_memory(page, 0x1000)
            except (MemoryReadError, EngineError):
                return struct.unpack("<Q", self.read_memory(address, 8))[0]
            self._pages[page] = data
        offset = address - page
        if offset > 0x1000 - 8:
            return struct.unpack("<Q", self.read_memory(address, 8))[0]
        return struct.unpack_from("<Q", data, offset)[0]

    # -- modules --------------------------------------------------------------------------

    def _module_at(self, address: int) -> Optional[_Module]:
        index = bisect.bisect_right(self._code_starts, address) - 1
        if index < 0:
            return None
        start, end, module = self._code[index]
        if address >= end:
            return None
        return module if self._open(module) else None

    def _open(self, module: _Module) -> bool:
        if module.elf is not None:
            return True
        if module.failed:
            return False
        module.failed = True
        self._used.append(module)
        host = self._target.mapped_file_path(module.path)
        if not host:
            return False
        try:
            elf = ElfFile(host)
        except ElfError:
            return False
        module.opened.append(elf)
        if self.is_core:
            wanted = self._target.core_build_id(module.path)
            found = elf.build_id
            if wanted and found is not None and found.hex() != wanted:
                return False  # another build than the one the core ran
        try:
            module.bias = elf.load_bias_from(module.mappings)
        except ElfError:
            return False
        module.host = host
        module.elf = elf
        module.failed = False
        return True

    def _rules_at(self, address: int) -> Optional[cfi.Rules]:
        module = self._module_at(address)
        if module is None:
            return None
        if module.frames is None:
            try:
                module.frames = cfi.FrameTable(module.elf)
            except (cfi.CfiError, ElfError):
                return None
        return module.frames.rules_at(address - module.bias)

    def _symbols(self, module: _Module):
        if module.symbols is None:
            from .elfsyms import index_for
            module.symbols = index_for(module.elf, self._roots, module.opened.append)
        return module.symbols

    # -- names, as NativeUnwinder's --------------------------------------------------------

    def function_of(self, frame: RawNativeFrame) -> Optional[ResolvedFrame]:
        module = self._module_at(frame.lookup_pc)
        if module is None:
            return None
        name = self._symbols(module).lookup(frame.lookup_pc - module.bias)
        if name is None:
            return None
        return ResolvedFrame(frame.pc, demangle(name), UNKNOWN, 0, 0, module.library,
                             offset=frame.pc - module.bias)

    def symbolize(self, frame: RawNativeFrame) -> List[ResolvedFrame]:
        return [self.function_of(frame) or self.unnamed(frame)]

    def unnamed(self, frame: RawNativeFrame, symbol: str = UNKNOWN) -> ResolvedFrame:
        module = self._module_at(frame.lookup_pc)
        if module is None:
            return ResolvedFrame(frame.pc, symbol, UNKNOWN, 0, 0, UNKNOWN)
        return ResolvedFrame(frame.pc, symbol, UNKNOWN, 0, 0, module.library,
                             offset=frame.pc - module.bias)

    def module_path(self, pc: int) -> Optional[str]:
        module = self._module_at(pc)
        return module.host if module is not None else None
