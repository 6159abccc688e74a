"""How reprs_named.py names things: types (C and classes, 2.7 and 3.x), modules, bound
and unbound methods, namedtuples, Enum members, the library classes whose repr memory
gives (Fraction, UUID, pathlib paths, 2.7's Decimal, Counter) and their slots.

Each test pins one decision of those renderers to what CPython prints (checked
against the pyenv interpreters of the same version), or, for damaged memory, to the
marker or generic form pystack falls back to. Most take a value of a recorded zoo
(tests/unit/data/dumps/*.zoo.dump.xz, found by its label) and change a field or two of
it through `PatchedTarget` (tests/recorded.py), a target that overlays bytes on the recording and serves a few
objects of its own (a str, a C string) from an otherwise unused range; the rest build
the objects from scratch with test_reprs' `Heap`. They were written to kill the
mutants of reprs_named.py that the zoo and test_reprs left alive.
"""
from __future__ import annotations

import os
import struct

import pytest

from recorded import DATA, PatchedTarget, RecordedTarget, without
from unit.test_recorded import interpreter_of
from unit.test_reprs import HEAPTYPE, Heap
from pystack.cpython.layouts import layout_for
from pystack.cpython.memory import Memory
from pystack.cpython.objects import Objects
from pystack.cpython.reprs import render
from pystack.cpython.reprs_named import posix_path_text
from pystack.target.base import Target

#: Where PatchedTarget serves the objects a test adds.
EXTRA, EXTRA_SIZE = PatchedTarget.EXTRA, PatchedTarget.EXTRA_SIZE
#: An aligned address that no recording maps: a pointer to it cannot be read.
UNMAPPED = 0x10


class _Spy(Target):
    """Notes every read (address, bytes) of the target it wraps."""

    def __init__(self, base: Target) -> None:
        self.base = base
        self.reads: list = []

    def read(self, address: int, size: int) -> bytes:
        data = self.base.read(address, size)
        self.reads.append((address, data))
        return data

    def mappings(self) -> list:
        return self.base.mappings()


class Zoo:
    """One recorded zoo, its values by label, and ways to damage them."""

    def __init__(self, interpreter: str) -> None:
        path = os.path.join(DATA, interpreter + ".zoo.dump.xz")
        if not os.path.exists(path):
            pytest.skip(f"no recording {interpreter}")
        base = RecordedTarget(path)
        self.target = PatchedTarget(base)
        self.layout = interpreter_of(base, Memory(base)).layout
        self.o = self.layout.objects
        self.values = base.meta["report"]["values"]

    def objects(self, layout=None) -> Objects:
        """Fresh objects (no page cache, no type cache from before a patch)."""
        return Objects(Memory(self.target), layout or self.layout)

    def render(self, address: int, layout=None) -> str:
        return render(self.objects(layout), address, max_len=10 ** 6)

    def value(self, label: str, expected: str | None = None) -> int:
        """The address of the value labelled `label` (whose repr is `expected`, or
        starts with it when it holds an address)."""
        found = [address for name, address, text, *_ in self.values if name == label
                 and (expected is None or text == expected or text.startswith(expected))]
        assert len(found) == 1, (label, expected, found)
        return found[0]

    def expected(self, label: str, start: str) -> str:
        found = [text for name, _, text, *_ in self.values
                 if name == label and text.startswith(start)]
        assert len(found) == 1, (label, start)
        return found[0]

    # -- memory ---------------------------------------------------------------------
    def ptr(self, address: int) -> int:
        return struct.unpack("<Q", self.target.read(address, 8))[0]

    def put(self, address: int, data: bytes) -> None:
        self.target.put(address, data)

    def put_ptr(self, address: int, value: int) -> None:
        self.put(address, struct.pack("<Q", value))

    def put_i64(self, address: int, value: int) -> None:
        self.put(address, struct.pack("<q", value))

    def alloc(self, data: bytes) -> int:
        extra = self.target.extra
        extra.extend(bytes(-len(extra) % 16))
        address = EXTRA + len(extra)
        extra.extend(data)
        return address

    def alloc_at_end(self, data: bytes) -> int:
        """Put `data` at the very end of the EXTRA range: what lies past it (the
        fields of a bigger object) cannot be read. The last allocation."""
        extra = self.target.extra
        assert len(extra) <= EXTRA_SIZE - len(data)
        extra.extend(bytes(EXTRA_SIZE - len(data) - len(extra)))
        extra.extend(data)
        return EXTRA + EXTRA_SIZE - len(data)

    def cstring(self, text: str) -> int:
        return self.alloc(text.encode() + b"\0")

    def str(self, text: str) -> int:
        """A compact ASCII str of the target's version, with the target's str type."""
        o = self.o
        data = bytearray(o.unicode_ascii_size + len(text) + 1)
        struct.pack_into("<qQ", data, 0, 1, self.type_of(self.value("text", "'a'")))
        struct.pack_into("<q", data, o.unicode_length, len(text))
        state = 1 << o.unicode_kind_shift | 1 << o.unicode_compact_shift \
            | 1 << o.unicode_ascii_shift
        struct.pack_into("<I", data, o.unicode_state, state)
        data[o.unicode_ascii_size:o.unicode_ascii_size + len(text)] = text.encode()
        return self.alloc(bytes(data))

    def type_of(self, address: int) -> int:
        return self.ptr(address + self.o.ob_type)

    def class_dict_get(self, tp: int, key: str) -> int:
        objs = self.objects()
        return objs.dict_get_str(self.ptr(tp + self.o.tp_dict), key)

    def where(self, call) -> int:
        """The address of the pointer `call(objects)` returned, as read from memory
        (a dict entry's or an instance slot's value): the last aligned place the
        reads made for it held that pointer."""
        spy = _Spy(self.target)
        value = call(Objects(Memory(spy, cache=False), self.layout))
        assert value, "nothing found"
        needle = struct.pack("<Q", value)
        places = [address + i for address, data in spy.reads
                  for i in range(len(data) - 7)
                  if (address + i) % 8 == 0 and data[i:i + 8] == needle]
        assert places, "not read from memory"
        return places[-1]

    def key_slot(self, dict_address: int, key: int) -> int:
        """Where the dict entry whose key is the object `key` keeps that key (its
        value follows it, in every entry layout)."""
        return self.where(lambda objs: key if any(
            k == key for k, _ in objs.dict_items(dict_address)) else None)

    def dict_slot(self, dict_address: int, key: str) -> int:
        return self.where(lambda objs: objs.dict_get_str(dict_address, key))

    def attribute_slot(self, obj: int, name: str) -> int:
        return self.where(lambda objs: objs.attribute(obj, name))


def slot_address(zoo: Zoo, obj: int, name: str) -> int:
    """Where the `__slots__` entry `name` of `obj` lives (its member descriptor says)."""
    return obj + zoo.objects().mem.i64(member_def(zoo, obj, name) + zoo.o.member_def_offset)


def member_def(zoo: Zoo, obj: int, name: str) -> int:
    """The PyMemberDef of the slot `name` of `obj`'s class (or of a base class)."""
    tp = zoo.type_of(obj)
    while tp:
        descr = zoo.class_dict_get(tp, name)
        if descr:
            return zoo.ptr(descr + zoo.o.member_descr_member)
        tp = zoo.ptr(tp + zoo.o.tp_base)
    raise AssertionError(f"no slot {name}")


def readable_qualname(zoo: Zoo, obj: int) -> None:
    """Make the `__qualname__` of `obj`'s (top-level) class readable, equal to its
    tp_name: the recording lacks it when the dump printed the value without it."""
    tp = zoo.type_of(obj)
    zoo.put_ptr(tp + zoo.o.ht_qualname, zoo.str(zoo.objects().type_name(obj)))


def fake_object(zoo: Zoo, tp: int, fields: dict) -> int:
    """An object of type `tp` holding the pointers `fields` ({offset: address})."""
    data = bytearray(max(fields) + 8)
    struct.pack_into("<qQ", data, 0, 1, tp)
    for offset, value in fields.items():
        struct.pack_into("<Q", data, offset, value)
    return zoo.alloc(bytes(data))


# -- names of types -----------------------------------------------------------------

def test_c_type_of_the_builtins_module_is_named_without_it() -> None:
    """A static type whose tp_name is `builtins.Thing` has `__module__` 'builtins',
    which type and object reprs leave out, like int's."""
    h = Heap(layout_for((3, 12)))
    tp = h.type("builtins.Thing")
    obj = h.new("builtins.Thing", 32)
    assert h.render(obj) == f"<Thing object at 0x{obj:x}>"
    assert h.render(tp) == "<class 'Thing'>"


def test_c_type_of_the_27_builtin_module_is_named_without_it() -> None:
    h = Heap(layout_for((2, 7)))
    h.type("__builtin__.Thing")
    obj = h.new("__builtin__.Thing", 32)
    assert h.render(obj) == f"<Thing object at 0x{obj:x}>"


def test_27_class_of_the_builtin_module_is_named_without_it() -> None:
    """2.7: `class A(object): __module__ = '__builtin__'` prints `<class 'A'>` and
    `<A object at 0x...>` (checked on 2.7.18)."""
    h = Heap(layout_for((2, 7)))
    tp = h.type("A", "object", heap=True)
    h.put_ptr(tp + h.o.tp_dict, h.dict([(h.bytes(b"__module__"), h.bytes(b"__builtin__"))]))
    obj = h.new("A", 32, tp)
    assert h.render(tp) == "<class 'A'>"
    assert h.render(obj) == f"<A object at 0x{obj:x}>"


def test_27_static_type_takes_its_module_from_its_name_not_its_dict() -> None:
    """2.7's type.__module__ of a C type is the part of tp_name before the dot
    (`__builtin__` without one): a `__module__` in its dict is not looked at."""
    h = Heap(layout_for((2, 7)))
    tp = h.type("Thing")
    h.put_ptr(tp + h.o.tp_dict, h.dict([(h.bytes(b"__module__"), h.bytes(b"mod"))]))
    assert h.render(tp) == "<type 'Thing'>"


def test_class_with_an_unprintable_qualname_is_named_by_tp_name() -> None:
    """ht_qualname pointing at garbage text (control characters): the class's
    tp_name, its __name__, stands in for it."""
    zoo = Zoo("pyenv-3.12.1")
    foo = zoo.value("generic", "<__main__.Foo")
    tp = zoo.type_of(foo)
    zoo.put_ptr(tp + zoo.o.ht_qualname, zoo.value("text", "'tab\\tnew"))
    assert zoo.render(foo) == f"<__main__.Foo object at 0x{foo:x}>"
    assert zoo.render(tp) == "<class '__main__.Foo'>"


def test_class_with_an_unprintable_module_is_named_without_it() -> None:
    zoo = Zoo("pyenv-3.12.1")
    foo = zoo.value("generic", "<__main__.Foo")
    tp = zoo.type_of(foo)
    slot = zoo.dict_slot(zoo.ptr(tp + zoo.o.tp_dict), "__module__")
    zoo.put_ptr(slot, zoo.value("text", "'tab\\tnew"))
    assert zoo.render(foo) == f"<Foo object at 0x{foo:x}>"


def test_base_chain_ends_at_a_misaligned_tp_base() -> None:
    """Color's tp_base damaged to 1: the chain of classes searched for a __repr__
    stops there (nothing else is read), and the member still prints as Enum's repr
    would."""
    zoo = Zoo("pyenv-3.12.1")
    red = zoo.value("enum", "<Color.RED: 1>")
    zoo.put_ptr(zoo.type_of(red) + zoo.o.tp_base, 1)
    assert zoo.render(red) == "<Color.RED: 1>"


# -- the generic form -----------------------------------------------------------------

def test_library_instance_that_cannot_be_read_prints_generic() -> None:
    """A UUID whose `int` slot points at unmapped memory: what was written of it is
    taken back, and the instance prints in the generic form."""
    zoo = Zoo("pyenv-3.12.1")
    uuid = zoo.value("slots", "UUID('12345678")
    readable_qualname(zoo, uuid)
    zoo.put_ptr(slot_address(zoo, uuid, "int"), UNMAPPED)
    assert zoo.render(uuid) == f"<uuid.UUID object at 0x{uuid:x}>"


# -- modules --------------------------------------------------------------------------

def _json(zoo: Zoo) -> tuple:
    """The json module, its dict and the text its repr prints after `from`."""
    module = zoo.value("module", "<module 'json'")
    expected = zoo.expected("module", "<module 'json'")
    return module, zoo.objects().module_dict(module), expected.split(" from ", 1)[1]


def _with_file(zoo: Zoo, md: int, where: str) -> None:
    """Make the module's `__package__` entry a `__file__` one, of the text `where`
    says: the recording lacks json's own `__file__` (the dump printed the spec's
    origin, and never looked past `__spec__` in the module's dict)."""
    objs = zoo.objects()
    key = next(k for k, _ in objs.dict_items(md)
               if objs.mem.i64(k + zoo.o.unicode_length) == len("__package__"))
    slot = zoo.key_slot(md, key)
    zoo.put_ptr(slot, zoo.str("__file__"))
    zoo.put_ptr(slot + 8, zoo.str(where[1:-2]))


def fake_class(zoo: Zoo, name: str) -> int:
    """A C type named `name` (the recording lacks what the dump never read: a
    loader's class, say)."""
    type_type = zoo.type_of(zoo.type_of(zoo.value("None")))
    return fake_object(zoo, type_type, {zoo.o.tp_name: zoo.cstring(name),
                                        zoo.o.tp_flags: 0})


def test_module_whose_spec_cannot_be_read_prints_its_name_alone() -> None:
    zoo = Zoo("pyenv-3.12.1")
    module, md, _ = _json(zoo)
    spec = zoo.objects().dict_get_str(md, "__spec__")
    zoo.put_ptr(spec + zoo.o.ob_type, UNMAPPED)
    assert zoo.render(module) == "<module 'json'>"


def test_module_without_a_spec_names_its_file() -> None:
    """`json.__spec__ = None`: 3.12 prints `<module 'json' from '.../json/__init__.py'>`."""
    zoo = Zoo("pyenv-3.12.1")
    module, md, where = _json(zoo)
    zoo.put_ptr(zoo.dict_slot(md, "__spec__"), zoo.value("None"))
    _with_file(zoo, md, where)
    assert zoo.render(module) == f"<module 'json' from {where}"


def test_312_module_without_a_spec_names_its_file_whatever_its_loader() -> None:
    """`json.__spec__ = None; json.__loader__ = sys.__loader__` (BuiltinImporter):
    3.12 no longer asks the loader (module_repr is gone), it prints the file."""
    zoo = Zoo("pyenv-3.12.1")
    module, md, where = _json(zoo)
    zoo.put_ptr(zoo.dict_slot(md, "__loader__"), fake_class(zoo, "BuiltinImporter"))
    zoo.put_ptr(zoo.dict_slot(md, "__spec__"), zoo.value("None"))
    _with_file(zoo, md, where)
    assert zoo.render(module) == f"<module 'json' from {where}"


def test_311_module_without_a_spec_asks_its_loader() -> None:
    """`sys.__spec__ = None` on 3.11: BuiltinImporter.module_repr still answers."""
    zoo = Zoo("pyenv-3.11.7")
    module = zoo.value("module", "<module 'sys'")
    md = zoo.objects().module_dict(module)
    zoo.put_ptr(zoo.dict_slot(md, "__loader__"), fake_class(zoo, "BuiltinImporter"))
    zoo.put_ptr(zoo.dict_slot(md, "__spec__"), zoo.value("None"))
    assert zoo.render(module) == "<module 'sys' (built-in)>"


def test_module_whose_spec_has_no_name_prints_a_question_mark() -> None:
    """`json.__spec__.name = None` (on a copy of the spec): `<module '?' from ...>`."""
    zoo = Zoo("pyenv-3.12.1")
    module, md, where = _json(zoo)
    spec = zoo.objects().dict_get_str(md, "__spec__")
    zoo.put_ptr(zoo.attribute_slot(spec, "name"), zoo.value("None"))
    assert zoo.render(module) == f"<module '?' from {where}"


def test_module_whose_spec_has_no_origin_nor_loader_prints_its_name_alone() -> None:
    """`spec.origin = spec.loader = None`: `<module 'json'>`."""
    zoo = Zoo("pyenv-3.12.1")
    module, md, _ = _json(zoo)
    spec = zoo.objects().dict_get_str(md, "__spec__")
    origin, loader = zoo.attribute_slot(spec, "origin"), zoo.attribute_slot(spec, "loader")
    zoo.put_ptr(origin, zoo.value("None"))
    zoo.put_ptr(loader, zoo.value("None"))
    assert zoo.render(module) == "<module 'json'>"


def test_module_whose_spec_flag_is_not_a_bool_prints_its_name_alone() -> None:
    """`spec._set_fileattr` damaged into a two-digit int of the bool type: where the
    module comes from is unknown, its name is printed alone."""
    zoo = Zoo("pyenv-3.12.1")
    module, md, _ = _json(zoo)
    spec = zoo.objects().dict_get_str(md, "__spec__")
    o = zoo.o
    data = bytearray(o.long_digits + 8)
    struct.pack_into("<qQ", data, 0, 1, zoo.type_of(zoo.value("True")))
    struct.pack_into("<q", data, o.long_size, 2 << 3 if o.long_tagged else 2)
    struct.pack_into("<II", data, o.long_digits, 1, 1)
    zoo.put_ptr(zoo.attribute_slot(spec, "_set_fileattr"), zoo.alloc(bytes(data)))
    assert zoo.render(module) == "<module 'json'>"


def test_module_whose_name_is_unprintable_is_invalid() -> None:
    """`__name__` pointing at garbage text (control characters): no name, no module."""
    zoo = Zoo("pyenv-3.12.1")
    module = zoo.value("module", "<module 'made_here'>")
    md = zoo.objects().module_dict(module)
    zoo.put_ptr(zoo.dict_slot(md, "__name__"), zoo.value("text", "'tab\\tnew"))
    assert zoo.render(module) == f"<invalid object at 0x{module:x}>"


# -- methods --------------------------------------------------------------------------

def test_bound_method_without_a_method_layout_is_generic() -> None:
    """A version whose table has no method fields prints a bound method in the generic
    form, named by its type."""
    zoo = Zoo("pyenv-3.12.1")
    method = zoo.value("bound method")
    layout = without(zoo.layout, "method_func")
    assert zoo.render(method, layout) == f"<method object at 0x{method:x}>"


def test_generic_form_of_a_class_whose_qualname_cannot_be_read_uses_tp_name() -> None:
    """A method (printed generic: no method layout) whose class is a heap type cut
    short by the end of mapped memory before its ht_qualname: the class cannot be
    named as its repr would, the name it was dispatched by (tp_name) stands in."""
    zoo = Zoo("pyenv-3.12.1")
    method = zoo.value("bound method")
    o = zoo.o
    name = zoo.cstring("M")
    fields = {o.tp_name: name, o.tp_flags: HEAPTYPE, o.tp_base: zoo.type_of(method),
              o.tp_dict: 0}
    data = bytearray(0x200)
    struct.pack_into("<qQ", data, 0, 1, zoo.type_of(zoo.type_of(method)))
    for offset, value in fields.items():
        struct.pack_into("<Q", data, offset, value)
    assert o.ht_qualname >= len(data)
    zoo.put_ptr(method + o.ob_type, zoo.alloc_at_end(bytes(data)))
    assert zoo.render(method, without(zoo.layout, "method_func")) == \
        f"<M object at 0x{method:x}>"


def test_27_bound_method_without_a_class_names_it_by_a_question_mark() -> None:
    """2.7's `types.MethodType(f, obj)` has no im_class: `<bound method ?.method of
    ...>` (checked on 2.7.18)."""
    zoo = Zoo("pyenv-2.7.18")
    method = zoo.value("bound method")
    owner = zoo.ptr(method + zoo.o.method_self)
    zoo.put_ptr(method + zoo.o.method_class, 0)
    assert zoo.render(method) == \
        f"<bound method ?.method of <__main__.Inner object at 0x{owner:x}>>"


def test_27_method_without_an_instance_is_unbound() -> None:
    """2.7's `Outer.Inner.method`: im_self is NULL."""
    zoo = Zoo("pyenv-2.7.18")
    method = zoo.value("bound method")
    zoo.put_ptr(method + zoo.o.method_self, 0)
    assert zoo.render(method) == "<unbound method Inner.method>"


def test_bound_method_of_something_else_than_a_function_is_invalid() -> None:
    """A method whose im_func is an int (that happens to hold a str pointer where a
    function keeps its qualname) is damaged: the invalid marker."""
    zoo = Zoo("pyenv-3.12.1")
    method = zoo.value("bound method")
    int_type = zoo.type_of(zoo.value("int 1 digits", "1"))
    func = fake_object(zoo, int_type, {zoo.o.func_qualname: zoo.value("text", "'a'")})
    zoo.put_ptr(method + zoo.o.method_func, func)
    assert zoo.render(method) == f"<invalid object at 0x{method:x}>"


# -- namedtuples ------------------------------------------------------------------------

def _point(zoo: Zoo) -> tuple:
    point = zoo.value("namedtuple", "Point(x=1, y=2)")
    return point, zoo.type_of(point)


def test_namedtuple_with_a_field_name_that_is_no_str_prints_as_its_tuple() -> None:
    """`_fields` damaged (an int among the names): the fields are unknown, the value
    prints as the plain tuple."""
    zoo = Zoo("pyenv-3.12.1")
    point, tp = _point(zoo)
    fields = zoo.class_dict_get(tp, "_fields")
    zoo.put_ptr(fields + zoo.o.tuple_items, zoo.value("int 1 digits", "1"))
    assert zoo.render(point) == "(1, 2)"


def test_namedtuple_whose_repr_is_no_function_prints_as_its_tuple() -> None:
    """The class's `__repr__` replaced by an object that is no function (though it
    holds the str 'collections' where a function keeps its `__module__`): not
    namedtuple's repr, so the tuple's."""
    zoo = Zoo("pyenv-3.12.1")
    point, tp = _point(zoo)
    repr_func = zoo.class_dict_get(tp, "__repr__")
    collections = zoo.ptr(repr_func + zoo.o.func_module)
    int_type = zoo.type_of(zoo.value("int 1 digits", "1"))
    zoo.put_ptr(zoo.dict_slot(zoo.ptr(tp + zoo.o.tp_dict), "__repr__"),
                fake_object(zoo, int_type, {zoo.o.func_module: collections}))
    assert zoo.render(point) == "(1, 2)"


def test_nested_namedtuple_prints_its_name_not_its_qualname() -> None:
    """A namedtuple class made in a class body (`__qualname__` 'Holder.Point'):
    namedtuple's repr uses `type(self).__name__`, `Point(x=1, y=2)`."""
    zoo = Zoo("pyenv-3.12.1")
    point, tp = _point(zoo)
    zoo.put_ptr(tp + zoo.o.ht_qualname, zoo.str("Holder.Point"))
    assert zoo.render(point) == "Point(x=1, y=2)"


# -- library classes ----------------------------------------------------------------

def test_dict_subclass_named_counter_elsewhere_is_no_counter() -> None:
    """A dict subclass with its own `__repr__` whose class is named Counter but is
    not collections' (here: `Loud` of __main__ renamed) prints as its dict."""
    zoo = Zoo("pyenv-3.12.1")
    loud = zoo.value("dict overriding __repr__")
    zoo.put_ptr(zoo.type_of(loud) + zoo.o.tp_name, zoo.cstring("Counter"))
    assert zoo.render(loud) == "{'z': 1}"


def test_nested_counter_subclass_prints_its_name_not_its_qualname() -> None:
    """`class Holder: class MyCounter(Counter)`: `MyCounter({'a': 2, 'b': 1})`."""
    zoo = Zoo("pyenv-3.12.1")
    counter = zoo.value("Counter subclass")
    zoo.put_ptr(zoo.type_of(counter) + zoo.o.ht_qualname, zoo.str("Holder.MyCounter"))
    assert zoo.render(counter) == "MyCounter({'a': 2, 'b': 1})"


def test_nested_deque_subclass_prints_its_name_not_its_qualname() -> None:
    zoo = Zoo("pyenv-3.12.1")
    deque = zoo.value("deque subclass")
    zoo.put_ptr(zoo.type_of(deque) + zoo.o.ht_qualname, zoo.str("Holder.MyDeque"))
    assert zoo.render(deque) == "MyDeque([1, 2], maxlen=5)"


def test_slots_without_a_member_layout_leave_fraction_generic() -> None:
    """A version whose table lacks where a slot's offset is kept (PyMemberDef.offset)
    cannot read a Fraction: the generic form."""
    zoo = Zoo("pyenv-3.12.1")
    fraction = zoo.value("slots", "Fraction(1, 3)")
    readable_qualname(zoo, fraction)
    layout = without(zoo.layout, "member_def_offset")
    assert zoo.render(fraction, layout) == f"<fractions.Fraction object at 0x{fraction:x}>"


def test_slot_at_offset_zero_is_no_slot() -> None:
    """A member descriptor whose offset is 0 (the refcount: damaged) gives no slot:
    the Fraction is generic."""
    zoo = Zoo("pyenv-3.12.1")
    fraction = zoo.value("slots", "Fraction(1, 3)")
    readable_qualname(zoo, fraction)
    zoo.put_i64(fraction, 0x100)  # a refcount (the dump never read this one)
    zoo.put_i64(member_def(zoo, fraction, "_numerator") + zoo.o.member_def_offset, 0)
    assert zoo.render(fraction) == f"<fractions.Fraction object at 0x{fraction:x}>"


def test_slot_at_offset_one_is_read_there() -> None:
    """Offset 1 is inside the header but a possible offset: the pointer read there
    (refcount and type bytes, misaligned) is an invalid object in its place."""
    zoo = Zoo("pyenv-3.12.1")
    fraction = zoo.value("slots", "Fraction(1, 3)")
    readable_qualname(zoo, fraction)
    zoo.put_i64(fraction, 0x100)  # a refcount (the dump never read this one)
    zoo.put_i64(member_def(zoo, fraction, "_numerator") + zoo.o.member_def_offset, 1)
    garbage = zoo.ptr(fraction + 1)
    assert garbage & 7 or garbage >= 1 << 63
    assert zoo.render(fraction) == f"Fraction(<invalid object at 0x{garbage:x}>, 3)"


def test_fraction_without_its_denominator_is_generic() -> None:
    zoo = Zoo("pyenv-3.12.1")
    fraction = zoo.value("slots", "Fraction(1, 3)")
    readable_qualname(zoo, fraction)
    zoo.put_ptr(slot_address(zoo, fraction, "_denominator"), 0)
    assert zoo.render(fraction) == f"<fractions.Fraction object at 0x{fraction:x}>"


def test_uuid_whose_int_is_a_str_is_generic() -> None:
    zoo = Zoo("pyenv-3.12.1")
    uuid = zoo.value("slots", "UUID('12345678")
    readable_qualname(zoo, uuid)
    zoo.put_ptr(slot_address(zoo, uuid, "int"), zoo.value("text", "'a'"))
    assert zoo.render(uuid) == f"<uuid.UUID object at 0x{uuid:x}>"


def test_uuid_whose_int_has_more_than_128_bits_is_generic() -> None:
    zoo = Zoo("pyenv-3.12.1")
    uuid = zoo.value("slots", "UUID('12345678")
    readable_qualname(zoo, uuid)
    zoo.put_ptr(slot_address(zoo, uuid, "int"), zoo.value("int 51 digits"))
    assert zoo.render(uuid) == f"<uuid.UUID object at 0x{uuid:x}>"


def test_27_class_with_decimals_slots_but_another_repr_is_no_decimal() -> None:
    """2.7: an instance is printed as a Decimal only when the class whose repr it
    uses is decimal.Decimal (here renamed Money): else the generic form."""
    zoo = Zoo("pyenv-2.7.18")
    value = zoo.value("decimal subclass")
    decimal = zoo.ptr(zoo.type_of(value) + zoo.o.tp_base)
    zoo.put_ptr(decimal + zoo.o.tp_name, zoo.cstring("Money"))
    assert zoo.render(value) == f"<__main__.MyDecimal object at 0x{value:x}>"


# -- pathlib --------------------------------------------------------------------------

def test_windows_path_is_generic() -> None:
    """pystack prints POSIX paths only: a PureWindowsPath (its class, not its base
    PurePath, says Windows) keeps the generic form."""
    zoo = Zoo("pyenv-3.12.1")
    path = zoo.value("Windows path")
    assert zoo.render(path) == f"<pathlib.PureWindowsPath object at 0x{path:x}>"


def test_path_of_a_windows_class_is_generic_whatever_its_parts() -> None:
    """The POSIX path '/a/b/c' with its class renamed PureWindowsPath (the recording
    of the real Windows path lacks its parts: the dump never read them)."""
    zoo = Zoo("pyenv-3.12.1")
    path = zoo.value("pathlib", "PurePosixPath('/a/b/c')")
    tp = zoo.type_of(path)
    zoo.put_ptr(tp + zoo.o.tp_name, zoo.cstring("PureWindowsPath"))
    zoo.put_ptr(tp + zoo.o.ht_qualname, zoo.str("PureWindowsPath"))
    assert zoo.render(path) == f"<pathlib.PureWindowsPath object at 0x{path:x}>"


def test_path_whose_raw_paths_hold_no_str_is_generic() -> None:
    zoo = Zoo("pyenv-3.12.1")
    path = zoo.value("pathlib", "PurePosixPath('/a/b/c')")
    readable_qualname(zoo, path)
    raw = zoo.ptr(slot_address(zoo, path, "_raw_paths"))
    zoo.put_ptr(zoo.ptr(raw + zoo.o.list_items), zoo.value("int 1 digits", "1"))
    assert zoo.render(path) == f"<pathlib.PurePosixPath object at 0x{path:x}>"


def test_path_of_256_raw_paths_is_printed() -> None:
    """`PurePosixPath(*['a'] * 256)`: `_raw_paths` is a list of 256 str."""
    zoo = Zoo("pyenv-3.12.1")
    path = zoo.value("pathlib", "PurePosixPath('a/b')")
    raw = zoo.ptr(slot_address(zoo, path, "_raw_paths"))
    items = zoo.alloc(struct.pack("<256Q", *[zoo.value("text", "'a'")] * 256))
    zoo.put_i64(raw + zoo.o.ob_size, 256)
    zoo.put_ptr(raw + zoo.o.list_items, items)
    assert zoo.render(path) == "PurePosixPath('%s')" % "/".join(["a"] * 256)


def test_path_before_312_puts_its_drive_in_front() -> None:
    """3.8-3.11 keep `_drv`, `_root`, `_parts`; with a drive (`p._drv = 'a'` on
    PurePosixPath('/a//b/./c/')) 3.10 prints `PurePosixPath('a/a/b/c')`."""
    zoo = Zoo("pyenv-3.10.13")
    path = zoo.value("pathlib", "PurePosixPath('/a/b/c')")
    zoo.put_ptr(slot_address(zoo, path, "_drv"), zoo.value("text", "'a'"))
    assert zoo.render(path) == "PurePosixPath('a/a/b/c')"


def test_posix_path_of_three_slashes_has_one() -> None:
    """POSIX keeps a leading `//` only: `PurePosixPath('///a')` is '/a'."""
    assert posix_path_text(["///a"]) == "/a"
    assert posix_path_text(["//a"]) == "//a"


# -- Enum members ---------------------------------------------------------------------

def test_enum_with_its_own_repr_is_generic() -> None:
    zoo = Zoo("pyenv-3.12.1")
    own = zoo.value("enum with its own repr")
    assert zoo.render(own) == f"<__main__.Own object at 0x{own:x}>"


def test_enum_with_a_repr_of_its_class_is_generic() -> None:
    """Color given a `__repr__` of its own (its dict's entry RED renamed): what it
    prints is not Enum's, the member is generic."""
    zoo = Zoo("pyenv-3.12.1")
    red = zoo.value("enum", "<Color.RED: 1>")
    class_dict = zoo.ptr(zoo.type_of(red) + zoo.o.tp_dict)
    objs = zoo.objects()
    key = next(k for k, v in objs.dict_items(class_dict) if v == red)
    zoo.put_ptr(zoo.key_slot(class_dict, key), zoo.str("__repr__"))
    assert zoo.render(red) == f"<__main__.Color object at 0x{red:x}>"


def test_enum_member_whose_metaclass_name_is_garbage_is_generic() -> None:
    """The metaclass's tp_name damaged (a control character in it): whether this is an
    Enum is unknown, the member prints in the generic form."""
    zoo = Zoo("pyenv-3.12.1")
    red = zoo.value("enum", "<Color.RED: 1>")
    zoo.put_ptr(zoo.type_of(zoo.type_of(red)) + zoo.o.tp_name, zoo.cstring("Enum\x01Type"))
    assert zoo.render(red) == f"<__main__.Color object at 0x{red:x}>"


def test_deque_of_a_dotted_c_heap_type_prints_its_short_name() -> None:
    """3.13 makes `collections.deque` a heap type whose tp_name keeps its module:
    its repr says `deque(...)`."""
    zoo = Zoo("pyenv-3.13.0")
    deque = zoo.value("collections", "deque([1, 2, 3])")
    assert zoo.objects().type_name(deque) == "collections.deque"
    assert zoo.render(deque) == "deque([1, 2, 3])"
