"""The frame walk on synthetic chains of every layout: what ends a walk (a NULL link,
a loop, a link or code object that cannot be read, the per-thread and per-dump
limits), which frames are shims and entries, and the code-object cache.

The recorded dumps (test_recorded.py) walk real chains, which are never damaged
except in the four ways of test_corruption and never near a limit; here each way a
walk can end is laid out on purpose.
"""
from __future__ import annotations

import io

import pytest

from pystack import log
from pystack.cpython import frames as frames_module
from pystack.cpython.frames import FrameReader
from pystack.cpython.layouts import layout_for
from pystack.cpython.memory import Memory
from pystack.cpython.objects import Objects
from unit.test_reprs import Heap

VERSIONS = [(2, 7), (3, 6), (3, 10), (3, 11), (3, 12), (3, 13), (3, 14), (3, 15)]
BAD = 0xBAD0000  # unmapped


class Chains:
    """Code objects, frames and thread states of one version laid out in a `Heap`."""

    def __init__(self, version: tuple) -> None:
        self.heap = Heap(layout_for(version))
        self.layout = self.heap.layout
        self.version = version

    def text(self, value: str) -> int:
        heap = self.heap
        return heap.bytes(value.encode()) if heap.py2 else heap.str(value)

    def code(self, name: str, filename: str = "app.py", firstlineno: int = 10,
             qualname: str = "") -> int:
        c = self.layout.code
        heap = self.heap
        address = heap.new("code", 0x200)
        name_object = self.text(name)
        heap.put_ptr(address + c.filename, self.text(filename))
        heap.put_ptr(address + c.name, name_object)
        if c.qualname is not None:
            heap.put_ptr(address + c.qualname, self.text(qualname) if qualname else name_object)
        heap.put(address + c.firstlineno, firstlineno.to_bytes(4, "little"))
        heap.put_ptr(address + c.linetable, heap.bytes(b""))  # every line: firstlineno
        return address

    def frame(self, code: int, back: int = 0, owner: int = 0, entry: bool = False) -> int:
        """A frame running `code` at its first instruction, called from `back`."""
        lay, heap = self.layout, self.heap
        if not lay.has_interpreter_frames:
            f = lay.frame_object
            address = heap.new("frame", 0x100)
            heap.put_ptr(address + f.f_code, code)
            heap.put_ptr(address + f.f_back, back)
            return address
        f = lay.iframe
        address = heap.alloc(0x100)
        tag = 1 if lay.tagged_code_pointer else 0  # 3.14+: a _PyStackRef's tag bit
        heap.put_ptr(address + f.code, code | tag if code else 0)
        heap.put_ptr(address + f.instr_ptr, code + lay.code.code_adaptive)
        heap.put_ptr(address + f.previous, back)
        heap.put(address + f.owner, bytes([owner]))
        if f.is_entry is not None:
            heap.put(address + f.is_entry, bytes([int(entry)]))
        return address

    def shim(self, back: int) -> int:
        c = self.layout.constants
        owner = c.frame_owned_by_cstack if c.frame_owned_by_cstack is not None \
            else c.frame_owned_by_interpreter
        return self.frame(self.code("<shim>"), back, owner=owner)

    def tstate(self, innermost: int) -> int:
        t, heap = self.layout.thread, self.heap
        address = heap.alloc(0x400)
        if t.frame is not None and not self.layout.has_interpreter_frames:
            heap.put_ptr(address + t.frame, innermost)
        elif t.current_frame is not None:
            heap.put_ptr(address + t.current_frame, innermost)
        else:
            cframe = heap.alloc(0x40)
            heap.put_ptr(cframe + self.layout.cframe.current_frame, innermost)
            heap.put_ptr(address + t.cframe, cframe)
        return address

    def chain(self, names: list) -> list:
        """Frames running functions `names`, outermost first: their addresses."""
        back, made = 0, []
        for name in names:
            back = self.frame(self.code(name, firstlineno=10 + len(made)), back)
            made.append(back)
        return made

    def reader(self) -> FrameReader:
        objects = Objects(Memory(self.heap.target), self.layout)
        return FrameReader(objects.mem, objects, self.layout)

    def walk(self, innermost: int, reader=None) -> list:
        """The walk from a thread state whose innermost frame is `innermost` (made
        first: a reader's memory keeps the pages it has seen)."""
        tstate = self.tstate(innermost)
        return (reader or self.reader()).walk(tstate)


def shown(raw: list) -> list:
    """Each frame as (function, line, entry, shim, corrupted)."""
    return [(f.code.scope if f.code else None, f.code.location.lineno if f.code else None,
             f.is_entry, f.is_shim, f.corrupted) for f in raw]


@pytest.fixture(params=VERSIONS, ids=lambda v: "%d.%d" % v)
def chains(request) -> Chains:
    return Chains(request.param)


@pytest.fixture
def said():
    stream = io.StringIO()
    log.configure(0, stream)
    yield stream
    log.configure(0, None)


def entry(chains: Chains) -> bool:
    """Whether a frame entered from C (outermost here) is known as an entry: every
    frame object is one (before 3.11, each has its own eval loop); 3.11 marks it in
    the frame; 3.12+ needs the shim below it, which these chains do not have."""
    return chains.version < (3, 11)


def test_a_chain_is_walked_innermost_first_to_its_null_link(chains: Chains, said) -> None:
    made = chains.chain(["main", "serve", "handle"])
    walked = chains.walk(made[-1])
    assert shown(walked) == [("handle", 12, entry(chains), False, False),
                             ("serve", 11, entry(chains), False, False),
                             ("main", 10, entry(chains), False, False)]
    assert [f.address for f in walked] == made[::-1]
    assert said.getvalue() == ""
    assert chains.walk(0) == []


def test_a_loop_ends_the_walk_with_a_corrupted_frame(chains: Chains, said) -> None:
    made = chains.chain(["main", "serve", "handle"])
    back = chains.layout.frame_object.f_back if not chains.layout.has_interpreter_frames \
        else chains.layout.iframe.previous
    chains.heap.put_ptr(made[0] + back, made[1])  # main's caller is serve
    walked = chains.walk(made[-1])
    assert shown(walked)[:3] == [(n, 10 + i, entry(chains), False, False)
                                 for i, n in [(2, "handle"), (1, "serve"), (0, "main")]]
    assert shown(walked)[3:] == [(None, None, entry(chains), False, True)]
    assert walked[3].address == made[1]


def test_an_unreadable_link_or_code_ends_the_walk_at_that_frame(chains: Chains) -> None:
    made = chains.chain(["main", "serve"])
    back = chains.layout.frame_object.f_back if not chains.layout.has_interpreter_frames \
        else chains.layout.iframe.previous
    chains.heap.put_ptr(made[0] + back, BAD)
    assert shown(chains.walk(made[-1])) == [
        ("serve", 11, entry(chains), False, False), ("main", 10, entry(chains), False, False),
        (None, None, entry(chains), False, True)]
    code_field = chains.layout.frame_object.f_code \
        if not chains.layout.has_interpreter_frames else chains.layout.iframe.code
    chains.heap.put_ptr(made[0] + code_field, BAD)
    walked = chains.walk(made[-1])
    assert shown(walked) == [("serve", 11, entry(chains), False, False),
                             (None, None, entry(chains), False, True)]
    assert walked[1].address == made[0]


def test_a_thread_state_that_cannot_be_read_is_one_corrupted_frame(chains: Chains) -> None:
    walked = chains.reader().walk(BAD)
    assert shown(walked) == [(None, None, False, False, True)]
    assert walked[0].address == BAD


def test_a_code_pointer_to_anything_but_code_is_corrupted(chains: Chains) -> None:
    made = chains.chain(["main"])
    not_code = chains.heap.new("dict", 0x200)
    code_field = chains.layout.frame_object.f_code \
        if not chains.layout.has_interpreter_frames else chains.layout.iframe.code
    chains.heap.put_ptr(made[0] + code_field, not_code)
    assert shown(chains.walk(made[0])) == [(None, None, entry(chains), False, True)]


def test_a_file_name_with_a_nul_is_no_code_object(chains: Chains) -> None:
    frame = chains.frame(chains.code("main", filename="app\0.py"))
    assert shown(chains.walk(frame)) == [(None, None, entry(chains), False, True)]


def test_names_and_qualified_names(chains: Chains) -> None:
    code = chains.code("run", filename="/srv/app.py", firstlineno=42, qualname="Job.run")
    walked = chains.walk(chains.frame(code))
    info = walked[0].code
    assert (info.filename, info.scope, info.location.lineno, info.location.end_lineno) == \
        ("/srv/app.py", "run", 42, 42)
    assert info.qualname == ("Job.run" if chains.layout.code.qualname is not None else None)
    assert walked[0].code_address == code
    plain = chains.walk(chains.frame(chains.code("solo")))[0].code
    assert plain.qualname == ("solo" if chains.layout.code.qualname is not None else None)


def test_more_frames_than_a_thread_may_have_keeps_the_newest(chains: Chains, said,
                                                            monkeypatch) -> None:
    monkeypatch.setattr(frames_module, "MAX_FRAMES", 3)
    made = chains.chain(["a", "b", "c", "d", "e"])
    tstate = chains.tstate(made[-1])
    walked = chains.reader().walk(tstate)
    assert [f.code.scope for f in walked] == ["e", "d", "c"]
    assert said.getvalue() == \
        f"WARNING: thread state 0x{tstate:x} has more than 3 frames: showing the newest\n"
    said.truncate(0)
    said.seek(0)
    made = chains.chain(["a", "b", "c"])  # exactly the limit: no warning
    assert len(chains.walk(made[-1])) == 3
    assert said.getvalue() == ""


def test_the_frames_of_a_whole_dump_are_bounded_together(chains: Chains, said,
                                                        monkeypatch) -> None:
    monkeypatch.setattr(frames_module, "MAX_TOTAL_FRAMES", 5)
    first = chains.tstate(chains.chain(["a", "b", "c"])[-1])
    second = chains.tstate(chains.chain(["d", "e", "f"])[-1])
    reader = chains.reader()
    assert shown(reader.walk(first)) == [
        (n, 10 + i, entry(chains), False, False) for i, n in [(2, "c"), (1, "b"), (0, "a")]]
    walked = reader.walk(second)
    assert shown(walked) == [("f", 12, entry(chains), False, False),
                             ("e", 11, entry(chains), False, False),
                             (None, None, entry(chains), False, True)]
    assert said.getvalue() == "WARNING: more than 5 frames in all: the rest are not read\n"
    assert shown(reader.walk(second)) == [(None, None, entry(chains), False, True)]
    assert said.getvalue().count("WARNING") == 1  # said once


@pytest.mark.parametrize("version", [(3, 11)], ids=["3.11"])
def test_python_3_11_marks_entries_in_the_frame(version) -> None:
    chains = Chains(version)
    outer = chains.frame(chains.code("main"), entry=True)
    inner = chains.frame(chains.code("callback"), outer, entry=True)
    innermost = chains.frame(chains.code("helper"), inner)
    assert shown(chains.walk(innermost)) == [("helper", 10, False, False, False),
                                             ("callback", 10, True, False, False),
                                             ("main", 10, True, False, False)]


@pytest.mark.parametrize("version", [(3, 12), (3, 13), (3, 14), (3, 15)],
                         ids=lambda v: "%d.%d" % v)
def test_shims_mark_the_frame_above_them_as_an_entry(version) -> None:
    """3.12+: the eval loop pushes a shim frame before the first frame it runs."""
    chains = Chains(version)
    outer = chains.frame(chains.code("main"), chains.shim(0))
    inner = chains.frame(chains.code("callback"), chains.shim(outer))
    innermost = chains.frame(chains.code("helper"), inner)
    assert shown(chains.walk(innermost)) == [
        ("helper", 10, False, False, False), ("callback", 10, True, False, False),
        (None, None, False, True, False), ("main", 10, True, False, False),
        (None, None, False, True, False)]


@pytest.mark.parametrize("version", [(3, 13), (3, 14), (3, 15)], ids=lambda v: "%d.%d" % v)
def test_the_init_cleanup_frame_is_never_shown(version) -> None:
    chains = Chains(version)
    caller = chains.frame(chains.code("main"))
    cleanup = chains.frame(chains.code("__init__", filename="__init__"), caller)
    init = chains.frame(chains.code("__init__", filename="app.py"), cleanup)
    assert shown(chains.walk(init)) == [("__init__", 10, False, False, False),
                                        ("main", 10, False, False, False)]


def test_code_objects_are_read_once(chains: Chains) -> None:
    code = chains.code("main")
    reader = chains.reader()
    first = reader.code_info(code)
    chains.heap.put_ptr(code + chains.layout.code.name, chains.text("other"))
    reader.mem._cache.clear()  # (the memory itself would show the change)
    assert reader.code_info(code) is first
    assert chains.reader().code_info(code).scope == "other"


def test_the_code_cache_is_emptied_past_its_size(chains: Chains, monkeypatch) -> None:
    monkeypatch.setattr(frames_module, "MAX_CODE_CACHE_BYTES", 12)
    reader = chains.reader()
    one, two = chains.code("aaaa", filename="b.py"), chains.code("cccc", filename="d.py")
    reader.code_info(one)
    assert list(reader._codes) == [one]
    reader.code_info(two)  # 8 + 8 (+ the qualnames' 4 + 4 on 3.11+) bytes: past 12
    assert list(reader._codes) == [two]
    reader.code_info(one)
    assert list(reader._codes) == [two, one]
