"""Readers for the /proc files that describe a live process.

Everything the live target learns about a process besides its memory comes
from here, so the parsing rules (and the errors a vanished or foreign process
turns into) are kept in one place.  Functions raise `ProcessNotFound` when the
process (or thread) is gone and `PermissionDenied` when /proc refuses access,
since that is what a missing/unreadable /proc entry means to the caller.
"""
from __future__ import annotations

import os

from pystack.errors import PermissionDenied, ProcessNotFound
from pystack.target.base import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Callable, Optional, TypeVar

    _T = TypeVar("_T")

PROC = "/proc"


def _proc_path(pid: int, *parts: object) -> str:
    return os.path.join(PROC, str(pid), *(str(p) for p in parts))


def _guard(pid: int, what: str, fn: Callable[[], _T]) -> _T:
    """Run a /proc access, translating OS errors into pystack errors.

    ESRCH shows up when reading a file whose task died after the open.
    """
    try:
        return fn()
    except (FileNotFoundError, ProcessLookupError) as exc:
        raise ProcessNotFound(f"no process with pid {pid}") from exc
    except PermissionError as exc:
        raise PermissionDenied(f"cannot read {what} of pid {pid}: {exc.strerror}") from exc


def _read_text(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "surrogateescape")


def exists(pid: int) -> bool:
    """Whether /proc has an entry for this pid (any state, zombies included)."""
    return os.path.exists(_proc_path(pid))


# --------------------------------------------------------------------- maps


def parse_maps(text: str) -> list[Mapping]:
    """Parse the text of /proc/PID/maps.

    Line format: ``start-end perms offset dev inode [path]``.  The path is kept
    exactly as the kernel prints it, so pseudo paths (``[heap]``, ``[vdso]``,
    ``[anon:name]``) and a ``" (deleted)"`` suffix survive; the suffix tells the
    caller the file on disk is no longer the one mapped.  The path may contain
    spaces, hence the bounded split.
    """
    out: list[Mapping] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split(None, 5)
        if len(fields) < 5:
            raise ValueError(f"malformed maps line: {line!r}")
        start_s, _, end_s = fields[0].partition("-")
        path: Optional[str] = fields[5] if len(fields) == 6 else None
        out.append(
            Mapping(
                start=int(start_s, 16),
                end=int(end_s, 16),
                offset=int(fields[2], 16),
                perms=fields[1],
                path=path or None,
            )
        )
    return out


#: What /proc/PID/maps appends to the path of a file unlinked since it was mapped.
DELETED_SUFFIX = " (deleted)"


def map_file_at(pid: int, start: int) -> Optional[str]:
    """/proc/PID/map_files/START-END of the mapping that starts at `start`: the file
    it was made from, whatever has happened to its path since (readable by whoever
    may ptrace the process); None when there is no such entry or it cannot be opened."""
    folder = _proc_path(pid, "map_files")
    prefix = f"{start:x}-"
    try:
        name = next((n for n in os.listdir(folder) if n.startswith(prefix)), None)
        if name is None:
            return None
        path = os.path.join(folder, name)
        os.close(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
    except OSError:
        return None
    return path


def read_maps(pid: int) -> list[Mapping]:
    return _guard(pid, "memory maps", lambda: parse_maps(_read_text(_proc_path(pid, "maps"))))


# ------------------------------------------------------------------ threads


def task_ids(pid: int) -> list[int]:
    """The tids of every task of the process, the main thread (tid == pid) first."""
    names = _guard(pid, "thread list", lambda: os.listdir(_proc_path(pid, "task")))
    tids = sorted(int(n) for n in names if n.isdigit())
    if pid in tids:
        tids.remove(pid)
        tids.insert(0, pid)
    return tids


def thread_name(pid: int, tid: int) -> Optional[str]:
    """The comm of one thread, or None if it is gone or unreadable."""
    try:
        return _read_text(_proc_path(pid, "task", tid, "comm")).rstrip("\n")
    except OSError:
        return None


def comm(pid: int) -> Optional[str]:
    """The command name of a process (any pid), or None if it is gone."""
    try:
        return _read_text(_proc_path(pid, "comm")).rstrip("\n")
    except OSError:
        return None


# ------------------------------------------------------------------- status


def parse_status(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key] = value.strip()
    return out


def read_status(pid: int, tid: Optional[int] = None) -> dict[str, str]:
    """The fields of /proc/PID/status (or of one task's status if `tid` is given)."""
    path = _proc_path(pid, "status") if tid is None else _proc_path(pid, "task", tid, "status")
    return _guard(pid, "status", lambda: parse_status(_read_text(path)))


def namespace_ids(status: dict[str, str]) -> list[int]:
    """NSpid of a parsed status: the id in every PID namespace from the reader's /proc
    (first) down to the task's own (last); one id when they are the same namespace."""
    try:
        return [int(word) for word in status.get("NSpid", "").split()]
    except ValueError:
        return []


def namespace_tids(pid: int) -> dict[int, int]:
    """Our tid -> the tid in the process's own PID namespace, for every task, when the
    process runs in a namespace of its own (a container); else empty. One read when
    it does not, which is the usual case."""
    if len(namespace_ids(read_status(pid))) < 2:
        return {}
    found = {}
    for tid in task_ids(pid):
        try:
            ids = namespace_ids(read_status(pid, tid))
        except ProcessNotFound:
            continue  # the thread exited
        if len(ids) >= 2:
            found[ids[0]] = ids[-1]
    return found


def start_time(pid: int) -> Optional[float]:
    """When the process started, in seconds since the epoch (None if unknown):
    field 22 of /proc/PID/stat counts clock ticks since boot; /proc/uptime says how
    long ago boot was, to the hundredth of a second (/proc/stat's btime only to the
    second, too coarse to tell a file written just after the start)."""
    import time
    try:
        fields = _read_text(_proc_path(pid, "stat")).rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        uptime = float(_read_text(os.path.join(PROC, "uptime")).split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - (uptime - started)


def own_status() -> dict[str, str]:
    """Our own /proc/self/status (capabilities, seccomp mode); empty if unreadable."""
    try:
        return parse_status(_read_text(os.path.join(PROC, "self", "status")))
    except OSError:
        return {}


def other_user_namespace(pid: int) -> bool:
    """Whether the process runs in a user namespace other than ours (False when
    that cannot be read)."""
    try:
        return os.readlink(_proc_path(pid, "ns", "user")) != \
            os.readlink(os.path.join(PROC, "self", "ns", "user"))
    except OSError:
        return False


def state_of(status: dict[str, str]) -> str:
    """The one-letter state (R, S, D, T, t, Z, X, ...) from a parsed status."""
    return status.get("State", "?")[:1]


def process_state(pid: int, tid: Optional[int] = None) -> str:
    return state_of(read_status(pid, tid))


def tracer_pid(pid: int, tid: Optional[int] = None) -> int:
    """The pid of the process tracing this task, 0 if none."""
    return int(read_status(pid, tid).get("TracerPid", "0") or 0)


def task_states(pid: int) -> dict[int, str]:
    """The state letter of every task that still exists, by tid."""
    out: dict[int, str] = {}
    for tid in task_ids(pid):
        try:
            out[tid] = process_state(pid, tid)
        except ProcessNotFound:
            continue
    return out


def is_process_stopped(pid: int) -> bool:
    """True if every task of `pid` is stopped: 't' (ptrace stop) or 'T' (job control).

    Meant for tests and diagnostics; a process that vanished counts as not stopped.
    """
    try:
        states = task_states(pid)
    except ProcessNotFound:
        return False
    return bool(states) and all(s in ("t", "T") for s in states.values())


_PF_KTHREAD = 0x00200000


def is_kernel_thread(pid: int) -> bool:
    """Whether pid is a kernel thread (no user memory, nothing to read).

    Uses the PF_KTHREAD bit of the flags in /proc/PID/stat, which every kernel
    has (the "Kthread:" status line only exists on recent ones).  The comm in
    stat is parenthesised and may contain spaces, so fields are counted from
    the last ')'.
    """
    text = _guard(pid, "stat", lambda: _read_text(_proc_path(pid, "stat")))
    fields = text[text.rfind(")") + 1 :].split()
    try:
        return bool(int(fields[6]) & _PF_KTHREAD)
    except (IndexError, ValueError):
        return False


# --------------------------------------------------------------------- misc


def exe_path(pid: int) -> str:
    """The executable as the target names it (inside its own mount namespace/root).

    Kernel threads and zombies have no exe; that is reported as ProcessNotFound
    (ENOENT) which callers of a Python target never legitimately see.
    """
    return _guard(pid, "executable", lambda: os.readlink(_proc_path(pid, "exe")))


def root_path(pid: int) -> str:
    return _proc_path(pid, "root")


def mem_path(pid: int) -> str:
    return _proc_path(pid, "mem")

