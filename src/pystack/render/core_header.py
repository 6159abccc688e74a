"""The block printed before the stacks of a core: who the process was and how it died."""
from __future__ import annotations

import signal

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Optional

# si_code values (include/uapi/asm-generic/siginfo.h) that mean "sent by a process"
_SENT_BY_PROCESS = {0: "kill", -1: "sigqueue", -6: "tkill"}
_FAULTS = {signal.SIGSEGV: "a segmentation fault", signal.SIGBUS: "a bus error",
           signal.SIGILL: "an illegal instruction", signal.SIGFPE: "a floating point error"}


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


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
    if signo == signal.SIGSTOP:
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
