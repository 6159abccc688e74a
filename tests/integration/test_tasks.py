"""--tasks: every asyncio task with its suspended stack and who awaits it, compared
with what the target (targets/asyncio_tasks.py) reports about its own tasks, live,
from gcore cores and from kernel cores, on every provisioned 3.8+ interpreter."""
from __future__ import annotations

import os
import re
import signal
import shutil
import time

import pytest

from conftest import interpreter_params, run_pystack
from timing import assert_quick
from integration.targets_util import started
from integration.test_core import core_args, gcore, kernel_cores_possible
from integration.test_json_group import dump_json, version_of

SCRIPT = "asyncio_tasks.py"
MANY = 40
TARGET_LINES = {}


def _marker_line(marker: str) -> int:
    if not TARGET_LINES:
        with open(os.path.join(os.path.dirname(__file__), "targets", SCRIPT)) as f:
            for number, text in enumerate(f, 1):
                found = re.search(r"# ([A-Z-]+)$", text.rstrip())
                if found:
                    TARGET_LINES[found.group(1)] = number
    return TARGET_LINES[marker]


def asyncio_params():
    return [p for p in interpreter_params()
            if version_of(p.values[0]) >= (3, 8)]


def check_tasks(document: dict, report: dict, version: tuple) -> None:
    """Every task the target reported: name, state, stack, awaiting edges; the many
    identical sleepers all there; the main task running; the loop's thread.

    From 3.14 a task leaves the registry when it is done (`asyncio.all_tasks()`
    cannot list it either): finished tasks are then not found."""
    (process,) = document["processes"]
    tasks = process["tasks"]
    by_name = {}
    for task in tasks:
        by_name.setdefault(task["name"], []).append(task)
    names = {t["id"]: t["name"] for t in tasks}
    many = [n for n in by_name if n.startswith("many-")]
    assert len(many) == report["many"], sorted(by_name)
    pending = 0
    for expected in report["tasks"]:
        if expected["state"] != "pending" and version >= (3, 14):
            assert expected["name"] not in by_name
            continue
        (task,) = by_name[expected["name"]]
        assert task["state"] == expected["state"], task
        assert task["thread"] == report["pid"], task  # the main thread runs the loop
        pending += expected["state"] == "pending"
        stack = [[f["file"], f["line"], f["function"]] for f in task["frames"]]
        if expected["name"] == "main":  # reported before it went to sleep
            expected_stack = [[expected["stack"][0][0], _marker_line("MAIN"), "main"]]
            assert task["running"] is True
            assert task["awaits"] is None
        else:
            expected_stack = expected["stack"]
            assert task["running"] is False, task
        assert stack == expected_stack, expected["name"]
        assert sorted(names[i] for i in task["awaited_by"]) == expected["awaited_by"], task
        if expected["state"] == "pending" and expected["name"] != "main":
            assert task["awaits"], task
    if version < (3, 14):
        assert by_name["failed"][0]["exception"] == "ValueError('boom')"
        assert by_name["cancelled"][0]["exception"] is None
    assert by_name["waiter"][0]["awaits"] == "Task 'awaited'"
    assert by_name["gatherer"][0]["awaits"] == "gather() of 2"
    assert by_name["lock-waiter"][0]["awaits"] == "Lock.acquire()"
    assert by_name["queue-waiter"][0]["awaits"] == "Queue.get()"
    assert by_name["event-waiter"][0]["awaits"] == "Event.wait()"
    assert by_name["sleeper"][0]["awaits"] == "asyncio.sleep()"
    assert by_name["py-waiter"][0]["awaits"] == "Task 'py-task'"
    assert by_name["yielder"][0]["awaits"] == "asyncio.sleep(0)"
    assert by_name["not-started"][0]["awaits"] == "its first step (not started yet)"
    assert by_name["py-task"][0]["implementation"] == "asyncio"
    assert by_name["sleeper"][0]["implementation"] == "_asyncio"
    pending += report["many"] - 1  # many-0 is among the reported ones
    assert process["event_loops"] == [{"thread": report["pid"], "pending_tasks": pending}]


def check_text(output: str, report: dict) -> None:
    assert re.search(rf"^{report['many']} tasks like this: 'many-", output, re.M), output
    assert "Deadlock: tasks await each other: 'circle-a' -> 'circle-b' -> 'circle-a'" \
        in output or "Deadlock: tasks await each other: 'circle-b' -> 'circle-a' -> " \
        "'circle-b'" in output, output
    assert re.search(r"^Task 'main' \[pending, running\]$", output, re.M), output
    assert "(asyncio event loop: " in output and "running task 'main'; listed below)" in output
    # the waiter is listed before what it awaits
    assert output.index("Task 'waiter'") < output.index("Task 'awaited'")
    assert "Task 'awaited' [pending] awaited by 'waiter'" in output


def _started(interpreter, **kwargs):
    return started(interpreter, SCRIPT, args=[str(MANY)], **kwargs)


@pytest.mark.parametrize("interpreter", asyncio_params())
def test_tasks_live(interpreter):
    version = version_of(interpreter)
    with _started(interpreter) as target:
        pid = str(target.pid)
        check_tasks(dump_json("remote", "--tasks", pid), target.report, version)
        text = run_pystack("remote", "--tasks", pid)
        assert text.returncode == 0 and text.stderr == "", text.stderr
        check_text(text.stdout, target.report)
        plain = run_pystack("remote", pid)
        assert plain.returncode == 0, plain.stderr
        pending = dump_json("remote", pid)["processes"][0]["event_loops"][0]["pending_tasks"]
        assert f"    (asyncio event loop: {pending} pending tasks; pystack --tasks lists " \
               "them)" in plain.stdout, plain.stdout
        assert "Task 'main'" not in plain.stdout
        # the Python API gives the same tasks
        from pystack.engine import get_process_tasks
        from_api = {t.name: t for t in get_process_tasks(target.pid)}
        document = dump_json("remote", "--tasks", pid)["processes"][0]["tasks"]
        assert sorted(from_api) == sorted(t["name"] for t in document)
        assert from_api["main"].running and from_api["waiter"].awaits == "Task 'awaited'"
        assert [c.location.lineno for c in from_api["sleeper"].frames] == \
            [f["line"] for f in next(t for t in document if t["name"] == "sleeper")["frames"]]
        assert "tasks" not in dump_json("remote", pid)["processes"][0]
        # --no-block reads the same tasks from the running process
        check_tasks(dump_json("remote", "--tasks", "--no-block", pid), target.report,
                    version)
        assert target.task_states()[target.pid] != "t"


@pytest.mark.skipif(not shutil.which("gcore"), reason="needs gdb's gcore")
@pytest.mark.parametrize("interpreter", asyncio_params())
def test_tasks_from_gcore_and_kernel_cores(interpreter, tmp_path):
    version = version_of(interpreter)
    with _started(interpreter) as target:
        core = gcore(interpreter, target, tmp_path)
        args = core_args(interpreter, core) + ["--tasks"]
        check_tasks(dump_json(*args), target.report, version)
        text = run_pystack(*args)
        assert text.returncode == 0, text.stderr
        check_text(text.stdout, target.report)
        from pystack.engine import get_core_tasks
        root = interpreter["root"]
        tasks = get_core_tasks(core, library_search_root=None if root in ("/", "") else root)
        assert {t.name for t in tasks} >= {t["name"] for t in target.report["tasks"]
                                          if t["state"] == "pending"}
        os.unlink(core)
    if not kernel_cores_possible():
        return
    with _started(interpreter, cores=True) as target:
        os.kill(target.pid, signal.SIGABRT)
        core = target.wait_for_core()
        check_tasks(dump_json(*core_args(interpreter, core), "--tasks"), target.report,
                    version)


@pytest.mark.parametrize("interpreter", [p for p in interpreter_params()
                                         if version_of(p.values[0]) < (3, 8)])
def test_tasks_on_versions_without_them(interpreter):
    """2.7-3.7: --tasks says it cannot list them, and the dump goes on."""
    with started(interpreter) as target:
        result = run_pystack("remote", "--tasks", str(target.pid))
        assert result.returncode == 0, result.stderr
        assert "Traceback for thread" in result.stdout
        assert "asyncio tasks are listed for Python 3.8 and later" in result.stderr


@pytest.mark.parametrize("interpreter", asyncio_params()[-1:])
def test_a_hundred_thousand_tasks_take_seconds(interpreter):
    """A large server's tasks: read, grouped and printed within seconds."""
    with started(interpreter, SCRIPT, args=["100000"], timeout=240) as target:
        began = time.monotonic()
        result = run_pystack("remote", "--tasks", str(target.pid))
        took = time.monotonic() - began
        assert result.returncode == 0, result.stderr
        assert re.search(r"^100,000 tasks like this: 'many-", result.stdout, re.M)
        assert len(result.stdout.splitlines()) < 400
        assert_quick(took, 2400, "listing 100,000 tasks")  # 30 s idle; 4.4 s measured
