"""Recorded target memory: what a dump read from a real interpreter, replayed in-process.

The integration tests run pystack in a subprocess against live targets, which
mutation testing cannot see (it selects the tests that call a mutated function in
its own process), and which need every interpreter on the machine. A recording
keeps, per interpreter, exactly the bytes our model read during one dump (every
`Memory.read` range, merged), the target's threads and where its interpreter is,
with what the target said about itself (its report). `tests/unit/test_recorded.py`
replays them through the same engine, renderers and checks as the integration
tests, against the target's own report, not against an earlier output of ours.

A recording is one xz file: a JSON line (everything but the bytes), each range as
its distance from the end of the previous one and its length (two little-endian
words: they compress far better than addresses), then the bytes of every range, in
order. `scripts/record_dumps.py` writes them.

A replay that reads a byte the recording lacks sees unmapped memory there (an
invalid object, a corruption marker: the checks fail) and notes the read in
`RecordedTarget.missed`. A change to what a dump reads (a new field, another order
of reads) therefore means recording again, which takes a minute.
"""
from __future__ import annotations

import bisect
import json
import lzma
import os
import struct

from pystack.cpython.memory import Memory
from pystack.errors import MemoryReadError
from pystack.target.base import Mapping, Target

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unit", "data", "dumps")


class RecordingMemory(Memory):
    """A `Memory` that notes the range of every read (served from its cache or not)."""

    def __init__(self, target: Target) -> None:
        super().__init__(target, cache=True)
        self.ranges: list = []

    def read(self, address: int, size: int) -> bytes:
        data = super().read(address, size)
        if size > 0:
            self.ranges.append((address, address + size))
        return data

    def ptr(self, address: int) -> int:  # the fast path would bypass `read`
        return int.from_bytes(self.read(address, 8), "little")


#: Layout fields without which a kind of value has no layout, and the start of the
#: repr of the values of that kind: with the field taken away (a version whose
#: table lacks it), those values must come out in the generic `<NAME object at 0x...>`.
OPTIONAL_KINDS = {"method_func": "<bound method ", "range_stop": "range(",
                  "slice_step": "slice(", "odict_first": "OrderedDict(",
                  "dict_object_size": "defaultdict(", "deque_left_block": "deque("}


def without(layout, field: str):
    """`layout` as a version whose table has no `field` would have it."""
    return layout.replace(objects=layout.objects.replace(**{field: None}))


def rebuilt_layout(mem: Memory, version: tuple, runtime):
    """The layout a replay uses, made the way locate makes it: the version's table,
    then the target's own debug offsets (3.13+). The recorder refuses a target for
    which this is not the layout locate found."""
    from pystack.cpython import debug_offsets
    from pystack.cpython.layouts import layout_for
    from pystack.cpython.locate import _with_debug_offsets

    layout = layout_for(version)
    if runtime and debug_offsets.schema_size(layout.version):
        layout = _with_debug_offsets(mem, runtime, layout)
    return layout


def merged(ranges: list) -> list:
    """Sorted, overlapping or touching ranges joined."""
    out: list = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def save(path: str, meta: dict, target: Target, ranges: list) -> int:
    """Write a recording of `ranges` of `target`'s memory; returns its size in bytes."""
    spans = merged(ranges)
    blobs = [target.read(start, end - start) for start, end in spans]
    meta = dict(meta, ranges=len(spans))
    previous = 0
    with lzma.open(path, "wb", preset=9 | lzma.PRESET_EXTREME) as f:
        f.write(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode() + b"\n")
        for start, end in spans:
            f.write(_SPAN.pack(start - previous, end - start))
            previous = end
        for blob in blobs:
            f.write(blob)
    return os.path.getsize(path)


_SPAN = struct.Struct("<QQ")


class RecordedTarget(Target):
    """A target whose memory is the recorded ranges: any read inside one succeeds,
    any other fails as unmapped memory would."""

    def __init__(self, path: str) -> None:
        with lzma.open(path, "rb") as f:
            header = f.readline()
            data = f.read()
        self.meta = json.loads(header)
        self._starts, self._blobs = [], []
        pos = self.meta["ranges"] * _SPAN.size
        previous = 0
        for gap, size in _SPAN.iter_unpack(data[:pos]):
            previous += gap
            self._starts.append(previous)
            self._blobs.append(data[pos:pos + size])
            previous += size
            pos += size
        self.pid = self.meta["pid"]
        self.exe = self.meta["exe"]
        self.warnings = ()
        #: Reads that found nothing recorded, for a replay that goes astray.
        self.missed: list = []

    def read(self, address: int, size: int) -> bytes:
        if size == 0:
            return b""
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0:
            blob = self._blobs[i]
            offset = address - self._starts[i]
            if offset + size <= len(blob):
                return blob[offset:offset + size]
        self.missed.append((address, size))
        raise MemoryReadError(address, size, "not in the recording")

    def mappings(self) -> list:
        return [Mapping(*m) for m in self.meta["mappings"]]

    def thread_ids(self) -> list:
        return list(self.meta["thread_ids"])

    def thread_pointers(self) -> dict:
        return {int(k): v for k, v in self.meta["thread_pointers"].items()}

    def thread_name(self, tid: int):
        return self.meta["thread_names"].get(str(tid))


class PatchedTarget(Target):
    """A recording with some bytes replaced (damage, or a state the recording lacks),
    plus objects a test adds in `EXTRA` (zeros after the last): a read sees the
    patches over the recording and succeeds where they cover what it lacks."""

    EXTRA = 0x100000000000  # no recording maps anything there
    EXTRA_SIZE = 1 << 20

    def __init__(self, inner: Target) -> None:
        self.inner = inner
        self.patches: list = []  # (address, bytes), the later over the earlier
        self.extra = bytearray()

    def put(self, address: int, data: bytes) -> None:
        self.patches.append((address, bytes(data)))

    def put_ptr(self, address: int, value: int) -> None:
        self.put(address, struct.pack("<Q", value))

    def put_i64(self, address: int, value: int) -> None:
        self.put(address, struct.pack("<q", value))

    def read(self, address: int, size: int) -> bytes:
        if self.EXTRA <= address and address + size <= self.EXTRA + self.EXTRA_SIZE:
            data = self.extra[address - self.EXTRA:address - self.EXTRA + size]
            return bytes(data) + bytes(size - len(data))
        try:
            data = bytearray(self.inner.read(address, size))
        except MemoryReadError:  # partly what the dump never read: patched, or fails
            data = bytearray(size)
            covered = set()
            for start, patch in self.patches:
                covered.update(range(max(start, address), min(start + len(patch), address + size)))
            for byte in set(range(address, address + size)) - covered:
                data[byte - address] = self.inner.read(byte, 1)[0]
        for start, patch in self.patches:
            lo, hi = max(start, address), min(start + len(patch), address + size)
            if lo < hi:
                data[lo - address:hi - address] = patch[lo - start:hi - start]
        return bytes(data)

    def mappings(self) -> list:
        return self.inner.mappings()


def recordings() -> list:
    """(interpreter name, path) of every recording in the repository."""
    if not os.path.isdir(DATA):
        return []
    return sorted((name[:-len(".dump.xz")], os.path.join(DATA, name))
                  for name in os.listdir(DATA) if name.endswith(".dump.xz"))
