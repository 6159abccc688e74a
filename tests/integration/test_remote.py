"""`pystack remote` against real targets on every provisioned interpreter.

Each target reports its own threads through `sys._current_frames()`; pystack's output
must name the same threads (kernel tids and Python names) with the same frames
(file, function, line) in the same order, and the target must run on afterwards.
"""
from __future__ import annotations

import pytest

from conftest import interpreter_params, run_pystack
from integration.parse_output import parse
from integration.targets_util import started


def expected_threads(report: dict) -> dict[int, dict]:
    return {t["tid"]: t for t in report["threads"]}


#: A line a plain dump may print under a thread's frames: its event loop's tasks.
LOOP_LINE = "    (asyncio event loop: "


def assert_same_stacks(output: str, report: dict, sources: bool = True) -> None:
    """Every thread the target reported with its name, its frames (file, function,
    line) and, with `sources`, the source line under each as the target's `linecache`
    gives it; no status (every thread sleeps or waits), no native frame, no
    corruption marker or notice."""
    got = parse(output)
    want = expected_threads(report)
    assert sorted(got) == sorted(want), output
    for tid, thread in want.items():
        frames = [(f["file"], f["name"], f["line"]) for f in got[tid]["frames"]]
        expected = [(f["file"], f["name"], f["line"]) for f in thread["frames"]]
        assert frames == expected, f"thread {tid} ({thread['name']})"
        assert got[tid]["name"] == thread["name"]
        if sources:
            assert [f["code"] for f in got[tid]["frames"]] == \
                [f.get("code") or None for f in thread["frames"]], f"thread {tid}"
        assert got[tid]["status"] == "", (tid, got[tid]["status"])
        assert got[tid]["native"] == [], tid
        assert [line for line in got[tid]["others"] if not line.startswith(LOOP_LINE)] \
            == [], (tid, got[tid]["others"])


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_remote_matches_target(interpreter):
    with started(interpreter) as target:
        result = run_pystack("remote", str(target.pid))
        assert result.returncode == 0, result.stderr
        assert_same_stacks(result.stdout, target.report)
        assert all(state != "t" for state in target.task_states().values())
        assert target.is_alive_and_running()


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_remote_no_block_matches_target(interpreter):
    with started(interpreter) as target:
        result = run_pystack("remote", "--no-block", str(target.pid))
        assert result.returncode == 0, result.stderr
        assert_same_stacks(result.stdout, target.report)
        assert target.is_alive_and_running()
