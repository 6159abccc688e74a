"""The reprs that name things: classes, modules, instances, bound methods, and the
library types whose `repr()` memory alone gives (namedtuples, Enum members, ranges,
slices, memoryviews, OrderedDict, defaultdict, deque, Counter, Fraction, UUID,
Decimal, datetime, pathlib paths).

A mixin of `reprs._Renderer`: each `r_KIND` prints one kind of object through the
renderer's budgeted output. They follow what the target's own `repr()` would print;
where that runs code we cannot see (a class with its own `__repr__`), the caller keeps
the generic form `<module.Class object at 0x...>`.
"""
from __future__ import annotations

import struct

from ..errors import MemoryReadError
from .objects import ObjectError

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Iterator, Optional

#: What reading an object that is not what it seems raises.
_UNREADABLE = (MemoryReadError, ObjectError, ValueError, OverflowError, struct.error,
               UnicodeError, IndexError, KeyError)

#: Kinds whose objects `_text` reads: str (3.x), and 2.7's str and unicode.
_TEXT_KINDS = frozenset({"str", "bytes", "unicode2"})
#: Classes of the `enum` module whose `__repr__` prints `<Class.NAME: value>`.
_ENUM_BASES = frozenset({"Enum", "IntEnum", "Flag", "IntFlag", "StrEnum", "ReprEnum"})
#: The datetime objects, as Include/datetime.h lays them out (the same from 2.7 to
#: 3.15, `fold` from 3.6): a hash, then `hastzinfo` and the packed date and time
#: bytes; a datetime's tzinfo pointer after them; a timedelta's three ints.
_DELTA_DAYS = 24
_DATE_HASTZINFO = 24
_DATE_DATA = 25
_DATETIME_TZINFO = 40
#: datetime.timezone (Modules/_datetimemodule.c): PyObject_HEAD, offset, name.
_TIMEZONE_OFFSET = 16
_TIMEZONE_NAME = 24

#: decimal.Decimal (Modules/_decimal: PyObject_HEAD, hash, then libmpdec's mpd_t:
#: flags byte, exp, digits, len, alloc, data pointer), the same 3.3 to 3.15.
_DEC_FLAGS = 24
_DEC_EXP = 32
_DEC_DATA = 64
_DEC_RADIX = 10 ** 19
_DEC_NEGATIVE, _DEC_INFINITE, _DEC_NAN, _DEC_SNAN = 1, 2, 4, 8
#: A Counter is printed sorted by its counts: any int count is read whole up to 480
#: digits of 30 bits, 4335 decimal digits (past 4300, 3.11+ cannot print it at all).
_MAX_COUNT_DIGITS = 480
#: 2.7's Decimal keeps an exponent past 64 bits as a long: this many digits is
#: 1900 bits, far past any exponent a Decimal is made with.
_MAX_EXPONENT_DIGITS = 64

#: Library classes whose repr memory gives: (kind, module, class).
_LIBRARY_CLASSES = (("fraction", "fractions", "Fraction"), ("uuid", "uuid", "UUID"),
                    ("path", "pathlib", "PurePath"), ("path", "pathlib._local", "PurePath"))

#: Loaders whose `module_repr` (before 3.12) names where a module came from.
_LOADER_REPRS = {"BuiltinImporter": " (built-in)", "FrozenImporter": " (frozen)"}
#: Metaclasses of Enum classes (3.11 renamed EnumMeta to EnumType).
_ENUM_METAS = frozenset({"EnumMeta", "EnumType"})


class NamedReprs:
    """Mixin: needs `self.mem`, `self.o`, `self.objects`, `self.out`, `self.py2`,
    `self.value()`, `self.container()`, `self.dict_items()` and `self._is_heap()`."""

    # -- names of types -------------------------------------------------------------
    def type_names(self, tp: int) -> tuple[Optional[str], str]:
        """(module, qualified name) of a type, as `type.__module__`/`__qualname__`
        give them: a class's from its `__module__` and `ht_qualname`; a type defined
        in C from its `tp_name` (`zlib.Compress`: module `zlib`, name `Compress`;
        `int`: module None, i.e. builtins)."""
        name = self._type_name(tp)
        if self._is_heap(tp):
            qualname = self._heap_qualname(tp) or name
            module = self._type_dict_str(tp, "__module__")
            return module, qualname
        module, dot, short = name.rpartition(".")
        return (module if dot else None), short

    def _heap_qualname(self, tp: int) -> Optional[str]:
        field = self.o.ht_qualname  # (None in 2.7)
        if field is None:
            return None
        try:
            text = self.objects.read_str(self.mem.ptr(tp + field))
        except (ObjectError, ValueError, UnicodeError):
            return None
        return text if text and text.isprintable() else None

    def _type_dict_str(self, tp: int, key: str) -> Optional[str]:
        if self.o.tp_dict is None:
            return None
        try:
            tp_dict = self.mem.ptr(tp + self.o.tp_dict)
            value = self.objects.dict_get_str(tp_dict, key) if tp_dict else None
            text = self.objects.read_str(value) if value else None
        except Exception:  # noqa: BLE001 - a bad class dict: no name from it
            return None
        return text if text and text.isprintable() else None

    def _type_dict_get(self, tp: int, key: str) -> Optional[int]:
        if self.o.tp_dict is None:
            return None
        tp_dict = self.mem.ptr(tp + self.o.tp_dict)
        return self.objects.dict_get_str(tp_dict, key) if tp_dict else None

    def dotted(self, tp: int) -> str:
        """`module.Qualname`, or the name alone for builtins."""
        module, name = self.type_names(tp)
        if module and module not in ("builtins", "__builtin__"):
            return f"{module}.{name}"
        return name

    def heap_chain(self, tp: int) -> Iterator[int]:
        """The type, then its bases through `tp_base`, while they are classes."""
        for _ in range(64):
            if not tp or tp & 7 or not self._is_heap(tp):
                return
            yield tp
            tp = self.mem.ptr(tp + self.o.tp_base)

    def repr_owner(self, tp: int) -> Optional[int]:
        """The first class of `tp`'s base chain that defines `__repr__` itself (None
        when none does): whose repr an instance prints. When that is not a class
        whose repr we know (a library one), it is code we cannot run."""
        for klass in self.heap_chain(tp):
            if self._type_dict_get(klass, "__repr__"):
                return klass
        return None

    # -- classes, modules, instances, methods -----------------------------------------
    def r_type(self, address: int, info) -> None:
        if self.py2:
            word = "class" if self._is_heap(address) else "type"
            module = self._type_dict_str(address, "__module__") if self._is_heap(address) else None
            name = self._type_name(address)
            shown = f"{module}.{name}" if module and module != "__builtin__" else name
            self.out.write(f"<{word} '{shown}'>")
            return
        self.out.write(f"<class '{self.dotted(address)}'>")

    def r_generic(self, address: int, info) -> None:
        tp = self.objects.type_of(address)
        mark = self.out.mark()
        try:
            if self._enum_member(address, tp) or self.library_instance(address, tp):
                return
        except _UNREADABLE:  # not what its class says it is: the generic form
            self.out.rewind(mark)
        try:
            shown = self.dotted(tp)
        except Exception:  # noqa: BLE001 - a type we cannot name: the name we had
            shown = info.name
        self.out.write(f"<{shown} object at 0x{address:x}>")

    def r_module(self, address: int, info) -> None:
        """`<module 'os' from '/usr/lib/python3.12/os.py'>`, `<module 'sys' (built-in)>`,
        `<module 'x' (frozen)>`, as importlib's module repr decides: up to 3.10 the
        loader's own `module_repr` first (built-in and frozen modules, by the
        module's `__name__`); then the spec (by the spec's name: `from 'ORIGIN'` when
        the origin is a location, `(ORIGIN)` otherwise); then `__file__`."""
        md_dict = self.objects.module_dict(address)
        name = self._dict_text(md_dict, "__name__")
        if name is None:
            raise ObjectError("module without a name")
        try:
            name, suffix = self._module_whence(md_dict, name)
        except _UNREADABLE:
            suffix = ""
        self.out.write(f"<module '{name}'{suffix}>")

    def _module_whence(self, md_dict: int, name: str) -> tuple[str, str]:
        """(the name shown, what follows it)."""
        objs = self.objects
        if self.py2:
            path = self._dict_text(md_dict, "__file__")
            return name, f" from '{path}'" if path is not None else " (built-in)"
        loader = objs.dict_get_str(md_dict, "__loader__")
        if self.version < (3, 11) and loader and self._is_type(loader):
            whence = _LOADER_REPRS.get(self._type_name(loader))
            if whence:
                return name, whence
        spec = objs.dict_get_str(md_dict, "__spec__")
        if spec and self.type_info(self.mem.ptr(spec + self.o.ob_type)).kind != "none":
            name = self._attribute_text(spec, "name") or "?"
            origin = self._attribute_text(spec, "origin")
            if origin is None:
                return name, ""  # (a namespace package's loader is not shown)
            if self._attribute_bool(spec, "_set_fileattr"):
                return name, f" from '{origin}'"
            return name, f" ({origin})"
        if self.version < (3, 12) and loader and self._is_type(loader):
            whence = _LOADER_REPRS.get(self._type_name(loader))
            if whence:
                return name, whence
        path = self._dict_text(md_dict, "__file__")
        return name, f" from '{path}'" if path is not None else ""

    def _is_type(self, address: int) -> bool:
        return self.type_info(self.mem.ptr(address + self.o.ob_type)).kind == "type"

    def _dict_text(self, dict_address: int, key: str) -> Optional[str]:
        if not dict_address:
            return None
        value = self.objects.dict_get_str(dict_address, key)
        return self._text(value)

    def _text(self, value: Optional[int]) -> Optional[str]:
        """The text of a str (2.7: str or unicode); None for anything else (None
        itself, say: an Enum Flag combination's `_name_` before 3.11)."""
        if not value or self.type_info(self.mem.ptr(value + self.o.ob_type)).kind not in \
                _TEXT_KINDS:
            return None
        try:
            text = self.objects.read_str(value)
        except (ObjectError, ValueError, UnicodeError):
            return None  # None, or not a str
        return text if text.isprintable() else None

    def _attribute_text(self, obj: int, name: str) -> Optional[str]:
        return self._text(self.objects.attribute(obj, name))

    def _attribute_bool(self, obj: int, name: str) -> bool:
        value = self.objects.attribute(obj, name)
        return bool(value) and self.type_info(self.mem.ptr(value + self.o.ob_type)).kind == \
            "bool" and self.long_value(value, 1) == 1

    def r_method(self, address: int, info) -> None:
        """`<bound method Class.name of <the instance>>` (2.7: `Class.name`; 3.x: the
        function's `__qualname__`)."""
        o = self.o
        if o.method_func is None:
            return self.r_generic(address, info)  # no method layout for this version
        func = self.mem.ptr(address + o.method_func)
        owner = self.mem.ptr(address + o.method_self)
        name = self._function_name(func)
        if name is None:
            raise ObjectError("method of something else than a function")
        if self.py2:  # im_class's name, and the function's (2.7 has no __qualname__)
            klass = self.mem.ptr(address + o.method_class)
            name = f"{self._type_name(klass) if klass else '?'}.{name}"
            if not owner:
                self.out.write(f"<unbound method {name}>")
                return
        self.out.open(f"<bound method {name} of ", ">")
        self.value(owner)
        self.out.close()

    def _function_name(self, func: int) -> Optional[str]:
        if not func or self.type_info(self.mem.ptr(func + self.o.ob_type)).kind != "function":
            return None
        field = self.o.func_qualname if self.o.func_qualname is not None else self.o.func_name
        return self._text(self.mem.ptr(func + field))

    # -- namedtuples and Enum members ---------------------------------------------------
    def namedtuple_fields(self, tp: int) -> Optional[list[str]]:
        """The `_fields` of a namedtuple class whose repr is namedtuple's own (no
        subclass defines another), else None."""
        if self.py2 or self.o.tp_dict is None:
            return None
        owner = self.repr_owner(tp)
        if owner is None or not self._is_namedtuple_repr(self._type_dict_get(owner, "__repr__")):
            return None
        fields = self._type_dict_get(owner, "_fields")
        if not fields:
            return None
        names = [self._text(item) for item in self.objects.tuple_items(fields)]
        return None if any(n is None for n in names) else names  # type: ignore[return-value]

    def _is_namedtuple_repr(self, func: int) -> bool:
        """collections.namedtuple's own `__repr__`: a function of `collections` (3.6
        compiled a class template in a namespace named `namedtuple_NAME`)."""
        module = self._function_module(func) or ""
        return module == "collections" or module.startswith("namedtuple_")

    def _function_module(self, func: int) -> Optional[str]:
        """A function's `__module__` (None if it is no function)."""
        try:
            if not func or self.type_info(self.mem.ptr(func + self.o.ob_type)).kind != \
                    "function" or self.o.func_module is None:
                return None
            return self._text(self.mem.ptr(func + self.o.func_module))
        except (ObjectError, ValueError):
            return None

    def counter_class(self, tp: int) -> Optional[str]:
        """The name a `collections.Counter` (or subclass) prints (see library_class)."""
        return self.library_class(tp, "collections", "Counter")

    def library_class(self, tp: int, module: str, name: str) -> Optional[str]:
        """The class name an instance of the library class `module.name` (or of a
        subclass) prints, when that class's `__repr__` is the one it uses; else None."""
        owner = self.repr_owner(tp)
        if owner is None or self._type_name(owner) != name or \
                self._type_dict_str(owner, "__module__") != module:
            return None
        return self._type_name(tp)  # `self.__class__.__name__`, dots and all

    def slot(self, obj: int, tp: int, name: str) -> Optional[int]:
        """The object held in the `__slots__` entry `name` of `obj` (None when the
        class has no such slot, or it is unset): the slot's member descriptor, in
        the class dict, says where in the object it lives."""
        o = self.o
        if o.member_descr_member is None or o.member_def_offset is None:
            return None
        for klass in self.heap_chain(tp):
            descr = self._type_dict_get(klass, name)
            if not descr:
                continue
            if self._type_name(self.mem.ptr(descr + o.ob_type)) != "member_descriptor":
                return None
            member = self.mem.ptr(descr + o.member_descr_member)
            offset = self.mem.i64(member + o.member_def_offset)
            if not 0 < offset < 1 << 16:
                return None
            return self.mem.ptr(obj + offset) or None
        return None

    # -- library classes with __slots__: Fraction, UUID ---------------------------------
    def library_kind(self, tp: int) -> Optional[tuple[str, str]]:
        """(kind, printed class name) when `tp` is one of the library classes whose
        repr memory gives (Fraction, UUID, a POSIX pathlib path), else None; worked
        out once per type (a list of a thousand instances asks a thousand times)."""
        key = ("library", tp)
        if key in self.types:
            return self.types[key]  # type: ignore[return-value]
        found = None
        if self.py2:
            shown = self.library_class(tp, "decimal", "Decimal")
            found = ("decimal2", shown) if shown is not None else None
        else:
            for kind, module, name in _LIBRARY_CLASSES:
                shown = self.library_class(tp, module, name)
                if shown is not None:
                    found = (kind, shown)
                    break
            # tp_base leads PosixPath to Path, not to PurePosixPath: the flavour is the
            # POSIX one unless a class of the chain says Windows
            if found and found[0] == "path" and any(
                    "Windows" in self._type_name(k) for k in self.heap_chain(tp)):
                found = None
        self.types[key] = found  # type: ignore[assignment]
        return found

    def library_instance(self, address: int, tp: int) -> bool:
        """Print a Fraction, UUID or pathlib path as its repr would; False if it is
        none of them (or its state is not what the library keeps)."""
        found = self.library_kind(tp)
        if found is None:
            return False
        kind, name = found
        if kind == "fraction":
            numerator = self.slot(address, tp, "_numerator")
            denominator = self.slot(address, tp, "_denominator")
            if not numerator or not denominator:
                return False
            self.out.open(f"{name}(", ")")
            self.value(numerator)
            self.out.sep(", ")
            self.value(denominator)
            self.out.close()
            return True
        if kind == "path":
            return self._posix_path(address, tp, name)
        if kind == "decimal2":
            return self._python_decimal(address, tp)
        # a UUID: a slot from 3.8 on; before, an entry of the instance's __dict__
        value = self.slot(address, tp, "int") or self.objects.attribute(address, "int")
        if not value or self.type_info(self.mem.ptr(value + self.o.ob_type)).kind != "long":
            return False
        digits = "%032x" % self.long_value(value, 8)
        if len(digits) != 32:
            return False
        text = "-".join((digits[:8], digits[8:12], digits[12:16], digits[16:20], digits[20:]))
        self.out.write(f"{name}('{text}')")
        return True

    def _python_decimal(self, address: int, tp: int) -> bool:
        """2.7's Decimal, written in Python: `_sign`, `_int` (the digits as a str) and
        `_exp` (an int, or 'F', 'n', 'N' for Infinity, NaN, sNaN) in slots."""
        sign = self.slot(address, tp, "_sign")
        digits = self._text(self.slot(address, tp, "_int"))
        exp = self.slot(address, tp, "_exp")
        if not sign or digits is None or not exp or not (digits.isdigit() or digits == ""):
            return False
        flags = _DEC_NEGATIVE if self.int_ival(sign) else 0
        # 'F', 'n', 'N' (str, or unicode when the tuple constructor was given one), an
        # int, or a long for an exponent past 64 bits (Decimal('1E+10000000000000000000'))
        special = self._text(exp)
        exponent = 0
        if special is not None:
            flags |= {"F": _DEC_INFINITE, "n": _DEC_NAN, "N": _DEC_SNAN}.get(special, 0)
            if flags & ~_DEC_NEGATIVE == 0:
                return False
        else:
            kind = self.type_info(self.mem.ptr(exp + self.o.ob_type)).kind
            if kind == "int2":
                exponent = self.int_ival(exp)
            elif kind == "long":
                exponent = self.long_value(exp, _MAX_EXPONENT_DIGITS)
            else:
                return False
        # "Decimal" whatever the class, as its __repr__ writes it
        self.out.write(f"Decimal('{decimal_text(flags, exponent, int(digits or '0'))}')")
        return True

    def python_odict(self, address: int, name: str) -> None:
        """2.7's OrderedDict, written in Python: its own order is a circular list of
        [previous, next, key] links from `_OrderedDict__root`."""
        if address in self.active:  # inside itself: the whole value is "..."
            self.out.write("...")
            return
        root = self.objects.attribute(address, "_OrderedDict__root")
        if not root:
            raise ObjectError("OrderedDict without its root")
        if self.mem.i64(address + self.o.dict_used) == 0:
            self.out.write(f"{name}()")
            return
        self._pair_list(address, name, self._python_odict_pairs(root, address))

    def _python_odict_pairs(self, root: int, address: int) -> Iterator[tuple[int, int]]:
        values = dict(self.dict_items(address))  # (inside: a cut here shows)
        link = self._link(root, 1)
        for count in range(len(values) + 1):
            if link == root:
                return
            key = self._link(link, 2)
            if key not in values or count == len(values):
                raise ObjectError("OrderedDict links without their keys")
            yield key, values[key]
            link = self._link(link, 1)

    def _link(self, link: int, index: int) -> int:
        if self.type_info(self.mem.ptr(link + self.o.ob_type)).kind != "list" or \
                self.mem.i64(link + self.o.ob_size) < 3:
            raise ObjectError("not an OrderedDict link")
        self.spend(1)
        return self.mem.ptr(self.mem.ptr(link + self.o.list_items) + 8 * index)

    # -- pathlib ----------------------------------------------------------------------
    def _posix_path(self, address: int, tp: int, name: str) -> bool:
        """`PosixPath('/srv/app')`: its text is the `_str` slot once computed, else
        made from what the constructor kept (`_raw_paths` from 3.12, `_drv`/`_root`/
        `_parts` before), as `as_posix()` would make it."""
        text = self._text(self.slot(address, tp, "_str"))
        if text is None:
            raw = self.slot(address, tp, "_raw_paths")
            parts = self.slot(address, tp, "_parts")
            if raw:
                strings = self._str_list(raw)
                text = posix_path_text(strings) if strings is not None else None
            elif parts:
                strings = self._str_list(parts)
                drv = self._text(self.slot(address, tp, "_drv")) or ""
                root = self._text(self.slot(address, tp, "_root")) or ""
                if strings is not None:
                    body = "/".join(strings[1:] if drv or root else strings)
                    text = (drv + root + body) or "."
        if text is None:
            return False
        self.out.write(f"{name}({text!r})")
        return True

    def _str_list(self, address: int) -> Optional[list[str]]:
        if self.type_info(self.mem.ptr(address + self.o.ob_type)).kind != "list":
            return None
        size = self.mem.i64(address + self.o.ob_size)
        if not 0 <= size <= 1 << 12:
            return None
        items = self.mem.ptr(address + self.o.list_items) if size else 0
        strings = [self._text(self.mem.ptr(items + 8 * i)) for i in range(size)]
        return None if any(text is None for text in strings) else strings  # type: ignore

    # -- decimal ----------------------------------------------------------------------
    def r_decimal(self, address: int, info) -> None:
        """`Decimal('1.50')`, `Decimal('1E+2')`, `Decimal('-Infinity')`: the C
        module's number (libmpdec: flags, exponent, coefficient in base 10**19
        words) in the scientific notation `str()` uses."""
        flags, = struct.unpack_from("<B", self.mem.read(address + _DEC_FLAGS, 1))
        exp, digits, length = struct.unpack("<qqq", self.mem.read(address + _DEC_EXP, 24))
        if not 0 <= length <= 1 << 16 or not 0 <= digits <= 19 * length + 19:
            raise ObjectError("bad Decimal")
        self.spend(length)
        words = self.mem.ptr(address + _DEC_DATA)
        raw = self.mem.read(words, 8 * length) if length else b""
        coefficient = 0
        for word in reversed(struct.unpack(f"<{length}Q", raw)):
            if word >= _DEC_RADIX:
                raise ObjectError("bad Decimal word")
            coefficient = coefficient * _DEC_RADIX + word
        # "Decimal" whatever the class: a subclass's repr says Decimal too
        self.out.write(f"Decimal('{decimal_text(flags, exp, coefficient)}')")

    # -- datetime ---------------------------------------------------------------------
    def r_timedelta(self, address: int, info) -> None:
        days, seconds, micros = struct.unpack("<iii", self.mem.read(address + _DELTA_DAYS, 12))
        name = self._type_name(self.objects.type_of(address))
        if self.version >= (3, 7):
            parts = [f"days={days}"] if days else []
            parts += [f"seconds={seconds}"] if seconds else []
            parts += [f"microseconds={micros}"] if micros else []
            self.out.write(f"{name}({', '.join(parts) or '0'})")
            return
        shown = (days, seconds, micros) if micros else (days, seconds) if seconds else (days,)
        self.out.write(f"{name}({', '.join(map(str, shown))})")

    def r_date(self, address: int, info) -> None:
        data = self.mem.read(address + _DATE_DATA, 4)
        year, month, day = data[0] << 8 | data[1], data[2], data[3]
        name = self._type_name(self.objects.type_of(address))
        self.out.write(f"{name}({year}, {month}, {day})")

    def r_datetime(self, address: int, info) -> None:
        head = self.mem.read(address + _DATE_HASTZINFO, 12)
        has_tzinfo, data, fold = head[0], head[1:11], head[11]
        year, month, day = data[0] << 8 | data[1], data[2], data[3]
        hour, minute, second = data[4], data[5], data[6]
        micros = data[7] << 16 | data[8] << 8 | data[9]
        fields = [year, month, day, hour, minute]
        if second or micros:
            fields.append(second)
        if micros:
            fields.append(micros)
        name = self._type_name(self.objects.type_of(address))
        text = f"{name}({', '.join(map(str, fields))}"
        if fold and self.version >= (3, 6):
            text += ", fold=1"
        tzinfo = self.mem.ptr(address + _DATETIME_TZINFO) if has_tzinfo else 0
        if tzinfo and self.type_info(self.mem.ptr(tzinfo + self.o.ob_type)).kind != "none":
            self.out.open(text + ", tzinfo=", ")")
            self.value(tzinfo)
            self.out.close()
            return
        self.out.write(text + ")")

    def r_timezone(self, address: int, info) -> None:
        """`datetime.timezone.utc`, `datetime.timezone(datetime.timedelta(...))`, with
        the name when one was given. A zero offset without a name is the utc
        singleton: the constructor returns it for that."""
        offset = self.mem.ptr(address + _TIMEZONE_OFFSET)
        tz_name = self.mem.ptr(address + _TIMEZONE_NAME)
        days, seconds, micros = struct.unpack("<iii", self.mem.read(offset + _DELTA_DAYS, 12))
        name = self._type_name(self.objects.type_of(address))
        if not tz_name and not (days or seconds or micros):
            self.out.write(f"{name}.utc")
            return
        self.out.open(f"{name}(", ")")
        self.value(offset)
        if tz_name:
            self.out.sep(", ")
            self.value(tz_name)
        self.out.close()

    def r_namedtuple(self, address: int, fields: list[str]) -> None:
        o = self.o
        size = self.mem.i64(address + o.ob_size)
        if size != len(fields):
            raise ObjectError("namedtuple of the wrong size")
        _, name = self.type_names(self.objects.type_of(address))
        self.out.open(f"{name.rpartition('.')[2]}(", ")")
        for i, field in enumerate(fields):
            if i:
                self.out.sep(", ")
            self.out.write(f"{field}=")
            self.value(self.mem.ptr(address + o.tuple_items + 8 * i))
        self.out.close()

    def _enum_member(self, address: int, tp: int) -> bool:
        """`<Color.RED: 1>` for a member of an Enum class (metaclass EnumMeta/EnumType)
        whose classes define no `__repr__` of their own; False if it is none."""
        if self.py2:
            return False
        try:
            meta = self.mem.ptr(tp + self.o.ob_type)
            if self._type_name(meta) not in _ENUM_METAS:
                return False
            owner = self.repr_owner(tp)
            if owner is not None and self._type_name(owner) not in _ENUM_BASES:
                return False  # a __repr__ of the class's own
            name = self._attribute_text(address, "_name_")
            value = self.objects.attribute(address, "_value_")
        except (ObjectError, ValueError):
            return False
        if name is None or not value:
            return False  # a Flag combination before 3.11 (its name is computed)
        _, qualname = self.type_names(tp)
        cls = qualname.rpartition(".")[2]  # the class's __name__, as Enum's repr uses
        self.out.open(f"<{cls}.{name}: ", ">")
        self.value(value)
        self.out.close()
        return True

    # -- ranges, slices, memoryviews ----------------------------------------------------
    def r_range(self, address: int, info) -> None:
        o = self.o
        if o.range_stop is None:
            return self.r_generic(address, info)  # no range layout for this version
        start, stop, step = (self.mem.ptr(address + off)
                             for off in (o.range_start, o.range_stop, o.range_step))
        self.out.open("range(", ")")
        self.value(start)
        self.out.sep(", ")
        self.value(stop)
        if not self._is_int_one(step):
            self.out.sep(", ")
            self.value(step)
        self.out.close()

    def _is_int_one(self, address: int) -> bool:
        return self.type_info(self.mem.ptr(address + self.o.ob_type)).kind == "long" and \
            self.long_header(address)[1] == 1 and self.long_value(address, 1) == 1

    def r_slice(self, address: int, info) -> None:
        o = self.o
        if o.slice_step is None:
            return self.r_generic(address, info)  # no slice layout for this version
        self.out.open("slice(", ")")
        for i, off in enumerate((o.slice_start, o.slice_stop, o.slice_step)):
            if i:
                self.out.sep(", ")
            self.value(self.mem.ptr(address + off))
        self.out.close()

    def r_memoryview(self, address: int, info) -> None:
        self.out.write(f"<memory at 0x{address:x}>")

    # -- collections ------------------------------------------------------------------
    def r_odict(self, address: int, info) -> None:
        """`OrderedDict({'a': 1})` (3.12+) / `OrderedDict([('a', 1)])`, in the
        OrderedDict's own order (its linked list: move_to_end is not the dict's)."""
        o = self.o
        if o.odict_first is None:
            return self.r_generic(address, info)  # no OrderedDict layout for this version
        if address in self.active:  # inside itself: the whole value is "..."
            self.out.write("...")
            return
        name = self._own_name(address, "OrderedDict")
        used = self.mem.i64(address + o.dict_used)
        if not used:
            self.out.write(f"{name}()")
            return
        pairs = self._odict_pairs(address)
        if self.version >= (3, 12):
            self.out.open(f"{name}(", ")")
            self.container(address, "{", "}", "{...}", pairs, pairs=True)
            self.out.close()
            return
        self._pair_list(address, name, pairs)

    def _pair_list(self, address: int, name: str, pairs: Iterator[tuple[int, int]]) -> None:
        """`OrderedDict([('a', 1)])`, an OrderedDict's repr before 3.12 (C or 2.7's
        Python class), the value marked active so that it prints `...` inside itself."""
        self.out.open(f"{name}([", "])")
        self.active.add(address)
        try:
            first = True
            while True:
                pair = self.next_item(pairs, first)
                if pair is None:
                    break
                key, value = pair
                if not first:
                    self.out.sep(", ")
                first = False
                self.out.open("(", ")")
                self.value(key)
                self.out.sep(", ")
                self.value(value)
                self.out.close()
        finally:
            self.active.discard(address)
        self.out.close()

    def _odict_pairs(self, address: int) -> Iterator[tuple[int, int]]:
        o = self.o
        values = dict(self.dict_items(address))
        node = self.mem.ptr(address + o.odict_first)
        for seen in range(len(values) + 1):
            if not node:
                return
            if seen == len(values):  # more nodes than keys: a loop, or not its list
                raise ObjectError("OrderedDict nodes past its size")
            self.spend(1)
            key = self.mem.ptr(node + o.odict_node_key)
            if key not in values:
                raise ObjectError("OrderedDict node without its key")
            yield key, values[key]
            node = self.mem.ptr(node + o.odict_node_next)

    def r_defaultdict(self, address: int, info) -> None:
        """`defaultdict(<class 'list'>, {'a': [1]})`."""
        o = self.o
        if o.dict_object_size is None:
            return self.r_generic(address, info)  # no defaultdict layout for this version
        factory = self.mem.ptr(address + o.dict_object_size)
        name = self._own_name(address, "defaultdict", since=(3, 7))
        self.out.open(f"{name}(", ")")
        if factory:
            self.value(factory)
        else:
            self.out.write("None")
        self.out.sep(", ")
        used = self.mem.i64(address + o.dict_used)
        items = self.dict_items(address) if used else iter(())
        self.container(address, "{", "}", "{...}", items, pairs=True)
        self.out.close()

    def r_deque(self, address: int, info) -> None:
        """`deque([1, 2])`, `deque([1, 2], maxlen=5)`."""
        o = self.o
        if o.deque_left_block is None or o.block_right is None:
            return self.r_generic(address, info)  # no deque layout for this version
        size = self.mem.i64(address + o.deque_size)
        if not 0 <= size <= 1 << 40:
            raise ObjectError("bad deque size")
        maxlen = self.mem.i64(address + o.deque_maxlen)
        name = self._own_name(address, "deque", since=(3, 7))
        if address in self.active:
            self.out.write("[...]")
            return
        self.out.open(f"{name}(", ")")
        self.container(address, "[", "]", "[...]", self._deque_items(address, size))
        if maxlen >= 0:
            self.out.write(f", maxlen={maxlen}")
        self.out.close()

    def _deque_items(self, address: int, size: int) -> Iterator[int]:
        o = self.o
        block = self.mem.ptr(address + o.deque_left_block)
        index = self.mem.i64(address + o.deque_left_index)
        length = (o.block_right - o.block_data) // 8
        if not 0 <= index < length:
            raise ObjectError("bad deque index")
        for _ in range(size):
            if index == length:
                block = self.mem.ptr(block + o.block_right)
                index = 0
            if not block:
                raise ObjectError("deque ends early")
            self.spend(1)
            yield self.mem.ptr(block + o.block_data + 8 * index)
            index += 1

    def _own_name(self, address: int, default: str, since: tuple = (0,)) -> str:
        """The name a collections type prints for itself: its class's (a subclass
        prints its own name), from version `since` on (before, deque and defaultdict
        always said their own)."""
        if self.version < since:
            return default
        try:
            name = self._type_name(self.objects.type_of(address))
        except (ObjectError, ValueError):
            return default
        return name.rpartition(".")[2]  # (CPython's _PyType_Name: empty after a last dot)

    def counter_items(self, address: int) -> Optional[list[tuple[int, int]]]:
        """A Counter's items as its repr lists them (most common first, ties in
        insertion order), or None when a count is not an int (its repr falls back
        to the dict's order, which the caller prints)."""
        items = list(self.dict_items(address))
        counts: list = []
        for _key, value in items:
            kind = self.type_info(self.mem.ptr(value + self.o.ob_type)).kind
            if kind == "float":
                counts.append(struct.unpack("<d", self.mem.read(value + self.o.float_fval, 8))[0])
            elif kind in ("long", "bool", "int2"):  # (2.7's int and bool hold a C long)
                counts.append(self.int_ival(value) if self.py2 and kind != "long"
                              else self.long_value(value, _MAX_COUNT_DIGITS))
            else:
                return None
        order = sorted(range(len(items)), key=lambda i: -counts[i])
        return [items[i] for i in order]

    def r_counter(self, address: int, name: str) -> None:
        used = self.mem.i64(address + self.o.dict_used)
        if not used:
            self.out.write(f"{name}()")
            return
        items = self.counter_items(address)
        pairs = iter(items) if items is not None else self.dict_items(address)
        self.out.open(f"{name}(", ")")
        self.container(address, "{", "}", "{...}", pairs, pairs=True)
        self.out.close()


def decimal_text(flags: int, exp: int, coefficient: int) -> str:
    """A decimal number as `str(Decimal)` writes it (the General Decimal Arithmetic
    to-scientific-string rules, capital E)."""
    sign = "-" if flags & _DEC_NEGATIVE else ""
    if flags & _DEC_INFINITE:
        return sign + "Infinity"
    if flags & (_DEC_NAN | _DEC_SNAN):
        word = "sNaN" if flags & _DEC_SNAN else "NaN"
        return sign + word + (str(coefficient) if coefficient else "")
    digits = str(coefficient)
    left = exp + len(digits)  # digits before the decimal point, as written plainly
    dot = left if exp <= 0 and left > -6 else 1
    if dot <= 0:
        integer, fraction = "0", "." + "0" * -dot + digits
    elif dot >= len(digits):
        integer, fraction = digits + "0" * (dot - len(digits)), ""
    else:
        integer, fraction = digits[:dot], "." + digits[dot:]
    exponent = "" if left == dot else "E%+d" % (left - dot)
    return sign + integer + fraction + exponent


def posix_path_text(raw_paths: list[str]) -> str:
    """What a POSIX pathlib path made of `raw_paths` prints (`as_posix()`): joined
    as posixpath joins them, a leading `//` kept, empty and `.` parts dropped."""
    path = ""
    for piece in raw_paths:
        if piece.startswith("/") or not path:
            path = piece
        elif path.endswith("/"):
            path += piece
        else:
            path += "/" + piece
    root = ""
    if path.startswith("/"):
        root = "//" if path.startswith("//") and not path.startswith("///") else "/"
    parts = [p for p in path[len(root):].split("/") if p and p != "."]
    return (root + "/".join(parts)) or "."
