"""Start-up import hygiene: what `pystack remote`/`pystack core` must not import.

signal.py (IntEnums), threading, importlib (+ warnings) and the --locals-only
modules cost milliseconds of every start; the code uses `_signal`, `_thread`,
`__import__` and lazy imports instead.  These tests pin that down, and check that
the replacements name and behave as the originals did.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from pystack.cpython import layouts  # noqa: E402
from pystack.render.core_header import signal_name  # noqa: E402
from pystack.target import ptrace  # noqa: E402

#: The modules a plain `pystack remote`/`pystack core` start must not load.
AVOIDED = ("signal", "threading", "importlib", "warnings", "argparse", "json",
           "pystack.cpython.reprs", "pystack.cpython.variables",
           "pystack.render.jsondoc", "pystack.render.group", "pystack.cpython.tasks",
           "pystack.cpython.layouts.tasks", "pystack.render.tasks")

#: What the command imports before it looks at a target.
STARTUP = ("pystack._entry", "pystack.cli", "pystack.engine", "pystack.target.live",
           "pystack.render.text", "pystack.render.core_header")


def test_startup_does_not_import_slow_modules() -> None:
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"for name in {STARTUP!r}:\n"
        "    __import__(name)\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(SRC))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    loaded = set(json.loads(out))
    assert "pystack.engine" in loaded
    assert sorted(loaded & set(AVOIDED)) == []


@pytest.mark.parametrize("number", range(-1, 70))
def test_signal_names_match_signal_module(number: int) -> None:
    try:
        expected = signal.Signals(number).name
    except ValueError:
        expected = f"signal {number}"
    assert signal_name(number) == expected


def test_signal_names_prefer_canonical_aliases() -> None:
    assert signal_name(signal.SIGABRT) == "SIGABRT"  # not SIGIOT
    assert signal_name(signal.SIGCHLD) == "SIGCHLD"  # not SIGCLD
    assert signal_name(signal.SIGSEGV) == "SIGSEGV"


def test_ptrace_signal_names_unchanged() -> None:
    assert ptrace._signame(signal.SIGUSR1) == "SIGUSR1"
    assert ptrace._signame(0) == "0"
    assert ptrace._STOP_SIGNALS == {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}


def test_layout_tables_are_imported_on_demand() -> None:
    name = f"{layouts.__name__}.v3_11"
    module = layouts._table((3, 11))
    assert sys.modules[name] is module and layouts._table((3, 11)) is module
    assert layouts.layout_for((3, 11)) is module.LAYOUT
    assert layouts.debug_offsets_schema((3, 13)) is getattr(layouts._table((3, 13)),
                                                            "DEBUG_OFFSETS_SCHEMA", None)


def _imported_by_a_dump(*options: str) -> set:
    """Modules a whole `pystack remote` of a live sleeper imports (`-X importtime`)."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import time
        time.sleep(0.3)  # let it reach its sleep: an initialised interpreter
        env = dict(os.environ, PYTHONPATH=str(SRC))
        # the console script's way in (`-m` would bring runpy's importlib)
        result = subprocess.run([sys.executable, "-X", "importtime", "-c",
                                 "from pystack._entry import main; main()",
                                 "remote", *options, str(sleeper.pid)],
                                capture_output=True, text=True, env=env, timeout=60)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert result.returncode == 0, result.stderr
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs /proc")
def test_a_plain_dump_loads_no_json_or_grouping() -> None:
    loaded = _imported_by_a_dump()
    assert "pystack.engine" in loaded
    assert sorted(loaded & set(AVOIDED)) == []
    assert "json" in _imported_by_a_dump("--json")
    assert "pystack.render.group" in _imported_by_a_dump("--group")
    assert {"pystack.cpython.tasks", "pystack.render.tasks"} <= _imported_by_a_dump("--tasks")
