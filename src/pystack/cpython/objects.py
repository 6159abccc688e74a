"""Decoding of the builtin objects the stack walk needs: str, bytes, int, dicts, tuples.

Everything here reads through `Memory` and a `PythonLayout`; sizes are capped so that a
garbage pointer costs at most one bounded read and an exception, never a huge
allocation or an endless loop.
"""
from __future__ import annotations


from ..errors import MemoryReadError
from .layout import PythonLayout
from .memory import Memory

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Iterator, Optional

MAX_STR = 1 << 16  # characters of a str we are willing to read
MAX_BYTES = 1 << 20
MAX_DICT_ENTRIES = 1 << 16
MAX_DIGITS = 1 << 12
DIGIT_BITS = 30
MAX_SET_SLOTS = 1 << 22  # asyncio keeps every task of a large server in one set
_MINUS_ONE = b"\xff" * 8


class ObjectError(Exception):
    """An object is not what we expected (wrong type, absurd size)."""


class Objects:
    """Reads Python objects of one interpreter version out of target memory."""

    def __init__(self, memory: Memory, layout: PythonLayout) -> None:
        self.mem = memory
        self.layout = layout
        self.o = layout.objects
        self._type_names: dict[int, str] = {}
        #: (shared keys object, name) -> the key's str object, once compared by text.
        self._shared_keys: dict[tuple[int, str], int] = {}
        #: Dict entries that may still be examined, when a caller bounds its work.
        self.budget: Optional[int] = None

    def spend(self, entries: int) -> None:
        """Count `entries` dict slots against `budget`; ObjectError once it is spent."""
        if self.budget is not None:
            self.budget -= entries
            if self.budget < 0:
                raise ObjectError("too many dict entries to examine")

    # -- types -----------------------------------------------------------------------
    def type_of(self, obj: int) -> int:
        return self.mem.ptr(obj + self.o.ob_type)

    def type_name(self, obj: int) -> str:
        tp = self.type_of(obj)
        name = self._type_names.get(tp)
        if name is None:
            raw = self.mem.cstring(self.mem.ptr(tp + self.o.tp_name), 200)
            name = raw.decode("utf-8", "replace")
            self._type_names[tp] = name
        return name

    # -- str -------------------------------------------------------------------------
    def read_str(self, obj: int, limit: int = MAX_STR) -> str:
        """The text of a `str` (unicode in 3.x, the byte string in 2.7)."""
        if self.layout.is_python2:
            name = self.type_name(obj)
            if name == "unicode":
                return self._read_py2_unicode(obj, limit)
            return self.read_bytes(obj, limit).decode("utf-8", "replace")
        o = self.o
        mem = self.mem
        state = mem.u32(obj + o.unicode_state)
        kind = (state >> o.unicode_kind_shift) & 7
        compact = (state >> o.unicode_compact_shift) & 1
        ascii_ = (state >> o.unicode_ascii_shift) & 1
        length = mem.i64(obj + o.unicode_length)
        if length < 0 or kind not in (1, 2, 4):
            raise ObjectError(f"not a str at 0x{obj:x}")
        length = min(length, limit)
        if compact:
            data = obj + (o.unicode_ascii_size if ascii_ else o.unicode_compact_size)
        else:
            data = mem.ptr(obj + o.unicode_data)
        raw = mem.read(data, length * kind) if length else b""
        if kind == 1:
            return raw.decode("latin-1")
        if kind == 2:
            return raw.decode("utf-16-le", "surrogatepass")
        try:
            return raw.decode("utf-32-le", "surrogatepass")
        except UnicodeDecodeError:  # a code point past U+10FFFF: no str holds one
            raise ObjectError(f"not a str at 0x{obj:x}") from None

    def _read_py2_unicode(self, obj: int, limit: int) -> str:
        # PyUnicodeObject in 2.7: HEAD, length, str (Py_UNICODE*, UCS-4 on Linux builds)
        length = min(self.mem.i64(obj + 16), limit)
        data = self.mem.ptr(obj + 24)
        if length < 0:
            raise ObjectError("bad unicode length")
        return self.mem.read(data, length * 4).decode("utf-32-le", "replace")

    # -- bytes -----------------------------------------------------------------------
    def read_bytes(self, obj: int, limit: int = MAX_BYTES) -> bytes:
        size = self.mem.i64(obj + self.o.ob_size)
        if size < 0:
            raise ObjectError(f"not a bytes object at 0x{obj:x}")
        return self.mem.read(obj + self.o.bytes_sval, min(size, limit))

    # -- int -------------------------------------------------------------------------
    def read_int(self, obj: int) -> int:
        """Value of a `PyLongObject` (or a 2.7 `PyIntObject` when its type says so)."""
        o = self.o
        if o.int_ival is not None and self.type_name(obj) == "int":
            return self.mem.i64(obj + o.int_ival)
        raw = self.mem.i64(obj + o.long_size)
        if o.long_tagged:
            ndigits = raw >> 3
            sign = 1 - (raw & 3)
        else:
            ndigits = abs(raw)
            sign = -1 if raw < 0 else 1
        if ndigits > MAX_DIGITS:
            raise ObjectError("int too large")
        data = self.mem.read(obj + o.long_digits, 4 * ndigits)
        value = 0
        for i in range(ndigits - 1, -1, -1):
            value = (value << DIGIT_BITS) | int.from_bytes(data[4 * i:4 * i + 4], "little")
        return sign * value

    # -- tuples ----------------------------------------------------------------------
    def tuple_items(self, obj: int, limit: int = 1 << 16) -> list[int]:
        size = self.mem.i64(obj + self.o.ob_size)
        if size < 0 or size > limit:
            raise ObjectError("bad tuple size")
        raw = self.mem.read(obj + self.o.tuple_items, 8 * size)
        return [int.from_bytes(raw[i:i + 8], "little") for i in range(0, 8 * size, 8)]

    # -- dicts -----------------------------------------------------------------------
    def dict_items(self, obj: int) -> Iterator[tuple[int, int]]:
        """(key, value) addresses of a dict, in insertion order (hash order in 2.7)."""
        o = self.o
        mem = self.mem
        if o.dict_table is not None:  # 2.7: open addressing, entries hold the values
            mask = mem.i64(obj + o.dict_mask)
            if not 0 <= mask < MAX_DICT_ENTRIES:
                raise ObjectError("bad dict mask")
            self.spend(mask + 1)
            table = mem.ptr(obj + o.dict_table)
            raw = mem.read(table, 24 * (mask + 1))
            for i in range(0, len(raw), 24):
                key = int.from_bytes(raw[i + 8:i + 16], "little")
                value = int.from_bytes(raw[i + 16:i + 24], "little")
                if key and value:
                    yield key, value
            return
        keys = mem.ptr(obj + o.dict_keys)
        values = mem.ptr(obj + o.dict_values)
        yield from self.keys_items(keys, values)

    def keys_items(self, keys: int, values: int) -> Iterator[tuple[int, int]]:
        """Walk a `PyDictKeysObject`; `values` is a split table's `PyDictValues` or 0."""
        o = self.o
        mem = self.mem
        if o.keys_log2_size is not None:  # 3.11+
            header = mem.read(keys, o.keys_indices)
            log2_index_bytes = header[o.keys_log2_index_bytes]
            kind = header[o.keys_kind]
            if log2_index_bytes > 40:
                raise ObjectError("bad dict keys")
            entry_size = o.keys_entry_size if kind == 0 else o.keys_unicode_entry_size
            index_bytes = 1 << log2_index_bytes
            key_at, value_at = (8, 16) if kind == 0 else (0, 8)
        else:  # 3.6-3.10
            size = mem.i64(keys + o.keys_size)
            if not 0 < size <= 1 << 32:
                raise ObjectError("bad dict keys")
            width = 1 if size <= 0xFF else 2 if size <= 0xFFFF else 4 if size <= 0xFFFFFFFF else 8
            index_bytes = size * width
            entry_size, key_at, value_at = o.keys_entry_size, 8, 16
        nentries = mem.i64(keys + o.keys_nentries)
        if not 0 <= nentries <= MAX_DICT_ENTRIES:
            raise ObjectError("bad dict size")
        self.spend(nentries)
        entries = keys + o.keys_indices + index_bytes
        raw = mem.read(entries, entry_size * nentries) if nentries else b""
        split_values = None
        if values:
            split_values = mem.read(values + (o.values_values or 0), 8 * nentries) if nentries else b""
        for i in range(nentries):
            base = i * entry_size
            key = int.from_bytes(raw[base + key_at:base + key_at + 8], "little")
            if split_values is not None:
                value = int.from_bytes(split_values[8 * i:8 * i + 8], "little")
            else:
                value = int.from_bytes(raw[base + value_at:base + value_at + 8], "little")
            if key and value:
                yield key, value

    def dict_get_str(self, obj: int, wanted: str) -> Optional[int]:
        """The value stored under a str key, found by comparing key texts."""
        for key, value in self.dict_items(obj):
            if self._key_is(key, wanted):
                return value
        return None

    def _key_is(self, key: int, wanted: str) -> bool:
        try:
            # Lengths first: one read rejects almost every key (sys.modules has hundreds).
            if not self.layout.is_python2 and \
                    self.mem.i64(key + self.o.unicode_length) != len(wanted):
                return False
            return self.read_str(key, len(wanted) + 1) == wanted
        except (ObjectError, MemoryReadError):
            return False

    # -- sets (3.x) ------------------------------------------------------------------------
    def set_items(self, obj: int) -> list[int]:
        """The members of a set, in table order (deleted slots hold the hash -1)."""
        o, mem = self.o, self.mem
        mask = mem.i64(obj + o.set_mask)
        if not 0 <= mask < MAX_SET_SLOTS or (mask + 1) & mask:
            raise ObjectError("bad set mask")
        self.spend(mask + 1)
        raw = mem.read(mem.ptr(obj + o.set_table), o.set_entry_size * (mask + 1))
        found = []
        for at in range(0, len(raw), o.set_entry_size):
            key = int.from_bytes(raw[at + o.set_entry_key:at + o.set_entry_key + 8], "little")
            if key and raw[at + o.set_entry_hash:at + o.set_entry_hash + 8] != _MINUS_ONE:
                found.append(key)
        return found

    # -- modules and instances ----------------------------------------------------------
    def module_dict(self, module: int) -> int:
        return self.mem.ptr(module + self.o.module_dict)

    def attribute(self, obj: int, name: str) -> Optional[int]:
        """An instance attribute stored in the object's own `__dict__` (or inline values)."""
        o = self.o
        c = self.layout.constants
        mem = self.mem
        tp = self.type_of(obj)
        flags = mem.u32(tp + o.tp_flags) if o.tp_flags is not None else 0
        if c.tpflags_inline_values and flags & c.tpflags_inline_values:  # 3.13+
            managed = mem.ptr(obj - 24)
            if managed:
                return self.dict_get_str(managed, name)
            values = obj + mem.i64(tp + o.tp_basicsize)
            if mem.u8(values + 3):  # PyDictValues.valid
                return self._split_lookup(tp, values, name)
            return None
        if c.tpflags_managed_dict and flags & c.tpflags_managed_dict:
            slot = mem.ptr(obj - 24)
            if c.managed_values == "tagged":  # 3.12 PyDictOrValues
                if slot & 1:  # the values pointer minus one (odd, values are aligned)
                    return self._split_lookup(tp, slot + 1, name)
                return self.dict_get_str(slot, name) if slot else None
            if slot:  # 3.11: the dict, or else the values just before it
                return self.dict_get_str(slot, name)
            values = mem.ptr(obj - 32)
            return self._split_lookup(tp, values, name) if values else None
        offset = mem.i64(tp + o.tp_dictoffset)
        if offset < 0 and o.tp_itemsize is not None and not o.long_tagged:
            # a subclass of a variable-size type (int: an IntEnum member): the
            # __dict__ pointer sits after the items, counted from their end
            count = abs(mem.i64(obj + o.ob_size))
            end = mem.i64(tp + o.tp_basicsize) + count * mem.i64(tp + o.tp_itemsize)
            offset += (end + 7) & ~7
        if offset <= 0:
            return None
        dict_ = mem.ptr(obj + offset)
        return self.dict_get_str(dict_, name) if dict_ else None

    def _split_lookup(self, tp: int, values: int, name: str) -> Optional[int]:
        keys = self.mem.ptr(tp + self.o.ht_cached_keys)
        if not keys:
            return None
        # Instances of one class share its keys: after the first lookup the key is
        # known by address (a hundred threads' names, one text comparison).
        known = self._shared_keys.get((keys, name))
        for key, value in self.keys_items(keys, values):
            if known is not None:
                if key == known:
                    return value
            elif self._key_is(key, name):
                self._shared_keys[(keys, name)] = key
                return value
        return None
