"""The block printed before the stacks of a core: who the process was and how it died."""
from __future__ import annotations

# The C module behind `signal` (same int constants); signal.py builds IntEnums
# at import, which costs 1-3 ms of every start.
import _signal

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Optional

# si_code values (include/uapi/asm-generic/siginfo.h) that mean "sent by a process"
_SENT_BY_PROCESS = {0: "kill", -1: "sigqueue", -6: "tkill"}
_FAULTS = {_signal.SIGSEGV: "a segmentation fault", _signal.SIGBUS: "a bus error",
           _signal.SIGILL: "an illegal instruction", _signal.SIGFPE: "a floating point error"}

_SIGNAL_NAMES: dict[int, str] = {}


def _signal_names() -> dict[int, str]:
    """{number: name} as `signal.Signals` names them, built from `_signal`.

    Signals takes the constants named SIG* (not SIG_*) and, for aliases such as
    SIGIOT/SIGABRT or SIGCLD/SIGCHLD, keeps the name that sorts first.
    """
    if not _SIGNAL_NAMES:
        for name in sorted(dir(_signal)):
            value = getattr(_signal, name)
            if (name.startswith("SIG") and not name.startswith("SIG_") and name.isupper()
                    and type(value) is int):
                _SIGNAL_NAMES.setdefault(value, name)
    return _SIGNAL_NAMES


def signal_name(number: int) -> str:
    name = _signal_names().get(number)
    return name if name is not None else f"signal {number}"


def core_header(core) -> list[str]:
    """`Core file information:` and the cause of death, true to the core's notes."""
    lines = ["Core file information:"]
    ps = core.psinfo
    if ps is not None:
        lines += [
            f"state: {ps.sname} zombie: {ps.zombie} niceness: {ps.nice}",
            f"pid: {ps.pid} ppid: {ps.ppid} sid: {ps.sid}",
            f"uid: {ps.uid} gid: {ps.gid} pgrp: {ps.pgrp}",
            f"executable: {ps.fname} arguments: {ps.psargs}",
        ]
    else:
        lines.append("(the core has no process information note)")
    lines += ["", death_line(core)]
    return lines


def death_line(core) -> str:
    info = core.siginfo
    signo = info.signo if info is not None else 0
    if not signo:
        cursig = next((s.cursig for s in core.prstatus if s.cursig), 0)
        if not cursig:
            return "The core was taken on demand (e.g. by gcore): the process was not dying"
        return f"The process died due receiving signal {signal_name(cursig)}"
    name = signal_name(signo)
    if signo == _signal.SIGSTOP:
        # SIGSTOP never dumps core: a debugger stopped the process and wrote it (gcore)
        return ("The core was taken on demand (e.g. by gcore) while the process was "
                "stopped with SIGSTOP: it was not dying")
    if signo in _FAULTS and info.fault_address is not None and info.code > 0:
        return (f"The process died due to {_FAULTS[signo]} ({name}) accessing address "
                f"0x{info.fault_address:x}")
    line = f"The process died due receiving signal {name}"
    if info.code in _SENT_BY_PROCESS and info.sender_pid is not None:
        line += f" sent by pid {info.sender_pid} (uid {info.sender_uid})"
    elif info.code == 0x80:
        line += " sent by the kernel"
    return line


def executable_line(core, given: Optional[str]) -> Optional[str]:
    if given:
        return None
    executable = core.executable
    return f"Using executable found in the core file: {executable}" if executable else None


def core_facts(core, given: Optional[str]) -> dict:
    """The header's facts as plain values, for `--json` (keys in a fixed order)."""
    ps = core.psinfo
    info = core.siginfo
    process = None
    if ps is not None:
        process = {"pid": ps.pid, "ppid": ps.ppid, "sid": ps.sid, "pgrp": ps.pgrp,
                   "uid": ps.uid, "gid": ps.gid, "state": ps.sname, "zombie": bool(ps.zombie),
                   "niceness": ps.nice, "executable": ps.fname, "arguments": ps.psargs}
    signal = None
    if info is not None and info.signo:
        signal = {"number": info.signo, "name": signal_name(info.signo), "code": info.code,
                  "errno": info.errno, "sender_pid": info.sender_pid,
                  "sender_uid": info.sender_uid, "fault_address": info.fault_address}
    return {
        "file": core.path,
        "executable": core.executable,
        "executable_from_core": not given,
        "process": process,
        "signal": signal,
        "cause": death_line(core),
        "missing_files": list(core.missing_files()),
        "build_id_mismatches": [{"path": path, "core": in_core, "file": on_disk}
                                for path, in_core, on_disk in core.build_id_mismatches()],
    }
