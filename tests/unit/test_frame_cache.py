"""The frame cache: what DWARF said per build id, kept between runs."""
from __future__ import annotations

import marshal
import os

from pystack.native import cache
from pystack.native.cache import FrameCache

BUILD_ID = "ab" * 20
FRAMES = [("pysleep", "./Modules/timemodule.c", 2182, 9, True),
          ("time_sleep", "./Modules/timemodule.c", 425, 5, False)]


def test_what_is_kept_is_found_by_the_next_run(tmp_path):
    first = FrameCache(str(tmp_path))
    assert first.frames(BUILD_ID, 0x1234) is None
    first.keep_frames(BUILD_ID, 0x1234, FRAMES)
    first.keep_symbol(BUILD_ID, 0x1234, "time_sleep")
    assert first.frames(BUILD_ID, 0x1234) == FRAMES  # at once, in the same run
    first.save()
    files = os.listdir(tmp_path)
    assert files == [f"{BUILD_ID}.{cache.FORMAT}.{marshal.version}.marshal"]
    second = FrameCache(str(tmp_path))
    assert second.frames(BUILD_ID, 0x1234) == FRAMES
    assert second.symbol(BUILD_ID, 0x1234) == "time_sleep"
    assert second.frames(BUILD_ID, 0x1235) is None
    assert second.frames("cd" * 20, 0x1234) is None  # another binary: nothing
    assert second.frames(None, 0x1234) is None  # no build id: never cached


def test_runs_add_to_each_other(tmp_path):
    one, two = FrameCache(str(tmp_path)), FrameCache(str(tmp_path))
    one.keep_frames(BUILD_ID, 1, FRAMES)
    two.keep_frames(BUILD_ID, 2, FRAMES[1:])
    one.save()
    two.save()  # merges with what `one` wrote meanwhile
    third = FrameCache(str(tmp_path))
    assert third.frames(BUILD_ID, 1) == FRAMES and third.frames(BUILD_ID, 2) == FRAMES[1:]
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_a_file_is_trusted_only_for_the_build_id_it_names(tmp_path):
    path = tmp_path / f"{BUILD_ID}.{cache.FORMAT}.{marshal.version}.marshal"
    path.write_bytes(marshal.dumps({"format": cache.FORMAT, "build_id": "cd" * 20,
                                    "frames": {1: FRAMES}, "symbols": {}}))
    assert FrameCache(str(tmp_path)).frames(BUILD_ID, 1) is None  # renamed or copied
    for damaged in (b"", b"\x00garbage", marshal.dumps([1, 2]),
                    marshal.dumps({"format": cache.FORMAT + 1, "build_id": BUILD_ID,
                                   "frames": {1: FRAMES}, "symbols": {}}),
                    marshal.dumps({"format": cache.FORMAT, "build_id": BUILD_ID,
                                   "frames": [], "symbols": {}})):
        path.write_bytes(damaged)
        assert FrameCache(str(tmp_path)).frames(BUILD_ID, 1) is None
    path.write_bytes(marshal.dumps({"format": cache.FORMAT, "build_id": BUILD_ID,
                                    "frames": {1: "not a list"}, "symbols": {1: 7}}))
    assert FrameCache(str(tmp_path)).frames(BUILD_ID, 1) is None
    assert FrameCache(str(tmp_path)).symbol(BUILD_ID, 1) is None


def test_it_stays_bounded_and_quiet_when_it_cannot_write(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    bounded = FrameCache(str(tmp_path))
    for offset in range(10):
        bounded.keep_frames(BUILD_ID, offset, FRAMES)
    bounded.save()
    assert [FrameCache(str(tmp_path)).frames(BUILD_ID, o) is not None
            for o in range(5)] == [True, True, True, False, False]
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    unwritable = FrameCache(str(blocked / "frames"))  # its parent is a file
    unwritable.keep_frames(BUILD_ID, 1, FRAMES)
    unwritable.save()  # nothing raised, nothing written


def test_where_it_lives_and_how_to_turn_it_off(monkeypatch, tmp_path):
    monkeypatch.delenv("PYSTACK_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == str(tmp_path / "pystack" / "frames")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == str(tmp_path / "home" / ".cache" / "pystack" / "frames")
    monkeypatch.setenv("PYSTACK_NO_CACHE", "1")
    assert cache.cache_dir() is None
    off = FrameCache()
    off.keep_frames(BUILD_ID, 1, FRAMES)
    assert off.frames(BUILD_ID, 1) is None
    off.save()
