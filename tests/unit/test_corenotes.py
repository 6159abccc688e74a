"""The note parsers on hand-built payloads, and on random bytes (they must never crash).

Payloads are packed here field by field from the kernel's struct definitions,
independently of the parsers' own format strings, so a wrong offset in either
shows up as a mismatch.
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from pystack.errors import EngineError  # noqa: E402
from pystack.target import corenotes  # noqa: E402
from pystack.target.corenotes import CoreNoteError  # noqa: E402

X86_REGS = (
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
    "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
    "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
)


def prstatus_payload(tid: int = 4242, regs: dict[str, int] | None = None) -> bytes:
    """struct elf_prstatus for x86-64, 336 bytes."""
    regs = regs or {}
    out = bytearray()
    out += struct.pack("<iii", 11, 1, 0)  # pr_info: si_signo, si_code, si_errno
    out += struct.pack("<h", 11)  # pr_cursig
    out += b"\0\0"  # padding to 8
    out += struct.pack("<QQ", 0x4000, 0x10000)  # pr_sigpend, pr_sighold
    out += struct.pack("<iiii", tid, 100, 101, 102)  # pid, ppid, pgrp, sid
    out += struct.pack("<qq", 3, 500)  # pr_utime
    out += struct.pack("<qq", 4, 600)  # pr_stime
    out += struct.pack("<qq", 0, 0) * 2  # cutime, cstime
    assert len(out) == 112
    for i, name in enumerate(X86_REGS):
        out += struct.pack("<Q", regs.get(name, 0x1000 + i))
    out += struct.pack("<i", 1) + b"\0" * 4  # pr_fpvalid + padding
    assert len(out) == 336
    return bytes(out)


def prpsinfo_payload(**kw) -> bytes:
    """struct elf_prpsinfo for 64-bit, 136 bytes."""
    out = bytearray()
    out += bytes([kw.get("state", 1)])
    out += kw.get("sname", b"S")
    out += bytes([kw.get("zomb", 0)])
    out += struct.pack("<b", kw.get("nice", -5))
    out += b"\0" * 4
    out += struct.pack("<Q", 0x400040)  # pr_flag
    out += struct.pack("<II", kw.get("uid", 1000), kw.get("gid", 1001))
    out += struct.pack("<iiii", kw.get("pid", 77), kw.get("ppid", 1), 77, 60)
    out += kw.get("fname", b"python3").ljust(16, b"\0")[:16]
    out += kw.get("psargs", b"python3 -c pass ").ljust(80, b"\0")[:80]
    assert len(out) == 136
    return bytes(out)


def siginfo_payload(signo: int, code: int, union: bytes, errno_: int = 0) -> bytes:
    """siginfo_t: signo, errno, code, padding, union at 16; 128 bytes."""
    out = struct.pack("<iii", signo, errno_, code) + b"\0" * 4 + union
    return out.ljust(128, b"\0")


def file_payload(entries: list[tuple[int, int, int, bytes]], page_size: int = 4096) -> bytes:
    out = struct.pack("<QQ", len(entries), page_size)
    for start, end, pgoff, _ in entries:
        out += struct.pack("<QQQ", start, end, pgoff)
    for *_, name in entries:
        out += name + b"\0"
    return out


# ------------------------------------------------------------------ PRSTATUS


def test_prstatus_x86_64_fields_and_registers():
    payload = prstatus_payload(4242, {"rip": 0xDEADBEEF, "rsp": 0x7FFF0000, "fs_base": 0x7F00AA00})
    status = corenotes.parse_prstatus(payload, corenotes.EM_X86_64)
    assert status.pid == status.tid == 4242
    assert (status.ppid, status.pgrp, status.sid) == (100, 101, 102)
    assert status.cursig == 11
    assert status.sigpend == 0x4000 and status.sighold == 0x10000
    assert status.utime == (3, 500) and status.stime == (4, 600)
    assert (status.info_signo, status.info_code, status.info_errno) == (11, 1, 0)
    assert status.registers["rip"] == 0xDEADBEEF
    assert status.registers["rsp"] == 0x7FFF0000
    assert status.registers["fs_base"] == 0x7F00AA00
    assert status.registers["r15"] == 0x1000
    assert list(status.registers) == list(X86_REGS)


def test_prstatus_unknown_machine_or_short_registers_keeps_the_tid():
    payload = prstatus_payload(7)
    assert corenotes.parse_prstatus(payload, machine=0xBEEF).registers == {}
    short = corenotes.parse_prstatus(payload[:120], corenotes.EM_X86_64)
    assert short.pid == 7 and short.registers == {}


def test_prstatus_too_short_raises():
    with pytest.raises(CoreNoteError):
        corenotes.parse_prstatus(b"\0" * 100)


def test_prstatus_aarch64_register_names():
    regs = struct.pack("<34Q", *range(34))
    payload = prstatus_payload(9)[:112] + regs + b"\0" * 8
    status = corenotes.parse_prstatus(payload, corenotes.EM_AARCH64)
    assert status.registers["x0"] == 0 and status.registers["sp"] == 31
    assert status.registers["pc"] == 32 and status.registers["pstate"] == 33


# ------------------------------------------------------------------ PRPSINFO


def test_prpsinfo_fields():
    info = corenotes.parse_prpsinfo(prpsinfo_payload())
    assert info.state == 1 and info.sname == "S" and info.zombie is False
    assert info.nice == -5 and info.flag == 0x400040
    assert (info.uid, info.gid) == (1000, 1001)
    assert (info.pid, info.ppid, info.pgrp, info.sid) == (77, 1, 77, 60)
    assert info.fname == "python3"
    assert info.psargs == "python3 -c pass"


def test_prpsinfo_full_width_strings_and_zombie():
    info = corenotes.parse_prpsinfo(
        prpsinfo_payload(fname=b"f" * 16, psargs=b"a" * 80, zomb=1, sname=b"Z", state=4)
    )
    assert info.fname == "f" * 16 and info.psargs == "a" * 80
    assert info.zombie and info.sname == "Z" and info.state == 4


def test_prpsinfo_non_utf8_name_survives():
    info = corenotes.parse_prpsinfo(prpsinfo_payload(fname=b"caf\xe9"))
    assert info.fname.encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_prpsinfo_too_short_raises():
    with pytest.raises(CoreNoteError):
        corenotes.parse_prpsinfo(prpsinfo_payload()[:135])


# ------------------------------------------------------------------ SIGINFO


def test_siginfo_sigsegv_fault_address():
    info = corenotes.parse_siginfo(siginfo_payload(11, 1, struct.pack("<Q", 0x1)))  # SEGV_MAPERR
    assert (info.signo, info.code, info.errno) == (11, 1, 0)
    assert info.fault_address == 1
    assert info.sender_pid is None and not info.sent_by_process


@pytest.mark.parametrize("signo", [4, 5, 7, 8, 11])
def test_siginfo_fault_signals_carry_an_address(signo):
    info = corenotes.parse_siginfo(siginfo_payload(signo, 2, struct.pack("<Q", 0x7FFF12345678)))
    assert info.fault_address == 0x7FFF12345678


@pytest.mark.parametrize(
    "code", [corenotes.SI_USER, corenotes.SI_TKILL, corenotes.SI_QUEUE, corenotes.SI_MESGQ]
)
def test_siginfo_sender_pid_and_uid(code):
    info = corenotes.parse_siginfo(siginfo_payload(6, code, struct.pack("<iI", 3131, 1000)))
    assert info.sender_pid == 3131 and info.sender_uid == 1000
    assert info.fault_address is None and info.sent_by_process


def test_siginfo_segv_sent_by_kill_has_no_address():
    info = corenotes.parse_siginfo(siginfo_payload(11, corenotes.SI_USER, struct.pack("<iI", 5, 0)))
    assert info.fault_address is None and info.sender_pid == 5


def test_siginfo_kernel_sigstop_has_neither():
    info = corenotes.parse_siginfo(siginfo_payload(19, corenotes.SI_KERNEL, b""))
    assert info.fault_address is None and info.sender_pid is None


def test_siginfo_errno_and_too_short():
    assert corenotes.parse_siginfo(siginfo_payload(11, 1, b"", errno_=14)).errno == 14
    with pytest.raises(CoreNoteError):
        corenotes.parse_siginfo(b"\0" * 16)


# ------------------------------------------------------------------ AUXV


def test_auxv_pairs_until_at_null():
    payload = struct.pack(
        "<12Q",
        corenotes.AT_PHDR, 0x400040,
        corenotes.AT_ENTRY, 0x401000,
        corenotes.AT_EXECFN, 0x7FFFF000,
        corenotes.AT_ENTRY, 0xBAD,  # a repeated key: the first wins
        corenotes.AT_NULL, 0,
        corenotes.AT_BASE, 0xBAD,  # after AT_NULL: ignored
    )
    auxv = corenotes.parse_auxv(payload)
    assert auxv == {corenotes.AT_PHDR: 0x400040, corenotes.AT_ENTRY: 0x401000,
                    corenotes.AT_EXECFN: 0x7FFFF000}


def test_auxv_odd_length_ignores_partial_entry():
    payload = struct.pack("<2Q", corenotes.AT_PAGESZ, 4096) + b"\1\2\3"
    assert corenotes.parse_auxv(payload) == {corenotes.AT_PAGESZ: 4096}
    assert corenotes.parse_auxv(b"") == {}


# ------------------------------------------------------------------ FILE


def test_file_note_offsets_in_bytes():
    payload = file_payload([
        (0x400000, 0x401000, 0, b"/usr/bin/python3"),
        (0x401000, 0x405000, 1, b"/usr/bin/python3"),
        (0x7F0000000000, 0x7F0000010000, 0x20, b"/lib/libc.so.6"),
    ])
    page_size, maps = corenotes.parse_file_note(payload)
    assert page_size == 4096
    assert [(m.start, m.end, m.offset, m.path) for m in maps] == [
        (0x400000, 0x401000, 0, "/usr/bin/python3"),
        (0x401000, 0x405000, 4096, "/usr/bin/python3"),
        (0x7F0000000000, 0x7F0000010000, 0x20000, "/lib/libc.so.6"),
    ]
    assert maps[1].size == 0x4000 and maps[1].contains(0x404FFF) and not maps[1].contains(0x405000)


def test_file_note_other_page_size_and_deleted_suffix():
    payload = file_payload([(0x10000, 0x20000, 3, b"/tmp/x.so (deleted)")], page_size=65536)
    page_size, maps = corenotes.parse_file_note(payload)
    assert page_size == 65536 and maps[0].offset == 3 * 65536
    assert maps[0].path == "/tmp/x.so (deleted)"


def test_file_note_count_larger_than_the_note_raises_without_allocating():
    payload = struct.pack("<QQ", 1 << 60, 4096) + b"\0" * 64
    with pytest.raises(CoreNoteError):
        corenotes.parse_file_note(payload)


def test_file_note_missing_paths_or_bad_page_size_raise():
    good = file_payload([(1, 2, 0, b"/a"), (3, 4, 0, b"/b")])
    with pytest.raises(CoreNoteError):
        corenotes.parse_file_note(good[:-1])  # the last path is unterminated
    with pytest.raises(CoreNoteError):
        corenotes.parse_file_note(file_payload([(1, 2, 0, b"/a")], page_size=3000))
    with pytest.raises(CoreNoteError):
        corenotes.parse_file_note(file_payload([(1, 2, 0, b"/a")], page_size=0))


def test_file_note_drops_empty_ranges():
    _, maps = corenotes.parse_file_note(file_payload([(5, 5, 0, b"/a"), (9, 3, 0, b"/b")]))
    assert maps == []


def test_note_error_is_an_engine_error():
    assert issubclass(CoreNoteError, EngineError)


# ------------------------------------------------------------------ fuzzing

PARSERS = [
    lambda b: corenotes.parse_prstatus(b, corenotes.EM_X86_64),
    lambda b: corenotes.parse_prstatus(b, corenotes.EM_AARCH64),
    corenotes.parse_prpsinfo,
    corenotes.parse_siginfo,
    corenotes.parse_auxv,
    corenotes.parse_file_note,
    corenotes.parse_arm_tls,
]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2048), which=st.integers(0, len(PARSERS) - 1))
def test_random_bytes_only_raise_note_errors(data, which):
    try:
        result = PARSERS[which](data)
    except CoreNoteError:
        return
    assert result is not None


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(0, (1 << 64) - 1),
    page=st.integers(0, (1 << 64) - 1),
    tail=st.binary(max_size=512),
)
def test_file_note_hostile_headers(count, page, tail):
    """Huge counts and page sizes must fail fast (no allocation from the count)."""
    payload = struct.pack("<QQ", count, page) + tail
    try:
        _, maps = corenotes.parse_file_note(payload)
    except CoreNoteError:
        return
    assert len(maps) <= count and len(maps) <= len(tail) // 25 + 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1),
                          st.integers(0, 2**40), st.binary(min_size=1, max_size=40)
                          .filter(lambda b: b"\0" not in b)), max_size=20))
def test_file_note_round_trip(entries):
    _, maps = corenotes.parse_file_note(file_payload(entries))
    expected = [(s, e, o * 4096, n.decode("utf-8", "surrogateescape"))
                for s, e, o, n in entries if e > s]
    assert [(m.start, m.end, m.offset, m.path) for m in maps] == expected
