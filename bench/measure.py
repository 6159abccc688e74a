"""Run one command and measure it: wall time, the child's peak RSS, its output.

Wall time is `time.perf_counter` around the child's whole life (fork and exec
included, the same for every tool); peak RSS is what `wait4` reports for the child
(`ru_maxrss`), so a tool's helper processes that it waits for count too. Output goes
to temporary files, not pipes, so a tool that prints a lot never blocks on us.
"""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Optional


@dataclass
class Run:
    """One measured execution."""

    seconds: float
    cpu_seconds: float  # user + system: less sensitive than wall time to a busy machine
    max_rss_kb: int
    returncode: Optional[int]  # None when it was killed for taking too long
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def run_once(argv: list[str], env: dict[str, str], timeout: float, cwd: str) -> Run:
    """Run `argv` to completion (or until `timeout`), measured."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env, cwd=cwd, start_new_session=True)
        killed = threading.Event()
        timer = threading.Timer(timeout, _kill_group, (proc.pid, killed))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # ^C: the tool is in its own session, so end it here
            _kill_group(proc.pid, killed)
            os.waitpid(proc.pid, 0)
            proc.returncode = -signal.SIGKILL
            raise
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
        return Run(seconds=seconds, cpu_seconds=usage.ru_utime + usage.ru_stime,
                   max_rss_kb=usage.ru_maxrss,
                   returncode=None if killed.is_set() else proc.returncode,
                   stdout=_read(out), stderr=_read(err))


def _kill_group(pid: int, killed: threading.Event) -> None:
    """The tool and anything it started: the timeout is for all of them."""
    killed.set()
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _read(stream) -> str:
    stream.seek(0)
    return stream.read().decode("utf-8", "replace")
