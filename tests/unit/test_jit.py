"""Stepping over perf trampolines and naming JIT code from a perf map, on made-up
memory (the integration tests run real `-X perf` targets)."""
from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from pystack.native.jit import (RBP, RBX, RSP, PerfMap, returns_into_trampoline,
                                step_over)

#: 3.12's trampoline (the slot reserved, rbp untouched) and the frame-pointer one.
SUB_CALL = bytes.fromhex("4883ec08ffd1") + bytes.fromhex("4883c408c3")
PUSH_CALL = bytes.fromhex("554889e5ffd1") + bytes.fromhex("5dc3")
CODE = 0x7F0000001000
STACK = 0x7FFE00000000


def memory(regions: dict):
    def read(address: int, size: int) -> bytes:
        for start, data in regions.items():
            if start <= address and address + size <= start + len(data):
                return data[address - start:address - start + size]
        raise OSError(f"unmapped 0x{address:x}")
    return read


def test_a_trampoline_that_reserves_a_slot_leaves_rbp_alone():
    read = memory({CODE: SUB_CALL, STACK: struct.pack("<QQQ", 0xDEAD, 0x401234, 0)})
    registers = {RSP: STACK, RBP: 0x1111, RBX: 0x2222, 12: 3, 13: 4, 14: 5, 15: 6}
    assert returns_into_trampoline(CODE + 6, read)
    pc, caller = step_over(CODE + 6, registers, read)
    assert pc == 0x401234
    assert caller == {RSP: STACK + 16, RBP: 0x1111, RBX: 0x2222, 12: 3, 13: 4, 14: 5, 15: 6}


def test_a_trampoline_that_pushes_rbp_gives_back_the_saved_one():
    read = memory({CODE: PUSH_CALL, STACK: struct.pack("<QQ", 0x7FFE00000100, 0x405678)})
    pc, caller = step_over(CODE + 6, {RSP: STACK, RBP: STACK, RBX: 9}, read)
    assert (pc, caller) == (0x405678, {RSP: STACK + 16, RBP: 0x7FFE00000100, RBX: 9})


def test_other_code_unreadable_memory_and_missing_registers_stop_the_stack():
    ordinary = bytes.fromhex("4889c7e8aabbccdd90")  # mov %rax,%rdi; call rel32
    read = memory({CODE: ordinary, STACK: struct.pack("<QQ", 1, 0x401234)})
    assert not returns_into_trampoline(CODE + 8, read)
    assert step_over(CODE + 8, {RSP: STACK}, read) is None
    trampoline = memory({CODE: SUB_CALL, STACK: struct.pack("<QQ", 1, 0x401234)})
    assert step_over(CODE + 6, {}, trampoline) is None  # no stack pointer
    assert step_over(CODE + 6, {RSP: STACK + 0x1000}, trampoline) is None  # unreadable
    assert step_over(3, {RSP: STACK}, trampoline) is None
    assert not returns_into_trampoline(CODE + 0x1000, trampoline)
    zero = memory({CODE: SUB_CALL, STACK: struct.pack("<QQ", 1, 0)})
    assert step_over(CODE + 6, {RSP: STACK}, zero) is None  # no return address


def test_perf_map_names_the_ranges_it_lists(tmp_path):
    path = tmp_path / "perf-42.map"
    path.write_text("7f0000002000 b py::second:/app.py\n"
                    "7f0000001000 10 py::Server.handle:/app/server.py\n"
                    "not a line\n"
                    "zz 10 py::bad\n"
                    "7f0000003000 1 with spaces in its name\n")
    perf = PerfMap.load(str(path))
    assert perf.name_of(0x7F0000001000) == "py::Server.handle:/app/server.py"
    assert perf.name_of(0x7F000000100F) == "py::Server.handle:/app/server.py"
    assert perf.name_of(0x7F0000001010) is None
    assert perf.name_of(0x7F000000200A) == "py::second:/app.py"
    assert perf.name_of(0x7F000000200B) is None
    assert perf.name_of(0x7F0000003000) == "with spaces in its name"
    assert perf.name_of(0x7F0000000FFF) is None
    assert PerfMap.load(str(tmp_path / "missing.map")) is None


@given(st.lists(st.tuples(st.integers(0, 1 << 48), st.integers(1, 1 << 12)), max_size=30),
       st.integers(0, 1 << 48))
def test_perf_map_lookup_agrees_with_a_scan(ranges, pc):
    # ranges that do not overlap, as the interpreter writes them
    entries, end = [], 0
    for start, size in sorted(ranges):
        if start >= end:
            entries.append((start, size, f"py::f{start}"))
            end = start + size
    perf = PerfMap(list(entries))
    expected = next((name for start, size, name in entries if start <= pc < start + size),
                    None)
    assert perf.name_of(pc) == expected


def test_code_without_module_is_named_from_the_perf_map_and_trampolines_told(tmp_path):
    from pystack.native.jit import AnonymousCode, CodeWithoutModule
    from pystack.native.symbols import RawNativeFrame
    from pystack.target.base import Mapping
    perf = tmp_path / "perf-7.map"
    perf.write_text(f"{CODE + 0x100:x} 40 py::handler:/app.py\n")
    read = memory({CODE: SUB_CALL + b"\x90" * 0x200})
    anonymous = AnonymousCode([Mapping(CODE, CODE + 0x1000, 0, "r-xp", None),
                               Mapping(0x400000, 0x401000, 0, "r-xp", "/usr/bin/python3")])
    in_module = {0x400100: "/usr/bin/python3"}
    code = CodeWithoutModule(read, anonymous, in_module.get, str(perf))
    assert code.is_trampoline(RawNativeFrame(CODE + 6, False, 0))
    assert not code.is_trampoline(RawNativeFrame(CODE + 6, True, 0))  # where it stopped
    assert not code.is_trampoline(RawNativeFrame(0x400100, False, 0))  # a file's code
    assert code.frame(RawNativeFrame(0x400101, False, 0)) is None
    jit = code.frame(RawNativeFrame(CODE + 0x111, False, 0))
    assert (jit.symbol, jit.library) == ("py::handler:/app.py", "[perf map]")
    unknown = code.frame(RawNativeFrame(CODE + 0x800, True, 0))
    assert (unknown.symbol, unknown.library) == ("???", "???")
    assert CODE + 0x800 in anonymous and 0x400100 not in anonymous
    missing = CodeWithoutModule(read, anonymous, in_module.get, str(tmp_path / "none.map"))
    assert missing.frame(RawNativeFrame(CODE + 0x111, False, 0)).symbol == "???"
