"""What DWARF said about a binary's pcs, kept between runs.

Naming a native frame with its source line and inlined calls has libdw decode the
line table and the DIEs of the compilation unit that holds it, and inflate the debug
sections they live in: most of a `--native` dump (ceval.c's unit alone is megabytes),
paid again by every run. What it finds depends on the binary only, so it is kept per
build id in the user's cache directory (`$XDG_CACHE_HOME/pystack`, else
`~/.cache/pystack`): one small file per binary, offsets in the file (pc less the load
bias) to the frames found there. A file is used only for the build id it names
inside, holds "nothing here" only where DWARF was there to say it (a debug file
installed later is not hidden by what its absence said), and may be deleted at any
time. `PYSTACK_NO_CACHE=1`
turns it off.
"""
from __future__ import annotations

import marshal
import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Dict, List, Optional, Tuple

    Frames = List[Tuple[str, str, int, int, bool]]

#: Bumped when what a file holds changes meaning.
FORMAT = 1
#: Offsets kept per binary: a file stays a few hundred KB at most.
MAX_ENTRIES = 20000


def cache_dir() -> Optional[str]:
    if os.environ.get("PYSTACK_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, or relative: ignored, as the XDG spec says
        base = os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    return os.path.join(base, "pystack", "frames")


class FrameCache:
    """The cached frames and symbols of the binaries one session meets, by build id."""

    def __init__(self, directory: Optional[str] = None) -> None:
        self._dir = directory if directory is not None else cache_dir()
        # build id -> {"frames": {offset: frames}, "symbols": {offset: name}}
        self._loaded: Dict[str, dict] = {}
        self._changed: set = set()

    def _path(self, build_id: str) -> str:
        return os.path.join(self._dir, f"{build_id}.{FORMAT}.{marshal.version}.marshal")

    def _entries(self, build_id: str) -> dict:
        entries = self._loaded.get(build_id)
        if entries is None:
            entries = self._read(build_id)
            self._loaded[build_id] = entries
        return entries

    def _read(self, build_id: str) -> dict:
        empty: dict = {"frames": {}, "symbols": {}}
        if self._dir is None:
            return empty
        try:
            with open(self._path(build_id), "rb") as f:
                stored = marshal.load(f)
        except (OSError, EOFError, ValueError, TypeError):
            return empty
        if not isinstance(stored, dict) or stored.get("build_id") != build_id or \
                stored.get("format") != FORMAT or \
                not isinstance(stored.get("frames"), dict) or \
                not isinstance(stored.get("symbols"), dict):
            return empty  # someone else's file, or a damaged one: never trusted
        return {"frames": stored["frames"], "symbols": stored["symbols"]}

    def _get(self, kind: str, build_id: Optional[str], offset: int):
        if not build_id or self._dir is None:
            return None
        return self._entries(build_id)[kind].get(offset)

    def _put(self, kind: str, build_id: Optional[str], offset: int, value) -> None:
        if not build_id or self._dir is None:
            return
        table = self._entries(build_id)[kind]
        if offset not in table and len(table) < MAX_ENTRIES:
            table[offset] = value
            self._changed.add(build_id)

    def frames(self, build_id: Optional[str], offset: int) -> Optional["Frames"]:
        """(name, file, line, column, inlined) of the functions at `offset`, inlined
        callees first, as DWARF named them; None if not cached."""
        found = self._get("frames", build_id, offset)
        return found if isinstance(found, list) else None

    def keep_frames(self, build_id: Optional[str], offset: int, frames: "Frames") -> None:
        self._put("frames", build_id, offset, frames)

    def symbol(self, build_id: Optional[str], offset: int) -> Optional[str]:
        found = self._get("symbols", build_id, offset)
        return found if isinstance(found, str) else None

    def keep_symbol(self, build_id: Optional[str], offset: int, name: str) -> None:
        self._put("symbols", build_id, offset, name)

    def save(self) -> None:
        """Write the files that gained entries (each whole, then renamed into place:
        a reader never sees half a file); any failure leaves things as they were."""
        if self._dir is None or not self._changed:
            return
        try:
            os.makedirs(self._dir, mode=0o700, exist_ok=True)
        except OSError:
            return
        for build_id in self._changed:
            path = self._path(build_id)
            temporary = f"{path}.{os.getpid()}.tmp"
            try:
                merged = self._read(build_id)  # another run may have added some
                for kind, table in self._loaded[build_id].items():
                    for offset, value in table.items():
                        if len(merged[kind]) >= MAX_ENTRIES:
                            break
                        merged[kind].setdefault(offset, value)
                with open(temporary, "wb") as f:
                    marshal.dump({"format": FORMAT, "build_id": build_id, **merged}, f)
                os.replace(temporary, path)
            except (OSError, ValueError):
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
        self._changed = set()
