"""A pytest plugin: the stacks of a test that runs too long, taken from outside.

`pytest --pystack-threshold=SECONDS` (off unless given; the option names are those of
the `pytest-pystack` plugin) starts, with the first test, a watchdog process that is
told when each test starts and ends. When a test outlives the threshold, the watchdog
dumps the test process with pystack, once per test, and the test goes on. Because
the dump is taken from another process, a test that holds the GIL or is stuck in C
is dumped as well as one that sleeps.

Under pytest-xdist every worker runs its own tests, so each worker gets its own
watchdog. Under pytest-timeout the dump is taken before the test's timeout (a margin
ahead of it) if the threshold would come too late. The watchdog reads its orders from
a pipe and ends when the pipe closes, so it never outlives the pytest that started
it, however that pytest ends.

This module is imported by every pytest run where pystack is installed: it imports
nothing of pystack until the option is given.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import List, Optional

# prctl(2): who may ptrace us under Yama's ptrace_scope=1 (only ancestors otherwise,
# and the watchdog is our child, not our ancestor)
_PR_SET_PTRACER = 0x59616D61


def pytest_addoption(parser) -> None:
    group = parser.getgroup("pystack", "dump the stacks of tests that run too long (pystack)")
    group.addoption("--pystack-threshold", type=float, default=None, metavar="SECONDS",
                    help="dump the stacks of the test process when a test runs longer "
                         "than SECONDS (the test goes on)")
    group.addoption("--pystack-output-file", default=None, metavar="PATH",
                    help="append the dumps to PATH instead of the terminal (stderr)")
    group.addoption("--pystack-args", default=None, metavar="ARGS",
                    help="more options for `pystack remote`, e.g. \"--native --locals\"")
    group.addoption("--pystack-path", default=None, metavar="PATH",
                    help="accepted for pytest-pystack's command lines; not used: the dump "
                         "is taken by this pystack")
    parser.addini("pystack_threshold", "see --pystack-threshold", default=None)
    parser.addini("pystack_output_file", "see --pystack-output-file", default=None)
    parser.addini("pystack_args", "see --pystack-args", default=None)
    parser.addini("pystack_path", "see --pystack-path (not used)", default=None)


def _setting(config, name: str) -> Optional[str]:
    value = config.getoption(name, default=None)
    if value is None:
        value = config.getini(name) or None
    return value


def pytest_configure(config) -> None:
    threshold = _setting(config, "pystack_threshold")
    if threshold is None:
        return
    import pytest
    import shlex
    try:
        seconds = float(threshold)
    except ValueError:
        raise pytest.UsageError(f"--pystack-threshold: not a number of seconds: {threshold!r}")
    if seconds <= 0:
        raise pytest.UsageError("--pystack-threshold must be more than 0 seconds")
    args = shlex.split(_setting(config, "pystack_args") or "")
    from .cli import parse_plain
    if parse_plain(["remote", *args, "1"]) is None:
        raise pytest.UsageError(f"--pystack-args: not options of `pystack remote`: {args!r} "
                                "(spell them in full, e.g. \"--native --locals\")")
    output = _setting(config, "pystack_output_file")
    config.pluginmanager.register(
        Watchdog(seconds, os.path.abspath(output) if output else None, args),
        "pystack-watchdog")


class Watchdog:
    """The pytest side: starts the watchdog process and tells it about each test."""

    def __init__(self, threshold: float, output: Optional[str], args: List[str]) -> None:
        self.threshold = threshold
        self.output = output
        self.args = args
        self.process = None

    def _start(self) -> None:
        import json
        import subprocess
        settings = json.dumps({"pid": os.getpid(), "output": self.output, "args": self.args})
        # the watchdog imports this very pystack, wherever pytest found it (a rootdir,
        # a `pythonpath` ini setting)
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.environ.get("PYTHONPATH")
        env = dict(os.environ, PYTHONPATH=package_parent + (os.pathsep + path if path else ""))
        # stdout is never ours to write to (xdist workers use it for their channel);
        # stderr is the terminal's.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pystack._watchdog", settings],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, close_fds=True, env=env)
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PTRACER, self.process.pid, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # without Yama there is nothing to allow

    def _tell(self, line: str) -> None:
        if self.process is None:
            self._start()
        try:
            self.process.stdin.write(line.encode("utf-8", "backslashreplace") + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the watchdog is gone: the tests go on without it

    def _deadline(self, item) -> float:
        """The threshold, or a little before pytest-timeout would end the test."""
        timeout = None
        marker = item.get_closest_marker("timeout")
        if marker is not None and marker.args:
            timeout = marker.args[0]
        elif marker is not None and "timeout" in marker.kwargs:
            timeout = marker.kwargs["timeout"]
        else:
            try:
                timeout = item.config.getoption("timeout", default=None)
            except ValueError:
                timeout = None
            if timeout is None:
                try:
                    timeout = item.config.getini("timeout")
                except ValueError:
                    timeout = None
        try:
            timeout = float(timeout) if timeout not in (None, "") else 0.0
        except (TypeError, ValueError):
            timeout = 0.0
        if timeout > 0:
            return min(self.threshold, timeout - min(1.0, timeout * 0.2))
        return self.threshold

    def pytest_runtest_protocol(self, item, nextitem):
        self._tell(f"start {self._deadline(item)!r} {item.nodeid}")

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        self._tell("stop")

    def pytest_unconfigure(self, config) -> None:
        process = self.process
        if process is None:
            return
        try:
            process.stdin.close()  # the watchdog ends when its orders end
        except OSError:
            pass
        try:
            process.wait(5)
        except Exception:
            process.kill()
            process.wait()
