"""Our reader of .eh_frame and the unwinder over it, on hand-built CFI (the
integration tests hold it to libdw and gdb on every interpreter)."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pystack.errors import MemoryReadError
from pystack.native import cfi
from pystack.native.cfi_unwind import CfiUnwinder
from pystack.native.symbols import RawNativeFrame


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def sleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


@given(st.integers(0, 1 << 70))
def test_uleb128_reads_what_was_written(value):
    data = b"\xff" + uleb(value) + b"\x01"
    assert cfi.uleb128(data, 1) == (value, len(data) - 1)


@given(st.integers(-(1 << 70), 1 << 70))
def test_sleb128_reads_what_was_written(value):
    data = sleb(value) + b"\x7f"
    assert cfi.sleb128(data, 0) == (value, len(data) - 1)


def test_encoded_pointers():
    assert cfi.read_encoded(struct.pack("<i", -16), 0, 0x1B, 0x1000) == (0x1000 - 16, 4)
    assert cfi.read_encoded(struct.pack("<I", 0x20), 0, 0x3B & 0x3F, 0, 0x500) == (0x520, 4)
    assert cfi.read_encoded(struct.pack("<Q", 0x1234), 0, 0x00, 0x999) == (0x1234, 8)
    assert cfi.read_encoded(struct.pack("<H", 7), 0, 0x02, 0) == (7, 2)
    assert cfi.read_encoded(uleb(300), 0, 0x01, 0) == (300, 2)
    assert cfi.read_encoded(sleb(-3), 0, 0x19, 0x100) == (0xFD, 1)
    with pytest.raises(cfi.CfiError):
        cfi.read_encoded(b"\0" * 8, 0, 0x07, 0)
    with pytest.raises(cfi.CfiError):
        cfi.read_encoded(b"\0" * 8, 0, 0x40 | 0x03, 0)  # funcrel: never in .eh_frame


# -- a hand-built .eh_frame ------------------------------------------------------------

EH_VADDR = 0x10000

#: CIE: "zR", code align 1, data align -8, RA = 16, FDE pointers pcrel|sdata4;
#: initial rules: CFA = rsp+8, RA at CFA-8 (what every x86-64 CIE says).
CIE_BODY = (struct.pack("<I", 0) + b"\x01" + b"zR\0" + uleb(1) + sleb(-8) + b"\x10"
            + uleb(1) + b"\x1b" + b"\x0c\x07\x08" + b"\x90\x01")


def record(body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<I", len(body)) + body


def fde(offset_in_section: int, start: int, size: int, program: bytes) -> bytes:
    pointer_at = offset_in_section + 4  # the CIE pointer field
    pc_begin_at = EH_VADDR + pointer_at + 4
    return record(struct.pack("<I", pointer_at) + struct.pack("<i", start - pc_begin_at)
                  + struct.pack("<i", size) + uleb(0) + program)


class Section:
    def __init__(self, addr: int, size: int) -> None:
        self.addr, self.size = addr, size


class FakeElf:
    path = "fake"

    def __init__(self, eh_frame: bytes) -> None:
        self._data = eh_frame

    def section(self, name: str):
        return Section(EH_VADDR, len(self._data)) if name == ".eh_frame" else None

    def section_data(self, section) -> bytes:
        return self._data


def table(*functions) -> cfi.FrameTable:
    data = record(CIE_BODY)
    for start, size, program in functions:
        data += fde(len(data), start, size, program)
    return cfi.FrameTable(FakeElf(data + struct.pack("<I", 0)))


# push rbp at +1 (CFA rsp+16, rbp at CFA-16); remember; at +8 leave: CFA rsp+8; restore
PROGRAM = (b"\x41" + b"\x0e\x10" + b"\x86\x02"
           + b"\x0a" + b"\x47" + b"\x0e\x08" + b"\xc6"
           + b"\x41" + b"\x0b")


def test_rules_follow_the_program_up_to_the_address():
    frames = table((0x4000, 0x20, PROGRAM), (0x5000, 0x10, b""))
    at_entry = frames.rules_at(0x4000)
    assert at_entry.cfa == ("reg", 7, 8) and at_entry.registers == {16: ("offset", -8)}
    assert at_entry.ra_register == 16 and not at_entry.signal_frame
    pushed = frames.rules_at(0x4001)
    assert pushed.cfa == ("reg", 7, 16)
    assert pushed.registers == {16: ("offset", -8), 6: ("offset", -16)}
    assert frames.rules_at(0x4007).cfa == ("reg", 7, 16)
    left = frames.rules_at(0x4008)  # after leave: rbp restored to the CIE's rule (none)
    assert left.cfa == ("reg", 7, 8) and left.registers == {16: ("offset", -8)}
    back = frames.rules_at(0x4009)  # restore_state: the remembered rules again
    assert back.cfa == ("reg", 7, 16) and back.registers[6] == ("offset", -16)
    assert frames.rules_at(0x401F).cfa == ("reg", 7, 16)
    assert frames.rules_at(0x4020) is None  # past the end: not covered
    assert frames.rules_at(0x3FFF) is None  # below every FDE
    assert frames.rules_at(0x5000).cfa == ("reg", 7, 8)


def test_caller_registers_from_the_rules():
    frames = table((0x4000, 0x20, PROGRAM))
    stack = {0x7000: 0xAAAA, 0x7008: 0x401234}  # saved rbp, return address
    read = stack.__getitem__
    caller = cfi.caller_registers(frames.rules_at(0x4003), {7: 0x7000, 6: 1, 3: 5, 16: 0x4003},
                                  read)
    assert caller == {7: 0x7010, 6: 0xAAAA, 3: 5, 16: 0x401234}


def test_expressions_the_plt_uses():
    # CFA = rsp + 8 + ((rip & 15) >= 11) << 3: what every x86-64 .plt entry says
    plt = bytes([0x77, 8, 0x80, 0, 0x3F, 0x1A, 0x3B, 0x2A, 0x33, 0x24, 0x22])
    for rip, expected in ((0x1000, 0x7008), (0x100A, 0x7008), (0x100B, 0x7010)):
        assert cfi.evaluate(plt, {7: 0x7000, 16: rip}, lambda a: 0) == expected
    assert cfi.evaluate(bytes([0x06]), {}, {0x50: 7}.__getitem__, push=0x50) == 7
    assert cfi.evaluate(bytes([0x11]) + sleb(-2) + bytes([0x1F]), {}, None) == 2
    with pytest.raises(cfi.CfiError):
        cfi.evaluate(bytes([0x71, 0]), {}, None)  # rdx unknown
    with pytest.raises(cfi.CfiError):
        cfi.evaluate(bytes([0xE0]), {}, None)


# -- the walk ----------------------------------------------------------------------------

class Walk(CfiUnwinder):
    """The unwinder's walk over made-up rules and memory (no target, no files)."""

    def __init__(self, rules: dict, memory: dict) -> None:  # noqa: D107 - no super()
        self._fake_rules = rules
        def read(address: int, size: int) -> bytes:
            if address not in memory:
                raise MemoryReadError(address, size)
            return struct.pack("<Q", memory[address])
        self.read_memory = read
        self.anonymous_code = ()
        self._pages = {}
        self.looked_up: list = []

    def _rules_at(self, address):
        self.looked_up.append(address)
        for (start, end), rules in self._fake_rules.items():
            if start <= address < end:
                return rules
        return None


def plain(cfa_offset: int = 8) -> cfi.Rules:
    return cfi.Rules(("reg", 7, cfa_offset), {16: ("offset", -8)}, 16, False)


def test_a_return_address_is_looked_up_one_byte_back():
    """A call to a function that never returns can be a function's last instruction:
    its return address is then the next function's first byte, whose rules differ."""
    rules = {(0x1000, 0x1010): plain(16), (0x1010, 0x1020): plain(8),
             (0x2000, 0x2010): cfi.Rules(("reg", 7, 8), {16: ("undefined",)}, 16, False)}
    memory = {0x7008: 0x1010, 0x7018: 0x2005}
    walk = Walk(rules, memory)
    frames: list = []
    assert walk._walk({7: 0x7000, 16: 0x1000}, frames, 100) is None
    assert [(f.pc, f.is_activation, f.sp) for f in frames] == [
        (0x1000, True, 0x7000), (0x1010, False, 0x7010), (0x2005, False, 0x7020)]
    assert walk.looked_up == [0x1000, 0x100F, 0x2004]


def test_the_walk_stops_where_the_stack_cannot_go_on():
    memory = {0x7008: 0x1008}
    walk = Walk({(0x1000, 0x1010): plain(8)}, memory)
    # the caller's stack pointer would not be above ours: a loop, not a stack
    frames: list = []
    looping = Walk({(0x1000, 0x1010): cfi.Rules(("reg", 7, 0), {16: ("offset", 8)}, 16,
                                                 False)}, memory)
    reason = looping._walk({7: 0x7000, 16: 0x1000}, frames, 100)
    assert reason.startswith("the stack pointer does not grow")
    frames = []
    assert walk._walk({7: 0x7000, 16: 0x3000}, frames, 100) == "no CFI for 0x3000"
    frames = []
    many = Walk({(0x1000, 0x1010): plain(8)}, {0x7000 + 16 * i + 8: 0x1005 for i in range(9)})
    many._fake_rules[(0x1000, 0x1010)] = plain(16)
    assert many._walk({7: 0x7000, 16: 0x1000}, frames, 5) == "stopped after 5 frames"
    assert len(frames) == 5
    frames = []
    unreadable = Walk({(0x1000, 0x1010): plain(8)}, {})
    assert unreadable._walk({7: 0x7000, 16: 0x1000}, frames, 5).startswith(
        "cannot unwind past 0x1000")


def test_a_signal_frame_makes_its_caller_exact():
    signal = cfi.Rules(("reg", 7, 8), {16: ("offset", -8)}, 16, True)
    memory = {0x7000: 0x1000, 0x7008: 0}
    walk = Walk({(0x5000, 0x5010): signal, (0x1000, 0x1010): plain(8)}, memory)
    frames: list = []
    walk._walk({7: 0x7000, 16: 0x5000}, frames, 10)
    assert [(f.pc, f.is_activation) for f in frames][:2] == [(0x5000, True), (0x1000, True)]
    assert walk.looked_up[:2] == [0x5000, 0x1000]  # the interrupted pc, not pc - 1


def test_raw_frames_keep_their_lookup_rule():
    assert RawNativeFrame(0x1010, False, 0).lookup_pc == 0x100F
    assert RawNativeFrame(0x1010, True, 0).lookup_pc == 0x1010
