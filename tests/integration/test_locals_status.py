"""--locals and thread status on every provisioned interpreter, live and from cores."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import types

import pytest

from conftest import interpreter_params, run_pystack
from integration.parse_output import parse
from integration.targets_util import _stage_scripts, wait_until_sleeping
from integration.test_core import core_args, gcore


#: pid -> the host folder its scripts were staged in (for gcore inside a chroot).
_HOST_DIRS: dict = {}


def start(interpreter: dict, mode: str):
    inside, host_dir = _stage_scripts(interpreter["root"])
    proc = subprocess.Popen(interpreter["argv"] + [os.path.join(inside, "status.py"), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError(proc.stderr.read())
    report = json.loads(line)
    _HOST_DIRS[report["pid"]] = host_dir
    return proc, report


def gcore_of(interpreter: dict, report: dict, tmp_path) -> str:
    """A gcore core of a status.py target (the chroot's own gdb for sid targets)."""
    target = types.SimpleNamespace(pid=report["pid"], host_dir=_HOST_DIRS[report["pid"]])
    return gcore(interpreter, target, tmp_path)


def core_of(interpreter: dict, report: dict, tmp_path, *options: str) -> str:
    """pystack's text dump, with `options`, of a gcore core of a status.py target; the
    core is removed after."""
    if not shutil.which("gcore"):
        pytest.skip("the live half passed; the core half needs gdb's gcore")
    core = gcore_of(interpreter, report, tmp_path)
    try:
        result = run_pystack(*core_args(interpreter, core), *options)
        assert result.returncode == 0, result.stderr
        return result.stdout
    finally:
        os.unlink(core)


def frame_variables(output: str, function: str) -> tuple[dict, dict]:
    """Arguments and locals printed under the frame of `function`."""
    sections: dict = {"Arguments": {}, "Locals": {}}
    current = None
    inside = False
    for line in output.splitlines():
        if line.startswith("    (Python) "):
            inside = line.endswith(f" in {function}")
            current = None
        elif inside and line.strip() in ("Arguments:", "Locals:"):
            current = sections[line.strip()[:-1]]
        elif inside and current is not None and line.startswith("        "):
            name, _, value = line.strip().partition(": ")
            current[name] = value
    return sections["Arguments"], sections["Locals"]


def check_locals(output: str, report: dict) -> None:
    arguments, local_vars = frame_variables(output, "zoo")
    assert arguments == report["arguments"]
    assert list(arguments) == ["number", "text", "rest", "options"]
    # `args` and `names` are made after the target took its snapshot of locals()
    assert {k: v for k, v in local_vars.items() if k not in ("args", "names")} == \
        report["locals"]
    order = [n for n in report["order"] if n in local_vars]
    assert [n for n in local_vars if n in order] == order


def check_status(output: str, report: dict) -> None:
    threads = parse(output)
    tids = report["tids"]
    assert threads[tids["spinner"]]["status"] == "Has the GIL"
    assert threads[tids["sleeper"]]["status"] == ""
    assert threads[tids["main"]]["status"] == ""


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_locals_and_gil_live_and_core(interpreter, tmp_path):
    proc, report = start(interpreter, "locals")
    try:
        result = run_pystack("remote", "--locals", "--locals-max-length", "100000",
                             str(report["pid"]))
        assert result.returncode == 0, result.stderr
        check_locals(result.stdout, report)
        # 2.7's eval loop lets go of the GIL every 100 instructions even when no other
        # thread waits (with no current thread state in between): a stop that lands
        # there rightly finds no holder. Another dump finds the spinner holding it.
        for _ in range(4):
            if parse(result.stdout)[report["tids"]["spinner"]]["status"] or \
                    interpreter["version"] >= "3":
                break
            result = run_pystack("remote", str(report["pid"]))
        check_status(result.stdout, report)
        default = run_pystack("remote", "--locals", str(report["pid"]))
        _, short = frame_variables(default.stdout, "zoo")
        assert all(len(v) <= 90 for v in short.values()), short
        assert short["words"] == report["locals"]["words"]

        for attempt in range(4):  # 2.7: see above, a core can land in the switch too
            from_core = core_of(interpreter, report, tmp_path, "--locals",
                                "--locals-max-length", "100000")
            if parse(from_core)[report["tids"]["spinner"]]["status"] or \
                    interpreter["version"] >= "3":
                break
        check_locals(from_core, report)
        check_status(from_core, report)
    finally:
        proc.kill()
        proc.wait()


# 2.7 and 3.6 keep the collecting flag in a static of gcmodule.c: memory cannot tell
@pytest.mark.parametrize("interpreter", [
    p for p in interpreter_params()
    if p.values[0] is None or tuple(int(x) for x in p.values[0]["version"].split(".")[:2])
    >= (3, 7)])
def test_garbage_collecting_thread(interpreter, tmp_path):
    proc, report = start(interpreter, "gc")
    try:
        wait_until_sleeping(report["pid"], tid=report["tids"]["collector"])
        result = run_pystack("remote", str(report["pid"]))
        assert result.returncode == 0, result.stderr
        for output in (result.stdout, core_of(interpreter, report, tmp_path)):
            threads = parse(output)
            assert "Garbage collecting" in threads[report["tids"]["collector"]]["status"]
            assert "Garbage collecting" not in threads[report["tids"]["main"]]["status"]
    finally:
        proc.kill()
        proc.wait()
