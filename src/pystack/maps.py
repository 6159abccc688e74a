"""`VirtualMap`: one memory mapping as Bloomberg's `pystack.maps` describes it.

`CoreFileAnalyzer.extract_maps()` returns these, so scripts that read `map.path` or
call `map.contains(address)` run unchanged. Our own code works with
`pystack.target.base.Mapping`; this is only the public face of it.
"""
from __future__ import annotations

from .records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from pathlib import Path
    from typing import Optional


@record(frozen=True)
class VirtualMap:
    start: int
    end: int
    #: Bytes of the range the core holds (a core may leave memory out).
    filesize: int
    offset: int
    #: Device and inode: cores do not record them ("" and 0).
    device: str
    flags: str
    inode: int
    path: Optional[Path]

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def is_executable(self) -> bool:
        return "x" in self.flags

    def is_readable(self) -> bool:
        return "r" in self.flags

    def is_writable(self) -> bool:
        return "w" in self.flags

    def is_private(self) -> bool:
        return "p" in self.flags

    @property
    def size(self) -> int:
        return self.end - self.start
