"""Start the target scripts under a provisioned interpreter, inside its root if any."""
from __future__ import annotations

import json
import os
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
        self.pid = report["pid"] if proc.pid != report.get("pid") else proc.pid
        self.host_dir = host_dir

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
        states = {}
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{tid}/stat") as f:
                    states[int(tid)] = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                pass
        return states


@contextmanager
def started(interpreter: dict, script: str = "stacks.py", env: dict | None = None,
            timeout: float = 60):
    inside, host_dir = _stage_scripts(interpreter["root"])
    argv = interpreter["argv"] + [os.path.join(inside, script)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, **(env or {})))
    try:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        if not line:
            proc.kill()
            raise RuntimeError(f"target did not start: {proc.stderr.read()[-2000:]}")
        report = json.loads(line)
        target = Target(proc, report, host_dir)
        target.pid = report["pid"]
        yield target
    finally:
        proc.kill()
        proc.wait()
        if host_dir != SCRIPTS:
            shutil.rmtree(host_dir, ignore_errors=True)
