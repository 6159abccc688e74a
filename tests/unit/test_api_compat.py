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
