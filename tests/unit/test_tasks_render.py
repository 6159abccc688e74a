"""The order, grouping and deadlocks of --tasks, on made-up tasks."""
from __future__ import annotations

from pystack.cpython.tasks import cycles
from pystack.render.sources import SourceLines
from pystack.render.tasks import grouped, in_tree_order, loop_line, task_lines, tasks_section
from pystack.render.text import TextRenderer
from pystack.types import (AsyncTask, LocationInfo, ProcessDump, PyCodeObject, PyFrame,
                           PyThread)


def code(line: int, name: str = "work") -> PyCodeObject:
    return PyCodeObject("/app/x.py", name, LocationInfo(line, line, 0, 0), None)


def task(id: int, name: str, *, by=(), frames=None, state="pending", awaits="Future",
         running=False, thread=7, loop=1) -> AsyncTask:
    return AsyncTask(id=id, name=name, state=state, running=running, thread=thread, loop=loop,
                     frames=frames if frames is not None else [code(10)], awaits=awaits,
                     awaited_by=list(by))


def renderer() -> TextRenderer:
    return TextRenderer(SourceLines(lambda path: "/nonexistent" + path))


def test_a_waiter_comes_before_what_it_awaits_depth_first():
    tasks = [task(3, "leaf", by=[2]), task(2, "mid", by=[1]), task(1, "root"),
             task(4, "other"), task(5, "sibling", by=[1])]
    order = [(t.name, depth) for t, depth in in_tree_order(tasks)]
    assert order == [("root", 0), ("mid", 1), ("leaf", 2), ("sibling", 1), ("other", 0)]


def test_the_running_task_comes_first_and_finished_ones_last():
    tasks = [task(1, "done", state="done"), task(2, "idle"), task(3, "main", running=True),
             task(4, "gone", state="cancelled"), task(5, "child", by=[3])]
    assert [t.name for t, _ in in_tree_order(tasks)] == ["main", "child", "idle", "done",
                                                        "gone"]


def test_tasks_only_cycles_lead_to_are_listed_once():
    tasks = [task(1, "a", by=[2]), task(2, "b", by=[1]), task(3, "c", by=[1])]
    order = [t.name for t, _ in in_tree_order(tasks)]
    assert sorted(order) == ["a", "b", "c"] and len(order) == 3


def test_cycles_are_found_once_in_awaiting_order():
    tasks = {1: task(1, "a", by=[3]), 2: task(2, "b", by=[1]), 3: task(3, "c", by=[2]),
             4: task(4, "d", by=[1]), 5: task(5, "e", by=[6]), 6: task(6, "f", by=[5])}
    # a awaits b (b is awaited by a), b awaits c, c awaits a
    assert cycles(tasks) == [[1, 2, 3], [5, 6]]
    assert cycles({1: task(1, "a"), 2: task(2, "b", by=[1])}) == []


def test_like_tasks_group_and_different_ones_do_not():
    same = [task(i, f"t{i}") for i in range(1, 8)]
    other_line = task(20, "x", frames=[code(11)])
    other_waiter = task(21, "y", by=[99])
    awaiting_tasks = [task(30, "p", awaits="Task 'q'"), task(31, "r", awaits="Task 'q'")]
    groups = grouped(in_tree_order(same + [other_line, other_waiter] + awaiting_tasks))
    assert [len(g) for g in groups] == [7, 1, 1, 1, 1]
    lines = list(task_lines(same, renderer(), {}))
    assert lines[1] == "7 tasks like this: 't1', 't2', 't3', 't4', 't5' and 2 more [pending]"
    assert lines[2] == '    (Python) File "/app/x.py", line 10, in work'
    assert lines[-1] == "    awaiting Future"


def test_a_task_says_who_awaits_it_its_state_and_exception():
    tasks = [task(1, "main", running=True, awaits=None), task(2, "child", by=[1]),
             task(3, "bad", state="done", frames=[], awaits=None)]
    tasks[2].exception = "ValueError('boom')"
    lines = list(task_lines(tasks, renderer(), {1: "main", 2: "child", 3: "bad"}))
    assert "Task 'main' [pending, running]" in lines
    assert "    (running: the rest of its stack is in its thread's traceback)" in lines
    assert "Task 'child' [pending] awaited by 'main'" in lines
    assert lines[lines.index("Task 'bad' [done]") + 1] == "    exception: ValueError('boom')"


def test_section_names_loops_threads_and_deadlocks():
    thread = PyThread(tid=7, frame=None, native_frames=[], holds_the_gil=0,
                      is_gc_collecting=0, python_version=(3, 12), name="MainThread")
    dump = ProcessDump(pid=1, executable=None, python_version=(3, 12, 1), threads=[thread],
                       tasks=[task(1, "a", by=[2]), task(2, "b", by=[1]),
                              task(3, "lost", loop=2, thread=None)])
    lines = tasks_section(dump, renderer())
    assert lines[0] == "Asyncio tasks of the event loop of thread 7 (MainThread): 2 pending"
    assert "Asyncio tasks of an event loop that no thread is running (0x2): 1 pending" in lines
    assert lines[-1] == "Deadlock: tasks await each other: 'a' -> 'b' -> 'a'"
    empty = ProcessDump(pid=1, executable=None, python_version=None, threads=[], tasks=[])
    assert tasks_section(empty, renderer()) == ["No asyncio tasks."]
    unread = ProcessDump(pid=1, executable=None, python_version=None, threads=[])
    assert tasks_section(unread, renderer()) == []


def test_loop_line():
    assert loop_line(1, None, False) == \
        "    (asyncio event loop: 1 pending task; pystack --tasks lists them)"
    assert loop_line(12345, task(1, "main"), True) == \
        "    (asyncio event loop: 12,345 pending tasks, running task 'main'; listed below)"


def test_the_whole_section_exactly_in_colour():
    """Every line, blank lines and colours included, of a section with a finished
    task, a group of exactly NAMES_SHOWN tasks, a waiter from another loop and a
    deadlock."""
    thread = PyThread(tid=7, frame=None, native_frames=[], holds_the_gil=0,
                      is_gc_collecting=0, python_version=(3, 12), name="MainThread")
    five = [task(10 + i, f"w{i}", by=[1]) for i in range(5)]
    tasks = [task(1, "main", awaits="gather() of 5"), *five,
             task(2, "old", state="done", frames=[], awaits=None),
             task(3, "a", by=[4]), task(4, "b", by=[3]),
             task(5, "outside", by=[0x99])]
    dump = ProcessDump(pid=1, executable=None, python_version=(3, 12, 1), threads=[thread],
                       tasks=tasks)
    painted = TextRenderer(SourceLines(lambda path: "/nonexistent" + path), color=True)
    bold, red, reset = "\033[1m", "\033[31m", "\033[0m"
    frame_lines = list(painted.frame(PyFrame(prev=None, next=None, code=code(10),
                                             arguments={}, locals={}, is_entry=False)))
    lines = tasks_section(dump, painted)
    assert lines == [
        f"{bold}Asyncio tasks of the event loop of thread 7 (MainThread): 9 pending, "
        f"1 done{reset}",
        "", f"{bold}Task 'main' [pending]{reset}", *frame_lines, "    awaiting gather() of 5",
        "", f"{bold}5 tasks like this: 'w0', 'w1', 'w2', 'w3', 'w4' [pending] awaited by "
            f"'main'{reset}", *frame_lines, "    awaiting Future",
        "", f"{bold}Task 'old' [done]{reset}",
        "", f"{bold}Task 'a' [pending] awaited by 'b'{reset}", *frame_lines,
        "    awaiting Future",
        "", f"{bold}Task 'b' [pending] awaited by 'a'{reset}", *frame_lines,
        "    awaiting Future",
        "", f"{bold}Task 'outside' [pending] awaited by '0x99'{reset}", *frame_lines,
        "    awaiting Future",
        "", f"{red}Deadlock: tasks await each other: 'a' -> 'b' -> 'a'{reset}"]


def test_a_task_awaited_twice_is_listed_once_and_the_walk_goes_on():
    """x is awaited by a and by b (which a awaits too): listed once, and y, which a
    awaits after them, still follows in a's tree, before the next root."""
    tasks = [task(1, "a"), task(2, "b", by=[1]), task(3, "x", by=[1, 2]),
             task(4, "y", by=[1]), task(5, "z")]
    assert [(t.name, depth) for t, depth in in_tree_order(tasks)] == \
        [("a", 0), ("b", 1), ("x", 2), ("y", 1), ("z", 0)]
    lines = list(task_lines(tasks[2:3], renderer(), {1: "a", 2: "b"}))
    assert lines[1] == "Task 'x' [pending] awaited by 'a', 'b'"


def test_loops_are_parted_by_a_blank_line():
    dump = ProcessDump(pid=1, executable=None, python_version=(3, 12, 1), threads=[],
                       tasks=[task(1, "x", loop=0x10), task(2, "y", loop=0x20)])
    lines = tasks_section(dump, renderer())
    second = lines.index("Asyncio tasks of an event loop that no thread is running (0x20): "
                         "1 pending")
    assert lines[second - 1] == "" and lines[second - 2] == "    awaiting Future"


def test_a_thread_that_is_not_in_the_dump_is_named_by_its_loop():
    dump = ProcessDump(pid=1, executable=None, python_version=(3, 12, 1), threads=[],
                       tasks=[task(1, "x", thread=42, loop=0x10)])
    assert tasks_section(dump, renderer())[0] == \
        "Asyncio tasks of an event loop that no thread is running (0x10): 1 pending"
