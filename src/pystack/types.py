"""The objects the engine returns: plain dataclasses that renderers and scripts consume.

Names, fields and properties follow Bloomberg's pystack (`pystack.types`) so that
scripts written against it run unchanged.
"""
from __future__ import annotations

import enum
from .records import TupleRecord, field, record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Dict, Iterator, List, Optional, Tuple


class StackMethod(enum.Enum):
    """Where the interpreter may be looked for: an Enum, as Bloomberg's, whose values
    are bits (AUTO and ALL are combinations); the engine also takes an int of bits."""

    ELF_DATA = 1
    SYMBOLS = 2
    BSS = 4
    ANONYMOUS_MAPS = 8
    HEAP = 16
    DEBUG_OFFSETS = 32
    AUTO = 55
    ALL = 63


class NativeReportingMode(enum.Enum):
    OFF = 0
    PYTHON = 1
    ALL = 1000
    LAST = 2000


class LocationInfo(TupleRecord):
    lineno: int
    end_lineno: int
    column: int
    end_column: int


@record
class PyCodeObject:
    filename: str
    #: The function's name (co_name), as Bloomberg's pystack gives it on every version.
    scope: str
    location: LocationInfo
    #: The qualified name (co_qualname: `Class.method`, `outer.<locals>.inner`) where
    #: the interpreter keeps one (3.11+); None before.
    qualname: Optional[str] = None

    @property
    def display_name(self) -> str:
        """What a traceback names the frame by: the qualified name where known."""
        return self.qualname or self.scope


@record
class NativeFrame:
    address: int
    symbol: str
    path: str
    linenumber: int
    colnumber: int
    library: str

    class FrameType(enum.Enum):
        """What the merge makes of a native frame (values as in Bloomberg's)."""

        IGNORE = 0
        EVAL = 1
        OTHER = 3


#: Interpreter call plumbing that a merged stack hides (Bloomberg's public name for it;
#: our merge's own, longer list is `pystack.native.merge`).
SYMBOL_IGNORELIST = frozenset({
    "PyObject_Call", "call_function", "classmethoddescr_call", "cmpwrapper_call",
    "fast_function", "function_call", "instance_call", "instancemethod_call",
    "methoddescr_call", "proxy_call", "slot_tp_call", "type_call", "weakref_call",
    "wrap_call", "wrapper_call", "wrapperdescr_call", "do_call_core",
})


def frame_type(frame: "NativeFrame",
               python_version: Optional[Tuple[int, int]]) -> "NativeFrame.FrameType":
    """Whether a native frame is an eval-loop call, plumbing to hide, or anything else."""
    symbol = frame.symbol
    eval_name = "PyEval_EvalFrameEx" if python_version and python_version < (3, 6) \
        else "_PyEval_EvalFrameDefault"
    if python_version and eval_name in symbol:
        return NativeFrame.FrameType.EVAL
    if symbol.startswith(("PyEval", "_PyEval", "_Py")):
        return NativeFrame.FrameType.IGNORE
    if python_version and python_version >= (3, 8) and "vectorcall" in symbol.lower():
        return NativeFrame.FrameType.IGNORE
    if symbol.startswith(tuple(SYMBOL_IGNORELIST)):
        return NativeFrame.FrameType.IGNORE
    return NativeFrame.FrameType.OTHER


@record
class PyFrame:
    """One Python frame; `prev` is its caller, `next` the frame it called."""

    # Not compared: equality walking the links would go back and forth between two
    # frames for ever (and a deep chain would exhaust the recursion limit).
    prev: Optional["PyFrame"] = field(repr=False, compare=False)
    next: Optional["PyFrame"] = field(repr=False, compare=False)
    code: PyCodeObject
    arguments: Dict[str, str]
    locals: Dict[str, str]
    is_entry: bool
    is_shim: bool = False
    #: Set when the walk stopped at this point because memory looked corrupted.
    corrupted_at: Optional[int] = field(default=None, repr=False)
    #: Where the frame lives in the target (ours): for a 3.12+ shim, a spot in the C
    #: stack frame of the eval-loop call it entered.
    address: Optional[int] = field(default=None, repr=False, compare=False)


@record
class PyThread:
    tid: int
    frame: Optional[PyFrame]  # the outermost frame
    native_frames: List[NativeFrame]
    holds_the_gil: int
    is_gc_collecting: int
    python_version: Optional[Tuple[int, int]]
    name: Optional[str] = None
    interpreter_id: Optional[int] = None
    is_waiting_for_gil: int = 0
    is_dropping_gil: int = 0
    #: Whether the thread state belongs to the main interpreter (ours, not upstream's:
    #: 3.6 numbers no interpreter, so `interpreter_id == 0` cannot tell it there).
    in_main_interpreter: Optional[bool] = field(default=None, repr=False, compare=False)
    #: The thread's id in its own PID namespace (a container's), where it differs
    #: from `tid` (ours, as /proc and ps show it here); None otherwise. Ours.
    tid_in_namespace: Optional[int] = field(default=None, repr=False, compare=False)
    #: The thread's pthread_t (`threading.get_ident()`), as its thread state holds it.
    pthread_id: Optional[int] = field(default=None, repr=False, compare=False)

    @property
    def all_frames(self) -> Iterator[PyFrame]:
        """Every frame, shims included, outermost first."""
        frame = self.frame
        seen = 0
        while frame is not None and seen < 1 << 20:
            yield frame
            frame = frame.next
            seen += 1

    @property
    def frames(self) -> Iterator[PyFrame]:
        """The Python frames a user wrote, outermost first."""
        return (f for f in self.all_frames if not f.is_shim)

    @property
    def first_frame(self) -> Optional[PyFrame]:
        return next(self.frames, None)

    @property
    def gil_status(self) -> str:
        if self.holds_the_gil > 0:
            return "Has the GIL"
        if self.is_dropping_gil > 0 or _native_frame_named(self, "drop_gil"):
            return "Dropping the GIL"
        if self.is_waiting_for_gil > 0 or _native_frame_named(self, "take_gil"):
            return "Waiting for the GIL"
        return ""

    @property
    def gc_status(self) -> str:
        return "Garbage collecting" if self.is_gc_collecting > 0 else ""

    @property
    def status(self) -> str:
        """`[Has the GIL,Garbage collecting]`, brackets included, as Bloomberg's reads."""
        words = ["Thread terminated"] if self.tid == 0 else []
        words += [s for s in (self.gil_status, self.gc_status) if s]
        return "[" + ",".join(words) + "]"


def by_os_thread(threads: List[PyThread]) -> List[List[PyThread]]:
    """The thread states of each OS thread together: a thread that runs code in
    subinterpreters has one thread state per interpreter it entered, listed by the
    engine next to each other, outermost (the one that called into the others) first.
    Terminated thread states (tid 0) stand alone."""
    blocks: List[List[PyThread]] = []
    for thread in threads:
        if blocks and thread.tid and blocks[-1][0].tid == thread.tid:
            blocks[-1].append(thread)
        else:
            blocks.append([thread])
    return blocks


def several_interpreters(threads: List[PyThread]) -> bool:
    """Whether the threads ran in more than one interpreter (sections get labels)."""
    return len({(t.interpreter_id, t.in_main_interpreter) for t in threads}) > 1


def _native_frame_named(thread: PyThread, prefix: str) -> bool:
    return any(f.symbol.startswith(prefix) for f in thread.native_frames)


@record
class ProcessDump:
    """One process as a dump found it: its threads and what they ran on.

    `get_process_threads` returns only the threads, as Bloomberg's does; renderers
    that describe the process (JSON) take this.
    """

    pid: Optional[int]
    #: The executable as the target names it (None when unknown).
    executable: Optional[str]
    #: (major, minor, micro) of the interpreter, micro None where it cannot be told.
    python_version: Optional[Tuple[Optional[int], ...]]
    threads: List[PyThread]
    #: The parent's pid and the command line, where known (process trees, cores).
    ppid: Optional[int] = None
    command: Optional[str] = None
    #: Why the process was not dumped (`--subprocesses`: not Python, exited...);
    #: None for a process that was.
    skipped: Optional[str] = None
    #: The asyncio tasks (`--tasks`, `get_process_tasks`): every task found, those
    #: that await others before them; None when they were not read.
    tasks: Optional[List["AsyncTask"]] = None
    #: Event loops running in a thread: `(tid, pending tasks of that loop)`, read
    #: whenever a thread runs one (the line a plain dump prints after its stack).
    event_loops: List[Tuple[int, int]] = field(default_factory=list)


@record
class AsyncTask:
    """One asyncio task as a dump found it (ours: Bloomberg's pystack has none).

    `frames` is the task's coroutine stack as it is suspended, outermost (the task's
    own coroutine) first, down the chain of what each coroutine awaits; a running
    task's stack ends at its coroutine's frame (its thread's stack shows the rest).
    """

    #: The task object's address: what `awaited_by` refers to.
    id: int
    name: str
    #: "pending", "done" or "cancelled".
    state: str
    #: Whether a thread is running the task's coroutine right now.
    running: bool
    #: The tid of the thread whose event loop the task belongs to, None when no
    #: thread runs that loop.
    thread: Optional[int]
    loop: int
    frames: List[PyCodeObject]
    #: What the innermost coroutine awaits, in words (`Task 'fetch'`, `gather() of 3`,
    #: `Lock.acquire()`, `asyncio.sleep()`, `Future`), or None.
    awaits: Optional[str]
    #: Tasks awaiting this one (directly, through gather() or as a TaskGroup's parent).
    awaited_by: List[int] = field(default_factory=list)
    #: Done with an exception: its repr (`ValueError('boom')`).
    exception: Optional[str] = None
    #: The implementation: "_asyncio" (C) or "asyncio" (pure Python).
    implementation: str = "_asyncio"
