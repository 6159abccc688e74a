"""Finding the interpreter when no symbol names it: scans of the target's memory.

A stripped binary (no `.symtab`, and for a static executable built without
`-export-dynamic` no useful `.dynsym` either) still keeps its globals where the
program headers say: `_PyRuntime` or `interp_head` sit in the writable PT_LOAD
segment (.data/.bss) of libpython or of the executable. So we read those few MB
once and look for

* the `_Py_DebugOffsets` cookie that starts `_PyRuntime` (3.13+): one
  `bytes.find`;
* any 8-byte word pointing at a valid `PyInterpreterState` (every version): the
  distinct words are collected with C-speed set/sort operations, narrowed to
  those pointing into writable memory, and only those get the per-candidate
  checks below.

A candidate interpreter is accepted only when its thread states point back at it
(`interp->threads_head->interp == interp`), the whole `next` chain does the same
(with consistent `prev` links where the version has them), and `modules`,
`sysdict` and `builtins` are dicts (their type's `tp_name` reads "dict"). Random
data essentially never passes all of that, so a false positive would need the
target to hold a forged interpreter.

Everything here is a pure function of bytes plus a word reader, so the unit tests
drive it with fake memory.
"""
from __future__ import annotations

import bisect
import re
import struct
import sys
import time

from ..errors import MemoryReadError
from ..records import TupleRecord
from .layout import PythonLayout
from .memory import Memory

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Iterable, Iterator, Optional, TextIO

COOKIE = b"xdebugpy"
_PTR = struct.Struct("<Q")
#: Bytes read per call when scanning: large enough that syscalls are few, small
#: enough that a progress bar moves and a huge heap is never held at once.
CHUNK = 4 << 20
PAGE = 4096
_PAGE_MASK = ~(PAGE - 1)
#: Thread states followed when validating a candidate; a longer chain is accepted
#: as long as this much of it is sound (walking 100k threads here would be waste).
MAX_CHECKED_THREADS = 4096


class Region(TupleRecord):
    """A block of target memory read once and kept to be searched."""

    start: int
    data: bytes
    label: str = ""

    @property
    def end(self) -> int:
        return self.start + len(self.data)


class AddressSet:
    """Sorted, merged address ranges with a cheap membership test.

    Used for "could this word be a pointer to a live structure": every mutable
    CPython structure lives in writable memory, so a word outside the target's
    writable mappings is rejected before any read is spent on it.
    """

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for lo, hi in sorted(r for r in ranges if r[1] > r[0]):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self.ranges = [(lo, hi) for lo, hi in merged]
        self._starts = [lo for lo, _ in self.ranges]
        self._chunk_sets: Optional[tuple[frozenset, frozenset, int]] = None

    def __contains__(self, address: int) -> bool:
        i = bisect.bisect_right(self._starts, address) - 1
        return i >= 0 and address < self.ranges[i][1]

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def select(self, values: Iterable[int]) -> list[int]:
        """The 8-byte aligned values that fall inside the ranges.

        Runs over tens of thousands of words per scan, so each value costs one
        shift and one set look-up: the ranges are cut into power-of-two chunks
        (few enough to keep in sets), chunks wholly inside a range accept at
        once, and only values in a chunk a range boundary crosses are bisected.
        """
        full, partial, shift = self._chunks()
        out = []
        for v in values:
            if v & 7:
                continue
            chunk = v >> shift
            if chunk in full or (chunk in partial and v in self):
                out.append(v)
        return out

    def _chunks(self) -> tuple[frozenset, frozenset, int]:
        if self._chunk_sets is None:
            shift = max(12, (self.size >> 17).bit_length())
            full: set[int] = set()
            partial: set[int] = set()
            for lo, hi in self.ranges:
                first, last = lo >> shift, (hi - 1) >> shift
                partial.add(first)
                partial.add(last)
                full.update(range(first + 1, last))
            self._chunk_sets = (frozenset(full - partial), frozenset(partial), shift)
        return self._chunk_sets

    @property
    def size(self) -> int:
        return sum(hi - lo for lo, hi in self.ranges)


class Words:
    """8-byte reads served from scanned regions first, from target memory otherwise.

    Validation reads mostly land in the regions just scanned (3.12+ keeps the main
    interpreter inside `_PyRuntime`), and those must cost no syscall at all; the
    pages a whole batch of candidates needs elsewhere are fetched together with
    `prefetch` (one process_vm_readv for up to IOV_MAX pages) instead of one
    syscall per page.
    """

    def __init__(self, regions: list[Region], mem: Optional[Memory]) -> None:
        self.regions = sorted(regions, key=lambda r: r.start)
        self._starts = [r.start for r in self.regions]
        self.mem = mem
        self._pages: dict[int, Optional[bytes]] = {}

    def _local(self, address: int) -> Optional[Region]:
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0 and address < self.regions[i].end:
            return self.regions[i]
        return None

    def many(self, addresses: list[int]) -> list[Optional[int]]:
        """Words at 8-byte aligned `addresses` (None where unreadable), reading in bulk.

        Pages inside scanned regions are views of them; every other page the batch
        needs is fetched by one `read_many` (one process_vm_readv for up to IOV_MAX
        pages) instead of one syscall per page.
        """
        pages = self._pages
        missing = {a & _PAGE_MASK for a in addresses}.difference(pages)
        remote = []
        for page in missing:
            region = self._local(page)
            if region is not None and page + PAGE <= region.end:
                off = page - region.start
                pages[page] = memoryview(region.data)[off:off + PAGE]
            else:
                remote.append(page)
        if remote:
            self._fetch(sorted(remote))
        get = pages.get
        unpack = _PTR.unpack_from
        out: list[Optional[int]] = []
        for a in addresses:
            data = get(a & _PAGE_MASK)
            out.append(unpack(data, a & (PAGE - 8))[0] if data is not None and not a & 7
                       else self.word(a))
        return out

    def _fetch(self, pages: list[int]) -> None:
        read_many = getattr(self.mem.target, "read_many", None) if self.mem else None
        if read_many is None:
            return
        self.mem.reads += 1
        for page, data in zip(pages, read_many([(p, PAGE) for p in pages])):
            self._pages[page] = data

    def word(self, address: int) -> Optional[int]:
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0:
            region = self.regions[i]
            off = address - region.start
            if off + 8 <= len(region.data):
                return _PTR.unpack_from(region.data, off)[0]
        page = address & ~(PAGE - 1)
        off = address - page
        if off <= PAGE - 8:
            data = self._pages.get(page, b"")
            if data is None:
                return None  # prefetched and found unreadable
            if data:
                return _PTR.unpack_from(data, off)[0]
        if self.mem is None:
            return None
        try:
            return self.mem.ptr(address)
        except MemoryReadError:
            return None

    def cstring(self, address: int, limit: int) -> Optional[bytes]:
        region = self._local(address)
        if region is not None:
            off = address - region.start
            raw = region.data[off:off + limit]
            nul = raw.find(b"\0")
            if nul >= 0:
                return bytes(raw[:nul])
        if self.mem is None:
            return None
        try:
            return self.mem.cstring(address, limit)
        except MemoryReadError:
            return None


class InterpreterCheck:
    """Is there a valid `PyInterpreterState` at an address, for one version's layout?"""

    def __init__(self, words: Words, layout: PythonLayout, pointers: AddressSet) -> None:
        self.words = words
        self.layout = layout
        self.pointers = pointers
        interp, thread = layout.interpreter, layout.thread
        self.threads_head = interp.threads_head
        self.thread_interp = thread.interp
        self.thread_next = thread.next
        self.thread_prev = thread.prev
        self.dicts = [(name, off) for name, off in (("modules", interp.modules),
                                                   ("sysdict", interp.sysdict),
                                                   ("builtins", interp.builtins))
                      if off is not None]
        self._dict_types: dict[int, bool] = {}

    def quick(self, interp: int) -> bool:
        """The cheap first test, run on every candidate: a thread state points back."""
        head = self.words.word(interp + self.threads_head)
        if not head or head & 7 or head not in self.pointers:
            return False
        return self.words.word(head + self.thread_interp) == interp

    def reason(self, interp: int) -> Optional[str]:
        """Why `interp` is not a valid interpreter, or None when it is."""
        if interp & 7:
            return "misaligned"
        word = self.words.word
        head = word(interp + self.threads_head)
        if head is None:
            return "unreadable"
        if not head:
            return "no thread state"
        seen: set[int] = set()
        tstate, prev = head, 0
        while tstate and len(seen) < MAX_CHECKED_THREADS:
            if tstate in seen:
                return "cycle in the thread states"
            if tstate & 7 or tstate not in self.pointers:
                return f"thread state 0x{tstate:x} is not in writable memory"
            if word(tstate + self.thread_interp) != interp:
                return f"thread state 0x{tstate:x} does not point back"
            if self.thread_prev is not None and word(tstate + self.thread_prev) != prev:
                return f"thread state 0x{tstate:x} has a wrong prev link"
            seen.add(tstate)
            prev, tstate = tstate, word(tstate + self.thread_next)
            if tstate is None:
                return "unreadable thread state chain"
        for name, off in self.dicts:
            obj = word(interp + off)
            if not obj or not self._is_dict(obj):
                return f"{name} is not a dict"
        return None

    def __call__(self, interp: int) -> bool:
        return self.quick(interp) and self.reason(interp) is None

    def _is_dict(self, obj: int) -> bool:
        if obj & 7:
            return False
        tp = self.words.word(obj + self.layout.objects.ob_type)
        if not tp or tp & 7:
            return False
        known = self._dict_types.get(tp)
        if known is None:
            name_ptr = self.words.word(tp + self.layout.objects.tp_name)
            name = self.words.cstring(name_ptr, 16) if name_ptr else None
            known = self._dict_types[tp] = name == b"dict"
        return known


# -- reading ------------------------------------------------------------------------

class Progress:
    """A one-line progress bar on stderr, only for a terminal and a scan that lasts.

    Short scans (the usual few MB of .data/.bss) never draw anything; a heap of
    GBs under --exhaustive shows how far it got, and the line is wiped at the end
    so the stack output that follows stays clean.
    """

    def __init__(self, label: str, total: int, stream: Optional[TextIO] = None,
                 delay: float = 0.5, force: bool = False) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.delay = delay
        self.enabled = force or _isatty(self.stream)
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = 0

    def advance(self, amount: int) -> None:
        self.done += amount
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < self.delay or now - self._last < 0.1:
            return
        self._last = now
        share = min(self.done / self.total, 1.0)
        bar = "#" * int(share * 30)
        line = (f"\r{self.label}: [{bar:<30}] {share * 100:3.0f}% "
                f"({self.done >> 20}/{self.total >> 20} MiB)")
        self.stream.write(line)
        self.stream.flush()
        self._drawn = len(line)

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def read_regions(mem: Memory, ranges: Iterable[tuple[int, int, str]],
                 progress: Optional[Progress] = None,
                 chunk: int = CHUNK) -> Iterator[Region]:
    """Read (start, end, label) ranges in chunks; unreadable pages are skipped.

    A chunk that fails as a whole is retried page by page, so one hole (a guard
    page, memory a core left out) costs only what it covers.
    """
    for start, end, label in ranges:
        cur = start
        while cur < end:
            size = min(chunk, end - cur)
            try:
                yield Region(cur, mem.read(cur, size), label)
            except MemoryReadError:
                yield from _read_pagewise(mem, cur, cur + size, label)
            if progress is not None:
                progress.advance(size)
            cur += size


def _read_pagewise(mem: Memory, start: int, end: int, label: str) -> Iterator[Region]:
    run_start, pieces = start, []
    cur = start
    while cur < end:
        nxt = min((cur & ~(PAGE - 1)) + PAGE, end)
        try:
            pieces.append(mem.read(cur, nxt - cur))
        except MemoryReadError:
            if pieces:
                yield Region(run_start, b"".join(pieces), label)
            pieces, run_start = [], nxt
        cur = nxt
    if pieces:
        yield Region(run_start, b"".join(pieces), label)


def _words_of(data: bytes, skip: int = 0) -> memoryview:
    """The aligned 8-byte words of `data` (skipping `skip` bytes to reach alignment)."""
    usable = (len(data) - skip) & ~7
    return memoryview(data)[skip:skip + usable].cast("Q")


def _alignment_skip(start: int) -> int:
    return (-start) & 7


# -- searches -----------------------------------------------------------------------

def find_cookies(regions: Iterable[Region]) -> list[int]:
    """Addresses of the `_Py_DebugOffsets` cookie ("xdebugpy") at 8-byte alignment."""
    found = []
    for region in regions:
        pos = region.data.find(COOKIE)
        while pos >= 0:
            if not (region.start + pos) & 7:
                found.append(region.start + pos)
            pos = region.data.find(COOKIE, pos + 1)
    return found


def pointer_locations(regions: Iterable[Region], value: int, limit: int = 64) -> list[int]:
    """Aligned addresses inside the regions that hold the pointer `value`."""
    needle = _PTR.pack(value)
    found = []
    for region in regions:
        pos = region.data.find(needle)
        while pos >= 0 and len(found) < limit:
            if not (region.start + pos) & 7:
                found.append(region.start + pos)
            pos = region.data.find(needle, pos + 1)
    return found


def candidate_pointers(regions: Iterable[Region], targets: AddressSet,
                       exclude: Optional[set] = None) -> list[int]:
    """Distinct aligned words of the regions that point into `targets`.

    The set is built in C; Python-level work is one cheap test per distinct
    value (`AddressSet.select`), not per byte.
    """
    values: set[int] = set()
    for region in regions:
        values.update(_words_of(region.data, _alignment_skip(region.start)))
    values.discard(0)
    if exclude is not None:
        values -= exclude
        exclude |= values
    return targets.select(values)


def scan_for_interpreters(regions: Iterable[Region], check: InterpreterCheck,
                          targets: AddressSet, seen: Optional[set] = None,
                          limit: int = 64) -> list[int]:
    """Valid interpreters that some word of the regions points to.

    `regions` may be an iterator of chunks (a heap is never held at once); `seen`
    carries the values already tried across calls so none is checked twice. The
    first test of every candidate (its `threads_head` word, then that thread
    state's `interp` word) is done in two batched rounds of reads.
    """
    found: list[int] = []
    seen = set() if seen is None else seen
    words = check.words
    th_off, back_off = check.threads_head, check.thread_interp
    pointers = check.pointers
    for region in regions:
        candidates = candidate_pointers([region], targets, seen)
        heads = words.many([c + th_off for c in candidates])
        stage = [(c, h) for c, h in zip(candidates, heads)
                 if h and not h & 7 and h in pointers]
        backs = words.many([h + back_off for _, h in stage])
        for (candidate, _), back in zip(stage, backs):
            if back == candidate and check.reason(candidate) is None:
                found.append(candidate)
                if len(found) >= limit:
                    return found
    return found


def chain_head(found: list[int], words: Words, next_offset: int) -> int:
    """Of several valid interpreters, the one whose `next` chain reaches the most."""
    best, best_count = found[0], -1
    wanted = set(found)
    for start in found:
        seen: set[int] = set()
        cur: Optional[int] = start
        while cur and cur not in seen and len(seen) < 1024:
            seen.add(cur)
            cur = words.word(cur + next_offset)
        count = len(seen & wanted)
        if count > best_count:
            best, best_count = start, count
    return best


# -- versions -----------------------------------------------------------------------

_TAG3 = re.compile(rb"cpython-([23])(\d{1,2})(?![\d])")
_TAG2 = re.compile(rb"python(2)\.(\d)(?![\d])")
_MICRO = re.compile(rb"(\d{1,2})(?:(?:a|b|rc)\d{1,2})?\+?\x00")
_MEMORY_VERSION = re.compile(
    rb"(?<![\d.])([23])\.(\d{1,2})\.(\d{1,2})(?:(?:a|b|rc)\d{1,2})?\+? \([^()\x00]{1,120}\) ?\n?\[")
_MAX_HITS = 256


def _find_all(data: bytes, needle: bytes, limit: int = _MAX_HITS) -> Iterator[int]:
    pos = data.find(needle)
    count = 0
    while pos >= 0 and count < limit:
        yield pos
        count += 1
        pos = data.find(needle, pos + 1)


def version_tags(data: bytes) -> set[tuple[int, int]]:
    """(major, minor) named by the build's cache tag "cpython-XY" or "pythonX.Y" paths.

    These strings are in every libpython (sys.implementation.cache_tag, extension
    suffixes, the default sys.path), and unlike a bare "X.Y.Z" they cannot be some
    bundled library's version.
    """
    tags: set[tuple[int, int]] = set()
    for pos in _find_all(data, b"cpython-"):
        m = _TAG3.match(data, pos)
        if m:
            tags.add((int(m.group(1)), int(m.group(2))))
    if not tags:
        for pos in _find_all(data, b"python2."):
            m = _TAG2.match(data, pos)
            if m:
                tags.add((2, int(m.group(2))))
    return tags


def version_from_rodata(data: bytes) -> Optional[tuple]:
    """(major, minor, micro or None) from a binary's read-only data, None if unsure.

    PY_VERSION ("3.11.2") is a C string of its own, or the tail of a longer one
    (the linker merges "…/versions/3.9.18" and "3.9.18"); other "X.Y.Z" strings
    exist too (the 3.2.0 Unicode database of unicodedata, bundled libraries), so a
    full version is only believed when it agrees with the one cache tag.
    """
    tags = version_tags(data)
    if len(tags) != 1:
        return None
    major, minor = next(iter(tags))
    prefix = f"{major}.{minor}.".encode()
    micros = set()
    for pos in _find_all(data, prefix):
        if pos and data[pos - 1:pos] in b"0123456789.":
            continue
        m = _MICRO.match(data, pos + len(prefix))
        if m:
            micros.add(int(m.group(1)))
    micro = micros.pop() if len(micros) == 1 else None
    return (major, minor, micro)


def version_in_memory(regions: Iterable[Region]) -> Optional[tuple]:
    """The version from Py_GetVersion()'s static buffer ("3.9.18 (main, …) \\n[GCC …").

    sys.version is built from it at start-up, so any initialised interpreter has
    filled it in its .bss; it is found with `bytes.find` on " (" and checked
    around each hit.
    """
    for region in regions:
        data = region.data
        for pos in _find_all(data, b" (", 4096):
            if not pos or data[pos - 1] not in b"0123456789+":
                continue
            m = _MEMORY_VERSION.search(data, max(0, pos - 16), pos + 140)
            if m:
                return tuple(int(g) for g in m.groups())
    return None


def version_from_name(path: str) -> Optional[tuple]:
    """(major, minor, None) from libpythonX.Y… or pythonX.Y in a file's name."""
    name = path.rsplit("/", 1)[-1]
    m = re.search(r"python(\d)\.(\d{1,2})(?!\d)", name)
    return (int(m.group(1)), int(m.group(2)), None) if m else None


__all__ = ["Region", "AddressSet", "Words", "InterpreterCheck", "Progress", "read_regions",
           "find_cookies", "pointer_locations", "candidate_pointers",
           "scan_for_interpreters", "chain_head", "version_tags", "version_from_rodata",
           "version_in_memory", "version_from_name", "COOKIE"]
