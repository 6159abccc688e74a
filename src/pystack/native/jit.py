"""Native stacks through code that has no CFI: perf trampolines and JIT code.

A 3.12+ interpreter started with ``-X perf`` (or after
``sys.activate_stack_trampoline("perf")``) enters every Python call through a small
trampoline copied at run time into anonymous memory. No unwind table covers it, so a
walk by unwind tables (libdw's, ours) stops there. The trampoline is four instructions
of known shape around a ``call``, so stepping over it needs no table: its return
address and the caller's stack pointer are at fixed places above the stack pointer
where the tables ended. The interpreter
writes where each trampoline lies, and for which Python function, to
``/tmp/perf-PID.map`` (``START SIZE NAME`` in hex), which names them.

x86-64 only: other machines lay their trampolines out differently.
"""
from __future__ import annotations

import bisect
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Callable, Dict, List, Optional, Tuple

#: DWARF register numbers (x86-64) of what a frame-pointer step needs and keeps: the
#: callee-saved registers, which the trampoline leaves alone, and rbp, rsp.
RBX, RBP, RSP = 3, 6, 7
CALLEE_SAVED = (RBX, 12, 13, 14, 15)
#: Library shown for code the perf map names.
PERF_MAP_LIBRARY = "[perf map]"


#: The instructions before the trampoline's ``call *%rcx`` (ff d1), and whether they
#: saved the caller's frame pointer at the stack pointer: 3.12 reserves the slot
#: (``sub $8, %rsp``), later builds push rbp (``push %rbp; mov %rsp, %rbp``). Either
#: way the return address is 8 bytes above the stack pointer, the caller's stack
#: pointer 16 above it, and the callee-saved registers pass through untouched.
_TRAMPOLINE_PROLOGUES = {
    bytes.fromhex("4883ec08ffd1"): False,
    bytes.fromhex("554889e5ffd1"): True,
}


def returns_into_trampoline(pc: int, read: Callable[[int, int], bytes]) -> bool:
    """Whether `pc`, a return address, follows a trampoline's call (with or without
    a perf map to name it: ``-X perf_jit`` writes none)."""
    try:
        return pc >= 6 and read(pc - 6, 6) in _TRAMPOLINE_PROLOGUES
    except Exception:  # noqa: BLE001 - unreadable code is no trampoline we know
        return False


def step_over(pc: int, registers: Dict[int, int],
              read: Callable[[int, int], bytes]) -> Optional[Tuple[int, Dict[int, int]]]:
    """The caller of a trampoline frame: (its pc, its registers), or None when the
    code at `pc` (the return address into it) is not a trampoline we know.

    `registers` are the frame's as libdw unwound them: rsp its stack pointer (the
    callee's CFA), the callee-saved ones as the callee's CFI restored them.
    """
    sp = registers.get(RSP)
    if not sp or pc < 6:
        return None
    try:
        saved_bp_slot = _TRAMPOLINE_PROLOGUES.get(read(pc - 6, 6))
        if saved_bp_slot is None:
            return None
        saved_bp, return_address = struct.unpack("<QQ", read(sp, 16))
    except Exception:  # noqa: BLE001 - unreadable: the stack ends here
        return None
    if not return_address:
        return None
    caller = {r: registers[r] for r in (RBP, *CALLEE_SAVED) if r in registers}
    if saved_bp_slot:
        caller[RBP] = saved_bp
    caller[RSP] = sp + 16
    return return_address, caller


class AnonymousCode:
    """The target's executable memory that no file backs: where trampolines and JIT
    code live (libdw may count some of it into the module mapped next to it)."""

    def __init__(self, mappings) -> None:
        ranges = sorted((m.start, m.end) for m in mappings
                        if not m.is_file and "x" in (m.perms or "x"))
        self._starts = [start for start, _ in ranges]
        self._ranges = ranges

    def __contains__(self, address: int) -> bool:
        index = bisect.bisect_right(self._starts, address) - 1
        return index >= 0 and address < self._ranges[index][1]


class PerfMap:
    """The ``/tmp/perf-PID.map`` a process wrote: address ranges to names."""

    def __init__(self, entries: List[Tuple[int, int, str]]) -> None:
        entries.sort()
        self._starts = [start for start, _, _ in entries]
        self._entries = entries

    @classmethod
    def load(cls, path: str) -> Optional["PerfMap"]:
        """The map at `path`, None when there is none (or it cannot be read)."""
        try:
            with open(path, "rb") as f:
                data = f.read(64 << 20)
        except OSError:
            return None
        entries = []
        for line in data.decode("utf-8", "replace").splitlines():
            start, _, rest = line.partition(" ")
            size, _, name = rest.partition(" ")
            try:
                entries.append((int(start, 16), int(size, 16), name.strip()))
            except ValueError:
                continue
        return cls(entries)

    def name_of(self, pc: int) -> Optional[str]:
        index = bisect.bisect_right(self._starts, pc) - 1
        if index < 0:
            return None
        start, size, name = self._entries[index]
        return name if pc < start + size else None


class CodeWithoutModule:
    """Tells the nameless frames of code no file backs: perf trampolines (which the
    merged stack hides, like the rest of the interpreter's plumbing) and JIT code,
    named from the target's perf map where it wrote one."""

    def __init__(self, read: Callable[[int, int], bytes], anonymous: AnonymousCode,
                 module_path: Callable[[int], Optional[str]], perf_map_path: str) -> None:
        self._read = read
        self._anonymous = anonymous
        self._module_path = module_path
        self._perf_map_path = perf_map_path
        self._perf_map: Optional[List[Optional[PerfMap]]] = None  # looked for once

    def is_trampoline(self, frame) -> bool:
        """Whether the frame (a RawNativeFrame) returns into a trampoline."""
        return (not frame.is_activation and frame.pc in self._anonymous
                and returns_into_trampoline(frame.pc, self._read))

    def frame(self, raw):
        """A ResolvedFrame for code no module holds, None for a frame in a module."""
        from .symbols import UNKNOWN, ResolvedFrame
        if self._module_path(raw.lookup_pc) is not None:
            return None
        if self._perf_map is None:
            self._perf_map = [PerfMap.load(self._perf_map_path)]
        perf_map = self._perf_map[0]
        name = perf_map.name_of(raw.lookup_pc) if perf_map is not None else None
        return ResolvedFrame(raw.pc, name or UNKNOWN, UNKNOWN, 0, 0,
                             PERF_MAP_LIBRARY if name else UNKNOWN)
