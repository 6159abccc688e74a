"""Native unwinding and symbolization through libdw, live and from cores.

The targets are real processes: a small C++ program built here at -O2 -g (a
namespace, a template, an always-inlined helper, a second thread blocked in
pause()), a C program with 100 threads for timing, and a pyenv CPython.
gdb serves as the oracle for names, files and lines, and gcore makes the
cores; tests that need a tool that is missing are skipped.  All ptrace work
happens on pytest's main thread, as LiveProcess and libdw require.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional

import pytest

from integration.targets_util import task_states
from timing import assert_quick
from pystack.errors import EngineError
from pystack.native import NativeUnavailable, NativeUnwinder, RawNativeFrame, ResolvedFrame, libdw

pytestmark = pytest.mark.skipif(not libdw.available(), reason="libdw (elfutils) is not installed")

GXX = shutil.which("g++")
GCC = shutil.which("gcc")
GDB = shutil.which("gdb")
GCORE = shutil.which("gcore")
PYENV_311 = "/root/.pyenv/versions/3.11.7/bin/python"

CXX_SOURCE = r"""
#include <pthread.h>
#include <unistd.h>
#include <cstdio>

namespace ns {
static inline __attribute__((always_inline)) int helper(int x) {
    return (int)sleep((unsigned)x);  // LINE:helper
}

template <typename T>
__attribute__((noinline)) T func(T x) {
    volatile T y = x;
    return helper(y) + (T)1;  // LINE:func
}

__attribute__((noinline)) void* worker(void*) {
    for (;;) pause();  // LINE:worker
    return nullptr;
}
}  // namespace ns

int main() {
    pthread_t t;
    pthread_create(&t, nullptr, ns::worker, nullptr);
    std::printf("ready\n");
    std::fflush(stdout);
    return ns::func<int>(100000);  // LINE:main
}
"""

MANY_SOURCE = r"""
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
__attribute__((noinline)) int deep(int n) {
    if (n == 0) { for (;;) pause(); }
    return deep(n - 1) + 1;
}
static void* worker(void* arg) { (void)arg; deep(16); return 0; }
int main(void) {
    pthread_t t[99];
    for (int i = 0; i < 99; i++) pthread_create(&t[i], 0, worker, 0);
    printf("ready\n");
    fflush(stdout);
    deep(16);
    return 0;
}
"""

LINES = {m.group(1): i + 1 for i, text in enumerate(CXX_SOURCE.splitlines())
         for m in [re.search(r"// LINE:(\w+)", text)] if m}


class Frame(NamedTuple):
    symbol: str
    path: str
    line: int
    library: str
    inlined: bool


# ------------------------------------------------------------------ helpers


def _build(compiler: Optional[str], source: str, out: Path, *flags: str) -> Path:
    if compiler is None:
        pytest.skip("no C/C++ compiler")
    src = out.with_suffix(".cpp" if compiler == GXX else ".c")
    src.write_text(source)
    subprocess.run([compiler, "-O2", "-g", "-pthread", *flags, str(src), "-o", str(out)], check=True,
                   capture_output=True, timeout=120)
    return out


def _wait_blocked(pid: int, threads: int, timeout: float = 10.0) -> None:
    """Wait until `threads` tasks exist and all sleep (they reached their blocking call)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = task_states(pid)
        if len(states) >= threads and all(s == "S" for s in states.values()):
            time.sleep(0.05)
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not block: {task_states(pid)}")


def _start(argv: List[str], threads: int, wait_ready: bool = True) -> subprocess.Popen:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if wait_ready:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
    _wait_blocked(proc.pid, threads)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def _symbolized(unwinder: NativeUnwinder) -> Dict[int, List[Frame]]:
    stacks = {}
    for tid, raw in unwinder.unwind_all().items():
        stacks[tid] = [Frame(f.symbol, f.path, f.linenumber, f.library, f.inlined)
                       for frame in raw for f in unwinder.symbolize(frame)]
    return stacks


def _live_stacks(pid: int) -> Dict[int, List[Frame]]:
    from pystack.target.live import LiveProcess

    with LiveProcess(pid) as lp:
        with NativeUnwinder.for_process(pid, root=lp.root) as unwinder:
            assert sorted(unwinder.threads()) == sorted(lp.thread_ids())
            return _symbolized(unwinder)


def _gcore(pid: int, prefix: Path) -> Path:
    if GCORE is None:
        pytest.skip("gcore (gdb) is not installed")
    subprocess.run([GCORE, "-o", str(prefix), str(pid)], check=True, capture_output=True, timeout=120)
    core = Path(f"{prefix}.{pid}")
    assert core.exists()
    return core


def _bare(name: str) -> str:
    """``int ns::func<int>(int)`` -> ``ns::func<int>``: gdb prints names without
    return type and parameters."""
    if name.endswith(")"):
        depth = 0
        for i in range(len(name) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(name[i], 0)
            if depth == 0:
                name = name[:i]
                break
    depth = 0
    start = 0
    for i, c in enumerate(name):
        depth += {"<": 1, ">": -1}.get(c, 0)
        if c == " " and depth == 0:
            start = i + 1
    return name[start:]


_GDB_THREAD = re.compile(r"^Thread \d+ \(.*?LWP (\d+)")
_GDB_FRAME = re.compile(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(.*?\)(?: at (\S+):(\d+))?(?: from \S+)?$")


def _gdb_stacks(pid: int) -> Dict[int, List[tuple]]:
    out = subprocess.run(
        [GDB, "-batch", "-nx", "-p", str(pid), "-ex", "set pagination off", "-ex", "thread apply all bt"],
        capture_output=True, text=True, timeout=120,
    ).stdout
    stacks: Dict[int, List[tuple]] = {}
    current: Optional[List[tuple]] = None
    for line in out.splitlines():
        m = _GDB_THREAD.match(line)
        if m:
            current = stacks.setdefault(int(m.group(1)), [])
            continue
        m = _GDB_FRAME.match(line)
        if m and current is not None:
            current.append((m.group(1), m.group(2), int(m.group(3)) if m.group(3) else None))
    return stacks


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("native")


@pytest.fixture(scope="module")
def cxx_program(workdir: Path) -> Path:
    return _build(GXX, CXX_SOURCE, workdir / "prog")


@pytest.fixture(scope="module")
def cxx_process(cxx_program: Path) -> Iterator[subprocess.Popen]:
    proc = _start([str(cxx_program)], threads=2)
    try:
        yield proc
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def cxx_live(cxx_process: subprocess.Popen) -> Dict[int, List[Frame]]:
    return _live_stacks(cxx_process.pid)


@pytest.fixture(scope="module")
def cxx_core(cxx_process: subprocess.Popen, workdir: Path) -> Path:
    return _gcore(cxx_process.pid, workdir / "core")


# ------------------------------------------------------------------ the C++ program, live


def test_every_thread_unwinds(cxx_process: subprocess.Popen, cxx_live: Dict[int, List[Frame]]) -> None:
    assert set(cxx_live) == set(task_states(cxx_process.pid))
    for tid, frames in cxx_live.items():
        assert len(frames) >= 4, (tid, frames)


def test_main_thread_stack(cxx_process: subprocess.Popen, cxx_live: Dict[int, List[Frame]],
                           cxx_program: Path) -> None:
    frames = cxx_live[cxx_process.pid]
    exe = cxx_program.name
    # libc's sleep machinery is innermost.
    libc = [f for f in frames[:3] if f.library.startswith("libc.so")]
    assert any(re.search(r"nanosleep|sleep", f.symbol) for f in libc), frames
    ours = [f for f in frames if f.library == exe]
    names = [f.symbol for f in ours]
    assert names[:3] == ["ns::helper", "int ns::func<int>(int)", "main"], frames
    helper, func, main = ours[:3]
    # The inlined helper is reported with its caller, at the same pc.
    assert helper.inlined and not func.inlined and not main.inlined
    assert (helper.path, helper.line) == (str(cxx_program.with_suffix(".cpp")), LINES["helper"])
    assert func.line == LINES["func"] and main.line == LINES["main"]
    assert os.path.basename(func.path) == "prog.cpp"


def test_blocked_thread_stack(cxx_process: subprocess.Popen, cxx_live: Dict[int, List[Frame]],
                              cxx_program: Path) -> None:
    (tid,) = [t for t in cxx_live if t != cxx_process.pid]
    frames = cxx_live[tid]
    assert "pause" in frames[0].symbol and frames[0].library.startswith("libc.so"), frames
    worker = [f for f in frames if f.library == cxx_program.name]
    assert [(f.symbol, f.line, f.inlined) for f in worker] == [("ns::worker(void*)", LINES["worker"], False)]
    assert any("start_thread" in f.symbol for f in frames)


@pytest.mark.skipif(GDB is None, reason="gdb is not installed")
def test_matches_gdb(cxx_process: subprocess.Popen, cxx_live: Dict[int, List[Frame]], cxx_program: Path) -> None:
    oracle = _gdb_stacks(cxx_process.pid)
    if set(oracle) != set(cxx_live):
        pytest.skip(f"gdb could not read the threads: {oracle}")
    for tid, expected in oracle.items():
        ours = cxx_live[tid]
        # gdb stops at main ("backtrace past-main" is off); compare what it shows.
        assert len(ours) >= len(expected), (ours, expected)
        for mine, (name, path, line) in zip(ours, expected):
            if line is not None and mine.line:
                assert (os.path.basename(mine.path), mine.line) == (os.path.basename(path), line), (mine, name)
            if mine.library == cxx_program.name:
                # libc names differ by design (ELF symbol vs DWARF name); ours must not.
                assert _bare(mine.symbol) == name


# ------------------------------------------------------------------ the C++ program, cores


def test_core_gives_the_live_frames(cxx_core: Path, cxx_program: Path, cxx_live: Dict[int, List[Frame]]) -> None:
    for executable in (str(cxx_program), None):
        with NativeUnwinder.for_core(str(cxx_core), executable) as unwinder:
            assert unwinder.pid in cxx_live
            assert _symbolized(unwinder) == cxx_live


def test_core_with_moved_files(cxx_program: Path, workdir: Path) -> None:
    """A core analysed where its files are not at their recorded paths."""
    original_dir = workdir / "gone" / "app"
    original_dir.mkdir(parents=True)
    exe = original_dir / "prog"
    shutil.copy2(cxx_program, exe)
    proc = _start([str(exe)], threads=2)
    try:
        core = _gcore(proc.pid, workdir / "moved-core")
    finally:
        _stop(proc)
    # Move the binary into a "filesystem image" at the same absolute path.
    image = workdir / "image"
    moved = image / str(exe).lstrip("/")
    moved.parent.mkdir(parents=True)
    os.rename(exe, moved)

    def our_frames(unwinder: NativeUnwinder) -> List[str]:
        raw = unwinder.unwind(proc.pid)
        return [f.symbol for frame in raw for f in unwinder.symbolize(frame) if f.library == "prog"]

    expected = ["ns::helper", "int ns::func<int>(int)", "main"]
    with NativeUnwinder.for_core(str(core), None, lib_search_root=str(image)) as unwinder:
        assert our_frames(unwinder)[:3] == expected
        assert unwinder.module_path(unwinder.unwind(proc.pid)[-1].pc) == str(moved)
    with NativeUnwinder.for_core(str(core), None, lib_search_path=[str(moved.parent)]) as unwinder:
        assert our_frames(unwinder)[:3] == expected
    with NativeUnwinder.for_core(str(core), str(moved)) as unwinder:
        assert our_frames(unwinder)[:3] == expected
    # Without the file, the frames are still there, only unnamed.
    with NativeUnwinder.for_core(str(core), None) as unwinder:
        raw = unwinder.unwind(proc.pid)
        assert raw and all(f.symbol != "ns::helper" for frame in raw for f in unwinder.symbolize(frame))


# ------------------------------------------------------------------ CPython


@pytest.mark.skipif(not os.path.exists(PYENV_311), reason="pyenv CPython 3.11.7 is not installed")
def test_python_target() -> None:
    proc = _start([PYENV_311, "-c", "import time; print('ready', flush=True); time.sleep(100)"], threads=1)
    try:
        stacks = _live_stacks(proc.pid)
    finally:
        _stop(proc)
    frames = stacks[proc.pid]
    by_name = {f.symbol: f for f in frames}
    assert "_PyEval_EvalFrameDefault" in by_name, frames
    assert by_name["_PyEval_EvalFrameDefault"].path.endswith("Python/ceval.c")
    assert by_name["time_sleep"].path.endswith("Modules/timemodule.c")
    assert by_name["time_sleep"].library == "libpython3.11.so.1.0"
    assert by_name["pysleep"].inlined and by_name["pysleep"].path.endswith("Modules/timemodule.c")
    # pysleep is inlined into time_sleep: listed right before it.
    names = [f.symbol for f in frames]
    assert names.index("pysleep") + 1 == names.index("time_sleep")


# ------------------------------------------------------------------ speed


def test_unwinding_100_threads_is_fast(workdir: Path) -> None:
    from pystack.target.live import LiveProcess

    # -O1: -O2 would turn the recursion into a loop.
    program = _build(GCC, MANY_SOURCE, workdir / "many", "-O1")
    proc = _start([str(program)], threads=100)
    try:
        with LiveProcess(proc.pid) as lp:
            timings = []
            for _ in range(3):
                with NativeUnwinder.for_process(proc.pid, root=lp.root) as unwinder:
                    started = time.perf_counter()
                    stacks = unwinder.unwind_all()
                    timings.append(time.perf_counter() - started)
                    assert len(stacks) == 100
                    assert all(len(frames) >= 20 for frames in stacks.values()), stacks
                    deep = unwinder.symbolize(stacks[proc.pid][3])
                    assert deep[-1].symbol == "deep"
    finally:
        _stop(proc)
    assert_quick(min(timings), 8, "unwinding 100 threads")  # 0.1 s idle


# ------------------------------------------------------------------ errors and small parts


def test_lookup_pc() -> None:
    assert RawNativeFrame(0x1000, True).lookup_pc == 0x1000
    assert RawNativeFrame(0x1000, False).lookup_pc == 0xFFF


def test_resolved_frame_is_a_native_frame() -> None:
    from pystack.types import NativeFrame

    frame = ResolvedFrame(1, "f", "f.c", 2, 3, "lib.so", inlined=True)
    assert isinstance(frame, NativeFrame) and frame.inlined


def test_missing_libdw_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libdw, "_LIB", None)
    monkeypatch.setattr(libdw, "_LIBDW_NAMES", ("libdw-does-not-exist.so.1",))
    with pytest.raises(NativeUnavailable, match=r"install libdw1 \(elfutils\)"):
        NativeUnwinder.for_core("/nonexistent", None)
    assert not libdw.available()


def test_core_errors(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="cannot open core"):
        NativeUnwinder.for_core(str(tmp_path / "missing"), None)
    not_elf = tmp_path / "not-elf"
    not_elf.write_bytes(b"hello" * 100)
    with pytest.raises(EngineError):
        NativeUnwinder.for_core(str(not_elf), None)


def test_closed_unwinder_and_unknown_thread(cxx_core: Path) -> None:
    unwinder = NativeUnwinder.for_core(str(cxx_core), None)
    with unwinder:
        assert unwinder.unwind(999_999_999) == []
        assert 999_999_999 in unwinder.unwind_errors
    with pytest.raises(EngineError, match="closed"):
        unwinder.threads()
    unwinder.close()  # idempotent


def test_a_thread_of_another_process_is_refused_not_aborted(cxx_process: subprocess.Popen) -> None:
    """libdw asserts, killing the whole process, when told to unwind a thread that
    is not the target's (a container's tid taken for ours): we never hand it one."""
    from pystack.target.live import LiveProcess

    with LiveProcess(cxx_process.pid) as lp:
        with NativeUnwinder.for_process(cxx_process.pid, root=lp.root) as unwinder:
            assert unwinder.unwind(1) == []  # init: no thread of the target
            assert "not a thread of the target" in unwinder.unwind_errors[1]
            assert unwinder.unwind(cxx_process.pid)  # its own threads still unwind
