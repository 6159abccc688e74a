"""Source lines as the target's own traceback would show them.

Files open from the target's filesystem (`/proc/PID/root` live, `--lib-search-root`
for cores), decoded as the interpreter decoded them (a PEP 263 coding cookie, a UTF-8
BOM), relative names resolved against the target's working directory (live only: a
core does not record it, and a guess could show another file's line), modules
imported from a zip archive (zipimport, `.pyz`) read from the archive. A file changed
after the process started shows no line at all: what is there now may not be the
code that runs, and must not be printed as if it were.
"""
from __future__ import annotations

import os
import stat

from .. import log

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Callable, Optional

MAX_SOURCE_BYTES = 16 << 20
#: How far apart the process's start (known to 10 ms) and a file's mtime may be
#: and still count as the same moment.
CLOCK_SLACK = 0.05
_BOM = b"\xef\xbb\xbf"


class SourceLines:
    """Reads source files of one target, once each.

    `opener(path)`: where a path the target names opens from here. `cwd`: where the
    target's working directory opens from here (live targets), for relative names.
    `not_after`: a time (seconds since the epoch) after which a file must not have
    changed for its lines to be trusted (the process's start, or the core's time).
    """

    def __init__(self, opener: Callable[[str], str], *, cwd: Optional[str] = None,
                 not_after: Optional[float] = None) -> None:
        self._host_path = opener
        self._cwd = cwd
        self._not_after = not_after
        self._files: dict[str, Optional[list[str]]] = {}

    def line(self, filename: str, lineno: int) -> Optional[str]:
        lines = self._files.get(filename, False)
        if lines is False:
            lines = self._files[filename] = self._load(filename)
        if not lines or not 0 < lineno <= len(lines):
            return None
        return lines[lineno - 1]

    def raw_line(self, filename: str, lineno: int) -> Optional[bytes]:
        """The line as UTF-8, which the interpreter's column offsets count in."""
        text = self.line(filename, lineno)
        return text.encode("utf-8", "surrogateescape") if text is not None else None

    # -- finding and reading ---------------------------------------------------------
    def _load(self, filename: str) -> Optional[list[str]]:
        if not filename or "\0" in filename:
            return None
        if filename.startswith("/"):
            path = self._host_path(filename)
        elif self._cwd is not None and not filename.startswith("<"):
            path = os.path.join(self._cwd, filename)
        else:
            return None  # "<string>", or a relative name where no cwd is known
        data = self._read(path, filename)
        if data is None:
            data = self._read_from_zip(path, filename)
        if data is None:
            return None
        return decoded(data).splitlines()

    def _read(self, path: str, filename: str) -> Optional[bytes]:
        """A regular file's bytes, opened without blocking (a core may name a FIFO or
        a device as a source file), or None."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, ValueError):
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or not self._trusted(info, filename):
                return None
            with os.fdopen(fd, "rb", closefd=False) as f:
                return f.read(MAX_SOURCE_BYTES)
        except OSError:
            return None
        finally:
            os.close(fd)

    def _trusted(self, info: os.stat_result, filename: str) -> bool:
        if self._not_after is not None and info.st_mtime > self._not_after + CLOCK_SLACK:
            log.warning("%s changed after the process started: its lines are not shown",
                        filename)
            return False
        return True

    def _read_from_zip(self, path: str, filename: str) -> Optional[bytes]:
        """`/app/bundle.pyz/pkg/mod.py`: the archive is the longest existing prefix
        that is a regular file; the rest names the member."""
        head, tail = path, ""
        while head not in ("", "/"):
            head, name = os.path.split(head)
            tail = name if not tail else name + "/" + tail
            try:
                info = os.stat(head)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                return None
            if not self._trusted(info, filename):
                return None
            import zipfile  # only for sources in archives
            try:
                with zipfile.ZipFile(head) as archive:
                    with archive.open(tail) as member:
                        return member.read(MAX_SOURCE_BYTES)
            except (OSError, KeyError, ValueError, zipfile.BadZipFile):
                return None
        return None


def decoded(data: bytes) -> str:
    """Source bytes as the interpreter decoded them: a UTF-8 BOM, else a coding
    cookie on one of the first two lines (PEP 263), else UTF-8. Undecodable bytes
    become U+FFFD."""
    if data.startswith(_BOM):
        return data[len(_BOM):].decode("utf-8", "replace")
    encoding = coding_cookie(data)
    if encoding:
        import codecs
        try:
            codecs.lookup(encoding)
        except LookupError:
            encoding = None
    return data.decode(encoding or "utf-8", "replace")


def coding_cookie(data: bytes) -> Optional[str]:
    """The encoding a `# -*- coding: NAME -*-` comment names on line 1 or 2 (line 2
    only after a line that is blank or a comment, as the tokenizer reads them)."""
    for number, line in enumerate(data.split(b"\n", 2)[:2]):
        text = line.lstrip(b" \t\f")
        if not text.startswith(b"#"):
            if number == 0 and not text.strip():
                continue  # an empty first line: the cookie may follow
            return None
        for marker in (b"coding:", b"coding="):
            at = text.find(marker)
            if at >= 0:
                rest = text[at + len(marker):].lstrip(b" \t")
                name = bytearray()
                for byte in rest:
                    if chr(byte).isalnum() or byte in b"-_.":
                        name.append(byte)
                    else:
                        break
                return name.decode("ascii") if name else None
    return None
