"""Shared machinery of the fuzz tests: small real cores, where their structures are,
mutations of them, and an in-process, guarded run of `pystack.cli.main`.

A *subject* is a gcore core of a real target (a short script on a pyenv CPython),
shrunk to the pages pystack actually reads, plus a map of the file offsets where
the notes, the program headers and the interpreter's own structures (runtime,
interpreter, thread states, frames, code objects and the objects they point to)
live. The structures are found with pystack's own reader on the unmutated core.

`guarded_run` runs the CLI in this process with stdout/stderr captured, under a
SIGALRM deadline (a hang raises `Hang`, which nothing in pystack catches) and with
the growth of the process's peak RSS measured.
"""
from __future__ import annotations

import contextlib
import io
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SRC = os.path.join(REPO, "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

PYENV = "/root/.pyenv/versions"


def _first_present(*paths: str) -> str:
    """The first of `paths` that exists (the last when none does: skipped then)."""
    return next((p for p in paths if os.access(p, os.X_OK)), paths[-1])


#: The interpreters the fuzzed cores are made of: pyenv's (a shared libpython) where
#: present; else any 3.11 on the machine (Debian's static one) will do.
PYTHONS = {
    "3.11": _first_present(os.path.join(PYENV, "3.11.7", "bin", "python"),
                           "/usr/bin/python3.11"),
    "2.7": os.path.join(PYENV, "2.7.18", "bin", "python"),
}
LIBPYTHON = {
    "3.11": os.path.join(PYENV, "3.11.7", "lib", "libpython3.11.so.1.0"),
    "2.7": os.path.join(PYENV, "2.7.18", "lib", "libpython2.7.so.1.0"),
}

#: A run that takes longer than this is a hang (an unmutated run takes ~0.1 s).
DEADLINE_S = 10.0
#: Peak RSS may not grow by more than this during one run.
MAX_RSS_GROWTH = 200 << 20

PAGE = 4096

TARGET_SCRIPT = r'''
import os, sys, threading, time

def leaf():
    time.sleep(100000)

def recurse(n):
    if n == 0:
        leaf()
    return recurse(n - 1)

def gen():
    recurse(2)
    yield 1

def worker():
    for _ in gen():
        pass

t = threading.Thread(target=worker, name="worker")
t.daemon = True
t.start()
time.sleep(0.3)
sys.stdout.write("%d\n" % os.getpid())
sys.stdout.flush()

def main():
    time.sleep(100000)

main()
'''

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD, PT_NOTE = 1, 4


class Hang(BaseException):
    """Raised by the SIGALRM handler: the run went past its deadline."""


# ----------------------------------------------------------------- making cores

def _wait_until_sleeping(pid: int, timeout: float = 10) -> None:
    sleeping = {"7", "23", "35", "230", "270", "271"}
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/task/{pid}/syscall") as f:
                if f.read().split(" ", 1)[0] in sleeping:
                    time.sleep(0.05)
                    return
        except OSError:
            return
        time.sleep(0.01)


def make_gcore(python: str, workdir: str) -> str:
    """Start the target script under `python`, dump it with gcore, kill it."""
    script = os.path.join(workdir, "target.py")
    with open(script, "w") as f:
        f.write(TARGET_SCRIPT)
    proc = subprocess.Popen([python, script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=workdir, text=True)
    try:
        line = proc.stdout.readline()
        if not line.strip():
            raise RuntimeError(f"target did not start: {proc.stderr.read()[-2000:]}")
        _wait_until_sleeping(proc.pid)
        prefix = os.path.join(workdir, "gcore")
        subprocess.run(["gcore", "-o", prefix, str(proc.pid)], check=True,
                       capture_output=True, timeout=120)
        return f"{prefix}.{proc.pid}"
    finally:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _recording_reads(pages: set):
    """Record every page of the core that pystack reads (core memory, not files)."""
    from pystack.target.core import CoreFile

    real_read, real_from_core = CoreFile.read, CoreFile.read_from_core

    def note(address: int, size: int) -> None:
        if size > 0 and address >= 0:
            for page in range(address & ~(PAGE - 1), address + size, PAGE):
                pages.add(page)

    def read(self, address, size):
        note(address, size)
        return real_read(self, address, size)

    def read_from_core(self, address, size):
        note(address, size)
        return real_from_core(self, address, size)

    CoreFile.read, CoreFile.read_from_core = read, read_from_core
    try:
        yield
    finally:
        CoreFile.read, CoreFile.read_from_core = real_read, real_from_core


def shrink_core(src: str, dst: str, exe: str) -> None:
    """Write a core with the same header, notes and threads but only the pages pystack
    reads on `src` (plus their neighbours): some hundred KiB instead of ~80 MiB."""
    pages: set = set()
    with _recording_reads(pages):
        result = guarded_run(["core", src, exe])
    assert result.rc == 0, result.stderr
    keep = set(pages)
    for p in pages:
        keep.add(p - PAGE)
        keep.add(p + PAGE)
    with open(src, "rb") as f:
        data = f.read()
    ehdr = list(_EHDR.unpack_from(data, 0))
    phoff, phnum = ehdr[5], ehdr[10]
    phdrs = [_PHDR.unpack_from(data, phoff + i * _PHDR.size) for i in range(phnum)]
    notes = [p for p in phdrs if p[0] == PT_NOTE]
    loads = [p for p in phdrs if p[0] == PT_LOAD]
    runs = []  # (vaddr, size, flags, source offset)
    for p_type, flags, offset, vaddr, _paddr, filesz, memsz, _align in loads:
        start = None
        for page in range(vaddr, vaddr + min(filesz, memsz), PAGE):
            if page in keep and start is None:
                start = page
            if page not in keep and start is not None:
                runs.append((start, page - start, flags, offset + start - vaddr))
                start = None
        if start is not None:
            end = vaddr + min(filesz, memsz)
            runs.append((start, end - start, flags, offset + start - vaddr))
    count = len(notes) + len(runs)
    out = bytearray()
    ehdr[5], ehdr[6], ehdr[10] = _EHDR.size, 0, count  # phoff, shoff, phnum
    ehdr[11], ehdr[12], ehdr[13] = 0, 0, 0  # no section headers
    out += _EHDR.pack(*ehdr)
    table_at = len(out)
    out += bytes(count * _PHDR.size)
    entries = []
    for p in notes:
        pos = len(out)
        out += data[p[2]:p[2] + p[5]]
        entries.append((PT_NOTE, p[1], pos, 0, 0, p[5], 0, p[7]))
    for vaddr, size, flags, offset in runs:
        out += bytes(-len(out) % 16)
        pos = len(out)
        out += data[offset:offset + size]
        entries.append((PT_LOAD, flags, pos, vaddr, 0, size, size, 1))
    for i, entry in enumerate(entries):
        _PHDR.pack_into(out, table_at + i * _PHDR.size, *entry)
    with open(dst, "wb") as f:
        f.write(out)


# ----------------------------------------------------------------- the map of a core

@dataclass
class Region:
    kind: str  # "ehdr", "phdrs", "notes", "runtime", "interp", "tstate", "frame", ...
    address: int  # virtual address (0 for file-only regions)
    offset: int  # file offset
    size: int


@dataclass
class Subject:
    name: str  # "3.11" or "2.7"
    core: str  # path of the shrunk core
    exe: str
    data: bytes  # its bytes
    baseline: str  # stdout of pystack on it
    regions: list[Region] = field(default_factory=list)
    #: virtual addresses of every structure found (targets for pointer swaps)
    addresses: list[int] = field(default_factory=list)
    #: per thread (in the order pystack prints them), frame addresses innermost first
    thread_frames: list[list[int]] = field(default_factory=list)
    #: file offset of each thread state's link to the next one
    tstate_links: list[int] = field(default_factory=list)
    #: frame address -> address of its code object
    frame_codes: dict[int, int] = field(default_factory=dict)
    #: code object address -> file offset of its co_filename pointer
    filename_links: dict[int, int] = field(default_factory=dict)
    #: frame address -> file offset of its link to the older frame
    back_links: dict[int, int] = field(default_factory=dict)
    #: frame address -> file offset of its code pointer
    code_links: dict[int, int] = field(default_factory=dict)
    segments: list[tuple[int, int, int]] = field(default_factory=list)  # vaddr, size, offset

    def file_offset(self, address: int, size: int = 1) -> Optional[int]:
        for vaddr, seg_size, offset in self.segments:
            if vaddr <= address and address + size <= vaddr + seg_size:
                return offset + address - vaddr
        return None

    def of_kind(self, *kinds: str) -> list[Region]:
        return [r for r in self.regions if r.kind in kinds]


def _segments_of(data: bytes) -> tuple[list[tuple[int, int, int]], list[Region]]:
    ehdr = _EHDR.unpack_from(data, 0)
    phoff, phnum = ehdr[5], ehdr[10]
    segments, regions = [], [Region("ehdr", 0, 0, _EHDR.size),
                             Region("phdrs", 0, phoff, phnum * _PHDR.size)]
    for i in range(phnum):
        p_type, _flags, offset, vaddr, _paddr, filesz, _memsz, _align = \
            _PHDR.unpack_from(data, phoff + i * _PHDR.size)
        if p_type == PT_LOAD:
            segments.append((vaddr, filesz, offset))
        elif p_type == PT_NOTE:
            regions.append(Region("notes", 0, offset, filesz))
    return segments, regions


def _max_offset(record) -> int:
    values = [v for k, v in vars(record).items()
              if isinstance(v, int) and not isinstance(v, bool) and k != "size"]
    return max(values, default=0) + 8


def map_subject(name: str, core: str, exe: str) -> Subject:
    """Find the interpreter's structures in `core` with pystack's own reader."""
    from pystack.cpython.locate import locate
    from pystack.cpython.memory import Memory
    from pystack.cpython.threads import ThreadReader
    from pystack.errors import MemoryReadError
    from pystack.target.core import CoreFile

    with open(core, "rb") as f:
        data = f.read()
    baseline = guarded_run(["core", core, exe])
    assert baseline.rc == 0 and baseline.error is None, baseline.stderr
    segments, regions = _segments_of(data)
    subject = Subject(name, core, exe, data, baseline.stdout, regions, segments=segments)

    def add(kind: str, address: int, size: int) -> None:
        if not address:
            return
        # clip to what the core holds
        while size > 0 and subject.file_offset(address, size) is None:
            size = size // 2 if size > 16 else 0
        if size > 0:
            subject.regions.append(Region(kind, address, subject.file_offset(address, size), size))
            subject.addresses.append(address)

    with CoreFile(core, exe) as target:
        mem = Memory(target)
        interp = locate(target, mem)
        lay = interp.layout
        reader = ThreadReader(mem, interp)
        objs = reader.objects
        if interp.runtime:
            add("runtime", interp.runtime, _max_offset(lay.runtime))
        if interp.current_tstate:
            add("runtime", interp.current_tstate, 8)
        frame_size = lay.iframe.size if lay.has_interpreter_frames else \
            (lay.frame_object.f_localsplus or 384) + 8
        for ip in reader.interpreters():
            add("interp", ip, _max_offset(lay.interpreter))
            try:
                modules = mem.ptr(ip + lay.interpreter.modules)
                add("dict", modules, 64)
                keys = mem.ptr(modules + (lay.objects.dict_keys or lay.objects.dict_table))
                add("dict", keys, 512)
            except MemoryReadError:
                pass
            for ts in reader.thread_states(ip):
                add("tstate", ts, lay.thread.size or _max_offset(lay.thread))
                if lay.thread.cframe is not None:
                    add("cframe", mem.ptr(ts + lay.thread.cframe), 24)
                off = subject.file_offset(ts + lay.thread.next, 8)
                if off is not None:
                    subject.tstate_links.append(off)
                walked = reader.frames.walk(ts)
                subject.thread_frames.append([f.address for f in walked])
                for raw in walked:
                    subject.frame_codes[raw.address] = raw.code_address
                    add("frame", raw.address, frame_size)
                    back = lay.iframe.previous if lay.has_interpreter_frames else lay.frame_object.f_back
                    code_field = lay.iframe.code if lay.has_interpreter_frames else lay.frame_object.f_code
                    off = subject.file_offset(raw.address + back, 8)
                    if off is not None:
                        subject.back_links[raw.address] = off
                    off = subject.file_offset(raw.address + code_field, 8)
                    if off is not None:
                        subject.code_links[raw.address] = off
                    code = raw.code_address
                    if not code or any(r.address == code for r in subject.regions):
                        continue
                    add("code", code, lay.code.size)
                    c = lay.code
                    off = subject.file_offset(code + c.filename, 8)
                    if off is not None:
                        subject.filename_links[code] = off
                    for field_off, kind in ((c.filename, "str"), (c.name, "str"),
                                            (c.qualname, "str"), (c.linetable, "linetable")):
                        if field_off is None:
                            continue
                        try:
                            obj = mem.ptr(code + field_off)
                            if kind == "linetable":
                                size = 40 + len(objs.read_bytes(obj, 4096))
                            else:
                                size = 96
                            add(kind, obj, size)
                            add("type", objs.type_of(obj), 64)
                        except MemoryReadError:
                            continue  # not read by pystack, so not kept in the core
    return subject


def build_subject(name: str, workdir: str) -> Subject:
    python = PYTHONS[name]
    raw = make_gcore(python, workdir)
    core = os.path.join(workdir, f"core-{name}")
    shrink_core(raw, core, python)
    os.unlink(raw)
    return map_subject(name, core, python)


# ----------------------------------------------------------------- mutations

INTERESTING_WORDS = [0, 1, 0x1234, 0xFFFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000,
                     1 << 31, (1 << 32) - 1, 1 << 40, 1 << 62, 0xFFFFFFFF00000000, 4096, 8,
                     0x7FFF_FFFF_F000]


def apply(data: bytearray, subject: Subject, op: tuple) -> bytearray:
    """Apply one mutation; see `random_ops` for the kinds."""
    kind = op[0]
    if kind == "flip":  # ("flip", file offset, xor mask)
        _, offset, mask = op
        if offset < len(data):
            data[offset] ^= mask or 1
    elif kind == "word":  # ("word", file offset, 64-bit value)
        _, offset, value = op
        if offset + 8 <= len(data):
            data[offset:offset + 8] = (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
    elif kind == "zero":  # ("zero", file offset, length)
        _, offset, length = op
        end = min(len(data), offset + length)
        if offset < end:
            data[offset:end] = bytes(end - offset)
    elif kind == "truncate":  # ("truncate", new length)
        del data[op[1]:]
    return data


def pick_region(subject: Subject, kinds: tuple[str, ...], index: int) -> Optional[Region]:
    regions = subject.of_kind(*kinds) if kinds else subject.regions
    return regions[index % len(regions)] if regions else None


def op_for(subject: Subject, kind: str, kinds: tuple[str, ...], index: int, where: int,
           value_choice: int, raw_value: int) -> Optional[tuple]:
    """Turn abstract choices (as hypothesis or a PRNG draws them) into one mutation."""
    if kind == "truncate":
        return ("truncate", where % (len(subject.data) + 1))
    region = pick_region(subject, kinds, index)
    if region is None:
        return None
    offset = region.offset + where % max(1, region.size)
    if kind == "flip":
        return ("flip", offset, raw_value & 0xFF)
    if kind == "zero":
        return ("zero", offset, 1 + raw_value % 64)
    # a word: aligned within the region, holding an interesting value
    offset = region.offset + (where % max(1, region.size)) // 8 * 8
    choices = len(INTERESTING_WORDS) + 4
    choice = value_choice % choices
    if choice < len(INTERESTING_WORDS):
        value = INTERESTING_WORDS[choice]
    elif choice == len(INTERESTING_WORDS):  # another structure
        value = subject.addresses[raw_value % len(subject.addresses)]
    elif choice == len(INTERESTING_WORDS) + 1:  # itself: a loop
        value = region.address
    elif choice == len(INTERESTING_WORDS) + 2:  # near another structure
        value = subject.addresses[raw_value % len(subject.addresses)] + (raw_value >> 32) % 256 - 128
    else:
        value = raw_value
    return ("word", offset, value)


MEMORY_KINDS = ("runtime", "interp", "tstate", "cframe", "frame", "code", "str", "linetable",
                "dict", "type")
FILE_KINDS = ("ehdr", "phdrs", "notes")


def random_ops(subject: Subject, rng: random.Random, max_ops: int = 4) -> list[tuple]:
    ops = []
    for _ in range(rng.randint(1, max_ops)):
        kind = rng.choice(["flip", "flip", "word", "word", "word", "zero", "truncate"])
        if kind == "truncate" and rng.random() < 0.7:
            kind = "word"
        group = rng.choice([MEMORY_KINDS, MEMORY_KINDS, FILE_KINDS, ()])
        kinds = (rng.choice(group),) if group else ()
        op = op_for(subject, kind, kinds, rng.getrandbits(16), rng.getrandbits(32),
                    rng.getrandbits(8), rng.getrandbits(64))
        if op is not None:
            ops.append(op)
    return ops


def mutated(subject: Subject, ops: list[tuple]) -> bytes:
    data = bytearray(subject.data)
    for op in ops:
        apply(data, subject, op)
    return bytes(data)


# ----------------------------------------------------------------- guarded runs

@dataclass
class Result:
    rc: Optional[int]
    stdout: str
    stderr: str
    elapsed: float
    rss_growth: int  # bytes the peak RSS grew by during the run
    error: Optional[BaseException] = None  # an exception that escaped main()
    hang: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.hang and isinstance(self.rc, int) \
            and self.rss_growth <= MAX_RSS_GROWTH


@contextlib.contextmanager
def alarm(seconds: float):
    """Raise `Hang` if the block runs longer than `seconds`."""
    def on_alarm(signum, frame):
        raise Hang(f"no answer after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def guarded_run(argv: list[str], deadline: float = DEADLINE_S) -> Result:
    """`pystack.cli.main(argv)` in this process: captured, timed, with a hang alarm."""
    from pystack import cli

    # stdout as a terminal or pipe has it: UTF-8, strict (text that cannot be
    # encoded fails there, so it must fail here too)
    raw_out = io.BytesIO()
    out = io.TextIOWrapper(raw_out, encoding="utf-8", errors="strict", newline="\n")
    err = io.StringIO()

    def on_alarm(signum, frame):
        raise Hang(f"no answer after {deadline} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    rss_before = _maxrss()
    start = time.perf_counter()
    rc, error, hang = None, None, False
    try:
        signal.setitimer(signal.ITIMER_REAL, deadline)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = cli.main(argv)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Hang:
        hang = True
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: B902 - SystemExit from argparse included
        error = exc
    finally:
        signal.signal(signal.SIGALRM, old)
    elapsed = time.perf_counter() - start
    try:
        out.flush()
    except ValueError:
        pass
    stdout = raw_out.getvalue().decode("utf-8", "replace")
    return Result(rc, stdout, err.getvalue(), elapsed, _maxrss() - rss_before, error, hang)


# ----------------------------------------------------------------- output checks

HEADER = re.compile(r"^Traceback for thread (\d+)(?: \((.*)\))? \[(.*)\] \(most recent call last\):$")
EMPTY = re.compile(r"^The frame stack for thread (\d+)(?: \((.*)\))? is empty$")
FRAME = re.compile(r'^    \(Python\) File "(.*)", line (-?\d+), in (.*)$')
CORRUPTED = re.compile(r"^    \(corrupted frame at 0x[0-9a-f]+\)$")


def thread_blocks(stdout: str) -> list[list[str]]:
    """The lines of each thread's traceback, header first."""
    blocks: list[list[str]] = []
    for line in stdout.splitlines():
        if line.startswith("Traceback for thread ") or line.startswith("The frame stack for thread "):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    return blocks


#: Internal errors raised outside the files this issue may change, each reported to the
#: lead; the fuzz tests count them separately instead of failing. Remove an entry once
#: its fix lands, so that the fuzz tests guard it from then on.
# Failures known to come from code outside the fuzzed layers (none left).
KNOWN_OUTSIDE: set = set()

_INTERNAL = re.compile(r"^pystack: internal error: (\w+).*? at ([\w.]+):\d+ in (\w+);", re.M)


def known_outside(result: Result) -> Optional[tuple]:
    """The KNOWN_OUTSIDE entry this run's internal error is, if it is one."""
    m = _INTERNAL.search(result.stderr)
    if result.rc == 70 and m and m.groups() in KNOWN_OUTSIDE:
        return m.groups()
    return None


def signature(result: Result) -> str:
    """A short key that groups runs failing the same way (for de-duplication)."""
    if result.hang:
        return "hang"
    if result.error is not None:
        return f"escaped {type(result.error).__name__}"
    m = _INTERNAL.search(result.stderr)
    if m:
        return "internal " + " ".join(m.groups())
    problems = output_problems(result)
    return problems[0][:60] if problems else "ok"


def output_problems(result: Result) -> list[str]:
    """What is wrong with the output of one run (empty when it is fine)."""
    problems = []
    if known_outside(result):
        return problems
    if result.hang:
        problems.append("hang")
    if result.error is not None:
        problems.append(f"exception escaped: {type(result.error).__name__}: {result.error}")
    if result.rss_growth > MAX_RSS_GROWTH:
        problems.append(f"peak RSS grew by {result.rss_growth >> 20} MiB")
    if problems:
        return problems
    if not isinstance(result.rc, int):
        return [f"exit code {result.rc!r} is not an int"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("pystack: ")]
    if result.rc != 0 and len(errors) != 1:
        problems.append(f"exit {result.rc} without exactly one error line: {result.stderr!r}")
    if result.rc == 0 and errors:
        problems.append(f"exit 0 with an error line: {errors}")
    if "internal error" in result.stderr:
        problems.append(f"internal error: {result.stderr.strip()}")
    if "Traceback (most recent call last)" in result.stderr:
        problems.append("a Python traceback on stderr")
    for block in thread_blocks(result.stdout):
        frame_lines = [line for line in block[1:]
                       if line.startswith("    ") and not line.startswith("        ")]
        marks = [i for i, line in enumerate(frame_lines) if line.startswith("    (corrupted")]
        for i in marks:
            if not CORRUPTED.match(frame_lines[i]):
                problems.append(f"malformed marker {frame_lines[i]!r}")
        # the walk stops at the first corruption: its marker is the oldest frame shown
        if marks and marks != [0]:
            problems.append(f"corrupted marker not first in {block[0]!r}: {frame_lines}")
    return problems


def frames_in_order(stdout: str) -> list[list[str]]:
    """Each thread's frame lines (markers included), outermost first, in printed order."""
    return [[line for line in block[1:] if FRAME.match(line) or CORRUPTED.match(line)]
            for block in thread_blocks(stdout)]


def parse_frames(stdout: str) -> dict[str, list[str]]:
    """thread tid -> its frame lines (markers included), outermost first."""
    threads = {}
    for block in thread_blocks(stdout):
        m = HEADER.match(block[0]) or EMPTY.match(block[0])
        key = m.group(1) if m else block[0]
        threads[key] = [line for line in block[1:]
                        if FRAME.match(line) or CORRUPTED.match(line)]
    return threads


# ----------------------------------------------------------------- reproducers

def save_reproducer(directory: str, subject: Subject, ops: list[tuple], data: bytes,
                    result: Result, argv_extra: Optional[list[str]] = None) -> str:
    os.makedirs(directory, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=f"repro-{subject.name}-", suffix=".core", dir=directory)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    with open(path + ".txt", "w", errors="backslashreplace") as f:
        f.write(f"subject: {subject.name} exe: {subject.exe}\nops: {ops!r}\n"
                f"argv extra: {argv_extra!r}\nproblems: {output_problems(result)}\n"
                f"rc: {result.rc} elapsed: {result.elapsed:.2f}s\n"
                f"error: {result.error!r}\n--- stderr\n{result.stderr}\n--- stdout\n"
                f"{result.stdout[-5000:]}\n")
    return path


def have_tools() -> Optional[str]:
    """Why the fuzz tests cannot run here, or None."""
    if not shutil.which("gcore"):
        return "needs gdb's gcore"
    return None


def missing_python(name: str) -> Optional[str]:
    """Why the subject `name` cannot be made here, or None."""
    python = PYTHONS[name]
    return None if os.access(python, os.X_OK) else f"needs {python}"


# ----------------------------------------------------------------- crafted long chains

FAKE_BASE = 0x3000_0000_0000


def with_segment(data: bytes, vaddr: int, payload: bytes) -> bytearray:
    """The core with one more PT_LOAD (at `vaddr`, holding `payload`); the program
    header table moves to the end of the file, everything else stays where it was."""
    ehdr = list(_EHDR.unpack_from(data, 0))
    phoff, phnum = ehdr[5], ehdr[10]
    table = bytearray(data[phoff:phoff + phnum * _PHDR.size])
    out = bytearray(data)
    out += bytes(-len(out) % 16)
    new_phoff = len(out)
    payload_at = new_phoff + (phnum + 1) * _PHDR.size
    table += _PHDR.pack(PT_LOAD, 6, payload_at, vaddr, 0, len(payload), len(payload), 1)
    out += table + payload
    ehdr[5], ehdr[10] = new_phoff, phnum + 1
    _EHDR.pack_into(out, 0, *ehdr)
    return out


def fake_frame_chain(subject: Subject, count: int) -> tuple[bytes, int]:
    """`count` fake frames at FAKE_BASE, each running a real code object and linked to
    the next; returns (payload, frame stride). The last one links to nothing."""
    from pystack.cpython.layouts import layout_for

    lay = layout_for(tuple(int(v) for v in subject.name.split(".")))
    code = next(iter(subject.frame_codes.values()))
    if lay.has_interpreter_frames:
        f = lay.iframe
        stride = f.size
        fields = [(f.code, code), (f.instr_ptr, code + lay.code.code_adaptive)]
        back = f.previous
    else:
        f = lay.frame_object
        stride = 128
        fields = [(f.f_code, code)]
        back = f.f_back
    frame = bytearray(stride)
    for offset, value in fields:
        frame[offset:offset + 8] = value.to_bytes(8, "little")
    payload = bytearray(frame * count)
    for i in range(count - 1):
        at = i * stride + back
        payload[at:at + 8] = (FAKE_BASE + (i + 1) * stride).to_bytes(8, "little")
    return bytes(payload), stride


def fake_threads(subject: Subject, frames: int, threads: int) -> tuple[bytes, int]:
    """A chain of `frames` fake frames (see fake_frame_chain) followed by `threads` fake
    thread states, linked one to the next, all of whose stacks are that chain.

    Returns (payload for FAKE_BASE, address of the first fake thread state)."""
    from pystack.cpython.layouts import layout_for

    lay = layout_for(tuple(int(v) for v in subject.name.split(".")))
    chain, stride = fake_frame_chain(subject, frames)
    payload = bytearray(chain)
    t = lay.thread
    cframe_at = FAKE_BASE + len(payload)
    if t.cframe is not None:  # 3.11-3.12: tstate -> _PyCFrame -> current frame
        payload += bytes(lay.cframe.current_frame) + FAKE_BASE.to_bytes(8, "little")
        payload += bytes(-len(payload) % 16)
    size = t.size or 512
    first = FAKE_BASE + len(payload)
    for i in range(threads):
        state = bytearray(size)

        def put(offset, value):
            state[offset:offset + 8] = value.to_bytes(8, "little")
        if i + 1 < threads:
            put(t.next, first + (i + 1) * size)
        if t.cframe is not None:
            put(t.cframe, cframe_at)
        elif t.frame is not None and not lay.has_interpreter_frames:
            put(t.frame, FAKE_BASE)
        else:
            put(t.current_frame, FAKE_BASE)
        put(t.thread_id, 0x10000 + i)
        if t.native_thread_id is not None:
            put(t.native_thread_id, 0x10000 + i)
        payload += state
    return bytes(payload), first


def with_file_name(subject: Subject, text: str) -> bytearray:
    """The core with the code object of the first thread's innermost frame naming `text`
    as its co_filename: a new str object (3.x) or str (2.7) in a segment of its own."""
    from pystack.cpython.layouts import layout_for

    lay = layout_for(tuple(int(v) for v in subject.name.split(".")))
    o = lay.objects
    code = subject.frame_codes[subject.thread_frames[0][0]]
    link = subject.filename_links[code]
    old = int.from_bytes(subject.data[link:link + 8], "little")
    old_type = subject.data[subject.file_offset(old + o.ob_type, 8):][:8]
    obj = bytearray(256 + 4 * len(text))
    obj[0:8] = (1 << 30).to_bytes(8, "little")  # a reference count
    obj[o.ob_type:o.ob_type + 8] = old_type
    if lay.is_python2:
        raw = text.encode("utf-8", "surrogatepass")
        obj[o.ob_size:o.ob_size + 8] = len(raw).to_bytes(8, "little")
        obj[o.bytes_sval:o.bytes_sval + len(raw)] = raw
    else:
        wide = any(ord(c) > 0xFF for c in text)
        kind, ascii_ = (2, 0) if wide else (1, int(text.isascii()))
        raw = text.encode("utf-16-le", "surrogatepass") if wide else text.encode("latin-1")
        state = (kind << o.unicode_kind_shift) | (1 << o.unicode_compact_shift) \
            | (ascii_ << o.unicode_ascii_shift)
        obj[o.unicode_length:o.unicode_length + 8] = len(text).to_bytes(8, "little")
        obj[o.unicode_state:o.unicode_state + 4] = state.to_bytes(4, "little")
        at = o.unicode_ascii_size if ascii_ else o.unicode_compact_size
        obj[at:at + len(raw)] = raw
    data = with_segment(subject.data, FAKE_BASE, bytes(obj))
    data[link:link + 8] = FAKE_BASE.to_bytes(8, "little")
    return data
