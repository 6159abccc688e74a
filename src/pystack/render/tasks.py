"""`--tasks`: the asyncio tasks of each event loop, after the thread tracebacks.

Tasks are listed waiters first: a task nobody awaits, then the tasks it awaits, depth
first, so a chain of awaits reads top to bottom (each task names its waiters). Tasks whose stacks, state and waiters are the same are printed once
(`1,204 tasks like this:`): a server's thousand idle connections are one entry.
Tasks that await each other in a circle are named at the end as a deadlock.
"""
from __future__ import annotations

from ..types import AsyncTask, PyFrame

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Iterator, Optional

    from .text import TextRenderer

#: Names listed for a group of like tasks; the rest are counted.
NAMES_SHOWN = 5


def loop_line(pending: int, running: Optional[AsyncTask], listed: bool) -> str:
    """The line under the traceback of a thread that runs an event loop."""
    what = f"{pending:,} pending task{'s' if pending != 1 else ''}"
    if running is not None:
        what += f", running task {running.name!r}"
    return f"    (asyncio event loop: {what}; " + \
        ("listed below)" if listed else "pystack --tasks lists them)")


def in_tree_order(tasks: list[AsyncTask]) -> list[tuple[AsyncTask, int]]:
    """(task, depth) with every task once: roots (awaited by no task), each followed
    by what it awaits; then what only cycles lead to."""
    by_id = {t.id: t for t in tasks}
    awaited: dict[int, list] = {}
    for task in tasks:
        for waiter in task.awaited_by:
            awaited.setdefault(waiter, []).append(task.id)
    out: list[tuple[AsyncTask, int]] = []
    placed: set = set()

    def walk(root: AsyncTask) -> None:
        stack = [(root, 0)]
        while stack:
            task, depth = stack.pop()
            if task.id in placed:
                continue
            placed.add(task.id)
            out.append((task, depth))
            children = [by_id[c] for c in awaited.get(task.id, ()) if c not in placed]
            stack.extend((child, depth + 1) for child in reversed(children))

    # the running task first, finished ones last; otherwise in the order found
    for task in sorted(tasks, key=lambda t: 0 if t.running else 1 if t.state == "pending"
                       else 2):
        if not task.awaited_by:
            walk(task)
    for task in tasks:  # in a cycle, or awaited only from one
        if task.id not in placed:
            walk(task)
    return out


def _signature(task: AsyncTask) -> tuple:
    """What makes two tasks print alike (their names aside)."""
    return (task.state, task.running, task.awaits if not (task.awaits or "").startswith(
        "Task ") else task.id, tuple(task.awaited_by), task.exception,
        tuple((c.filename, c.location.lineno, c.display_name) for c in task.frames))


def grouped(ordered: list[tuple[AsyncTask, int]]) -> list[list[AsyncTask]]:
    """Tasks that print alike together, at the place of the first of them. A task
    that awaits a task never groups (its signature holds its own id): what it
    awaits is listed right after it."""
    groups: dict[tuple, list[AsyncTask]] = {}
    out: list[list[AsyncTask]] = []
    for task, _ in ordered:
        key = _signature(task)
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
            out.append(group)
        group.append(task)
    return out


def task_lines(tasks: list[AsyncTask], renderer: TextRenderer, names: dict) -> Iterator[str]:
    """The lines of one event loop's tasks; `names` maps task ids to names (of
    every task of the process: a waiter may belong to another loop)."""
    for group in grouped(in_tree_order(tasks)):
        first = group[0]
        yield ""
        state = first.state + (", running" if first.running else "")
        waiters = ", ".join(repr(names.get(w, f"0x{w:x}")) for w in first.awaited_by)
        tail = f" awaited by {waiters}" if waiters else ""
        if len(group) == 1:
            head = f"Task {first.name!r} [{state}]"
        else:
            shown = ", ".join(repr(t.name) for t in group[:NAMES_SHOWN])
            more = f" and {len(group) - NAMES_SHOWN:,} more" if len(group) > NAMES_SHOWN else ""
            head = f"{len(group):,} tasks like this: {shown}{more} [{state}]"
        yield renderer._c("\033[1m", head + tail)
        for code in first.frames:
            yield from renderer.frame(PyFrame(prev=None, next=None, code=code, arguments={},
                                              locals={}, is_entry=False))
        if first.running:
            yield "    (running: the rest of its stack is in its thread's traceback)"
        elif first.awaits:
            yield f"    awaiting {first.awaits}"
        if first.exception:
            yield f"    exception: {first.exception}"


def tasks_section(dump, renderer: TextRenderer) -> list[str]:
    """Every event loop's tasks of one process, as text lines; [] without tasks."""
    if dump.tasks is None:
        return []
    from ..cpython.tasks import cycles
    names = {t.id: t.name for t in dump.tasks}
    threads = {t.tid: t for t in dump.threads}
    by_loop: dict[int, list[AsyncTask]] = {}
    for task in dump.tasks:
        by_loop.setdefault(task.loop, []).append(task)
    if not by_loop:
        return ["No asyncio tasks."]
    lines: list[str] = []
    for loop, tasks in by_loop.items():
        tid = tasks[0].thread
        pending = sum(t.state == "pending" for t in tasks)
        done = len(tasks) - pending
        counts = f"{pending:,} pending" + (f", {done:,} done" if done else "")
        if tid is not None and tid in threads:
            from .text import describe_thread
            where = f"the event loop of {describe_thread(threads[tid])}"
        else:
            where = f"an event loop that no thread is running (0x{loop:x})"
        if lines:
            lines.append("")
        lines.append(renderer._c("\033[1m", f"Asyncio tasks of {where}: {counts}"))
        lines.extend(task_lines(tasks, renderer, names))
    deadlocks = cycles({t.id: t for t in dump.tasks})
    for circle in deadlocks:
        path = " -> ".join(repr(names[i]) for i in circle + circle[:1])
        lines += ["", renderer._c("\033[31m", f"Deadlock: tasks await each other: {path}")]
    return lines
