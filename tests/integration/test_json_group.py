"""--json and --group on every provisioned interpreter, live and from cores.

The JSON of each target is parsed and compared field by field with what the target
reports of itself (threads, names, frames, lines, source lines, locals, GIL); every
document is validated against the published schema. `--group` is checked on a target
whose pool threads park in the same place.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import interpreter_params, run_pystack
from integration.parse_output import expand_numbers as expand, parse
from integration.targets_util import started, wait_until_sleeping
from integration.test_core import core_args, gcore, kernel_cores_possible
from integration.test_locals_status import frame_variables, gcore_of, start as start_status
from integration.test_remote import assert_same_stacks

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(REPO, "docs", "pystack-json.schema.json")) as _f:
    SCHEMA = json.load(_f)


def version_of(interpreter: dict) -> tuple:
    return tuple(int(x) for x in interpreter["version"].split(".")[:2])


def dump_json(*args: str) -> dict:
    result = run_pystack(*args, "--json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("}\n")
    document = json.loads(result.stdout)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)
    return document


def python_frames(thread: dict) -> list[dict]:
    return [f for f in thread["frames"] if f["kind"] == "python"]


def check_against_report(document: dict, report: dict, interpreter: dict) -> None:
    """Every thread the target reported, with its name and frames; nothing more."""
    (process,) = document["processes"]
    assert process["pid"] == report["pid"]
    assert process["python_version"] == ".".join(str(v) for v in report["version"])
    got = {t["tid"]: t for t in process["threads"]}
    want = {t["tid"]: t for t in report["threads"]}
    assert sorted(got) == sorted(want)
    old = version_of(interpreter) < (3, 7)
    for tid, expected in want.items():
        thread = got[tid]
        assert thread["name"] == expected["name"]
        assert thread["holds_gil"] is False, thread  # every thread sleeps or waits
        assert thread["gc_collecting"] is (None if old else False)
        assert thread["warnings"] == []
        frames = python_frames(thread)
        assert [(f["file"], f["qualname"] or f["function"], f["line"]) for f in frames] == \
            [(f["file"], f["name"], f["line"]) for f in expected["frames"]], tid
        assert [f["function"] for f in frames] == [f["function"] for f in expected["frames"]]
        assert [f["code"] for f in frames] == [f["code"] or None for f in expected["frames"]]
        assert not any(f["corrupted"] for f in frames)
        if version_of(interpreter) >= (3, 11):
            assert all(f["qualname"] is not None and f["column"] is not None for f in frames)
            for frame, reported in zip(frames, expected["frames"]):
                if reported["positions"] is not None:  # co_positions() of the instruction
                    assert [frame["line"], frame["end_line"], frame["column"],
                            frame["end_column"]] == reported["positions"], (tid, frame)
        else:
            assert all(f["qualname"] is None and f["column"] is None for f in frames)


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_json_live_matches_target(interpreter):
    with started(interpreter) as target:
        blocking = dump_json("remote", str(target.pid))
        check_against_report(blocking, target.report, interpreter)
        assert blocking["command"] == "remote" and blocking["core"] is None
        executable = blocking["processes"][0]["executable"]
        assert executable.endswith(target.report["executable"]), executable
        check_against_report(dump_json("remote", "--no-block", str(target.pid)),
                             target.report, interpreter)
        assert target.is_alive_and_running()


@pytest.mark.skipif(not shutil.which("gcore"), reason="needs gdb's gcore")
@pytest.mark.parametrize("interpreter", interpreter_params())
def test_json_from_gcore_and_kernel_cores(interpreter, tmp_path):
    # read while the target's files are there: a chroot target's scripts go with it
    with started(interpreter) as target:
        core = gcore(interpreter, target, tmp_path)
        document = dump_json(*core_args(interpreter, core))
    check_against_report(document, target.report, interpreter)
    facts = document["core"]
    assert document["command"] == "core" and facts["file"] == core
    assert facts["process"]["pid"] == target.pid and facts["executable_from_core"]
    assert facts["signal"]["name"] == "SIGSTOP" and "taken on demand" in facts["cause"]
    assert facts["missing_files"] == [] and document["warnings"] == []
    if not kernel_cores_possible():
        return
    with started(interpreter, cores=True) as target:
        os.kill(target.pid, signal.SIGABRT)
        document = dump_json(*core_args(interpreter, target.wait_for_core()))
    check_against_report(document, target.report, interpreter)
    sent = document["core"]["signal"]
    assert (sent["name"], sent["number"], sent["sender_pid"]) == (
        "SIGABRT", signal.SIGABRT, os.getpid())


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_json_locals_and_gil_match_text_and_target(interpreter, tmp_path):
    proc, report = start_status(interpreter, "locals")
    try:
        args = ["remote", "--locals", "--locals-max-length", "100000", str(report["pid"])]
        document = dump_json(*args)
        text = run_pystack(*args).stdout
        check_locals_and_status(document, text, report)
        # values cut to a length are cut the same way in both outputs
        for length in ("80", "12"):
            cut = ["remote", "--locals", "--locals-max-length", length, str(report["pid"])]
            threads = {t["tid"]: t for t in dump_json(*cut)["processes"][0]["threads"]}
            (zoo,) = [f for f in python_frames(threads[report["tids"]["main"]])
                      if f["function"] == "zoo"]
            arguments, local_vars = frame_variables(run_pystack(*cut).stdout, "zoo")
            assert (zoo["arguments"], zoo["locals"]) == (arguments, local_vars)
            assert zoo["locals"]["big"] != report["locals"]["big"] or length == "80"
        if shutil.which("gcore"):
            core = gcore_of(interpreter, report, tmp_path)
            args = core_args(interpreter, core) + ["--locals", "--locals-max-length",
                                                   "100000"]
            check_locals_and_status(dump_json(*args), run_pystack(*args).stdout, report)
    finally:
        proc.kill()
        proc.wait()


def check_locals_and_status(document: dict, text: str, report: dict) -> None:
    threads = {t["tid"]: t for t in document["processes"][0]["threads"]}
    tids = report["tids"]
    assert threads[tids["spinner"]]["holds_gil"] is True
    assert threads[tids["spinner"]]["status"] == "Has the GIL"
    assert threads[tids["sleeper"]]["holds_gil"] is False
    assert threads[tids["main"]]["holds_gil"] is False
    (zoo,) = [f for f in python_frames(threads[tids["main"]]) if f["function"] == "zoo"]
    assert zoo["arguments"] == report["arguments"]
    assert list(zoo["arguments"]) == ["number", "text", "rest", "options"]
    made_later = ("args", "names")  # made after the target took its snapshot
    assert {k: v for k, v in zoo["locals"].items() if k not in made_later} == report["locals"]
    # the same text the text output prints, in the same order
    arguments, local_vars = frame_variables(text, "zoo")
    assert zoo["arguments"] == arguments
    assert list(zoo["locals"].items()) == list(local_vars.items())


@pytest.mark.skipif(not shutil.which("g++")
                    or not os.path.exists("/usr/lib/x86_64-linux-gnu/libdw.so.1"),
                    reason="needs g++ and libdw")
@pytest.mark.parametrize("interpreter", interpreter_params())
def test_json_native_frames_merged(interpreter, tmp_path):
    from integration.test_native import NativeTarget, library as _unused  # noqa: F401
    lib = str(tmp_path / "blocker.so")
    subprocess.run(["g++", "-O2", "-g", "-shared", "-fPIC", "-o", lib,
                    os.path.join(REPO, "tests", "integration", "native", "blocker.cpp"),
                    "-lpthread"], check=True)
    target = NativeTarget(interpreter, lib)
    try:
        tids = target.report["tids"]
        merged = dump_json("remote", "--native", str(target.pid))
        threads = {t["tid"]: t for t in merged["processes"][0]["threads"]}
        sleeper = threads[tids["sleeper"]]["frames"]
        at = max(i for i, f in enumerate(sleeper)
                 if f["kind"] == "python" and f["function"] == "sleeper")
        below = [f for f in sleeper[at + 1:]]
        assert below and all(f["kind"] == "native" for f in below)
        # time.sleep's own C function, then libc (select before 3.11, clock_nanosleep after)
        assert any("sleep" in f["symbol"] for f in below)
        assert any(f["library"] == "libc.so.6" for f in below)
        assert sleeper[0]["kind"] == "native"  # the thread's start, above Python
        cpp = threads[tids["cpp"]]["frames"]
        names = [f.get("symbol") for f in cpp if f["kind"] == "native"]
        assert any("pystack_test::hold<int>(int)" in name for name in names), names
        inlined = [f for f in cpp if f.get("symbol") == "pystack_test::wait_here"]
        assert inlined and inlined[0]["inlined"] is True
        assert inlined[0]["file"].endswith("blocker.cpp") and inlined[0]["line"] > 0
        for thread in threads.values():
            assert not any("_PyEval_EvalFrameDefault" in f.get("symbol", "")
                           for f in thread["frames"])
            assert thread["waiting_for_gil"] is False and thread["dropping_gil"] is False
        everything = dump_json("remote", "--native-all", str(target.pid))
        extra = [t for t in everything["processes"][0]["threads"] if t["tid"] not in tids.values()]
        assert any(not python_frames(t) and
                   any(f["symbol"].startswith("c_thread_main") for f in t["frames"])
                   for t in extra)
        last = dump_json("remote", "--native-last", str(target.pid))
        frames = {t["tid"]: t for t in last["processes"][0]["threads"]}[tids["sleeper"]]["frames"]
        assert frames[0]["kind"] == "python"
        assert any("sleep" in f.get("symbol", "") for f in frames)
        # the text output shows the same frames, in the same order
        text = run_pystack("remote", "--native", str(target.pid)).stdout
        printed = [line.strip() for line in text.split(
            f"Traceback for thread {tids['sleeper']} ", 1)[1].split("\n\n")[0].splitlines()[1:]
            if line.startswith("    (")]
        assert len(printed) == len(sleeper)
        for line, frame in zip(printed, sleeper):
            if frame["kind"] == "python":
                assert line.startswith(f'(Python) File "{frame["file"]}", line {frame["line"]}')
            else:
                assert line.startswith("(C) File") and f" in {frame['symbol'].split('@')[0]}" in line
    finally:
        target.close()


# -- --group --------------------------------------------------------------------------

GROUP_HEADER = re.compile(r"^Traceback for (\d+) threads \((.*)\), tids (.*) \[(.*)\] "
                          r"\(most recent call last\):$")


def check_groups(output: str, report: dict, pool: int) -> None:
    """The pool's threads form one group naming all of them; the others print alone."""
    groups = [GROUP_HEADER.match(line) for line in output.splitlines()]
    groups = [m for m in groups if m]
    extra = sorted(t["tid"] for t in report["threads"] if (t["name"] or "").startswith("extra-"))
    assert len(extra) == pool
    assert len(groups) == 1, output
    (group,) = groups
    assert int(group.group(1)) == pool and expand(group.group(3)) == extra
    assert group.group(2) == f"extra-0 .. extra-{pool - 1}"
    alone = parse(output)  # the threads printed on their own
    assert sorted(alone) == sorted(t["tid"] for t in report["threads"] if t["tid"] not in extra)
    # the group's frames are those of each of its threads
    block = output.split(group.group(0), 1)[1].split("\n\n")[0]
    frames = [(m.group(1), m.group(3), int(m.group(2))) for m in
              re.finditer(r'^    \(Python\) File "(.*)", line (\d+), in (.*)$', block, re.M)]
    for tid in extra:
        (thread,) = [t for t in report["threads"] if t["tid"] == tid]
        assert frames == [(f["file"], f["name"], f["line"]) for f in thread["frames"]]


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_group_live_and_core(interpreter, tmp_path):
    pool = 6
    with started(interpreter, env={"TARGET_EXTRA_THREADS": str(pool)}) as target:
        grouped = run_pystack("remote", "--group", str(target.pid))
        assert grouped.returncode == 0, grouped.stderr
        check_groups(grouped.stdout, target.report, pool)
        # with --locals each pool thread shows its own Thread object (`self`): values
        # that differ are never printed as one
        with_locals = run_pystack("remote", "--group", "--locals", str(target.pid))
        assert with_locals.returncode == 0, with_locals.stderr
        assert not any(map(GROUP_HEADER.match, with_locals.stdout.splitlines()))
        assert_same_stacks(with_locals.stdout, target.report)
        # --json keeps every thread, --group or not
        check_against_report(dump_json("remote", "--group", str(target.pid)),
                             target.report, interpreter)
        if shutil.which("gcore"):
            core = core_args(interpreter, gcore(interpreter, target, tmp_path))
            from_core = run_pystack(*core, "--group")
            assert from_core.returncode == 0, from_core.stderr
            check_groups(from_core.stdout, target.report, pool)
            # ungrouped, the same core prints every thread on its own
            assert_same_stacks(run_pystack(*core).stdout, target.report)


@pytest.mark.skipif(not os.path.exists("/usr/lib/x86_64-linux-gnu/libdw.so.1"),
                    reason="needs libdw")
@pytest.mark.parametrize("interpreter", interpreter_params())
def test_group_with_native_frames(interpreter):
    pool = 4
    with started(interpreter, env={"TARGET_EXTRA_THREADS": str(pool)}) as target:
        result = run_pystack("remote", "--group", "--native", str(target.pid))
        assert result.returncode == 0, result.stderr
        (header,) = [m for m in map(GROUP_HEADER.match, result.stdout.splitlines()) if m]
        extra = sorted(t["tid"] for t in target.report["threads"]
                       if (t["name"] or "").startswith("extra-"))
        assert expand(header.group(3)) == extra
        block = result.stdout.split(header.group(0), 1)[1].split("\n\n")[0]
        assert "(C) File" in block and "sleep" in block


# -- errors and warnings ----------------------------------------------------------------

def test_json_errors_leave_stdout_empty(tmp_path):
    gone = run_pystack("remote", "--json", "999999999")
    assert gone.returncode == 3 and gone.stdout == ""
    assert gone.stderr.startswith("pystack: error:") and gone.stderr.count("\n") == 1
    not_core = tmp_path / "not-a-core"
    not_core.write_bytes(b"hello")
    bad = run_pystack("core", "--json", str(not_core))
    assert bad.returncode != 0 and bad.stdout == "" and "Traceback" not in bad.stderr


@pytest.mark.skipif(not shutil.which("gcore"), reason="needs gdb's gcore")
def test_json_core_warnings_name_missing_files(tmp_path):
    """A library that was mapped and is gone by the time the core is read."""
    host = [i for i in interpreter_params() if i.values[0] and i.values[0]["root"] in ("/", "")]
    if not host:
        pytest.skip("no host interpreter provisioned")
    interpreter = host[-1].values[0]
    library = tmp_path / "libgone.so"
    shutil.copy("/lib/x86_64-linux-gnu/libm.so.6", library)
    with started(interpreter, env={"TARGET_LIBRARY": str(library)}) as target:
        core = gcore(interpreter, target, tmp_path)
    os.unlink(library)
    document = dump_json("core", core)
    assert str(library) in document["core"]["missing_files"]
    assert any(str(library) in w for w in document["warnings"])
    check_against_report(document, target.report, interpreter)
    text = run_pystack("core", core)
    assert str(library) in text.stderr and text.returncode == 0


# -- every option with --json and --group -----------------------------------------------

def _newest_host_interpreter():
    host = [p.values[0] for p in interpreter_params()
            if p.values[0] and p.values[0]["root"] in ("/", "")]
    return max(host, key=version_of) if host else None


_OPTIONS = [[], ["--native"], ["--native-all"], ["--native-last"], ["--locals"],
            ["--locals", "--locals-max-length", "5"], ["--exhaustive"], ["--no-block"],
            ["--no-block", "--locals"], ["-v", "--no-color"]]


@pytest.mark.skipif(not os.path.exists("/usr/lib/x86_64-linux-gnu/libdw.so.1"),
                    reason="needs libdw")
def test_every_option_combines_with_json_and_group():
    interpreter = _newest_host_interpreter()
    if interpreter is None:
        pytest.skip("no host interpreter provisioned")
    with started(interpreter, env={"TARGET_EXTRA_THREADS": "3"}) as target:
        for options in _OPTIONS:
            document = dump_json("remote", *options, str(target.pid))
            check_against_report(document, target.report, interpreter)
            native = any(o.startswith("--native") for o in options)
            for thread in document["processes"][0]["threads"]:
                kinds = {f["kind"] for f in thread["frames"]}
                assert ("native" in kinds) == native, (options, thread["frames"])
                for frame in python_frames(thread):
                    assert ("locals" in frame) == ("--locals" in options)
            both = run_pystack("remote", *options, "--group", "--json", str(target.pid))
            assert both.returncode == 0 and json.loads(both.stdout)["processes"]
            grouped = run_pystack("remote", *options, "--group", str(target.pid))
            assert grouped.returncode == 0, (options, grouped.stderr)
            headers = [m for m in map(GROUP_HEADER.match, grouped.stdout.splitlines()) if m]
            if "--locals" in options and "--locals-max-length" not in options:
                assert not headers  # each pool thread has its own Thread object
            else:  # cut to 5 characters, `<thr...` is the same for all of them
                assert len(headers) == 1 and headers[0].group(1) == "3", grouped.stdout
        assert target.is_alive_and_running()
