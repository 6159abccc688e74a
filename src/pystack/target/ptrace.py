"""Thin ctypes wrappers around the Linux syscalls a live dump needs.

pystack must not run helper programs and ships no compiled extension, so the
few syscalls the standard library lacks (ptrace, process_vm_readv) are called
through libc with ctypes.  Every wrapper raises `OSError` carrying the real
errno; Python turns that into the matching subclass (`ProcessLookupError` for
ESRCH, `PermissionError` for EPERM, ...), and `live.py` maps those onto the
pystack error classes, because only it knows what a failure means for the dump.

Thread affinity: the kernel ties a ptrace attachment to the *thread* that made
it, not to the process.  Every ptrace request and every waitpid for a tracee
must therefore come from the OS thread that called `seize`; from any other
thread the kernel answers ESRCH/ECHILD as if the tracee did not exist.
`process_vm_readv` has no such restriction.
"""
from __future__ import annotations

import ctypes
import errno
import os

# The C module behind `signal` (same constants); signal.py builds IntEnums at
# import, which costs 1-3 ms of every start.
import _signal
from ..records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Optional, Sequence

# Requests (linux/ptrace.h).  Only the SEIZE family is used: unlike
# PTRACE_ATTACH it does not send SIGSTOP, so attaching cannot create a signal
# the target would later see, and job-control stops are reported distinctly.
PTRACE_DETACH = 17
PTRACE_GETREGSET = 0x4204
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207

#: Event number (status >> 16) of a stop caused by PTRACE_INTERRUPT or by a
#: group-stop of a seized tracee.
PTRACE_EVENT_STOP = 128

#: waitpid flag: wait for clone children (threads) too, which a tracer must
#: pass because most tracees are threads of a process that is not our child.
WALL = 0x40000000

NT_PRSTATUS = 1
_IOV_MAX = 1024  # sysconf(_SC_IOV_MAX) on Linux; the kernel's UIO_MAXIOV


class _IoVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


def _load_libc() -> ctypes.CDLL:
    # dlopen(NULL) gives the symbols already loaded in this process, which
    # includes libc whether it is glibc or musl, without naming the soname.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    return libc


_libc = _load_libc()
try:
    _process_vm_readv = _libc.process_vm_readv
    _process_vm_readv.restype = ctypes.c_ssize_t
    _process_vm_readv.argtypes = [
        ctypes.c_int,
        ctypes.POINTER(_IoVec),
        ctypes.c_ulong,
        ctypes.POINTER(_IoVec),
        ctypes.c_ulong,
        ctypes.c_ulong,
    ]
except AttributeError:  # a libc without the wrapper: behave like ENOSYS
    _process_vm_readv = None


def _raise_errno(what: str, pid: int) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}({pid}): {os.strerror(err)}")


def _ptrace(request: int, tid: int, addr: int = 0, data: int = 0, what: str = "ptrace") -> int:
    ctypes.set_errno(0)
    res = _libc.ptrace(request, tid, addr, data)
    if res == -1 and ctypes.get_errno() != 0:
        _raise_errno(what, tid)
    return res


def seize(tid: int, options: int = 0) -> None:
    """Become the tracer of one task without stopping it or sending it a signal."""
    _ptrace(PTRACE_SEIZE, tid, 0, options, "PTRACE_SEIZE")


def interrupt(tid: int) -> None:
    """Ask a seized task to enter a ptrace stop (reported as PTRACE_EVENT_STOP)."""
    _ptrace(PTRACE_INTERRUPT, tid, 0, 0, "PTRACE_INTERRUPT")


def detach(tid: int, sig: int = 0) -> None:
    """Release a stopped tracee, delivering `sig` to it if non-zero.

    Passing the signal seen in a signal-delivery-stop is how a tracer avoids
    swallowing it; with sig=0 that signal would be discarded.  The tracee must
    be in a ptrace stop, otherwise the kernel answers ESRCH.
    """
    _ptrace(PTRACE_DETACH, tid, 0, sig, "PTRACE_DETACH")


@record(frozen=True)
class WaitStatus:
    """A decoded waitpid status, limited to what a seize/interrupt tracer sees."""

    raw: int

    @property
    def exited(self) -> bool:
        """The task is gone (exited or killed); nothing is left to detach."""
        return os.WIFEXITED(self.raw) or os.WIFSIGNALED(self.raw)

    @property
    def stopped(self) -> bool:
        return os.WIFSTOPPED(self.raw)

    @property
    def stop_signal(self) -> int:
        return os.WSTOPSIG(self.raw) if self.stopped else 0

    @property
    def event(self) -> int:
        """The PTRACE_EVENT_* number, 0 for a plain signal-delivery-stop."""
        return (self.raw >> 16) & 0xFFFF if self.stopped else 0

    @property
    def is_event_stop(self) -> bool:
        """A stop from PTRACE_INTERRUPT (SIGTRAP) or a group-stop (SIGSTOP & co)."""
        return self.stopped and self.event == PTRACE_EVENT_STOP

    @property
    def is_group_stop(self) -> bool:
        return self.is_event_stop and self.stop_signal in _STOP_SIGNALS

    @property
    def pending_signal(self) -> int:
        """The signal a detach must re-inject so the target does not lose it.

        Only a signal-delivery-stop (event 0) has dequeued a signal from the
        task; for event stops the signal number only describes the stop.
        """
        if self.stopped and self.event == 0:
            return self.stop_signal
        return 0

    def describe(self) -> str:
        if os.WIFEXITED(self.raw):
            return f"exited({os.WEXITSTATUS(self.raw)})"
        if os.WIFSIGNALED(self.raw):
            return f"killed({_signame(os.WTERMSIG(self.raw))})"
        if self.stopped:
            if self.event:
                return f"event-stop({self.event}, {_signame(self.stop_signal)})"
            return f"signal-delivery-stop({_signame(self.stop_signal)})"
        return f"status(0x{self.raw:x})"


_STOP_SIGNALS = frozenset({_signal.SIGSTOP, _signal.SIGTSTP, _signal.SIGTTIN, _signal.SIGTTOU})


def _signame(sig: int) -> str:
    import signal  # diagnostics only: not worth its import time at start-up

    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


def wait_nohang(tid: int) -> Optional[WaitStatus]:
    """Poll one tracee for a state change; None if it has none to report yet.

    Uses os.waitpid (it retries on EINTR and lets Python signal handlers run)
    with __WALL so threads of a foreign process can be waited for.
    """
    pid, status = os.waitpid(tid, os.WNOHANG | WALL)
    if pid == 0:
        return None
    return WaitStatus(status)


# Register names of NT_PRSTATUS (struct user_regs_struct) per architecture.
_REGSETS: dict[str, tuple[str, ...]] = {
    "x86_64": (
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
        "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
        "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
    ),
    "aarch64": tuple(f"x{i}" for i in range(31)) + ("sp", "pc", "pstate"),
}


def get_registers(tid: int) -> dict[str, int]:
    """General-purpose registers of a stopped tracee, by name.

    PTRACE_GETREGSET(NT_PRSTATUS) is used instead of PTRACE_GETREGS because it
    exists on every architecture (aarch64 has no GETREGS).
    """
    names = _REGSETS.get(os.uname().machine)
    if names is None:
        raise OSError(errno.ENOSYS, f"registers of {os.uname().machine} are not supported")
    buf = (ctypes.c_uint64 * len(names))()
    iov = _IoVec(ctypes.cast(buf, ctypes.c_void_p), ctypes.sizeof(buf))
    _ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, ctypes.addressof(iov), "PTRACE_GETREGSET")
    return dict(zip(names, buf))


def process_vm_readv_available() -> bool:
    return _process_vm_readv is not None


def process_vm_readv(pid: int, ranges: Sequence[tuple[int, int]], buffers: Sequence[ctypes.Array]) -> int:
    """Scatter-read `ranges` of `pid` into `buffers` (one per range) in one syscall.

    Returns the number of bytes transferred, which is less than the total when
    a range is unreadable: the kernel stops at the first fault and reads no
    later range.  Raises OSError (ENOSYS if the libc lacks the call).  At most
    IOV_MAX ranges may be passed.
    """
    if _process_vm_readv is None:
        raise OSError(errno.ENOSYS, "process_vm_readv is not available")
    n = len(ranges)
    if n > _IOV_MAX:
        raise ValueError(f"at most {_IOV_MAX} ranges per call")
    local = (_IoVec * n)()
    remote = (_IoVec * n)()
    for i, ((address, size), buf) in enumerate(zip(ranges, buffers)):
        local[i].iov_base = ctypes.addressof(buf)
        local[i].iov_len = size
        remote[i].iov_base = address
        remote[i].iov_len = size
    ctypes.set_errno(0)
    res = _process_vm_readv(pid, local, n, remote, n, 0)
    if res < 0:
        _raise_errno("process_vm_readv", pid)
    return res


IOV_MAX = _IOV_MAX
