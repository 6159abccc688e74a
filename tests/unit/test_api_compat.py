"""Bloomberg-style uses of the public API that must not crash: equality of the
returned objects, importing `pystack.__main__`, bad methods, paths as Path objects."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pystack.cpython.frames import RawFrame
from pystack.cpython.threads import link_frames
from pystack.engine import (StackMethod, get_process_threads, get_process_threads_for_core,
                            open_core)
from pystack.types import LocationInfo, PyCodeObject, PyThread

SRC = str(Path(__file__).resolve().parents[2] / "src")


def thread(tid: int, depth: int) -> PyThread:
    raw = [RawFrame(0x1000 + i, PyCodeObject("/a.py", f"f{i}", LocationInfo(i + 1, i + 1, 0, 0)),
                    i == depth - 1, False) for i in range(depth)]
    return PyThread(tid, link_frames(raw), [], 0, 0, (3, 12))


def test_threads_and_frames_compare_without_recursing():
    deep = thread(1, 5000)  # deeper than the recursion limit
    assert deep == deep and deep.frame == deep.frame
    same = thread(1, 5000)
    assert deep == same
    other = thread(2, 3)
    assert [t for t in (deep, other) if t != deep] == [other]
    frames = list(deep.frames)
    assert frames[0] != frames[1] and frames.index(frames[3]) == 3


def test_importing_main_runs_nothing():
    code = "import sys; sys.argv = ['x', 'remote', '1']; import pystack.__main__; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=SRC), timeout=60)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr


@pytest.mark.parametrize("method", [None, "AUTO", 0, 64, 1000, True, 1.5])
def test_bad_methods_are_refused_before_anything_is_touched(method, tmp_path):
    with pytest.raises(ValueError):
        get_process_threads(999999999, method=method)  # no such process: not reached
    with pytest.raises(ValueError):
        get_process_threads_for_core(str(tmp_path / "no-such-core"), method=method)


@pytest.mark.parametrize("method", [StackMethod.AUTO, StackMethod.ELF_DATA, 2, 63])
def test_good_methods_go_on(method):
    from pystack.errors import ProcessNotFound
    with pytest.raises(ProcessNotFound):
        get_process_threads(999999999, method=method)


def test_paths_may_be_path_objects(tmp_path):
    """Every path argument takes str or pathlib.Path (a directory or "a:b" text)."""
    from pystack.errors import EngineError
    for search in (tmp_path, str(tmp_path), f"{tmp_path}:{tmp_path}", [tmp_path]):
        with pytest.raises(EngineError) as error:  # the core is missing, not a TypeError
            open_core(tmp_path / "core", tmp_path / "python", search)
        assert "no such file" in str(error.value)


def test_status_reads_as_bloombergs():
    assert thread(1, 1).status == "[]"
    busy = PyThread(1, None, [], 1, 1, (3, 12))
    assert busy.status == "[Has the GIL,Garbage collecting]"
    assert PyThread(0, None, [], 0, 0, (3, 12)).status == "[Thread terminated]"
    unknown_gc = PyThread(1, None, [], 0, -1, (2, 7))
    assert unknown_gc.gc_status == "" and unknown_gc.status == "[]"


def test_names_scripts_import():
    import enum
    from pystack.errors import (DETECTED_EXECUTABLE_NOT_FOUND_TEXT, EngineError,
                                EXECUTABLE_NOT_FOUND_HELP_TEXT, INVALID_EXECUTABLE_HELP_TEXT,
                                MISSING_EXECUTABLE_MAPS_HELP_TEXT,
                                NOT_ENOUGH_INFORMATION_HELP_TEXT, CoreExecutableNotFound,
                                DetectedExecutableNotFound, InvalidExecutable,
                                MissingExecutableMaps, NotEnoughInformation)
    from pystack.types import SYMBOL_IGNORELIST, NativeFrame, frame_type
    assert issubclass(StackMethod, enum.Enum) and not issubclass(StackMethod, int)
    assert [(m.name, m.value) for m in StackMethod] == [
        ("ELF_DATA", 1), ("SYMBOLS", 2), ("BSS", 4), ("ANONYMOUS_MAPS", 8), ("HEAP", 16),
        ("DEBUG_OFFSETS", 32), ("AUTO", 55), ("ALL", 63)]
    assert [(t.name, t.value) for t in NativeFrame.FrameType] == [
        ("IGNORE", 0), ("EVAL", 1), ("OTHER", 3)]
    error = EngineError("gone", pid=42)
    assert (str(error), error.pid, error.corefile) == ("gone", 42, None)
    for cls, text in ((CoreExecutableNotFound, EXECUTABLE_NOT_FOUND_HELP_TEXT),
                      (DetectedExecutableNotFound, DETECTED_EXECUTABLE_NOT_FOUND_TEXT),
                      (NotEnoughInformation, NOT_ENOUGH_INFORMATION_HELP_TEXT),
                      (InvalidExecutable, INVALID_EXECUTABLE_HELP_TEXT),
                      (MissingExecutableMaps, MISSING_EXECUTABLE_MAPS_HELP_TEXT)):
        assert cls.HELP_TEXT is text and text.strip()
    assert "type_call" in SYMBOL_IGNORELIST

    def native(symbol):
        return NativeFrame(0, symbol, "???", 0, 0, "libpython3.12.so")
    kinds = {s: frame_type(native(s), (3, 12)).name for s in (
        "_PyEval_EvalFrameDefault", "_PyFunction_Vectorcall", "PyEval_EvalCode",
        "slot_tp_call", "time_sleep", "clock_nanosleep")}
    assert kinds == {"_PyEval_EvalFrameDefault": "EVAL", "_PyFunction_Vectorcall": "IGNORE",
                     "PyEval_EvalCode": "IGNORE", "slot_tp_call": "IGNORE",
                     "time_sleep": "OTHER", "clock_nanosleep": "OTHER"}
    assert frame_type(native("PyEval_EvalFrameEx"), (2, 7)).name == "EVAL"
    assert frame_type(native("PyEval_EvalFrameEx"), (3, 12)).name == "IGNORE"


def test_errors_derive_as_bloombergs():
    """The failures Bloomberg's names derive from PystackError alone: a script's
    `except EngineError` before `except InvalidPythonProcess` must not swallow it."""
    from pystack import errors
    for name in ("ProcessNotFound", "InvalidPythonProcess", "NotEnoughInformation",
                 "InvalidExecutable", "CoreExecutableNotFound", "DetectedExecutableNotFound",
                 "MissingExecutableMaps"):
        cls = getattr(errors, name)
        assert issubclass(cls, errors.PystackError) and not issubclass(cls, errors.EngineError)
    assert issubclass(errors.ProcessNotFound, ProcessLookupError)
    assert issubclass(errors.EngineError, errors.PystackError)
    # the failures only we tell apart are what Bloomberg's raises for them: EngineErrors
    for name in ("PermissionDenied", "AlreadyTraced", "ProcessExited", "ZombieProcess",
                 "MemoryReadError"):
        assert issubclass(getattr(errors, name), errors.EngineError)

    def handled(error):
        try:
            raise error
        except errors.EngineError:
            return "engine"
        except errors.InvalidPythonProcess:
            return "not python"
        except errors.PystackError:
            return "other"
    assert handled(errors.InvalidPythonProcess("no Python")) == "not python"
    assert handled(errors.NotInitialised("starting")) == "not python"
    assert handled(errors.NotEnoughInformation("missing", pid=3)) == "other"
    assert handled(errors.PermissionDenied("refused")) == "engine"
    assert errors.InvalidExecutable("x", corefile="core").corefile == "core"


def test_traceback_formatter_and_colors(tmp_path, capsys, monkeypatch):
    from pystack import colors
    from pystack.engine import NativeReportingMode
    from pystack.traceback_formatter import (TracebackPrinter, format_frame, format_thread,
                                             print_threads)
    source = tmp_path / "app.py"
    source.write_text("def f():\n    g(1)\n")
    raw = [RawFrame(0x1000, PyCodeObject(str(source), "f", LocationInfo(2, 2, 4, 8)),
                    True, False)]
    one = PyThread(7, link_frames(raw), [], 1, 0, (3, 12), name="w")
    lines = list(format_thread(one, NativeReportingMode.OFF))
    assert lines == ["Traceback for thread 7 (w) [Has the GIL] (most recent call last):",
                     f'    (Python) File "{source}", line 2, in f', "        g(1)", ""]
    assert list(format_frame(one.frame)) == lines[1:3]
    print_threads([one, one])
    assert capsys.readouterr().out == "\n".join(lines) + "\n" + "\n".join(lines) + "\n"
    printer = TracebackPrinter(NativeReportingMode.OFF, include_subinterpreters=True)
    one.interpreter_id = 0
    printer.print_thread(one)
    printer.print_thread(one)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Interpreter-0 (main)" and out.count("Interpreter-0 (main)") == 1
    assert out[1] == "  " + lines[0]
    assert colors.colored("x", "red") == "x"  # not a terminal
    assert colors.format_colored("x", "red", attrs=["bold"]) == "\033[31m\033[1mx\033[0m"
    assert colors.format_colored("\033[32mx", "red") == "\033[31mx\033[0m"


@pytest.mark.skipif(not os.path.exists("/root/.pyenv/versions/3.9.18/bin/python"),
                    reason="needs pyenv's 3.9 (a build without a .PyRuntime section)")
def test_a_method_that_cannot_find_a_mapped_python_is_not_enough_information():
    from pystack.errors import InvalidPythonProcess, NotEnoughInformation
    target = subprocess.Popen(["/root/.pyenv/versions/3.9.18/bin/python", "-c",
                               "import time; print(1, flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        target.stdout.readline()
        with pytest.raises(NotEnoughInformation, match="ELF_DATA"):
            get_process_threads(target.pid, method=StackMethod.ELF_DATA)
        assert get_process_threads(target.pid, method=StackMethod.SYMBOLS)
        with pytest.raises(InvalidPythonProcess):  # no Python mapped at all
            get_process_threads(sleeper.pid, method=StackMethod.ELF_DATA)
    finally:
        target.kill()
        sleeper.kill()
        target.wait()
        sleeper.wait()
