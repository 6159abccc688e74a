"""The seed's text format: one traceback per thread, colours only when asked.

Source lines come from the target's own filesystem root (`/proc/PID/root` for a live
process), never the host's: a process in a container must show its own files.
"""
from __future__ import annotations

import os

from ..colors import RESET, painted
from ..types import PyFrame, PyThread
from .sources import SourceLines  # noqa: F401 - where scripts import it from
from .stack import shown_stack

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Iterator, Optional

BOLD = "\033[1m"
RED = "\033[31m"
GREEN = "\033[32m"
YELLOW = "\033[33m"
BLUE = "\033[34m"
MAGENTA = "\033[35m"
CYAN = "\033[36m"


class TextRenderer:
    def __init__(self, sources: SourceLines, *, color: bool = False,
                 native: str = "off") -> None:
        """`native`: "off", "all" (merged stacks) or "last" (native frames only below
        the last Python frame)."""
        self.sources = sources
        self.color = color
        self.native = native

    def _c(self, code: str, text: str) -> str:
        return painted(code, text) if self.color else text

    def thread(self, thread: PyThread) -> Iterator[str]:
        body = self.body(thread)
        if body is None:
            yield self.empty_line(describe_thread(thread))
            return
        yield self.header(describe_thread(thread), thread.status)
        yield from body

    def os_thread(self, threads: list[PyThread], labelled: bool = False) -> Iterator[str]:
        """One OS thread: its thread states (one per interpreter it entered, outermost
        first) as sections of one traceback. `labelled`: the process has several
        interpreters, so every section says which one it runs in, even alone."""
        if len(threads) == 1 and not labelled:
            yield from self.thread(threads[0])
            return
        body = self.os_thread_body(threads)
        if body is None:
            yield self.empty_line(describe_os_thread(threads))
            return
        yield self.header(describe_os_thread(threads), threads[-1].status)
        yield from body

    def os_thread_body(self, threads: list[PyThread]) -> Optional[list[str]]:
        """The sections of an OS thread's traceback; None when no section has frames.
        A thread state with nothing to show (it called nothing still running) has
        no section."""
        lines: list[str] = []
        for thread in threads:
            body = self.body(thread)
            if body is None:
                continue
            status = thread.status
            label = interpreter_label(thread) + ("" if status == "[]" else " " + status)
            lines.append("  " + self._c(BOLD, label + ":"))
            lines.extend(body)
        return lines or None

    def empty_line(self, who: str) -> str:
        return f"The frame stack for {who} is empty"

    def header(self, who: str, status: str) -> str:
        """`who`: "thread 42 (worker)", or a group of threads (`--group`); `status` is
        `PyThread.status`, brackets included."""
        return self._c(BOLD, f"Traceback for {who} {status} (most recent call last):")

    def body(self, thread: PyThread) -> Optional[list[str]]:
        """The lines under a thread's header; None when it has no frame to show."""
        shown = shown_stack(thread, self.native)
        if not shown.frames:
            return None
        lines: list[str] = []
        if shown.notice:
            lines.append("    " + self._c(RED, f"({shown.notice})"))
        for frame in shown.frames:
            if isinstance(frame, PyFrame):
                lines.extend(self.frame(frame))
            else:
                lines.append(self.native_frame(frame))
        return lines

    def native_frame(self, frame) -> str:
        inlined = " (inlined)" if getattr(frame, "inlined", False) else ""
        line = frame.linenumber or 0
        offset = getattr(frame, "offset", None)
        # Nameless: where it is, as addr2line and objdump take it (library+0x...).
        where = (f" at {frame.library}+0x{offset:x}"
                 if frame.symbol == "???" and offset is not None else "")
        return ("    " + self._c(BLUE, "(C)") + " File " + self._c(GREEN, f'"{frame.path}"')
                + f", line {self._c(CYAN, str(line))}, in "
                + self._c(YELLOW, plain_symbol(frame.symbol)) + inlined + where
                + f" ({frame.library})")

    def frame(self, frame: PyFrame) -> Iterator[str]:
        if frame.code is None:
            yield "    " + self._c(RED, f"(corrupted frame at 0x{frame.corrupted_at or 0:x})")
            return
        code = frame.code
        loc = code.location
        yield ("    " + self._c(MAGENTA, "(Python)") + " File "
               + self._c(GREEN, f'"{code.filename}"') + ", line "
               + self._c(CYAN, str(loc.lineno)) + ", in " + self._c(YELLOW, code.display_name))
        source = self.sources.line(code.filename, loc.lineno)
        stripped = source.lstrip() if source is not None else ""
        indent = len(source) - len(stripped) if source is not None else 0
        if not stripped:
            yield from self._variables(frame)
            return
        yield "        " + self._highlight(code.filename, stripped, indent, loc)
        yield from self._variables(frame)
        if frame.corrupted_at:
            yield "    " + self._c(RED, f"(corrupted frame at 0x{frame.corrupted_at:x})")

    def _variables(self, frame: PyFrame) -> Iterator[str]:
        for title, values in (("Arguments", frame.arguments), ("Locals", frame.locals)):
            if values:
                yield "      " + self._c(BOLD, f"{title}:")
                for name, value in values.items():
                    yield f"        {self._c(CYAN, name)}: {value}"

    def _highlight(self, filename: str, text: str, indent: int, loc) -> str:
        """Mark the executing expression (3.11+ columns) when colours are on."""
        if not self.color or not (loc.column or loc.end_column):
            return text
        raw = self.sources.raw_line(filename, loc.lineno)
        if raw is None:
            return text
        start = len(raw[:loc.column].decode("utf-8", "replace")) - indent
        if loc.end_lineno == loc.lineno and loc.end_column > loc.column:
            end = len(raw[:loc.end_column].decode("utf-8", "replace")) - indent
        else:
            end = len(text)
        if not 0 <= start < end <= len(text):
            return text
        return text[:start] + BOLD + RED + text[start:end] + RESET + text[end:]


def plain_symbol(symbol: str) -> str:
    """`clock_nanosleep@GLIBC_2.2.5` -> `clock_nanosleep`: the name as gdb prints it
    (the symbol version stays in --json's `symbol`)."""
    name, at, _version = symbol.partition("@")
    return name if at and name else symbol


def process_line(dump) -> str:
    """`Process 4242: python3 worker.py (parent 4241)`, and why it was skipped if it was."""
    parent = f" (parent {dump.ppid})" if dump.ppid is not None else ""
    line = f"Process {dump.pid}: {dump.command or '?'}{parent}"
    return line + (f": skipped, {dump.skipped}" if dump.skipped else "")


def describe_thread(thread: PyThread) -> str:
    """`thread 42 (worker)`; a thread in a container (its own PID namespace) adds the
    tid it has there: `thread 9347 (worker; tid 2 in its namespace)`."""
    return _described(thread.tid, thread.name, thread.tid_in_namespace)


def _described(tid: int, name: Optional[str], tid_in_namespace: Optional[int]) -> str:
    words = [name] if name else []
    if tid_in_namespace is not None:
        words.append(f"tid {tid_in_namespace} in its namespace")
    return f"thread {tid}" + (f" ({'; '.join(words)})" if words else "")


def describe_os_thread(threads: list[PyThread]) -> str:
    """`thread 42 (worker)`: named by the outermost interpreter that names it (a
    subinterpreter's `threading` calls every thread that enters it MainThread)."""
    name = next((t.name for t in threads if t.name), None)
    return _described(threads[0].tid, name, threads[0].tid_in_namespace)


def interpreter_label(thread: PyThread) -> str:
    if thread.in_main_interpreter or (thread.in_main_interpreter is None
                                      and thread.interpreter_id == 0):
        return "In the main interpreter"
    if thread.interpreter_id is None:
        return "In a subinterpreter"
    return f"In interpreter {thread.interpreter_id}"


def use_color(stream, requested: bool) -> bool:
    """Colours only on a terminal, never with --no-color or NO_COLOR set."""
    if not requested or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
