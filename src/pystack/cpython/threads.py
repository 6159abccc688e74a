"""Interpreters and their thread states: the list of `PyThread`s the engine returns.

Also where the Python-level name of each thread comes from: `threading._active`
(ident -> Thread object -> its `_name`), found through the interpreter's
`sys.modules`. It is only a best effort: a thread started with `_thread` has no
entry, and any failure leaves the name to the OS fallback.
"""
from __future__ import annotations


from ..errors import MemoryReadError
from ..types import PyFrame, PyThread
from .frames import FrameReader, RawFrame
from .locate import Interpreter
from .memory import Memory
from .objects import ObjectError, Objects
from .. import log

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Iterator, Optional


MAX_INTERPRETERS = 1024
MAX_THREADS = 100_000
MAX_NAME_ENTRIES = 1 << 20


def _bounded_chain(mem: Memory, first: int, next_offset: int, limit: int,
                   what: str) -> Iterator[int]:
    """The addresses of a linked list: at most `limit`, no loops, ends at a bad link.

    In memory that cannot change (a core, a stopped process) a bad link is reported
    and ends the list; in a running target (--no-block) it may be a torn read, so the
    error propagates and the caller reads again.
    """
    say = log.warning if mem.frozen else log.info
    seen: set[int] = set()
    address = first
    while address and address not in seen and len(seen) < limit:
        seen.add(address)
        yield address
        try:
            address = mem.ptr(address + next_offset)
        except MemoryReadError as exc:
            if not mem.frozen:
                raise
            say("the %s list is corrupted after 0x%x: %s", what, address, exc)
            return
    if address in seen:
        say("the %s list loops back to 0x%x", what, address)
    elif address:
        say("more than %d entries in the %s list: ignoring the rest", limit, what)


def version_in_text(text: str, expected: tuple) -> Optional[tuple]:
    """(major, minor, micro) from the start of a `sys.version` ("3.13.0rc2+ (main, ...)":
    micro 0), micro None where it has no digits; None unless it is the `expected`
    (major, minor): a text of another interpreter, or no version at all."""
    words = text.split(" ", 1)[0].split(".")
    if len(words) < 3 or not all(w.isdigit() for w in words[:2]):
        return None
    micro = words[2][:len(words[2]) - len(words[2].lstrip("0123456789"))]  # "0a1" -> "0"
    version = (int(words[0]), int(words[1]), int(micro) if micro else None)
    return version if version[:2] == expected else None


class ThreadReader:
    def __init__(self, mem: Memory, interpreter: Interpreter, *, locals: bool = False,
                 max_value_length: int = 80) -> None:
        self.want_locals = locals
        self.max_value_length = max_value_length
        self.mem = mem
        self.interp = interpreter
        self.layout = interpreter.layout
        self.objects = Objects(mem, self.layout)
        self.frames = FrameReader(mem, self.objects, self.layout)
        #: (thread, its interpreter, frame address) of each thread's innermost
        #: `BaseEventLoop.run_forever` frame: whose `self` is the loop it runs.
        self.event_loop_frames: list = []

    def interpreters(self) -> Iterator[int]:
        yield from _bounded_chain(self.mem, self.interp.interp_head,
                                  self.layout.interpreter.next, MAX_INTERPRETERS, "interpreter")

    def main_interpreter(self) -> Optional[int]:
        """`_PyRuntime.interpreters.main` (3.7+), or None. Without it, the main
        interpreter is the last of the list (the first created), unless the list
        broke before its end."""
        offset = self.layout.runtime.interpreters_main
        if offset is None or not self.interp.runtime:
            return None
        try:
            return self.mem.ptr(self.interp.runtime + offset) or None
        except MemoryReadError:
            return None

    def thread_states(self, interp: int) -> Iterator[int]:
        head = self.mem.ptr(interp + self.layout.interpreter.threads_head)
        yield from _bounded_chain(self.mem, head, self.layout.thread.next, MAX_THREADS,
                                  "thread state")

    # -- names ------------------------------------------------------------------------
    def thread_names(self, interp: int) -> dict[int, str]:
        """Python thread names by thread ident (pthread_t), from `threading._active`."""
        names: dict[int, str] = {}
        objs = self.objects
        # sys.modules, threading._active and each Thread's __dict__: a corrupted dict
        # (a huge _active whose entries each lead to a huge __dict__) must not make
        # this quadratic, so all of them share one budget of entries.
        objs.budget = MAX_NAME_ENTRIES
        try:
            modules = self.mem.ptr(interp + self.layout.interpreter.modules)
            threading = objs.dict_get_str(modules, "threading") if modules else None
            if not threading:
                return names
            active = objs.dict_get_str(objs.module_dict(threading), "_active")
            if not active:
                return names
            for key, thread in objs.dict_items(active):
                try:
                    name = objs.attribute(thread, "_name")
                    if name is None:  # 2.7 mangles the private attribute
                        name = objs.attribute(thread, "_Thread__name")
                    if name:
                        names[objs.read_int(key) & 0xFFFFFFFFFFFFFFFF] = objs.read_str(name, 256)
                except (MemoryReadError, ObjectError):
                    continue
        except (MemoryReadError, ObjectError) as exc:
            log.info("cannot read threading._active: %s", exc)
        finally:
            objs.budget = None
        return names

    def sys_version(self) -> Optional[tuple]:
        """(major, minor, micro) from `sys.version` of the main interpreter, or None.

        Before 3.11 nothing else in memory names the micro version; the text is a few
        reads away through the interpreter's `sys` dict.
        """
        objs = self.objects
        try:
            sysdict = self.mem.ptr(self.interp.interp_head + self.layout.interpreter.sysdict) \
                if self.layout.interpreter.sysdict is not None else 0
            text = objs.dict_get_str(sysdict, "version") if sysdict else None
            if not text:
                return None
            return version_in_text(objs.read_str(text, 64), tuple(self.interp.version[:2]))
        except (MemoryReadError, ObjectError):
            return None

    # -- GIL and GC -------------------------------------------------------------------
    def gil_holder(self, interp: int) -> Optional[int]:
        """Address of the thread state holding the GIL, if any thread does."""
        lay = self.layout
        mem = self.mem
        try:
            if lay.interpreter.ceval_gil is not None:  # 3.12+: per-interpreter GIL
                gil = mem.ptr(interp + lay.interpreter.ceval_gil)
                if gil and mem.i32(gil + lay.gil.locked):
                    return mem.ptr(gil + lay.gil.last_holder)
                return None
            if lay.runtime.tstate_current is not None and self.interp.runtime:
                return mem.ptr(self.interp.runtime + lay.runtime.tstate_current) or None
            if self.interp.current_tstate is not None:  # 2.7 / 3.6
                return mem.ptr(self.interp.current_tstate) or None
        except MemoryReadError:
            pass
        return None

    def gil_last_holder(self, interp: int) -> Optional[int]:
        """The thread state that held the GIL last (it may have released it since)."""
        lay = self.layout
        mem = self.mem
        try:
            if lay.interpreter.ceval_gil is not None:
                gil = mem.ptr(interp + lay.interpreter.ceval_gil)
                return mem.ptr(gil + lay.gil.last_holder) if gil else None
            if lay.runtime.gil_last_holder is not None and self.interp.runtime:
                return mem.ptr(self.interp.runtime + lay.runtime.gil_last_holder) or None
        except MemoryReadError:
            pass
        return None

    def gc_collecting(self, interp: int) -> Optional[bool]:
        """Whether the interpreter is collecting; None where memory cannot tell (2.7 and
        3.6 keep the flag in a static of gcmodule.c)."""
        lay = self.layout
        try:
            if lay.interpreter.gc_collecting is not None:
                return bool(self.mem.i32(interp + lay.interpreter.gc_collecting))
            if lay.runtime.gc_collecting is not None and self.interp.runtime:
                return bool(self.mem.i32(self.interp.runtime + lay.runtime.gc_collecting))
        except MemoryReadError:
            return False  # as before: an unreadable flag is not a collecting interpreter
        return None

    # -- threads ----------------------------------------------------------------------
    def threads(self) -> list[PyThread]:
        """Every thread of every interpreter that can be read.

        A list that breaks (an interpreter or thread state that cannot be read) ends
        there with a warning, keeping what came before; only when nothing at all can
        be read, or the target runs (a torn read, worth reading again), does the error
        propagate.
        """
        entries: list = []  # (thread, interpreter's creation rank, entry address)
        try:
            self._read_threads(entries)
        except MemoryReadError as exc:
            if not entries or not self.mem.frozen:
                raise
            log.warning("ignoring the rest of the threads: %s", exc)
        return in_call_order(entries)

    def _read_threads(self, entries: list) -> None:
        """Every thread state, those of one OS thread next to each other in call order.

        New interpreters are put at the head of the list: walking it backwards visits
        them in the order they were created, the main interpreter first.
        """
        version = tuple(self.interp.version[:2])
        interpreters = list(self.interpreters())
        main = self.main_interpreter() or (interpreters[-1] if interpreters else 0)
        for rank, interp in enumerate(reversed(interpreters)):
            interp_id = None
            if self.layout.interpreter.id is not None:
                try:
                    interp_id = self.mem.i64(interp + self.layout.interpreter.id)
                except MemoryReadError:
                    pass
            names = self.thread_names(interp)
            holder = self.gil_holder(interp)
            # The collecting thread holds the GIL, unless a finalizer it runs released
            # it (a __del__ that sleeps or waits): then it is the last one to hold it.
            collector = None
            collecting = self.gc_collecting(interp)
            if collecting:
                collector = holder or self.gil_last_holder(interp)
            for tstate in self.thread_states(interp):
                t = self.layout.thread
                ident = self.mem.ptr(tstate + t.thread_id)
                tid = self.mem.i64(tstate + t.native_thread_id) if t.native_thread_id is not None else 0
                if not tid:
                    tid = ident
                frames = self.frames.walk(tstate)
                holds = tstate == holder
                variables = self.variables(frames) if self.want_locals else None
                thread = PyThread(
                    tid=tid,
                    frame=link_frames(frames, variables),
                    native_frames=[],
                    holds_the_gil=int(holds),
                    # -1: unknown (the seed's API marks it so)
                    is_gc_collecting=-1 if collecting is None else int(tstate == collector),
                    python_version=version,
                    name=names.get(ident),
                    interpreter_id=interp_id,
                    in_main_interpreter=interp == main,
                    pthread_id=ident,
                )
                entries.append((thread, rank, outermost_entry_on_c_stack(frames, tstate)))
                for raw in frames:  # innermost first: of nested loops, the running one
                    code = raw.code
                    if code is not None and code.scope == "run_forever" and \
                            code.filename.endswith(EVENT_LOOP_FILE):
                        self.event_loop_frames.append((thread, interp, raw.address))
                        break

    def variables(self, frames: list[RawFrame]) -> dict[int, tuple[dict, dict]]:
        """Arguments and locals of every readable frame, by frame address."""
        # Only --locals needs them: importing variables (and reprs) costs
        # every other run about a millisecond.
        from .variables import frame_variables

        found = {}
        for raw in frames:
            if raw.code is None or raw.is_shim or raw.corrupted:
                continue
            try:
                found[raw.address] = frame_variables(self.objects, raw.address,
                                                     raw.code_address,
                                                     max_len=self.max_value_length)
            except (MemoryReadError, ObjectError) as exc:
                log.info("cannot read the variables of frame 0x%x: %s", raw.address, exc)
        return found


#: Where every asyncio event loop of the standard library runs its tasks.
EVENT_LOOP_FILE = "asyncio/base_events.py"

#: A shim frame this close after its thread state's address is part of the thread
#: state (3.15's base frame), not an eval-loop entry on the C stack.
THREAD_STATE_SPAN = 4096


def outermost_entry_on_c_stack(frames: list[RawFrame], tstate: int) -> Optional[int]:
    """Address of the outermost eval-loop entry frame (3.12+), which lives in the C
    stack frame of that eval-loop call; None before 3.12 or without frames.

    Stacks grow down: of two thread states of one OS thread, the one whose outermost
    entry lies higher on the stack was entered first and called into the other.
    """
    on_stack = [f.address for f in frames
                if f.is_shim and not 0 <= f.address - tstate < THREAD_STATE_SPAN]
    return max(on_stack) if on_stack else None


def in_call_order(entries: list) -> list[PyThread]:
    """Threads grouped by OS thread (first seen first), each group outermost first.

    `entries` pairs each thread with the creation rank of its interpreter and the
    address of its outermost entry frame on the C stack. Those addresses order the
    thread states of one OS thread exactly (3.12+); where any is unknown, creation
    order stands in: an interpreter is usually entered from an older one. Thread
    states without frames go first: they called nothing that is still running.
    """
    groups: dict = {}
    for entry in entries:
        thread = entry[0]
        key = thread.tid if thread.tid else ("terminated", id(thread))
        groups.setdefault(key, []).append(entry)
    ordered: list[PyThread] = []
    for members in groups.values():
        if len(members) > 1:
            with_frames = [m for m in members if m[0].frame is not None]
            if with_frames and all(m[2] is not None for m in with_frames):
                members.sort(key=lambda m: (m[0].frame is not None, -(m[2] or 0)))
            else:
                members.sort(key=lambda m: (m[0].frame is not None, m[1]))
        ordered.extend(m[0] for m in members)
    return ordered


def link_frames(raw: list[RawFrame],
                variables: Optional[dict] = None) -> Optional[PyFrame]:
    """Turn frames listed innermost first into linked `PyFrame`s; return the outermost."""
    outer: Optional[PyFrame] = None
    newer: Optional[PyFrame] = None
    for item in raw:  # innermost first
        arguments, local_vars = (variables or {}).get(item.address, ({}, {}))
        frame = PyFrame(prev=None, next=newer, code=item.code, arguments=arguments,
                        locals=local_vars, is_entry=item.is_entry, is_shim=item.is_shim,
                        address=item.address)
        if item.corrupted:
            frame.corrupted_at = item.address
        if newer is not None:
            newer.prev = frame
        newer = frame
        outer = frame
    return outer
