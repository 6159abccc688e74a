"""The Python API: stacks of a live process (and, later, of a core) as `PyThread`s.

Same entry points, enums and semantics as Bloomberg's `pystack.engine`, so scripts
written for it run unchanged. The engine only wires the layers together: a target
gives memory, `cpython.locate` finds the interpreter, `cpython.threads` walks it.
"""
from __future__ import annotations

import enum
import struct
from typing import Iterable, List, Optional

from .cpython.locate import Interpreter, locate
from .cpython.memory import Memory
from .cpython.threads import ThreadReader
from .errors import MemoryReadError, NotInitialised, NotSupportedYet
from .target.base import Target
from .types import NativeReportingMode, PyThread
from . import log

__all__ = ["StackMethod", "NativeReportingMode", "get_process_threads"]



class StackMethod(enum.IntFlag):
    ELF_DATA = 1
    SYMBOLS = 2
    BSS = 4
    ANONYMOUS_MAPS = 8
    HEAP = 16
    DEBUG_OFFSETS = 32
    AUTO = 55
    ALL = 63


def get_process_threads(pid: int, stop_process: bool = True,
                        native_mode: NativeReportingMode = NativeReportingMode.OFF,
                        locals: bool = False,
                        method: StackMethod = StackMethod.AUTO) -> List[PyThread]:
    """Python threads of the running process `pid`, stopping it while reading if asked."""
    from .target.live import LiveProcess

    _refuse_unsupported(native_mode, locals, method)
    with LiveProcess(pid, stop=stop_process) as process:
        if stop_process:
            return _threads_of(process, cache=True)
        return _threads_without_stopping(process)


NO_BLOCK_ATTEMPTS = 5


def _threads_without_stopping(process: Target) -> List[PyThread]:
    """--no-block: the target runs while we read, so a walk may see a torn chain.

    Retry a few times and keep the first walk in which every chain was whole; if none
    was, return the last one (its broken frames are marked) rather than nothing.
    """
    last_error: Optional[Exception] = None
    threads: List[PyThread] = []
    for attempt in range(NO_BLOCK_ATTEMPTS):
        try:
            threads = _threads_of(process, cache=False)
        except (MemoryReadError, NotInitialised) as exc:
            last_error = exc
            log.info("torn read on attempt %d: %s", attempt + 1, exc)
            continue
        if not any(f.corrupted_at for t in threads for f in t.all_frames):
            return threads
        log.info("torn frame chain on attempt %d, retrying", attempt + 1)
    if threads:
        return threads
    assert last_error is not None
    raise last_error


def _refuse_unsupported(native_mode: NativeReportingMode, locals: bool,
                        method: StackMethod) -> None:
    if native_mode != NativeReportingMode.OFF:
        raise NotSupportedYet("native stacks (--native, --native-all) are not supported yet")
    if locals:
        raise NotSupportedYet("--locals is not supported yet")
    if method & (StackMethod.BSS | StackMethod.ANONYMOUS_MAPS | StackMethod.HEAP) and \
            method not in (StackMethod.AUTO,):
        raise NotSupportedYet("--exhaustive is not supported yet")


def _threads_of(target: Target, *, cache: bool) -> List[PyThread]:
    mem = Memory(target, cache=cache)
    interpreter = locate(target, mem)
    if not interpreter.interp_head:
        raise NotInitialised("the Python interpreter is not initialised yet, "
                             "or already finalised")
    log.info("interpreter list at 0x%x (%s)", interpreter.interp_head, interpreter.method)
    threads = ThreadReader(mem, interpreter).threads()
    if interpreter.layout.thread.native_thread_id is None:
        _assign_os_tids(target, mem, threads)
    for thread in threads:
        if thread.name is None:
            thread.name = target.thread_name(thread.tid)
    log.info("%d threads, %d memory reads", len(threads), mem.reads)
    return threads


def _assign_os_tids(target: Target, mem: Memory, threads: Iterable[PyThread]) -> None:
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
    tids = set(target.thread_ids())
    candidates: Optional[set] = None
    blobs = {}
    for t in threads:
        try:
            blob = mem.read(t.tid, 1024)
        except MemoryReadError:
            continue
        blobs[t.tid] = blob
        found = {off for off in range(0, 1024, 4)
                 if struct.unpack_from("<i", blob, off)[0] in tids}
        candidates = found if candidates is None else candidates & found
    if candidates:
        offset = min(candidates)
        for t in threads:
            if t.tid in blobs:
                t.tid = struct.unpack_from("<i", blobs[t.tid], offset)[0]
    else:
        log.warning("cannot match Python threads to OS threads: showing pthread ids")
