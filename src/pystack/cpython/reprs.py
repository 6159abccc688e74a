"""Render any object in target memory as the target's own `repr()` would, within a budget.

We can never run code in the target, so every builtin type is decoded from its C
structure (offsets from the version's `ObjectLayout`) and its repr is rebuilt here with
the target's rules, which differ between versions: 2.7's `str` is a byte string and its
`unicode` prints `u'...'` with every non-ASCII character escaped, 2.7's `long` ends in
`L` and its sets print `set([1, 2])`, bytearray's repr changed in 3.7 and in 3.15.

What is and is not reproduced:

* None, bool, int (any size), float, complex, str, bytes, bytearray, list, tuple, dict,
  set and frozenset, with nested values, exactly like the target's repr (as long as the
  value fits the budget). `repr(float)` and `repr(complex)` of *this* interpreter are
  used on the unpacked doubles: CPython has printed the shortest round-tripping form
  since 2.7/3.1, so the algorithm is the same on both sides. Whether a non-ASCII
  character is printable (kept) or escaped comes from this interpreter's Unicode
  database, which may be older or newer than the target's for recently added
  characters.
* Instances of heap types (classes made by `class` statements) that derive from one of
  those builtins print as the builtin value, like `repr()` does when the class does not
  override `__repr__`. We do not try to find out whether it does: a namedtuple prints as
  its plain tuple, an IntEnum member as its int. Sets and (3.7+) bytearrays put the
  subclass name around the value, as their repr does.
* Everything else prints as `<tp_name object at 0x...>` (for a heap type tp_name is the
  bare class name, without the module `object.__repr__` would add); modules as
  `<module 'name'>`, type objects as `<class 'tp_name'>` (`<type '...'>` in 2.7).
* Ints with more than 4300 decimal digits (CPython's own default limit for `str(int)`
  since 3.11) or longer than the budget print as `<int with N digits>`.

Budget: the output is about `max_len` characters at most. A value that does not fit is
cut where the budget ends, and the cut is always visible and keeps brackets and quotes
balanced: the result is then a prefix of the full repr, then `...`, then the closing
quotes and brackets of what was open (`[1, 2, ...]`, `'aaa...'`, `{1: [2, ...]}`).
Nothing beyond what is printed is read, except that up to 4096 characters of a cut str
or bytes are read to choose its quote like the target would, and an int of up to 4300
decimal digits is read whole to count them (a longer one only by its top digits). Garbage (unreadable
memory, absurd sizes, a pointer that is not an object) prints as
`<invalid object at 0x...>`; nothing here raises, loops without bound or allocates in
proportion to a size read from the target.
"""
from __future__ import annotations

import struct
from ..records import record

from ..errors import MemoryReadError
from .layout import ObjectLayout
from .memory import Memory
from .objects import MAX_STR, ObjectError, Objects
from .reprs_named import NamedReprs

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    import weakref
    from decimal import Context, Decimal
    from typing import Callable, Iterator, Optional

DEFAULT_MAX_LEN = 80
#: Nesting deeper than this is cut (CPython itself would hit its recursion limit).
MAX_DEPTH = 100
#: Ints with more decimal digits print as `<int with N digits>`.
MAX_INT_DIGITS = 4300
#: Internal digits we are willing to read to settle the decimal length of a huge int.
MAX_INT_READ = 1 << 17
#: A class's name (tp_name, its __name__) is read up to this long; a longer one (or
#: garbage with no NUL) is no name at all rather than a name cut without a sign.
_MAX_TYPE_NAME = 4096
#: Characters of a str or bytes read beyond the budget to choose its quote.
MAX_QUOTE_SCAN = 1 << 12
#: A container or string claiming more elements than this is garbage.
MAX_SIZE = 1 << 40
#: Container slots (list items, dict entries, set slots) examined per output
#: character, and overall: bounds the cost of sparse tables.
WORK_PER_CHAR = 64
MAX_WORK = 1 << 22

_PTR = struct.Struct("<Q")
_PAIR = struct.Struct("<QQ")
_I64 = struct.Struct("<q")
_DOUBLE = struct.Struct("<d")
_COMPLEX = struct.Struct("<dd")
_DECIMAL: Optional[tuple[Context, Decimal, Decimal]] = None  # see _decimal_constants

#: Errors that mean "this is not a valid object": the value becomes a marker.
_BAD = (MemoryReadError, ObjectError, ValueError, OverflowError, struct.error,
        UnicodeError, IndexError, KeyError)


def render(objects: Objects, address: int, *, max_len: int = DEFAULT_MAX_LEN) -> str:
    """The target's repr of the object at `address`, cut visibly to at most `max_len`
    characters (`...` included; at least 3, the marker alone).

    A first pass spends the whole budget on the value: what fits prints whole. Only
    a value that had to be cut and came out too long (the marker, and a separator
    written before it, are not budgeted then) is rendered again with room kept for
    them: cut values are at most `max_len` long, values that fit are never cut.
    """
    max_len = max(3, max_len)
    try:
        text = _Renderer(objects, max_len).run(address)
        if len(text) > max_len:
            text = _Renderer(objects, max_len, strict=True).run(address)
        return text
    except Exception:  # a bug here must never cost the caller its whole dump
        return f"<invalid object at 0x{address:x}>"


# -- output with a budget -------------------------------------------------------------

CUT_MARKER = "..."


class _Cut(Exception):
    """The budget is spent: unwind to `run`, which closes what is still open."""


class _Exhausted(Exception):
    """A container scan used up the work budget; the container cuts itself."""


class _Out:
    """The text written so far, with the closers of open containers kept in reserve.

    A write fits when it leaves room for every closer still owed, so a cut can always
    append `...` and the closers. Loose (the first pass), a separator is written even
    when it overflows, so that the cut reads `[1, 2, ...]`, and the cut may end up to
    5 characters past `limit`; strict, room for `...` is kept and such a separator
    is dropped (`[1, 2...]`), so the text stays within `limit`.
    """

    def __init__(self, limit: int, strict: bool = False) -> None:
        #: strict: room is kept for the cut marker, and a separator that does not fit
        #: is not written, so that a cut value stays within `limit`.
        self.strict = strict
        self.limit = limit - len(CUT_MARKER) if strict else limit
        self.parts: list[str] = []
        self.used = 0
        self.closers: list[str] = []
        self.reserve = 0

    def room(self) -> int:
        return self.limit - self.used - self.reserve

    def write(self, text: str) -> None:
        """Write an atom (a number, a marker): whole or not at all."""
        if len(text) > self.room():
            self.cut()
        self.raw(text)

    def raw(self, text: str) -> None:
        self.parts.append(text)
        self.used += len(text)

    def sep(self, text: str) -> None:
        """A separator: written even without room (strict: only with room), then
        cut, so `...` follows it."""
        fits = len(text) <= self.room()
        if fits or not self.strict:
            self.raw(text)
        if not fits:
            self.cut()

    def open(self, opener: str, closer: str) -> None:
        if len(opener) + len(closer) > self.room():
            self.cut()
        self.raw(opener)
        self.closers.append(closer)
        self.reserve += len(closer)

    def close(self) -> None:
        closer = self.closers.pop()
        self.reserve -= len(closer)
        self.raw(closer)

    def cut(self) -> None:
        self.parts.append(CUT_MARKER)
        raise _Cut

    def mark(self) -> tuple[int, int, int, int]:
        return len(self.parts), self.used, len(self.closers), self.reserve

    def rewind(self, mark: tuple[int, int, int, int]) -> None:
        parts, self.used, closers, self.reserve = mark
        del self.parts[parts:]
        del self.closers[closers:]

    def text(self) -> str:
        return "".join(self.parts) + "".join(reversed(self.closers))


# -- escaping -------------------------------------------------------------------------

class _Escapes(dict):
    """code point -> its text inside quotes, computed on first use (for str.translate)."""

    def __init__(self, escape: Callable[[int], str]) -> None:
        super().__init__()
        self._escape = escape

    def __missing__(self, code: int) -> str:
        text = self[code] = self._escape(code)
        return text


def _make_escape(mode: str, quote: str) -> Callable[[int], str]:
    """The escaping rules of one repr: `str` (3.x), `unicode` (2.7), `bytes`, `bytearray`.

    All share \\\\, \\t, \\n, \\r and \\xNN for other ASCII controls; they differ on the
    quote (bytearray before 3.15 escapes every single quote) and on non-ASCII:
    3.x str keeps printable characters, 2.7 unicode escapes all of them.
    """
    escaped_quotes = {"'"} if mode == "bytearray" else {quote}

    def escape(code: int) -> str:
        ch = chr(code)
        if ch == "\\" or ch in escaped_quotes:
            return "\\" + ch
        if ch == "\t":
            return "\\t"
        if ch == "\n":
            return "\\n"
        if ch == "\r":
            return "\\r"
        if code < 0x20 or code == 0x7F:
            return f"\\x{code:02x}"
        if code < 0x7F or (mode == "str" and ch.isprintable()):
            return ch
        if code < 0x100:
            return f"\\x{code:02x}"
        if code < 0x10000:
            return f"\\u{code:04x}"
        return f"\\U{code:08x}"

    return escape


_TABLES: dict[tuple[str, str], _Escapes] = {}


def _escapes(mode: str, quote: str) -> _Escapes:
    table = _TABLES.get((mode, quote))
    if table is None:
        table = _TABLES[(mode, quote)] = _Escapes(_make_escape(mode, quote))
    return table


# -- types ----------------------------------------------------------------------------

@record(frozen=True)
class _TypeInfo:
    """What a type address means for rendering, computed once per type."""

    kind: str  # how to render: "list", "str", ..., "generic"
    name: str  # the type's own tp_name
    exact: bool  # the type is the static builtin itself, not a subclass


_INVALID_TYPE = _TypeInfo("invalid", "", False)

#: tp_name of a static builtin -> kind, for 3.x and 2.7 targets.
_KINDS_3 = {
    "NoneType": "none", "bool": "bool", "int": "long", "float": "float",
    "complex": "complex", "str": "str", "bytes": "bytes", "bytearray": "bytearray",
    "list": "list", "tuple": "tuple", "dict": "dict", "set": "set",
    "frozenset": "set", "module": "module", "type": "type", "ellipsis": "ellipsis",
    "NotImplementedType": "notimplemented", "function": "function",
    "method": "method", "range": "range", "slice": "slice", "memoryview": "memoryview",
    # types of C modules, by their dotted tp_name (heap types from 3.13 on)
    "collections.OrderedDict": "odict", "collections.defaultdict": "defaultdict",
    "collections.deque": "deque",
    "datetime.datetime": "datetime", "datetime.date": "date",
    "datetime.timedelta": "timedelta", "datetime.timezone": "timezone",
    "decimal.Decimal": "decimal",
}
_KINDS_2 = dict(_KINDS_3, int="int2", long="long", str="bytes", unicode="unicode2",
                instancemethod="method")
for _name in ("bytes", "method", "range", "collections.OrderedDict"):
    del _KINDS_2[_name]  # 2.7: str is bytes, xrange holds C longs, OrderedDict is Python

#: Type facts per `Objects` (so per target), made by the first render.
_CACHES: Optional[weakref.WeakKeyDictionary[Objects, dict[int, _TypeInfo]]] = None


def _type_caches() -> weakref.WeakKeyDictionary[Objects, dict[int, _TypeInfo]]:
    global _CACHES
    if _CACHES is None:
        import weakref  # lazily: only --locals renders values, so most runs never need it
        _CACHES = weakref.WeakKeyDictionary()
    return _CACHES


# -- the renderer ---------------------------------------------------------------------

class _Renderer(NamedReprs):
    """One render: the output, the budgets and the containers being printed (the
    reprs that name things, classes, modules and library types, are NamedReprs')."""

    def __init__(self, objects: Objects, max_len: int, strict: bool = False) -> None:
        self.objects = objects
        self.mem: Memory = objects.mem
        self.layout = objects.layout
        self.o: ObjectLayout = objects.layout.objects
        self.py2 = objects.layout.is_python2
        self.version = tuple(objects.layout.version)
        self.kinds = _KINDS_2 if self.py2 else _KINDS_3
        self.out = _Out(max_len, strict)
        self.work = min(MAX_WORK, WORK_PER_CHAR * max_len + 4096)
        self.active: set[int] = set()  # containers being printed, for cycles
        self.depth = 0
        caches = _type_caches()
        cache = caches.get(objects)
        if cache is None:
            cache = caches[objects] = {}
        self.types = cache
        size = self.o.long_digit_size or 4
        self.digit_size = size
        self.digit_bits = 30 if size == 4 else 15
        self.py2_dummy: Optional[int] = None  # 2.7's set dummy key, once recognised

    def run(self, address: int) -> str:
        try:
            self.value(address)
        except (_Cut, _Exhausted):
            pass
        return self.out.text()

    # -- dispatch -----------------------------------------------------------------
    def value(self, address: int) -> None:
        """Render one object; a bad one becomes a marker in place of what it began."""
        out = self.out
        if address == 0:
            out.write("<NULL>")
            return
        mark = out.mark()
        try:
            if address & 7 or address >= 1 << 63:
                raise ObjectError("misaligned object")
            tp = self.mem.ptr(address + self.o.ob_type)
            info = self.type_info(tp)
            if info is _INVALID_TYPE:
                raise ObjectError("no type")
            # an IntEnum or StrEnum member is an int or str subclass: its repr is the
            # member's, not the value's
            if not info.exact and info.kind != "generic" and self._enum_member(address, tp):
                return
            getattr(self, "r_" + info.kind)(address, info)
        except _BAD:
            out.rewind(mark)
            out.write(f"<invalid object at 0x{address:x}>")

    def type_info(self, tp: int) -> _TypeInfo:
        info = self.types.get(tp)
        if info is None:
            try:
                info = self._resolve_type(tp)
            except _BAD:
                info = _INVALID_TYPE
            self.types[tp] = info
        return info

    def _type_name(self, tp: int) -> str:
        raw = self.mem.cstring(self.mem.ptr(tp + self.o.tp_name), _MAX_TYPE_NAME + 1)
        name = raw.decode("utf-8")
        if not name or not name.isprintable() or len(raw) > _MAX_TYPE_NAME:
            raise ObjectError("bad tp_name")
        return name

    def _resolve_type(self, tp: int) -> _TypeInfo:
        """Check `tp` is a type (its metatype chain ends at `type`), then find its kind.

        A heap type (a class statement) is followed through `tp_base` to the first
        static type: that builtin decides how the instance prints.
        """
        mem, o = self.mem, self.o
        if not tp or tp & 7:
            return _INVALID_TYPE
        name = self._type_name(tp)
        meta = tp
        for _ in range(8):
            parent = mem.ptr(meta + o.ob_type)
            if parent == meta:
                break
            meta = parent
        else:
            return _INVALID_TYPE
        if meta & 7 or self._type_name(meta) != "type":
            return _INVALID_TYPE
        heap_flag = self.layout.constants.tpflags_heaptype or 0
        base = tp
        for _ in range(64):
            if o.tp_flags is None or o.tp_base is None:
                break
            if not mem.u32(base + o.tp_flags) & heap_flag:
                break
            # a C module's heap type (3.13's collections.deque) is known by its
            # dotted name; a class statement's name has no module in it
            base_name = self._type_name(base)
            if "." in base_name and base_name in self.kinds:
                return _TypeInfo(self.kinds[base_name], name, base == tp)
            base = mem.ptr(base + o.tp_base)
            if not base or base & 7:
                return _TypeInfo("generic", name, False)
        else:
            return _INVALID_TYPE
        kind = self.kinds.get(self._type_name(base) if base != tp else name, "generic")
        return _TypeInfo(kind, name, base == tp)

    # -- budgets ------------------------------------------------------------------
    def spend(self, count: int) -> None:
        self.work -= count
        if self.work < 0:
            raise _Exhausted

    def scan(self, base: int, count: int, stride: int) -> Iterator[bytes]:
        """The `count` slots of `stride` bytes at `base`, read in growing chunks."""
        if not 0 <= count <= MAX_SIZE:
            raise ObjectError("absurd size")
        done, chunk = 0, 16
        while done < count:
            n = min(chunk, count - done)
            self.spend(n)
            raw = self.mem.read(base + done * stride, n * stride)
            for i in range(0, n * stride, stride):
                yield raw[i:i + stride]
            done += n
            chunk = min(chunk * 4, 4096)

    def container(self, address: int, opener: str, closer: str, cycle: str,
                  items: Iterator, pairs: bool = False, trailer: str = "") -> None:
        """Print `items` (addresses, or key/value pairs) between `opener` and `closer`."""
        out = self.out
        if address in self.active:
            out.write(cycle)
            return
        if self.depth >= MAX_DEPTH:
            out.cut()
        out.open(opener, closer)
        self.active.add(address)
        self.depth += 1
        try:
            first = True
            count = 0
            while True:
                item = self.next_item(items, first)
                if item is None:
                    break
                if not first:
                    out.sep(", ")
                first = False
                count += 1
                if pairs:
                    self.value(item[0])
                    out.sep(": ")
                    self.value(item[1])
                else:
                    self.value(item)
            if trailer and count == 1:
                out.write(trailer)
        finally:
            self.active.discard(address)
            self.depth -= 1
        out.close()

    def name_room(self) -> int:
        """How much of a name to read: one more character than the budget left could
        show (so a longer name overflows and is cut visibly), and no more than a str
        is ever read."""
        return max(0, min(self.out.room(), MAX_STR - 1)) + 1

    def next_item(self, items: Iterator, first: bool):
        """The next of a container's `items` (None after the last); when the work
        budget runs out getting it, the cut, after the separator the items so far owe."""
        try:
            return next(items, None)
        except _Exhausted:
            if not first:
                self.out.sep(", ")
            self.out.cut()

    # -- scalars ------------------------------------------------------------------
    def r_none(self, address: int, info: _TypeInfo) -> None:
        self.out.write("None")

    def r_ellipsis(self, address: int, info: _TypeInfo) -> None:
        self.out.write("Ellipsis")

    def r_notimplemented(self, address: int, info: _TypeInfo) -> None:
        self.out.write("NotImplemented")

    def r_function(self, address: int, info: _TypeInfo) -> None:
        field = self.o.func_qualname if self.o.func_qualname is not None else self.o.func_name
        try:
            # as much of the name as could show: a longer one is cut visibly below
            name = self.objects.read_str(self.mem.ptr(address + field), self.name_room())
        except _BAD:
            name = None
        if not name or not name.isprintable():
            NamedReprs.r_generic(self, address, info)
        else:
            self.out.write(f"<function {name} at 0x{address:x}>")

    def _is_heap(self, tp: int) -> bool:
        flag = self.layout.constants.tpflags_heaptype or 0
        return bool(self.o.tp_flags is not None and self.mem.u32(tp + self.o.tp_flags) & flag)

    def r_bool(self, address: int, info: _TypeInfo) -> None:
        value = self.int_ival(address) if self.py2 else self.long_value(address, 1)
        if value not in (0, 1):
            raise ObjectError("bad bool")
        self.out.write("True" if value else "False")

    def r_int2(self, address: int, info: _TypeInfo) -> None:
        self.out.write(str(self.int_ival(address)))

    def int_ival(self, address: int) -> int:
        return self.mem.i64(address + self.o.int_ival)

    def r_float(self, address: int, info: _TypeInfo) -> None:
        value = _DOUBLE.unpack(self.mem.read(address + self.o.float_fval, 8))[0]
        self.out.write(repr(value))

    def r_complex(self, address: int, info: _TypeInfo) -> None:
        if self.o.complex_cval is None:
            raise ObjectError("no complex layout")
        real, imag = _COMPLEX.unpack(self.mem.read(address + self.o.complex_cval, 16))
        self.out.write(repr(complex(real, imag)))

    # -- int ----------------------------------------------------------------------
    def long_header(self, address: int) -> tuple[int, int]:
        """(sign, number of internal digits) of a PyLongObject, checked for sanity."""
        raw = self.mem.i64(address + self.o.long_size)
        if self.o.long_tagged:  # 3.12+: lv_tag = ndigits << 3 | sign bits (0 +, 1 zero, 2 -)
            # (bit 2 marks the immortal small ints from 3.14 on)
            if raw < 0 or raw & 3 == 3:
                raise ObjectError("bad lv_tag")
            ndigits, sign = raw >> 3, 1 - (raw & 3)
            if (sign == 0) != (ndigits == 0):
                raise ObjectError("bad lv_tag")
        else:
            ndigits, sign = abs(raw), (raw > 0) - (raw < 0)
        if ndigits > MAX_SIZE:
            raise ObjectError("absurd int size")
        return sign, ndigits

    def long_digits(self, address: int, first: int, count: int) -> int:
        """The value of internal digits [first, first + count) of a PyLongObject."""
        size, bits = self.digit_size, self.digit_bits
        raw = self.mem.read(address + self.o.long_digits + first * size, count * size)
        digits = struct.unpack(f"<{count}{'I' if size == 4 else 'H'}", raw)
        if digits and max(digits) >> bits:
            raise ObjectError("bad int digit")

        def build(lo: int, hi: int) -> int:  # divide and conquer: no quadratic shifting
            if hi - lo <= 64:
                value = 0
                for i in range(hi - 1, lo - 1, -1):
                    value = (value << bits) | digits[i]
                return value
            mid = (lo + hi) // 2
            return build(lo, mid) | (build(mid, hi) << (bits * (mid - lo)))

        return build(0, len(digits))

    def long_value(self, address: int, max_digits: int) -> int:
        sign, ndigits = self.long_header(address)
        if ndigits > max_digits:
            raise ObjectError("int too large")
        if not ndigits:
            return 0
        value = self.long_digits(address, 0, ndigits)
        if value >> (self.digit_bits * (ndigits - 1)) == 0:
            raise ObjectError("int not normalised")
        return sign * value

    def r_long(self, address: int, info: _TypeInfo) -> None:
        out = self.out
        sign, ndigits = self.long_header(address)
        suffix = "L" if self.py2 else ""
        if self.digit_bits * (ndigits - 1) * 0.30103 <= MAX_INT_DIGITS + 1:
            value = self.long_value(address, ndigits)
            count = _decimal_length(abs(value))
            if count <= MAX_INT_DIGITS:
                text = str(value) + suffix
                if len(text) <= out.room():
                    out.raw(text)
                    return
        else:
            count = self._huge_decimal_length(address, ndigits)
        word = "long" if self.py2 else "int"
        negative = "negative " if sign < 0 else ""
        out.write(f"<{negative}{word} with {count} digits>")

    def _huge_decimal_length(self, address: int, ndigits: int) -> str:
        """Decimal digits of an int too long to print, from its top internal digits.

        log10 of [top, top + 1) * 2**shift brackets the answer; only when a power of
        ten falls inside that sliver (10**k itself, say) do we read the whole value.
        """
        bits = self.digit_bits
        top_count = min(ndigits, 4)
        top = self.long_digits(address, ndigits - top_count, top_count)
        if top >> (bits * (top_count - 1)) == 0:
            raise ObjectError("int not normalised")
        from decimal import Decimal  # lazily (~2 ms): only ints of over 4300 digits get here
        ctx, log10_2, epsilon = _decimal_constants()
        shift = ctx.multiply(Decimal(bits * (ndigits - top_count)), log10_2)
        low = ctx.add(Decimal(top).log10(ctx), shift)
        high = ctx.add(Decimal(top + 1).log10(ctx), shift)
        if int(ctx.subtract(low, epsilon)) == int(ctx.add(high, epsilon)):
            return str(int(low) + 1)
        if ndigits > MAX_INT_READ:
            return "about " + str(int(high))
        value = self.long_digits(address, 0, ndigits)
        return str(int(high) + 1 if value >= 10 ** int(high) else int(high))

    # -- text ---------------------------------------------------------------------
    def r_str(self, address: int, info: _TypeInfo) -> None:
        o, mem = self.o, self.mem
        state = mem.u32(address + o.unicode_state)
        kind = (state >> o.unicode_kind_shift) & 7
        compact = (state >> o.unicode_compact_shift) & 1
        ascii_ = (state >> o.unicode_ascii_shift) & 1
        length = mem.i64(address + o.unicode_length)
        if not 0 <= length <= MAX_SIZE or kind not in (1, 2, 4) or (ascii_ and kind != 1):
            raise ObjectError("not a str")
        count = self._want(length, 2)
        if compact:
            data = address + (o.unicode_ascii_size if ascii_ else o.unicode_compact_size)
        else:
            data = mem.ptr(address + o.unicode_data)
        raw = mem.read(data, count * kind) if count else b""
        codec = {1: "ascii" if ascii_ else "latin-1", 2: "utf-16-le", 4: "utf-32-le"}[kind]
        text = raw.decode(codec, "surrogatepass" if kind > 1 else "strict")
        self.quoted("", "", text, count == length, "str")

    def r_unicode2(self, address: int, info: _TypeInfo) -> None:
        o, mem = self.o, self.mem
        if o.unicode_py2_length is None or o.unicode_py2_str is None:
            raise ObjectError("no unicode layout")
        length = mem.i64(address + o.unicode_py2_length)
        if not 0 <= length <= MAX_SIZE:
            raise ObjectError("bad unicode length")
        width = o.unicode_py2_char_size or 4
        count = self._want(length, 1)
        raw = mem.read(mem.ptr(address + o.unicode_py2_str), count * width) if count else b""
        # A UCS-2 build keeps astral characters as surrogate pairs and its repr prints
        # each pair as one \U escape, which is what decoding them as UTF-16 gives.
        text = raw.decode("utf-32-le" if width == 4 else "utf-16-le", "surrogatepass")
        self.quoted("u", "", text, count == length, "unicode")

    def r_bytes(self, address: int, info: _TypeInfo) -> None:
        size = self.mem.i64(address + self.o.ob_size)
        if not 0 <= size <= MAX_SIZE:
            raise ObjectError("bad bytes size")
        count = self._want(size, 2)
        text = self.mem.read(address + self.o.bytes_sval, count).decode("latin-1")
        self.quoted("" if self.py2 else "b", "", text, count == size, "bytes")

    def r_bytearray(self, address: int, info: _TypeInfo) -> None:
        o, mem = self.o, self.mem
        size = mem.i64(address + o.ob_size)
        if not 0 <= size <= MAX_SIZE or o.bytearray_bytes is None:
            raise ObjectError("bad bytearray")
        count = self._want(size, len("bytearray(b'')"))
        start = o.bytearray_start if o.bytearray_start is not None else o.bytearray_bytes
        data = mem.ptr(address + start) if count else 0
        text = mem.read(data, count).decode("latin-1") if count else ""
        c = self.layout.constants
        name = info.name.rsplit(".", 1)[-1] if c.bytearray_repr_named else "bytearray"
        mode = "bytearray" if c.bytearray_repr_escapes_quote else "bytes"
        self.quoted(name + "(b", ")", text, count == size, mode)

    def _want(self, length: int, overhead: int) -> int:
        """How many characters to read: what can be shown, or enough to pick the quote."""
        return min(length, max(self.out.room() - overhead + 1, MAX_QUOTE_SCAN))

    def quoted(self, prefix: str, suffix: str, text: str, complete: bool, mode: str) -> None:
        """Write `text` between the quote its repr would choose, cut if it does not fit."""
        out = self.out
        quote = '"' if "'" in text and '"' not in text else "'"
        out.open(prefix + quote, quote + suffix)
        table = _escapes(mode, quote)
        room = out.room()
        if complete:
            if text.isascii() and text.isprintable() and "\\" not in text and quote not in text \
                    and (mode != "bytearray" or "'" not in text):
                escaped = text
            else:
                escaped = text.translate(table)
            if len(escaped) <= room:
                out.raw(escaped)
                out.close()
                return
        pieces, used = [], 0
        for ch in text:
            piece = table[ord(ch)]
            if used + len(piece) > room:
                break
            pieces.append(piece)
            used += len(piece)
        out.raw("".join(pieces))
        out.cut()

    # -- containers ---------------------------------------------------------------
    def _sequence_items(self, base: int, size: int) -> Iterator[int]:
        for raw in self.scan(base, size, 8):
            yield _PTR.unpack(raw)[0]

    def r_list(self, address: int, info: _TypeInfo) -> None:
        size = self.mem.i64(address + self.o.ob_size)
        if not 0 <= size <= MAX_SIZE:
            raise ObjectError("bad list size")
        items = self.mem.ptr(address + self.o.list_items) if size else 0
        if size and not items:
            raise ObjectError("list without items")
        self.container(address, "[", "]", "[...]", self._sequence_items(items, size))

    def r_tuple(self, address: int, info: _TypeInfo) -> None:
        if not info.exact:
            fields = self.namedtuple_fields(self.objects.type_of(address))
            if fields is not None:
                self.r_namedtuple(address, fields)
                return
        size = self.mem.i64(address + self.o.ob_size)
        if not 0 <= size <= MAX_SIZE:
            raise ObjectError("bad tuple size")
        items = self._sequence_items(address + self.o.tuple_items, size)
        self.container(address, "(", ")", "(...)", items, trailer=",")

    def r_dict(self, address: int, info: _TypeInfo) -> None:
        if not info.exact:
            tp = self.objects.type_of(address)
            if self.py2:
                odict = self.library_class(tp, "collections", "OrderedDict")
                if odict is not None:
                    self.python_odict(address, odict)
                    return
            counter = self.counter_class(tp)
            if counter is not None:
                self.r_counter(address, counter)
                return
        used = self.mem.i64(address + self.o.dict_used)
        if not 0 <= used <= MAX_SIZE:
            raise ObjectError("bad dict size")
        items = self.dict_items(address) if used else iter(())
        self.container(address, "{", "}", "{...}", items, pairs=True)

    def r_set(self, address: int, info: _TypeInfo) -> None:
        o = self.o
        if o.set_table is None:
            raise ObjectError("no set layout")
        used = self.mem.i64(address + o.set_used)
        if not 0 <= used <= MAX_SIZE:
            raise ObjectError("bad set size")
        name = info.name
        items = self.set_items(address) if used else iter(())
        if self.py2:  # set([1, 2]), also when empty: set([])
            self.container(address, name + "([", "])", name + "(...)", items)
        elif not used:
            self.out.write(name + "()")
        elif info.exact and info.name == "set":
            self.container(address, "{", "}", "set(...)", items)
        else:  # frozenset({1}), and subclasses by their own name
            self.container(address, name + "({", "})", name + "(...)", items)

    def set_items(self, address: int) -> Iterator[int]:
        o, mem = self.o, self.mem
        mask = mem.i64(address + o.set_mask)
        if not 0 <= mask < MAX_SIZE or (mask + 1) & mask:
            raise ObjectError("bad set mask")
        table = mem.ptr(address + o.set_table)
        key_at, hash_at, stride = o.set_entry_key, o.set_entry_hash, o.set_entry_size
        for raw in self.scan(table, mask + 1, stride):
            key = _PTR.unpack_from(raw, key_at)[0]
            if not key:
                continue
            if self.py2:
                if self._is_py2_dummy(key):
                    continue
            elif _I64.unpack_from(raw, hash_at)[0] == -1:  # 3.x marks deleted slots so
                continue
            yield key

    def _is_py2_dummy(self, key: int) -> bool:
        """2.7 leaves a str "<dummy key>" in deleted set slots (its hash is kept)."""
        if key == self.py2_dummy:
            return True
        if self.py2_dummy is not None:
            return False
        try:
            if self.type_info(self.mem.ptr(key + self.o.ob_type)).kind != "bytes":
                return False
            if self.mem.i64(key + self.o.ob_size) != 11:
                return False
            if self.mem.read(key + self.o.bytes_sval, 11) != b"<dummy key>":
                return False
        except _BAD:
            return False
        self.py2_dummy = key
        return True

    def dict_items(self, address: int) -> Iterator[tuple[int, int]]:
        """(key, value) pairs of a dict in the order its repr walks them."""
        o, mem = self.o, self.mem
        if o.dict_table is not None:  # 2.7: open addressing, entries {hash, key, value}
            mask = mem.i64(address + o.dict_mask)
            if not 0 <= mask < MAX_SIZE or (mask + 1) & mask:
                raise ObjectError("bad dict mask")
            for raw in self.scan(mem.ptr(address + o.dict_table), mask + 1, 24):
                key, value = _PAIR.unpack_from(raw, 8)
                if key and value:  # deleted slots hold the dummy key and no value
                    yield key, value
            return
        keys = mem.ptr(address + o.dict_keys)
        values = mem.ptr(address + o.dict_values)
        if o.keys_log2_size is not None:  # 3.11+
            header = mem.read(keys, o.keys_indices)
            log2_index_bytes, kind = header[o.keys_log2_index_bytes], header[o.keys_kind]
            if log2_index_bytes > 40 or kind > 2:
                raise ObjectError("bad dict keys")
            index_bytes = 1 << log2_index_bytes
            general = kind == 0
        else:  # 3.6-3.10: the index width follows dk_size
            size = mem.i64(keys + o.keys_size)
            if not 0 < size <= MAX_SIZE or size & (size - 1):
                raise ObjectError("bad dict keys")
            width = 1 if size <= 0xFF else 2 if size <= 0xFFFF else 4 if size <= 0xFFFFFFFF else 8
            index_bytes = size * width
            general = True
        entry_size = o.keys_entry_size if general else o.keys_unicode_entry_size
        key_at, value_at = (8, 16) if general else (0, 8)
        nentries = mem.i64(keys + o.keys_nentries)
        if not 0 <= nentries <= MAX_SIZE:
            raise ObjectError("bad dict entries")
        entries = keys + o.keys_indices + index_bytes
        if not values:  # combined table: values in the entries, deleted ones are NULL
            for raw in self.scan(entries, nentries, entry_size):
                key = _PTR.unpack_from(raw, key_at)[0]
                value = _PTR.unpack_from(raw, value_at)[0]
                if key and value:
                    yield key, value
            return
        values += o.values_values or 0
        if o.keys_log2_size is None:  # 3.6-3.10 split table: values follow key order
            for raw, value_raw in zip(self.scan(entries, nentries, entry_size),
                                      self.scan(values, nentries, 8)):
                key = _PTR.unpack_from(raw, key_at)[0]
                value = _PTR.unpack(value_raw)[0]
                if key and value:
                    yield key, value
            return
        # 3.11+ split table: each dict keeps its own insertion order as byte indices,
        # before the values (3.11-3.12) or after `capacity` value slots (3.13+).
        used = mem.i64(address + o.dict_used)
        if not 0 <= used <= min(nentries, 255):
            raise ObjectError("bad split dict")
        if o.values_capacity is not None:
            capacity = mem.u8(values - o.values_values + o.values_capacity)
            order = mem.read(values + 8 * capacity, used)
        else:
            order = mem.read(values - 2 - used, used)[::-1]
        self.spend(used)
        for index in order:
            if index >= nentries:
                raise ObjectError("bad split dict order")
            key = mem.ptr(entries + index * entry_size + key_at)
            value = mem.ptr(values + 8 * index)
            if key and value:
                yield key, value


def _decimal_constants() -> tuple[Context, Decimal, Decimal]:
    """(context, log10(2), epsilon) for `_huge_decimal_length`, made on first use."""
    global _DECIMAL
    if _DECIMAL is None:
        from decimal import Context, Decimal  # lazily: see _huge_decimal_length
        ctx = Context(prec=80)
        _DECIMAL = (ctx, ctx.divide(Decimal(2).ln(ctx), Decimal(10).ln(ctx)), Decimal("1e-50"))
    return _DECIMAL


def _decimal_length(value: int) -> int:
    """Number of decimal digits of a non-negative int, without converting it."""
    if value < 10:
        return 1
    estimate = int(value.bit_length() * 0.30102999566398120)  # <= log10(value)
    while 10 ** estimate <= value:
        estimate += 1
    while estimate > 1 and 10 ** (estimate - 1) > value:
        estimate -= 1
    return estimate
