"""Every failure of `pystack remote` is one line on stderr and a distinct exit status."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import INTERPRETERS, SRC, run_pystack
from integration.targets_util import task_states

PYENV_311 = "/root/.pyenv/versions/3.11.7"


def assert_one_line_error(result: subprocess.CompletedProcess, status: int, *words: str):
    assert result.returncode == status, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pystack: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert result.stdout == ""


def free_pid() -> int:
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def sleeper(argv=None):
    proc = subprocess.Popen(argv or ["sleep", "100"])
    time.sleep(0.1)
    return proc


def test_no_such_process():
    assert_one_line_error(run_pystack("remote", str(free_pid())), 3, "no process")


def test_bad_pid_is_a_usage_error():
    result = run_pystack("remote", "abc")
    assert result.returncode == 2
    assert "invalid pid" in result.stderr and "Traceback" not in result.stderr


def test_not_a_python_process():
    proc = sleeper()
    try:
        assert_one_line_error(run_pystack("remote", str(proc.pid)), 8, "no Python")
        assert open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "t"
    finally:
        proc.kill()
        proc.wait()


def test_zombie():
    proc = subprocess.Popen(["true"])
    deadline = time.time() + 5
    while time.time() < deadline:  # wait for it to exit without reaping it
        with open(f"/proc/{proc.pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.01)
    try:
        assert_one_line_error(run_pystack("remote", str(proc.pid)), 7, "zombie")
    finally:
        proc.wait()


def test_already_traced():
    target = sleeper([sys.executable, "-c", "import time; time.sleep(100)"])
    holder_code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {SRC!r})
        from pystack.target.live import LiveProcess
        with LiveProcess({target.pid}):
            print("held", flush=True)
            time.sleep(100)
    """)
    holder = subprocess.Popen([sys.executable, "-c", holder_code], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert_one_line_error(run_pystack("remote", str(target.pid)), 5, "traced")
    finally:
        holder.kill()
        holder.wait()
        target.kill()
        target.wait()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to drop privileges")
def test_permission_denied():
    target = sleeper([sys.executable, "-c", "import time; time.sleep(100)"])
    try:
        env = dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1")
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             sys.executable, "-m", "pystack", "remote", str(target.pid)],
            capture_output=True, text=True, env=env, timeout=60)
        assert_one_line_error(result, 4, "CAP_SYS_PTRACE")
    finally:
        target.kill()
        target.wait()


def test_native_with_no_block_is_refused():
    result = run_pystack("remote", "--native", "--no-block", "1")
    assert_one_line_error(result, 2, "--no-block")


EMBED_C = r"""
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    if (argc > 2) {
        void (*init)(void) = (void (*)(void))dlsym(lib, "Py_Initialize");
        void (*fini)(void) = (void (*)(void))dlsym(lib, "Py_Finalize");
        init();
        fini();
    }
    puts("ready");
    fflush(stdout);
    pause();
    return 0;
}
"""


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    if not shutil.which("gcc"):
        pytest.skip("needs gcc")
    tmp = tmp_path_factory.mktemp("embed")
    (tmp / "embed.c").write_text(EMBED_C)
    subprocess.run(["gcc", "-o", str(tmp / "embed"), str(tmp / "embed.c"), "-ldl"],
                   check=True)
    return str(tmp / "embed")


@pytest.mark.parametrize("finalised", [False, True], ids=["not-initialised", "finalised"])
def test_interpreter_not_initialised_or_finalised(embedder, finalised):
    libpython = f"{PYENV_311}/lib/libpython3.11.so.1.0"
    if not os.path.exists(libpython):
        pytest.skip("needs pyenv's 3.11 shared libpython")
    argv = [embedder, libpython] + (["fini"] if finalised else [])
    env = dict(os.environ, PYTHONHOME=PYENV_311)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert_one_line_error(run_pystack("remote", str(proc.pid)), 9, "initialised")
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killing_pystack_mid_dump_leaves_the_target_running(sig):
    """Whatever kills us while the target is stopped, the target runs on.

    The target's 1,000 threads, 150 frames deep each, keep a dump reading for about a
    second with every thread stopped: each signal is sent while the target is seen
    stopped and pystack still runs, so it always lands mid-dump."""
    code = ("import threading, time\n"
            "def deep(n):\n"
            "    if n == 0:\n"
            "        time.sleep(100)\n"
            "    deep(n - 1)\n"
            "for _ in range(1000):\n"
            "    threading.Thread(target=deep, args=(150,), daemon=True).start()\n"
            "time.sleep(1)\n"
            "print('ready', flush=True)\n"
            "time.sleep(100)\n")
    target = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert target.stdout.readline().strip() == "ready"
        env = dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1")
        for delay in (0.0, 0.05, 0.1, 0.2):
            # --exhaustive makes the dump long enough to be interrupted while attached
            dumper = subprocess.Popen([sys.executable, "-m", "pystack", "remote",
                                       "--exhaustive", str(target.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      env=env, text=True)
            # signal only once pystack holds the target stopped: that is "mid-dump"
            deadline = time.time() + 10
            while "t" not in task_states(target.pid).values() and time.time() < deadline:
                time.sleep(0.002)
            time.sleep(delay)
            # mid-dump for certain: the target stopped, pystack not done with it
            assert "t" in task_states(target.pid).values() and dumper.poll() is None, delay
            dumper.send_signal(sig)
            _, err = dumper.communicate(timeout=30)
            assert "Traceback" not in err
            deadline = time.time() + 5
            while time.time() < deadline:
                states = list(task_states(target.pid).values())
                if "t" not in states and "T" not in states:
                    break
                time.sleep(0.05)
            assert "t" not in states and "T" not in states, states
    finally:
        target.kill()
        target.wait()
