"""A frame's arguments and locals (`--locals`) on synthetic frames of every layout:
which names are arguments, what cells hold, unbound and hidden slots, names that
cannot be read or are long.

The recorded dumps check the variables of real frames against the target's own
names; these are the cases their frames do not have: damaged name tuples, names past
a few hundred characters, empty cells, tagged slots, hidden slots.
"""
from __future__ import annotations

import pytest

from pystack.cpython.objects import Objects
from pystack.cpython.memory import Memory
from pystack.cpython.variables import CO_FAST_CELL, CO_FAST_HIDDEN, CO_VARARGS, \
    frame_variables
from unit.test_frames import VERSIONS, Chains

BAD = 0xBAD0000


class Frame:
    """A frame of `chains` running a code object whose slots are `slots`: (name,
    kind, value address or 0), kind one of "", "cell" (a cell holding the value),
    "hidden" (3.13+ comprehension slots, 3.11+ layouts only)."""

    def __init__(self, chains: Chains, slots: list, argcount: int = 0,
                 kwonly: int = 0, flags: int = 0, bad_name: int = -1) -> None:
        heap, lay = chains.heap, chains.layout
        c = lay.code
        self.chains = chains
        code = chains.code("f")
        heap.put(code + c.argcount, argcount.to_bytes(4, "little"))
        if c.kwonlyargcount is not None:
            heap.put(code + c.kwonlyargcount, kwonly.to_bytes(4, "little"))
        heap.put(code + c.flags, flags.to_bytes(4, "little"))
        names = [BAD if i == bad_name else chains.text(name)
                 for i, (name, _, _) in enumerate(slots)]
        values = []
        for _, kind, value in slots:
            if kind == "cell" and value is not None:
                cell = heap.new("cell", 32)
                heap.put_ptr(cell + lay.objects.cell_ref, value)
                value = cell
            values.append(value or 0)
        if lay.has_interpreter_frames:
            heap.put_ptr(code + c.localsplusnames, heap.tuple(names))
            kinds = bytes(CO_FAST_CELL if kind == "cell" else CO_FAST_HIDDEN
                          if kind == "hidden" else 0 for _, kind, _ in slots)
            heap.put_ptr(code + c.localspluskinds, heap.bytes(kinds))
        else:  # varnames, then cellvars (each cell's slot comes after every varname)
            plain = [n for n, (_, kind, _) in zip(names, slots) if kind != "cell"]
            cells = [n for n, (_, kind, _) in zip(names, slots) if kind == "cell"]
            assert [kind == "cell" for _, kind, _ in slots] == \
                [False] * len(plain) + [True] * len(cells), "cells last before 3.11"
            heap.put_ptr(code + c.varnames, heap.tuple(plain))
            heap.put_ptr(code + c.cellvars, heap.tuple(cells))
            heap.put_ptr(code + c.freevars, heap.tuple([]))
        self.address = chains.frame(code)
        base = self.address + (lay.iframe.localsplus if lay.has_interpreter_frames
                               else lay.frame_object.f_localsplus)
        tag = 1 if lay.tagged_code_pointer else 0  # 3.14+: _PyStackRef tag bits
        for i, value in enumerate(values):
            heap.put_ptr(base + 8 * i, value | tag if value else 0)
        self.code = code

    def variables(self, max_len: int = 80) -> tuple:
        objects = Objects(Memory(self.chains.heap.target), self.chains.layout)
        return frame_variables(objects, self.address, self.code, max_len=max_len)


@pytest.fixture(params=VERSIONS, ids=lambda v: "%d.%d" % v)
def chains(request) -> Chains:
    return Chains(request.param)


def test_arguments_come_first_then_locals_and_unbound_ones_are_left_out(chains: Chains):
    v = chains.heap.value
    kwonly = 0 if chains.layout.code.kwonlyargcount is None else 1
    slots = [("a", "", v(1)), ("k", "", v("two")), ("rest", "", v((3,))),
             ("x", "", v([4])), ("unbound", "", 0), ("y", "", None)]
    frame = Frame(chains, slots, argcount=2 - kwonly, kwonly=kwonly, flags=CO_VARARGS)
    text = "u'two'" if chains.heap.py2 else "'two'"
    assert frame.variables() == ({"a": "1", "k": text, "rest": "(3,)"}, {"x": "[4]"})


def test_cells_show_what_they_hold_and_empty_ones_are_left_out(chains: Chains):
    v = chains.heap.value
    slots = [("a", "", v(1)), ("b", "", v(2)), ("shared", "cell", v(3)),
             ("empty", "cell", None)]
    assert Frame(chains, slots, argcount=1).variables() == ({"a": "1"}, {"b": "2", "shared": "3"})


def test_an_argument_a_closure_captured_is_shown_from_its_cell(chains: Chains):
    """Up to 3.10 such an argument is named twice, its varnames slot left empty and
    its value in the cell slot; 3.11+ names it once, as a cell."""
    v = chains.heap.value
    if chains.layout.has_interpreter_frames:
        slots = [("a", "cell", v(5)), ("b", "", v(6))]
    else:
        slots = [("a", "", 0), ("b", "", v(6)), ("a", "cell", v(5))]
    assert Frame(chains, slots, argcount=1).variables() == ({"a": "5"}, {"b": "6"})


def test_a_name_that_cannot_be_read_is_question_marks(chains: Chains):
    v = chains.heap.value
    frame = Frame(chains, [("a", "", v(1)), ("b", "", v(2))], argcount=1, bad_name=1)
    assert frame.variables() == ({"a": "1"}, {"???": "2"})


def test_long_names_are_whole(chains: Chains):
    name = "n" * 300
    assert Frame(chains, [(name, "", chains.heap.value(1))]).variables() == ({}, {name: "1"})


@pytest.mark.parametrize("version", [(3, 13), (3, 14), (3, 15)], ids=lambda v: "%d.%d" % v)
def test_hidden_slots_are_not_shown(version):
    """3.13+ inlined comprehensions keep the outer variables they shadow hidden."""
    chains = Chains(version)
    v = chains.heap.value
    slots = [("x", "", v(1)), ("y", "hidden", v(2)), ("z", "", v(3))]
    assert Frame(chains, slots).variables() == ({}, {"x": "1", "z": "3"})


def test_values_are_cut_at_the_length_asked(chains: Chains):
    v = chains.heap.value
    frame = Frame(chains, [("s", "", v(list(range(50))))])
    assert frame.variables(max_len=20) == ({}, {"s": "[0, 1, 2, 3, 4, ...]"})
