"""Typed, cached reads over a `Target`: the only way the CPython model touches memory.

A stopped process or a core does not change while we read it, so whole pages are
fetched once and served from a dictionary afterwards: walking a thread touches the
same few pages (thread states, frames, code objects) over and over, and one
`process_vm_readv` of 4 KiB costs about as much as one of 8 bytes.
"""
from __future__ import annotations

import struct

from ..errors import MemoryReadError
from ..target.base import Target

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Optional

PAGE = 4096
#: Pages kept at most (128 MiB): past that the cache starts over, so a walk that
#: wanders through a huge hostile core costs re-reads, not unbounded memory.
MAX_CACHED_PAGES = 1 << 15
_PTR = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


class Memory:
    """Reads from a target with a page cache; `cache=False` for --no-block reads."""

    def __init__(self, target: Target, *, cache: bool = True) -> None:
        self.target = target
        self._cache: Optional[dict[int, bytes]] = {} if cache else None
        self.reads = 0  # syscalls or file reads made, for -v and benchmarks

    @property
    def frozen(self) -> bool:
        """Whether the memory cannot change while it is read (a stopped process, a core):
        then a link that leads nowhere is broken for good, not torn by a running target."""
        return self._cache is not None

    def read(self, address: int, size: int) -> bytes:
        if size < 0 or address < 0 or address + size > 1 << 64:
            raise MemoryReadError(address, size, "invalid range")
        cache = self._cache
        if cache is None or size > 4 * PAGE:
            self.reads += 1
            return self.target.read(address, size)
        first = address & ~(PAGE - 1)
        last = (address + size - 1) & ~(PAGE - 1) if size else first
        if first == last:
            page = cache.get(first)
            if page is None:
                page = self._load(first)
                if page is None:
                    self.reads += 1
                    return self.target.read(address, size)
            off = address - first
            return page[off:off + size]
        chunks = []
        for base in range(first, last + PAGE, PAGE):
            page = cache.get(base)
            if page is None:
                page = self._load(base)
                if page is None:
                    self.reads += 1
                    return self.target.read(address, size)
            chunks.append(page)
        blob = b"".join(chunks)
        off = address - first
        return blob[off:off + size]

    def _load(self, base: int) -> Optional[bytes]:
        """Fetch one page into the cache; None when it is not readable as a whole."""
        self.reads += 1
        try:
            page = self.target.read(base, PAGE)
        except MemoryReadError:
            return None
        cache = self._cache
        if len(cache) >= MAX_CACHED_PAGES:  # type: ignore[arg-type]
            cache.clear()  # type: ignore[union-attr]
        cache[base] = page  # type: ignore[index]
        return page

    # -- typed helpers --------------------------------------------------------------
    def ptr(self, address: int) -> int:
        # The commonest read of all (every link followed): served straight from a
        # cached page when it lies in one, without `read`'s general path.
        cache = self._cache
        if cache is not None:
            base = address & ~(PAGE - 1)
            page = cache.get(base)
            if page is not None and address - base <= PAGE - 8:
                return _PTR.unpack_from(page, address - base)[0]
        return _PTR.unpack(self.read(address, 8))[0]

    def i64(self, address: int) -> int:
        return _I64.unpack(self.read(address, 8))[0]

    def u32(self, address: int) -> int:
        return _U32.unpack(self.read(address, 4))[0]

    def i32(self, address: int) -> int:
        return _I32.unpack(self.read(address, 4))[0]

    def u8(self, address: int) -> int:
        return self.read(address, 1)[0]

    def cstring(self, address: int, limit: int = 256) -> bytes:
        """A NUL-terminated string, read page-wise so we never cross into unmapped memory."""
        out = b""
        while len(out) < limit:
            chunk_end = (address + PAGE) & ~(PAGE - 1)
            chunk = self.read(address, min(chunk_end - address, limit - len(out)))
            nul = chunk.find(b"\0")
            if nul >= 0:
                return out + chunk[:nul]
            out += chunk
            address = chunk_end
        return out
