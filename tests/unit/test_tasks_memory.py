"""The asyncio task reader on made-up (and broken) memory: every walk is bounded."""
from __future__ import annotations

import struct

import pytest

from pystack.cpython import tasks as tasks_module
from pystack.cpython.frames import FrameReader
from pystack.cpython.layouts import layout_for
from pystack.cpython.layouts.tasks import TASKS_LAYOUTS
from pystack.cpython.tasks import TaskReader
from unit.test_reprs import Heap


def reader(heap: Heap, version=(3, 14)) -> TaskReader:
    objects = heap.objects()
    return TaskReader(objects, FrameReader(objects.mem, objects, heap.layout),
                      TASKS_LAYOUTS[version])


def c_task(heap: Heap, name: str, version=(3, 14)) -> int:
    t = TASKS_LAYOUTS[version]
    task = heap.new("_asyncio.Task", 200)
    heap.put(task + t.fut_state, struct.pack("<i", 0))
    heap.put_ptr(task + t.task_name, heap.str(name))
    return task


def test_a_list_that_never_comes_back_to_its_head_ends(monkeypatch):
    monkeypatch.setattr(tasks_module, "MAX_TASKS", 50)
    heap = Heap(layout_for((3, 14)))
    t = TASKS_LAYOUTS[(3, 14)]
    head = heap.alloc(16)
    first, second = c_task(heap, "a"), c_task(heap, "b")
    heap.put_ptr(head, first + t.task_node)
    heap.put_ptr(first + t.task_node, second + t.task_node)
    heap.put_ptr(second + t.task_node, first + t.task_node)  # a circle without the head
    r = reader(heap)
    assert len(list(r._linked_tasks(head))) == 51
    modules = heap.new("dict", 64)  # an empty sys.modules: no Python-level sets
    heap.put_ptr(modules + heap.o.dict_keys, 0)
    found = list(r.registered(0, [head - t.tstate_tasks_head], heap.alloc(16)))
    assert found == [first, second]


def test_the_interpreter_list_is_the_candidate_that_is_well_formed():
    heap = Heap(layout_for((3, 14)))
    t = TASKS_LAYOUTS[(3, 14)]
    interp = heap.alloc(max(t.interp_tasks_head) + 16)
    release, debug = t.interp_tasks_head
    heap.put_ptr(interp + release, 0x1234)  # not a list there
    heap.put_ptr(interp + debug, interp + debug)  # an empty list: its head twice
    heap.put_ptr(interp + debug + 8, interp + debug)
    assert reader(heap)._interpreter_list(interp) == interp + debug
    heap.put_ptr(interp + debug, 0)
    assert reader(heap)._interpreter_list(interp) is None


def test_an_await_chain_that_loops_ends():
    heap = Heap(layout_for((3, 12)))
    step = heap.new("async_generator_asend", 32)
    heap.put_ptr(step + 16, step)  # an asend object whose generator is itself
    chain = reader(heap, (3, 12)).chain(step)
    assert chain.frames == [] and chain.awaited == 0


def test_types_are_told_by_their_base_chain_even_a_looping_one():
    heap = Heap(layout_for((3, 12)))
    sub = heap.type("MyTask", base="_asyncio.Task", heap=True)
    task = heap.new("", 200, tp=sub)
    r = reader(heap, (3, 12))
    assert r.kind(task) == "ctask"
    looping = heap.type("Loop", heap=True)
    heap.put_ptr(looping + heap.o.tp_base, looping)
    assert r.kind(heap.new("", 32, tp=looping)) == ""


@pytest.mark.parametrize("version", sorted(TASKS_LAYOUTS))
def test_names_of_c_tasks(version):
    heap = Heap(layout_for(version))
    named, counter = c_task(heap, "worker", version), heap.long(17)
    r = reader(heap, version)  # after the heap is built: its reads are cached
    state, loop, coro, waiter, name, exception = r.fields(named)
    assert (state, coro, waiter) == ("pending", 0, 0)
    assert r.name_of(name, named) == "worker"
    assert r.name_of(counter, named) == "Task-17"  # 3.12+: the counter alone
