"""Start the target scripts under a provisioned interpreter, inside its root if any."""
from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "targets")


def _stage_scripts(root: str) -> tuple[str, str]:
    """Copy the target scripts under `root`; return (path inside root, host path)."""
    if root in ("/", ""):
        return SCRIPTS, SCRIPTS
    host_tmp = os.path.join(root, "tmp")
    os.makedirs(host_tmp, exist_ok=True)
    host_dir = tempfile.mkdtemp(prefix="pystack-targets-", dir=host_tmp)
    for name in os.listdir(SCRIPTS):
        if name.endswith(".py"):
            shutil.copy(os.path.join(SCRIPTS, name), host_dir)
    os.chmod(host_dir, 0o755)
    return "/tmp/" + os.path.basename(host_dir), host_dir


class Target:
    def __init__(self, proc: subprocess.Popen, report: dict, host_dir: str) -> None:
        self.proc = proc
        self.report = report
        self.pid = report["pid"]
        #: host path of the target's working folder (where kernel cores appear)
        self.host_dir = host_dir

    def wait_for_core(self, timeout: float = 30) -> str:
        return wait_for_core(self.proc, self.host_dir, timeout)

    def read_line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return ""
        return self.proc.stdout.readline()

    def is_alive_and_running(self, timeout: float = 10) -> bool:
        """The target answers SIGUSR1: none of its threads is left stopped."""
        os.kill(self.pid, signal.SIGUSR1)
        return self.read_line(timeout).strip() == "alive"

    def task_states(self) -> dict[int, str]:
        return task_states(self.pid)


def wait_for_core(proc: subprocess.Popen, folder: str, timeout: float = 30) -> str:
    """Wait for `proc` to die and the kernel to finish writing the core in `folder`."""
    proc.wait(timeout)
    path = os.path.join(folder, "core")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            size = os.path.getsize(path)
            time.sleep(0.2)
            if os.path.getsize(path) == size:
                return path
        time.sleep(0.05)
    raise AssertionError(f"no core in {folder}")


def task_states(pid: int) -> dict[int, str]:
    """tid -> the state letter /proc shows for each task of `pid` (`t`: stopped)."""
    states = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                states[int(tid)] = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            pass
    return states


# select, nanosleep, clock_nanosleep, pselect6, ppoll, poll: what time.sleep waits in
_SLEEPING_SYSCALLS = {"7", "23", "35", "230", "270", "271"}


def _wait_until_main_thread_sleeps(pid: int, timeout: float = 10, tid: int = 0) -> None:
    """The report is printed just before the main thread sleeps: wait until it does,
    so that what it reported (the line of its sleep) is what a dump will see."""
    deadline = time.time() + timeout
    tid = tid or pid
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                if f.read().split(" ", 1)[0] in _SLEEPING_SYSCALLS:
                    return
        except OSError:
            return
        time.sleep(0.005)
    raise RuntimeError(f"thread {tid} of {pid} never went to sleep")


wait_until_sleeping = _wait_until_main_thread_sleeps


def _allow_cores() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


@contextmanager
def started(interpreter: dict, script: str = "stacks.py", env: dict | None = None,
            timeout: float = 60, cores: bool = False, args: list | None = None):
    """Start a target; with `cores`, it may dump core into its own working directory.

    The working directory is the staged scripts' folder (inside the chroot for sid
    targets, so the kernel writes their cores there, as it would in a container).
    """
    inside, host_dir = _stage_scripts(interpreter["root"])
    script_path = os.path.join(inside, script)
    argv = interpreter["argv"] + [script_path] + list(args or [])
    cwd = None
    if cores:
        if interpreter["root"] in ("/", ""):
            host_dir = tempfile.mkdtemp(prefix="pystack-cores-")
            cwd = host_dir
        else:  # chroot(8) changes to "/": change directory inside
            argv = interpreter["argv"][:-1] + [
                "/bin/sh", "-c", f'cd {inside} && exec "$0" "$@"',
                interpreter["argv"][-1], script_path] + list(args or [])
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd,
                            preexec_fn=_allow_cores if cores else None,
                            env=dict(os.environ, **(env or {})))
    try:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        if not line:
            proc.kill()
            raise RuntimeError(f"target did not start: {proc.stderr.read()[-2000:]}")
        report = json.loads(line)
        target = Target(proc, report, host_dir)
        _wait_until_main_thread_sleeps(target.pid)
        yield target
    finally:
        proc.kill()
        proc.wait()
        if host_dir != SCRIPTS:
            shutil.rmtree(host_dir, ignore_errors=True)


