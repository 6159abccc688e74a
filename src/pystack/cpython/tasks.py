"""asyncio tasks read from memory: where each is suspended, and who awaits whom.

A hung asyncio service shows one thread in `select()`; the suspended tasks are
where the bug is. Nothing here runs code in the target: the tasks are found in the
registries `asyncio.all_tasks()` itself reads (module-level sets up to 3.13,
per-thread lists from 3.14), each task's coroutine is followed down the chain of
objects it awaits (`cr_await`, recomputed from the suspended frame's value stack as
the interpreter does), and the edges between tasks come from what each task's
`_fut_waiter` is (a task, a `gather()`) and from the callbacks a future holds (the
waiting task's wake-up, a TaskGroup's `_on_task_done`).

Only loaded when a thread runs an event loop, or for `--tasks`: a plain dump of a
process without asyncio never imports it.
"""
from __future__ import annotations

import struct

from .. import log
from ..errors import MemoryReadError
from ..types import AsyncTask
from .frames import FrameReader
from .layouts.tasks import TASKS_LAYOUTS, TasksLayout
from .objects import ObjectError, Objects

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Iterator, Optional

#: Tasks read at most: past this the rest are not read, with a warning.
MAX_TASKS = 1 << 20
#: Objects followed down one await chain at most (a cycle of generators ends there).
MAX_CHAIN = 256
#: Items of one list read at most (a future's callbacks, a gather()'s children), and
#: the depth of gathers of gathers followed.
MAX_CHILDREN = 1 << 16
MAX_GATHER_DEPTH = 32

#: PyBaseExceptionObject.args, after the header and `dict` (3.8-3.15).
EXCEPTION_ARGS = 24
_PTR = struct.Struct("<Q")
_I32 = struct.Struct("<i")
_BAD = (MemoryReadError, ObjectError)

# What a coroutine is doing, whatever the version calls it.
CREATED, SUSPENDED, RUNNING, FINISHED = "created", "suspended", "running", "finished"

#: The C future's `fut_state`, and the pure-Python one's `_state`.
_C_STATES = {0: "pending", 1: "cancelled", 2: "done"}
_PY_STATES = {"PENDING": "pending", "CANCELLED": "cancelled", "FINISHED": "done"}

_GENERATORS = frozenset({"coroutine", "generator", "async_generator"})
#: Objects that stand between an `await` and the async generator doing the work.
_ASYNC_GEN_STEPS = frozenset({"async_generator_asend", "async_generator_athrow"})
_FUTURE_ITERATORS = frozenset({"_asyncio.FutureIter", "FutureIter"})
_ASYNCIO_DIR = "/asyncio/"


def tasks_layout(version: tuple) -> Optional[TasksLayout]:
    return TASKS_LAYOUTS.get(tuple(version[:2]))


class _Chain:
    """One task's await chain as read: frames outermost first, and where it ended."""

    __slots__ = ("frames", "frame_addresses", "awaited", "running", "not_started")

    def __init__(self) -> None:
        self.frames: list = []
        self.frame_addresses: list = []
        self.awaited = 0  # the object the innermost coroutine awaits, not a coroutine
        self.running = False
        self.not_started = False  # the innermost coroutine has run nothing yet


class TaskReader:
    """Finds the tasks of a process and describes them."""

    def __init__(self, objects: Objects, frames: FrameReader, lay: TasksLayout) -> None:
        self.objects = objects
        self.mem = objects.mem
        self.layout = objects.layout
        self.t = lay
        self.frames = frames
        self._kinds: dict[int, str] = {}  # type address -> "ctask", ... or ""
        self._fields: dict[int, tuple] = {}  # task address -> fields()
        self._self_first: dict[int, bool] = {}  # code address -> first variable is self
        self._none: Optional[int] = None

    # -- which objects are tasks ------------------------------------------------------
    def kind(self, obj: int) -> str:
        """"ctask"/"cfuture" (TaskObj/FutureObj layout: the C classes and their
        subclasses), "pytask"/"pyfuture" (asyncio's pure-Python classes), or ""."""
        tp = self.objects.type_of(obj)
        known = self._kinds.get(tp)
        if known is None:
            known = self._kinds[tp] = self._kind_of_type(tp)
        return known

    def _kind_of_type(self, tp: int) -> str:
        o = self.layout.objects
        mem = self.mem
        seen = 0
        while tp and seen < 32:
            name = mem.cstring(mem.ptr(tp + o.tp_name), 64)
            if name == b"_asyncio.Task":
                return "ctask"
            if name == b"_asyncio.Future":
                return "cfuture"
            if name in (b"Task", b"Future") and self._from_asyncio(tp):
                return "pytask" if name == b"Task" else "pyfuture"
            tp = mem.ptr(tp + o.tp_base) if o.tp_base is not None else 0
            seen += 1
        return ""

    def _from_asyncio(self, tp: int) -> bool:
        """Whether a class named Task or Future is asyncio's own (its module is)."""
        try:
            module = self.objects.dict_get_str(self.mem.ptr(tp + self.layout.objects.tp_dict),
                                               "__module__")
            return module is not None and \
                self.objects.read_str(module, 64) in ("asyncio.tasks", "asyncio.futures")
        except _BAD:
            return False

    def is_none(self, obj: int) -> bool:
        if self._none is not None:
            return obj == self._none
        if self.objects.type_name(obj) == "NoneType":
            self._none = obj
            return True
        return False

    # -- the registries -----------------------------------------------------------------
    def registered(self, modules: int, thread_states: list, interp: int) -> Iterator[int]:
        """Every task registered in one interpreter, each once, in registry order."""
        seen: set = set()
        for task in self._registered(modules, thread_states, interp):
            if task in seen:
                continue
            seen.add(task)
            if len(seen) > MAX_TASKS:
                log.warning("more than %d asyncio tasks: the rest are not read", MAX_TASKS)
                return
            yield task

    def _registered(self, modules: int, thread_states: list, interp: int) -> Iterator[int]:
        t = self.t
        if t.registry == "lists":
            for tstate in thread_states:
                yield from self._linked_tasks(tstate + t.tstate_tasks_head)
            head = self._interpreter_list(interp)
            if head is not None:  # tasks left behind by threads that ended
                yield from self._linked_tasks(head)
        objs = self.objects
        for module_name in ("_asyncio", "asyncio.tasks"):
            if t.registry == "lists" and module_name == "_asyncio":
                continue  # 3.14+: the C module keeps no sets
            try:
                module = objs.dict_get_str(modules, module_name)
                if not module:
                    continue
                namespace = objs.module_dict(module)
                for name, weak in t.registry_sets:
                    found = objs.dict_get_str(namespace, name)
                    if found:
                        yield from self._set_members(found, weak)
            except _BAD as exc:
                log.info("cannot read the tasks of %s: %s", module_name, exc)

    def _set_members(self, obj: int, weak: bool) -> Iterator[int]:
        """The objects of a set, or of a WeakSet (its `data`: a set of weakrefs)."""
        objs = self.objects
        if weak:
            data = objs.attribute(obj, "data")
            if not data:
                return
            for ref in objs.set_items(data):
                # PyWeakReference.wr_object: None once the task is gone (no task
                # kind: skipped where it is read)
                target = self.mem.ptr(ref + 16)
                if target:
                    yield target
        else:
            yield from objs.set_items(obj)

    def _linked_tasks(self, head: int) -> Iterator[int]:
        """3.14+: a circular list of `task_node`s whose sentinel is at `head`."""
        node = self.mem.ptr(head)
        count = 0
        while node and node != head and count <= MAX_TASKS:
            yield node - self.t.task_node
            node = self.mem.ptr(node)
            count += 1

    def _interpreter_list(self, interp: int) -> Optional[int]:
        """The interpreter's list of tasks whose thread ended, at whichever of the
        candidate offsets holds a well-formed list (release and debug builds differ)."""
        for offset in self.t.interp_tasks_head:
            head = interp + offset
            try:
                first, last = self.mem.ptr(head), self.mem.ptr(head + 8)
                if first == head and last == head:
                    return head
                if first and last and self.mem.ptr(first + 8) == head \
                        and self.mem.ptr(last) == head:
                    return head
            except MemoryReadError:
                continue
        return None

    # -- one task -----------------------------------------------------------------------
    def fields(self, task: int) -> tuple:
        """(state, loop, coroutine, future waited on, name object, exception) of a task."""
        known = self._fields.get(task)
        if known is not None:
            return known
        kind = self.kind(task)
        t, mem = self.t, self.mem
        if kind == "ctask":  # one read: a server has 100,000 of them
            blob = mem.read(task, t.task_span)
            state = _C_STATES.get(_I32.unpack_from(blob, t.fut_state)[0], "pending")
            known = (state, _PTR.unpack_from(blob, t.fut_loop)[0],
                     _PTR.unpack_from(blob, t.task_coro)[0],
                     _PTR.unpack_from(blob, t.task_fut_waiter)[0],
                     _PTR.unpack_from(blob, t.task_name)[0],
                     _PTR.unpack_from(blob, t.fut_exception)[0])
            if len(self._fields) < MAX_TASKS:
                self._fields[task] = known
            return known
        if kind == "pytask":
            attr = self._py_attribute
            state_obj = attr(task, "_state")
            state = _PY_STATES.get(self.objects.read_str(state_obj, 16), "pending") \
                if state_obj else "pending"
            return (state, attr(task, "_loop"), attr(task, "_coro"), attr(task, "_fut_waiter"),
                    attr(task, "_name"), attr(task, "_exception"))
        raise ObjectError(f"0x{task:x} is not an asyncio task")

    def state_and_loop(self, task: int) -> tuple:
        """What counting a loop's tasks needs, in one small read (C tasks)."""
        t = self.t
        if self.kind(task) != "ctask":
            return self.fields(task)[:2]
        first = min(t.fut_loop, t.fut_state)
        blob = self.mem.read(task + first, max(t.fut_loop, t.fut_state) + 8 - first)
        return (_C_STATES.get(_I32.unpack_from(blob, t.fut_state - first)[0], "pending"),
                _PTR.unpack_from(blob, t.fut_loop - first)[0])

    def _py_attribute(self, obj: int, name: str) -> int:
        value = self.objects.attribute(obj, name)
        return 0 if value is None or self.is_none(value) else value

    def name_of(self, name: int, task: int) -> str:
        if not name:
            return f"<task at 0x{task:x}>"
        if self.objects.type_name(name) == "int":  # 3.12+: the N of "Task-N"
            return f"Task-{self.objects.read_int(name)}"
        return self.objects.read_str(name, 256)

    def describe(self, task: int, loops: dict) -> AsyncTask:
        """The task with its stack, what it awaits and its exception; edges later."""
        state, loop, coro, waiter, name_obj, exception = self.fields(task)
        chain = self.chain(coro) if coro and state == "pending" else _Chain()
        awaited = waiter or chain.awaited
        error = self.exception_text(exception) if state == "done" and exception else None
        return AsyncTask(
            id=task, name=self.name_of(name_obj, task), state=state, running=chain.running,
            thread=loops.get(loop), loop=loop, frames=chain.frames,
            awaits=self.awaits_text(awaited, chain) if state == "pending" else None,
            exception=error,
            implementation="_asyncio" if self.kind(task) == "ctask" else "asyncio")

    def exception_text(self, exception: int) -> str:
        """`ValueError('boom')`, as the exception's repr() reads (its class's own
        __repr__ aside): the class name and the repr of each of its `args`."""
        from .reprs import render
        objs = self.objects
        name = objs.type_name(exception).rsplit(".", 1)[-1]
        try:
            args = objs.tuple_items(self.mem.ptr(exception + EXCEPTION_ARGS), 16)
        except _BAD:
            return render(objs, exception, max_len=200)
        return name + "(" + ", ".join(render(objs, a, max_len=200) for a in args) + ")"

    # -- coroutines -----------------------------------------------------------------------
    def chain(self, coro: int) -> _Chain:
        """Follow what each coroutine awaits, from the task's own down to a future."""
        out = _Chain()
        objs = self.objects
        current = coro
        step = self._interpreter_frame_step if self.layout.has_interpreter_frames \
            else self._frame_object_step
        for _ in range(MAX_CHAIN):
            try:
                kind = objs.type_name(current)
                if kind in _ASYNC_GEN_STEPS:  # `async for` / aclose(): the generator
                    current = self.mem.ptr(current + 16)  # ags_gen / agt_gen
                    continue
                if kind in _FUTURE_ITERATORS:  # `await fut` of a C future
                    out.awaited = self.mem.ptr(current + 16)
                    return out
                if kind not in _GENERATORS:
                    out.awaited = current
                    return out
                state, frame, code, awaited = step(current)
                if state == FINISHED:
                    return out
                out.frames.append(code)
                out.frame_addresses.append(frame)
                if state == RUNNING:
                    out.running = True
                    return out
                if state == CREATED:
                    out.not_started = True
                    return out
                if not awaited:
                    # asyncio's pure-Python Future.__await__ yields the future itself
                    if code.scope == "__await__" and _ASYNCIO_DIR in code.filename:
                        out.awaited = self.frames.first_variable(frame)
                    return out
                current = awaited
            except _BAD as exc:
                log.info("await chain broken at 0x%x: %s", current, exc)
                return out
        return out

    def _interpreter_frame_step(self, gen: int) -> tuple:
        """3.11+: (state, frame, code, awaited object or 0) of a generator-like
        object, whose frame is inside it: one read for the state and the frame."""
        t, lay, mem = self.t, self.layout, self.mem
        f = lay.iframe
        start, base = t.gen_frame_state, lay.objects.gen_frame
        blob = mem.read(gen + start, base + max(f.code, f.instr_ptr, f.stackpointer) + 8 - start)
        value = struct.unpack_from("<b", blob, 0)[0]
        frame = gen + base
        if value > t.state_running:  # done (3.15 numbers every state from 0, CREATED first)
            return FINISHED, frame, None, 0
        at = base - start
        code = _PTR.unpack_from(blob, at + f.code)[0] & (~7 if lay.tagged_code_pointer else ~0)
        if value == t.state_created:
            return CREATED, frame, self.frames.first_line(code), 0
        instr = _PTR.unpack_from(blob, at + f.instr_ptr)[0]
        where = self.frames.describe(
            code, (instr - (code + lay.code.code_adaptive)) // lay.constants.code_unit_size)
        if value == t.state_running:
            return RUNNING, frame, where, 0
        rule = t.awaited_rule
        awaited = 0
        if rule == "stackpointer":  # 3.14+: a pointer past the top of the value stack
            if value == t.state_suspended_await:
                pointer = _PTR.unpack_from(blob, at + f.stackpointer)[0]
                awaited = mem.ptr(pointer - 8 * t.awaited_slot) & ~7
        else:  # 3.11-3.13: the number of values in localsplus, stack included
            in_await = value == t.state_suspended_await
            if rule == "resume":  # 3.11-3.12: what follows the yield resumes an await
                word = int.from_bytes(mem.read(instr + 2, 2), "little")
                in_await = word & 0xFF in t.resume_opcodes and word >> 8 >= 2
            depth = _I32.unpack_from(blob, at + f.stackpointer)[0]
            if in_await and depth > 0:
                awaited = mem.ptr(frame + f.localsplus + 8 * (depth - 1))
        return SUSPENDED, frame, where, awaited

    def _frame_object_step(self, gen: int) -> tuple:
        """3.8-3.10: the same, through the generator's frame object."""
        t, mem, lay = self.t, self.mem, self.layout
        frame = mem.ptr(gen + lay.objects.gen_frame)
        if not frame:
            return FINISHED, 0, None, 0
        code = mem.ptr(frame + lay.frame_object.f_code)
        lasti = mem.i32(frame + lay.frame_object.f_lasti)
        if t.f_state is not None:  # 3.10
            value = struct.unpack("<b", mem.read(frame + t.f_state, 1))[0]
            state = CREATED if value == t.state_created else RUNNING \
                if value == t.state_running else FINISHED if value > t.state_running \
                else SUSPENDED
        else:
            state = RUNNING if mem.u8(frame + t.f_executing) else \
                CREATED if lasti < 0 else SUSPENDED
        if state == FINISHED:
            return FINISHED, frame, None, 0
        if state == CREATED:
            return CREATED, frame, self.frames.first_line(code), 0
        where = self.frames.describe(code, lasti)
        if state == RUNNING:
            return RUNNING, frame, where, 0
        # after an await the next instruction is the YIELD_FROM that resumes it
        at = lasti + 2 if t.awaited_rule == "lasti" else (lasti + 1) * 2  # bytes / units
        code_bytes = mem.ptr(code + lay.code.code)
        if self.objects.read_bytes(code_bytes, at + 1)[at:at + 1] != bytes([t.yield_from_opcode]):
            return SUSPENDED, frame, where, 0
        if t.awaited_rule == "lasti":  # 3.8-3.9: NULL while the frame runs
            top = mem.ptr(frame + t.f_stacktop)
            return SUSPENDED, frame, where, mem.ptr(top - 8) if top else 0
        depth = mem.i32(frame + t.f_stackdepth)  # 3.10
        awaited = mem.ptr(mem.ptr(frame + t.f_valuestack) + 8 * (depth - 1)) if depth > 0 else 0
        return SUSPENDED, frame, where, awaited

    # -- what a task awaits, in words -------------------------------------------------------
    def awaits_text(self, awaited: int, chain: _Chain) -> Optional[str]:
        if chain.running:
            return None
        if chain.not_started:
            return "its first step (not started yet)"
        objs = self.objects
        try:
            kind = self.kind(awaited) if awaited else ""
            if kind in ("ctask", "pytask"):
                _, _, _, _, name, _ = self.fields(awaited)
                return f"Task {self.name_of(name, awaited)!r}"
            if awaited and objs.type_name(awaited) == "_GatheringFuture":
                children = objs.attribute(awaited, "_children")
                count = len(self._list_items(children)) if children else 0
                return f"gather() of {count}"
        except _BAD:
            pass
        # A future made inside asyncio: the library call that waits on it says what for.
        for code, frame in zip(reversed(chain.frames), reversed(chain.frame_addresses)):
            if _ASYNCIO_DIR not in code.filename:
                break
            name = code.qualname or code.scope
            if name == "__sleep0":  # sleep(0): a bare yield, to run again next round
                return "asyncio.sleep(0)"
            if "." in name:
                return f"{name.split('.<locals>.')[0]}()"
            try:
                first = self.frames.first_variable(frame)
                if code.scope != "<module>" and first and self._first_is_self(frame):
                    return f"{objs.type_name(first).rsplit('.', 1)[-1]}.{code.scope}()"
            except _BAD:
                pass
            return f"asyncio.{code.scope}()"
        if not awaited:
            return None
        try:
            return objs.type_name(awaited).rsplit(".", 1)[-1]
        except _BAD:
            return None

    def _first_is_self(self, frame: int) -> bool:
        """Whether a frame's first variable is called `self`."""
        lay = self.layout
        code = self.frames.code_address(frame)
        known = self._self_first.get(code)
        if known is None:
            names = lay.code.localsplusnames if lay.has_interpreter_frames \
                else lay.code.varnames
            items = self.objects.tuple_items(self.mem.ptr(code + names), 4096)
            known = self._self_first[code] = \
                bool(items) and self.objects.read_str(items[0], 8) == "self"
        return known

    def _list_items(self, obj: int) -> list:
        o = self.layout.objects
        size = self.mem.i64(obj + o.ob_size)
        if not 0 <= size <= MAX_CHILDREN:
            raise ObjectError("bad list size")
        raw = self.mem.read(self.mem.ptr(obj + o.list_items), 8 * size) if size else b""
        return [v for (v,) in _PTR.iter_unpack(raw)]

    # -- who awaits whom ------------------------------------------------------------------
    def edges(self, tasks: dict) -> None:
        """Fill each task's `awaited_by`: `tasks` maps address -> AsyncTask."""
        found: dict[int, list] = {}

        def add(awaited: int, waiter: int) -> None:
            if awaited in tasks and waiter in tasks and awaited != waiter:
                waiters = found.setdefault(awaited, [])
                if waiter not in waiters:
                    waiters.append(waiter)

        for address, task in tasks.items():
            if task.state != "pending":
                continue
            try:
                _, _, _, waiter, _, _ = self.fields(address)
                if waiter:
                    for child in self._awaited_tasks(waiter):
                        add(child, address)
                for callback in self._callbacks(address):
                    for waiting in self._waiters_of_callback(callback):
                        add(address, waiting)
            except _BAD as exc:
                log.info("cannot read what task 0x%x waits for: %s", address, exc)
        for address, waiters in found.items():
            tasks[address].awaited_by = waiters

    def _awaited_tasks(self, future: int) -> list:
        """The tasks a future stands for: itself, or a gather()'s children (gathers
        of gathers too, MAX_GATHER_DEPTH deep, MAX_CHILDREN futures looked at)."""
        out: list = []
        pending = [(future, 0)]
        looked_at = 0
        while pending and looked_at < MAX_CHILDREN:
            item, depth = pending.pop()
            looked_at += 1
            if self.kind(item) in ("ctask", "pytask"):
                out.append(item)
            elif depth < MAX_GATHER_DEPTH and \
                    self.objects.type_name(item) == "_GatheringFuture":
                children = self.objects.attribute(item, "_children")
                pending += [(child, depth + 1) for child in
                            reversed(self._list_items(children) if children else [])]
        return out

    def _callbacks(self, future: int) -> list:
        """The callbacks a pending future will call when it is done."""
        mem, t = self.mem, self.t
        if self.kind(future) in ("ctask", "cfuture"):
            found = []
            first = mem.ptr(future + t.fut_callback0)
            if first and not self.is_none(first):
                found.append(first)
            rest = mem.ptr(future + t.fut_callbacks)
            pairs = self._list_items(rest) if rest and not self.is_none(rest) else []
        else:
            rest = self._py_attribute(future, "_callbacks")
            found, pairs = [], self._list_items(rest) if rest else []
        for pair in pairs:
            items = self.objects.tuple_items(pair, 4)
            if items:
                found.append(items[0])
        return found

    def _waiters_of_callback(self, callback: int, depth: int = 0) -> list:
        """The task(s) a callback wakes up or stands for: a task's wake-up (C: a
        wrapper or `task_wakeup`; Python: `Task.__wakeup`), or a TaskGroup's
        `_on_task_done`, which stands for the group's parent task; or a partial
        that sets a future others await (wait_for)."""
        objs, mem = self.objects, self.mem
        kind = objs.type_name(callback)
        if kind == "TaskWakeupMethWrapper":  # 3.8-3.9
            return [mem.ptr(callback + 16)]
        if kind == "builtin_function_or_method":
            method_def = mem.ptr(callback + 16)
            if method_def and mem.cstring(mem.ptr(method_def), 32) == b"task_wakeup":
                return [mem.ptr(callback + 24)]
            return []
        if kind == "functools.partial" and depth == 0:
            # wait_for() (up to 3.11) wakes its caller through a future it sets from
            # partial(_release_waiter, waiter): whoever awaits that future waits here
            found: list = []
            for argument in self.objects.tuple_items(mem.ptr(callback + 24), 8):  # args
                if self.kind(argument) in ("cfuture", "pyfuture"):
                    for inner in self._callbacks(argument):
                        found += self._waiters_of_callback(inner, depth + 1)
            return found
        if kind == "method":
            o = self.layout.objects
            function, owner = mem.ptr(callback + o.method_func), mem.ptr(callback + o.method_self)
            name = objs.read_str(mem.ptr(function + o.func_name), 64)
            if name in ("__wakeup", "_Task__wakeup"):
                return [owner]
            if name == "_on_task_done":  # TaskGroup (3.11+)
                parent = objs.attribute(owner, "_parent_task")
                return [parent] if parent else []
        return []


def cycles(tasks: dict) -> list:
    """Groups of tasks that await each other in a circle (a deadlock), each listed
    in awaiting order from its lowest address; `tasks` maps address -> AsyncTask."""
    awaits: dict[int, list] = {}
    for address, task in tasks.items():
        for waiter in task.awaited_by:
            awaits.setdefault(waiter, []).append(address)
    found: list = []
    done: set = set()
    for start in sorted(awaits):
        if start in done:
            continue
        # iterative depth-first search; a node met again on the path closes a cycle
        path: list = []
        on_path: dict = {}
        stack = [(start, iter(awaits.get(start, ())))]
        path.append(start)
        on_path[start] = 0
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                del on_path[node]
                done.add(node)
                continue
            if child in on_path:
                circle = path[on_path[child]:]
                low = circle.index(min(circle))
                circle = circle[low:] + circle[:low]
                if circle not in found:
                    found.append(circle)
            elif child not in done:
                on_path[child] = len(path)
                path.append(child)
                stack.append((child, iter(awaits.get(child, ()))))
    return found


def process_tasks(reader, *, detail: bool) -> tuple:
    """(tasks or None, event loops) of a process whose threads `reader` (a
    `ThreadReader`) has read: every task described when `detail`, else only the
    pending tasks of each running loop counted (the line a plain dump prints).

    Event loops are `(tid, pending tasks)` of each thread that runs one.
    """
    lay = tasks_layout(reader.layout.version)
    if lay is None:  # 2.7, 3.6, 3.7: no task registry we know how to read
        if detail:
            log.warning("asyncio tasks are listed for Python 3.8 and later")
        return None, []
    tr = TaskReader(reader.objects, reader.frames, lay)
    loops: dict[int, int] = {}  # loop object -> tid of the thread running it
    for thread, _, frame in reader.event_loop_frames:
        try:
            loops.setdefault(tr.frames.first_variable(frame), thread.tid)
        except MemoryReadError:
            continue
    counts = {loop: 0 for loop in loops}
    tasks: dict[int, AsyncTask] = {}
    mem = reader.mem
    for interp in reader.interpreters():
        try:
            modules = mem.ptr(interp + reader.layout.interpreter.modules)
            states = list(reader.thread_states(interp))
            for address in tr.registered(modules, states, interp):
                try:
                    if detail:
                        task = tasks[address] = tr.describe(address, loops)
                        state, loop = task.state, task.loop
                    else:
                        state, loop = tr.state_and_loop(address)
                except _BAD as exc:
                    log.info("cannot read asyncio task 0x%x: %s", address, exc)
                    continue
                if state == "pending" and loop in counts:
                    counts[loop] += 1
        except _BAD as exc:
            log.warning("cannot read the asyncio tasks: %s", exc)
    if detail:
        tr.edges(tasks)
    loops_found = [(tid, counts[loop]) for loop, tid in loops.items()]
    return (list(tasks.values()) if detail else None), loops_found
