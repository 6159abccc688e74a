"""Where asyncio keeps its tasks, and how a suspended coroutine says what it awaits.

Written by hand (not by `scripts/gen_layouts.py`): `Modules/_asynciomodule.c` is a
separate extension whose DWARF the generator does not read. Every offset was read
with `gdb ptype /o` on the builds listed in `docs/research/asyncio-memory-facts.md`
and checked against the running interpreter (`id()` of the objects it leads to);
`tests/integration/test_tasks.py` holds them to what each provisioned interpreter
reports about its own tasks.
"""
from __future__ import annotations

from ..layout import _Record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Optional

    Off = Optional[int]


class TasksLayout(_Record):
    """One CPython minor version's asyncio and coroutine facts."""

    # -- FutureObj / TaskObj (the C implementation) -------------------------------------
    fut_loop: int = 16
    fut_callback0: int = 24
    fut_callbacks: int = 40  # a list of (callback, context) tuples, or NULL
    fut_exception: int = 48
    fut_state: Off = None  # enum: PENDING 0, CANCELLED 1, FINISHED 2 (4 bytes)
    task_fut_waiter: Off = None  # the future the task is blocked on (borrowed)
    task_coro: Off = None
    task_name: Off = None  # a str; from 3.12 an int N for the default "Task-N"
    task_node: Off = None  # 3.14+: the task's link in its thread's list
    #: The C object that wakes a task up, left in the callbacks of what it awaits:
    #: "wrapper" (TaskWakeupMethWrapper, the task at +16, 3.8-3.9) or "cfunction"
    #: (a builtin method `task_wakeup` whose m_self is the task, 3.10+).
    wakeup: str = "cfunction"

    # -- where the tasks are registered ---------------------------------------------------
    #: "sets": the module-level sets named in `registry_sets` of `_asyncio` and
    #: `asyncio.tasks` (3.8-3.13); "lists": per-thread intrusive lists (3.14+), and
    #: the `asyncio.tasks` sets for tasks of the pure-Python implementation.
    registry: str = "sets"
    registry_sets: tuple = ()  # (name, holds weak references)
    tstate_tasks_head: Off = None  # _PyThreadStateImpl.asyncio_tasks_head (3.14+)
    #: PyInterpreterState.asyncio_tasks_head: release and debug builds differ, so the
    #: candidates are tried in turn and the one that is a well-formed list is used.
    interp_tasks_head: tuple = ()

    # -- generators and coroutines --------------------------------------------------------
    #: How the object a coroutine awaits (`cr_await`) is found:
    #: "lasti" (3.8-3.9), "stackdepth" (3.10), "resume" (3.11-3.12: the next
    #: instruction is a RESUME after an await), "stacktop" (3.13), "stackpointer" (3.14+).
    awaited_rule: str = "stacktop"
    f_valuestack: Off = None  # PyFrameObject, up to 3.10
    f_stacktop: Off = None  # 3.8-3.9: NULL while the frame runs
    f_stackdepth: Off = None  # 3.10
    f_state: Off = None  # 3.10 (int8)
    f_executing: Off = None  # 3.8-3.9 (char)
    gen_frame_state: Off = None  # gi_frame_state (int8), 3.11+
    #: gi_frame_state values (3.11+) or f_state values (3.10): not started yet,
    #: suspended in an await / yield from, running. Values above RUNNING are done
    #: (3.15 renumbered them all from 0: CREATED, SUSPENDED, ..., RUNNING 4).
    state_created: int = -2
    state_suspended_await: int = -1
    state_running: int = 0
    resume_opcodes: frozenset = frozenset()
    yield_from_opcode: int = 72  # YIELD_FROM, 3.8-3.10
    #: 3.15 keeps another value above the awaited object: it is two slots down.
    awaited_slot: int = 1

    @property
    def task_span(self) -> int:
        """Bytes of a TaskObj that hold every field read (one read per task)."""
        return max(self.fut_exception, self.fut_state or 0, self.task_fut_waiter or 0,
                   self.task_coro or 0, self.task_name or 0) + 8


_COMMON_38_310 = dict(f_valuestack=64)

TASKS_LAYOUTS = {
    (3, 8): TasksLayout(
        fut_state=72, task_fut_waiter=104, task_coro=112, task_name=120, wakeup="wrapper",
        registry_sets=(("_all_tasks", True),),
        awaited_rule="lasti", f_stacktop=72, f_executing=116, **_COMMON_38_310),
    (3, 9): TasksLayout(
        fut_state=80, task_fut_waiter=144, task_coro=152, task_name=160, wakeup="wrapper",
        registry_sets=(("_all_tasks", True),),
        awaited_rule="lasti", f_stacktop=72, f_executing=116, **_COMMON_38_310),
    (3, 10): TasksLayout(
        fut_state=88, task_fut_waiter=152, task_coro=160, task_name=168,
        registry_sets=(("_all_tasks", True),),
        awaited_rule="stackdepth", f_stackdepth=80, f_state=108, **_COMMON_38_310),
    (3, 11): TasksLayout(
        fut_state=88, task_fut_waiter=128, task_coro=136, task_name=144,
        registry_sets=(("_all_tasks", True),),
        awaited_rule="resume", gen_frame_state=75, resume_opcodes=frozenset({150, 151})),
    (3, 12): TasksLayout(
        fut_state=88, task_fut_waiter=128, task_coro=136, task_name=144,
        registry_sets=(("_scheduled_tasks", True), ("_eager_tasks", False)),
        awaited_rule="resume", gen_frame_state=67, resume_opcodes=frozenset({151, 240})),
    (3, 13): TasksLayout(
        fut_state=96, task_fut_waiter=112, task_coro=120, task_name=128,
        registry_sets=(("_scheduled_tasks", True), ("_eager_tasks", False)),
        awaited_rule="stacktop", gen_frame_state=67, state_created=-3,
        state_suspended_await=-1),
    (3, 14): TasksLayout(
        fut_state=104, task_fut_waiter=120, task_coro=128, task_name=136, task_node=152,
        registry="lists", registry_sets=(("_scheduled_tasks", True), ("_eager_tasks", False)),
        tstate_tasks_head=880, interp_tasks_head=(10880, 10888),
        awaited_rule="stackpointer", gen_frame_state=67, state_created=-3,
        state_suspended_await=-1),
    (3, 15): TasksLayout(
        fut_state=104, task_fut_waiter=120, task_coro=128, task_name=136, task_node=152,
        registry="lists", registry_sets=(("_scheduled_tasks", True), ("_eager_tasks", False)),
        tstate_tasks_head=1048, interp_tasks_head=(10856, 10864),
        awaited_rule="stackpointer", gen_frame_state=67, state_created=0,
        state_suspended_await=2, state_running=4, awaited_slot=2),
}
