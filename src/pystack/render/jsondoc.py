"""`--json`: one JSON document for tools, built from the same model as the text.

The document's shape is README's "JSON output" section; `SCHEMA_VERSION` changes
only when a field changes meaning or goes away (new fields may appear at any time).
Keys come out in a fixed order, so the same dump gives the same bytes; numbers
(tids, lines, addresses) are JSON numbers; unknown facts are null, never a guess.

The document is made in pieces, one per thread, and written only when all of it is
made: a failure on the way leaves stdout empty rather than half a document, and the
text of a 10,000-thread dump is held once, never joined into a second copy.
"""
from __future__ import annotations

import json

from ..types import PyFrame, PyThread
from .stack import shown_stack

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Any, Iterable, List, Optional

    from ..types import ProcessDump
    from .text import SourceLines

SCHEMA_VERSION = 1

_encode = json.JSONEncoder(ensure_ascii=True, allow_nan=False).encode


def _members(pairs: Iterable[tuple[str, Any]]) -> str:
    """`"key": value, ...` in the order given: the inside of an object."""
    return ", ".join(f"{_encode(key)}: {_encode(value)}" for key, value in pairs)


def _known(value: int) -> Optional[bool]:
    """The engine's tri-state flags (1 yes, 0 no, -1 unknown) as JSON booleans."""
    return None if value < 0 else bool(value)


class JsonDocument:
    """Collects the pieces of one document; `write` puts them out."""

    def __init__(self, command: str, *, native: str = "off", locals: bool = False) -> None:
        self.command = command
        self.native = native
        self.locals = locals
        self.core: Optional[dict] = None
        self._processes: List[List[str]] = []

    # -- the model as JSON values --------------------------------------------------------
    def add_process(self, dump: ProcessDump, sources: SourceLines) -> None:
        """`sources`: where this process's source files are read (its own root)."""
        version = dump.python_version
        head = _members((
            ("pid", dump.pid),
            ("ppid", dump.ppid),
            ("command", dump.command),
            ("executable", dump.executable),
            ("python_version", ".".join(str(v) for v in version if v is not None)
             if version else None),
            ("skipped", dump.skipped),
        ))
        pieces = ["{" + head + ', "threads": [']
        for index, thread in enumerate(dump.threads):
            pieces.append(("\n" if index == 0 else ",\n")
                          + _encode(self.thread(thread, sources)))
        loops = [{"thread": tid, "pending_tasks": count} for tid, count in dump.event_loops]
        pieces.append('], "event_loops": ' + _encode(loops))
        if dump.tasks is not None:  # --tasks: null would say "none", they were not read
            pieces.append(', "tasks": [')
            for index, task in enumerate(dump.tasks):
                pieces.append(("\n" if index == 0 else ",\n")
                              + _encode(self.task(task, sources)))
            pieces.append("]")
        pieces.append("}")
        self._processes.append(pieces)

    def task(self, task, sources: SourceLines) -> dict:
        """An asyncio task (`--tasks`): ids are the task objects' addresses."""
        return {
            "id": task.id,
            "name": task.name,
            "state": task.state,
            "running": task.running,
            "thread": task.thread,
            "loop": task.loop,
            "implementation": task.implementation,
            "frames": [self.coroutine_frame(code, sources) for code in task.frames],
            "awaits": task.awaits,
            "awaited_by": list(task.awaited_by),
            "exception": task.exception,
        }

    @staticmethod
    def coroutine_frame(code, sources: SourceLines) -> dict:
        loc = code.location
        source = sources.line(code.filename, loc.lineno)
        return {"file": code.filename, "line": loc.lineno, "function": code.scope,
                "qualname": code.qualname,
                "code": (source.strip() or None) if source is not None else None}

    def thread(self, thread: PyThread, sources: SourceLines) -> dict:
        shown = shown_stack(thread, self.native)
        native_read = self.native != "off" and bool(thread.native_frames)
        gil = thread.gil_status
        return {
            "tid": thread.tid,
            "tid_in_namespace": thread.tid_in_namespace,
            "name": thread.name,
            "interpreter_id": thread.interpreter_id,
            "holds_gil": bool(thread.holds_the_gil > 0),
            # only native frames (take_gil, drop_gil) tell these
            "waiting_for_gil": gil == "Waiting for the GIL" if native_read else None,
            "dropping_gil": gil == "Dropping the GIL" if native_read else None,
            "gc_collecting": _known(thread.is_gc_collecting),
            "status": thread.status[1:-1],  # the words, without the brackets
            "frames": [self.python_frame(f, sources) if isinstance(f, PyFrame)
                       else self.native_frame(f) for f in shown.frames],
            "warnings": [shown.notice] if shown.notice else [],
        }

    def python_frame(self, frame: PyFrame, sources: SourceLines) -> dict:
        code = frame.code
        out: dict = {"kind": "python"}
        if code is None:  # the chain broke here: nothing of the frame can be trusted
            out.update(file=None, line=None, end_line=None, column=None, end_column=None,
                       function=None, qualname=None, code=None)
        else:
            loc = code.location
            # no columns at all (before 3.11, or none recorded) reads as 0..0
            columns = bool(loc.column or loc.end_column)
            source = sources.line(code.filename, loc.lineno)
            out.update(file=code.filename, line=loc.lineno, end_line=loc.end_lineno,
                       column=loc.column if columns else None,
                       end_column=loc.end_column if columns else None,
                       function=code.scope, qualname=code.qualname,
                       code=(source.strip() or None) if source is not None else None)
        out["is_entry"] = bool(frame.is_entry)
        if self.locals:
            out["arguments"] = dict(frame.arguments)
            out["locals"] = dict(frame.locals)
        out["corrupted"] = frame.corrupted_at is not None
        out["corrupted_at"] = frame.corrupted_at
        return out

    @staticmethod
    def native_frame(frame) -> dict:
        path = frame.path if frame.path and frame.path != "???" else None
        return {
            "kind": "native",
            "symbol": frame.symbol,
            "library": frame.library,
            "file": path,
            "line": frame.linenumber or 0,
            "column": frame.colnumber or 0,
            "address": frame.address,
            "inlined": bool(getattr(frame, "inlined", False)),
            "offset": getattr(frame, "offset", None),
        }

    # -- output ------------------------------------------------------------------------
    def write(self, out, warnings: Iterable[str] = ()) -> None:
        out.write("{" + _members((("version", SCHEMA_VERSION), ("command", self.command),
                                  ("core", self.core))) + ', "processes": [')
        for index, pieces in enumerate(self._processes):
            out.write("\n" if index == 0 else ",\n")
            for piece in pieces:
                out.write(piece)
        out.write("],\n" + _members((("warnings", list(warnings)),)) + "}\n")
        out.flush()
