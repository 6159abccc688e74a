"""Targets that damage their own frames or code objects (issue 6).

A thread of targets/corrupt.py breaks one thing of its own stack through ctypes (its
caller's link to the next older frame set to garbage or to itself, a code object's
co_filename pointer overwritten, a line table cut short) and then only sleeps in C.
Read live (`pystack remote`) and from a gcore core, every other thread prints as the
interpreter reported it, the damaged thread prints the frames that can still be
trusted followed (older side) by `(corrupted frame at 0x...)` at the expected address,
and pystack exits 0.
"""
from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from conftest import INTERPRETERS, run_pystack
from integration.targets_util import started
from integration.test_core import core_args, gcore

DAMAGES = ("back-garbage", "back-self", "filename", "linetable")

HEADER = re.compile(r"^Traceback for thread (\d+)(?: \((.*)\))? \[(.*)\] \(most recent call last\):$")
FRAME = re.compile(r'^    \(Python\) File "(.*)", line (\d+), in (.*)$')
CORRUPTED = re.compile(r"^    \(corrupted frame at 0x([0-9a-f]+)\)$")


def interpreters():
    """One interpreter of every minor version provisioned (the first listed)."""
    chosen: dict = {}
    for interpreter in INTERPRETERS:
        minor = tuple(interpreter["version"].split(".")[:2])
        if minor not in chosen and os.path.exists(interpreter["exe"]):
            chosen[minor] = interpreter
    if not chosen:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no interpreter provisioned"))]
    return [pytest.param(i, id=i["name"]) for i in chosen.values()]


def offsets(version: str) -> dict:
    from pystack.cpython.layouts import layout_for

    major, minor = (int(v) for v in version.split(".")[:2])
    lay = layout_for((major, minor))
    if lay.has_interpreter_frames:
        # PyFrameObject 3.11+: PyObject_HEAD, f_back, then f_frame (its _PyInterpreterFrame)
        back, f_frame = lay.iframe.previous, lay.frame_object.f_back + 8
    else:
        back, f_frame = lay.frame_object.f_back, None
    return {"f_frame": f_frame, "back": back, "co_filename": lay.code.filename,
            "co_linetable": lay.code.linetable, "ob_size": lay.objects.ob_size}


def parse(output: str) -> dict[int, dict]:
    """tid -> {name, frames: [(file, name, line) or ("corrupted", address)]}"""
    threads: dict[int, dict] = {}
    current = None
    for line in output.splitlines():
        m = HEADER.match(line)
        if m:
            current = threads[int(m.group(1))] = {"name": m.group(2), "frames": []}
            continue
        if current is None:
            continue
        m = FRAME.match(line)
        if m:
            current["frames"].append((m.group(1), m.group(3), int(m.group(2))))
            continue
        m = CORRUPTED.match(line)
        if m:
            current["frames"].append(("corrupted", int(m.group(1), 16)))
    return threads


def check(output: str, report: dict) -> None:
    got = parse(output)
    assert sorted(got) == sorted(t["tid"] for t in report["threads"]), output
    for thread in report["threads"]:
        frames = [(f["file"], f["name"], f["line"]) for f in thread["frames"]]
        printed = got[thread["tid"]]["frames"]
        assert got[thread["tid"]]["name"] == thread["name"], output
        if thread["name"] != "damaged":
            assert printed == frames, output
        elif thread["marker"] is None:  # a cut line table: middle()'s line may differ,
            # and outer()'s: the same bytecode, so the same table object in some versions
            assert [f[:2] for f in printed] == [f[:2] for f in frames], output
            sharing = ("middle", "outer")
            assert [f for f in printed if f[1] not in sharing] == \
                [f for f in frames if f[1] not in sharing], output
            assert all(f[2] > 0 for f in printed), output
            assert "(corrupted" not in output
        else:
            assert printed == [("corrupted", thread["marker"])] + frames[-thread["kept"]:], \
                output


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("interpreter", interpreters())
def test_damaged_thread_live_and_from_core(interpreter, damage, tmp_path):
    env = {"TARGET_DAMAGE": damage,
           "TARGET_OFFSETS": json.dumps(offsets(interpreter["version"]))}
    with started(interpreter, script="corrupt.py", env=env) as target:
        live = run_pystack("remote", str(target.pid))
        assert live.returncode == 0, live.stderr
        check(live.stdout, target.report)
        assert target.proc.poll() is None  # reading it did not kill it
        if not shutil.which("gcore"):
            pytest.skip("the live half passed; the core half needs gdb's gcore")
        core = gcore(interpreter, target, tmp_path)
        os.rename(core, tmp_path / "core")
    result = run_pystack(*core_args(interpreter, str(tmp_path / "core")))
    assert result.returncode == 0, result.stderr
    check(result.stdout, target.report)
