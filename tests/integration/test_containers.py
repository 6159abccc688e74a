"""Targets in containers: their own PID and mount namespaces, made with `unshare` as
container runtimes make them, on every provisioned interpreter (chroot ones inside a
chroot too), dumped from outside and from inside.

From outside, every thread carries the tid /proc shows here and, in its header, the
tid it has in its namespace (what the target itself reports); --native unwinds the
right threads (libdw handed a tid from the wrong namespace aborts the process);
--no-block translates through NSpid alone. A kernel core of such a target has the
container's tids. Files deleted since they were mapped (an upgraded libpython) open
through /proc/PID/map_files. Without CAP_SYS_PTRACE the error says so.
"""
from __future__ import annotations

import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import INTERPRETERS, SRC, interpreter_params, run_pystack
from integration.parse_output import parse
from integration.targets_util import (_stage_scripts, task_states, wait_for_core,
                                      wait_until_sleeping)
from integration.test_core import core_args, gcore, kernel_cores_possible

pytestmark = pytest.mark.skipif(not shutil.which("unshare") or os.geteuid() != 0,
                                reason="needs unshare and root")

NAME = re.compile(r"^(.*?)(?:; )?tid (\d+) in its namespace$")


def _no_cores_but_allowed() -> None:
    """No core for this process (unshare), but its descendants may ask for one."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.RLIM_INFINITY))


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


class Contained:
    """stacks.py as pid 1 of its own PID namespace, /proc remounted for it."""

    def __init__(self, interpreter: dict, cores: bool = False, depth: int = 1) -> None:
        inside, self.host_dir = _stage_scripts(interpreter["root"])
        self.staged = self.host_dir
        argv = interpreter["argv"] + [os.path.join(inside, "stacks.py")]
        cwd = None
        if cores:
            # Only the target may dump core: unshare re-raises its child's fatal
            # signal on itself, and its own core would overwrite the target's.
            folder = inside
            if interpreter["root"] in ("/", ""):
                self.host_dir = folder = tempfile.mkdtemp(prefix="pystack-ns-cores-")
            argv = interpreter["argv"][:-1] + [
                "/bin/sh", "-c", f'ulimit -c unlimited && cd {folder} && exec "$0" "$@"',
                interpreter["argv"][-1], os.path.join(inside, "stacks.py")]
        # a crash is how it dumps core: pid 1 of a namespace ignores a SIGABRT sent
        # from outside (it has no handler for it), but not its own segfault
        env = dict(os.environ, TARGET_CRASHER="1") if cores else None
        self.proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc"] * depth + argv,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=cwd, env=env,
                                     preexec_fn=_no_cores_but_allowed if cores else None)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            raise RuntimeError(f"target did not start: {self.proc.stderr.read()[-2000:]}")
        self.report = json.loads(line)
        assert self.report["pid"] == 1  # its own PID namespace
        self.pid = self._host_pid()
        self.own_tids = self._own_tids()
        wait_until_sleeping(self.pid)

    def _host_pid(self) -> int:
        """The target: the first descendant that is not an unshare (one per level)."""
        deadline = time.time() + 10
        parent = self.proc.pid
        while time.time() < deadline:
            found = children_of(parent)
            if not found:
                time.sleep(0.05)
                continue
            with open(f"/proc/{found[0]}/comm") as f:
                if f.read().strip() != "unshare":
                    return found[0]
            parent = found[0]
        raise RuntimeError("no child of unshare")

    def _own_tids(self) -> dict[int, int]:
        """Our tid -> the target's own, from NSpid."""
        found = {}
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            with open(f"/proc/{self.pid}/task/{tid}/status") as f:
                ids = [line.split()[1:] for line in f if line.startswith("NSpid:")][0]
            found[int(ids[0])] = int(ids[-1])
        return found

    def close(self) -> None:
        try:  # pid 1 of its namespace: everything inside goes with it
            os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, AttributeError):
            pass
        self.proc.kill()
        self.proc.wait()
        for folder in {self.staged, self.host_dir}:
            if folder and "/pystack-" in folder:
                shutil.rmtree(folder, ignore_errors=True)


def check_outside(output: str, target: Contained) -> None:
    """Threads by the tids /proc shows here, each with its own tid in its header, and
    the frames the target reported (it reports its own tids)."""
    got = parse(output)
    assert sorted(got) == sorted(target.own_tids), output
    reported = {t["tid"]: t for t in target.report["threads"]}
    for tid, thread in got.items():
        m = NAME.match(thread["name"] or "")
        assert m, thread["name"]
        name, theirs = m.group(1), int(m.group(2))
        assert theirs == target.own_tids[tid]
        expected = reported[theirs]
        assert name == expected["name"]
        assert thread["status"] == ""
        assert [(f["file"], f["name"], f["line"]) for f in thread["frames"]] == \
            [(f["file"], f["name"], f["line"]) for f in expected["frames"]], tid


def check_own_view(output: str, target: Contained) -> None:
    """The tids the target itself reported, and no namespace note."""
    got = parse(output)
    reported = {t["tid"]: t for t in target.report["threads"]}
    assert sorted(got) == sorted(reported), output
    for tid, thread in got.items():
        assert thread["name"] == reported[tid]["name"]
        assert [(f["name"], f["line"]) for f in thread["frames"]] == \
            [(f["name"], f["line"]) for f in reported[tid]["frames"]], tid


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_dumped_from_outside(interpreter):
    target = Contained(interpreter)
    try:
        plain = run_pystack("remote", str(target.pid))
        assert plain.returncode == 0, plain.stderr
        check_outside(plain.stdout, target)
        no_block = run_pystack("remote", "--no-block", str(target.pid))
        assert no_block.returncode == 0, no_block.stderr
        check_outside(no_block.stdout, target)
        with_locals = run_pystack("remote", "--locals", str(target.pid))
        assert with_locals.returncode == 0, with_locals.stderr
        check_outside(with_locals.stdout, target)
        assert "      Arguments:" in with_locals.stdout
        document = json.loads(run_pystack("remote", "--json", str(target.pid)).stdout)
        threads = document["processes"][0]["threads"]
        assert {t["tid"]: t["tid_in_namespace"] for t in threads} == target.own_tids
        native = run_pystack("remote", "--native", str(target.pid))
        assert native.returncode == 0, native.stderr
        check_outside(native.stdout, target)
        assert "native frames not shown" not in native.stdout, native.stdout
        assert native.stdout.count("(C) File") > 3 * len(target.own_tids), native.stdout
        assert all(state != "t" for state in task_states(target.pid).values())
    finally:
        target.close()


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_container_in_a_container(interpreter):
    """Two nested PID namespaces: our tids, and the innermost namespace's own."""
    target = Contained(interpreter, depth=2)
    try:
        for options in ([], ["--no-block"], ["--native"]):
            result = run_pystack("remote", *options, str(target.pid))
            assert result.returncode == 0, result.stderr
            check_outside(result.stdout, target)
        with open(f"/proc/{target.pid}/status") as f:
            assert len([line for line in f if line.startswith("NSpid:")][0].split()) == 4
    finally:
        target.close()


@pytest.mark.skipif(not shutil.which("nsenter"), reason="needs nsenter")
@pytest.mark.parametrize("interpreter", interpreter_params())
def test_dumped_from_inside(interpreter):
    """pystack run in the target's namespaces (`kubectl exec`): the tids it sees."""
    target = Contained(interpreter)
    try:
        for options in ([], ["--native"]):
            inside = subprocess.run(
                ["nsenter", "--target", str(target.pid), "--pid", "--mount", "--",
                 sys.executable, "-m", "pystack", "remote", *options, "1"],
                capture_output=True, text=True, timeout=60,
                env=dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1"))
            assert inside.returncode == 0, inside.stderr
            check_own_view(inside.stdout, target)
            assert "native frames not shown" not in inside.stdout
    finally:
        target.close()


@pytest.mark.skipif(not kernel_cores_possible(), reason="core_pattern does not write files")
@pytest.mark.parametrize("interpreter", interpreter_params())
def test_kernel_core_of_a_contained_target(interpreter):
    """A contained target that crashes: the kernel writes the container's tids into
    the core, and they are what it shows."""
    target = Contained(interpreter, cores=True)
    try:
        target.proc.stdin.write("crash\n")
        target.proc.stdin.flush()
        path = wait_for_core(target.proc, target.host_dir)  # unshare dies with it
        result = run_pystack(*core_args(interpreter, path))
        assert result.returncode == 0, result.stderr
        check_own_view(result.stdout, target)
    finally:
        target.close()


def _host_rooted():
    return [p for p in interpreter_params()
            if p.values[0] is None or p.values[0]["root"] in ("/", "")]


@pytest.mark.skipif(not shutil.which("gcore"), reason="needs gdb's gcore")
@pytest.mark.parametrize("interpreter", _host_rooted())
def test_gcore_from_outside(interpreter, tmp_path):
    """gdb writes our tids into the core, the interpreter kept the container's: the
    thread pointers of the core's threads match them up."""
    target = Contained(interpreter)
    try:
        core = gcore(interpreter, target, tmp_path)
        result = run_pystack(*core_args(interpreter, core))
        assert result.returncode == 0, result.stderr
        got = parse(result.stdout)
        assert sorted(got) == sorted(target.own_tids), result.stdout
        version = tuple(int(x) for x in interpreter["version"].split(".")[:2])
        if version >= (3, 11):  # before, nothing in memory holds the container's tids
            check_outside(result.stdout, target)
        os.unlink(core)
    finally:
        target.close()


def _pyenv_with_libpython():
    found = []
    for interpreter in INTERPRETERS:
        exe = interpreter["exe"]
        if not exe.startswith(os.path.expanduser("~/.pyenv/")):
            continue
        version = ".".join(interpreter["version"].split(".")[:2])
        lib = os.path.join(os.path.dirname(os.path.dirname(exe)), "lib",
                           f"libpython{version}.so.1.0")
        if os.path.exists(lib):
            found.append(pytest.param(interpreter, lib, id=interpreter["name"]))
    return found or [pytest.param(None, None, marks=pytest.mark.skip(
        reason="no pyenv interpreter with a shared libpython"))]


@pytest.mark.parametrize("interpreter, libpython", _pyenv_with_libpython())
def test_deleted_libpython(interpreter, libpython, tmp_path):
    """A libpython deleted after the process mapped it (a package upgrade, a rolled-out
    image) is read as mapped, through /proc/PID/map_files: Python and native frames."""
    folder = tmp_path / "lib"
    folder.mkdir()
    shutil.copy(libpython, folder)
    inside, _ = _stage_scripts("/")
    proc = subprocess.Popen(interpreter["argv"] + [os.path.join(inside, "stacks.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, LD_LIBRARY_PATH=str(folder)))
    try:
        report = json.loads(proc.stdout.readline())
        wait_until_sleeping(report["pid"])
        os.unlink(folder / os.path.basename(libpython))
        with open(f"/proc/{report['pid']}/maps") as f:
            assert f"{folder}/libpython" in f.read()
        result = run_pystack("remote", str(report["pid"]))
        assert result.returncode == 0, result.stderr
        got = parse(result.stdout)
        assert sorted(got) == sorted(t["tid"] for t in report["threads"])
        native = run_pystack("remote", "--native", str(report["pid"]))
        assert native.returncode == 0, native.stderr
        assert "native frames not shown" not in native.stdout
        # libpython's own frames are named from the deleted file, not left as ???
        assert re.search(r"\) File \"\S+\.c\", line \d+, in \w+ \(libpython", native.stdout)
        assert "in ??? (libpython" not in native.stdout, native.stdout
    finally:
        proc.kill()
        proc.wait()


def test_permission_error_names_the_missing_capability():
    """Root without CAP_SYS_PTRACE (a container without --cap-add SYS_PTRACE) cannot
    trace another user's process: the error says which capability is missing."""
    if not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3.11"):
        pytest.skip("needs setpriv and /usr/bin/python3.11")
    target = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "/usr/bin/python3.11", "-c",
                               "import time; print(1, flush=True); time.sleep(600)"],
                              stdout=subprocess.PIPE, text=True, cwd="/")
    try:
        target.stdout.readline()
        result = subprocess.run(
            ["setpriv", "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace",
             sys.executable, "-m", "pystack", "remote", str(target.pid)],
            capture_output=True, text=True, timeout=60,
            env=dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1"))
        assert result.returncode == 4, result
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "lacks CAP_SYS_PTRACE although it runs as root" in result.stderr
        assert "--cap-add SYS_PTRACE" in result.stderr
        assert "belongs to uid 65534" in result.stderr
    finally:
        target.kill()
        target.wait()
