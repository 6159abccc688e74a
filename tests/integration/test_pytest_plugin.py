"""The pytest plugin: a test that runs too long is dumped from outside, once, and goes
on; with pytest-xdist and pytest-timeout; nothing is left running afterwards."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import SRC

TESTS = '''
import ctypes, time

def test_fast():
    pass

def test_sleeps():
    waited = 2.0
    time.sleep(waited)  # SLEEPS

def test_holds_the_gil_in_c():
    ctypes.PyDLL(None).sleep(2)  # HOLDS

def test_blocked_in_c():
    ctypes.CDLL(None).sleep(2)  # BLOCKED

def test_spins():
    end = time.time() + 2
    # one line: the dump finds the loop there, whichever step it is at
    while time.time() < end: pass  # SPINS
'''
SLOW = {"test_sleeps": "SLEEPS", "test_holds_the_gil_in_c": "HOLDS",
        "test_blocked_in_c": "BLOCKED", "test_spins": "SPINS"}
HEADER = re.compile(r"^pystack: (\S+)::(\w+) has been running for ([\d.]+) s; "
                    r"the stacks of its process (\d+):$", re.M)


def _plugin_installed() -> bool:
    from importlib.metadata import entry_points
    found = entry_points()
    group = found.select(group="pytest11") if hasattr(found, "select") else \
        found.get("pytest11", [])
    return any(e.value == "pystack.pytest_plugin" for e in group)


def run_pytest(folder, *args: str, timeout: float = 120, wait: bool = True):
    plugin = [] if _plugin_installed() else ["-p", "pystack.pytest_plugin"]
    env = dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1")
    env.pop("PYTEST_ADDOPTS", None)
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *plugin, *args]
    process = subprocess.Popen(argv, cwd=str(folder), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    if not wait:
        return process
    out, err = process.communicate(timeout=timeout)
    return process.pid, process.returncode, out, err


def watchdogs_of(pid: int) -> list[int]:
    """Watchdog processes started for the pytest `pid` (their settings name it)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                words = f.read().split(b"\0")
        except OSError:
            continue
        if b"pystack._watchdog" in words and any(f'"pid": {pid},'.encode() in w for w in words):
            found.append(int(name))
    return found


def gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not watchdogs_of(pid):
            return True
        time.sleep(0.05)
    return False


def line_of(marker: str) -> int:
    return [n for n, line in enumerate(TESTS.splitlines(), 1) if line.endswith(f"# {marker}")][0]


def check_dumps(text: str, pytest_pids: set | None = None) -> None:
    """One dump per slow test, naming the test's own function and blocked line."""
    headers = HEADER.findall(text)
    assert sorted(h[1] for h in headers) == sorted(SLOW), text
    for path, test, seconds, pid in headers:
        assert path == "test_hang.py" and 0.5 <= float(seconds) < 1.9
        if pytest_pids is not None:
            assert int(pid) in pytest_pids
        dump = text.split(f"::{test} has been running", 1)[1]
        dump = dump.split("\npystack: ", 1)[0]
        assert re.search(rf'\(Python\) File ".*test_hang\.py", line {line_of(SLOW[test])}, '
                         rf"in {test}$", dump, re.M), dump
    holds = text.split("::test_holds_the_gil_in_c has been running", 1)[1].split("\npystack: ")[0]
    assert "[Has the GIL]" in holds


@pytest.fixture
def suite(tmp_path):
    (tmp_path / "test_hang.py").write_text(TESTS)
    return tmp_path


def test_slow_tests_are_dumped_once_to_a_file(suite):
    output = suite / "dumps.txt"
    pid, status, out, err = run_pytest(suite, "--pystack-threshold=0.5",
                                       f"--pystack-output-file={output}",
                                       "--pystack-args=--locals")
    assert status == 0, out + err
    assert "5 passed" in out
    text = output.read_text()
    check_dumps(text, {pid})
    assert "waited: 2.0" in text  # --pystack-args reached the dump
    assert "pystack:" not in err
    assert gone(pid)


def test_dumps_go_to_the_terminal_without_a_file(suite):
    pid, status, out, err = run_pytest(suite, "--pystack-threshold=0.5", "-k", "sleeps")
    assert status == 0, out + err
    assert "::test_sleeps has been running" in err
    assert re.search(rf'File ".*test_hang\.py", line {line_of("SLEEPS")}, in test_sleeps',
                     err)
    assert gone(pid)


def test_the_watchdog_imports_the_same_pystack():
    """pystack may be importable only through pytest's path settings: the watchdog is
    told where this pystack lives, and ends when its orders end."""
    import pystack
    from pystack.pytest_plugin import Watchdog
    watchdog = Watchdog(30.0, None, [])
    watchdog._tell("stop")  # starts it
    try:
        with open(f"/proc/{watchdog.process.pid}/environ", "rb") as f:
            environ = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
        first = environ[b"PYTHONPATH"].decode().split(os.pathsep)[0]
        assert first == os.path.dirname(os.path.dirname(os.path.abspath(pystack.__file__)))
    finally:
        watchdog.pytest_unconfigure(None)
    assert watchdog.process.returncode == 0


def test_off_unless_asked(suite):
    process = run_pytest(suite, "-k", "sleeps", wait=False)
    time.sleep(1)
    assert watchdogs_of(process.pid) == []
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "has been running" not in out + err


def test_bad_settings_are_usage_errors(suite):
    _, status, out, err = run_pytest(suite, "--pystack-threshold=0.5", "--pystack-args=--bogus")
    assert status == 4 and "--pystack-args" in err
    _, status, out, err = run_pytest(suite, "--pystack-threshold=-1")
    assert status == 4 and "--pystack-threshold" in err


def test_each_xdist_worker_is_watched(suite):
    pytest.importorskip("xdist")
    output = suite / "dumps.txt"
    pid, status, out, err = run_pytest(suite, "-n", "2", "--pystack-threshold=0.5",
                                       f"--pystack-output-file={output}")
    assert status == 0, out + err
    text = output.read_text()
    check_dumps(text)
    pids = {int(h[3]) for h in HEADER.findall(text)}
    assert pid not in pids and len(pids) == 2  # the workers, not the controller
    assert gone(pid)


def test_dumped_before_pytest_timeout_ends_the_test(tmp_path):
    pytest.importorskip("pytest_timeout")
    (tmp_path / "test_hang.py").write_text(
        "import time\n\ndef test_never_ends():\n    time.sleep(60)  # FOREVER\n")
    output = tmp_path / "dumps.txt"
    started = time.time()
    # 6 s: the dump is due 1 s ahead (5 s), time enough for it on a loaded machine
    pid, status, out, err = run_pytest(tmp_path, "--timeout=6", "--timeout-method=thread",
                                       "--pystack-threshold=30",
                                       f"--pystack-output-file={output}")
    assert status != 0 and time.time() - started < 30
    text = output.read_text()
    (header,) = HEADER.findall(text)
    assert header[1] == "test_never_ends" and 5.0 <= float(header[2]) < 6.0
    assert re.search(r'File ".*test_hang\.py", line 4, in test_never_ends', text)
    assert gone(pid)


def test_the_watchdog_ends_with_a_killed_pytest(suite):
    process = run_pytest(suite, "--pystack-threshold=30", "-k", "sleeps", wait=False)
    deadline = time.time() + 30
    while not watchdogs_of(process.pid) and time.time() < deadline:
        time.sleep(0.05)
    assert watchdogs_of(process.pid)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert gone(process.pid)
