"""--native, --native-all and --native-last on every provisioned interpreter, live and
from gcore cores: native frames appear where they belong in the Python stack."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import SRC, interpreter_params, run_pystack
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
    def __init__(self, interpreter: dict, library: str, wrapper: tuple = ()) -> None:
        inside, self.host_dir = _stage_scripts(interpreter["root"])
        shutil.copy(library, self.host_dir)
        lib_inside = os.path.join(inside, "blocker.so")
        if interpreter["root"] in ("/", ""):
            lib_inside = library
        self.proc = subprocess.Popen(
            [*wrapper, *interpreter["argv"], os.path.join(inside, "native_target.py"),
             lib_inside],
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
    # the signal frame: the handler's stack goes on into the interrupted pause()
    lines = threads[report["tids"]["signalled"]]
    start = next(i for i, line in enumerate(lines) if line.endswith(" in interrupted"))
    end = next(i for i, line in enumerate(lines) if line.endswith(" in on_signal"))
    assert any(" in pause " in line or " in __libc_pause " in line
               for line in lines[start:end]), lines


#: Threads of native_target.py whose Python frames C calls back: (caller, callee).
CALLED_BACK = {
    "callbacks": [("callbacks", "by_key"), ("by_key", "by_map"), ("by_map", "by_reduce")],
    "init": [("in_init", "__init__"), ("__init__", "__eq__"), ("compare_in_c", "compare")],
    "signalled": [("interrupted", "on_signal")],
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
        # gdb attached inside the sid chroot misreads other threads' registers (it
        # unwinds them from where they started): sid targets are held to gdb's reading
        # of their core only
        if shutil.which("gdb") and interpreter["root"] in ("/", ""):
            # the same stopped process: gdb leaves it as it found it
            ours = run_pystack("remote", "--native-all", str(target.pid))
            check_against_gdb(ours.stdout, gdb_stacks(interpreter, "-p", str(target.pid)),
                              tids)
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
        if shutil.which("gdb"):  # the same core
            root = interpreter["root"]
            inside = (lambda path: path[len(root):]) if root not in ("/", "") else str
            ours = run_pystack(*args[:1], "--native-all", *args[1:])
            # sid's link-time optimised builds: the host's libdw (0.188) finds no scope
            # at their pcs (`dwarf_getscopes` returns none in the unit covering them),
            # so their inlined calls are not shown; gdb shows them. Compared without.
            check_against_gdb(ours.stdout, gdb_stacks(interpreter, inside(interpreter["exe"]),
                                                      inside(core)), tids,
                              inlined=root in ("/", ""))
    finally:
        target.close()


# -- gdb as the oracle -----------------------------------------------------------------

C_LINE = re.compile(r"^\(C\) File .*, line \d+, in (.*?)( \(inlined\))?"
                    r"(?: at [^ ]+\+0x[0-9a-f]+)? \([^()]*\)$")


def _plain(name: str) -> str:
    """A function's name as both tools can agree on it: no parameters, no clone
    suffix (`.part.0`, `.cold`), no glibc alias prefix (`__GI___clock_nanosleep`,
    `__clone3`, `__libc_pause`); unknown functions all read `??`."""
    from pystack.native.merge import base_name
    if name.endswith(")") and "(" in name and not name.startswith("("):
        depth = 0
        for i in range(len(name) - 1, -1, -1):  # the parameter list's opening bracket
            depth += {")": 1, "(": -1}.get(name[i], 0)
            if depth == 0:
                name = name[:i]
                break
    name = base_name(name)
    if " " in name and "<" in name:  # a template function's return type: `int ns::f<int>`
        depth, cut = 0, 0
        for i, ch in enumerate(name):
            depth += {"<": 1, ">": -1}.get(ch, 0)
            if ch == " " and depth == 0:
                cut = i + 1
        name = name[cut:]
    if name.endswith("_impl") and name.startswith("__libc_"):  # __libc_start_main_impl
        name = name[:-len("_impl")]
    if name.startswith("__GI_"):
        name = name[len("__GI_"):]
    name = name.lstrip("_")
    if name.startswith("libc_"):
        name = name[len("libc_"):]
    return "??" if name.strip("?") == "" else name


def _comparable(frames: list) -> list:
    """Outermost-first (name, inlined) with the interpreter's plumbing dropped and
    every run of eval-loop calls (or Python frames) one `PY`."""
    out: list = []
    for name, inline in frames:
        name = _plain(name) if name != "PY" else name
        if _is_eval(name):
            name = "PY"
        elif _is_plumbing(name):
            continue
        if name == "PY" and out and out[-1][0] == "PY":
            continue
        out.append((name, inline))
    return out


def _is_eval(plain: str) -> bool:
    from pystack.native.merge import EVAL_FRAMES
    return plain == "PY" or plain in EVAL_FRAMES or "_" + plain in EVAL_FRAMES


def _is_plumbing(plain: str) -> bool:
    """The interpreter's call plumbing, which the merge hides (names as _plain has
    them: leading underscores gone)."""
    from pystack.native.merge import _EVAL_PREFIXES, _PLUMBING_PREFIXES
    prefixes = _PLUMBING_PREFIXES + _EVAL_PREFIXES
    return plain.startswith(prefixes) or ("_" + plain).startswith(prefixes)


#: Run inside gdb: every thread's frames, innermost first, with gdb's frame kind, so
#: the frames gdb re-creates for tail calls from DWARF call sites (not on the stack)
#: can be told from real ones.
GDB_SCRIPT = """
import gdb
for thread in gdb.selected_inferior().threads():
    thread.switch()
    print("THREAD %d" % thread.ptid[1])
    frame = gdb.newest_frame()
    while frame is not None:
        kind = {gdb.TAILCALL_FRAME: "TAIL", gdb.INLINE_FRAME: "INLINE"}.get(frame.type(),
                                                                           "FRAME")
        print("%s %s" % (kind, frame.name() or "??"))
        try:
            frame = frame.older()
        except gdb.error:
            break
"""


def gdb_stacks(interpreter: dict, *args: str) -> dict:
    """tid -> outermost-first (name, False) of every frame gdb finds on the stack (tail
    calls it re-creates left out), the chroot's own gdb for a chroot target; `args`
    are gdb's (-p PID, or EXE CORE)."""
    root = interpreter["root"]
    chrooted = root not in ("/", "")
    fd, host_script = tempfile.mkstemp(suffix=".py", dir=os.path.join(root, "tmp")
                                       if chrooted else None)
    with os.fdopen(fd, "w") as f:
        f.write(GDB_SCRIPT)
    script = host_script[len(root):] if chrooted else host_script
    command = ["gdb", "-batch", "-nx", "-ex", "set pagination off", *args, "-x", script]
    if chrooted:
        shell = (f'mount -t proc proc "{root}/proc" && exec chroot "{root}" '
                 + " ".join(f"'{a}'" for a in command))
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", shell]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    finally:
        os.unlink(host_script)
    stacks: dict = {}
    current = None
    for line in result.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "THREAD":
            current = stacks[int(rest)] = []
            inlined = 0  # how many of the last frames are inlined into the next one
        elif kind in ("FRAME", "INLINE") and current is not None:
            plain = _plain(rest)
            if kind == "FRAME" and inlined and (_is_eval(plain) or _is_plumbing(plain)):
                # inlined into an eval-loop call (its Python frames stand for it all)
                # or into plumbing (hidden as a whole)
                del current[-inlined:]
            current.append((rest, kind == "INLINE"))
            inlined = inlined + 1 if kind == "INLINE" else 0
    assert stacks, result.stderr[-2000:]
    return {tid: _comparable(frames[::-1]) for tid, frames in stacks.items()}


def our_stacks(output: str) -> dict:
    """tid -> outermost-first names of a --native-all text dump (Python frames: PY)."""
    out = {}
    for tid, lines in blocks(output).items():
        names = []
        for line in lines:
            if line.startswith("(Python)"):
                names.append(("PY", False))
            else:
                m = C_LINE.match(line)
                if m:
                    names.append((m.group(1), bool(m.group(2))))
        out[tid] = _comparable(names)
    return out


def check_against_gdb(ours: str, gdb: dict, tids: dict, inlined: bool = True) -> None:
    """Our native frames are gdb's, in gdb's order, Python frames standing for the
    eval-loop calls; with `inlined` False, frames of inlined calls are left out on
    both sides. Above `main` (the C runtime's start) gdb stops by design: ours are
    cut there too."""
    got = our_stacks(ours)
    for name, tid in tids.items():
        mine = [frame for frame, inline in got[tid] if inlined or not inline]
        theirs = [frame for frame, inline in gdb[tid] if inlined or not inline]
        if "main" in theirs and "main" in mine:
            theirs, mine = theirs[theirs.index("main"):], mine[mine.index("main"):]
        assert mine == theirs, f"{name}:\nours {mine}\ngdb  {theirs}"


# -- stock distribution builds: no debug files ------------------------------------------

#: Runs a command in a private mount namespace where a directory is hidden under an
#: empty one: "$1" the empty directory, "$2" the hidden one, the command after.
HIDING = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
          'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh"]


def json_threads(output: str) -> dict:
    doc = json.loads(output)
    return {t["tid"]: t for t in doc["processes"][0]["threads"]}


def segments(thread: dict) -> list:
    """The thread's native frames between its Python frames, as (library, offset) of
    the frames that are functions of their own (inlined ones share their pc)."""
    parts: list = [[]]
    for frame in thread["frames"]:
        if frame["kind"] == "python":
            if parts[-1] or len(parts) == 1:
                parts.append([])
        elif not frame["inlined"]:
            parts[-1].append((frame["library"], frame["offset"]))
    return parts


def is_subsequence(short: list, long: list) -> bool:
    rest = iter(long)
    return all(item in rest for item in short)


def check_stock_against_debug(stock: str, stock_tids: dict, debug: str,
                              debug_tids: dict) -> None:
    """Without debug files the eval-loop calls are found by their entry frames, so the
    merge is the same as with them: between the same Python frames stand the same C
    frames (the same code: their offsets in their files match), and also the
    interpreter's plumbing, which only names could hide."""
    ours, theirs = json_threads(stock), json_threads(debug)
    for name, tid in stock_tids.items():
        if name == "main":
            continue
        plain, full = segments(ours[tid]), segments(theirs[debug_tids[name]])
        assert len(plain) == len(full), (name, plain, full)
        for without, with_debug in zip(plain, full):
            assert is_subsequence(with_debug, without), (name, without, with_debug)
            extra = [f for f in without if f not in with_debug]
            assert all(lib.startswith(("python", "libpython")) for lib, _ in extra), \
                (name, extra)
        named = [f for f in ours[tid]["frames"] if f["kind"] == "native"]
        assert all(f["offset"] is not None for f in named), (name, named)
        assert not any("_PyEval_EvalFrameDefault" in f["symbol"] for f in named), named


@pytest.mark.parametrize("interpreter", [
    p for p in interpreter_params()
    if p.values[0] and p.values[0]["root"] not in ("/", "")
    and os.path.isdir(os.path.join(p.values[0]["root"], "usr/lib/debug"))])
def test_stock_build_without_debug_files(interpreter, library, tmp_path):
    """sid's interpreters as a stock install has them (no -dbg package): their
    eval loop has no symbol at all; live and from a gcore core."""
    root = interpreter["root"]
    empty = tmp_path / "empty"
    empty.mkdir()
    hide = [*HIDING, str(empty), os.path.join(root, "usr/lib/debug")]
    stock = NativeTarget(interpreter, library, wrapper=tuple(hide))
    debug = NativeTarget(interpreter, library)
    try:
        with_debug = run_pystack("remote", "--json", "--native-all", str(debug.pid))
        assert with_debug.returncode == 0, with_debug.stderr
        names = run_pystack("remote", "--native", "-v", str(stock.pid))
        assert "_PyEval_EvalFrameDefault" not in names.stdout  # no symbol: no name
        # -v says where names came from: the binary's own symbols, or its debug file
        # (a debug build, python3.14d, carries its own DWARF: it has names either way)
        executable = os.path.basename(interpreter["exe"])
        if f"{executable}: its own DWARF" not in names.stderr:
            assert f"{executable}: its symbol table only" in names.stderr, names.stderr
            named = run_pystack("remote", "--native", "-v", str(debug.pid))
            assert f"{executable}: {root}/usr/lib/debug/.build-id/" in named.stderr, \
                named.stderr
        run_checks(["remote", str(stock.pid)], stock.report)
        live = run_pystack("remote", "--json", "--native-all", str(stock.pid))
        assert live.returncode == 0, live.stderr
        check_stock_against_debug(live.stdout, stock.report["tids"], with_debug.stdout,
                                  debug.report["tids"])
        # and without libdw either: .dynsym's few names, the same frames
        bare = run_without_libdw("remote", "--json", "--native-all", str(stock.pid))
        assert bare.returncode == 0, bare.stderr
        check_stock_against_debug(bare.stdout, stock.report["tids"], with_debug.stdout,
                                  debug.report["tids"])
        core = gcore(interpreter, stock, tmp_path)
        # read with the debug files hidden from pystack too
        env = dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1")
        from_core = subprocess.run(
            [*hide, sys.executable, "-m", "pystack", "core", "--json", core,
             "--native-all", "--lib-search-root", root],
            capture_output=True, text=True, env=env, timeout=120)
        assert from_core.returncode == 0, from_core.stderr
        check_stock_against_debug(from_core.stdout, stock.report["tids"],
                                  with_debug.stdout, debug.report["tids"])
    finally:
        stock.close()
        debug.close()


# -- perf trampolines (-X perf, 3.12+) ---------------------------------------------------

def _version(interpreter: dict) -> tuple:
    return tuple(int(part) for part in interpreter["version"].split(".")[:2])


@pytest.mark.parametrize("interpreter", [
    p for p in interpreter_params() if p.values[0] and _version(p.values[0]) >= (3, 12)])
def test_perf_trampolines(interpreter, library, tmp_path):
    """Started with -X perf, every Python call goes through a trampoline in anonymous
    memory that no unwind table covers: the stack goes on past each one (live and from
    a core), the trampolines and their C caller stay hidden like other plumbing."""
    perf = dict(interpreter, argv=[*interpreter["argv"], "-X", "perf"])
    target = NativeTarget(perf, library)
    root = interpreter["root"] if interpreter["root"] not in ("/", "") else "/"
    own_map = os.path.join(root, "tmp", f"perf-{target.pid}.map")
    try:
        assert os.path.exists(own_map)  # the target did write one: trampolines are on
        run_checks(["remote", str(target.pid)], target.report)
        everything = run_pystack("remote", "--native-all", str(target.pid))
        assert "[perf map]" not in everything.stdout
        assert "py_trampoline_evaluator" not in everything.stdout
        own = run_without_libdw("remote", "--native", str(target.pid))  # ours steps over too
        assert own.returncode == 0, own.stderr
        check_python_frames(own.stdout, target.report)
        core = gcore(interpreter, target, tmp_path)
        args = ["core", core]
        if root != "/":
            args += ["--lib-search-root", root]
        run_checks(args, target.report)
    finally:
        target.close()
        for stale in (own_map, os.path.join(root, "tmp", f"perf-{target.report['pid']}.map")):
            if os.path.exists(stale):
                os.unlink(stale)


# -- without libdw: our own unwinder from .eh_frame ----------------------------------------

LIBDW = "/usr/lib/x86_64-linux-gnu/libdw.so.1"


def run_without_libdw(*args: str) -> subprocess.CompletedProcess:
    """pystack where elfutils cannot be loaded: libdw hidden under /dev/null in a
    private mount namespace, as on a machine without it."""
    env = dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1")
    return subprocess.run([*HIDING, "/dev/null", LIBDW, sys.executable, "-m", "pystack",
                           *args], capture_output=True, text=True, env=env, timeout=120)


def same_pcs_as_libdw(target, root: str = "/") -> None:
    """Both unwinders on the same stopped process (or core) find the same frames."""
    from pystack.native.cfi_unwind import CfiUnwinder
    from pystack.native.unwind import NativeUnwinder
    if isinstance(target, str):
        from pystack.target.core import CoreFile
        opened = CoreFile(target, lib_search_root=None if root == "/" else root)
        core = True
    else:
        from pystack.target.live import LiveProcess
        opened, core = LiveProcess(target), False
    with opened as process:
        if core:
            libdw = NativeUnwinder.for_core(process.core_path, process.executable,
                                            lib_search_root=process.lib_search_root)
        else:
            libdw = NativeUnwinder.for_process(process.pid, root=process.root)
        with libdw, CfiUnwinder.for_target(process, core=core) as ours:
            tids = process.thread_ids()
            assert tids
            for tid in tids:
                theirs = [(f.pc, f.sp, f.is_activation) for f in libdw.unwind(tid)]
                mine = [(f.pc, f.sp, f.is_activation) for f in ours.unwind(tid)]
                assert mine == theirs, (tid, [hex(pc) for pc, _ in mine],
                                        [hex(pc) for pc, _ in theirs],
                                        ours.unwind_errors.get(tid))


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_native_without_libdw(interpreter, library, tmp_path):
    """Without elfutils on the machine --native still merges, from our own reading of
    .eh_frame and the symbol tables (no source lines, no inlined calls): the same
    frames as libdw finds and gdb names, live and from a core."""
    target = NativeTarget(interpreter, library)
    try:
        same_pcs_as_libdw(target.pid)
        merged = run_without_libdw("remote", "--native", "-v", str(target.pid))
        assert merged.returncode == 0, merged.stderr
        assert "unwound by pystack from .eh_frame" in merged.stderr, merged.stderr
        check_python_frames(merged.stdout, target.report)
        cpp = after(blocks(merged.stdout)[target.report["tids"]["cpp"]], "in_cpp")
        assert any("pystack_test::hold<int>(int)" in line for line in cpp), cpp
        assert any("pystack_test::park()" in line for line in cpp), cpp
        if shutil.which("gdb") and interpreter["root"] in ("/", ""):
            ours = run_without_libdw("remote", "--native-all", str(target.pid))
            check_against_gdb(ours.stdout, gdb_stacks(interpreter, "-p", str(target.pid)),
                              target.report["tids"], inlined=False)
        core = gcore(interpreter, target, tmp_path)
        args = ["core", core]
        if interpreter["root"] not in ("/", ""):
            args += ["--lib-search-root", interpreter["root"]]
        same_pcs_as_libdw(core, interpreter["root"] or "/")
        from_core = run_without_libdw(args[0], "--native", *args[1:])
        assert from_core.returncode == 0, from_core.stderr
        check_python_frames(from_core.stdout, target.report)
    finally:
        target.close()


# -- the frame cache ---------------------------------------------------------------------

def run_with_cache(cache_home: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1", XDG_CACHE_HOME=cache_home)
    env.pop("PYSTACK_NO_CACHE", None)
    return subprocess.run([sys.executable, "-m", "pystack", *args], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.mark.parametrize("interpreter", interpreter_params())
def test_frame_cache_gives_what_dwarf_gave(interpreter, library, tmp_path):
    """A run that names frames from the cache prints what DWARF made the first run
    print, to the byte, live and from a core."""
    target = NativeTarget(interpreter, library)
    cache_home = str(tmp_path / "cache")
    try:
        cold = run_pystack("remote", "--native-all", str(target.pid))
        filling = run_with_cache(cache_home, "remote", "--native-all", str(target.pid))
        warm = run_with_cache(cache_home, "remote", "--native-all", "-v", str(target.pid))
        assert cold.returncode == filling.returncode == warm.returncode == 0, warm.stderr
        assert os.listdir(os.path.join(cache_home, "pystack", "frames"))
        assert "the frame cache (build id" in warm.stderr, warm.stderr
        assert cold.stdout == filling.stdout == warm.stdout
        core = gcore(interpreter, target, tmp_path)
        args = ["core", core, "--native-all"]
        if interpreter["root"] not in ("/", ""):
            args += ["--lib-search-root", interpreter["root"]]
        cold_core = run_pystack(*args)
        warm_core = run_with_cache(cache_home, *args)
        assert cold_core.returncode == warm_core.returncode == 0, warm_core.stderr
        assert cold_core.stdout == warm_core.stdout
    finally:
        target.close()
