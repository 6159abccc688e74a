"""--group: which threads share a block, and how a group's header names them."""
from __future__ import annotations

import re

from hypothesis import given, strategies as st

from integration.parse_output import expand_numbers
from pystack.cpython.frames import RawFrame
from pystack.cpython.threads import link_frames
from pystack.render.group import compress_names, compress_numbers, grouped_blocks
from pystack.render.text import SourceLines, TextRenderer
from pystack.types import LocationInfo, PyCodeObject, PyThread


def thread(tid, name, *lines, holds=0, variables=None):
    codes = [PyCodeObject("/app.py", f"f{i}", LocationInfo(line, line, 0, 0))
             for i, line in enumerate(lines)]
    raw = [RawFrame(0x1000 + i, c, False, False) for i, c in enumerate(reversed(codes))]
    found = {0x1000: variables} if variables else None
    return PyThread(tid=tid, frame=link_frames(raw, found), native_frames=[],
                    holds_the_gil=holds, is_gc_collecting=0, python_version=(3, 12), name=name)


def renderer(tmp_path):
    return TextRenderer(SourceLines(lambda p: str(tmp_path / p.lstrip("/"))))


def test_identical_stacks_print_once_largest_group_first(tmp_path):
    threads = [thread(100, "MainThread", 1, 2),
               *[thread(101 + i, f"worker-{i}", 5, 7) for i in range(4)],
               thread(110, "other", 5, 8),
               thread(111, "io-0", 9), thread(112, "io-1", 9)]
    blocks = list(grouped_blocks({0: renderer(tmp_path)}, [(t, 0) for t in threads]))
    headers = [b[0] for b in blocks]
    assert headers == [
        "Traceback for 4 threads (worker-0 .. worker-3), tids 101-104 [] "
        "(most recent call last):",
        "Traceback for 2 threads (io-0, io-1), tids 111, 112 [] (most recent call last):",
        "Traceback for thread 100 (MainThread) [] (most recent call last):",
        "Traceback for thread 110 (other) [] (most recent call last):",
    ]
    assert blocks[0][1:] == list(renderer(tmp_path).thread(threads[1]))[1:]
    assert sum(int(re.match(r"Traceback for (\d+) threads", h).group(1))
               if "threads" in h else 1 for h in headers) == len(threads)


def test_a_line_status_or_value_apart_is_another_group(tmp_path):
    threads = [thread(1, "a", 5, 7), thread(2, "b", 5, 7, holds=1), thread(3, "c", 5, 6),
               thread(4, "d", 5, 7, variables=({"x": "1"}, {})),
               thread(5, "e", 5, 7, variables=({"x": "2"}, {}))]
    blocks = list(grouped_blocks({0: renderer(tmp_path)}, [(t, 0) for t in threads]))
    assert len(blocks) == 5
    assert [b[0].split(" [")[0] for b in blocks] == [
        f"Traceback for thread {t.tid} ({t.name})" for t in threads]


def test_empty_stacks_are_grouped_too(tmp_path):
    threads = [thread(7, None), thread(8, None), thread(9, "x", 3)]
    blocks = list(grouped_blocks({0: renderer(tmp_path)}, [(t, 0) for t in threads]))
    assert blocks[0] == ["The frame stack for 2 threads, tids 7, 8 is empty"]
    assert blocks[1][0].startswith("Traceback for thread 9 (x)")


def test_compress_names():
    assert compress_names([f"t{i}" for i in range(64)]) == "t0 .. t63"
    assert compress_names(["ThreadPoolExecutor-0_2", "ThreadPoolExecutor-0_0",
                           "ThreadPoolExecutor-0_1"]) == \
        "ThreadPoolExecutor-0_0 .. ThreadPoolExecutor-0_2"
    assert compress_names(["w", "w", "w", "x1", "x2", "x4"]) == "w (3x), x1, x2, x4"
    assert compress_names(["a07", "a08", "a09"]) == "a07, a08, a09"  # zero-padded: as is
    assert compress_names(["Dummy-1", "Dummy-1"]) == "Dummy-1 (2x)"
    assert compress_names([]) == ""


def test_compress_numbers():
    assert compress_numbers([5, 3, 4, 1, 9, 10]) == "1, 3-5, 9, 10"
    assert compress_numbers([7]) == "7"


@given(st.sets(st.integers(min_value=1, max_value=4_000_000), max_size=60))
def test_every_tid_is_listed_once(tids):
    if not tids:
        return
    assert expand_numbers(compress_numbers(tids)) == sorted(tids)


def _expand_names(text: str) -> list[str]:
    out: list[str] = []
    for part in text.split(", "):
        repeat = re.fullmatch(r"(.*) \((\d+)x\)", part)
        ranged = re.fullmatch(r"(.*?)(\d+) \.\. (.*?)(\d+)", part)
        if repeat:
            out += [repeat.group(1)] * int(repeat.group(2))
        elif ranged:
            out += [f"{ranged.group(1)}{n}"
                    for n in range(int(ranged.group(2)), int(ranged.group(4)) + 1)]
        else:
            out.append(part)
    return out


@given(st.lists(st.builds(lambda stem, n: f"{stem}{n if n >= 0 else ''}",
                          st.sampled_from(["w", "pool-", "Thread-", "x_"]),
                          st.integers(min_value=-1, max_value=30)), max_size=40))
def test_every_name_is_listed_as_often_as_it_appears(names):
    assert sorted(_expand_names(compress_names(names)) if names else []) == sorted(names)


def test_workers_of_several_processes_and_of_subinterpreters(tmp_path):
    """Threads of two processes group together and the group names the processes
    (`--subprocesses --group`); a process with several interpreters labels every
    section, alone or grouped."""
    plain = [(thread(201, "w-0", 5, 7), 4242), (thread(301, "w-1", 5, 7), 4243),
             (thread(302, "w-2", 5, 7), 4243)]
    renderers = {4242: renderer(tmp_path), 4243: renderer(tmp_path), 4244: renderer(tmp_path)}
    headers = [b[0] for b in grouped_blocks(renderers, plain, name_processes=True)]
    assert headers == ["Traceback for 3 threads (w-0 .. w-2), pids 4242, 4243, "
                       "tids 201, 301, 302 [] (most recent call last):"]
    headers = [b[0] for b in grouped_blocks(renderers, plain)]
    assert headers == ["Traceback for 3 threads (w-0 .. w-2), tids 201, 301, 302 [] "
                       "(most recent call last):"]
    main, sub, alone = thread(401, "MainThread", 3), thread(402, "t", 5, 7), \
        thread(403, "u", 5, 7)
    main.interpreter_id, main.in_main_interpreter = 0, True
    for t in (sub, alone):
        t.interpreter_id, t.in_main_interpreter = 1, False
    blocks = list(grouped_blocks(renderers, [(main, 4244), (sub, 4244)]))
    assert [b[:2] for b in blocks] == [
        ["Traceback for thread 401 (MainThread) [] (most recent call last):",
         "  In the main interpreter:"],
        ["Traceback for thread 402 (t) [] (most recent call last):",
         "  In interpreter 1:"]]
    blocks = list(grouped_blocks(renderers, [(main, 4244), (sub, 4244), (alone, 4244)]))
    assert [b[:2] for b in blocks] == [
        ["Traceback for 2 threads (t, u), tids 402, 403 [] (most recent call last):",
         "  In interpreter 1:"],
        ["Traceback for thread 401 (MainThread) [] (most recent call last):",
         "  In the main interpreter:"]]


def test_names_ending_in_a_letter_before_their_number():
    assert compress_names(["workerX1", "workerX2", "workerX3"]) == "workerX1 .. workerX3"
