"""`pystack core` on cores of real targets, on every provisioned interpreter.

Each target is dumped three ways: `gcore` while it runs, a kernel core after SIGABRT,
and a kernel core after a real crash (SIGSEGV) inside a ctypes call. The frames must be
exactly those the target reported, and the header true to the process.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest

from conftest import interpreter_params, run_pystack
from integration.test_remote import assert_same_stacks
from integration.targets_util import started

pytestmark = pytest.mark.skipif(not shutil.which("gcore"), reason="needs gdb's gcore")


def core_args(interpreter: dict, core: str) -> list[str]:
    args = ["core", core]
    if interpreter["root"] not in ("/", ""):
        args += ["--lib-search-root", interpreter["root"]]
    return args


def kernel_cores_possible() -> bool:
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    return pattern.startswith("core") and "/" not in pattern


def header_value(output: str, key: str) -> str:
    for line in output.splitlines():
        words = line.split()
        if key + ":" in words:
            return words[words.index(key + ":") + 1]
    raise AssertionError(f"no {key} in header:\n{output}")


def gcore(interpreter: dict, target, tmp_path) -> str:
    """Dump a running target with gdb's gcore: the chroot's own for chroot targets
    (the host's gdb 13 writes zeros for thread stacks under sid's glibc)."""
    root = interpreter["root"]
    if root in ("/", ""):
        prefix = str(tmp_path / "gcore")
        argv = ["gcore", "-o", prefix, str(target.pid)]
        core = f"{prefix}.{target.pid}"
    else:
        if not os.path.exists(os.path.join(root, "usr/bin/gcore")):
            pytest.skip("the chroot has no gcore: run scripts/provision_targets.py")
        inside = "/tmp/" + os.path.basename(target.host_dir)
        # gdb needs /proc inside the chroot: mount it in a private mount namespace
        # that vanishes with the command
        script = (f'mount -t proc proc "{root}/proc" && exec chroot "{root}" '
                  f'gcore -o {inside}/gcore {target.pid}')
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        core = os.path.join(target.host_dir, f"gcore.{target.pid}")
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return core


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_gcore(interpreter, tmp_path):
    with started(interpreter) as target:
        core = gcore(interpreter, target, tmp_path)
        assert target.is_alive_and_running()
        os.rename(core, tmp_path / "core")  # the target's folder goes with it
        core = str(tmp_path / "core")
        # read while its scripts are there: their source lines are compared
        result = run_pystack(*core_args(interpreter, core))
    assert result.returncode == 0, result.stderr
    assert_same_stacks(result.stdout, target.report)
    assert header_value(result.stdout, "pid") == str(target.pid)
    assert "taken on demand" in result.stdout


@pytest.mark.skipif(not kernel_cores_possible(), reason="core_pattern does not write files")
@pytest.mark.parametrize("interpreter", interpreter_params())
def test_kernel_core_after_sigabrt(interpreter):
    with started(interpreter, cores=True) as target:
        os.kill(target.pid, signal.SIGABRT)
        core = target.wait_for_core()
        result = run_pystack(*core_args(interpreter, core))
        assert result.returncode == 0, result.stderr
        assert_same_stacks(result.stdout, target.report)
        assert header_value(result.stdout, "pid") == str(target.pid)
        assert f"signal SIGABRT sent by pid {os.getpid()}" in result.stdout


@pytest.mark.skipif(not kernel_cores_possible(), reason="core_pattern does not write files")
@pytest.mark.parametrize("interpreter", interpreter_params())
def test_kernel_core_after_segfault_in_ctypes(interpreter):
    with started(interpreter, cores=True, env={"TARGET_CRASHER": "1"}) as target:
        target.proc.stdin.write("crash\n")
        target.proc.stdin.flush()
        core = target.wait_for_core()
        result = run_pystack(*core_args(interpreter, core))
        assert result.returncode == 0, result.stderr
        assert_same_stacks(result.stdout, target.report)
        assert "segmentation fault (SIGSEGV) accessing address 0x1" in result.stdout


@pytest.mark.skipif(not kernel_cores_possible(), reason="core_pattern does not write files")
@pytest.mark.parametrize("interpreter", [p for p in interpreter_params()
                                         if p.values[0] is None
                                         or p.values[0]["root"] not in ("/", "")])
def test_chroot_core_without_its_root_says_what_is_missing(interpreter):
    """A core of a process that ran in a chroot or container, read without
    --lib-search-root: its executable is not here, and that is the error (exit 12,
    with the remedy), not "not a Python process"."""
    if os.path.exists(interpreter["argv"][-1]):
        pytest.skip(f"{interpreter['argv'][-1]} exists on this host too")
    with started(interpreter, cores=True) as target:
        os.kill(target.pid, signal.SIGABRT)
        core = target.wait_for_core()
        result = run_pystack("core", core)
        assert result.returncode == 12, result
        (line,) = result.stderr.strip().splitlines()[-1:]
        assert "is not on this machine" in line and "--lib-search-root" in line, line
        assert "Traceback" not in result.stderr
