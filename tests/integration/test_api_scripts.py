"""A script written for Bloomberg's pystack (`api_script.py`) runs unchanged against
ours on every provisioned interpreter, live and from gcore and kernel cores, and
gets what the target reports of itself: threads, names, frames (`scope` is co_name),
lines, statuses, the text of `traceback_formatter`, the core's facts."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import SRC, interpreter_params
from integration.targets_util import started
from integration.test_core import gcore, kernel_cores_possible

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "api_script.py")


def run_script(*args: str) -> dict:
    result = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                            timeout=120, env=dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def core_script_args(interpreter: dict, core: str) -> list[str]:
    """Bloomberg's API knows a search path only: a chroot's library directories."""
    args = [core, interpreter["exe"]]
    root = interpreter["root"]
    if root not in ("/", ""):
        args.append(":".join(os.path.join(root, d) for d in
                             ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib")))
    return args


def check(result: dict, report: dict, interpreter: dict) -> None:
    version = [int(x) for x in interpreter["version"].split(".")[:2]]
    got = {t["tid"]: t for t in result["threads"]}
    want = {t["tid"]: t for t in report["threads"]}
    assert sorted(got) == sorted(want)
    for tid, expected in want.items():
        thread = got[tid]
        assert thread["name"] == expected["name"]
        assert thread["python_version"] == version
        assert thread["status"] == "[]"  # every thread sleeps or waits
        assert thread["holds_the_gil"] == 0
        assert thread["is_gc_collecting"] == (-1 if version < [3, 7] else 0)
        assert thread["interpreter_id"] == (None if version < [3, 7] else 0)
        assert [(f["file"], f["scope"], f["line"]) for f in thread["frames"]] == \
            [(f["file"], f["function"], f["line"]) for f in expected["frames"]], tid
        assert thread["first"] == expected["frames"][0]["function"]
        for frame in thread["frames"]:
            assert all(isinstance(v, str) for v in {**frame["arguments"],
                                                     **frame["locals"]}.values())
        text = thread["text"]
        assert text[0] == f"Traceback for thread {tid} ({expected['name']}) [] " \
                          "(most recent call last):"
        assert text[-1] == ""
        shown = [line for line in text if line.startswith("    (Python) File ")]
        assert shown == [f'    (Python) File "{f["file"]}", line {f["line"]}, in {f["name"]}'
                         for f in expected["frames"]]
    behaviours = result["behaviours"]
    assert behaviours == {"equal_to_itself": True, "others_differ": True,
                          "filter_by_inequality": True, "locations_hash": True,
                          "enums_hash": True, "method_bits": True,
                          "frame_type_names": ["EVAL", "IGNORE", "OTHER"],
                          "frame_type_eval": "EVAL"}
    assert result["not_found"] == "ProcessNotFound True"


def check_core(result: dict, report: dict, signal_number, chrooted: bool) -> None:
    core = result["core"]
    assert core["pid"] == report["pid"]
    assert core["ps"]["pid"] == report["pid"] and isinstance(core["ps"]["sname"], int)
    assert os.path.basename(core["executable"]).startswith("python")
    failure = core["failure"]
    assert sorted(failure) == ["failed_addr", "sender_pid", "sender_uid", "si_code",
                               "si_errno", "si_signo"]
    assert all(isinstance(v, int) for v in failure.values()), failure
    assert failure["failed_addr"] == 0
    if signal_number is not None:
        assert failure["si_signo"] == signal_number
    assert core["maps_contain_themselves"] and core["map_paths"]
    assert any("python" in os.path.basename(p) for p in core["map_paths"])
    if chrooted:  # found by file name in the directories given, and nowhere else
        assert all("/lib-dynload/" in path for path in core["missing"]), core["missing"]
    else:
        assert core["missing"] == []


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_script_live(interpreter):
    with started(interpreter) as target:
        result = run_script("remote", str(target.pid))
        check(result, target.report, interpreter)
        assert target.is_alive_and_running()


@pytest.mark.skipif(not shutil.which("gcore"), reason="needs gdb's gcore")
@pytest.mark.parametrize("interpreter", interpreter_params())
def test_script_gcore(interpreter, tmp_path):
    with started(interpreter) as target:
        core = gcore(interpreter, target, tmp_path)
        result = run_script("core", *core_script_args(interpreter, core))
        check(result, target.report, interpreter)
        check_core(result, target.report, None,  # gdb's own stop signal
                   interpreter["root"] not in ("/", ""))


@pytest.mark.skipif(not kernel_cores_possible(), reason="core_pattern does not write files")
@pytest.mark.parametrize("interpreter", interpreter_params())
def test_script_kernel_core(interpreter):
    with started(interpreter, cores=True) as target:
        os.kill(target.pid, signal.SIGABRT)
        core = target.wait_for_core()
        result = run_script("core", *core_script_args(interpreter, core))
        check(result, target.report, interpreter)
        check_core(result, target.report, signal.SIGABRT, interpreter["root"] not in ("/", ""))
        assert result["core"]["failure"]["sender_pid"] == os.getpid()
