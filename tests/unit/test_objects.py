"""`Objects`, the reader of the builtin objects the stack walk itself needs (names of
threads, modules and attributes, dict lookups, ints, tuples, sets), on synthetic heaps
of every layout.

The reprs have renderers of their own for values; what is tested here is what thread
names, `sys.version`, asyncio task names and attribute lookups are read through, where
a wrong kind, a wrong cut or a dict slot read as an entry prints a wrong name rather
than a wrong value.
"""
from __future__ import annotations

import struct

import pytest

from pystack.cpython.memory import Memory
from pystack.cpython.objects import MAX_DIGITS, ObjectError, Objects
from unit.test_reprs import Heap

TEXTS = ["", "abc", "héllo wörld", "日本語", "\U0001f600 grin", "a\ud800b", "\xff" * 3]


@pytest.mark.parametrize("compact", [True, False], ids=["compact", "data-pointer"])
@pytest.mark.parametrize("text", TEXTS, ids=ascii)
def test_str_of_every_kind_reads_back(heap: Heap, text: str, compact: bool) -> None:
    objs = heap.objects()
    address = heap.str(text, compact=compact)
    assert objs.read_str(address) == text
    assert objs.read_str(address, 2) == text[:2]


def _state(heap: Heap, address: int, kind: int) -> None:
    o = heap.o
    state = struct.unpack("<I", heap.target.read(address + o.unicode_state, 4))[0]
    state &= ~(7 << o.unicode_kind_shift)
    heap.put(address + o.unicode_state, struct.pack("<I", state | kind << o.unicode_kind_shift))


@pytest.mark.parametrize("kind", [0, 3, 5, 7])
def test_a_str_of_no_kind_is_not_a_str(heap: Heap, kind: int) -> None:
    address = heap.str("日本")
    _state(heap, address, kind)
    with pytest.raises(ObjectError):
        heap.objects().read_str(address)


def test_a_negative_length_or_a_code_point_past_unicode_is_not_a_str(heap: Heap) -> None:
    short = heap.str("abc")
    heap.put_i64(short + heap.o.unicode_length, -1)
    with pytest.raises(ObjectError):
        heap.objects().read_str(short)
    wide = heap.str("\U0001f600")
    data = wide + heap.o.unicode_compact_size
    heap.put(data, struct.pack("<I", 0x110000))
    with pytest.raises(ObjectError):
        heap.objects().read_str(wide)


def test_python2_text(heap27: Heap) -> None:
    name, odd = heap27.bytes(b"thread-1"), heap27.bytes(b"caf\xc3\xa9 \xff")
    wide, raw = heap27.py2_unicode("日本\U0001f600"), heap27.bytes(b"\x00\xff")
    objs = heap27.objects()  # (after the heap is built: its pages are cached)
    assert objs.read_str(name) == "thread-1"
    assert objs.read_str(odd) == "café \ufffd"
    assert objs.read_str(name, 6) == "thread"
    assert objs.read_str(wide) == "日本\U0001f600"
    assert objs.read_str(wide, 2) == "日本"
    assert objs.read_bytes(raw) == b"\x00\xff"


def test_a_negative_bytes_size_is_not_bytes(heap: Heap) -> None:
    address = heap.bytes(b"abc")
    heap.put_i64(address + heap.o.ob_size, -3)
    with pytest.raises(ObjectError):
        heap.objects().read_bytes(address)


def test_type_names_are_read_once_per_type_and_undecodable_bytes_replaced(heap: Heap) -> None:
    tp = heap.type("caf\udce9".encode("utf-8", "surrogateescape").decode("latin-1"),
                   heap=True)
    heap.put(heap.ptr(tp + heap.o.tp_name), b"caf\xe9\0")
    first, second = heap.new("", 32, tp), heap.new("", 32, tp)
    objs = Objects(Memory(heap.target, cache=False), heap.layout)  # sees every change
    assert objs.type_name(first) == "caf\ufffd"
    heap.put(heap.ptr(tp + heap.o.tp_name), b"zzzz\0")
    assert objs.type_name(second) == "caf\ufffd"  # the same type: its name is known
    assert heap.objects().type_name(second) == "zzzz"


@pytest.mark.parametrize("value", [0, 1, -1, 7, 2 ** 30 - 1, 2 ** 30, -2 ** 62, 2 ** 64 + 5,
                                   -(2 ** 200)])
def test_ints(heap: Heap, value: int) -> None:
    assert heap.objects().read_int(heap.long(value)) == value


def test_python2_ints_and_longs(heap27: Heap) -> None:
    small, big, negative = heap27.py2_int(-5), heap27.long(2 ** 70, "long"), \
        heap27.long(-3, "long")
    objs = heap27.objects()
    assert objs.read_int(small) == -5
    assert objs.read_int(big) == 2 ** 70
    assert objs.read_int(negative) == -3


def test_an_int_of_too_many_digits_is_refused(heap: Heap) -> None:
    largest = 1 << (30 * (MAX_DIGITS - 1))  # MAX_DIGITS digits
    address = heap.long(largest)
    assert heap.objects().read_int(address) == largest
    o = heap.o
    count = MAX_DIGITS + 1
    heap.put_i64(address + o.long_size, count << 3 if o.long_tagged else count)
    with pytest.raises(ObjectError):
        heap.objects().read_int(address)


def test_tuples(heap: Heap) -> None:
    items = [heap.long(i) for i in range(5)]
    address, empty = heap.tuple(items), heap.tuple([])
    objs = heap.objects()
    assert objs.tuple_items(address) == items
    assert objs.tuple_items(address, 5) == items
    assert objs.tuple_items(empty) == []
    with pytest.raises(ObjectError):
        objs.tuple_items(address, 4)
    heap.put_i64(address + heap.o.ob_size, -1)
    with pytest.raises(ObjectError):
        heap.objects().tuple_items(address)


@pytest.mark.parametrize("count", [0, 1, 5, 200, 300])
def test_dicts_in_insertion_order_without_deleted_entries(heap: Heap, count: int) -> None:
    pairs = [(heap.str(f"k{i}"), heap.long(i)) for i in range(count)]
    address = heap.dict(pairs, holes=3)
    assert list(heap.objects().dict_items(address)) == pairs


def test_dicts_with_keys_other_than_str(heap: Heap) -> None:
    pairs = [(heap.long(1), heap.str("one")), (heap.str("two"), heap.long(2))]
    objs = heap.objects()
    address = heap.dict(pairs, holes=1)
    assert list(objs.dict_items(address)) == pairs
    assert objs.dict_get_str(address, "two") == pairs[1][1]
    assert objs.dict_get_str(address, "one") is None


def test_python2_dicts_skip_empty_and_deleted_slots(heap27: Heap) -> None:
    pairs = [(heap27.bytes(b"a"), heap27.py2_int(1)), (heap27.bytes(b"b"), heap27.py2_int(2))]
    address = heap27.dict(pairs, holes=2)
    objs = heap27.objects()
    assert list(objs.dict_items(address)) == pairs
    assert objs.dict_get_str(address, "b") == pairs[1][1]
    heap27.put_i64(address + heap27.o.dict_mask, -1)
    with pytest.raises(ObjectError):
        list(heap27.objects().dict_items(address))


def test_lookups_compare_whole_keys(heap: Heap) -> None:
    pairs = [(heap.str("name"), heap.long(1)), (heap.str("names"), heap.long(2)),
             (heap.str("nam"), heap.long(3)), (heap.str("nāme"), heap.long(4))]
    address = heap.dict(pairs)
    objs = heap.objects()
    assert objs.dict_get_str(address, "names") == pairs[1][1]
    assert objs.dict_get_str(address, "nam") == pairs[2][1]
    assert objs.dict_get_str(address, "nāme") == pairs[3][1]
    assert objs.dict_get_str(address, "nama") is None
    assert objs.dict_get_str(address, "") is None


def test_damaged_dict_keys_are_refused(heap: Heap) -> None:
    o = heap.o
    address = heap.dict([(heap.str("a"), heap.long(1))])
    keys = heap.ptr(address + o.dict_keys)
    heap.put_i64(keys + o.keys_nentries, -1)
    with pytest.raises(ObjectError):
        list(heap.objects().dict_items(address))
    heap.put_i64(keys + o.keys_nentries, (1 << 16) + 1)
    with pytest.raises(ObjectError):
        list(heap.objects().dict_items(address))


def test_the_entry_budget_counts_across_calls(heap: Heap) -> None:
    address = heap.dict([(heap.str(f"k{i}"), heap.long(i)) for i in range(3)])
    objs = heap.objects()
    objs.budget = 6
    assert len(list(objs.dict_items(address))) == 3
    assert len(list(objs.dict_items(address))) == 3  # exactly spent: still allowed
    with pytest.raises(ObjectError):
        list(objs.dict_items(address))
    objs.budget = 2
    with pytest.raises(ObjectError):
        list(objs.dict_items(address))
    objs.budget = None
    assert len(list(objs.dict_items(address))) == 3


def test_sets_in_table_order_without_dummies(heap: Heap) -> None:
    items = [heap.long(i) for i in range(4)]
    address = heap.set(items, holes=2)
    objs = heap.objects()
    assert objs.set_items(address) == items
    objs.budget = 16
    assert objs.set_items(address) == items  # a table of 16 slots
    with pytest.raises(ObjectError):
        objs.set_items(address)


@pytest.mark.parametrize("mask", [-1, 6, 12, 1 << 22])
def test_a_set_whose_mask_is_not_a_table_size_is_refused(heap: Heap, mask: int) -> None:
    address = heap.set([heap.long(1)])
    heap.put_i64(address + heap.o.set_mask, mask)
    with pytest.raises(ObjectError):
        heap.objects().set_items(address)


def test_a_set_of_one_slot(heap: Heap) -> None:
    one = heap.long(1)
    address = heap.set([one])
    heap.put_i64(address + heap.o.set_mask, 0)
    assert heap.objects().set_items(address) == [one]
