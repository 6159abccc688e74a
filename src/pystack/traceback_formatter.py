"""Text of threads and frames for scripts written against Bloomberg's
`pystack.traceback_formatter`: the same functions, our renderer behind them.

Source lines are read from this machine's filesystem (a script that wants a live
target's own root passes it to `pystack.render.text.SourceLines` itself).
"""
from __future__ import annotations

import sys

from .render.stack import native_mode_name
from .render.text import SourceLines, TextRenderer, use_color
from .types import NativeReportingMode, PyFrame, PyThread

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Iterable, Iterator, Optional


def _renderer(native_mode: NativeReportingMode = NativeReportingMode.OFF) -> TextRenderer:
    return TextRenderer(SourceLines(lambda path: path), color=use_color(sys.stdout, True),
                        native=native_mode_name(native_mode))


def format_frame(frame: PyFrame) -> Iterator[str]:
    """The lines of one Python frame: where, the source line, its values."""
    yield from _renderer().frame(frame)


def format_thread(thread: PyThread, native_mode: NativeReportingMode) -> Iterator[str]:
    """The lines of one thread, then an empty line, as Bloomberg's yields them."""
    yield from _renderer(native_mode).thread(thread)
    yield ""


def print_thread(thread: PyThread, native_mode: NativeReportingMode) -> None:
    for line in format_thread(thread, native_mode):
        print(line, flush=True)


def print_threads(threads: Iterable[PyThread],
                  native_mode: NativeReportingMode = NativeReportingMode.OFF) -> None:
    printer = TracebackPrinter(native_mode)
    for thread in threads:
        printer.print_thread(thread)


class TracebackPrinter:
    """Prints threads one after the other; with `include_subinterpreters`, a header
    line each time the interpreter changes and the threads indented under it."""

    def __init__(self, native_mode: NativeReportingMode,
                 include_subinterpreters: bool = False) -> None:
        self.native_mode = native_mode
        self.include_subinterpreters = include_subinterpreters
        self._interpreter: Optional[int] = -1

    def print_thread(self, thread: PyThread) -> None:
        indent = ""
        if self.include_subinterpreters:
            indent = "  "
            if thread.interpreter_id != self._interpreter:
                self._interpreter = thread.interpreter_id
                known = thread.interpreter_id is not None
                print(f"Interpreter-{thread.interpreter_id if known else 'Unknown'}"
                      + (" (main)" if thread.interpreter_id == 0 else ""), flush=True)
        for line in format_thread(thread, self.native_mode):
            print(indent + line, flush=True)
