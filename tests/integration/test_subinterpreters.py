"""Threads that run code in several interpreters, on every provisioned interpreter
that has subinterpreters (3.6+), live and from gcore and kernel cores.

One block per OS thread, one section per interpreter it entered, in call order,
labelled with the interpreter's id; compared with what each part of the target
reported from inside its own interpreter (frames, lines, source lines, names). With
`--native` the thread's native stack is split between its sections. The JSON and
Python API keep one thread object per thread state, with its interpreter's id.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import pytest

from conftest import INTERPRETERS, SRC, run_pystack
from integration.parse_output import parse_sections
from integration.targets_util import started, wait_until_sleeping
from integration.test_core import core_args, gcore, kernel_cores_possible

MAIN_ROLES = ("main", "worker", "reporter")


def with_subinterpreters():
    params = [pytest.param(i, id=i["name"]) for i in INTERPRETERS
              if tuple(int(x) for x in i["version"].split(".")[:2]) >= (3, 6)]
    return params or [pytest.param(None, marks=pytest.mark.skip(
        reason="no interpreter with subinterpreters provisioned"))]


def settled(target, spinning=()):
    """The target, once every thread it reported has gone to sleep on its marked line
    (the reporter prints before it gets there)."""
    for thread in target.report["threads"]:
        if thread["sections"][-1]["role"] not in spinning:
            wait_until_sleeping(target.pid, tid=thread["tid"])
    return target


def expected_label(section: dict) -> str:
    if section["role"] in MAIN_ROLES:
        return "In the main interpreter"
    if section["interp"] is None:  # 3.6 numbers no interpreter
        return "In a subinterpreter"
    return f"In interpreter {section['interp']}"


def check_text(output: str, report: dict) -> dict:
    """Every thread of the report as one block with its sections; nothing more."""
    got = parse_sections(output)
    want = {t["tid"]: t for t in report["threads"]}
    assert sorted(got) == sorted(want), output
    for tid, expected in want.items():
        block = got[tid]
        assert block["name"] == expected["name"], (tid, block)
        assert block["status"] == "", block  # every thread sleeps
        labels = [s["label"] for s in block["sections"]]
        assert labels == [expected_label(s) for s in expected["sections"]], (tid, labels)
        for section, reported in zip(block["sections"], expected["sections"]):
            assert section["status"] == ""
            assert [(f["file"], f["name"], f["line"]) for f in section["frames"]] == \
                [(f["file"], f["name"], f["line"]) for f in reported["frames"]], (tid, section)
            assert [f["code"] for f in section["frames"]] == \
                [f["code"] or None for f in reported["frames"]], (tid, section)
    return got


def check_native(output: str, report: dict) -> None:
    """The native stack split between the sections: the C frames that switched to the
    next interpreter end each outer section, the sleep ends the innermost one, and
    the process's entry point appears once, in the first section of the main thread."""
    assert "native frames not shown" not in output, output
    got = parse_sections(output)
    for expected in report["threads"]:
        sections = got[expected["tid"]]["sections"]
        for section, reported in zip(sections, expected["sections"]):
            assert [f["name"] for f in section["frames"]] == \
                [f["name"] for f in reported["frames"]]
        for outer in sections[:-1]:
            switch = outer["native"][-3:]
            assert any("run_in_subinterp" in n or "run_string" in n or "run_script" in n
                       or "PyRun_" in n or "run_eval_code_obj" in n for n in switch), outer
            assert not any("sleep" in n for n in outer["native"]), outer
        assert any("sleep" in n for n in sections[-1]["native"]), sections[-1]
        if expected["tid"] == report["pid"]:
            starts = [i for i, s in enumerate(sections)
                      if any(n.startswith(("Py_BytesMain", "main ", "__libc_start_main"))
                             for n in s["native"])]
            assert starts == [0], sections


def check_json(document: dict, report: dict) -> None:
    """One thread object per thread state, outermost first for each tid, with the
    interpreter's id."""
    (process,) = document["processes"]
    by_tid: dict = {}
    for thread in process["threads"]:
        by_tid.setdefault(thread["tid"], []).append(thread)
    for expected in report["threads"]:
        states = by_tid[expected["tid"]]
        assert [t["interpreter_id"] for t in states] == \
            [s["interp"] if s["role"] not in MAIN_ROLES or s["interp"] is not None
             else None for s in expected["sections"]]
        for state, section in zip(states, expected["sections"]):
            frames = [f for f in state["frames"] if f["kind"] == "python"]
            assert [(f["file"], f["line"]) for f in frames] == \
                [(f["file"], f["line"]) for f in section["frames"]]


def check_api(pid: int, report: dict, interpreter: dict) -> None:
    """`get_process_threads`: a PyThread per thread state, in call order per tid."""
    code = ("import json, sys\nfrom pystack.engine import get_process_threads\n"
            "print(json.dumps([[t.tid, t.interpreter_id, [f.code.scope for f in t.frames]]"
            " for t in get_process_threads(int(sys.argv[1]))]))")
    env = dict(os.environ, PYTHONPATH=SRC)
    out = subprocess.run(["python3", "-c", code, str(pid)], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    states = json.loads(out.stdout)
    for expected in report["threads"]:
        mine = [s for s in states if s[0] == expected["tid"]]
        assert [s[2] for s in mine] == [[f["function"] for f in sec["frames"]]
                                       for sec in expected["sections"]]


@pytest.mark.parametrize("interpreter", with_subinterpreters())
def test_live(interpreter):
    with started(interpreter, "subinterp.py") as target:
        settled(target)
        result = run_pystack("remote", str(target.pid))
        assert result.returncode == 0, result.stderr
        check_text(result.stdout, target.report)
        grouped = run_pystack("remote", str(target.pid), "--group")
        assert grouped.returncode == 0, grouped.stderr
        assert grouped.stdout == result.stdout  # no two threads print the same
        document = run_pystack("remote", str(target.pid), "--json")
        assert document.returncode == 0, document.stderr
        check_json(json.loads(document.stdout), target.report)
        check_api(target.pid, target.report, interpreter)
        if os.path.exists("/usr/lib/x86_64-linux-gnu/libdw.so.1"):
            native = run_pystack("remote", str(target.pid), "--native")
            assert native.returncode == 0, native.stderr
            check_native(native.stdout, target.report)


@pytest.mark.skipif(not shutil.which("gcore"), reason="needs gdb's gcore")
@pytest.mark.parametrize("interpreter", with_subinterpreters())
def test_gcore(interpreter, tmp_path):
    with started(interpreter, "subinterp.py") as target:
        core = gcore(interpreter, settled(target), tmp_path)
        os.rename(core, tmp_path / "core")
        # read while the target's staged sources still exist (its source lines)
        args = core_args(interpreter, str(tmp_path / "core"))
        result = run_pystack(*args)
        assert result.returncode == 0, result.stderr
        check_text(result.stdout, target.report)
        if os.path.exists("/usr/lib/x86_64-linux-gnu/libdw.so.1"):
            native = run_pystack(*args, "--native")
            assert native.returncode == 0, native.stderr
            check_native(native.stdout, target.report)


@pytest.mark.skipif(not kernel_cores_possible(), reason="core_pattern does not write files")
@pytest.mark.parametrize("interpreter", with_subinterpreters())
def test_kernel_core(interpreter):
    with started(interpreter, "subinterp.py", cores=True) as target:
        os.kill(settled(target).pid, signal.SIGABRT)
        core = target.wait_for_core()
        result = run_pystack(*core_args(interpreter, core))
        assert result.returncode == 0, result.stderr
        check_text(result.stdout, target.report)


@pytest.mark.parametrize("interpreter", with_subinterpreters())
def test_gil_per_interpreter(interpreter):
    """From 3.12 two threads spin, one in the main interpreter and one in the worker's
    subinterpreter, which has a GIL of its own: both hold a GIL at once. Before, only
    the one in the main interpreter spins and holds the GIL all interpreters share."""
    with started(interpreter, "subinterp.py", env={"TARGET_SPIN": "1"}) as target:
        settled(target, spinning=("reporter", "in-sub"))
        tids = {t["sections"][-1]["role"]: t["tid"] for t in target.report["threads"]}
        result = run_pystack("remote", str(target.pid))
        assert result.returncode == 0, result.stderr
        blocks = parse_sections(result.stdout)
        holding = [role for role in ("reporter", "in-sub")
                   if blocks[tids[role]]["status"] == "Has the GIL"]
        if target.report["own_gil"]:
            assert holding == ["reporter", "in-sub"], result.stdout
            (section,) = blocks[tids["in-sub"]]["sections"]
            assert section["status"] == "Has the GIL"
        else:
            assert holding == ["reporter"], result.stdout
        for role in ("main-nested", "worker-sub"):
            assert blocks[tids[role]]["status"] == "", result.stdout
