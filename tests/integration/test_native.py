"""--native, --native-all and --native-last on every provisioned interpreter, live and
from gcore cores: native frames appear where they belong in the Python stack."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import interpreter_params, run_pystack
from integration.targets_util import _stage_scripts, wait_until_sleeping
from integration.test_core import gcore

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = re.compile(r"^Traceback for thread (\d+)")

pytestmark = pytest.mark.skipif(
    not shutil.which("g++") or not os.path.exists("/usr/lib/x86_64-linux-gnu/libdw.so.1"),
    reason="needs g++ and libdw")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    out = tmp_path_factory.mktemp("native") / "blocker.so"
    subprocess.run(["g++", "-O2", "-g", "-shared", "-fPIC", "-o", str(out),
                    os.path.join(HERE, "native", "blocker.cpp"), "-lpthread"], check=True)
    return str(out)


class NativeTarget:
    def __init__(self, interpreter: dict, library: str) -> None:
        inside, self.host_dir = _stage_scripts(interpreter["root"])
        shutil.copy(library, self.host_dir)
        lib_inside = os.path.join(inside, "blocker.so")
        if interpreter["root"] in ("/", ""):
            lib_inside = library
        self.proc = subprocess.Popen(
            interpreter["argv"] + [os.path.join(inside, "native_target.py"), lib_inside],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            raise RuntimeError(self.proc.stderr.read())
        self.report = json.loads(line)
        self.pid = self.report["pid"]
        wait_until_sleeping(self.pid)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def blocks(output: str) -> dict[int, list[str]]:
    threads: dict[int, list[str]] = {}
    current: list[str] = []
    for line in output.splitlines():
        m = HEADER.match(line)
        if m:
            current = threads.setdefault(int(m.group(1)), [])
        elif line.startswith("    ("):
            current.append(line.strip())
    return threads


def after(lines: list[str], python_function: str) -> list[str]:
    """The native frames printed after the Python frame of `python_function`."""
    index = max(i for i, line in enumerate(lines)
                if line.startswith("(Python)") and line.endswith(f" in {python_function}"))
    return [line for line in lines[index + 1:] if line.startswith("(C)")]


def check_merged(output: str, tids: dict) -> None:
    threads = blocks(output)
    sleeper = after(threads[tids["sleeper"]], "sleeper")
    assert any("sleep" in line for line in sleeper), sleeper
    assert any("(libc.so.6)" in line for line in sleeper), sleeper
    cpp = after(threads[tids["cpp"]], "in_cpp")
    assert any("pystack_test::hold<int>(int)" in line for line in cpp), cpp
    assert any("pystack_test::park()" in line for line in cpp), cpp
    assert any("pystack_test::wait_here (inlined)" in line for line in cpp), cpp
    assert any("blocker.cpp" in line for line in cpp), cpp
    assert after(threads[tids["locked"]], "locked"), threads[tids["locked"]]
    for lines in threads.values():  # the interpreter's plumbing is hidden
        assert not any("_PyEval_EvalFrameDefault" in line for line in lines)


PYTHON_LINE = re.compile(r'^\(Python\) File "(.*)", line (\d+), in (.*)$')


def check_python_frames(output: str, report: dict) -> None:
    """Merged with native frames, every thread's Python frames are still the ones the
    target reported, in its order: the threads called back from C (several eval-loop
    calls each, groups of different sizes) fail if groups are matched out of order."""
    threads = blocks(output)
    for name, tid in report["tids"].items():
        if name == "main":
            continue
        expected = report["frames"][str(report["idents"][str(tid)])]
        printed = [PYTHON_LINE.match(line).groups() for line in threads[tid]
                   if line.startswith("(Python)")]
        assert [(f, int(n), q.rsplit(".", 1)[-1]) for f, n, q in printed] == \
            [(f, n, c) for f, c, n in expected], (name, threads[tid])
        assert not any("native frames not shown" in line for line in threads[tid])
    # where C called Python back, C frames stand between the two Python frames
    for name, pairs in CALLED_BACK.items():
        lines = threads[report["tids"][name]]
        for caller, callee in pairs:
            start = next(i for i, line in enumerate(lines) if line.endswith(f" in {caller}")
                         or line.endswith(f".{caller}"))
            end = next(i for i, line in enumerate(lines) if i > start and (
                line.endswith(f" in {callee}") or line.endswith(f".{callee}")))
            assert any(line.startswith("(C)") for line in lines[start:end]), \
                (caller, callee, lines)


#: Threads of native_target.py whose Python frames C calls back: (caller, callee).
CALLED_BACK = {
    "callbacks": [("callbacks", "by_key"), ("by_key", "by_map"), ("by_map", "by_reduce")],
    "init": [("in_init", "__init__"), ("__init__", "__eq__"), ("compare_in_c", "compare")],
}


def run_checks(args: list[str], report: dict) -> None:
    tids = report["tids"]
    merged = run_pystack(*args[:1], "--native", *args[1:])
    assert merged.returncode == 0, merged.stderr
    check_merged(merged.stdout, tids)
    check_python_frames(merged.stdout, report)
    everything = run_pystack(*args[:1], "--native-all", *args[1:])
    assert everything.returncode == 0, everything.stderr
    extra = [lines for tid, lines in blocks(everything.stdout).items()
             if tid not in tids.values()]
    assert any(any("c_thread_main" in line for line in lines)
               and not any(line.startswith("(Python)") for line in lines)
               for lines in extra), everything.stdout
    last = run_pystack(*args[:1], "--native-last", *args[1:])
    assert last.returncode == 0, last.stderr
    sleeper = blocks(last.stdout)[tids["sleeper"]]
    first_python = next(i for i, line in enumerate(sleeper) if line.startswith("(Python)"))
    assert first_python == 0, sleeper
    assert any("sleep" in line for line in sleeper if line.startswith("(C)"))


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_native_live_and_core(interpreter, library, tmp_path):
    target = NativeTarget(interpreter, library)
    try:
        tids = target.report["tids"]
        run_checks(["remote", str(target.pid)], target.report)
        target.host_dir = target.host_dir  # gcore() writes there for chroot targets
        core = gcore(interpreter, target, tmp_path)
        args = ["core", core]
        if interpreter["root"] not in ("/", ""):
            # Told where the libraries are by directory instead: the image's debug
            # files (needed where the eval loop is split into .cold parts) are
            # still found, from where the executable and those directories lie.
            root = interpreter["root"]
            dirs = [os.path.join(root, d) for d in
                    ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib")]
            by_path = run_pystack("core", core, interpreter["exe"], "--native",
                                  "--lib-search-path", ":".join(dirs))
            assert by_path.returncode == 0, by_path.stderr
            check_merged(by_path.stdout, tids)
            check_python_frames(by_path.stdout, target.report)
            args += ["--lib-search-root", root]
        run_checks(args, target.report)
    finally:
        target.close()
