"""A running process as a `Target`: stop it with ptrace, read it, let it go.

Why the design looks like this:

* Stopping uses PTRACE_SEIZE + PTRACE_INTERRUPT rather than PTRACE_ATTACH.
  ATTACH sends SIGSTOP, which the target could observe (or which could turn
  into a real job-control stop if we crashed); SEIZE creates no signal, and
  the stop we cause is reported as PTRACE_EVENT_STOP so it can be told apart
  from signals that were really sent to the target.
* Every task in /proc/PID/task is seized and interrupted, then waited for,
  and the listing is repeated until it shows no task we have not stopped,
  because a thread that was still running could create new threads.
* Memory is read with process_vm_readv (one syscall, scatter/gather, no
  ptrace needed), falling back to pread on /proc/PID/mem where seccomp or an
  old kernel refuses process_vm_readv.
* The target must never be left stopped: detaching happens in `__exit__`, if
  attaching fails half-way, and from SIGINT/SIGTERM handlers installed while
  attached (a module-level registry lets the handler find what to release).

Thread affinity: ptrace attachments belong to the OS thread that made them.
All ptrace calls of one `LiveProcess` (attach in `__enter__`, detach in
`__exit__`) must run on the same thread; the signal handlers (which Python
always runs on the main thread) can only release processes that the main
thread attached.  Anything attached from another thread is released by the
kernel when our process exits.
"""
from __future__ import annotations

import ctypes
import errno
import os
import sys
import time

# The C modules behind `signal` and `threading`: the same functions and int
# constants, without what signal.py (IntEnums) and threading.py cost at import
# (1-3 ms and ~1.5 ms of every start).
import _signal
import _thread
from ..records import record

from pystack.errors import (
    AlreadyTraced,
    EngineError,
    InvalidPythonProcess,
    MemoryReadError,
    PermissionDenied,
    ProcessExited,
    ProcessNotFound,
    PystackError,
    ZombieProcess,
)
from pystack.target import procfs, ptrace
from pystack.target.procfs import DELETED_SUFFIX
from pystack.target.base import Mapping, Target

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from types import FrameType, TracebackType
    from typing import Any, Callable, Optional, Union

#: How long one attach round may wait for the tasks it interrupted to stop.
#: A task only fails to stop in time when it sleeps uninterruptibly (a vfork
#: parent, a D-state I/O wait); we then go on without it rather than hang.
DEFAULT_STOP_TIMEOUT = 2.0

#: Upper bound on listing rounds, in case a process spawns threads faster
#: than we can stop them; each round stops every task seen so far.
_MAX_ROUNDS = 1000

_ADDRESS_LIMIT = 1 << 64
_DEAD_STATES = ("Z", "X")


@record
class _Task:
    """Our view of one seized task."""

    tid: int
    seized: bool = False
    stopped: bool = False
    #: Signal dequeued by a signal-delivery-stop; re-injected at detach.
    signal: int = 0
    #: The waitpid status that told us it stopped (kept for diagnostics).
    status: Optional[ptrace.WaitStatus] = None


class LiveProcess(Target):
    """Memory, mappings and threads of a running process.

    Use it as a context manager.  With ``stop=True`` (the default) every
    thread is stopped for the duration of the ``with`` block, so the reads
    see a consistent snapshot; with ``stop=False`` (``--no-block``) nothing
    is attached and reads race with the running target.
    """

    def __init__(self, pid: int, *, stop: bool = True, stop_timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        self.pid = pid
        self.stop = stop
        self.stop_timeout = stop_timeout
        self.root = procfs.root_path(pid)
        #: Tids that were seized but did not stop within `stop_timeout`.
        self.unstopped_tids: list[int] = []
        #: Every waitpid status seen while attaching/detaching: (tid, status).
        self.wait_log: list[tuple[int, ptrace.WaitStatus]] = []
        self._tasks: dict[int, _Task] = {}
        self._tracer_thread: Optional[int] = None
        self._entered = False
        self._attached = False
        self._released_by_signal: Optional[int] = None
        self._exe: Optional[str] = None
        self._maps_cache: Optional[list[Mapping]] = None
        self._threads_cache: Optional[list[int]] = None
        self._namespace_cache: Optional[dict[int, int]] = None
        self._use_vm_readv = ptrace.process_vm_readv_available()
        self._mem_fd: Optional[int] = None

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> "LiveProcess":
        if self._entered:
            raise RuntimeError("LiveProcess is not re-entrant")
        self._validate()
        self._entered = True
        if self.stop:
            self._tracer_thread = _thread.get_native_id()
            _register(self)
            try:
                self._attach()
            except BaseException:
                self.detach()
                raise
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        try:
            self.detach()
        finally:
            self.close()

    def close(self) -> None:
        """Close the /proc/PID/mem descriptor if the fallback opened one."""
        if self._mem_fd is not None:
            os.close(self._mem_fd)
            self._mem_fd = None

    @property
    def stopped(self) -> bool:
        """True while the target is held stopped by us."""
        return self._attached and bool(self._tasks)

    def _gone_error(self) -> EngineError:
        """The error for "the process is not there": before attach vs. mid-dump."""
        if self._entered:
            return ProcessExited(f"process {self.pid} exited while it was being read")
        return ProcessNotFound(f"no process with pid {self.pid}")

    def _validate(self) -> None:
        """Fail early, with a precise error, for targets we cannot or must not stop."""
        if self.pid <= 0:
            raise ProcessNotFound(f"no process with pid {self.pid}")
        status = procfs.read_status(self.pid)
        tgid = int(status.get("Tgid", self.pid) or self.pid)
        if tgid != self.pid:
            # A tid of a non-main thread is accessible under /proc too; the
            # process it belongs to is what the user means.
            self.pid = tgid
            self.root = procfs.root_path(tgid)
            status = procfs.read_status(tgid)
        if procfs.state_of(status) in _DEAD_STATES and self._all_tasks_dead():
            raise ZombieProcess(
                f"process {self.pid} is a zombie: it has exited and only waits for its parent to reap it"
            )
        if procfs.is_kernel_thread(self.pid):
            # Seizing one fails with EPERM, which would read as a permission problem.
            raise InvalidPythonProcess(f"pid {self.pid} is a kernel thread, not a Python process")
        if not self.stop:
            return
        if self.pid == os.getpid():
            raise EngineError(
                f"cannot stop pystack's own process (pid {self.pid}); a process cannot ptrace itself"
            )
        tracer = int(status.get("TracerPid", "0") or 0)
        if tracer:
            raise self._already_traced(tracer)

    def _all_tasks_dead(self) -> bool:
        try:
            states = procfs.task_states(self.pid)
        except ProcessNotFound:
            return True
        return all(s in _DEAD_STATES for s in states.values())

    def _already_traced(self, tracer: int, os_words: str = "") -> AlreadyTraced:
        """`os_words`: what the kernel said, when it refused us (two debuggers racing)."""
        name = procfs.comm(tracer) or "?"
        said = f" ({os_words})" if os_words else ""
        return AlreadyTraced(
            f"process {self.pid} is already traced by pid {tracer} ({name}){said}; "
            "detach that debugger first or use --no-block"
        )

    def _permission_denied(self) -> PermissionDenied:
        """Build the EPERM message with only the causes and remedies that apply here:
        another user's process, a missing CAP_SYS_PTRACE (a container started without
        it), Yama's ptrace_scope, a seccomp filter, another user namespace."""
        try:
            uid = int(procfs.read_status(self.pid)["Uid"].split()[0])
        except (PystackError, KeyError, ValueError, IndexError):
            uid = None
        try:
            with open("/proc/sys/kernel/yama/ptrace_scope") as f:
                scope = int(f.read().strip())
        except (OSError, ValueError):
            scope = 0
        me = procfs.own_status()
        euid = os.geteuid()
        causes = []
        privileged = _has_capability(me, CAP_SYS_PTRACE)
        if uid is not None and uid != euid and not (euid == 0 and privileged):
            causes.append(f"it belongs to uid {uid}, you are uid {euid}")
        if not privileged:
            causes.append("this process lacks CAP_SYS_PTRACE" + (
                " although it runs as root (a container started without "
                "--cap-add SYS_PTRACE, or a pod without SYS_PTRACE in "
                "securityContext.capabilities.add)" if euid == 0 else ""))
        if scope >= 1:
            causes.append(f"/proc/sys/kernel/yama/ptrace_scope is {scope}")
        if me.get("Seccomp", "0") not in ("0", ""):
            causes.append("a seccomp filter is active here, and may forbid ptrace "
                          "(--no-block reads memory without it)")
        if procfs.other_user_namespace(self.pid):
            causes.append("the process runs in another user namespace (a rootless "
                          "container): run pystack inside it (podman unshare, "
                          f"nsenter --user --target {self.pid}) or as root on the host")
        remedy = "run pystack as root with CAP_SYS_PTRACE"
        if scope >= 1:
            remedy += ", or set /proc/sys/kernel/yama/ptrace_scope to 0"
        why = f" ({'; '.join(causes)})" if causes else ""
        return PermissionDenied(f"not permitted to ptrace pid {self.pid}{why}: {remedy}")

    # ------------------------------------------------------------ attaching

    def _attach(self) -> None:
        """Seize, interrupt and wait for every task until no new task shows up."""
        gone: set[int] = set()
        for _ in range(_MAX_ROUNDS):
            self._check_not_released()
            try:
                tids = procfs.task_ids(self.pid)
            except ProcessNotFound:
                tids = []
            new = [t for t in tids if t not in self._tasks and t not in gone]
            if not new:
                break
            # Interrupt the whole batch before waiting so the tasks stop in
            # parallel; the first wait then usually finds the others stopped.
            for tid in new:
                if not self._seize(tid):
                    gone.add(tid)
            deadline = time.monotonic() + self.stop_timeout
            for tid in new:
                task = self._tasks.get(tid)
                if task is not None and not task.stopped:
                    self._wait_for_stop(task, deadline)
        self._check_not_released()
        if not self._tasks:
            if procfs.exists(self.pid) and self._all_tasks_dead():
                raise ZombieProcess(f"process {self.pid} became a zombie while we attached")
            raise ProcessNotFound(f"no process with pid {self.pid} (it exited while we attached)")
        self._attached = True

    def _check_not_released(self) -> None:
        if self._released_by_signal is not None:
            import signal  # only for this rare message

            name = signal.Signals(self._released_by_signal).name
            raise EngineError(f"interrupted by {name} while stopping process {self.pid}")

    def _seize(self, tid: int) -> bool:
        """Seize and interrupt one task; False if it vanished or is a zombie."""
        task = _Task(tid)
        # Registered before the syscall so a signal arriving right after the
        # seize still finds the task to release.
        self._tasks[tid] = task
        try:
            ptrace.seize(tid)
        except ProcessLookupError:
            del self._tasks[tid]
            return False
        except PermissionError:
            del self._tasks[tid]
            self._explain_eperm(tid)
            return False
        task.seized = True
        # A signal handler may have released everything between the two
        # statements above; put the task back so the caller's cleanup sees it.
        self._tasks.setdefault(tid, task)
        try:
            ptrace.interrupt(tid)
        except ProcessLookupError:
            pass  # exiting; waitpid will report its exit
        return True

    def _explain_eperm(self, tid: int) -> None:
        """Raise the right error for EPERM on seize, or return if the task is just dying.

        The kernel also answers EPERM for a task that has started exiting
        (exit_state set, e.g. a main thread that called pthread_exit), which
        is not an error for us: that task runs no Python code any more.
        """
        try:
            status = procfs.read_status(self.pid, tid)
        except ProcessNotFound:
            return
        if procfs.state_of(status) in _DEAD_STATES:
            return
        tracer = int(status.get("TracerPid", "0") or 0)
        if tracer:  # it won the race to attach: say so, in the kernel's words too
            raise self._already_traced(tracer, os.strerror(errno.EPERM))
        raise self._permission_denied()

    def _wait_for_stop(self, task: _Task, deadline: float) -> None:
        """Poll waitpid until `task` reports a stop or exit, or `deadline` passes.

        Statuses a seized task can report here:
        * PTRACE_EVENT_STOP (status>>16 == 128) with SIGTRAP: our interrupt;
          with SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU: it is in a group-stop (it was
          stopped by job control before or while we attached).  Nothing to
          re-inject in both cases; detaching returns it to the group-stop.
        * event 0 with signal S: a signal-delivery-stop — the task dequeued S
          before noticing our interrupt.  It is stopped, but S must be passed
          back at detach or the target loses it.
        * exited / killed: the task is gone (threads end all the time).
        Polling with WNOHANG (instead of a blocking waitpid) bounds the wait
        for tasks in an uninterruptible sleep, which cannot stop until it ends.
        """
        tid = task.tid
        delay = 0.0
        polls = 0
        while True:
            if self._tasks.get(tid) is not task:
                return  # released meanwhile (by a signal handler)
            try:
                st = ptrace.wait_nohang(tid)
            except ChildProcessError:
                # Not our tracee (any more): it was reaped or never seized.
                self._tasks.pop(tid, None)
                return
            if st is not None:
                self.wait_log.append((tid, st))
                if st.exited:
                    self._tasks.pop(tid, None)
                    return
                if st.stopped:
                    task.stopped = True
                    task.status = st
                    task.signal = st.pending_signal
                    return
                continue
            polls += 1
            if polls > 8 and self._task_dead(tid):
                # An exiting main thread stays a zombie (and never reports
                # to waitpid) until all other threads are gone.
                self._tasks.pop(tid, None)
                return
            if time.monotonic() >= deadline:
                if tid not in self.unstopped_tids:
                    self.unstopped_tids.append(tid)
                return
            time.sleep(delay)
            delay = min(max(delay * 2, 5e-5), 0.01)

    def _task_dead(self, tid: int) -> bool:
        try:
            return procfs.process_state(self.pid, tid) in _DEAD_STATES
        except ProcessNotFound:
            return True

    # ------------------------------------------------------------ detaching

    def detach(self) -> None:
        """Release every task we seized; safe to call repeatedly.

        A task can only be detached from a ptrace stop, so one that has not
        stopped yet (seized a moment ago, or stuck in an uninterruptible
        sleep) is interrupted and waited for first.  A task still not stopped
        after `stop_timeout` stays traced until our process exits, when the
        kernel detaches it.
        """
        if self._tasks and self._tracer_thread not in (None, _thread.get_native_id()):
            raise RuntimeError(
                "LiveProcess must be detached from the OS thread that attached it "
                "(ptrace attachments belong to a thread)"
            )
        try:
            for tid in list(self._tasks):
                task = self._tasks.get(tid)
                if task is not None:
                    self._detach_task(task)
                self._tasks.pop(tid, None)
        finally:
            self._attached = False
            self._maps_cache = None
            self._threads_cache = None
            self._namespace_cache = None
            _unregister(self)

    def _detach_task(self, task: _Task) -> None:
        if not task.seized:
            return
        tid = task.tid
        if not task.stopped:
            try:
                ptrace.interrupt(tid)
            except OSError:
                pass
            self._wait_for_stop(task, time.monotonic() + self.stop_timeout)
            if not task.stopped:
                return
        try:
            ptrace.detach(tid, task.signal)
        except ProcessLookupError:
            # Died while stopped (SIGKILL): collect its exit so it does not
            # linger as our tracee.
            try:
                st = ptrace.wait_nohang(tid)
                if st is not None:
                    self.wait_log.append((tid, st))
            except ChildProcessError:
                pass
        task.seized = task.stopped = False

    def _release_from_signal(self, signum: int) -> None:
        self._released_by_signal = signum
        self.detach()

    # ------------------------------------------------------------ memory

    def read(self, address: int, size: int) -> bytes:
        """Return exactly `size` bytes at `address` or raise MemoryReadError."""
        if size < 0:
            raise ValueError("negative size")
        if size == 0:
            return b""
        if address < 0 or address + size > _ADDRESS_LIMIT:
            raise MemoryReadError(address, size, "address out of range")
        if self._use_vm_readv:
            buf = ctypes.create_string_buffer(size)
            try:
                n = ptrace.process_vm_readv(self.pid, [(address, size)], [buf])
            except OSError as exc:
                if not self._vm_readv_unusable(exc):
                    raise self._read_error(exc, address, size) from exc
            else:
                if n == size:
                    return buf.raw
                raise MemoryReadError(address, size, f"only {n} bytes are mapped")
        return self._pread(address, size)

    def read_many(self, ranges: list[tuple[int, int]]) -> list[Optional[bytes]]:
        """Read several (address, size) ranges, None for those that cannot be read.

        All ranges go to one process_vm_readv call (IOV_MAX at a time).  The
        kernel stops at the first range it cannot read and reads nothing after
        it, so after a short transfer the failed range is marked None and the
        call is repeated for the rest.  Losing the whole process still raises
        ProcessExited: no later read could succeed.
        """
        results: list[Optional[bytes]] = [None] * len(ranges)
        todo: list[int] = []
        for i, (address, size) in enumerate(ranges):
            if size == 0:
                results[i] = b""
            elif size > 0 and address >= 0 and address + size <= _ADDRESS_LIMIT:
                todo.append(i)
        pos = 0
        while pos < len(todo) and self._use_vm_readv:
            batch = todo[pos : pos + ptrace.IOV_MAX]
            want = [ranges[i] for i in batch]
            bufs = [ctypes.create_string_buffer(size) for _, size in want]
            try:
                n = ptrace.process_vm_readv(self.pid, want, bufs)
            except OSError as exc:
                if self._vm_readv_unusable(exc):
                    break
                if exc.errno == errno.ESRCH:
                    raise self._read_error(exc, *want[0]) from exc
                pos += 1  # the first range failed outright
                continue
            for j, ((_, size), buf) in enumerate(zip(want, bufs)):
                if n < size:
                    pos += j + 1  # range j is short: skip it, retry the rest
                    break
                results[batch[j]] = buf.raw
                n -= size
            else:
                pos += len(batch)
        for i in todo[pos:]:
            try:
                results[i] = self._pread(*ranges[i])
            except MemoryReadError:
                results[i] = None
        return results

    def _vm_readv_unusable(self, exc: OSError) -> bool:
        """Switch to /proc/PID/mem if process_vm_readv itself is refused.

        ENOSYS: old kernel or libc.  EPERM: typically a container's seccomp
        profile; if it is a real permission problem, opening /proc/PID/mem
        fails as well and reports it.
        """
        if exc.errno in (errno.ENOSYS, errno.EPERM):
            self._use_vm_readv = False
            return True
        return False

    def _read_error(self, exc: OSError, address: int, size: int) -> EngineError:
        if exc.errno == errno.ESRCH:
            return self._gone_error()
        reason = "not mapped" if exc.errno in (errno.EFAULT, errno.EIO) else (exc.strerror or str(exc))
        return MemoryReadError(address, size, reason)

    def _pread(self, address: int, size: int) -> bytes:
        """Read through /proc/PID/mem, the fallback when process_vm_readv is refused."""
        if address < 0 or address + size > _ADDRESS_LIMIT:
            raise MemoryReadError(address, size, "address out of range")
        fd = self._open_mem()
        chunks: list[bytes] = []
        got = 0
        while got < size:
            try:
                data = os.pread(fd, size - got, address + got)
            except OverflowError as exc:  # offsets are signed: kernel half
                raise MemoryReadError(address, size, "address out of range") from exc
            except OSError as exc:
                raise self._read_error(exc, address, size) from exc
            if not data:
                # The mm is gone once the process exits: reads return 0.
                if not procfs.exists(self.pid) or self._all_tasks_dead():
                    raise self._gone_error()
                raise MemoryReadError(address, size, "not mapped")
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)

    def _open_mem(self) -> int:
        if self._mem_fd is None:
            try:
                self._mem_fd = os.open(procfs.mem_path(self.pid), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError as exc:
                raise self._gone_error() from exc
            except PermissionError as exc:
                raise self._permission_denied() from exc
        return self._mem_fd

    # ------------------------------------------------------------ metadata

    def mappings(self) -> list[Mapping]:
        """The target's memory map; cached while it is stopped (it cannot change)."""
        if self._maps_cache is not None and self.stopped:
            return list(self._maps_cache)
        try:
            maps = procfs.read_maps(self.pid)
        except ProcessNotFound as exc:
            raise self._gone_error() from exc
        if not maps and self._all_tasks_dead():
            raise self._gone_error()
        if self.stopped:
            self._maps_cache = maps
        return list(maps)

    def thread_ids(self) -> list[int]:
        """OS thread ids, main thread first; cached while the target is stopped."""
        if self._threads_cache is not None and self.stopped:
            return list(self._threads_cache)
        try:
            tids = procfs.task_ids(self.pid)
        except ProcessNotFound as exc:
            raise self._gone_error() from exc
        if self.stopped:
            self._threads_cache = tids
        return list(tids)

    def thread_name(self, tid: int) -> Optional[str]:
        return procfs.thread_name(self.pid, tid)

    def mapped_file_path(self, path: str) -> str:
        """A file deleted or replaced since it was mapped (`... (deleted)`: a package
        upgraded, an image rolled out under a running service) still opens as the
        process maps it, through /proc/PID/map_files; any other file as the base
        class finds it."""
        if path.endswith(DELETED_SUFFIX):
            first = min((m for m in self.mappings() if m.path == path),
                        key=lambda m: m.offset, default=None)
            mapped = procfs.map_file_at(self.pid, first.start) if first else None
            if mapped is not None:
                return mapped
        return super().mapped_file_path(path)

    def namespace_tids(self) -> dict[int, int]:
        """Our tid -> the target's own, for a process in its own PID namespace (a
        container); cached while the target is stopped."""
        if self._namespace_cache is not None and self.stopped:
            return dict(self._namespace_cache)
        try:
            found = procfs.namespace_tids(self.pid)
        except ProcessNotFound as exc:
            raise self._gone_error() from exc
        if self.stopped:
            self._namespace_cache = found
        return dict(found)

    @property
    def exe(self) -> str:
        """The executable path as the target names it (resolve with `host_path`)."""
        if self._exe is None:
            try:
                self._exe = procfs.exe_path(self.pid)
            except ProcessNotFound as exc:
                raise self._gone_error() from exc
        return self._exe

    def registers(self, tid: int) -> dict[str, int]:
        """General-purpose registers of a stopped thread (only with stop=True)."""
        task = self._tasks.get(tid)
        if task is None or not task.stopped:
            raise EngineError(f"thread {tid} of process {self.pid} is not stopped by us")
        try:
            return ptrace.get_registers(tid)
        except ProcessLookupError as exc:
            raise self._gone_error() from exc
        except OSError as exc:
            raise EngineError(f"cannot read registers of thread {tid}: {exc.strerror}") from exc

    def thread_pointers(self) -> dict[int, int]:
        """The thread pointer (x86-64 fs_base, aarch64 tpidr) of every stopped task.

        glibc's pthread_t is that pointer, so this maps the `thread_id` of a thread
        state to a kernel tid when the interpreter does not record the tid (< 3.11).
        Empty when the threads are not stopped (--no-block).
        """
        pointers = {}
        for tid, task in self._tasks.items():
            if not task.stopped:
                continue
            try:
                regs = ptrace.get_registers(tid)
            except OSError:
                continue
            pointer = regs.get("fs_base") or regs.get("tpidr")
            if pointer:
                pointers[tid] = pointer
        return pointers

    def signals_to_reinject(self) -> dict[int, int]:
        """Signals caught in a signal-delivery-stop, by tid (delivered at detach)."""
        return {tid: t.signal for tid, t in self._tasks.items() if t.signal}


# ---------------------------------------------------------------- capabilities

CAP_SYS_PTRACE = 19


def _has_capability(status: dict[str, str], capability: int) -> bool:
    """Whether a parsed /proc/self/status grants an effective capability (True when
    it cannot be told: no false accusation)."""
    try:
        return bool(int(status["CapEff"], 16) >> capability & 1)
    except (KeyError, ValueError):
        return True


# ---------------------------------------------------------------- signals
#
# While any LiveProcess holds a target stopped, SIGINT/SIGTERM first release
# the targets, then behave as they would have without us.  The registry is
# module-level because a signal handler has no other way to find them.

if TYPE_CHECKING:
    _Handler = Union[Callable[[int, Optional[FrameType]], Any], int, None]

_REGISTRY: list[LiveProcess] = []
_PREVIOUS: dict[int, _Handler] = {}
_HANDLED_SIGNALS = (_signal.SIGINT, _signal.SIGTERM)


def _in_main_thread() -> bool:
    """Whether this thread may install signal handlers, as far as `threading` knows.

    `threading` is only asked if something imported it already (importing it
    costs ~1.5 ms of every start).  Without it no `threading.Thread` exists, so
    this is the main thread, unless threads were started with `_thread`
    directly; `_signal.signal` refusing (ValueError) is handled for that case.
    """
    threading = sys.modules.get("threading")
    return threading is None or threading.current_thread() is threading.main_thread()


def _register(lp: LiveProcess) -> None:
    _REGISTRY.append(lp)
    if _PREVIOUS or not _in_main_thread():
        return
    for sig in _HANDLED_SIGNALS:
        prev = _signal.getsignal(sig)
        # SIG_IGN: the signal cannot interrupt us.  None: a handler installed
        # from C that we could not restore; leave it alone.
        if prev is None or prev == _signal.SIG_IGN:
            continue
        try:
            _signal.signal(sig, _on_signal)
        except ValueError:
            # "signal only works in main thread of the main interpreter": not
            # the main thread after all, so no handlers (none were installed).
            return
        _PREVIOUS[sig] = prev


def _unregister(lp: LiveProcess) -> None:
    while lp in _REGISTRY:
        _REGISTRY.remove(lp)
    if _REGISTRY or not _PREVIOUS or not _in_main_thread():
        return
    for sig, prev in list(_PREVIOUS.items()):
        if _signal.getsignal(sig) is _on_signal:
            try:
                _signal.signal(sig, prev)
            except ValueError:
                return  # not the main thread after all: it alone can restore them
        del _PREVIOUS[sig]


def _on_signal(signum: int, frame: Optional[FrameType]) -> None:
    """Detach everything this thread holds, then act as the previous handler would."""
    prev = _PREVIOUS.get(signum, _signal.SIG_DFL)
    me = _thread.get_native_id()
    for lp in list(_REGISTRY):
        if lp._tracer_thread == me:
            try:
                lp._release_from_signal(signum)
            except Exception:  # noqa: BLE001 - keep releasing the others
                pass
    if callable(prev):
        prev(signum, frame)
    elif prev == _signal.SIG_DFL:
        # Die (or stop) from the signal exactly as if we had not caught it.
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)
