"""`pystack remote` against real targets on every provisioned interpreter.

Each target reports its own threads through `sys._current_frames()`; pystack's output
must name the same threads (kernel tids and Python names) with the same frames
(file, function, line) in the same order, and the target must run on afterwards.
"""
from __future__ import annotations

import threading

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


def _tracer_pids_while(pid: int, argv: list) -> tuple[set, object]:
    """Run pystack with `argv` while another thread samples the target's TracerPid
    (and whether it is stopped) as fast as it can; (what was seen, the result)."""
    seen: set = set()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                with open(f"/proc/{pid}/status") as f:
                    status = f.read()
            except OSError:
                return
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            seen.add((fields["TracerPid"].strip(), fields["State"].split()[0]))

    watcher = threading.Thread(target=sample)
    watcher.start()
    try:
        result = run_pystack(*argv)
    finally:
        done.set()
        watcher.join()
    return seen, result


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_no_block_never_stops_or_traces_the_target(interpreter):
    """Sampled while --no-block reads (a target deep enough that reading takes a
    while), the target is never traced nor stopped; the same sampling during a
    blocking dump does see the tracer, so the watch can tell."""
    env = {"TARGET_DEPTH": "900", "TARGET_EXTRA_THREADS": "40"}  # under the recursion limit
    with started(interpreter, env=env) as target:
        pid = target.pid
        seen, result = _tracer_pids_while(pid, ["remote", "--no-block", str(pid)])
        assert result.returncode == 0, result.stderr
        assert seen and all(tracer == "0" and state != "t" for tracer, state in seen), seen
        assert_same_stacks(result.stdout, target.report)
        for _ in range(5):  # a blocking dump is short: look until the watch catches it
            seen, result = _tracer_pids_while(pid, ["remote", str(pid)])
            assert result.returncode == 0, result.stderr
            if any(tracer != "0" for tracer, _ in seen):
                break
        else:
            raise AssertionError(f"the watch never saw a blocking dump trace: {seen}")


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_no_block_survives_a_stack_that_never_stands_still(interpreter):
    """A thread recursing and returning without pause: every --no-block dump still
    exits 0 and prints every other thread right (torn reads are retried or marked)."""
    with started(interpreter, env={"TARGET_CHURN": "1"}) as target:
        for _ in range(10):
            result = run_pystack("remote", "--no-block", str(target.pid))
            assert result.returncode == 0, result.stderr
            assert "internal error" not in result.stderr
            got = parse(result.stdout)
            for tid, thread in expected_threads(target.report).items():
                assert [(f["file"], f["name"], f["line"]) for f in got[tid]["frames"]] == \
                    [(f["file"], f["name"], f["line"]) for f in thread["frames"]], tid
            churning = [t for t in got.values() if t["name"] == "churn"]
            assert len(churning) == 1
            names = {f["name"] for f in churning[0]["frames"]}
            assert names <= {"churn_down", "churn", "run", "_bootstrap", "_bootstrap_inner",
                             "__bootstrap", "__bootstrap_inner", "Thread.run",
                             "Thread._bootstrap", "Thread._bootstrap_inner"}, names


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_remote_no_block_matches_target(interpreter):
    with started(interpreter) as target:
        result = run_pystack("remote", "--no-block", str(target.pid))
        assert result.returncode == 0, result.stderr
        assert_same_stacks(result.stdout, target.report)
        assert target.is_alive_and_running()
