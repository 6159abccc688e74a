"""The reprs of library values (reprs_named.py): OrderedDict (C, and 2.7's Python
class), defaultdict, deque, Counter, Decimal (C, and 2.7's Python class), datetime,
timezone, range and slice, at the edges the zoo and the synthetic heap of
test_reprs.py do not reach on their own.

Written against the mutants that survived test_reprs.py and test_recorded.py: each
test pins what CPython's repr prints for a state of memory that only some branch of
a renderer handles (a NULL default_factory, a deque block entered at index 0, the
same OrderedDict twice in one value, a class whose `__qualname__` gives no name,
the work budget spent one unit per node or link), or, for damaged memory (a digit
count, a block index or a link out of range), the marker or generic form pystack
prints for it. Recorded zoo values are found by label and patched in place through
`PatchedTarget`; values the zoo lacks are laid out with test_reprs's `Heap`.
"""
from __future__ import annotations

import re
import struct
from typing import Callable, Optional

import pytest

from recorded import PatchedTarget, RecordedTarget, rebuilt_layout, recordings, without
from unit.test_reprs import HEAPTYPE, PY3_VERSIONS, Heap
from pystack.cpython import reprs
from pystack.cpython.layouts import layout_for
from pystack.cpython.memory import Memory
from pystack.cpython.objects import Objects
from pystack.cpython.reprs import render

WHOLE = 10 ** 6  # a budget every value here fits in


# -- recorded zoos, patched ---------------------------------------------------------------

class _Zoo:
    """One recorded zoo: its values by label, rendered through the patches made."""

    def __init__(self, path: str) -> None:
        inner = RecordedTarget(path)
        meta = inner.meta
        self.target = PatchedTarget(inner)
        self.name = meta["interpreter"]
        self.version = tuple(meta["version"][:2])
        self.layout = rebuilt_layout(Memory(inner), tuple(meta["version"]), meta["runtime"])
        self.values = meta["report"]["values"]

    def find(self, label: str, pattern: str) -> tuple:
        """(address, expected repr) of the one value of `label` whose repr matches."""
        found = [(address, expected) for lab, address, expected, *_ in self.values
                 if lab == label and re.match(pattern, expected)]
        assert len(found) == 1, (self.name, label, pattern, found)
        return found[0]

    def objects(self, layout=None) -> Objects:
        return Objects(Memory(self.target), layout or self.layout)

    def render(self, address: int, layout=None) -> str:
        return render(self.objects(layout), address, max_len=WHOLE)

    def ptr(self, address: int) -> int:
        return Memory(self.target).ptr(address)

    def i64(self, address: int) -> int:
        return Memory(self.target).i64(address)


def _zoos(wanted: Callable[[tuple], bool] = lambda version: True) -> list:
    found = []
    for name, path in recordings():
        if name.endswith(".zoo"):
            version = tuple(int(n) for n in re.search(r"-(\d+)\.(\d+)", name).groups())
            if wanted(version):
                found.append(pytest.param(path, id=name))
    return found or [pytest.param(None, marks=pytest.mark.skip(
        reason="no recordings: run scripts/record_dumps.py"))]


ALL_ZOOS = _zoos()
PY3_ZOOS = _zoos(lambda version: version >= (3, 0))
PY2_ZOOS = _zoos(lambda version: version < (3, 0))
#: CPython's C OrderedDict before 3.12, printed as a list of pairs.
ODICT_LIST_ZOOS = _zoos(lambda version: (3, 0) <= version < (3, 12))


# -- values laid out by hand ---------------------------------------------------------------

def _class(heap: Heap, name: str, base: int, qualname: Optional[int] = None,
           attrs: Optional[dict] = None) -> int:
    """A class (heap type) deriving from `base`, with `__qualname__` the object at
    `qualname` and a class dict of `attrs` (name -> object)."""
    o = heap.o
    tp = heap.alloc(o.ht_qualname + 8)  # (Heap.type's 0x200 bytes end before ht_qualname)
    heap.put_ptr(tp + o.ob_type, heap.type("type"))
    heap.put_ptr(tp + o.tp_name, heap.cstring(name))
    heap.put_ptr(tp + o.tp_flags, HEAPTYPE)
    heap.put_ptr(tp + o.tp_base, base)
    if qualname is not None:
        heap.put_ptr(tp + o.ht_qualname, qualname)
    if attrs:
        heap.put_ptr(tp + o.tp_dict,
                     heap.dict([(heap.str(key), value) for key, value in attrs.items()]))
    return tp


def _odict(heap: Heap, pairs: list, tp: Optional[int] = None) -> int:
    """A C OrderedDict of (key, value) addresses: the dict, and its node list in order."""
    o = heap.o
    address = heap.dict(pairs, tp=tp or heap.type("collections.OrderedDict"))
    nodes = [heap.alloc(32) for _ in pairs]
    for i, (node, (key, _)) in enumerate(zip(nodes, pairs)):
        heap.put_ptr(node + o.odict_node_key, key)
        heap.put_ptr(node + o.odict_node_next, nodes[i + 1] if i + 1 < len(nodes) else 0)
    heap.put_ptr(address + o.odict_first, nodes[0] if nodes else 0)
    return address


def _deque(heap: Heap, items: list, left_index: int, first_block: int = 0) -> int:
    """A deque of `items` (addresses) whose first lies at `left_index` of block
    `first_block` of its chain of blocks (the deque's left block is the first)."""
    o = heap.o
    per_block = (o.block_right - o.block_data) // 8
    address = heap.new("collections.deque", o.deque_maxlen + 8)
    count = first_block + (left_index + len(items)) // per_block + 1
    blocks = [heap.alloc(o.block_right + 8) for _ in range(count)]
    for block, following in zip(blocks, blocks[1:]):
        heap.put_ptr(block + o.block_right, following)
    for i, item in enumerate(items):
        position = first_block * per_block + left_index + i
        heap.put_ptr(blocks[position // per_block] + o.block_data + 8 * (position % per_block),
                     item)
    heap.put_ptr(address + o.deque_left_block, blocks[0])
    heap.put_i64(address + o.deque_left_index, left_index)
    heap.put_i64(address + o.deque_size, len(items))
    heap.put_i64(address + o.deque_maxlen, -1)
    return address


def _counter_class(heap: Heap) -> int:
    """collections.Counter as a 3.x class: its own __repr__, module `collections`."""
    return _class(heap, "Counter", heap.type("dict"), qualname=heap.str("Counter"),
                  attrs={"__repr__": heap.none(), "__module__": heap.str("collections")})


def _defaultdict(heap: Heap, pairs: list, factory: int) -> int:
    address = heap.dict(pairs, tp=heap.type("collections.defaultdict"))
    heap.put_ptr(address + heap.o.dict_object_size, factory)
    return address


py3 = pytest.mark.parametrize("version", PY3_VERSIONS, ids=lambda v: "%d.%d" % v)


# -- a kind without a layout: the generic form -----------------------------------------------

#: (layout field, start of the values' repr, the type's dotted name).
_LAYOUTS = [("range_stop", "range(", "range"), ("slice_step", "slice(", "slice"),
            ("odict_first", "OrderedDict(", "collections.OrderedDict"),
            ("dict_object_size", "defaultdict(", "collections.defaultdict"),
            ("deque_left_block", "deque(", "collections.deque"),
            ("block_right", "deque(", "collections.deque")]


@pytest.mark.parametrize("path", ALL_ZOOS)
def test_kinds_without_a_layout_print_object_repr(path):
    """A version whose table lacks a kind's fields prints that kind's values as
    `object.__repr__` does: `<collections.deque object at 0x...>`."""
    zoo = _Zoo(path)
    checked = set()
    for field, start, name in _LAYOUTS:
        if field == "odict_first" and zoo.version < (3, 0):
            continue  # 2.7's OrderedDict is written in Python: no such layout
        layout = without(zoo.layout, field)
        for label, address, expected, check, *_ in zoo.values:
            if check == "exact" and expected.startswith(start) and "subclass" not in label:
                assert zoo.render(address, layout) == f"<{name} object at 0x{address:x}>", \
                    (field, expected)
                checked.add(field)
    assert checked == ({"dict_object_size"} if zoo.version < (3, 0)
                       else {field for field, _, _ in _LAYOUTS})


@py3
@pytest.mark.parametrize("base,field", [
    ("range", "range_stop"), ("slice", "slice_step"),
    ("collections.OrderedDict", "odict_first"),
    ("collections.defaultdict", "dict_object_size"),
    ("collections.deque", "deque_left_block")])
def test_kinds_without_a_layout_name_an_unnameable_class_by_tp_name(version, base, field):
    """The generic form names the class as `type.__module__` and `__qualname__` give
    it; a class whose __qualname__ cannot be read is named by its tp_name."""
    heap = Heap(layout_for(version))
    odd = _class(heap, "Odd", heap.type(base), qualname=0xDEAD0000)
    address = heap.new(base, 80, odd)
    objects = Objects(Memory(heap.target), without(heap.layout, field))
    assert render(objects, address) == f"<Odd object at 0x{address:x}>"


# -- OrderedDict -------------------------------------------------------------------------

@py3
def test_collections_subclasses_print_their_name_not_their_qualname(version):
    """CPython names an OrderedDict, deque or defaultdict by its class's __name__
    (the last part of tp_name), a Counter by `type(self).__name__`: a class whose
    __qualname__ was changed (`Sub.__qualname__ = 'Other'`) still prints `Sub(`."""
    heap = Heap(layout_for(version))
    one = heap.value(1)

    def sub(base: int) -> int:
        return _class(heap, "Sub", base, qualname=heap.str("Other"))

    od = _odict(heap, [(heap.str("a"), one)], tp=sub(heap.type("collections.OrderedDict")))
    deque = _deque(heap, [one], 5)
    heap.put_ptr(deque + heap.o.ob_type, sub(heap.type("collections.deque")))
    dd = heap.dict([(one, one)], tp=sub(heap.type("collections.defaultdict")))
    counter = heap.dict([(heap.str("a"), one)], tp=sub(_counter_class(heap)))
    assert heap.render(od) == \
        ("Sub({'a': 1})" if version >= (3, 12) else "Sub([('a', 1)])")
    assert heap.render(deque) == ("Sub([1])" if version >= (3, 7) else "deque([1])")
    assert heap.render(dd) == \
        ("Sub(None, {1: 1})" if version >= (3, 7) else "defaultdict(None, {1: 1})")
    assert heap.render(counter) == "Sub({'a': 1})"


@py3
def test_ordered_dict_with_more_nodes_than_keys_is_invalid(version):
    """The last node's link leads back to the first: a walk that trusted the links
    would print `('a', 0)` twice (CPython's own repr would stop at its size check)."""
    heap = Heap(layout_for(version))
    od = _odict(heap, [(heap.str(key), heap.value(i)) for i, key in enumerate("abc")])
    first = heap.ptr(od + heap.o.odict_first)
    last = heap.ptr(heap.ptr(first + heap.o.odict_node_next) + heap.o.odict_node_next)
    assert heap.render(od).startswith("OrderedDict(")
    heap.put_ptr(last + heap.o.odict_node_next, first)
    assert heap.render(od) == f"<invalid object at 0x{od:x}>"
    heap.put_ptr(last + heap.o.odict_node_next, last)
    assert heap.render(od) == f"<invalid object at 0x{od:x}>"


@py3
def test_ordered_dict_with_fewer_nodes_than_keys_prints_its_nodes(version):
    """CPython's repr walks the nodes: a list that ends early shows what it holds."""
    heap = Heap(layout_for(version))
    od = _odict(heap, [(heap.str(key), heap.value(i)) for i, key in enumerate("abc")])
    first = heap.ptr(od + heap.o.odict_first)
    heap.put_ptr(first + heap.o.odict_node_next, 0)
    assert heap.render(od) == \
        ("OrderedDict({'a': 0})" if version >= (3, 12) else "OrderedDict([('a', 0)])")


@pytest.mark.parametrize("version", [v for v in PY3_VERSIONS if v < (3, 12)],
                         ids=lambda v: "%d.%d" % v)
def test_ordered_dict_list_of_pairs_cut_by_work_shows_the_cut(version, monkeypatch):
    """Before 3.12 the pairs are not a dict repr: running out of work while reading
    them must still end in a visible cut, not a shorter list that looks whole."""
    heap = Heap(layout_for(version))
    od = _odict(heap, [(heap.str(key), heap.value(i)) for i, key in enumerate("abc")])
    monkeypatch.setattr(reprs, "MAX_WORK", 5)
    assert heap.render(od, max_len=WHOLE) == "OrderedDict([('a', 0), ('b', 1), ...])"
    monkeypatch.setattr(reprs, "MAX_WORK", 3)  # the dict's entries, no node
    assert heap.render(od, max_len=WHOLE) == "OrderedDict([...])"


@pytest.mark.parametrize("path", ALL_ZOOS)
def test_the_same_ordered_dict_twice_prints_whole_twice(path):
    """Only an OrderedDict inside itself prints `...`: once printed, the same one
    printed again (the first two items of a list here) is whole again."""
    zoo = _Zoo(path)
    od, od_repr = zoo.find("OrderedDict", r"OrderedDict\(\[?\{?\(?u?'b'")
    lst, lst_repr = zoo.find("sequence", r"\[1, 2\.0, ")
    items = zoo.ptr(lst + zoo.layout.objects.list_items)
    zoo.target.put_ptr(items, od)
    zoo.target.put_ptr(items + 8, od)
    rest = lst_repr[len("[1, 2.0, "):]
    assert zoo.render(lst) == f"[{od_repr}, {od_repr}, {rest}"


def _python_odict_links(zoo: _Zoo) -> tuple:
    """2.7's OrderedDict([(u'b', [2]), (u'c', 3), (u'a', 4)]): (its address, its
    repr, its root link); each link is a list [previous, next, key]."""
    od, expected = zoo.find("OrderedDict", r"OrderedDict\(\[\(u'b'")
    root = zoo.objects().attribute(od, "_OrderedDict__root")
    return od, expected, root


@pytest.mark.parametrize("path", PY2_ZOOS)
def test_python_ordered_dict_links_that_miss_the_root_are_invalid(path):
    """The last link leads back to the first instead of the root: the walk would
    print a pair twice; the value is damaged."""
    zoo = _Zoo(path)
    od, expected, root = _python_odict_links(zoo)
    list_items = zoo.layout.objects.list_items
    assert zoo.render(od) == expected
    first = last = zoo.ptr(zoo.ptr(root + list_items) + 8)
    while zoo.ptr(zoo.ptr(last + list_items) + 8) != root:  # (the recording has no
        last = zoo.ptr(zoo.ptr(last + list_items) + 8)     # `previous` links)
    zoo.target.put_ptr(zoo.ptr(last + list_items) + 8, first)
    assert zoo.render(od) == f"<invalid object at 0x{od:x}>"


@pytest.mark.parametrize("path", PY2_ZOOS)
def test_python_ordered_dict_link_shorter_than_three_is_invalid(path):
    """A link is a list of three: [previous, next, key]; a shorter one is damage."""
    zoo = _Zoo(path)
    od, _, root = _python_odict_links(zoo)
    zoo.target.put_i64(root + zoo.layout.objects.ob_size, 2)
    assert zoo.render(od) == f"<invalid object at 0x{od:x}>"


@pytest.mark.parametrize("path", PY2_ZOOS)
def test_python_ordered_dict_cut_by_work_shows_the_cut(path, monkeypatch):
    """Out of work while walking 2.7's links (or its dict, before any link), the
    cut is visible."""
    zoo = _Zoo(path)
    od, _, _ = _python_odict_links(zoo)
    monkeypatch.setattr(reprs, "MAX_WORK", 12)
    assert zoo.render(od) == "OrderedDict([(u'b', [2]), ...])"
    monkeypatch.setattr(reprs, "MAX_WORK", 5)
    assert zoo.render(od) == "OrderedDict([...])"


@pytest.mark.parametrize("path", PY2_ZOOS)
def test_python_ordered_dict_costs_one_unit_of_work_per_link(path, monkeypatch):
    """The work budget (slots and links read) is spent one unit per link: this
    OrderedDict costs 16 units (its dict's 8 slots, 7 links: the root's and two per
    pair, and the one slot of the list [2]), and prints whole with 16 to spend."""
    zoo = _Zoo(path)
    od, expected, _ = _python_odict_links(zoo)
    monkeypatch.setattr(reprs, "MAX_WORK", 16)
    assert zoo.render(od) == expected


@py3
def test_ordered_dict_costs_one_unit_of_work_per_node(version, monkeypatch):
    """3 entries cost 6 units (3 dict entries, 3 nodes): whole with 6 to spend; from
    3.12 (a dict repr inside) cut visibly after two pairs with 5."""
    heap = Heap(layout_for(version))
    od = _odict(heap, [(heap.str(key), heap.value(i)) for i, key in enumerate("abc")])
    monkeypatch.setattr(reprs, "MAX_WORK", 6)
    if version >= (3, 12):
        assert heap.render(od, max_len=WHOLE) == "OrderedDict({'a': 0, 'b': 1, 'c': 2})"
        monkeypatch.setattr(reprs, "MAX_WORK", 5)
        assert heap.render(od, max_len=WHOLE) == "OrderedDict({'a': 0, 'b': 1, ...})"
    else:
        assert heap.render(od, max_len=WHOLE) == \
            "OrderedDict([('a', 0), ('b', 1), ('c', 2)])"


# -- deque ---------------------------------------------------------------------------------

@py3
def test_deque_from_the_first_slot_of_a_block(version):
    """leftindex 0 (a deque popped or rotated to a block's start) is a valid start,
    and items run on through the next block after slot 63."""
    heap = Heap(layout_for(version))
    items = [heap.value(i) for i in (1, 2, 3)]
    assert heap.render(_deque(heap, items, 0)) == "deque([1, 2, 3])"
    assert heap.render(_deque(heap, items, 62)) == "deque([1, 2, 3])"


@py3
def test_deque_left_index_past_its_block_is_invalid(version):
    """leftindex is 0..63: 64 is damage even where a next block holds the items."""
    heap = Heap(layout_for(version))
    deque = _deque(heap, [heap.value(i) for i in (1, 2, 3)], 0, first_block=1)
    heap.put_i64(deque + heap.o.deque_left_index, 64)
    assert heap.render(deque) == f"<invalid object at 0x{deque:x}>"


@py3
def test_deque_costs_one_unit_of_work_per_item(version, monkeypatch):
    heap = Heap(layout_for(version))
    deque = _deque(heap, [heap.value(i) for i in (1, 2, 3)], 32)
    monkeypatch.setattr(reprs, "MAX_WORK", 3)
    assert heap.render(deque, max_len=WHOLE) == "deque([1, 2, 3])"
    monkeypatch.setattr(reprs, "MAX_WORK", 2)
    assert heap.render(deque, max_len=WHOLE) == "deque([1, 2, ...])"


# -- defaultdict, Counter ------------------------------------------------------------------

@py3
def test_defaultdict_inside_another_with_no_factory(version):
    """`defaultdict()` keeps a NULL default_factory, printed None; a defaultdict
    inside another is no cycle."""
    heap = Heap(layout_for(version))
    inner = _defaultdict(heap, [], 0)
    outer = _defaultdict(heap, [(heap.value(1), inner)], heap.type("list"))
    assert heap.render(outer) == "defaultdict(<class 'list'>, {1: defaultdict(None, {})})"


@py3
def test_counter_sorts_bool_counts_as_ints(version):
    """most_common() orders True as 1: Counter({'n': -3, 't': True}) prints t first."""
    heap = Heap(layout_for(version))
    counter = heap.dict([(heap.str("n"), heap.value(-3)), (heap.str("t"), heap.value(True))],
                        tp=_counter_class(heap))
    assert heap.render(counter) == "Counter({'t': True, 'n': -3})"


@py3
def test_counter_sorts_counts_of_any_int_size(version):
    """A count of 2**300 (ten 30-bit digits) is a count like any other."""
    heap = Heap(layout_for(version))
    counter = heap.dict([(heap.str("small"), heap.value(1)),
                         (heap.str("big"), heap.value(2 ** 300))], tp=_counter_class(heap))
    assert heap.render(counter, max_len=WHOLE) == "Counter({'big': %d, 'small': 1})" % 2 ** 300


@py3
def test_counter_inside_itself_prints_a_cycle_as_a_dict_does(version):
    """CPython's Counter.__repr__ recurses without end on a Counter inside itself (a
    RecursionError, no text to match); pystack marks the cycle as a dict's repr
    does, inside the Counter's name."""
    heap = Heap(layout_for(version))
    hole = heap.value(12345)
    counter = heap.dict([(heap.str("me"), hole)], tp=_counter_class(heap))
    heap.replace_ptr(hole, counter)
    assert heap.render(counter) == "Counter({'me': Counter({...})})"


@py3
def test_counter_inside_a_counter(version):
    """A count that is no number: the dict's order (CPython's most_common of one
    item); the inner Counter is another value, no cycle."""
    heap = Heap(layout_for(version))
    counter = _counter_class(heap)
    inner = heap.dict([(heap.str("z"), heap.value(1))], tp=counter)
    outer = heap.dict([(heap.str("k"), inner)], tp=counter)
    assert heap.render(outer) == "Counter({'k': Counter({'z': 1})})"


# -- Decimal ---------------------------------------------------------------------------------

_DEC_DIGITS, _DEC_LEN, _DEC_DATA = 40, 48, 64  # mpd_t's digits, len and data fields


@pytest.mark.parametrize("path", PY3_ZOOS)
def test_decimal_digit_count_up_to_19_per_word_and_19_more(path):
    """The text comes from the coefficient's words; libmpdec's digit count is only
    checked for sanity: up to 19 per word plus 19 passes, one more is damage."""
    zoo = _Zoo(path)
    dec, expected = zoo.find("decimal", r"Decimal\('1\.50'\)$")
    assert zoo.i64(dec + _DEC_LEN) == 1
    zoo.target.put_i64(dec + _DEC_DIGITS, 38)
    assert zoo.render(dec) == expected
    zoo.target.put_i64(dec + _DEC_DIGITS, 39)
    assert zoo.render(dec) == f"<invalid object at 0x{dec:x}>"


@pytest.mark.parametrize("path", PY3_ZOOS)
def test_decimal_words_are_below_ten_to_the_19(path):
    """A word holds 19 digits: 10**19 - 1 is Decimal('99999999999999999.99')'s,
    10**19 is damage."""
    zoo = _Zoo(path)
    dec, _ = zoo.find("decimal", r"Decimal\('1\.50'\)$")
    words = zoo.ptr(dec + _DEC_DATA)
    zoo.target.put_i64(dec + _DEC_DIGITS, 19)
    zoo.target.put(words, struct.pack("<Q", 10 ** 19 - 1))
    assert zoo.render(dec) == "Decimal('99999999999999999.99')"
    zoo.target.put(words, struct.pack("<Q", 10 ** 19))
    assert zoo.render(dec) == f"<invalid object at 0x{dec:x}>"


def _slot_address(zoo: _Zoo, obj: int, name: str) -> int:
    """Where the __slots__ entry `name` of `obj` lives (its member descriptor says)."""
    o = zoo.layout.objects
    objects = zoo.objects()
    tp = objects.type_of(obj)
    descr = objects.dict_get_str(zoo.ptr(tp + o.tp_dict), name)
    member = zoo.ptr(descr + o.member_descr_member)
    return obj + zoo.i64(member + o.member_def_offset)


@pytest.mark.parametrize("path", PY2_ZOOS)
@pytest.mark.parametrize("slot,what", [("_sign", None), ("_int", "an int"),
                                       ("_exp", None), ("_exp", "a str"),
                                       ("_exp", "a float")])
def test_python_decimal_without_its_state_is_generic(path, slot, what):
    """2.7's Decimal prints from its slots `_sign` (an int), `_int` (a str of
    digits) and `_exp` (an int, or 'F', 'n', 'N'); an unset slot, or one holding
    something else, leaves the generic form."""
    zoo = _Zoo(path)
    dec, expected = zoo.find("decimal", r"Decimal\('1\.50'\)$")
    assert zoo.render(dec) == expected
    replacement = {None: 0, "an int": zoo.find("int 1 digits", r"7$")[0],
                   "a str": zoo.find("native str", r"'abc'$")[0],
                   "a float": zoo.find("float", r"2\.5$")[0]}[what]
    zoo.target.put_ptr(_slot_address(zoo, dec, slot), replacement)
    assert zoo.render(dec) == f"<decimal.Decimal object at 0x{dec:x}>"


# -- datetime, timezone ------------------------------------------------------------------

_DATETIME_TZINFO, _TIMEZONE_NAME = 40, 24


@pytest.mark.parametrize("path", PY3_ZOOS)
def test_datetime_whose_tzinfo_is_none_prints_none_of_it(path):
    """datetime's repr adds `tzinfo=` only when tzinfo is not None, hastzinfo or
    not (append_keyword_tzinfo)."""
    zoo = _Zoo(path)
    when, expected = zoo.find("datetime", r"datetime\.datetime\(2024, 1, 2, 3, 4, tzinfo=")
    none, _ = zoo.find("None", r"None$")
    zoo.target.put_ptr(when + _DATETIME_TZINFO, none)
    assert zoo.render(when) == "datetime.datetime(2024, 1, 2, 3, 4)"


@pytest.mark.parametrize("path", PY3_ZOOS)
def test_timezone_without_a_name_is_its_offset(path):
    """timezone(timedelta(hours=2)) keeps no name: `timezone(timedelta(...))`, not
    the utc that a zero offset without a name is."""
    zoo = _Zoo(path)
    when, expected = zoo.find("datetime", r".*'CEST'")
    tz = zoo.ptr(when + _DATETIME_TZINFO)
    zoo.target.put_ptr(tz + _TIMEZONE_NAME, 0)
    assert zoo.render(when) == expected.replace(", 'CEST'", "")
