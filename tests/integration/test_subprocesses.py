"""`pystack remote --subprocesses` on real process trees, compared with what each
process of the tree reports of itself: a forking master with workers (gunicorn's
way, with a zombie child), a multiprocessing pool, and a shell between Python
processes."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from conftest import interpreter_params, run_pystack
from integration.targets_util import started, wait_until_sleeping
from integration.parse_output import expand_numbers as expand, parse
from integration.test_json_group import GROUP_HEADER, dump_json, python_frames

PROCESS = re.compile(r"^Process (\d+): (.*?)(?: \(parent (\d+)\))?(?:: skipped, (.*))?$")
HOST = [p for p in interpreter_params() if p.values[0] and p.values[0]["root"] in ("/", "")]


@contextmanager
def tree(interpreter: dict, mode: str):
    with started(interpreter, "tree.py", args=[mode]) as target:
        try:
            reports = {p["pid"]: p for p in target.report["processes"]}
            for pid in reports:
                wait_until_sleeping(pid)
            yield target.pid, reports
        finally:
            try:
                os.killpg(target.pid, signal.SIGKILL)
            except OSError:
                pass


def sections(output: str) -> dict[int, dict]:
    """Each `Process` line with the text under it, by pid, in the order printed."""
    found: dict[int, dict] = {}
    current = None
    for line in output.splitlines():
        m = PROCESS.match(line)
        if m:
            current = found[int(m.group(1))] = {
                "order": len(found), "command": m.group(2),
                "ppid": int(m.group(3)) if m.group(3) else None, "skipped": m.group(4),
                "text": []}
        elif current is not None:
            current["text"].append(line)
    return found


def frames_of(report: dict) -> list:
    return [(f["file"], f["name"], f["line"]) for f in report["frames"]]


def in_tree_order(processes: list[tuple[int, int | None]]) -> bool:
    """(pid, ppid) pairs depth first from the root, brothers by pid."""
    children: dict = {}
    for pid, ppid in processes[1:]:
        children.setdefault(ppid, []).append(pid)
    order, stack = [], [processes[0][0]]
    while stack:
        pid = stack.pop()
        order.append(pid)
        stack.extend(sorted(children.get(pid, []), reverse=True))
    return order == [pid for pid, _ in processes]


def check_text(output: str, root: int, reports: dict) -> dict:
    found = sections(output)
    assert next(iter(found)) == root  # the root first, parents before children
    assert in_tree_order([(pid, s["ppid"]) for pid, s in found.items()]), output
    for pid, report in reports.items():
        section = found[pid]
        assert section["skipped"] is None and section["ppid"] == report["ppid"]
        if pid != root:
            assert found[report["ppid"]]["order"] < section["order"]
        threads = parse("\n".join(section["text"]))
        got = [(f["file"], f["name"], f["line"]) for f in threads[pid]["frames"]]
        assert got == frames_of(report), pid
    return found


def check_json(document: dict, root: int, reports: dict) -> dict:
    processes = {p["pid"]: p for p in document["processes"]}
    assert document["processes"][0]["pid"] == root
    assert in_tree_order([(p["pid"], p["ppid"]) for p in document["processes"]])
    for pid, report in reports.items():
        process = processes[pid]
        assert process["skipped"] is None and process["ppid"] == report["ppid"]
        (main,) = [t for t in process["threads"] if t["tid"] == pid]
        got = [(f["file"], f["qualname"] or f["function"], f["line"])
               for f in python_frames(main)]
        assert got == frames_of(report), pid
    return processes


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_forking_master_and_workers(interpreter):
    with tree(interpreter, "prefork") as (root, reports):
        workers = sorted(pid for pid, r in reports.items() if r["role"] == "worker")
        result = run_pystack("remote", "--subprocesses", str(root))
        assert result.returncode == 0, result.stderr
        found = check_text(result.stdout, root, reports)
        zombies = [s for pid, s in found.items() if pid not in reports]
        assert [z["skipped"] for z in zombies] == ["a zombie"], result.stdout
        processes = check_json(dump_json("remote", "--subprocesses", str(root)), root, reports)
        assert [p["skipped"] for p in processes.values() if p["pid"] not in reports] == \
            ["a zombie"]
        # the workers park in the same place: one group across the processes
        grouped = run_pystack("remote", "--subprocesses", "--group", str(root))
        assert grouped.returncode == 0, grouped.stderr
        headers = [m for m in map(GROUP_HEADER.match, grouped.stdout.splitlines()) if m]
        pids_header = re.search(r", pids ([\d, -]+), tids", grouped.stdout)
        assert pids_header and expand(pids_header.group(1)) == workers, grouped.stdout
        # every process line first, then the blocks
        lines = grouped.stdout.splitlines()
        assert all(PROCESS.match(line) for line in lines[:len(found)])
        assert headers == [] or len(headers) == 1
        group_line = next(line for line in lines if ", pids " in line)
        assert group_line.startswith(f"Traceback for {len(workers)} threads (MainThread "
                                     f"({len(workers)}x)), pids ")


@pytest.mark.parametrize("interpreter", HOST or interpreter_params())
def test_pool_workers(interpreter):
    with tree(interpreter, "pool") as (root, reports):
        result = run_pystack("remote", "--subprocesses", str(root))
        assert result.returncode == 0, result.stderr
        check_text(result.stdout, root, reports)
        check_json(dump_json("remote", "--subprocesses", str(root)), root, reports)


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_shell_between_python_processes(interpreter):
    with tree(interpreter, "forkexec") as (root, reports):
        result = run_pystack("remote", "--subprocesses", str(root))
        assert result.returncode == 0, result.stderr
        found = check_text(result.stdout, root, reports)
        (leaf,) = [pid for pid, r in reports.items() if r["role"] == "leaf"]
        shell = found[reports[leaf]["ppid"]]
        assert shell["skipped"] == "not a Python process"
        assert shell["command"] == "sleep 100000"  # the shell exec()ed it
        assert found[reports[leaf]["ppid"]]["ppid"] == root
        # started at the shell, which is no Python: its Python child is still dumped
        from_shell = run_pystack("remote", "--subprocesses", str(reports[leaf]["ppid"]))
        assert from_shell.returncode == 0, from_shell.stderr
        assert sorted(sections(from_shell.stdout)) == sorted([reports[leaf]["ppid"], leaf])


@pytest.mark.skipif(not HOST, reason="no host interpreter provisioned")
@pytest.mark.skipif(not os.path.exists("/usr/lib/x86_64-linux-gnu/libdw.so.1"),
                    reason="needs libdw")
def test_every_option_with_subprocesses():
    interpreter = max((p.values[0] for p in HOST),
                      key=lambda i: tuple(int(x) for x in i["version"].split(".")[:2]))
    with tree(interpreter, "prefork") as (root, reports):
        workers = [pid for pid, r in reports.items() if r["role"] == "worker"]
        for options in (["--native"], ["--native-last"], ["--locals"], ["--no-block"],
                        ["--native", "--locals"], ["--exhaustive"]):
            text = run_pystack("remote", "--subprocesses", *options, str(root))
            assert text.returncode == 0, (options, text.stderr)
            found = check_text(text.stdout, root, reports)
            for pid in workers:
                body = "\n".join(found[pid]["text"])
                assert ("(C) File" in body) == any(o.startswith("--native") for o in options)
                assert ("Locals:" in body or "Arguments:" in body) == ("--locals" in options)
            check_json(dump_json("remote", "--subprocesses", *options, str(root)),
                       root, reports)
            grouped = run_pystack("remote", "--subprocesses", "--group", *options, str(root))
            assert grouped.returncode == 0, (options, grouped.stderr)
            # each worker forked at another turn of its loop: its locals differ
            assert (f"Traceback for {len(workers)} threads" in grouped.stdout) == \
                ("--locals" not in options), options
        # nothing of the tree is left stopped
        for pid in reports:
            with open(f"/proc/{pid}/stat") as f:
                assert f.read().rsplit(")", 1)[1].split()[0] != "t"


def test_exit_status_and_errors():
    sleeper = subprocess.Popen(["sleep", "100"])
    try:
        time.sleep(0.1)
        none = run_pystack("remote", "--subprocesses", str(sleeper.pid))
        assert none.returncode == 8 and none.stdout == ""
        assert none.stderr.startswith("pystack: error:") and none.stderr.count("\n") == 1
        as_json = run_pystack("remote", "--subprocesses", "--json", str(sleeper.pid))
        assert as_json.returncode == 8 and as_json.stdout == ""
    finally:
        sleeper.kill()
        sleeper.wait()
    gone = run_pystack("remote", "--subprocesses", "999999999")
    assert gone.returncode == 3 and "Traceback" not in gone.stderr


@pytest.mark.skipif(not HOST, reason="no host interpreter provisioned")
def test_a_process_that_exits_during_the_dump_is_noted(monkeypatch):
    """The tree is a snapshot: a process gone by the time it is read is a note."""
    from pystack import engine
    from pystack.target import tree as tree_module

    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names nothing any more
    real = tree_module.process_tree

    def with_a_vanished_child(root):
        nodes = real(root)
        nodes.append(tree_module.ProcessNode(gone.pid, root, 1, "python3 gone.py"))
        return nodes

    monkeypatch.setattr(tree_module, "process_tree", with_a_vanished_child)
    interpreter = HOST[-1].values[0]
    with started(interpreter) as target:
        dumps = engine.dump_process_tree(target.pid)
    assert [d.pid for d in dumps][0] == target.pid and dumps[0].skipped is None
    assert dumps[-1].pid == gone.pid and dumps[-1].skipped == "exited during the dump"
    assert dumps[-1].command == "python3 gone.py" and dumps[-1].threads == []
    assert {t.tid for t in dumps[0].threads} == {t["tid"] for t in target.report["threads"]}


@pytest.mark.skipif(not HOST, reason="no host interpreter provisioned")
def test_processes_without_python_are_never_stopped(monkeypatch):
    """A shell or `sleep` in the tree is told apart by its mappings and executable."""
    from pystack import engine
    attached = []
    real = engine.dump_process

    def recording(pid, *args, **kwargs):
        attached.append(pid)
        return real(pid, *args, **kwargs)

    monkeypatch.setattr(engine, "dump_process", recording)
    with tree(HOST[-1].values[0], "forkexec") as (root, reports):
        dumps = engine.dump_process_tree(root)
        (leaf,) = [pid for pid, r in reports.items() if r["role"] == "leaf"]
        shell = reports[leaf]["ppid"]
        assert sorted(attached) == sorted(reports)  # the Python ones only
        assert {d.pid: d.skipped for d in dumps}[shell] == "not a Python process"
        # --exhaustive looks everywhere, so it must look at the shell too
        attached.clear()
        engine.dump_process_tree(root, method=engine.StackMethod.ALL)
        assert shell in attached
