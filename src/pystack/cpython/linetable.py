"""Map an instruction offset to a source position, the way the target CPython does.

The debugger never runs code in the target, so it cannot call ``PyCode_Addr2Line``
there; instead it copies a code object's line table bytes and ``co_firstlineno``
out of the target's memory and decodes them here.  The answer must be the one the
target itself would give (``frame.f_lineno``, tracebacks), so each decoder follows
the C algorithm of the interpreter family that wrote the table, including its
behaviour at the edges: offsets before the first instruction, offsets past the
end of the table and entries that carry "no line".

Three on-disk formats exist:

* ``co_lnotab`` (CPython 2.7, 3.6 - 3.9): :func:`lnotab_line`.
* the 3.10 ``co_linetable``: :func:`linetable310_line`.
* the 3.11+ location table (unchanged from 3.11 through 3.15): :func:`location311`.

All three take bytes read from a possibly torn or corrupted target, so they never
raise on bad input, and every loop is bounded by the length of the table: a garbled
table gives a wrong (or ``None``) answer, never an exception or a hang.  They run
for every printed frame, so they are plain loops over the bytes that allocate
nothing per table entry.
"""
from __future__ import annotations

from ..records import TupleRecord

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Optional, Tuple

__all__ = ["Location", "lnotab_line", "linetable310_line", "location311"]


class Location(TupleRecord):
    """A source span as CPython 3.11+ reports it (``co_positions()`` order).

    A field is ``None`` where the table says the value is unknown, exactly where
    ``co_positions()`` would give ``None``.  Columns are the 0-based UTF-8 byte
    offsets stored in the table; turning them into character columns needs the
    source line and is left to whoever displays them.
    """

    lineno: Optional[int]
    end_lineno: Optional[int]
    column: Optional[int]
    end_column: Optional[int]


#: Shared answer for "no location": returned, never rebuilt, to keep calls cheap.
_NO_LOCATION = Location(None, None, None, None)

# CPython accumulates varints in a C ``unsigned int``; bits beyond 32 are lost
# there.  We stop accumulating at the same width so a corrupted run of
# continuation bytes cannot make us build (and shift) enormous integers.
_VARINT_MAX_SHIFT = 32


# ---------------------------------------------------------------------------
# CPython 2.7 and 3.6 - 3.9: co_lnotab
# ---------------------------------------------------------------------------


def lnotab_line(lnotab: bytes, firstlineno: int, byte_offset: int, signed: bool = True) -> int:
    """Line of the instruction at ``byte_offset`` (a byte offset into ``co_code``).

    ``co_lnotab`` is a list of (address increment, line increment) byte pairs; the
    line of an address is ``co_firstlineno`` plus the line increments of every
    pair whose cumulative address is not beyond it.  The address increment of a
    pair is added before the comparison, so a pair only counts once its address
    has been reached: that is how CPython's ``PyCode_Addr2Line`` walks it, and
    why an offset before the first instruction (``f_lasti == -1``) gets
    ``firstlineno``, and one past the end gets the last line.

    Line increments are signed bytes from 3.6 on (loops and multi-line
    expressions step backwards) and unsigned in 2.7: pass ``signed=False`` for a
    2.7 target.  A trailing odd byte is ignored, as CPython does (it counts
    ``len // 2`` pairs).
    """
    line = firstlineno
    addr = 0
    # Pairs only: range() stops before an unpaired trailing byte.
    for i in range(0, len(lnotab) - 1, 2):
        addr += lnotab[i]
        if addr > byte_offset:
            break
        delta = lnotab[i + 1]
        if signed and delta >= 0x80:
            delta -= 0x100
        line += delta
    return line


# ---------------------------------------------------------------------------
# CPython 3.10: co_linetable (Objects/lnotab_notes.txt of 3.10)
# ---------------------------------------------------------------------------


def linetable310_line(linetable: bytes, firstlineno: int, byte_offset: int) -> Optional[int]:
    """Line of the instruction at ``byte_offset`` (instruction index * 2), or None.

    The 3.10 table is a list of (bytecode length, line delta) byte pairs: each pair
    covers the half-open byte range following the previous one, and its line is
    the running sum of the (signed) deltas.  A delta of -128 marks a range with no
    line (the running sum is left alone) and yields ``None``, as does any offset
    at or past the end of the table, because that is what 3.10's
    ``PyCode_Addr2Line`` returns there (-1).  A negative offset, which is what a
    frame that has not started yet has (``f_lasti == -1``), gets ``firstlineno``,
    again as CPython special-cases it.

    Pairs covering zero bytes only carry part of a large line delta (deltas
    beyond a signed byte are split across several pairs); they never match an
    offset but their delta still counts.  An unpaired trailing byte is read with
    a line delta of 0, which is what CPython sees there (the NUL that terminates
    every bytes object).
    """
    if byte_offset < 0:
        return firstlineno
    n = len(linetable)
    line = firstlineno
    end = 0
    for i in range(0, n, 2):
        end += linetable[i]
        delta = linetable[i + 1] if i + 1 < n else 0
        if delta == 0x80:  # -128: no line for this range
            if end > byte_offset:
                return None
            continue
        if delta >= 0x80:
            delta -= 0x100
        line += delta
        if end > byte_offset:
            return line
    return None


# ---------------------------------------------------------------------------
# CPython 3.11+: the location table (Objects/locations.md, later
# InternalDocs/locations.md; the same format from 3.11 through 3.15)
# ---------------------------------------------------------------------------
#
# Each entry starts with a byte 1CCCCLLL (bit 7 set; code C; covers L + 1 code
# units) followed by bytes with bit 7 clear:
#   code 0-9    short form: same line; 1 byte: column = C*8 + bits 4-6, end = column + bits 0-3
#   code 10-12  one-line form: line += C - 10; 2 bytes: column, end column
#   code 13     no columns: line += svarint
#   code 14     long form: line += svarint; end line = line + varint;
#               column = varint - 1; end column = varint - 1 (-1 meaning unknown)
#   code 15     no location at all (the running line is left alone)
# varint: 6-bit chunks, least significant first, bit 6 = "more follows".
# svarint: varint v, value = -(v >> 1) if v & 1 else v >> 1.

_NO_COLUMNS = 13
_LONG = 14
_NO_LOCATION_CODE = 15


def location311(linetable: bytes, firstlineno: int, code_unit_index: int) -> Location:
    """Source span of the instruction at ``code_unit_index`` in a 3.11+ code object.

    The address is an index in code units (2-byte ``_Py_CODEUNIT``s, what
    ``co_positions()`` enumerates, cache entries included), i.e. CPython's byte
    offset divided by 2.  Turning a frame's instruction pointer into this index
    (which pointer, and whether it is the last or the next instruction, changed
    between 3.11 and 3.13) is the caller's business: it must do what the
    target's own ``_PyInterpreterFrame_LASTI`` does.

    The result matches CPython's ``PyCode_Addr2Location`` (and
    ``co_positions()``) for every index inside the table, and its ``lineno``
    matches ``PyCode_Addr2Line`` (so ``frame.f_lineno``) for every index:

    * negative index (a frame that has not executed anything yet):
      ``Location(firstlineno, firstlineno, 0, 0)``, CPython's special case.
    * an index at or past the end of the table: all ``None``.  This is what
      ``PyCode_Addr2Line`` answers (-1) and what ``co_positions()`` implies (it
      stops there).  ``PyCode_Addr2Location`` alone would re-decode the last entry
      instead, a side effect of how it steps back after failing to find the
      address rather than an answer; for a debugger an instruction pointer past
      the end means torn memory, and "unknown" is the honest report.
    * an entry with no location (code 15): all ``None``.

    Entries are located the way CPython's ``advance`` does (an entry ends at the
    next byte with bit 7 set) and only the entry holding the address is decoded
    field by field, as ``PyCode_Addr2Location`` does; on a well-formed table that
    is CPython's walk exactly.  On a damaged one it is the same walk kept inside
    the table, with varints cut at 32 bits (CPython's ``unsigned int``), and a
    field the table ends before is reported as None.
    """
    if code_unit_index < 0:
        return Location(firstlineno, firstlineno, 0, 0)
    table = linetable
    n = len(table)
    line = firstlineno
    end = 0  # code unit index just past the current entry
    i = 0
    while i < n:
        first = table[i]
        code = (first >> 3) & 15
        end += (first & 7) + 1
        if end > code_unit_index:
            return _decode_entry(table, i, code, line)
        # Not this entry: apply its line delta and move to the next entry.
        if code == _NO_COLUMNS or code == _LONG:
            # Inline signed varint right after the header byte; like CPython it
            # is read regardless of bit 7, but never beyond the table.  Only
            # its value matters here (the next entry is found by the scan
            # below), so reading stops once 32 bits are in: that keeps a
            # corrupted table of endless continuation bytes linear, not
            # quadratic.
            j = i + 1
            value = 0
            shift = 0
            while j < n and shift < _VARINT_MAX_SHIFT:
                byte = table[j]
                j += 1
                value |= (byte & 63) << shift
                if not byte & 64:
                    break
                shift += 6
            value &= 0xFFFFFFFF
            line += -(value >> 1) if value & 1 else value >> 1
        elif 10 <= code <= 12:
            line += code - 10
        i += 1
        while i < n and not table[i] & 0x80:
            i += 1
    return _NO_LOCATION


def _read_varint(table: bytes, pos: int) -> Tuple[int, int]:
    """Decode an unsigned varint at ``pos``: (value, position after it).

    Returns value -1 when the table ends before the varint does, so the caller can
    report the field as unknown instead of inventing a value.  Only used for the
    one entry being decoded, so the tuple it allocates is paid once per lookup.
    """
    n = len(table)
    value = 0
    shift = 0
    while pos < n:
        byte = table[pos]
        pos += 1
        if shift < _VARINT_MAX_SHIFT:
            value |= (byte & 63) << shift
        if not byte & 64:
            return value & 0xFFFFFFFF, pos
        shift += 6
    return -1, pos


def _decode_entry(table: bytes, i: int, code: int, line: int) -> Location:
    """Full location of the entry whose header byte is ``table[i]``.

    ``line`` is the running line before this entry.  Fields the (truncated) table
    does not contain come back as None, the line itself whenever it is known.
    """
    n = len(table)
    if code == _NO_LOCATION_CODE:
        return _NO_LOCATION
    if code == _LONG or code == _NO_COLUMNS:
        value, pos = _read_varint(table, i + 1)
        if value < 0:
            return _NO_LOCATION
        line += -(value >> 1) if value & 1 else value >> 1
        if code == _NO_COLUMNS:
            return Location(line, line, None, None)
        end_delta, pos = _read_varint(table, pos)
        column, pos = _read_varint(table, pos)
        end_column, pos = _read_varint(table, pos)
        # The columns are stored plus one so that 0 can mean "unknown".
        return Location(
            line,
            line + end_delta if end_delta >= 0 else None,
            column - 1 if column > 0 else None,
            end_column - 1 if end_column > 0 else None,
        )
    if code >= 10:  # one-line forms, 10-12
        line += code - 10
        column = table[i + 1] if i + 1 < n else None
        end_column = table[i + 2] if i + 2 < n else None
        return Location(line, line, column, end_column)
    # Short forms, 0-9: the code holds column // 8.
    if i + 1 >= n:
        return Location(line, line, None, None)
    second = table[i + 1]
    column = (code << 3) | (second >> 4)
    return Location(line, line, column, column + (second & 15))
