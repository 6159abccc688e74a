"""Call frame information: how to find a function's caller from any of its pcs.

Every x86-64 binary carries `.eh_frame` (exceptions need it), stripped or not, so
with it the native stack unwinds without libdw and without debug files. For one pc,
`FrameTable.rules_at` finds the function's FDE (through `.eh_frame_hdr`'s sorted table,
or a scan of `.eh_frame` once when there is none), runs its CIE's and its own CFA
instructions up to the pc, and returns the rules: where the canonical frame address
(CFA: the caller's stack pointer) is, and where each saved register is kept.
`CfaState.evaluate` applies them to one frame's registers.

DWARF 5 section 6.4 and the LSB's .eh_frame chapter are the reference; what is read
is what GCC, Clang and glibc's hand-written assembly emit, DWARF expressions included
(the PLT's CFA is one).
"""
from __future__ import annotations

import bisect
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Callable, Dict, List, Optional, Tuple

# DW_EH_PE_* pointer encodings: the format in the low nibble, how it is applied above.
_PE_OMIT = 0xFF
_PE_FORMATS = {0x00: "<Q", 0x02: "<H", 0x03: "<I", 0x04: "<Q",
               0x0A: "<h", 0x0B: "<i", 0x0C: "<q"}
_PE_PCREL, _PE_DATAREL, _PE_INDIRECT = 0x10, 0x30, 0x80

_MASK = (1 << 64) - 1


class CfiError(Exception):
    """The CFI cannot say where this frame's caller is."""


def uleb128(data, pos: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def sleb128(data, pos: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, pos


def read_encoded(data, pos: int, encoding: int, pos_vaddr: int, data_base: int = 0
                 ) -> Tuple[int, int]:
    """A DW_EH_PE-encoded pointer at `pos` (whose address is `pos_vaddr`)."""
    fmt = encoding & 0x0F
    if fmt == 0x01:
        value, end = uleb128(data, pos)
    elif fmt == 0x09:
        value, end = sleb128(data, pos)
    else:
        layout = _PE_FORMATS.get(fmt)
        if layout is None:
            raise CfiError(f"unknown pointer encoding 0x{encoding:x}")
        value, = struct.unpack_from(layout, data, pos)
        end = pos + struct.calcsize(layout)
    applied = encoding & 0x70
    if applied == _PE_PCREL:
        value += pos_vaddr
    elif applied == _PE_DATAREL:
        value += data_base
    elif applied:
        raise CfiError(f"unsupported pointer application 0x{encoding:x}")
    return value & _MASK, end


class Cie:
    __slots__ = ("code_align", "data_align", "ra_register", "fde_encoding", "has_augmentation_data",
                 "signal_frame", "instructions")

    def __init__(self, code_align, data_align, ra_register, fde_encoding,
                 has_augmentation_data, signal_frame, instructions) -> None:
        self.code_align = code_align
        self.data_align = data_align
        self.ra_register = ra_register
        self.fde_encoding = fde_encoding
        self.has_augmentation_data = has_augmentation_data
        self.signal_frame = signal_frame
        self.instructions = instructions


class Rules:
    """Where a frame's CFA and saved registers are, at one pc.

    `cfa`: ("reg", register, offset) or ("expr", bytes). `registers`: number ->
    ("offset", n) (saved at CFA+n), ("val_offset", n) (is CFA+n), ("register", r),
    ("expr", bytes) (saved at the address computed), ("val_expr", bytes),
    ("undefined",) or ("same",). Registers not listed keep their value.
    """

    __slots__ = ("cfa", "registers", "ra_register", "signal_frame")

    def __init__(self, cfa, registers, ra_register, signal_frame) -> None:
        self.cfa = cfa
        self.registers = registers
        self.ra_register = ra_register
        self.signal_frame = signal_frame


class FrameTable:
    """The CFI of one ELF file, looked up by unrelocated address."""

    def __init__(self, elf) -> None:
        self._elf = elf
        self._cies: Dict[int, Cie] = {}
        section = elf.section(".eh_frame")
        if section is None or not section.size:
            raise CfiError(f"{elf.path} has no .eh_frame")
        self._data = elf.section_data(section)
        self._vaddr = section.addr
        self._table: Optional[Tuple[object, int, int, int]] = None
        self._scanned: Optional[Tuple[List[int], List[int]]] = None
        header = elf.section(".eh_frame_hdr")
        if header is not None and header.size >= 12:
            self._use_header(elf.section_data(header), header.addr)

    # -- finding the FDE ----------------------------------------------------------------

    def _use_header(self, data, vaddr: int) -> None:
        version, count_enc, table_enc = data[0], data[2], data[3]
        if version != 1 or table_enc != 0x3B or count_enc == _PE_OMIT:
            return  # only the datarel sdata4 table every linker writes; else scan
        _ptr, pos = read_encoded(data, 4, data[1], vaddr + 4, vaddr)
        count, pos = read_encoded(data, pos, count_enc, vaddr + pos, vaddr)
        if pos + 8 * count > len(data):
            return
        self._table = (data, pos, count, vaddr)

    def _fde_offset(self, address: int) -> Optional[int]:
        """Offset in .eh_frame of the FDE that may cover `address` (the last one
        starting at or below it)."""
        if self._table is not None:
            data, start, count, base = self._table
            low, high = 0, count
            unpack = struct.unpack_from
            while low < high:  # the first entry whose start is above the address
                middle = (low + high) // 2
                if unpack("<i", data, start + 8 * middle)[0] + base <= address:
                    low = middle + 1
                else:
                    high = middle
            if low == 0:
                return None
            fde_vaddr = unpack("<i", data, start + 8 * (low - 1) + 4)[0] + base
            return fde_vaddr - self._vaddr
        if self._scanned is None:
            self._scanned = self._scan()
        starts, offsets = self._scanned
        index = bisect.bisect_right(starts, address) - 1
        return offsets[index] if index >= 0 else None

    def _scan(self) -> Tuple[List[int], List[int]]:
        found = []
        data, pos = self._data, 0
        while pos + 4 <= len(data):
            length, = struct.unpack_from("<I", data, pos)
            if length == 0:
                break
            body = pos + 4
            if length == 0xFFFFFFFF:
                length, = struct.unpack_from("<Q", data, body)
                body += 8
            cie_pointer, = struct.unpack_from("<I", data, body)
            if cie_pointer:
                try:
                    cie = self._cie(body - cie_pointer)
                    start, _ = read_encoded(data, body + 4, cie.fde_encoding,
                                            self._vaddr + body + 4)
                    found.append((start, pos))
                except (CfiError, struct.error, IndexError):
                    pass
            pos = body + length
        found.sort()
        return [s for s, _ in found], [o for _, o in found]

    def _cie(self, offset: int) -> Cie:
        cie = self._cies.get(offset)
        if cie is not None:
            return cie
        data = self._data
        length, = struct.unpack_from("<I", data, offset)
        pos = offset + 4
        if length == 0xFFFFFFFF:
            length, = struct.unpack_from("<Q", data, pos)
            pos += 8
        end = pos + length
        if struct.unpack_from("<I", data, pos)[0] != 0:
            raise CfiError("FDE points at something that is not a CIE")
        pos += 4
        version = data[pos]
        pos += 1
        nul = bytes(data[pos:min(end, pos + 16)]).find(b"\0")
        if nul < 0:
            raise CfiError("CIE augmentation string is not terminated")
        augmentation = bytes(data[pos:pos + nul]).decode("latin-1")
        pos += nul + 1
        if "eh" in augmentation:
            pos += 8
        code_align, pos = uleb128(data, pos)
        data_align, pos = sleb128(data, pos)
        if version == 1:
            ra_register = data[pos]
            pos += 1
        else:
            ra_register, pos = uleb128(data, pos)
        fde_encoding = 0x00
        signal = False
        has_data = augmentation.startswith("z")
        if has_data:
            size, pos = uleb128(data, pos)
            after = pos + size
            for letter in augmentation[1:]:
                if letter == "R":
                    fde_encoding = data[pos]
                    pos += 1
                elif letter == "L":
                    pos += 1
                elif letter == "P":
                    encoding = data[pos]
                    _, pos = read_encoded(data, pos + 1, encoding & 0x7F, self._vaddr + pos + 1)
                elif letter == "S":
                    signal = True
                elif letter not in "B":
                    break
            pos = after
        cie = Cie(code_align, data_align, ra_register, fde_encoding, has_data, signal,
                  bytes(data[pos:end]))
        self._cies[offset] = cie
        return cie

    # -- the rules at a pc ------------------------------------------------------------

    def rules_at(self, address: int) -> Optional[Rules]:
        """The rules at unrelocated `address`, or None where no FDE covers it."""
        offset = self._fde_offset(address)
        if offset is None or offset < 0:
            return None
        data = self._data
        try:
            length, = struct.unpack_from("<I", data, offset)
            pos = offset + 4
            if length == 0xFFFFFFFF:
                length, = struct.unpack_from("<Q", data, pos)
                pos += 8
            end = pos + length
            cie_pointer, = struct.unpack_from("<I", data, pos)
            if not cie_pointer:
                return None
            cie = self._cie(pos - cie_pointer)
            pos += 4
            start, pos = read_encoded(data, pos, cie.fde_encoding, self._vaddr + pos)
            size, pos = read_encoded(data, pos, cie.fde_encoding & 0x0F, 0)
            if not start <= address < start + size:
                return None
            if cie.has_augmentation_data:
                skip, pos = uleb128(data, pos)
                pos += skip
            return self._execute(cie, bytes(data[pos:end]), start, address)
        except (struct.error, IndexError) as exc:
            raise CfiError(f"truncated CFI: {exc}") from exc

    def _execute(self, cie: Cie, fde_instructions: bytes, start: int, address: int
                 ) -> Rules:
        cfa: tuple = ("reg", 7, 8)
        registers: Dict[int, tuple] = {}
        state = [cfa, registers]
        initial: Dict[int, tuple] = {}
        _run(cie.instructions, cie, state, start, None, {}, self._vaddr)
        initial = dict(state[1])
        _run(fde_instructions, cie, state, start, address, initial, self._vaddr)
        return Rules(state[0], state[1], cie.ra_register, cie.signal_frame)


def _run(program: bytes, cie: Cie, state: list, location: int, stop: Optional[int],
         initial: Dict[int, tuple], eh_vaddr: int) -> None:
    """Run CFA instructions, updating `state` ([cfa, registers]), until the location
    passes `stop` (None: the whole program, a CIE's initial instructions)."""
    pos, end = 0, len(program)
    code_align, data_align = cie.code_align, cie.data_align
    stack: list = []
    registers = state[1]
    while pos < end:
        op = program[pos]
        pos += 1
        high, low = op & 0xC0, op & 0x3F
        if high == 0x40:  # advance_loc
            location += low * code_align
            if stop is not None and location > stop:
                return
        elif high == 0x80:  # offset
            value, pos = uleb128(program, pos)
            registers[low] = ("offset", value * data_align)
        elif high == 0xC0:  # restore
            _restore(registers, initial, low)
        elif op == 0x00:  # nop
            pass
        elif op in (0x02, 0x03, 0x04):  # advance_loc1/2/4
            layout = {0x02: "<B", 0x03: "<H", 0x04: "<I"}[op]
            delta, = struct.unpack_from(layout, program, pos)
            pos += struct.calcsize(layout)
            location += delta * code_align
            if stop is not None and location > stop:
                return
        elif op == 0x01:  # set_loc
            location, pos = read_encoded(program, pos, cie.fde_encoding, 0)
            if stop is not None and location > stop:
                return
        elif op in (0x05, 0x11, 0x2F):  # offset_extended(_sf), GNU_negative_offset_extended
            register, pos = uleb128(program, pos)
            if op == 0x11:
                value, pos = sleb128(program, pos)
            else:
                value, pos = uleb128(program, pos)
                if op == 0x2F:
                    value = -value
            registers[register] = ("offset", value * data_align)
        elif op == 0x06:  # restore_extended
            register, pos = uleb128(program, pos)
            _restore(registers, initial, register)
        elif op == 0x07:  # undefined
            register, pos = uleb128(program, pos)
            registers[register] = ("undefined",)
        elif op == 0x08:  # same_value
            register, pos = uleb128(program, pos)
            registers[register] = ("same",)
        elif op == 0x09:  # register
            register, pos = uleb128(program, pos)
            other, pos = uleb128(program, pos)
            registers[register] = ("register", other)
        elif op == 0x0A:  # remember_state
            stack.append((state[0], dict(registers)))
        elif op == 0x0B:  # restore_state
            if stack:
                state[0], saved = stack.pop()
                registers.clear()
                registers.update(saved)
        elif op == 0x0C:  # def_cfa
            register, pos = uleb128(program, pos)
            offset, pos = uleb128(program, pos)
            state[0] = ("reg", register, offset)
        elif op == 0x12:  # def_cfa_sf
            register, pos = uleb128(program, pos)
            offset, pos = sleb128(program, pos)
            state[0] = ("reg", register, offset * data_align)
        elif op == 0x0D:  # def_cfa_register
            register, pos = uleb128(program, pos)
            old = state[0]
            state[0] = ("reg", register, old[2] if old[0] == "reg" else 0)
        elif op in (0x0E, 0x13):  # def_cfa_offset(_sf)
            if op == 0x0E:
                offset, pos = uleb128(program, pos)
            else:
                offset, pos = sleb128(program, pos)
                offset *= data_align
            old = state[0]
            state[0] = ("reg", old[1] if old[0] == "reg" else 7, offset)
        elif op == 0x0F:  # def_cfa_expression
            size, pos = uleb128(program, pos)
            state[0] = ("expr", program[pos:pos + size])
            pos += size
        elif op in (0x10, 0x16):  # expression, val_expression
            register, pos = uleb128(program, pos)
            size, pos = uleb128(program, pos)
            registers[register] = ("expr" if op == 0x10 else "val_expr",
                                   program[pos:pos + size])
            pos += size
        elif op in (0x14, 0x15):  # val_offset(_sf)
            register, pos = uleb128(program, pos)
            if op == 0x14:
                value, pos = uleb128(program, pos)
            else:
                value, pos = sleb128(program, pos)
            registers[register] = ("val_offset", value * data_align)
        elif op == 0x2E:  # GNU_args_size
            _, pos = uleb128(program, pos)
        else:
            raise CfiError(f"unknown CFA instruction 0x{op:02x}")


def _restore(registers: Dict[int, tuple], initial: Dict[int, tuple], register: int) -> None:
    if register in initial:
        registers[register] = initial[register]
    else:
        registers.pop(register, None)


def evaluate(expression: bytes, registers: Dict[int, int], read_word: Callable[[int], int],
             push: Optional[int] = None) -> int:
    """A DWARF expression's value (the subset CFI uses: constants, registers,
    arithmetic, comparisons, branches, dereferences)."""
    stack: List[int] = [] if push is None else [push]
    pos, end = 0, len(expression)
    while pos < end:
        op = expression[pos]
        pos += 1
        if 0x30 <= op <= 0x4F:  # lit0..lit31
            stack.append(op - 0x30)
        elif 0x70 <= op <= 0x8F:  # breg0..breg31
            offset, pos = sleb128(expression, pos)
            stack.append((_register(registers, op - 0x70) + offset) & _MASK)
        elif op == 0x92:  # bregx
            register, pos = uleb128(expression, pos)
            offset, pos = sleb128(expression, pos)
            stack.append((_register(registers, register) + offset) & _MASK)
        elif op in _CONSTANTS:
            layout = _CONSTANTS[op]
            value, = struct.unpack_from(layout, expression, pos)
            pos += struct.calcsize(layout)
            stack.append(value & _MASK)
        elif op == 0x10:  # constu
            value, pos = uleb128(expression, pos)
            stack.append(value & _MASK)
        elif op == 0x11:  # consts
            value, pos = sleb128(expression, pos)
            stack.append(value & _MASK)
        elif op == 0x12:  # dup
            stack.append(stack[-1])
        elif op == 0x13:  # drop
            stack.pop()
        elif op == 0x14:  # over
            stack.append(stack[-2])
        elif op == 0x16:  # swap
            stack[-1], stack[-2] = stack[-2], stack[-1]
        elif op == 0x06:  # deref
            stack.append(read_word(stack.pop()))
        elif op == 0x23:  # plus_uconst
            value, pos = uleb128(expression, pos)
            stack.append((stack.pop() + value) & _MASK)
        elif op in _BINARY:
            right, left = stack.pop(), stack.pop()
            stack.append(_BINARY[op](left, right) & _MASK)
        elif op == 0x1F:  # neg
            stack.append(-stack.pop() & _MASK)
        elif op == 0x20:  # not
            stack.append(~stack.pop() & _MASK)
        elif op == 0x2F:  # skip
            delta, = struct.unpack_from("<h", expression, pos)
            pos += 2 + delta
        elif op == 0x28:  # bra
            delta, = struct.unpack_from("<h", expression, pos)
            pos += 2
            if stack.pop():
                pos += delta
        elif op == 0x96:  # nop
            pass
        else:
            raise CfiError(f"unsupported DWARF operation 0x{op:02x} in CFI")
    if not stack:
        raise CfiError("empty DWARF expression")
    return stack[-1]


def _register(registers: Dict[int, int], number: int) -> int:
    value = registers.get(number)
    if value is None:
        raise CfiError(f"register {number} is unknown here")
    return value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


_CONSTANTS = {0x08: "<B", 0x09: "<b", 0x0A: "<H", 0x0B: "<h", 0x0C: "<I", 0x0D: "<i",
              0x0E: "<Q", 0x0F: "<q"}
_BINARY = {
    0x1A: lambda a, b: a & b,
    0x1B: lambda a, b: _signed(a) // _signed(b) if b else 0,
    0x1C: lambda a, b: a - b,
    0x1D: lambda a, b: a % b if b else 0,
    0x1E: lambda a, b: a * b,
    0x21: lambda a, b: a | b,
    0x22: lambda a, b: a + b,
    0x24: lambda a, b: a << b if b < 64 else 0,
    0x25: lambda a, b: a >> b,
    0x26: lambda a, b: _signed(a) >> b if b < 64 else (-1 if a >> 63 else 0),
    0x27: lambda a, b: a ^ b,
    0x29: lambda a, b: int(a == b),
    0x2A: lambda a, b: int(_signed(a) >= _signed(b)),
    0x2B: lambda a, b: int(_signed(a) > _signed(b)),
    0x2C: lambda a, b: int(_signed(a) <= _signed(b)),
    0x2D: lambda a, b: int(_signed(a) < _signed(b)),
    0x2E: lambda a, b: int(a != b),
}


def caller_registers(rules: Rules, registers: Dict[int, int],
                     read_word: Callable[[int], int]) -> Dict[int, int]:
    """The caller's registers (its pc under the return-address register's number,
    its stack pointer, 7, set to the CFA), from this frame's registers and rules."""
    cfa_rule = rules.cfa
    if cfa_rule[0] == "reg":
        cfa = (_register(registers, cfa_rule[1]) + cfa_rule[2]) & _MASK
    else:
        cfa = evaluate(cfa_rule[1], registers, read_word)
    caller = dict(registers)
    for number, rule in rules.registers.items():
        kind = rule[0]
        if kind == "offset":
            caller[number] = read_word((cfa + rule[1]) & _MASK)
        elif kind == "val_offset":
            caller[number] = (cfa + rule[1]) & _MASK
        elif kind == "register":
            if rule[1] in registers:
                caller[number] = registers[rule[1]]
            else:
                caller.pop(number, None)
        elif kind == "expr":
            caller[number] = read_word(evaluate(rule[1], registers, read_word, cfa))
        elif kind == "val_expr":
            caller[number] = evaluate(rule[1], registers, read_word, cfa)
        elif kind == "undefined":
            caller.pop(number, None)
    caller[7] = cfa
    return caller
