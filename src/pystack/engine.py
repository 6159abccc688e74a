"""The Python API: stacks of a live process (and, later, of a core) as `PyThread`s.

Same entry points, enums and semantics as Bloomberg's `pystack.engine`, so scripts
written for it run unchanged. The engine only wires the layers together: a target
gives memory, `cpython.locate` finds the interpreter, `cpython.threads` walks it.
"""
from __future__ import annotations

import os
import struct

from .cpython.locate import locate, named_like_python
from .cpython.memory import Memory
from .cpython.threads import ThreadReader
from .errors import (DetectedExecutableNotFound, EngineError, InvalidPythonProcess,
                     MemoryReadError, NotEnoughInformation, NotInitialised, PystackError)
from .target.base import Target
from .types import (AsyncTask, NativeReportingMode, ProcessDump, PyThread, StackMethod,
                    by_os_thread)
from . import log

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Iterable, List, Optional, Sequence

__all__ = ["StackMethod", "NativeReportingMode", "get_process_threads",
           "get_process_threads_for_core", "CoreFileAnalyzer"]



#: Characters per rendered value with --locals (the CLI's --locals-max-length).
DEFAULT_VALUE_LENGTH = 80


def get_process_threads(pid: int, stop_process: bool = True,
                        native_mode: NativeReportingMode = NativeReportingMode.OFF,
                        locals: bool = False,
                        method: StackMethod = StackMethod.AUTO, *,
                        max_value_length: int = DEFAULT_VALUE_LENGTH) -> List[PyThread]:
    """Python threads of the running process `pid`, stopping it while reading if asked."""
    return dump_process(pid, stop_process, native_mode, locals, method,
                        max_value_length=max_value_length).threads


def get_process_tasks(pid: int, stop_process: bool = True,
                      method: StackMethod = StackMethod.AUTO) -> List[AsyncTask]:
    """The asyncio tasks of the running process `pid` (ours: Bloomberg's pystack has
    no such call): every task found, with its suspended stack and awaiting edges.
    [] for a process without asyncio; 2.7-3.7 give [] with a warning logged."""
    return dump_process(pid, stop_process, method=method, tasks=True).tasks or []


def get_core_tasks(core_file, executable=None, library_search_path=None,
                   method: StackMethod = StackMethod.AUTO, *,
                   library_search_root=None) -> List[AsyncTask]:
    """`get_process_tasks` for a core dump (arguments as `get_process_threads_for_core`)."""
    method = _checked_method(method)
    with open_core(core_file, executable, library_search_path, library_search_root) as core:
        return dump_core(core, method=method, tasks=True).tasks or []


def dump_process(pid: int, stop_process: bool = True,
                 native_mode: NativeReportingMode = NativeReportingMode.OFF,
                 locals: bool = False,
                 method: StackMethod = StackMethod.AUTO, *,
                 max_value_length: int = DEFAULT_VALUE_LENGTH,
                 exact_version: bool = False, tasks: bool = False) -> ProcessDump:
    """`get_process_threads`, with the process's executable and Python version.

    `exact_version`: before 3.11 the micro version is only in `sys.version`, a few
    reads more; asked for by the renderers that print it (JSON). `tasks`: read every
    asyncio task too (`ProcessDump.tasks`)."""
    from .target.live import LiveProcess

    method = _checked_method(method)
    if native_mode != NativeReportingMode.OFF and not stop_process:
        raise EngineError("native stacks need the threads stopped: "
                          "they cannot be combined with --no-block")
    with LiveProcess(pid, stop=stop_process) as process:
        if stop_process:
            dump = _dump_of(process, cache=True, locals=locals,
                            max_value_length=max_value_length, method=method,
                            exact_version=exact_version, tasks=tasks)
            if native_mode != NativeReportingMode.OFF:
                with _native_unwinder(process) as unwinder:
                    dump.threads = _add_native(dump.threads, unwinder, process, native_mode)
        else:
            dump = _dump_without_stopping(process, locals=locals,
                                          max_value_length=max_value_length, method=method,
                                          exact_version=exact_version, tasks=tasks)
        try:
            dump.executable = process.exe  # known since the interpreter was found
        except PystackError:
            dump.executable = None
        return dump


def dump_process_tree(pid: int, **options) -> List[ProcessDump]:
    """`pid` and every descendant, parents first, each dumped on its own.

    Each process is stopped only while it is read, one after the other. Processes
    that cannot be dumped (not Python, gone meanwhile, a zombie, refused) come back
    with `skipped` saying why and no threads; `options` are `dump_process`'s. When
    not one process could be dumped, the root's own error is raised.
    """
    from .errors import InvalidPythonProcess
    from .target import procfs
    from .target.tree import process_tree

    status = procfs.read_status(pid)  # ProcessNotFound for a pid that is not there
    root = int(status.get("Tgid", pid) or pid)  # a thread's tid names its process
    dumps: List[ProcessDump] = []
    root_error: Optional[PystackError] = None
    exhaustive = _checked_method(options.get("method", StackMethod.AUTO)) == StackMethod.ALL.value
    for node in process_tree(root):
        reason: Optional[str] = None
        if node.pid == os.getpid():
            reason = "pystack itself"
        elif not exhaustive and not _may_run_python(node.pid):
            reason = "not a Python process"  # told without stopping it
        else:
            try:
                dump = dump_process(node.pid, **options)
            except PystackError as exc:
                if node.pid == root:
                    root_error = exc
                reason = _why_skipped(exc)
        if reason is not None:
            log.info("process %d skipped: %s", node.pid, reason)
            dump = ProcessDump(pid=node.pid, executable=None, python_version=None,
                               threads=[], skipped=reason)
        dump.ppid, dump.command = node.ppid, node.command
        dumps.append(dump)
    if all(d.skipped for d in dumps):
        raise root_error or InvalidPythonProcess(f"no Python process in the tree of pid {root}")
    return dumps


def _may_run_python(pid: int) -> bool:
    """Whether a process may hold an interpreter, told without stopping it.

    The interpreter is only ever looked for in mapped files named like Python and in
    the executable (an embedding program); a tree's shells, `sleep`s and helpers
    have neither, and need not be stopped to learn it. Anything unsure says yes.
    """
    from .binaries.elf import ElfFile
    from .errors import ElfError
    from .target import procfs
    try:
        maps = procfs.read_maps(pid)
    except PystackError:
        return True  # let the dump say what is wrong
    if any(m.path and named_like_python(m.path) for m in maps):
        return True
    try:
        elf = ElfFile(f"/proc/{pid}/exe")
    except (ElfError, OSError):
        return True
    try:
        return (elf.section(".PyRuntime") is not None
                or elf.symbol("Py_Initialize") is not None
                or elf.symbol("Py_InitializeEx") is not None)
    except (ElfError, ValueError):
        return True
    finally:
        elf.close()


def _why_skipped(error: PystackError) -> str:
    """A process of a tree that was not dumped, in a few words."""
    from .errors import InvalidPythonProcess, ProcessExited, ProcessNotFound, ZombieProcess
    if isinstance(error, NotInitialised):
        return "its Python is not initialised yet, or already finalised"
    if isinstance(error, InvalidPythonProcess):
        return "not a Python process"
    if isinstance(error, (ProcessNotFound, ProcessExited)):
        return "exited during the dump"
    if isinstance(error, ZombieProcess):
        return "a zombie"
    return str(error)


def get_process_threads_for_core(core_file, executable=None,
                                 library_search_path=None,
                                 native_mode: NativeReportingMode = NativeReportingMode.PYTHON,
                                 locals: bool = False,
                                 method: StackMethod = StackMethod.AUTO,
                                 *, library_search_root=None,
                                 max_value_length: int = DEFAULT_VALUE_LENGTH) -> List[PyThread]:
    """Python threads of a core dump.

    `library_search_path` is a ':'-separated string (or a list) of directories where
    the core's shared libraries are looked for by file name; `library_search_root` a
    directory (a container image, a chroot) under which every path the core names is
    resolved.
    """
    method = _checked_method(method)  # before the core is even opened
    with open_core(core_file, executable, library_search_path, library_search_root) as core:
        return dump_core(core, native_mode=native_mode, locals=locals, method=method,
                         max_value_length=max_value_length).threads


def _checked_method(method) -> int:
    """The bits of a `StackMethod` (or an int of them), else ValueError before
    anything is touched."""
    try:
        if isinstance(method, StackMethod):
            return method.value
        if isinstance(method, bool) or method is None:
            raise TypeError
        value = method.__index__()  # ints only, not 1.5 nor "55"
        if not value or value & ~StackMethod.ALL.value:  # nothing, or unknown bits
            raise ValueError
        return value
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"invalid method: {method!r} (a pystack.engine.StackMethod)") from None


def open_core(core_file, executable=None, library_search_path=None,
              library_search_root=None):
    from .target.core import CoreFile

    if isinstance(library_search_path, (str, os.PathLike)):  # "a:b", or one directory
        library_search_path = [p for p in os.fspath(library_search_path).split(":") if p]
    return CoreFile(core_file, executable, lib_search_path=library_search_path,
                    lib_search_root=library_search_root)


def threads_of_core(core, *, native_mode: NativeReportingMode = NativeReportingMode.OFF,
                    locals: bool = False,
                    method: StackMethod = StackMethod.AUTO,
                    max_value_length: int = DEFAULT_VALUE_LENGTH) -> List[PyThread]:
    """Threads of an already opened `CoreFile` (the CLI prints its header first)."""
    return dump_core(core, native_mode=native_mode, locals=locals, method=method,
                     max_value_length=max_value_length).threads


def dump_core(core, *, native_mode: NativeReportingMode = NativeReportingMode.OFF,
              locals: bool = False,
              method: StackMethod = StackMethod.AUTO,
              max_value_length: int = DEFAULT_VALUE_LENGTH,
              exact_version: bool = False, tasks: bool = False) -> ProcessDump:
    """`threads_of_core`, with the executable and Python version (see `dump_process`)."""
    method = _checked_method(method)
    if native_mode == NativeReportingMode.PYTHON and not _native_available():
        native_mode = NativeReportingMode.OFF  # the API's default for cores: best effort
    try:
        dump = _dump_of(core, cache=True, locals=locals, max_value_length=max_value_length,
                        method=method, exact_version=exact_version, tasks=tasks)
    except (InvalidPythonProcess, NotEnoughInformation) as exc:
        _blame_a_missing_executable(core, exc)
        raise
    if native_mode != NativeReportingMode.OFF:
        with _native_unwinder(core, core=True) as unwinder:
            dump.threads = _add_native(dump.threads, unwinder, core, native_mode)
    dump.executable = core.executable
    return dump


def _blame_a_missing_executable(core, exc: Exception) -> None:
    """No interpreter found in a core whose executable could not be found here (a
    core of a container or chroot, read without its root): that is the failure to
    report, with its remedy, rather than "not a Python process"."""
    if core.executable is not None or isinstance(exc, NotInitialised):
        return
    named = core.exe_mapping_path or "the executable"
    raise DetectedExecutableNotFound(
        f"{named}, the executable the core names, is not on this machine, and without "
        f"it no interpreter was found ({exc}): pass the root filesystem the process ran "
        "in (a container image, a chroot) with --lib-search-root, or the executable as "
        "the second argument", corefile=core.path) from exc


def _native_available() -> bool:
    """Whether native frames can be read here: always on x86-64 (our own unwinder
    stands in for libdw), elsewhere only with libdw."""
    from .native import libdw
    return libdw.available() or os.uname().machine == "x86_64"


def _native_unwinder(target: Target, core: bool = False):
    """On x86-64 our own unwinder walks the stacks, and libdw, where elfutils loads,
    names the frames (source lines, inlined calls; without it, names from symbol
    tables): libdw never attaches to the threads. Elsewhere libdw does both."""
    from .native import libdw
    x86_64 = os.uname().machine == "x86_64"
    if not libdw.available() and x86_64:
        from .native.cfi_unwind import CfiUnwinder
        return CfiUnwinder.for_target(target, core=core)
    from .native.unwind import NativeUnwinder
    if core:
        namer = NativeUnwinder.for_core(target.core_path, target.executable,
                                        lib_search_path=target.lib_search_path or None,
                                        lib_search_root=target.lib_search_root,
                                        attach=not x86_64)
    else:
        namer = NativeUnwinder.for_process(target.pid, root=target.root, attach=not x86_64)
    if not x86_64:
        return namer
    from .native.cfi_unwind import CfiUnwinder
    from .native.session import NativeSession
    try:
        return NativeSession(CfiUnwinder.for_target(target, core=core), namer)
    except BaseException:
        namer.close()
        raise


def _add_native(threads: List[PyThread], unwinder, target: Target,
                mode: NativeReportingMode) -> List[PyThread]:
    """Give every thread its native frames (outermost first), plumbing removed.

    Eval-loop frames keep only their symbol and library (file "???", line 0): the
    merge replaces them with Python frames, and their source lines are the costliest
    DWARF lookups of a dump. So do, with NativeReportingMode.LAST, the frames above
    the innermost eval-loop call, which that mode does not print.

    With NativeReportingMode.ALL, threads the interpreter does not know (started from C)
    are added with their native frames only.
    """
    from .native.jit import AnonymousCode, CodeWithoutModule
    from .native.merge import EVAL_FRAMES, frames_holding, is_collecting, is_eval_frame, is_plumbing

    libraries = _python_libraries(threads, target)
    version = threads[0].python_version if threads else None

    # --native-last prints only the native frames below the innermost Python frame.
    only_innermost = mode == NativeReportingMode.LAST

    # our unwinder has already mapped the target's anonymous code; libdw's has not
    anonymous = getattr(unwinder, "anonymous_code", None) or AnonymousCode(target.mappings())
    jitted = CodeWithoutModule(target.read, anonymous, unwinder.module_path,
                               _perf_map_path(target))

    def native_of(tid: int, entries: Sequence[int] = ()) -> list:
        frames = []
        below_python = True  # no eval-loop frame met yet (walking innermost first)
        raws = unwinder.unwind(tid)  # innermost first
        eval_calls = frames_holding(raws, entries)
        for index, raw in enumerate(raws):
            # Frames the merge replaces or hides are known by their symbol; only the
            # frames that are printed get file, line and inlined callees from DWARF.
            head = unwinder.function_of(raw)
            if index in eval_calls and (head is None or not is_eval_frame(head)):
                # An entry frame lives in this C frame: the eval loop, unnamed here.
                head = unwinder.unnamed(raw, EVAL_FRAMES[0])
            if head is None:
                if jitted.is_trampoline(raw):
                    continue  # plumbing: the Python frame it entered says it all
                anonymous = jitted.frame(raw)
                if anonymous is not None:
                    frames.append(anonymous)
                    continue
            if head is not None and is_eval_frame(head):
                frames.append(head)
                below_python = False
                continue
            if head is not None and is_plumbing(head, libraries):
                continue
            if head is not None and only_innermost and not below_python:
                frames.append(head)  # never printed: its symbol is enough
                continue
            chain = unwinder.symbolize(raw)  # inlined callees first, the function last
            if not chain:
                continue
            function = chain[-1]
            if is_eval_frame(function):
                frames.append(function)  # what it inlined is the eval loop's own business
            elif not is_plumbing(function, libraries):
                frames.extend(f for f in chain if not is_plumbing(f, libraries))
        frames.reverse()
        return frames

    known = {t.tid for t in threads}
    for block in by_os_thread(threads):
        entries = [f.address for t in block for f in t.all_frames
                   if f.is_shim and f.address is not None]
        _give_native_frames(block, native_of(block[0].tid, entries))
        for thread in block:
            if is_collecting(thread.native_frames, libraries):
                thread.is_gc_collecting = 1
            elif thread.native_frames and thread.is_gc_collecting < 0:
                thread.is_gc_collecting = 0  # its native stack shows no collection
    if mode == NativeReportingMode.ALL:
        for tid in unwinder.threads():
            if tid not in known:
                threads.append(PyThread(tid=tid, frame=None, native_frames=native_of(tid),
                                        holds_the_gil=0, is_gc_collecting=0,
                                        python_version=version,
                                        name=target.thread_name(tid)))
    return threads


def _perf_map_path(target: Target) -> str:
    """Where the target's interpreter wrote its perf map: /tmp/perf-PID.map with the
    pid it has itself (in a container, its own namespace's), under its root."""
    pid = getattr(target, "pid", None) or 0
    own = target.namespace_tids().get(pid, pid)
    return target.host_path(f"/tmp/perf-{own}.map")


def _give_native_frames(block: List[PyThread], frames: list) -> None:
    """The native stack of one OS thread to its thread states: all of it to a thread
    that runs in one interpreter; split at the eval-loop calls that entered each
    interpreter for one that runs in several. When the split cannot be made, the
    innermost thread state with Python frames gets the whole stack (its merge then
    says why it cannot place them) and the others none."""
    if len(block) == 1:
        block[0].native_frames = frames
        return
    from .native.merge import split_between_interpreters
    parts = split_between_interpreters([list(t.frames) for t in block], frames)
    if parts is None:
        innermost = next((t for t in reversed(block) if t.frame is not None), block[-1])
        parts = [frames if t is innermost else [] for t in block]
    for thread, part in zip(block, parts):
        thread.native_frames = part


def _python_libraries(threads: List[PyThread], target: Target) -> tuple:
    """Names (as libdw reports modules) of the files that hold the interpreter."""
    names = set()
    for m in target.mappings():
        name = os.path.basename(m.path or "")
        if name.startswith(("libpython", "python")):
            names.add(name)
    return tuple(names)


NO_BLOCK_ATTEMPTS = 5


def _dump_without_stopping(process: Target, **options) -> ProcessDump:
    """--no-block: the target runs while we read, so a walk may see a torn chain.

    Retry a few times and keep the first walk in which every chain was whole; if none
    was, return the last one (its broken frames are marked) rather than nothing.
    """
    last_error: Optional[Exception] = None
    dump: Optional[ProcessDump] = None
    for attempt in range(NO_BLOCK_ATTEMPTS):
        try:
            dump = _dump_of(process, cache=False, **options)
        except (MemoryReadError, NotInitialised) as exc:
            last_error = exc
            log.info("torn read on attempt %d: %s", attempt + 1, exc)
            continue
        if not any(f.corrupted_at for t in dump.threads for f in t.all_frames):
            return dump
        log.info("torn frame chain on attempt %d, retrying", attempt + 1)
    if dump is not None and dump.threads:
        return dump
    if last_error is None:  # every walk succeeded, and found no thread
        assert dump is not None
        return dump
    raise last_error


def _dump_of(target: Target, *, cache: bool, locals: bool = False,
             max_value_length: int = DEFAULT_VALUE_LENGTH,
             method: StackMethod = StackMethod.AUTO,
             exact_version: bool = False, tasks: bool = False) -> ProcessDump:
    mem = Memory(target, cache=cache)
    interpreter = locate(target, mem, method)
    if not interpreter.interp_head:
        raise NotInitialised("the Python interpreter is not initialised yet, "
                             "or already finalised")
    log.info("interpreter list at 0x%x (%s)", interpreter.interp_head, interpreter.method)
    reader = ThreadReader(mem, interpreter, locals=locals, max_value_length=max_value_length)
    threads = reader.threads()
    version = tuple(interpreter.version)
    if exact_version and (len(version) < 3 or version[2] is None):
        # the names libpythonX.Y say no more
        version = reader.sys_version() or version
    theirs_of = target.namespace_tids()  # empty unless the target is in a container
    if interpreter.layout.thread.native_thread_id is None:
        _assign_os_tids(target, mem, threads, theirs_of)
    else:
        _tids_as_seen_here(target, threads, theirs_of)
    _note_namespace_tids(threads, theirs_of)
    for thread in threads:
        if thread.name is None:
            thread.name = target.thread_name(thread.tid)
    found_tasks, event_loops = None, []
    if tasks or reader.event_loop_frames:  # a plain dump only counts them
        # after the tids are settled (from the OS before 3.11, a container's translated)
        from .cpython.tasks import process_tasks
        try:
            found_tasks, event_loops = process_tasks(reader, detail=tasks)
        except Exception as exc:  # noqa: BLE001 - the threads are what must come out
            log.warning("the asyncio tasks could not be read (%s: %s); please report it",
                        type(exc).__name__, exc)
    for warning in getattr(target, "warnings", ()):
        log.warning("%s", warning)
    log.info("%d threads, %d memory reads", len(threads), mem.reads)
    return ProcessDump(pid=target.pid, executable=None, python_version=version,
                       threads=threads, tasks=found_tasks, event_loops=event_loops)



def _tids_as_seen_here(target: Target, threads: List[PyThread],
                       theirs_of: dict) -> None:
    """3.11+ records each thread's tid as the thread saw it: in a container (its own
    PID namespace) that is not the tid /proc, ps and ptrace use here. Translate them
    through the target's NSpid lines (live) or, where those cannot tell (a core gcore
    wrote from outside the container), through the thread pointer of each task,
    which is the thread's pthread_t. A tid the target has is left alone: the usual
    case costs one look at the thread list."""
    known = set(target.thread_ids())
    strangers = [t for t in threads if t.tid and t.tid not in known]
    if not strangers:
        return
    ours_of = {theirs: ours for ours, theirs in theirs_of.items()}
    by_pointer: Optional[dict] = None
    for thread in strangers:
        ours = ours_of.get(thread.tid)
        if ours is None:
            if by_pointer is None:
                by_pointer = {p: tid for tid, p in target.thread_pointers().items()}
            ours = by_pointer.get(thread.pthread_id)
        if ours is None:
            log.warning("thread %d is not a thread of the target as seen from here: "
                        "showing the id it has in its own PID namespace", thread.tid)
            continue
        thread.tid_in_namespace, thread.tid = thread.tid, ours


def _note_namespace_tids(threads: List[PyThread], theirs_of: dict) -> None:
    """Each thread's own tid (in its container) where it differs from ours;
    `theirs_of` maps ours to theirs (`Target.namespace_tids`)."""
    if not theirs_of:
        return
    for thread in threads:
        theirs = theirs_of.get(thread.tid)
        if theirs is not None and theirs != thread.tid:
            thread.tid_in_namespace = theirs


def _assign_os_tids(target: Target, mem: Memory, threads: Iterable[PyThread],
                    theirs_of: dict) -> None:
    """Before 3.11 thread states know only pthread_t; find the kernel tid of each.

    Preferred: the thread pointer register (fs_base on x86-64) of every task, which
    is the pthread_t. Otherwise look inside glibc's `struct pthread` for the word
    holding a tid, at an offset that must agree for every thread.
    """
    threads = list(threads)
    by_pointer = getattr(target, "thread_pointers", lambda: {})()
    if by_pointer:
        tid_of = {pointer: tid for tid, pointer in by_pointer.items()}
        for t in threads:
            t.tid = tid_of.get(t.tid, t.tid)
        return
    blobs: dict = {}  # pthread_t -> the start of glibc's struct pthread
    for t in threads:
        if t.tid not in blobs:
            try:
                blobs[t.tid] = mem.read(t.tid, PTHREAD_SEARCH_SPAN)
            except MemoryReadError:
                continue
    # glibc stores the tid the thread has in its own PID namespace: ours, or in a
    # container seen from outside, the container's (then translated to ours)
    ours_of = {theirs: ours for ours, theirs in theirs_of.items()}
    for wanted, translate in ((set(target.thread_ids()), {}), (set(ours_of), ours_of)):
        offset = _tid_offset(blobs, wanted)
        if offset is not None:
            break
    else:
        log.warning("cannot match Python threads to OS threads: showing pthread ids")
        return
    for t in threads:
        if t.tid in blobs:
            tid = struct.unpack_from("<i", blobs[t.tid], offset)[0]
            t.tid = translate.get(tid, tid)


PTHREAD_SEARCH_SPAN = 1024


def _tid_offset(blobs: dict, wanted: set) -> Optional[int]:
    """The first offset at which every thread's struct pthread holds a tid of
    `wanted`, a different one for each thread (small numbers, a container's tids,
    are common words: only distinct values make the offset believable)."""
    candidates: Optional[set] = None
    for blob in blobs.values():
        found = {off for off in range(0, len(blob) - 3, 4)
                 if struct.unpack_from("<i", blob, off)[0] in wanted}
        candidates = found if candidates is None else candidates & found
        if not candidates:
            return None
    for offset in sorted(candidates or ()):
        values = [struct.unpack_from("<i", blob, offset)[0] for blob in blobs.values()]
        if len(set(values)) == len(values):
            return offset
    return None


class CoreFileAnalyzer:
    """Facts about a core file, with the method names of Bloomberg's pystack."""

    def __init__(self, core_file, executable=None, lib_search_path=None,
                 lib_search_root=None) -> None:
        self.core = open_core(core_file, executable, lib_search_path, lib_search_root)

    def __enter__(self) -> "CoreFileAnalyzer":
        return self

    def __exit__(self, *exc) -> None:
        self.core.close()

    def extract_maps(self) -> list:
        """Every mapping as a `pystack.maps.VirtualMap` (attributes, as Bloomberg's)."""
        from pathlib import Path

        from .maps import VirtualMap
        return [VirtualMap(start=m.start, end=m.end,
                           filesize=self.core.bytes_held(m.start, m.end), offset=m.offset,
                           device="", flags=m.perms, inode=0,
                           path=Path(m.path) if m.path else None)
                for m in self.core.mappings()]

    def extract_pid(self) -> Optional[int]:
        return self.core.pid

    def extract_executable(self):
        from pathlib import Path
        executable = self.core.executable
        return Path(executable) if executable else None

    def extract_failure_info(self) -> dict:
        """The signal that ended the process, as Bloomberg's gives it: every key
        always there, 0 where the signal carries no such fact (no sender for a fault,
        no address for a kill). Without NT_SIGINFO (old kernels), the first thread's
        NT_PRSTATUS gives number, code and errno."""
        facts = {"si_signo": 0, "si_errno": 0, "si_code": 0, "sender_pid": 0,
                 "sender_uid": 0, "failed_addr": 0}
        info = self.core.siginfo
        if info is not None:
            facts.update(si_signo=info.signo, si_errno=info.errno, si_code=info.code,
                         sender_pid=info.sender_pid or 0, sender_uid=info.sender_uid or 0,
                         failed_addr=info.fault_address or 0)
        elif self.core.prstatus:
            status = self.core.prstatus[0]
            facts.update(si_signo=status.info_signo, si_errno=status.info_errno,
                         si_code=status.info_code)
        return facts

    def extract_ps_info(self) -> dict:
        ps = self.core.psinfo
        if ps is None:
            return {}
        # sname as the kernel's byte and psargs untrimmed, as Bloomberg's gives them
        return {"state": ps.state, "sname": ord(ps.sname) if ps.sname else 0,
                "zomb": int(ps.zombie),
                "nice": ps.nice, "flag": ps.flag, "uid": ps.uid, "gid": ps.gid,
                "pid": ps.pid, "ppid": ps.ppid, "pgrp": ps.pgrp, "sid": ps.sid,
                "fname": ps.fname, "psargs": ps.raw_psargs}

    def extract_build_ids(self) -> list:
        return list(self.core.build_ids())

    def extract_module_load_points(self) -> dict:
        points: dict = {}
        for fm in self.core.file_mappings:
            points.setdefault(fm.path, fm.start)
        return points

    def missing_modules(self) -> set:
        """The files the core maps that cannot be found, as a set of Paths (Bloomberg's)."""
        from pathlib import Path
        return {Path(path) for path in self.core.missing_files()}
