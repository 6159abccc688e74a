"""Edges of the builtin reprs (src/pystack/cpython/reprs.py) that the sample-based tests
of test_reprs.py do not reach: found by mutation testing, each pinned here to what
CPython's own repr prints (checked against the pyenv interpreters) or, for damaged
memory, to the marker or generic form pystack documents.

Covered: escape tables built fresh (the module caches them, so an earlier render
could hide a broken table); functions whose name cannot be read; 2.7 unicode's quote
chosen from the characters just past the visible cut; bytearray subclasses with a
dotted `tp_name` and bytearrays of absurd size; sets that contain themselves through
a hashable list subclass (`set(...)`, `frozenset(...)`, `MySet(...)`); damaged set
masks; 2.7's `<dummy key>` detection in set tables; and the digit count of huge ints
(damaged top digits, a power of ten just past the bracket the top digits give, and
an int of exactly MAX_INT_READ internal digits).
"""
from __future__ import annotations

import struct

import pytest

from unit.test_reprs import Heap, _int_with_top_digits
from pystack.cpython import reprs
from pystack.cpython.layouts import layout_for

BAD = 0xBAD0000  # an unmapped address


# -- escapes --------------------------------------------------------------------------

def test_escape_tables_built_fresh_escape_controls(monkeypatch) -> None:
    """The escape tables are cached per module: with the cache emptied, the table a
    render builds must itself escape (not one left over from an earlier test)."""
    monkeypatch.setattr(reprs, "_TABLES", {})
    heap = Heap(layout_for((3, 12)))
    assert heap.render(heap.str("a\nb\\c\x7f")) == repr("a\nb\\c\x7f") == "'a\\nb\\\\c\\x7f'"
    assert heap.render(heap.bytes(b"\x00\xff'")) == repr(b"\x00\xff'") == "b\"\\x00\\xff'\""


# -- functions ------------------------------------------------------------------------

def _function(heap: Heap, tp=None) -> int:
    """A function object whose name (`__qualname__`, 2.7's `func_name`) points at
    unmapped memory."""
    o = heap.o
    address = heap.new("function", 0x100, tp)
    field = o.func_qualname if o.func_qualname is not None else o.func_name
    heap.put_ptr(address + field, BAD)
    return address


@pytest.mark.parametrize("version", [(2, 7), (3, 6), (3, 12)])
def test_function_names_print_whole_or_visibly_cut(version) -> None:
    """CPython prints a function's whole name, however long (`__qualname__ = 'q' *
    250`); past the budget the cut shows, as for any value."""
    heap = Heap(layout_for(version))
    o = heap.o
    func = heap.new("function", 0x100)
    field = o.func_qualname if o.func_qualname is not None else o.func_name
    name = "q" * 250
    heap.put_ptr(func + field, heap.bytes(name.encode()) if heap.py2 else heap.str(name))
    whole = f"<function {name} at 0x{func:x}>"
    assert heap.render(func, max_len=1000) == whole
    assert heap.render(func, max_len=len(whole)) == whole
    assert heap.render(func, max_len=len(whole) - 1) == "..."
    assert heap.render(heap.list([func]), max_len=100) == "[...]"


@pytest.mark.parametrize("version", [(2, 7), (3, 6), (3, 10), (3, 13)])
def test_function_with_unreadable_name_prints_generic_form(version) -> None:
    heap = Heap(layout_for(version))
    func = _function(heap)
    assert heap.render(func) == f"<function object at 0x{func:x}>"
    # inside a container: the function's own generic form, the list around it intact
    assert heap.render(heap.list([func])) == f"[<function object at 0x{func:x}>]"


def test_function_like_class_with_unreadable_qualname_prints_its_tp_name(heap: Heap) -> None:
    """Damaged memory: a class whose base chain ends at `function`, whose name cannot
    be read from the instance nor its `ht_qualname`: the generic form falls back to
    the class's tp_name."""
    heap.type("function")
    tp = heap.type("FuncLike", base="function", heap=True)
    heap.alloc(0x400)  # keep what follows clear of the type's ht_qualname slot
    heap.put_ptr(tp + heap.o.ht_qualname, BAD)
    func = _function(heap, tp)
    assert heap.render(func) == f"<FuncLike object at 0x{func:x}>"


@pytest.mark.parametrize("version", [(3, 6), (3, 12)])
def test_class_names_are_whole_up_to_the_longest_read(version) -> None:
    """A class (no readable __qualname__: named by tp_name) of the longest name read
    prints it whole; one character more is no name at all, never a cut one."""
    heap = Heap(layout_for(version))
    longest = reprs._MAX_TYPE_NAME
    objects = []
    for length in (longest, longest + 1):
        tp = heap.type("N", heap=True)
        heap.alloc(0x400)  # (clear of the type's ht_qualname slot)
        heap.put_ptr(tp + heap.o.ht_qualname, BAD)
        heap.put_ptr(tp + heap.o.tp_name, heap.cstring("N" * length))
        objects.append(heap.new("", 32, tp))
    whole, too_long = objects
    assert heap.render(whole, max_len=10 ** 5) == f"<{'N' * longest} object at 0x{whole:x}>"
    assert heap.render(too_long, max_len=10 ** 5) == f"<invalid object at 0x{too_long:x}>"


# -- 2.7 unicode ----------------------------------------------------------------------

def test_py2_unicode_cut_takes_its_quote_from_every_character_it_may_show() -> None:
    """With a budget above the 4096 characters scanned for quotes, a 2.7 unicode reads
    as many characters as the budget could show: a `'` among them (and no `"`) makes
    the repr double-quoted, as CPython's is (`u"aaa...'bbb"`), even where the cut
    falls before that `'`."""
    heap = Heap(layout_for((2, 7)))
    width = 5000
    text = "a" * (width - 4) + "'" + "b" * 20
    out = heap.render(heap.py2_unicode(text), max_len=width)
    assert out == 'u"' + "a" * (width - 6) + '..."'
    assert len(out) == width


# -- bytearray ------------------------------------------------------------------------

def test_bytearray_subclass_with_dotted_name_prints_last_component(heap: Heap) -> None:
    """`type("pkg.mod.Sub", (bytearray,), {})(b"x")` prints `Sub(b'x')` from 3.7 on
    (CPython uses the part of tp_name after the last dot), `bytearray(b'x')` in 3.6."""
    sub = heap.type("pkg.mod.Sub", base="bytearray", heap=True)
    want = "Sub(b'x')" if heap.layout.version >= (3, 7) else "bytearray(b'x')"
    assert heap.render(heap.bytearray(b"x", tp=sub)) == want


@pytest.mark.parametrize("version", [(2, 7), (3, 12)])
def test_bytearray_of_absurd_size_is_invalid(version) -> None:
    """A size past MAX_SIZE marks the object invalid even when its buffer is readable."""
    heap = Heap(layout_for(version))
    ba = heap.bytearray(b"a" * 5000)
    heap.put_i64(ba + heap.o.ob_size, 1 << 41)
    assert heap.render(ba) == f"<invalid object at 0x{ba:x}>"


# -- sets -----------------------------------------------------------------------------

def _self_containing_set(heap: Heap, type_name: str, tp=None) -> int:
    """A set holding an instance of a hashable list subclass which holds the set:
    `class HL(list): __hash__ = ...; h = HL(); s = set([h]); h.append(s)`."""
    hashable_list = heap.type("HL", base="list", heap=True)
    hole = heap.value(987654)
    inner = heap.list([hole], tp=hashable_list)
    s = heap.set([inner], type_name, tp=tp)
    heap.replace_ptr(hole, s)
    return s


def test_set_cycles_print_like_cpython3(heap: Heap) -> None:
    """Also: a set inside another (through the list) is no cycle: `{[{1}]}`."""
    hashable_list = heap.type("HL", base="list", heap=True)
    inner = heap.list([heap.set([heap.value(1)])], tp=hashable_list)
    assert heap.render(heap.set([inner])) == "{[{1}]}"
    assert heap.render(_self_containing_set(heap, "set")) == "{[set(...)]}"
    assert heap.render(_self_containing_set(heap, "frozenset")) == \
        "frozenset({[frozenset(...)]})"
    my_set = heap.type("MySet", base="set", heap=True)
    assert heap.render(_self_containing_set(heap, "set", my_set)) == "MySet({[MySet(...)]})"


def test_set_cycles_print_like_python27(heap27: Heap) -> None:
    h = heap27
    assert h.render(_self_containing_set(h, "set")) == "set([[set(...)]])"
    assert h.render(_self_containing_set(h, "frozenset")) == "frozenset([[frozenset(...)]])"
    my_set = h.type("MySet", base="set", heap=True)
    assert h.render(_self_containing_set(h, "set", my_set)) == "MySet([[MySet(...)]])"


@pytest.mark.parametrize("version", [(2, 7), (3, 12)])
def test_set_mask_not_a_power_of_two_minus_one_is_invalid(version) -> None:
    heap = Heap(layout_for(version))
    s = heap.set([heap.value(1), heap.value(2)])
    heap.put_i64(s + heap.o.set_mask, 6)  # a 7-slot table: no set has one
    assert heap.render(s) == f"<invalid object at 0x{s:x}>"


@pytest.mark.parametrize("version", [(2, 7), (3, 12)])
def test_set_with_one_slot_table_prints_it(version) -> None:
    """Mask 0 is a table of 2**0 slots, well-formed by the only rule checked (a power
    of two): its one entry prints."""
    heap = Heap(layout_for(version))
    s = heap.set([heap.value(1)])
    heap.put_i64(s + heap.o.set_mask, 0)
    assert heap.render(s) == ("set([1])" if version < (3,) else "{1}")


# -- 2.7 set dummies ------------------------------------------------------------------

def test_py2_set_str_elements_are_not_dummies(heap27: Heap) -> None:
    """Only the str `<dummy key>` (11 bytes) marks a deleted slot: shorter strs and
    other 11-byte strs are elements."""
    h = heap27
    assert h.render(h.set([h.bytes(b"a")])) == "set(['a'])"
    assert h.render(h.set([h.bytes(b"hello world")])) == "set(['hello world'])"


def test_py2_set_unreadable_element_is_not_a_dummy(heap27: Heap) -> None:
    h = heap27
    assert h.render(h.set([BAD])) == f"set([<invalid object at 0x{BAD:x}>])"


def test_py2_set_element_equal_to_the_dummy_after_a_deleted_slot_prints(heap27: Heap) -> None:
    """`set(['<dummy key>'])` after a deletion: once the dummy object is known (the
    first deleted slot), another str with its text is a real element."""
    h = heap27
    s = h.set([h.bytes(b"<dummy key>")], holes=1)
    assert h.render(s) == "set(['<dummy key>'])"


# -- huge ints ------------------------------------------------------------------------

def test_huge_int_with_zero_top_digit_is_invalid(heap: Heap) -> None:
    """An int of 30000 digits whose top internal digit is 0 is not normalised: no
    int has that, whatever the digits below."""
    address = _int_with_top_digits(heap, 30000, [5, 0, 7, 0])
    assert heap.render(address) == f"<invalid object at 0x{address:x}>"


def test_huge_int_next_to_a_power_of_ten_needs_no_full_read(heap: Heap) -> None:
    """The top four digits T bound the value to [T, T + 1) * 2**shift: a power of ten
    just above (T + 1) * 2**shift (and below (T + 2) * 2**shift) does not make the
    count ambiguous, so it comes from the top digits alone (the others are unmapped)."""
    ndigits = 30000
    shift = 30 * (ndigits - 4)
    k = (shift + 91) * 30103 // 100000  # a power of ten near 2**(90 + shift)
    while 10 ** k <= 1 << (90 + shift):
        k += 1
    top = -(-10 ** k >> shift) - 2  # (top + 1) << shift < 10**k <= (top + 2) << shift
    assert 1 << 90 <= top < 1 << 120
    assert (top + 1) << shift < 10 ** k <= (top + 2) << shift
    assert 10 ** (k - 1) <= top << shift
    words = [(top >> (30 * i)) & ((1 << 30) - 1) for i in range(4)]
    address = _int_with_top_digits(heap, ndigits, words)
    assert heap.render(address) == f"<int with {k} digits>"


def test_int_of_exactly_max_int_read_digits_is_counted_exactly() -> None:
    """10**k with exactly MAX_INT_READ internal digits: its top digits leave the count
    open (10**k itself is inside the bracket), and an int that long is still read
    whole, so the count is exact rather than `about`."""
    heap = Heap(layout_for((3, 12)))
    ndigits = reprs.MAX_INT_READ
    k = (30 * ndigits - 15) * 30103 // 100000
    value = 10 ** k
    assert (value.bit_length() + 29) // 30 == ndigits
    raw = value.to_bytes(15 * (ndigits // 4), "little")  # 15 bytes: four 30-bit digits
    digits = bytearray()
    for i in range(0, len(raw), 15):
        group = int.from_bytes(raw[i:i + 15], "little")
        digits += struct.pack("<4I", *((group >> (30 * j)) & ((1 << 30) - 1) for j in range(4)))
    o = heap.o
    address = heap.new("int", o.long_digits)
    heap.put_i64(address + o.long_size, ndigits << 3 if o.long_tagged else ndigits)
    heap.target.blocks[address + o.long_digits] = digits
    assert heap.render(address) == f"<int with {k + 1} digits>"
