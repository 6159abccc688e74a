"""Tests of the live-process target against real, running Python processes.

Targets are started with a pyenv interpreter and report addresses, thread ids
and readiness as JSON lines on their stdout, so no test sleeps a fixed amount
waiting for a target to get going.  The invariant checked throughout is that a
target is never left stopped once a `LiveProcess` context is over.
"""
from __future__ import annotations

import json
import errno
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from pystack.errors import (  # noqa: E402
    AlreadyTraced,
    EngineError,
    InvalidPythonProcess,
    MemoryReadError,
    ProcessExited,
    ProcessNotFound,
    ZombieProcess,
)
from pystack.target import live, procfs, ptrace  # noqa: E402
from pystack.target.live import LiveProcess  # noqa: E402

TARGET_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python"
if not os.path.exists(TARGET_PYTHON):
    TARGET_PYTHON = sys.executable

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux only")


class Proc:
    """A child process speaking JSON lines on stdout."""

    def __init__(self, argv: list[str], env: Optional[dict[str, str]] = None) -> None:
        self.popen = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        self.pid = self.popen.pid
        self._buf = b""

    def readline(self, timeout: float = 5.0) -> Optional[bytes]:
        """One line of stdout, or None if nothing arrives within `timeout`."""
        deadline = time.monotonic() + timeout
        fd = self.popen.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def message(self, timeout: float = 5.0) -> Any:
        line = self.readline(timeout)
        if line is None:
            err = b""
            if self.popen.poll() is not None:
                err = self.popen.stderr.read()
            raise AssertionError(f"no message from pid {self.pid}; stderr: {err.decode(errors='replace')}")
        return json.loads(line)

    def drain(self) -> bytes:
        """Everything already written to stdout, without blocking."""
        fd = self.popen.stdout.fileno()
        out = self._buf
        self._buf = b""
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out += chunk
        return out

    def kill(self) -> None:
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(5)
        except (subprocess.TimeoutExpired, ChildProcessError):
            pass
        for f in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if f:
                f.close()


@pytest.fixture
def spawn() -> Iterator[Callable[..., Proc]]:
    procs: list[Proc] = []

    def _spawn(code: str, *, python: str = TARGET_PYTHON, env: Optional[dict[str, str]] = None) -> Proc:
        prelude = "import json, os, sys, threading, time\n" "def say(**kw):\n    print(json.dumps(kw), flush=True)\n"
        p = Proc([python, "-c", prelude + textwrap.dedent(code)], env=env)
        procs.append(p)
        return p

    yield _spawn
    for p in procs:
        p.kill()


def tracer_env() -> dict[str, str]:
    """Environment for a child that imports pystack from this tree."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def assert_running(pid: int) -> None:
    """No task of pid is in a ptrace stop ('t'), and nobody traces it."""
    states = procfs.task_states(pid)
    assert states, f"pid {pid} has no tasks"
    assert "t" not in states.values(), states
    assert procfs.tracer_pid(pid) == 0


def assert_all_stopped(pid: int) -> None:
    states = procfs.task_states(pid)
    assert states and all(s == "t" for s in states.values()), states


SLEEPER = """
b = b"pystack-known-bytes-" + os.urandom(8).hex().encode()
say(id=id(b), data=b.hex())
time.sleep(60)
"""


# ------------------------------------------------------------------ reading


def test_read_known_bytes_object(spawn: Callable[..., Proc]) -> None:
    t = spawn(SLEEPER)
    msg = t.message()
    data = bytes.fromhex(msg["data"])
    with LiveProcess(t.pid) as lp:
        assert lp.stopped
        assert_all_stopped(t.pid)
        # PyBytesObject: refcnt, type, ob_size, hash, then ob_sval.
        assert int.from_bytes(lp.read(msg["id"] + 16, 8), "little") == len(data)
        assert lp.read(msg["id"] + 32, len(data)) == data
        assert lp.read(msg["id"] + 32, 0) == b""
    assert_running(t.pid)


def test_read_many_marks_failed_ranges(spawn: Callable[..., Proc]) -> None:
    t = spawn(SLEEPER)
    msg = t.message()
    data = bytes.fromhex(msg["data"])
    base = msg["id"] + 32
    with LiveProcess(t.pid) as lp:
        gap_end = _mapping_followed_by_gap(lp)
        out = lp.read_many(
            [(base, 7), (0, 8), (base + 8, 5), (gap_end - 4, 8), (base, 0), (base + 1, 3), (8, 1), (-1, 4)]
        )
    assert out == [data[:7], None, data[8:13], None, b"", data[1:4], None, None]


def _mapping_followed_by_gap(lp: LiveProcess) -> int:
    maps = sorted(lp.mappings(), key=lambda m: m.start)
    for a, b in zip(maps, maps[1:]):
        if a.end < b.start and "r" in a.perms and a.path != "[vvar]":
            return a.end
    raise AssertionError("no readable mapping followed by a gap")


def test_read_errors(spawn: Callable[..., Proc]) -> None:
    t = spawn(SLEEPER)
    t.message()
    with LiveProcess(t.pid) as lp:
        with pytest.raises(MemoryReadError) as info:
            lp.read(0, 8)
        assert info.value.address == 0 and "0x0" in str(info.value)
        end = _mapping_followed_by_gap(lp)
        with pytest.raises(MemoryReadError):
            lp.read(end - 4, 8)  # straddles the end of a mapping: partial read
        assert len(lp.read(end - 4, 4)) == 4
        with pytest.raises(MemoryReadError):
            lp.read((1 << 64) - 4, 8)
    assert_running(t.pid)


def test_proc_mem_fallback(spawn: Callable[..., Proc]) -> None:
    t = spawn(SLEEPER)
    msg = t.message()
    data = bytes.fromhex(msg["data"])
    with LiveProcess(t.pid) as lp:
        lp._use_vm_readv = False  # as if seccomp refused process_vm_readv
        assert lp.read(msg["id"] + 32, len(data)) == data
        with pytest.raises(MemoryReadError):
            lp.read(0, 8)
        end = _mapping_followed_by_gap(lp)
        with pytest.raises(MemoryReadError):
            lp.read(end - 4, 8)
        assert lp.read_many([(msg["id"] + 32, 4), (0, 4)]) == [data[:4], None]
        assert lp._mem_fd is not None
    assert lp._mem_fd is None
    assert_running(t.pid)


def test_no_block_reads_without_stopping(spawn: Callable[..., Proc]) -> None:
    t = spawn(SLEEPER)
    msg = t.message()
    data = bytes.fromhex(msg["data"])
    with LiveProcess(t.pid, stop=False) as lp:
        assert not lp.stopped
        assert procfs.tracer_pid(t.pid) == 0
        assert "t" not in procfs.task_states(t.pid).values()
        assert lp.read(msg["id"] + 32, len(data)) == data
        assert lp.thread_ids() == [t.pid]
    assert_running(t.pid)


def test_no_block_on_own_process() -> None:
    obj = b"reading myself without stopping"
    with LiveProcess(os.getpid(), stop=False) as lp:
        assert lp.read(id(obj) + 32, len(obj)) == obj


# ------------------------------------------------------------ metadata


def test_mappings_exe_and_root(spawn: Callable[..., Proc]) -> None:
    t = spawn(SLEEPER)
    t.message()
    with LiveProcess(t.pid) as lp:
        maps = lp.mappings()
        assert lp.mappings() == maps  # cached while stopped
        exe = lp.exe
        assert exe == os.path.realpath(TARGET_PYTHON)
        assert any(m.path == exe and "x" in m.perms for m in maps)
        assert any(m.path == "[stack]" for m in maps)
        assert lp.root == f"/proc/{t.pid}/root"
        assert os.path.exists(lp.host_path(exe))
    assert_running(t.pid)


THREADS = """
ready = threading.Barrier(4)
def work(name, busy):
    with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as f:
        f.write(name)
    ready.wait()
    while busy:
        pass
    time.sleep(60)
ts = [threading.Thread(target=work, args=(f"worker-{i}", i == 0), daemon=True) for i in range(3)]
for th in ts:
    th.start()
ready.wait()
say(main=threading.get_native_id(), threads=[th.native_id for th in ts])
time.sleep(60)
"""


def test_thread_ids_and_names(spawn: Callable[..., Proc]) -> None:
    t = spawn(THREADS)
    msg = t.message()
    with LiveProcess(t.pid) as lp:
        tids = lp.thread_ids()
        assert tids[0] == msg["main"] == t.pid
        assert sorted(tids[1:]) == sorted(msg["threads"])
        assert_all_stopped(t.pid)  # the busy-looping thread too
        names = {lp.thread_name(tid) for tid in msg["threads"]}
        assert names == {"worker-0", "worker-1", "worker-2"}
        regs = lp.registers(msg["threads"][0])
        assert regs and all(isinstance(v, int) for v in regs.values())
    assert lp.thread_name(99999999) is None
    assert_running(t.pid)


def test_tid_of_a_thread_means_its_process(spawn: Callable[..., Proc]) -> None:
    t = spawn(THREADS)
    msg = t.message()
    with LiveProcess(msg["threads"][1]) as lp:
        assert lp.pid == t.pid
        assert_all_stopped(t.pid)
    assert_running(t.pid)


# ------------------------------------------------------------ stopping


COUNTER = """
i = 0
while True:
    i += 1
    print(i, flush=True)
    time.sleep(0.005)
"""


def test_target_stopped_inside_and_running_after(spawn: Callable[..., Proc]) -> None:
    t = spawn(COUNTER)
    assert t.readline() is not None
    with LiveProcess(t.pid) as lp:
        assert_all_stopped(t.pid)
        assert procfs.is_process_stopped(t.pid)
        assert procfs.tracer_pid(t.pid) == os.getpid()
        t.drain()  # whatever was written before the stop
        time.sleep(0.05)
        assert t.drain() == b"", "target kept running while attached"
    assert not procfs.is_process_stopped(t.pid)
    assert_running(t.pid)
    first = int(t.readline())
    assert t.readline() is not None and t.readline() is not None
    assert int(t.readline()) > first


SPAWNER = """
sem = threading.BoundedSemaphore(40)
def child():
    try:
        time.sleep(0.002 * (threading.get_native_id() % 7))
    finally:
        sem.release()
def spawn_forever():
    while True:
        sem.acquire()
        threading.Thread(target=child, daemon=True).start()
for _ in range(2):
    threading.Thread(target=spawn_forever, daemon=True).start()
say(ready=True)
spawn_forever()
"""


def test_threads_spawned_during_attach_are_all_stopped(spawn: Callable[..., Proc]) -> None:
    t = spawn(SPAWNER)
    t.message()
    seen_threads = 0
    for _ in range(15):
        with LiveProcess(t.pid) as lp:
            assert lp.unstopped_tids == []
            assert_all_stopped(t.pid)
            tids = lp.thread_ids()
            assert set(tids) == set(procfs.task_ids(t.pid))
            seen_threads = max(seen_threads, len(tids))
        assert_running(t.pid)
    assert seen_threads > 3


def test_exception_inside_with_detaches(spawn: Callable[..., Proc]) -> None:
    t = spawn(THREADS)
    t.message()
    with pytest.raises(ZeroDivisionError):
        with LiveProcess(t.pid):
            assert_all_stopped(t.pid)
            1 / 0
    assert_running(t.pid)
    with pytest.raises(KeyboardInterrupt):
        with LiveProcess(t.pid):
            raise KeyboardInterrupt
    assert_running(t.pid)


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """SIGINT as an interactive Python has it: a shell's background job inherits it
    ignored, and then (rightly) no handler is installed for it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("default_sigint")
def test_signal_handlers_installed_and_restored(spawn: Callable[..., Proc]) -> None:
    t = spawn(SLEEPER)
    t.message()
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with LiveProcess(t.pid) as lp:
        assert signal.getsignal(signal.SIGINT) is live._on_signal
        assert signal.getsignal(signal.SIGTERM) is live._on_signal
        assert live._REGISTRY == [lp]
    assert {s: signal.getsignal(s) for s in before} == before
    assert live._REGISTRY == []


def test_attach_from_a_non_main_thread_installs_no_handlers(spawn: Callable[..., Proc]) -> None:
    import threading

    t = spawn(THREADS)
    t.message()
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    seen: dict[str, Any] = {}

    def work() -> None:
        try:
            with LiveProcess(t.pid) as lp:
                seen["stopped"] = procfs.is_process_stopped(t.pid)
                seen["handlers"] = {s: signal.getsignal(s) for s in before}
                seen["registry"] = list(live._REGISTRY) == [lp]
                seen["previous"] = dict(live._PREVIOUS)
        except BaseException as exc:  # noqa: BLE001 - reported below
            seen["error"] = exc

    th = threading.Thread(target=work)
    th.start()
    th.join(30)
    assert "error" not in seen, seen.get("error")
    assert seen == {"stopped": True, "handlers": before, "registry": True, "previous": {}}
    assert {s: signal.getsignal(s) for s in before} == before
    assert live._REGISTRY == [] and live._PREVIOUS == {}
    assert_running(t.pid)


RAW_THREAD_TRACER = """
import _thread, json, signal, sys
from pystack.target import live, procfs
target = int(sys.argv[1])
result = {"threading_loaded": "threading" in sys.modules}
done = _thread.allocate_lock()
done.acquire()
def work():
    try:
        with live.LiveProcess(target):
            result["stopped"] = procfs.is_process_stopped(target)
            result["handler_is_ours"] = signal.getsignal(signal.SIGINT) is live._on_signal
            result["previous"] = len(live._PREVIOUS)
    except BaseException as exc:
        result["error"] = repr(exc)
    finally:
        done.release()
_thread.start_new_thread(work, ())
done.acquire()
result["registry"] = len(live._REGISTRY)
result["running"] = not procfs.is_process_stopped(target)
print(json.dumps(result), flush=True)
"""


def test_attach_from_a_raw_thread_without_threading(spawn: Callable[..., Proc]) -> None:
    """A thread started with `_thread` (threading never imported) is not the main
    thread either: `_signal.signal` refuses, and attaching goes on without handlers."""
    t = spawn(THREADS)
    t.message()
    tracer = Proc([sys.executable, "-c", RAW_THREAD_TRACER, str(t.pid)], env=tracer_env())
    try:
        result = tracer.message(timeout=30)
        assert tracer.popen.wait(5) == 0
    finally:
        tracer.kill()
    assert result == {"threading_loaded": False, "stopped": True, "handler_is_ours": False,
                      "previous": 0, "registry": 0, "running": True}
    assert_running(t.pid)


@pytest.mark.usefixtures("default_sigint")
def test_sigint_in_process_detaches_before_keyboardinterrupt(spawn: Callable[..., Proc]) -> None:
    t = spawn(THREADS)
    t.message()
    seen: list[bool] = []
    with pytest.raises(KeyboardInterrupt):
        with LiveProcess(t.pid) as lp:
            # What the default SIGINT handler sees: the target already released.
            original = live._PREVIOUS[signal.SIGINT]

            def spy(signum: int, frame: Any) -> None:
                seen.append(procfs.is_process_stopped(t.pid))
                original(signum, frame)

            live._PREVIOUS[signal.SIGINT] = spy
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler raises before this ends
    # The handler recorded in the registry is put back (here: the spy).
    restored = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    assert restored is not live._on_signal and live._PREVIOUS == {}
    assert seen == [False]
    assert not lp.stopped
    assert_running(t.pid)


TRACER = """
import json, signal, sys, time
from pystack.target.live import LiveProcess
from pystack.target import procfs
target = int(sys.argv[1])
mode = sys.argv[2]
if mode == "handler":
    def handler(signum, frame):
        print(json.dumps({"stopped_in_handler": procfs.is_process_stopped(target)}), flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, handler)
with LiveProcess(target):
    print(json.dumps({"attached": True}), flush=True)
    sys.stdin.readline()
print(json.dumps({"detached": True}), flush=True)
"""


@pytest.mark.parametrize("mode", ["default", "handler"])
def test_sigterm_to_tracer_detaches(spawn: Callable[..., Proc], mode: str) -> None:
    t = spawn(THREADS)
    t.message()
    tracer = Proc([sys.executable, "-c", TRACER, str(t.pid), mode], env=tracer_env())
    try:
        assert tracer.message() == {"attached": True}
        assert_all_stopped(t.pid)
        assert procfs.tracer_pid(t.pid) == tracer.pid
        os.kill(tracer.pid, signal.SIGTERM)
        if mode == "handler":
            # The previous handler runs after the target has been released.
            assert tracer.message() == {"stopped_in_handler": False}
            assert tracer.popen.wait(5) == 3
        else:
            assert tracer.popen.wait(5) == -signal.SIGTERM
    finally:
        tracer.kill()
    assert_running(t.pid)


def test_signal_delivery_stop_is_reinjected(spawn: Callable[..., Proc], monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal dequeued while we stop the target reaches it after detach."""
    t = spawn(
        """
        import signal
        signal.signal(signal.SIGUSR1, lambda *a: say(got="SIGUSR1"))
        say(ready=True)
        while True:
            time.sleep(60)
        """
    )
    t.message()
    real_interrupt = ptrace.interrupt

    def interrupt_after_signal(tid: int) -> None:
        # Between seize and interrupt, send a signal: the seized task stops in
        # a signal-delivery-stop for it before it can see our interrupt.
        os.kill(tid, signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while procfs.process_state(t.pid, tid) != "t" and time.monotonic() < deadline:
            time.sleep(0.001)
        real_interrupt(tid)

    monkeypatch.setattr(ptrace, "interrupt", interrupt_after_signal)
    with LiveProcess(t.pid) as lp:
        monkeypatch.setattr(ptrace, "interrupt", real_interrupt)
        assert lp.signals_to_reinject() == {t.pid: signal.SIGUSR1}
        (tid, st), = lp.wait_log
        assert st.pending_signal == signal.SIGUSR1 and st.event == 0
        assert st.describe() == "signal-delivery-stop(SIGUSR1)"
        assert t.readline(0.05) is None
    assert t.message() == {"got": "SIGUSR1"}
    assert_running(t.pid)


def test_signal_sent_while_stopped_is_not_lost(spawn: Callable[..., Proc]) -> None:
    t = spawn(
        """
        import signal
        signal.signal(signal.SIGUSR2, lambda *a: say(got="SIGUSR2"))
        say(ready=True)
        while True:
            time.sleep(60)
        """
    )
    t.message()
    with LiveProcess(t.pid):
        os.kill(t.pid, signal.SIGUSR2)
        assert t.readline(0.05) is None
    assert t.message() == {"got": "SIGUSR2"}
    assert_running(t.pid)


def test_job_control_stopped_target_stays_stopped(spawn: Callable[..., Proc]) -> None:
    t = spawn(COUNTER)
    assert t.readline() is not None
    os.kill(t.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while procfs.process_state(t.pid) != "T" and time.monotonic() < deadline:
        time.sleep(0.001)
    t.drain()
    with LiveProcess(t.pid) as lp:
        assert_all_stopped(t.pid)
        (tid, st), = lp.wait_log
        assert st.is_group_stop and st.stop_signal == signal.SIGSTOP
        assert lp.signals_to_reinject() == {}
    # Back in its job-control stop, not in our ptrace stop; SIGCONT resumes it.
    # The detach wakes the task, which re-enters the group-stop: it may be
    # seen running ('R') for an instant, but it must not run Python code.
    deadline = time.monotonic() + 5
    while procfs.process_state(t.pid) != "T" and time.monotonic() < deadline:
        time.sleep(0.001)
    assert procfs.process_state(t.pid) == "T"
    assert procfs.tracer_pid(t.pid) == 0
    assert t.readline(0.05) is None, "the job-control stop was lost"
    os.kill(t.pid, signal.SIGCONT)
    assert t.readline() is not None
    assert_running(t.pid)


# ------------------------------------------------------------ errors


def test_nonexistent_pid() -> None:
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    for pid in (pid_max + 1, 0, -5):
        with pytest.raises(ProcessNotFound, match=f"no process with pid {pid}"):
            with LiveProcess(pid):
                pass
    with pytest.raises(ProcessNotFound):
        LiveProcess(pid_max + 1, stop=False).__enter__()


def test_kernel_thread_is_refused() -> None:
    assert procfs.is_kernel_thread(2) and not procfs.is_kernel_thread(os.getpid())
    with pytest.raises(InvalidPythonProcess, match="kernel thread"):
        with LiveProcess(2):
            pass


def test_self_attach_is_refused() -> None:
    with pytest.raises(EngineError, match="own process"):
        with LiveProcess(os.getpid()):
            pass
    assert live._REGISTRY == []


def test_zombie(spawn: Callable[..., Proc]) -> None:
    t = spawn("pass")
    deadline = time.monotonic() + 5
    while procfs.process_state(t.pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.002)
    with pytest.raises(ZombieProcess, match="zombie"):
        with LiveProcess(t.pid):
            pass
    assert procfs.process_state(t.pid) == "Z"


def test_already_traced_by_another_pystack(spawn: Callable[..., Proc]) -> None:
    t = spawn(THREADS)
    t.message()
    tracer = Proc([sys.executable, "-c", TRACER, str(t.pid), "default"], env=tracer_env())
    try:
        assert tracer.message() == {"attached": True}
        with pytest.raises(AlreadyTraced, match=rf"traced by pid {tracer.pid} \(python"):
            with LiveProcess(t.pid):
                pass
        assert_all_stopped(t.pid)  # the other tracer still holds it
        tracer.popen.stdin.write(b"\n")
        tracer.popen.stdin.flush()
        assert tracer.message() == {"detached": True}
    finally:
        tracer.kill()
    assert_running(t.pid)


def test_thread_traced_by_someone_else(spawn: Callable[..., Proc]) -> None:
    """Only a non-main thread is traced: found by EPERM on seize, and we roll back."""
    t = spawn(THREADS)
    msg = t.message()
    victim = msg["threads"][1]
    holder = Proc(
        [
            sys.executable,
            "-c",
            "import sys; from pystack.target import ptrace\n"
            "ptrace.seize(int(sys.argv[1])); print('{}', flush=True); sys.stdin.readline()",
            str(victim),
        ],
        env=tracer_env(),
    )
    try:
        holder.message()
        assert procfs.tracer_pid(t.pid) == 0
        with pytest.raises(AlreadyTraced, match=f"traced by pid {holder.pid}") as error:
            with LiveProcess(t.pid):
                pass
        # the race was lost on seize: the kernel's own words are in the message too
        assert f"({os.strerror(errno.EPERM)})" in str(error.value)
        # The threads we had already stopped were released again.
        states = procfs.task_states(t.pid)
        assert "t" not in states.values(), states
    finally:
        holder.kill()
    assert_running(t.pid)


def test_permission_denied_for_unprivileged_user(spawn: Callable[..., Proc]) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to another user")
    t = spawn(SLEEPER)
    msg = t.message()
    script = textwrap.dedent(
        """
        import json, os, sys
        from pystack.errors import PermissionDenied
        from pystack.target.live import LiveProcess
        target, address = int(sys.argv[1]), int(sys.argv[2])
        os.setgid(65534); os.setuid(65534)
        out = {}
        for stop in (True, False):
            try:
                with LiveProcess(target, stop=stop) as lp:
                    lp.read(address, 8)
                out[str(stop)] = "ok"
            except PermissionDenied as exc:
                out[str(stop)] = str(exc)
        print(json.dumps(out), flush=True)
        """
    )
    p = Proc([sys.executable, "-c", script, str(t.pid), str(msg["id"])], env=tracer_env())
    try:
        out = p.message()
    finally:
        p.kill()
    assert "CAP_SYS_PTRACE" in out["True"] and "uid 0" in out["True"], out
    assert "not permitted" in out["False"], out
    assert_running(t.pid)


def test_process_exits_while_attached(spawn: Callable[..., Proc]) -> None:
    t = spawn(SLEEPER)
    msg = t.message()
    with LiveProcess(t.pid) as lp:
        lp.mappings()
        os.kill(t.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while procfs.exists(t.pid) and procfs.process_state(t.pid) not in ("Z", "X"):
            assert time.monotonic() < deadline
            time.sleep(0.002)
        with pytest.raises(ProcessExited):
            lp.read(msg["id"], 8)
        with pytest.raises(ProcessExited):
            lp.read_many([(msg["id"], 8)])
    # __exit__ did not raise although every task is gone.


def test_process_exits_no_block(spawn: Callable[..., Proc]) -> None:
    t = spawn(SLEEPER)
    msg = t.message()
    with LiveProcess(t.pid, stop=False) as lp:
        assert lp.read(msg["id"], 8)
        t.kill()  # killed and reaped: the pid is gone entirely
        with pytest.raises(ProcessExited):
            lp.read(msg["id"], 8)
        with pytest.raises(ProcessExited):
            lp.mappings()


# ------------------------------------------------------------ procfs


def test_parse_maps() -> None:
    text = (
        "55d0c8a00000-55d0c8a01000 r--p 00000000 fd:01 1234                       /usr/bin/python3.14\n"
        "55d0c8a01000-55d0c8b00000 r-xp 00001000 fd:01 1234                       /usr/bin/python3.14\n"
        "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
        "7f0000001000-7f0000002000 r--p 00002000 fd:01 99   /opt/my lib/libx.so (deleted)\n"
        "7ffd1000-7ffd2000 rw-p 00000000 00:00 0                          [stack]\n"
    )
    maps = procfs.parse_maps(text)
    assert [m.path for m in maps] == [
        "/usr/bin/python3.14",
        "/usr/bin/python3.14",
        None,
        "/opt/my lib/libx.so (deleted)",
        "[stack]",
    ]
    assert maps[1].start == 0x55D0C8A01000 and maps[1].offset == 0x1000 and maps[1].perms == "r-xp"
    assert maps[1].is_file and not maps[4].is_file and not maps[2].is_file
    assert maps[4].size == 0x1000


def test_procfs_helpers_on_self() -> None:
    me = os.getpid()
    assert procfs.task_ids(me)[0] == me
    assert procfs.tracer_pid(me) == 0
    assert procfs.process_state(me) in ("R", "S")
    assert not procfs.is_process_stopped(me)
    assert procfs.exe_path(me) == os.path.realpath(sys.executable)
    assert procfs.thread_name(me, me) == procfs.comm(me)
    assert not procfs.is_process_stopped(10**9)
    with pytest.raises(ProcessNotFound):
        procfs.read_status(10**9)
