"""`reprs.render` over a fake target whose objects are laid out by hand, per version.

`Heap` writes CPython objects (types, ints, strs, containers...) into a fake address
space following a version's `ObjectLayout`, the way the interpreter would. That lets
us check every version's decoding without running it, build states that are hard to
reach from Python (sparse huge ints, 10-million-element lists, 2.7 narrow unicode,
corrupted headers), and let hypothesis throw random values and random bytes at the
renderer: it must equal `repr()` where it can, and never raise, hang or overrun.
"""
from __future__ import annotations

import functools
import re
import struct
from decimal import Decimal
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import HEAP_VERSIONS
from integration.test_reprs_live import is_cut_of
from pystack.cpython.layout import PythonLayout
from pystack.cpython.layouts import layout_for
from pystack.cpython.memory import Memory
from pystack.cpython.objects import Objects
from pystack.cpython.reprs import DEFAULT_MAX_LEN, MAX_DEPTH, render
from pystack.errors import MemoryReadError
from pystack.target.base import Target

ARENA = 0x10000
HEAPTYPE = 1 << 9


class FakeTarget(Target):
    """Memory as {start address: bytes}; anything else is unmapped.

    `pattern` blocks repeat a short byte string over a huge range without storing it
    (a 10-million-pointer list costs nothing); `bytes_read` counts what was asked for.
    """

    def __init__(self) -> None:
        self.blocks: dict[int, bytearray] = {}
        self.patterns: dict[int, tuple[int, bytes]] = {}  # start -> (size, pattern)
        self.bytes_read = 0

    def read(self, address: int, size: int) -> bytes:
        self.bytes_read += size
        for start, block in self.blocks.items():
            if start <= address and address + size <= start + len(block):
                return bytes(block[address - start:address - start + size])
        for start, (length, pattern) in self.patterns.items():
            if start <= address and address + size <= start + length:
                offset = (address - start) % len(pattern)
                reps = (offset + size) // len(pattern) + 1
                return (pattern * reps)[offset:offset + size]
        raise MemoryReadError(address, size, "unmapped")

    def mappings(self) -> list:
        return []


class Heap:
    """Lays out objects of one CPython version in a FakeTarget, like the interpreter."""

    def __init__(self, layout: PythonLayout) -> None:
        self.layout = layout
        self.o = layout.objects
        self.py2 = layout.is_python2
        self.target = FakeTarget()
        self.arena = bytearray()
        self.used = 0
        self.target.blocks[ARENA] = self.arena
        self._types: dict[str, int] = {}
        type_type = self.alloc(0x200)
        self.put_ptr(type_type + self.o.ob_type, type_type)
        self.put_ptr(type_type + self.o.tp_name, self.cstring("type"))
        self._types["type"] = type_type
        self._small: dict[tuple, int] = {}

    def objects(self) -> Objects:
        return Objects(Memory(self.target), self.layout)

    def render(self, address: int, **kwargs: Any) -> str:
        return render(self.objects(), address, **kwargs)

    # -- raw memory ---------------------------------------------------------------
    def alloc(self, size: int) -> int:
        """Bump allocation; the arena grows by whole pages, as mapped memory does."""
        address = ARENA + self.used
        self.used += (size + 15) & ~15
        if self.used > len(self.arena):
            self.arena.extend(bytes((self.used - len(self.arena) + 0xFFFF) & ~0xFFFF))
        return address

    def put(self, address: int, data: bytes) -> None:
        self.arena[address - ARENA:address - ARENA + len(data)] = data

    def put_ptr(self, address: int, value: int) -> None:
        self.put(address, struct.pack("<Q", value))

    def put_i64(self, address: int, value: int) -> None:
        self.put(address, struct.pack("<q", value))

    def ptr(self, address: int) -> int:
        return struct.unpack("<Q", self.target.read(address, 8))[0]

    def replace_ptr(self, old: int, new: int) -> None:
        """Point every reference to `old` at `new` (to tie cycles after building)."""
        needle, start = struct.pack("<Q", old), 0
        while True:
            start = self.arena.find(needle, start)
            if start < 0:
                return
            if start % 8 == 0:
                self.arena[start:start + 8] = struct.pack("<Q", new)
            start += 1

    def cstring(self, text: str) -> int:
        data = text.encode() + b"\0"
        address = self.alloc(len(data))
        self.put(address, data)
        return address

    # -- types --------------------------------------------------------------------
    def type(self, name: str, base: Optional[str] = None, heap: bool = False) -> int:
        """A static builtin type (cached by name), or a new heap type deriving from `base`."""
        if not heap and name in self._types:
            return self._types[name]
        tp = self.alloc(0x200)
        o = self.o
        self.put_ptr(tp + o.ob_type, self._types["type"])
        self.put_ptr(tp + o.tp_name, self.cstring(name))
        self.put_ptr(tp + o.tp_flags, HEAPTYPE if heap else 0)
        if base is not None:
            self.put_ptr(tp + o.tp_base, self.type(base))
        if not heap:
            self._types[name] = tp
        return tp

    def new(self, type_name: str, size: int, tp: Optional[int] = None) -> int:
        address = self.alloc(max(size, 32))
        self.put_i64(address, 1)  # refcount
        self.put_ptr(address + self.o.ob_type, tp if tp is not None else self.type(type_name))
        return address

    # -- scalars ------------------------------------------------------------------
    def none(self) -> int:
        return self._once(("None",), lambda: self.new("NoneType", 16))

    def _once(self, key: tuple, make) -> int:
        if key not in self._small:
            self._small[key] = make()
        return self._small[key]

    def bool(self, value: bool) -> int:
        if self.py2:
            return self._once(("bool", value), lambda: self.py2_int(int(value), "bool"))
        return self._once(("bool", value), lambda: self.long(int(value), "bool"))

    def py2_int(self, value: int, type_name: str = "int", tp: Optional[int] = None) -> int:
        address = self.new(type_name, 24, tp)
        self.put_i64(address + self.o.int_ival, value)
        return address

    def long(self, value: int, type_name: str = "int", tp: Optional[int] = None) -> int:
        o = self.o
        digits = []
        rest = abs(value)
        while rest:
            digits.append(rest & ((1 << 30) - 1))
            rest >>= 30
        address = self.new(type_name, o.long_digits + 4 * max(1, len(digits)), tp)
        if o.long_tagged:
            sign_bits = 1 if value == 0 else 2 if value < 0 else 0
            self.put_i64(address + o.long_size, len(digits) << 3 | sign_bits)
        else:
            self.put_i64(address + o.long_size, len(digits) * (-1 if value < 0 else 1))
        self.put(address + o.long_digits, struct.pack(f"<{len(digits)}I", *digits))
        return address

    def int(self, value: int) -> int:
        if self.py2 and -(1 << 63) <= value < 1 << 63:
            return self.py2_int(value)
        return self.long(value, "long" if self.py2 else "int")

    def float(self, value: float, tp: Optional[int] = None) -> int:
        address = self.new("float", 24, tp)
        self.put(address + self.o.float_fval, struct.pack("<d", value))
        return address

    def complex(self, value: complex) -> int:
        address = self.new("complex", 32)
        self.put(address + self.o.complex_cval, struct.pack("<dd", value.real, value.imag))
        return address

    # -- text ---------------------------------------------------------------------
    def str(self, text: str, tp: Optional[int] = None, compact: bool = True) -> int:
        """A 3.x str in the smallest kind, compact (or with a data pointer, as subclasses)."""
        o = self.o
        top = max(map(ord, text), default=0)
        kind = 1 if top < 0x100 else 2 if top < 0x10000 else 4
        ascii_ = top < 0x80 and compact
        codec = {1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}[kind]
        data = text.encode(codec, "surrogatepass")
        header = o.unicode_ascii_size if ascii_ else o.unicode_compact_size
        address = self.new("str", header + len(data) + kind, tp)
        state = kind << o.unicode_kind_shift | int(compact) << o.unicode_compact_shift \
            | int(ascii_) << o.unicode_ascii_shift | 1 << 7
        self.put(address + o.unicode_state, struct.pack("<I", state))
        self.put_i64(address + o.unicode_length, len(text))
        if compact:
            self.put(address + header, data)
        else:
            buffer = self.alloc(len(data) + kind)
            self.put(buffer, data)
            self.put_ptr(address + o.unicode_data, buffer)
        return address

    def py2_unicode(self, text: str) -> int:
        o = self.o
        width = o.unicode_py2_char_size
        data = text.encode("utf-32-le" if width == 4 else "utf-16-le", "surrogatepass")
        address = self.new("unicode", 48)
        buffer = self.alloc(len(data) + width)
        self.put(buffer, data)
        self.put_i64(address + o.unicode_py2_length, len(data) // width)
        self.put_ptr(address + o.unicode_py2_str, buffer)
        return address

    def bytes(self, data: bytes, type_name: Optional[str] = None) -> int:
        name = type_name or ("str" if self.py2 else "bytes")
        address = self.new(name, self.o.bytes_sval + len(data) + 1)
        self.put_i64(address + self.o.ob_size, len(data))
        self.put(address + self.o.bytes_sval, data)
        return address

    def bytearray(self, data: bytes, skip: int = 0, tp: Optional[int] = None) -> int:
        o = self.o
        address = self.new("bytearray", 64, tp)
        buffer = self.alloc(len(data) + skip + 1)
        self.put(buffer + skip, data)
        self.put_i64(address + o.ob_size, len(data))
        self.put_ptr(address + o.bytearray_bytes, buffer)
        if o.bytearray_start is not None:
            self.put_ptr(address + o.bytearray_start, buffer + skip)
        return address

    def text(self, value: str) -> int:
        return self.py2_unicode(value) if self.py2 else self.str(value)

    # -- containers ---------------------------------------------------------------
    def list(self, items: list, tp: Optional[int] = None) -> int:
        address = self.new("list", 40, tp)
        array = self.alloc(8 * len(items))
        for i, item in enumerate(items):
            self.put_ptr(array + 8 * i, item)
        self.put_i64(address + self.o.ob_size, len(items))
        self.put_ptr(address + self.o.list_items, array if items else 0)
        return address

    def tuple(self, items: list, tp: Optional[int] = None) -> int:
        address = self.new("tuple", self.o.tuple_items + 8 * len(items), tp)
        self.put_i64(address + self.o.ob_size, len(items))
        for i, item in enumerate(items):
            self.put_ptr(address + self.o.tuple_items + 8 * i, item)
        return address

    def set(self, items: list, type_name: str = "set", tp: Optional[int] = None,
            holes: int = 0) -> int:
        """A set whose table holds `items` in this order, after `holes` deleted slots."""
        o = self.o
        address = self.new(type_name, 200, tp)
        size = 8
        while size < 2 * (len(items) + holes) + 1:
            size *= 2
        table = self.alloc(size * o.set_entry_size)
        dummy = self.bytes(b"<dummy key>") if self.py2 else self.new("object", 16)
        slots = [(dummy, -1)] * holes + [(item, 12345) for item in items]
        for i, (key, hash_) in enumerate(slots):
            entry = table + 2 * i * o.set_entry_size  # every other slot stays empty
            self.put_ptr(entry + o.set_entry_key, key)
            self.put_i64(entry + o.set_entry_hash, hash_)
        self.put_i64(address + o.set_used, len(items))
        self.put_i64(address + o.set_mask, size - 1)
        self.put_ptr(address + o.set_table, table)
        return address

    def dict(self, pairs: list, tp: Optional[int] = None, holes: int = 0) -> int:
        """A combined dict holding `pairs` in this order, after `holes` deleted entries."""
        o = self.o
        address = self.new("dict", 64, tp)
        self.put_i64(address + o.dict_used, len(pairs))
        entries = [(0, 0)] * holes + pairs
        if o.dict_table is not None:  # 2.7
            size = 8
            while size < 2 * len(entries) + 1:
                size *= 2
            table = self.alloc(24 * size)
            dummy = self.bytes(b"<dummy key>")
            for i, (key, value) in enumerate(entries):
                self.put_ptr(table + 24 * i + 8, key or dummy)
                self.put_ptr(table + 24 * i + 16, value)
            self.put_i64(address + o.dict_mask, size - 1)
            self.put_ptr(address + o.dict_table, table)
            return address
        unicode_keys = bool(pairs) and all(self._is_str(k) for k, _ in pairs)
        keys, entries_at, key_at, value_at = self._keys(len(entries), unicode_keys)
        entry_size = self._entry_size(unicode_keys)
        for i, (key, value) in enumerate(entries):
            self.put_ptr(entries_at + i * entry_size + key_at, key)
            self.put_ptr(entries_at + i * entry_size + value_at, value)
        self.put_ptr(address + o.dict_keys, keys)
        return address

    def _is_str(self, address: int) -> bool:
        return self.target.read(address + self.o.ob_type, 8) == struct.pack("<Q", self.type("str"))

    def _entry_size(self, unicode_keys: bool) -> int:
        o = self.o
        if o.keys_log2_size is not None and unicode_keys:
            return o.keys_unicode_entry_size
        return o.keys_entry_size

    def _keys(self, count: int, unicode_keys: bool) -> tuple[int, int, int, int]:
        """A PyDictKeysObject for `count` entries: (address, entries, key at, value at)."""
        o = self.o
        size = 8
        while size * 2 < 3 * count + 1:
            size *= 2
        general = o.keys_log2_size is None or not unicode_keys
        width = 1 if size <= 0xFF else 2 if size <= 0xFFFF else 4
        index_bytes = size * width
        keys = self.alloc(o.keys_indices + index_bytes + size * self._entry_size(unicode_keys))
        if o.keys_log2_size is not None:
            self.put(keys + o.keys_log2_size, bytes([size.bit_length() - 1]))
            self.put(keys + o.keys_log2_index_bytes, bytes([index_bytes.bit_length() - 1]))
            self.put(keys + o.keys_kind, bytes([0 if general else 1]))
        else:
            self.put_i64(keys + o.keys_size, size)
        self.put_i64(keys + o.keys_nentries, count)
        entries = keys + o.keys_indices + index_bytes
        return keys, entries, (8 if general else 0), (16 if general else 8)

    def split_dict(self, names: list, values: list, order: list) -> int:
        """An instance dict sharing `names`; the dict was filled in `order` (indices)."""
        o = self.o
        address = self.new("dict", 64)
        keys, entries, key_at, _ = self._keys(len(names), True)
        if o.keys_log2_size is not None:
            self.put(keys + o.keys_kind, bytes([2]))  # DICT_KEYS_SPLIT
        for i, name in enumerate(names):
            self.put_ptr(entries + i * self._entry_size(True) + key_at, self.str(name))
        self.put_ptr(address + o.dict_keys, keys)
        used = sum(1 for v in values if v)
        self.put_i64(address + o.dict_used, used)
        if o.values_capacity is not None:  # 3.13+: struct with the order after the slots
            capacity = len(names) + 2
            block = self.alloc(o.values_values + 8 * capacity + capacity)
            self.put(block + o.values_capacity, bytes([capacity]))
            array = block + o.values_values
            self.put(array + 8 * capacity, bytes(order))
            self.put_ptr(address + o.dict_values, block)
        elif o.keys_log2_size is not None:  # 3.11-3.12: the order before the values
            prefix = 16
            block = self.alloc(prefix + 8 * len(names))
            array = block + prefix
            self.put(array - 2, bytes([len(order)]))
            for i, index in enumerate(order):
                self.put(array - 3 - i, bytes([index]))
            self.put_ptr(address + o.dict_values, array)
        else:  # 3.6-3.10: values in key order
            array = self.alloc(8 * len(names))
            self.put_ptr(address + o.dict_values, array)
        for i, value in enumerate(values):
            self.put_ptr(array + 8 * i, value)
        return address

    # -- Python values ------------------------------------------------------------
    def value(self, v: Any) -> int:
        """Lay out a Python value (3.x semantics): sets in their iteration order."""
        if v is None:
            return self.none()
        if isinstance(v, bool):
            return self.bool(v)
        if isinstance(v, int):
            return self.int(v)
        if isinstance(v, float):
            return self.float(v)
        if isinstance(v, complex):
            return self.complex(v)
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, bytes):
            return self.bytes(v)
        if isinstance(v, bytearray):
            return self.bytearray(bytes(v))
        if isinstance(v, list):
            return self.list([self.value(x) for x in v])
        if isinstance(v, tuple):
            return self.tuple([self.value(x) for x in v])
        if isinstance(v, dict):
            return self.dict([(self.value(k), self.value(x)) for k, x in v.items()])
        if isinstance(v, frozenset):
            return self.set([self.value(x) for x in v], "frozenset")
        if isinstance(v, set):
            return self.set([self.value(x) for x in v])
        raise TypeError(type(v))


PY3_VERSIONS = HEAP_VERSIONS  # (the `heap` fixture of conftest.py is one of each)


# -- exact renderings -----------------------------------------------------------------

SAMPLES = [
    None, True, False, 0, 1, -1, 2 ** 30 - 1, 2 ** 30, -2 ** 63, 2 ** 100, -2 ** 100,
    10 ** 4299, 0.1, -0.0, 1e100, 5e-324, float("inf"), float("-inf"), float("nan"),
    1j, complex(1, -2), complex(-0.0, 0.0), "", "abc", "it's", 'say "hi"', "both ' \"",
    "\t\n\r\x00\x7f\\", "héllo wörld", "\xa0\xad", "日本語", "\U0001f600", "\ud800",
    b"", b"\x00ab\xff", b"it's", bytearray(b"abc"), bytearray(), [], [1, 2.0, "x"], (),
    (1,), ((),), {}, {1: 2, "a": [3, {"b": (4,)}]}, {"k": "v", "é": 1}, set(), {1, 2, 3},
    frozenset(), frozenset({4, 5}), [3.0, [frozenset({1})], {2: set()}],
]


@pytest.mark.parametrize("value", SAMPLES, ids=repr)
def test_samples_equal_repr(heap: Heap, value: Any) -> None:
    assert heap.render(heap.value(value), max_len=10 ** 6) == repr(value)


def test_big_ints(heap: Heap) -> None:
    assert heap.render(heap.value(10 ** 4300)) == "<int with 4301 digits>"
    assert heap.render(heap.value(-7 ** 9000)) == "<negative int with 7606 digits>"
    assert heap.render(heap.value(10 ** 5000 - 1)) == "<int with 5000 digits>"
    assert heap.render(heap.value(10 ** 5000)) == "<int with 5001 digits>"
    # beyond the budget: the digit count instead of the digits
    assert heap.render(heap.value(10 ** 100), max_len=50) == "<int with 101 digits>"
    assert heap.render(heap.value([1, 10 ** 100]), max_len=50) == "[1, <int with 101 digits>]"


@pytest.mark.parametrize("version", [(2, 7), (3, 8), (3, 12), (3, 14)])
def test_cuts_are_exactly_the_length_asked(version):
    """--locals-max-length N: a cut value is at most N characters, `...` and the
    closers included; a value of exactly N characters is not cut."""
    heap = Heap(layout_for(version))
    quote = "u'" if version[0] == 2 else "'"
    text = heap.value(u"a" * 100)
    assert heap.render(text, max_len=10) == quote + "a" * (10 - len(quote) - 4) + "...'"
    assert heap.render(heap.value([1, 2, 3, 4, 5]), max_len=10) == "[1, 2...]"
    assert heap.render(heap.value([1, 2, 3, 4, 5]), max_len=15) == "[1, 2, 3, 4, 5]"
    assert heap.render(heap.value([1, 2, 3, 4, 5]), max_len=14) == "[1, 2, 3, ...]"
    key = quote + "k'"
    assert heap.render(heap.value({u"k": [1, 2, 3]}), max_len=11 + len(key)) == \
        "{" + key + ": [1...]}"
    for n in range(3, 40):
        out = heap.render(heap.value({"key": [1, "two", (3.0, None)]}), max_len=n)
        assert len(out) <= n, (n, out)


def _int_with_top_digits(heap: Heap, ndigits: int, top: list) -> int:
    """An int of `ndigits` 30-bit digits of which only the top four (`top`, lowest
    first) are mapped: what a dump may read of a huge int, and no more."""
    o = heap.o
    address = heap.new("int", o.long_digits)
    heap.put_i64(address + o.long_size, ndigits << 3 if o.long_tagged else ndigits)
    heap.target.blocks[address + o.long_digits + 4 * (ndigits - 4)] = \
        bytearray(struct.pack("<4I", *top))
    return address


def test_huge_int_reads_only_its_top_digits(heap: Heap) -> None:
    """2**(30 * 10**7): 40 MB of digits, of which only the top four are mapped."""
    ndigits = 10 ** 7
    address = _int_with_top_digits(heap, ndigits, [0, 0, 0, 1])
    log = Decimal(30 * (ndigits - 1)) * (Decimal(2).ln() / Decimal(10).ln())
    exact = int(log) + 1  # 28 significant digits are plenty this far from an integer
    heap.target.bytes_read = 0
    assert heap.render(address) == f"<int with {exact} digits>"
    assert heap.target.bytes_read < 10000


def test_subclasses_print_their_builtin_value(heap: Heap) -> None:
    my_int = heap.type("MyInt", base="int", heap=True)
    my_int2 = heap.type("MyInt2", heap=True)
    heap.put_ptr(my_int2 + heap.o.tp_base, my_int)
    assert heap.render(heap.long(-5, tp=my_int)) == "-5"
    assert heap.render(heap.long(7, tp=my_int2)) == "7"
    my_float = heap.type("MyFloat", base="float", heap=True)
    assert heap.render(heap.float(2.5, tp=my_float)) == "2.5"
    my_str = heap.type("MyStr", base="str", heap=True)
    assert heap.render(heap.str("sub é", tp=my_str, compact=False)) == "'sub é'"
    my_list = heap.type("MyList", base="list", heap=True)
    assert heap.render(heap.list([heap.value(1)], tp=my_list)) == "[1]"
    my_tuple = heap.type("Point", base="tuple", heap=True)
    assert heap.render(heap.tuple([heap.value(1), heap.value(2)], tp=my_tuple)) == "(1, 2)"
    my_set = heap.type("MySet", base="set", heap=True)
    assert heap.render(heap.set([heap.value(1)], tp=my_set)) == "MySet({1})"
    assert heap.render(heap.set([], tp=my_set)) == "MySet()"
    my_ba = heap.type("MyBA", base="bytearray", heap=True)
    named = heap.layout.constants.bytearray_repr_named
    expected = ("MyBA" if named else "bytearray") + "(b'x')"
    assert heap.render(heap.bytearray(b"x", tp=my_ba)) == expected


def test_other_objects(heap: Heap) -> None:
    plain = heap.type("Foo", base="object", heap=True)
    foo = heap.new("", 16, plain)
    assert heap.render(foo) == f"<Foo object at 0x{foo:x}>"
    # a type defined in C with a dotted name: its module once, not twice
    static = heap.type("zlib.Compress", base="object")
    compress = heap.new("", 16, static)
    assert heap.render(compress) == f"<zlib.Compress object at 0x{compress:x}>"
    od = heap.dict([], tp=heap.type("collections.OrderedDict", base="dict"))
    assert heap.render(od) == ("OrderedDict()" if heap.layout.version >= (3, 0)
                               else f"<collections.OrderedDict object at 0x{od:x}>")
    assert heap.render(heap.type("int")) == "<class 'int'>"
    module = heap.new("module", 64)
    heap.put_ptr(module + heap.o.module_dict, heap.dict([(heap.str("__name__"), heap.str("os"))]))
    assert heap.render(module) == "<module 'os'>"
    assert heap.render(heap.new("ellipsis", 16)) == "Ellipsis"
    assert heap.render(heap.new("NotImplementedType", 16)) == "NotImplemented"


def test_bytearray_quotes_follow_the_target(heap: Heap) -> None:
    """Up to 3.14 bytearray escapes every ', even between double quotes."""
    quirk = heap.layout.constants.bytearray_repr_escapes_quote
    assert heap.render(heap.bytearray(b"it's")) == \
        ('bytearray(b"it\\\'s")' if quirk else 'bytearray(b"it\'s")')
    assert heap.render(heap.bytearray(b"a\"b'c")) == "bytearray(b'a\"b\\'c')"
    assert heap.render(heap.bytearray(b"3456789", skip=3)) == "bytearray(b'3456789')"


def test_dict_with_deleted_entries_and_sets_with_dummies(heap: Heap) -> None:
    d = heap.dict([(heap.value(1), heap.value(2))], holes=5)
    assert heap.render(d) == "{1: 2}"
    s = heap.set([heap.value(3), heap.value(4)], holes=5)
    assert heap.render(s) == "{3, 4}"


def test_split_dicts_keep_their_own_order(heap: Heap) -> None:
    one, two = heap.value(1), heap.value(2)
    names = ["x", "y", "z"]
    if heap.o.keys_log2_size is None:  # 3.6-3.10: values in key order, holes skipped
        d = heap.split_dict(names, [one, 0, two], [0, 2])
        assert heap.render(d) == "{'x': 1, 'z': 2}"
    else:  # 3.11+: each instance's insertion order
        d = heap.split_dict(names, [one, 0, two], [2, 0])
        assert heap.render(d) == "{'z': 2, 'x': 1}"


def test_cycles(heap: Heap) -> None:
    hole = heap.value(12345)
    lst = heap.list([heap.value(1), hole])
    heap.replace_ptr(hole, lst)
    assert heap.render(lst) == "[1, [...]]"
    hole = heap.value(12346)
    d = heap.dict([(heap.str("self"), hole)])
    heap.replace_ptr(hole, d)
    assert heap.render(d) == "{'self': {...}}"
    hole = heap.value(12347)
    t = heap.tuple([heap.list([hole])])
    heap.replace_ptr(hole, t)
    assert heap.render(t) == "([(...)],)"


def test_depth_is_bounded() -> None:
    heap = Heap(layout_for((3, 12)))
    inner = heap.list([])
    for _ in range(MAX_DEPTH + 50):
        inner = heap.list([inner])
    out = heap.render(inner, max_len=10 ** 6)
    assert out == "[" * MAX_DEPTH + "..." + "]" * MAX_DEPTH


def test_ten_million_items_cost_like_ten() -> None:
    heap = Heap(layout_for((3, 11)))
    zero = heap.value(0)
    address = heap.new("list", 40)
    heap.put_i64(address + heap.o.ob_size, 10 ** 7)
    items = 0x7F0000000000
    heap.target.patterns[items] = (8 * 10 ** 7, struct.pack("<Q", zero))
    heap.put_ptr(address + heap.o.list_items, items)
    heap.target.bytes_read = 0
    out = heap.render(address)
    assert re.fullmatch(r"\[(0, )+0?\.\.\.\]", out) and len(out) <= DEFAULT_MAX_LEN
    assert heap.target.bytes_read < 20000
    o = heap.o
    text = 0x7E0000000000  # a compact ASCII str header, its ten million characters after it
    header = bytearray(o.unicode_ascii_size)
    struct.pack_into("<QQ", header, 0, 1, heap.type("str"))
    struct.pack_into("<q", header, o.unicode_length, 10 ** 7)
    struct.pack_into("<I", header, o.unicode_state, 1 << 2 | 1 << 5 | 1 << 6 | 1 << 7)
    heap.target.blocks[text] = header
    heap.target.patterns[text + o.unicode_ascii_size] = (10 ** 7, b"z")
    heap.target.bytes_read = 0
    assert heap.render(text) == "'" + "z" * (DEFAULT_MAX_LEN - 5) + "...'"
    assert heap.target.bytes_read < 65536  # 4096 characters scanned for quotes, and pages


def test_garbage_gives_markers() -> None:
    heap = Heap(layout_for((3, 11)))
    o = heap.o
    assert heap.render(0) == "<NULL>"
    assert heap.render(0xDEAD0000) == "<invalid object at 0xdead0000>"
    assert heap.render(ARENA + 3) == f"<invalid object at 0x{ARENA + 3:x}>"
    not_a_type = heap.new("", 16, heap.value(5))  # ob_type points at an int
    assert heap.render(not_a_type) == f"<invalid object at 0x{not_a_type:x}>"
    absurd = heap.list([])
    heap.put_i64(absurd + o.ob_size, 1 << 50)
    assert heap.render(absurd) == f"<invalid object at 0x{absurd:x}>"
    dangling = heap.list([heap.value(1)])
    heap.put_ptr(dangling + o.list_items, 0xBAD0000)
    assert heap.render(dangling) == f"<invalid object at 0x{dangling:x}>"
    holes = heap.list([heap.value(1), 0, 0xBAD0000])
    assert heap.render(holes) == "[1, <NULL>, <invalid object at 0xbad0000>]"
    bad_digit = heap.value(5)
    heap.put(bad_digit + o.long_digits, struct.pack("<I", 1 << 31))
    assert heap.render(bad_digit).startswith("<invalid object")


# -- 2.7 --------------------------------------------------------------------------------

def test_python27(heap27: Heap) -> None:
    h = heap27
    assert h.render(h.value(5)) == "5"
    assert h.render(h.value(-2 ** 63)) == "-9223372036854775808"
    assert h.render(h.value(2 ** 100)) == "1267650600228229401496703205376L"
    assert h.render(h.long(5, "long")) == "5L"
    assert h.render(h.value(True)) == "True"
    assert h.render(h.bytes(b"it's \xff\x00")) == "\"it's \\xff\\x00\""
    assert h.render(h.py2_unicode("h\xe9llo \u1234 \U0001f600 it's")) == \
        "u\"h\\xe9llo \\u1234 \\U0001f600 it's\""
    assert h.render(h.value([1, 2.0, (3,)])) == "[1, 2.0, (3,)]"
    assert h.render(h.set([h.value(1), h.value(2)], holes=3)) == "set([1, 2])"
    assert h.render(h.set([])) == "set([])"
    assert h.render(h.set([h.value(1)], "frozenset")) == "frozenset([1])"
    assert h.render(h.dict([(h.bytes(b"a"), h.value(1))], holes=2)) == "{'a': 1}"
    assert h.render(h.bytearray(b"it's")) == 'bytearray(b"it\\\'s")'
    assert h.render(h.type("int")) == "<type 'int'>"
    my_int = h.type("MyInt", base="int", heap=True)
    assert h.render(h.py2_int(3, tp=my_int)) == "3"
    assert h.render(h.value(10 ** 5000)) == "<long with 5001 digits>"


def test_python27_narrow_unicode() -> None:
    """A UCS-2 build stores astral characters as surrogate pairs, printed as one \\U."""
    layout = layout_for((2, 7))
    layout = layout.replace(objects=layout.objects.replace(unicode_py2_char_size=2))
    h = Heap(layout)
    assert h.render(h.py2_unicode("a\U0001f600\u1234")) == "u'a\\U0001f600\\u1234'"


# -- hypothesis -------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-2 ** 200, max_value=2 ** 200),
    st.floats(allow_nan=True), st.complex_numbers(allow_nan=False), st.text(max_size=30),
    st.binary(max_size=30),
)
hashables = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=10)),
    lambda inner: st.one_of(st.tuples(inner, inner), st.frozensets(inner, max_size=3)),
    max_leaves=6)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.tuples(inner), st.tuples(inner, inner, inner),
        st.dictionaries(hashables, inner, max_size=5), st.sets(hashables, max_size=5),
        st.frozensets(hashables, max_size=5)),
    max_leaves=25)
versions = st.sampled_from(PY3_VERSIONS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=versions, value=values)
def test_random_values_equal_repr(version: tuple, value: Any) -> None:
    heap = Heap(layout_for(version))
    assert heap.render(heap.value(value), max_len=10 ** 6) == repr(value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=versions, value=values, max_len=st.integers(1, 120))
def test_random_values_cut_visibly(version: tuple, value: Any, max_len: int) -> None:
    heap = Heap(layout_for(version))
    out = heap.render(heap.value(value), max_len=max_len)
    assert len(out) <= max(3, max_len), (out, max_len)  # the cut marker included
    assert is_cut_of(out, repr(value), max_len=max(3, max_len)), (out, repr(value))
    if len(repr(value)) <= max_len:
        assert out == repr(value)  # what fits is never cut


@st.composite
def garbage(draw):
    """A heap with valid types, plus a block of random words: numbers, pointers into the
    block, pointers to the types (so headers look right and sizes are random)."""
    version = draw(st.sampled_from([(2, 7)] + PY3_VERSIONS))
    heap = Heap(layout_for(version))
    names = ["int", "str", "bytes", "list", "tuple", "dict", "set", "float", "complex",
             "bytearray", "bool", "frozenset", "module", "type"]
    if version < (3, 0):
        names += ["long", "unicode"]
    types = [heap.type(n) for n in names]
    block_at, words = 0x500000, 128
    pick = st.one_of(
        st.integers(0, 2 ** 64 - 1), st.integers(-4, 300).map(lambda n: n % 2 ** 64),
        st.integers(0, words - 1).map(lambda i: block_at + 8 * i),
        st.sampled_from(types))
    block = bytearray(draw(st.binary(min_size=8 * words, max_size=8 * words)))
    for index, word in draw(st.lists(st.tuples(st.integers(0, words - 1), pick), max_size=200)):
        struct.pack_into("<Q", block, 8 * index, word)
    heap.target.blocks[block_at] = block
    address = block_at + 8 * draw(st.integers(0, words - 8))
    return heap, address


@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(case=garbage(), max_len=st.sampled_from([1, 10, 80, 1000]))
def test_garbage_never_raises(case, max_len: int) -> None:
    heap, address = case
    out = heap.render(address, max_len=max_len)
    assert isinstance(out, str)
    assert len(out) <= max(3, max_len)
    assert heap.target.bytes_read < 64 * 1024 * 1024


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version=st.sampled_from([(2, 7)] + PY3_VERSIONS), value=values,
       flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=20))
def test_corrupted_values_never_raise(version: tuple, value: Any, flips: list) -> None:
    heap = Heap(layout_for(version))
    address = heap.value(value)
    for offset, byte in flips:
        heap.arena[offset % heap.used] = byte
    out = heap.render(address)
    assert len(out) <= DEFAULT_MAX_LEN


def test_decimal_text_is_str_of_decimal():
    """decimal_text against the interpreter's own Decimal.__str__."""
    import decimal
    from pystack.cpython.reprs_named import decimal_text
    for text in ["1.50", "0", "-0", "1E+2", "1e-7", "0.000001", "-0.00", "12.345E-100",
                 "123456789012345678901234567890.5", "-Infinity", "NaN", "sNaN", "NaN123",
                 "1.0E+6", "0E-8", "-12E3"]:
        value = decimal.Decimal(text)
        sign, digits, exp = value.as_tuple()
        flags = int(sign)
        if value.is_infinite():
            flags |= 2
        elif value.is_snan():
            flags |= 8
        elif value.is_nan():
            flags |= 4
        coefficient = int("".join(map(str, digits)) or "0")
        exponent = exp if isinstance(exp, int) else 0
        assert decimal_text(flags, exponent, coefficient) == str(value), text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="/a.b", max_size=6), max_size=4))
def test_posix_path_text_is_as_posix(parts):
    """posix_path_text against this interpreter's own PurePosixPath."""
    import pathlib
    from pystack.cpython.reprs_named import posix_path_text
    assert posix_path_text(parts) == pathlib.PurePosixPath(*parts).as_posix()


def _escape_of(mode: str, quote: str):
    """A fresh escape rule (not the module's cached tables, which an earlier render may
    have filled: a wrong rule must show here whatever ran before)."""
    from pystack.cpython.reprs import _make_escape
    return _make_escape(mode, quote)


#: Every ASCII code point, then samples of every range a rule treats apart.
_CODES = list(range(0x80)) + [0x80, 0x9F, 0xA0, 0xAD, 0xE9, 0xFF, 0x100, 0x2028, 0x65E5,
                              0xFEFF, 0xFFFF, 0x10000, 0x1F600, 0xE0001, 0x10FFFF]


@pytest.mark.parametrize("quote", ["'", '"'])
def test_str_escapes_are_reprs(quote: str) -> None:
    """3.x str: what repr() writes between its quotes, code point by code point (the
    other quote stays as it is; only the one the repr is quoted with is escaped)."""
    escape = _escape_of("str", quote)
    other = '"' if quote == "'" else "'"
    for code in _CODES:
        want = repr(chr(code) + other)[1:-2]
        if code == ord(quote):
            want = "\\" + quote
        assert escape(code) == want, hex(code)


@pytest.mark.parametrize("mode", ["bytes", "bytearray"])
@pytest.mark.parametrize("quote", ["'", '"'])
def test_bytes_escapes_are_reprs(mode: str, quote: str) -> None:
    """bytes: repr()'s escapes for each byte; bytearray (before 3.15) escapes every
    single quote and no double quote, whatever it is quoted with (it is quoted with
    `"` only when it holds none)."""
    escape = _escape_of(mode, quote)
    escaped = "'" if mode == "bytearray" else quote
    for code in range(256):
        want = repr(bytes([code]))[2:-1]
        if chr(code) == escaped:
            want = "\\" + chr(code)
        elif chr(code) in "'\"":
            want = chr(code)
        assert escape(code) == want, (mode, quote, hex(code))


def test_unicode_escapes_are_python2s() -> None:
    """2.7 unicode escapes every non-ASCII code point: \\xNN, \\uNNNN, \\UNNNNNNNN."""
    escape = _escape_of("unicode", "'")
    for code in _CODES:
        if code < 0x80:
            continue
        width = 2 if code < 0x100 else 4 if code < 0x10000 else 8
        prefix = {2: "x", 4: "u", 8: "U"}[width]
        assert escape(code) == f"\\{prefix}{code:0{width}x}", hex(code)
    assert escape(ord("'")) == "\\'" and escape(ord('"')) == '"'
    assert [escape(c) for c in (9, 10, 13, 0, 0x1F, 0x7F, 0x5C, 0x41)] == \
        ["\\t", "\\n", "\\r", "\\x00", "\\x1f", "\\x7f", "\\\\", "A"]


@functools.lru_cache(maxsize=None)
def _huge_ints() -> tuple:
    """(value, its digit count as printed): 10**1300000 and a value well inside a decade."""
    power = 10 ** 1300000
    return ((power, "about 1300000"), (power * 7 >> 1, "1300001"))


@pytest.mark.parametrize("fresh", [False, True])
def test_ints_too_long_to_read_are_counted_about(heap: Heap, monkeypatch, fresh) -> None:
    """Past MAX_INT_READ internal digits an int is never read whole: when a power of
    ten falls between the bounds its top digits give (10**k itself), the count says
    `about`; elsewhere the top digits decide it exactly. `fresh`: the decimal
    constants computed again, not taken from an earlier render."""
    from pystack.cpython import reprs
    if fresh:
        monkeypatch.setattr(reprs, "_DECIMAL", None)
    bits = 30
    for value, want in _huge_ints():
        ndigits = (value.bit_length() + bits - 1) // bits
        assert ndigits > reprs.MAX_INT_READ
        top = value >> (bits * (ndigits - 4))
        words = [(top >> (bits * i)) & ((1 << bits) - 1) for i in range(4)]
        address = _int_with_top_digits(heap, ndigits, words)
        assert heap.render(address) == f"<int with {want} digits>"
