"""Start a benchmark target under an interpreter, and make cores of it.

A chroot's target runs its own copy of target.py from a scratch directory under the
root's /tmp, which is also its working directory: that is where the kernel writes its
core, and where gcore and py-spy's staged copy go so every tool can reach them from
inside the root too.
"""
from __future__ import annotations

import contextlib
import os
import resource
import select
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Iterator, Optional

from interpreters import Interpreter

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_SCRIPT = os.path.join(HERE, "target.py")
CORE_PATTERN = "/proc/sys/kernel/core_pattern"
READY_TIMEOUT = 120.0


class TargetError(RuntimeError):
    """The target would not start, or would not leave a core."""


@dataclass
class Workspace:
    """A scratch directory the target can see; `host` and `inside` name the same one."""

    interp: Interpreter
    host: str

    @property
    def inside(self) -> str:
        return self.interp.inside_path(self.host)

    def remove(self) -> None:
        shutil.rmtree(self.host, ignore_errors=True)


@contextlib.contextmanager
def workspace(interp: Interpreter, keep: bool = False) -> Iterator[Workspace]:
    """A fresh scratch directory under the target's root, removed afterwards."""
    parent = interp.host_path("/tmp")
    os.makedirs(parent, exist_ok=True)
    space = Workspace(interp, tempfile.mkdtemp(prefix="pystack-bench-", dir=parent))
    os.chmod(space.host, 0o755)
    shutil.copy(TARGET_SCRIPT, space.host)
    try:
        yield space
    finally:
        if not keep:
            space.remove()


@dataclass
class Target:
    """A running target that has said it is ready."""

    proc: subprocess.Popen
    pid: int

    def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def started(space: Workspace, args: tuple[str, ...], dump_core: bool = False
            ) -> Iterator[Target]:
    """Run target.py with `args` and wait for its ``ready PID`` line."""
    script = os.path.join(space.inside, "target.py")
    argv = list(space.interp.argv) + [script, *args, "--cwd", space.inside]
    with open(os.path.join(space.host, "target.stderr"), "wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err, preexec_fn=_allow_cores if dump_core else None)
    target = Target(proc, proc.pid)
    try:
        target.pid = _wait_ready(proc, space)
        yield target
    finally:
        target.stop()
        proc.stdout.close()


def _allow_cores() -> None:
    """Runs in the child: no core size limit, so SIGABRT leaves a whole core."""
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def _wait_ready(proc: subprocess.Popen, space: Workspace) -> int:
    ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("ready "):
        proc.kill()
        proc.wait()
        with open(os.path.join(space.host, "target.stderr"), errors="replace") as f:
            tail = f.read()[-500:].strip()
        raise TargetError(f"target did not start: {tail or 'no output'}")
    return int(line.split()[1])


def kernel_core(target: Target, space: Workspace) -> str:
    """SIGABRT the target and return the host path of the core the kernel wrote."""
    before = set(os.listdir(space.host))
    os.kill(target.pid, signal.SIGABRT)
    status = target.proc.wait(timeout=300)
    if status != -signal.SIGABRT:
        raise TargetError(f"target ended with status {status}, not by SIGABRT")
    new = [n for n in os.listdir(space.host) if n not in before]
    if not new:
        raise TargetError(f"the kernel wrote no core (core_pattern {read_core_pattern()!r})")
    return os.path.join(space.host, max(new, key=lambda n: os.path.getmtime(
        os.path.join(space.host, n))))


def gcore(target: Target, space: Workspace, timeout: float = 600) -> str:
    """Have gdb's gcore write a core of the live target; it keeps running."""
    prefix = os.path.join(space.host, "gcore")
    try:
        result = subprocess.run(["gcore", "-o", prefix, str(target.pid)], capture_output=True,
                                text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TargetError(f"gcore failed: {exc}") from exc
    path = f"{prefix}.{target.pid}"
    if result.returncode != 0 or not os.path.exists(path):
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise TargetError(f"gcore failed: {tail[0] if tail else result.returncode}")
    return path


def read_core_pattern() -> str:
    with open(CORE_PATTERN) as f:
        return f.read().strip()


@contextlib.contextmanager
def cores_in_working_directory() -> Iterator[Optional[str]]:
    """Make the kernel write cores as files in the crashing process's directory.

    A pattern that already does ("core", "core.%p") is left alone. A pipe to a crash
    collector or an absolute path is replaced by "core.%p" for the run and put back
    afterwards, whatever happens; yields the pattern that was replaced, if any.
    """
    original = read_core_pattern()
    if not (original.startswith("|") or "/" in original):
        yield None
        return
    _write_core_pattern("core.%p")
    try:
        yield original
    finally:
        _write_core_pattern(original)


def _write_core_pattern(pattern: str) -> None:
    with open(CORE_PATTERN, "w") as f:
        f.write(pattern)


def disk_usage(path: str) -> tuple[int, int]:
    """(apparent size, bytes allocated on disk): a sparse core's two sizes."""
    info = os.stat(path)
    return info.st_size, info.st_blocks * 512
