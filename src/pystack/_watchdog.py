"""The watchdog process of the pytest plugin (`pystack.pytest_plugin`).

Reads orders from stdin, one per line: `start SECONDS NODEID` when a test starts,
`stop` when it ends. A test still running SECONDS after its start gets its process
dumped, once. The end of stdin (pytest ended, however it ended) ends the watchdog;
so does its parent's death (PR_SET_PDEATHSIG), in case a process forked by a test
keeps the pipe open.
"""
from __future__ import annotations

import json
import os
import select
import sys
import time

_PR_SET_PDEATHSIG = 1
_SIGKILL = 9


def _die_with_parent(parent: int) -> None:
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before we asked
        sys.exit(0)


def _dump(pid: int, nodeid: str, started: float, output, args: list) -> None:
    """Dump `pid` and write it in one piece: xdist's workers may share one file."""
    import io
    from .cli import main
    elapsed = time.monotonic() - started
    text = io.StringIO()
    text.write(f"pystack: {nodeid} has been running for {elapsed:.1f} s; "
               f"the stacks of its process {pid}:\n")
    saved, sys.stdout = sys.stdout, text
    try:
        main(["remote", *args, str(pid)])  # errors go to stderr, as the command's do
    finally:
        sys.stdout = saved
    data = (text.getvalue() + "\n").encode("utf-8", "backslashreplace")
    if not output:
        os.write(2, data)
        return
    fd = os.open(output, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


def watch(pid: int, output, args: list) -> None:
    pending = b""
    test = None  # (nodeid, started, deadline) of the test running now, until dumped
    while True:
        timeout = None if test is None else max(0.0, test[2] - time.monotonic())
        ready, _, _ = select.select([0], [], [], timeout)
        if ready:
            data = os.read(0, 65536)
            if not data:
                return  # pytest closed the pipe, or died
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                order, _, rest = line.decode("utf-8", "replace").partition(" ")
                if order == "start":
                    seconds, _, nodeid = rest.partition(" ")
                    now = time.monotonic()
                    test = (nodeid, now, now + float(seconds))
                elif order == "stop":
                    test = None
        elif test is not None and time.monotonic() >= test[2]:
            _dump(pid, test[0], test[1], output, args)
            test = None  # once per test


def main(argv: list) -> None:
    settings = json.loads(argv[1])
    _die_with_parent(settings["pid"])
    try:
        watch(settings["pid"], settings["output"], settings["args"])
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv)
