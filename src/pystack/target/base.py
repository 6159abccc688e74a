"""The one interface every source of target memory implements.

The CPython model above this layer only ever calls `read` and looks at `mappings`;
it never learns whether bytes come from a stopped process or a core file.
"""
from __future__ import annotations

import os
from ..records import record

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Optional


@record(frozen=True)
class Mapping:
    """One virtual memory area of the target (a line of /proc/PID/maps, a core note)."""

    start: int
    end: int
    offset: int
    perms: str  # "r-xp" style
    path: Optional[str]  # as the target names it; None for anonymous memory

    @property
    def size(self) -> int:
        return self.end - self.start

    def contains(self, address: int) -> bool:
        return self.start <= address < self.end

    @property
    def is_file(self) -> bool:
        return bool(self.path) and self.path.startswith("/")


class Target:
    """Base class: memory, mappings, threads and the filesystem root of a target."""

    pid: Optional[int] = None
    #: The executable as the target names it (None when unknown).
    exe: Optional[str] = None
    #: Directory under which the paths the target names can be opened
    #: (/proc/PID/root for a live process, --lib-search-root for a core, "/" otherwise).
    root: str = "/"

    def read(self, address: int, size: int) -> bytes:
        """Return exactly `size` bytes at `address` or raise MemoryReadError."""
        raise NotImplementedError

    def mappings(self) -> list[Mapping]:
        raise NotImplementedError

    def thread_ids(self) -> list[int]:
        """OS thread ids (tids) of the target, main thread first."""
        raise NotImplementedError

    def namespace_tids(self) -> dict[int, int]:
        """Our tid -> the tid in the target's own PID namespace, for the threads where
        they differ (a process in a container, seen from outside it); empty when the
        target shares our view, or when it cannot be told (cores)."""
        return {}

    def thread_pointers(self) -> dict[int, int]:
        """tid -> thread pointer register (glibc's pthread_t); empty if unknown."""
        return {}

    def thread_name(self, tid: int) -> Optional[str]:
        """The OS-level name of a thread (comm), if known."""
        return None

    def host_path(self, path: str) -> str:
        """Where a path the target names itself (co_filename, AT_EXECFN) opens from here."""
        if self.root in ("", "/") or not path.startswith("/"):
            return path
        return os.path.join(self.root, path.lstrip("/"))

    def mapped_file_path(self, path: str) -> str:
        """Where a file named in the target's mappings opens from here.

        The kernel writes /proc/PID/maps paths relative to the *reader's* root when
        it can: a chrooted process under our root shows host paths, while a process
        in its own mount namespace (a container) shows paths of its own. So try the
        target's root first, then the path as it stands.
        """
        candidate = self.host_path(path)
        if candidate != path and not os.path.exists(candidate) and os.path.exists(path):
            return path
        return candidate
