"""Diagnostics on stderr (`-v`), without importing `logging`.

`logging` costs about 10 ms of import (it pulls in threading, traceback, string,
weakref...), a sizeable part of a whole dump; these few functions are all we need.
Warnings are shown by default, `info` with `-v`, `debug` with `-vv`.
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Any, Optional, TextIO

DEBUG, INFO, WARNING = 10, 20, 30
_state = {"level": WARNING, "stream": None, "kept": None}
_LABELS = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING"}


def configure(verbosity: int, stream: Optional[TextIO] = None) -> None:
    _state["level"] = WARNING if verbosity <= 0 else INFO if verbosity == 1 else DEBUG
    _state["stream"] = stream


def keep_warnings(into: Optional[list]) -> None:
    """Also append the text of every warning to `into` (None: stop): `--json` puts
    them in its document, for tools that never see stderr."""
    _state["kept"] = into


def enabled(level: int) -> bool:
    return level >= _state["level"]


def _emit(level: int, message: str, args: tuple) -> None:
    if level < _state["level"]:  # never above WARNING: warnings always pass
        return
    text = message % args if args else message
    kept = _state["kept"]
    if level >= WARNING and kept is not None:
        kept.append(text)
    stream = _state["stream"] or sys.stderr
    stream.write(f"{_LABELS[level]}: {text}\n")
    stream.flush()


def debug(message: str, *args: Any) -> None:
    _emit(DEBUG, message, args)


def info(message: str, *args: Any) -> None:
    _emit(INFO, message, args)


def warning(message: str, *args: Any) -> None:
    _emit(WARNING, message, args)
