"""Parsers for the payloads of the notes a Linux core file carries.

Each parser takes the descriptor bytes of one note (owner "CORE") and returns a
small named tuple, a `TupleRecord` (not a dataclass: a frozen dataclass costs about a millisecond
of import time each, and these are created once per core).  They are pure functions over bytes, kept apart from the core
reader so that they can be tested on hand-built payloads and fuzzed: a core is
untrusted input, and every parser here either returns a value or raises
`CoreNoteError`, never anything else, never allocates more than its payload
size suggests, and never loops longer than its payload allows.

Layouts are those of 64-bit little-endian Linux (x86-64; aarch64 shares them
except for the register set).  Sources of truth are the kernel's
``struct elf_prstatus``, ``struct elf_prpsinfo``, ``siginfo_t`` and the NT_FILE
format written by ``fill_files_note``.
"""
from __future__ import annotations

import os
import struct

from pystack.errors import EngineError
from pystack.records import TupleRecord

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Optional

__all__ = [
    "CoreNoteError",
    "PrStatus",
    "PsInfo",
    "SigInfo",
    "FileMapping",
    "parse_prstatus",
    "parse_prpsinfo",
    "parse_siginfo",
    "parse_auxv",
    "parse_file_note",
    "parse_arm_tls",
    "register_names",
]

# Note types (owner "CORE" unless noted).
NT_PRSTATUS = 1
NT_PRFPREG = 2
NT_PRPSINFO = 3
NT_AUXV = 6
NT_SIGINFO = 0x53494749  # "SIGI"
NT_FILE = 0x46494C45  # "FILE"
NT_ARM_TLS = 0x401  # owner "LINUX": tpidr_el0 of one thread

# e_machine values whose register sets we know.
EM_X86_64 = 62
EM_AARCH64 = 183

# Auxiliary vector keys the core reader uses.
AT_NULL = 0
AT_PHDR = 3
AT_PHENT = 4
AT_PHNUM = 5
AT_PAGESZ = 6
AT_BASE = 7
AT_ENTRY = 9
AT_EXECFN = 31

# si_code values that mean "sent by a process" (the sender's pid/uid follow).
SI_USER = 0
SI_KERNEL = 0x80
SI_QUEUE = -1
SI_TIMER = -2
SI_MESGQ = -3
SI_ASYNCIO = -4
SI_SIGIO = -5
SI_TKILL = -6
_SENDER_CODES = frozenset({SI_USER, SI_QUEUE, SI_MESGQ, SI_TKILL})

# Signals whose siginfo carries the faulting address (when the kernel raised them).
SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV = 4, 5, 7, 8, 11
_FAULT_SIGNALS = frozenset({SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV})

_X86_64_REGS = (
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
    "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
    "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
)
_AARCH64_REGS = tuple(f"x{i}" for i in range(31)) + ("sp", "pc", "pstate")
_REGISTER_SETS = {EM_X86_64: _X86_64_REGS, EM_AARCH64: _AARCH64_REGS}

# struct elf_prstatus: elf_siginfo (signo, code, errno), cursig (short, padded),
# sigpend, sighold, pid, ppid, pgrp, sid, then four struct timeval, then pr_reg.
_PRSTATUS_HEAD = struct.Struct("<iiih2xQQiiii4q4q")
_PRSTATUS_REGS_OFFSET = _PRSTATUS_HEAD.size  # 112 on every 64-bit Linux
# struct elf_prpsinfo: state, sname, zomb, nice, pad, flag, uid, gid, pid, ppid,
# pgrp, sid, fname[16], psargs[80].
_PRPSINFO = struct.Struct("<cBBb4xQIIiiii16s80s")
# siginfo_t: signo, errno, code, padding, then the union at offset 16.
_SIGINFO_HEAD = struct.Struct("<iii4x")
_SIGINFO_SIZE = 128
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_AUXV_ENTRY = struct.Struct("<QQ")
_FILE_HEAD = struct.Struct("<QQ")
_FILE_ENTRY = struct.Struct("<QQQ")

#: Largest page size an NT_FILE note may declare (64 KiB pages exist on
#: aarch64/ppc64; anything far beyond is corruption).
_MAX_PAGE_SIZE = 1 << 24


class CoreNoteError(EngineError):
    """A note of the core file is too short or inconsistent to be parsed."""


class PrStatus(TupleRecord):
    """NT_PRSTATUS: one thread of the core."""

    pid: int  # the thread id (tid)
    ppid: int
    pgrp: int
    sid: int
    cursig: int
    sigpend: int
    sighold: int
    #: (seconds, microseconds) of user/system time, and of reaped children.
    utime: tuple[int, int]
    stime: tuple[int, int]
    cutime: tuple[int, int]
    cstime: tuple[int, int]
    registers: dict[str, int]
    info_signo: int = 0
    info_code: int = 0
    info_errno: int = 0

    @property
    def tid(self) -> int:
        return self.pid


class PsInfo(TupleRecord):
    """NT_PRPSINFO: the process as `ps` would have shown it at the crash."""

    state: int  # pr_state: 0 running, 1 sleeping, 2 disk sleep, 4 zombie, 8 stopped...
    sname: str  # one letter, as in /proc/PID/stat ("R", "S", "D", "Z", "T", ...)
    zombie: bool
    nice: int
    flag: int  # task flags (PF_*)
    uid: int
    gid: int
    pid: int
    ppid: int
    pgrp: int
    sid: int
    fname: str  # comm, at most 15 characters
    psargs: str  # the command line, NULs replaced by spaces, at most 79 characters
    #: psargs as the kernel left it (with the space that replaced the last NUL)
    raw_psargs: str = ""


class SigInfo(TupleRecord):
    """NT_SIGINFO: the signal that killed the process (or stopped it, for gcore)."""

    signo: int
    errno: int
    code: int
    #: For SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP raised by the kernel: the faulting address.
    fault_address: Optional[int] = None
    #: For signals sent by a process (kill, tgkill, sigqueue): who sent it.
    sender_pid: Optional[int] = None
    sender_uid: Optional[int] = None

    @property
    def sent_by_process(self) -> bool:
        return self.sender_pid is not None


class FileMapping(TupleRecord):
    """One NT_FILE entry: a file-backed range of the address space."""

    start: int
    end: int
    offset: int  # in bytes (the note records pages)
    path: str

    @property
    def size(self) -> int:
        return self.end - self.start

    def contains(self, address: int) -> bool:
        return self.start <= address < self.end


def _require(data: bytes | memoryview, size: int, what: str) -> None:
    if len(data) < size:
        raise CoreNoteError(f"{what} note is {len(data)} bytes, expected at least {size}")


def _cstr(raw: bytes) -> str:
    """A fixed-size C char array as text: up to the first NUL, bytes kept via surrogates."""
    return os.fsdecode(raw.split(b"\0", 1)[0])


def register_names(machine: int) -> tuple[str, ...]:
    """Names of the general-purpose registers in NT_PRSTATUS for an e_machine value."""
    return _REGISTER_SETS.get(machine, ())


def parse_prstatus(data: bytes | memoryview, machine: int = EM_X86_64) -> PrStatus:
    """Parse NT_PRSTATUS.

    Registers are decoded for machines we know (x86-64, aarch64); for others,
    or when the note is too short to hold them, the dict is empty rather than
    failing: the thread id is what matters most.
    """
    _require(data, _PRSTATUS_HEAD.size, "NT_PRSTATUS")
    (signo, code, errno_, cursig, sigpend, sighold, pid, ppid, pgrp, sid,
     ut_s, ut_us, st_s, st_us, cut_s, cut_us, cst_s, cst_us) = _PRSTATUS_HEAD.unpack_from(data, 0)
    names = register_names(machine)
    registers: dict[str, int] = {}
    if names and len(data) >= _PRSTATUS_REGS_OFFSET + 8 * len(names):
        values = struct.unpack_from(f"<{len(names)}Q", data, _PRSTATUS_REGS_OFFSET)
        registers = dict(zip(names, values))
    return PrStatus(
        pid=pid, ppid=ppid, pgrp=pgrp, sid=sid, cursig=cursig,
        sigpend=sigpend, sighold=sighold,
        utime=(ut_s, ut_us), stime=(st_s, st_us), cutime=(cut_s, cut_us), cstime=(cst_s, cst_us),
        registers=registers, info_signo=signo, info_code=code, info_errno=errno_,
    )


def parse_prpsinfo(data: bytes | memoryview) -> PsInfo:
    """Parse NT_PRPSINFO (64-bit layout, 136 bytes)."""
    _require(data, _PRPSINFO.size, "NT_PRPSINFO")
    (state, sname, zomb, nice, flag, uid, gid, pid, ppid, pgrp, sid,
     fname, psargs) = _PRPSINFO.unpack_from(data, 0)
    # The kernel replaces the NULs between arguments with spaces; only the
    # padding after the last one is NUL (and a trailing space is an artefact).
    args = _cstr(psargs).rstrip(" ")
    return PsInfo(
        state=state[0], sname=chr(sname) if sname else "", zombie=bool(zomb), nice=nice,
        flag=flag, uid=uid, gid=gid, pid=pid, ppid=ppid, pgrp=pgrp, sid=sid,
        fname=_cstr(fname), psargs=args, raw_psargs=_cstr(psargs),
    )


def parse_siginfo(data: bytes | memoryview) -> SigInfo:
    """Parse NT_SIGINFO (a raw siginfo_t) and decode the part of its union that applies.

    The union's meaning depends on the signal and on si_code: a positive code
    means the kernel raised the signal (for fault signals the address follows),
    a code of SI_USER/SI_TKILL/SI_QUEUE/SI_MESGQ means a process sent it (its
    pid and uid follow).  Other cases (timers, SIGCHLD, SIGIO) carry neither.
    """
    _require(data, _SIGINFO_HEAD.size + 8, "NT_SIGINFO")
    signo, errno_, code = _SIGINFO_HEAD.unpack_from(data, 0)
    union = _SIGINFO_HEAD.size
    if code in _SENDER_CODES:
        pid = _I32.unpack_from(data, union)[0]
        uid = _U32.unpack_from(data, union + 4)[0]
        return SigInfo(signo, errno_, code, sender_pid=pid, sender_uid=uid)
    if code > 0 and signo in _FAULT_SIGNALS:
        return SigInfo(signo, errno_, code, fault_address=_U64.unpack_from(data, union)[0])
    return SigInfo(signo, errno_, code)


def parse_auxv(data: bytes | memoryview) -> dict[int, int]:
    """Parse NT_AUXV: (key, value) pairs up to AT_NULL; the first value of a key wins."""
    auxv: dict[int, int] = {}
    usable = len(data) - len(data) % _AUXV_ENTRY.size
    for key, value in _AUXV_ENTRY.iter_unpack(data[:usable]):
        if key == AT_NULL:
            break
        auxv.setdefault(key, value)
    return auxv


def parse_file_note(data: bytes | memoryview) -> tuple[int, list[FileMapping]]:
    """Parse NT_FILE: (page size, mappings with byte offsets).

    Layout: count, page size, count * (start, end, offset in pages), then
    count NUL-terminated paths.  The count is checked against what the note
    can hold before anything is allocated from it.
    """
    _require(data, _FILE_HEAD.size, "NT_FILE")
    count, page_size = _FILE_HEAD.unpack_from(data, 0)
    table_end = _FILE_HEAD.size + count * _FILE_ENTRY.size
    # Each entry also needs at least one byte (a NUL) for its path.
    if count > (len(data) - _FILE_HEAD.size) // (_FILE_ENTRY.size + 1):
        raise CoreNoteError(f"NT_FILE note claims {count} mappings but holds at most "
                            f"{(len(data) - _FILE_HEAD.size) // (_FILE_ENTRY.size + 1)}")
    if page_size == 0 or page_size & (page_size - 1) or page_size > _MAX_PAGE_SIZE:
        raise CoreNoteError(f"NT_FILE note has an invalid page size {page_size}")
    names = bytes(data[table_end:]).split(b"\0", count)
    if len(names) <= count:
        # Fewer than `count` terminators: the last path runs off the note.
        raise CoreNoteError(f"NT_FILE note has fewer than {count} NUL-terminated paths")
    entries = _FILE_ENTRY.iter_unpack(data[_FILE_HEAD.size:table_end])
    mappings = [
        FileMapping(start, end, pgoff * page_size, os.fsdecode(name))
        for (start, end, pgoff), name in zip(entries, names)
        if end > start
    ]
    return page_size, mappings


def parse_arm_tls(data: bytes | memoryview) -> int:
    """Parse NT_ARM_TLS (owner LINUX): the thread pointer tpidr_el0 of an aarch64 thread."""
    _require(data, 8, "NT_ARM_TLS")
    return _U64.unpack_from(data, 0)[0]
