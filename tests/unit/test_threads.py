"""The thread list's own logic, on made-up inputs: following a linked list of
interpreters or thread states through memory that may be damaged, ordering the thread
states of one OS thread, and linking frames.

The recorded dumps (test_recorded.py) run this code on real targets, but every one of
them has a single interpreter, intact lists and one thread state per OS thread; the
orders and the damage below are what subinterpreters, threads called back from C into
another interpreter, and corrupted cores produce.
"""
from __future__ import annotations

import io
import struct

import pytest

from pystack import log
from pystack.cpython.frames import RawFrame
from pystack.cpython.memory import Memory
from pystack.cpython.threads import (THREAD_STATE_SPAN, _bounded_chain, in_call_order,
                                     link_frames, outermost_entry_on_c_stack,
                                     version_in_text)
from pystack.errors import MemoryReadError
from pystack.target.base import Target
from pystack.types import PyThread

NEXT = 0x18  # where each node keeps its link


class Nodes(Target):
    """A linked list in memory: node address -> the address its link holds; any other
    read fails as unmapped memory does."""

    def __init__(self, links: dict) -> None:
        self.links = links

    def read(self, address: int, size: int) -> bytes:
        node = address - NEXT
        if size == 8 and node in self.links:
            return struct.pack("<Q", self.links[node])
        raise MemoryReadError(address, size, "unmapped")

    def mappings(self) -> list:
        return []


@pytest.fixture
def said():
    """Every diagnostic written while the test runs, -v's included."""
    stream = io.StringIO()
    log.configure(1, stream)
    yield stream
    log.configure(0, None)


def chain(links: dict, first: int, limit: int = 10, frozen: bool = True) -> list:
    mem = Memory(Nodes(links), cache=frozen)
    return list(_bounded_chain(mem, first, NEXT, limit, "thread state"))


def test_a_list_ends_at_a_null_link(said):
    assert chain({0x1000: 0x2000, 0x2000: 0x3000, 0x3000: 0}, 0x1000) == \
        [0x1000, 0x2000, 0x3000]
    assert said.getvalue() == ""
    assert chain({}, 0) == []


def test_a_list_that_loops_stops_before_repeating_and_says_where(said):
    assert chain({0x1000: 0x2000, 0x2000: 0x3000, 0x3000: 0x2000}, 0x1000) == \
        [0x1000, 0x2000, 0x3000]
    assert said.getvalue() == "WARNING: the thread state list loops back to 0x2000\n"


def test_a_node_linking_to_itself_is_listed_once(said):
    assert chain({0x1000: 0x1000}, 0x1000) == [0x1000]
    assert said.getvalue() == "WARNING: the thread state list loops back to 0x1000\n"


def test_a_list_longer_than_its_limit_is_cut_at_the_limit(said):
    links = {0x1000 * i: 0x1000 * (i + 1) for i in range(1, 8)}
    assert chain(links, 0x1000, limit=3) == [0x1000, 0x2000, 0x3000]
    assert said.getvalue() == \
        "WARNING: more than 3 entries in the thread state list: ignoring the rest\n"
    said.truncate(0)
    said.seek(0)
    # exactly the limit, then the end: nothing was left out
    assert chain({0x1000: 0x2000, 0x2000: 0x3000, 0x3000: 0}, 0x1000, limit=3) == \
        [0x1000, 0x2000, 0x3000]
    assert said.getvalue() == ""


def test_a_broken_link_in_frozen_memory_ends_the_list_with_a_warning(said):
    assert chain({0x1000: 0x2000}, 0x1000) == [0x1000, 0x2000]
    assert said.getvalue() == "WARNING: the thread state list is corrupted after 0x2000: " \
        f"{MemoryReadError(0x2000 + NEXT, 8, 'unmapped')}\n"


def test_a_broken_link_in_running_memory_is_raised_to_be_read_again(said):
    with pytest.raises(MemoryReadError):
        chain({0x1000: 0x2000}, 0x1000, frozen=False)
    assert said.getvalue() == ""


def test_damage_in_running_memory_is_only_a_diagnostic(said):
    log.configure(0, said)  # the default verbosity: warnings only
    assert chain({0x1000: 0x1000}, 0x1000, frozen=False) == [0x1000]
    assert said.getvalue() == ""
    log.configure(1, said)
    assert chain({0x1000: 0x1000}, 0x1000, frozen=False) == [0x1000]
    assert said.getvalue() == "INFO: the thread state list loops back to 0x1000\n"


# -- threads of one OS thread in call order -------------------------------------------
def thread(tid: int, frames: bool = True, name: str = "") -> PyThread:
    frame = object() if frames else None
    return PyThread(tid=tid, frame=frame, native_frames=[], holds_the_gil=0,  # type: ignore
                    is_gc_collecting=0, python_version=(3, 12), name=name)


def names(threads: list) -> list:
    return [t.name for t in threads]


def test_os_threads_keep_the_order_first_seen():
    a, b, c = thread(7, name="a"), thread(5, name="b"), thread(9, name="c")
    assert names(in_call_order([(a, 0, None), (b, 0, None), (c, 0, None)])) == \
        ["a", "b", "c"]


def test_states_of_one_os_thread_go_outermost_entry_first():
    """The stack grows down: the entry frame highest on it was entered first."""
    inner = thread(7, name="inner")   # a subinterpreter called from `outer`
    outer = thread(7, name="outer")
    other = thread(8, name="other")
    entries = [(inner, 0, 0x7000_1000), (other, 0, 0x5000), (outer, 1, 0x7000_2000)]
    assert names(in_call_order(entries)) == ["outer", "inner", "other"]


def test_without_every_entry_address_creation_order_stands_in():
    first = thread(7, name="main interpreter")
    second = thread(7, name="subinterpreter")
    # entry addresses that would say the opposite, but one of them is unknown
    entries = [(second, 1, 0x9000), (first, 0, None)]
    assert names(in_call_order(entries)) == ["main interpreter", "subinterpreter"]
    # ranks alone, listed the other way round
    entries = [(second, 1, None), (first, 0, None)]
    assert names(in_call_order(entries)) == ["main interpreter", "subinterpreter"]


def test_states_without_frames_go_first_and_need_no_entry_address():
    idle = thread(7, frames=False, name="idle")
    busy = thread(7, name="busy")
    deeper = thread(7, name="deeper")
    entries = [(busy, 0, 0x8000), (idle, 2, None), (deeper, 1, 0x7000)]
    assert names(in_call_order(entries)) == ["idle", "busy", "deeper"]


def test_without_entry_addresses_states_without_frames_still_go_first():
    idle = thread(7, frames=False, name="idle")
    busy = thread(7, name="busy")
    assert names(in_call_order([(busy, 0, None), (idle, 1, None)])) == ["idle", "busy"]


def test_terminated_states_are_never_grouped_together():
    """A thread state whose OS thread ended has no tid: each stays where it was."""
    a, b = thread(0, name="a"), thread(0, name="b")
    live = thread(3, name="live")
    entries = [(a, 5, 0x1000), (live, 0, None), (b, 1, 0x9000)]
    assert names(in_call_order(entries)) == ["a", "live", "b"]


# -- entry frames on the C stack and linking -------------------------------------------
def raw(address: int, shim: bool = False, corrupted: bool = False) -> RawFrame:
    return RawFrame(address=address, code=None, is_entry=shim, is_shim=shim,
                    corrupted=corrupted)


def test_the_outermost_entry_is_the_highest_shim_on_the_c_stack():
    tstate = 0x10_0000
    frames = [raw(0x5000), raw(0x7F00_0100, shim=True), raw(0x6000),
              raw(0x7F00_0900, shim=True), raw(tstate + 0x40, shim=True)]
    # (the shim inside the thread state, 3.15's base frame, is not on the C stack)
    assert outermost_entry_on_c_stack(frames, tstate) == 0x7F00_0900
    assert outermost_entry_on_c_stack([raw(tstate, shim=True)], tstate) is None
    assert outermost_entry_on_c_stack([raw(tstate + THREAD_STATE_SPAN, shim=True)],
                                      tstate) == tstate + THREAD_STATE_SPAN
    assert outermost_entry_on_c_stack([raw(tstate - 8, shim=True)], tstate) == tstate - 8
    assert outermost_entry_on_c_stack([raw(0x5000)], tstate) is None
    assert outermost_entry_on_c_stack([], tstate) is None


def test_frames_are_linked_outermost_first_with_their_variables():
    frames = [raw(0x100), raw(0x200, shim=True), raw(0x300, corrupted=True)]
    variables = {0x100: ({"a": "1"}, {"b": "2"}), 0x300: ({}, {"c": "3"})}
    outer = link_frames(frames, variables)
    chain_ = []
    frame = outer
    while frame is not None:
        chain_.append((frame.address, frame.arguments, frame.locals, frame.is_shim,
                       frame.is_entry, frame.corrupted_at))
        assert frame.next is None or frame.next.prev is frame
        frame = frame.next
    assert outer.prev is None
    assert chain_ == [(0x300, {}, {"c": "3"}, False, False, 0x300),
                      (0x200, {}, {}, True, True, None),
                      (0x100, {"a": "1"}, {"b": "2"}, False, False, None)]
    assert link_frames([]) is None
    assert link_frames([raw(0x100)]).arguments == {}


# -- sys.version ------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected,found", [
    ("3.12.1 (main, Jan  2 2024, 10:00:00) [GCC 12.2.0]", (3, 12), (3, 12, 1)),
    ("2.7.18 (default, Apr 20 2020, 00:00:00) \n[GCC 9.3.0]", (2, 7), (2, 7, 18)),
    ("3.13.0rc2+ (heads/3.13:abc, Sep 1 2024)", (3, 13), (3, 13, 0)),
    ("3.15.0a1 experimental", (3, 15), (3, 15, 0)),
    ("3.14.10", (3, 14), (3, 14, 10)),
    ("3.11.x (odd)", (3, 11), (3, 11, None)),
    ("3.12.1 (main)", (3, 11), None),          # another interpreter's text
    ("3.12 (main)", (3, 12), None),            # no micro part at all
    ("3.x.1 (main)", (3, 0), None),
    ("x.12.1 (main)", (3, 12), None),
    ("", (3, 12), None),
])
def test_the_version_at_the_start_of_sys_version(text, expected, found):
    assert version_in_text(text, expected) == found
