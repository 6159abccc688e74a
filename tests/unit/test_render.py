"""The text renderer: the seed's format, colours only when asked, source from the root."""
from __future__ import annotations

import io

from pystack.cpython.threads import link_frames
from pystack.cpython.frames import RawFrame
from pystack.render.text import SourceLines, TextRenderer, use_color
from pystack.types import LocationInfo, PyCodeObject, PyThread


def make_thread(frames, **kw) -> PyThread:
    raw = [RawFrame(0x1000 + i, code, True, False) for i, code in enumerate(reversed(frames))]
    defaults = dict(tid=42, frame=link_frames(raw), native_frames=[], holds_the_gil=0,
                    is_gc_collecting=0, python_version=(3, 11))
    defaults.update(kw)
    return PyThread(**defaults)


def code(filename, line, scope, col=0, end=0):
    return PyCodeObject(filename, scope, LocationInfo(line, line, col, end))


def sources_for(tmp_path, text):
    path = tmp_path / "app.py"
    path.write_text(text)
    return SourceLines(lambda p: str(tmp_path / p.lstrip("/"))), "/app.py"


def test_thread_header_frames_and_source(tmp_path):
    sources, name = sources_for(tmp_path, "def f():\n    g(1)\n\nf()\n")
    thread = make_thread([code(name, 4, "<module>"), code(name, 2, "f")],
                         name="worker", holds_the_gil=1)
    lines = list(TextRenderer(sources).thread(thread))
    assert lines == [
        "Traceback for thread 42 (worker) [Has the GIL] (most recent call last):",
        '    (Python) File "/app.py", line 4, in <module>',
        "        f()",
        '    (Python) File "/app.py", line 2, in f',
        "        g(1)",
    ]


def test_status_brackets_are_always_printed_and_list_every_status(tmp_path):
    sources, name = sources_for(tmp_path, "x\n")
    idle = make_thread([code(name, 1, "<module>")])
    assert next(TextRenderer(sources).thread(idle)).endswith(" [] (most recent call last):")
    busy = make_thread([code(name, 1, "<module>")], holds_the_gil=1, is_gc_collecting=1)
    assert "[Has the GIL,Garbage collecting]" in next(TextRenderer(sources).thread(busy))


def test_empty_thread_and_missing_source(tmp_path):
    sources = SourceLines(lambda p: str(tmp_path / "nowhere" / p.lstrip("/")))
    empty = make_thread([])
    assert list(TextRenderer(sources).thread(empty)) == [
        "The frame stack for thread 42 is empty"]
    only = make_thread([code("/gone.py", 3, "f")])
    assert list(TextRenderer(sources).thread(only))[1:] == [
        '    (Python) File "/gone.py", line 3, in f']


def test_corrupted_frame_marker(tmp_path):
    sources, name = sources_for(tmp_path, "x\n")
    # innermost first, as the walker lists them: the chain broke past the first frame
    raw = [RawFrame(0x1000, code(name, 1, "f"), True, False),
           RawFrame(0xdead0, None, False, False, corrupted=True)]
    thread = PyThread(42, link_frames(raw), [], 0, 0, (3, 11))
    lines = list(TextRenderer(sources).thread(thread))
    assert lines[1] == "    (corrupted frame at 0xdead0)"


def test_colour_highlights_the_executing_columns(tmp_path):
    sources, name = sources_for(tmp_path, "def f():\n    x = g(1) + 2\n")
    # columns are UTF-8 byte offsets into the line: "g(1)" spans 8..12
    thread = make_thread([code(name, 2, "f", col=8, end=12)])
    lines = list(TextRenderer(sources, color=True).thread(thread))
    src = lines[-1]
    assert "\033[" in src
    plain = src.replace("\033[1m", "").replace("\033[31m", "").replace("\033[0m", "")
    assert plain == "        x = g(1) + 2"
    assert "\033[1m\033[31mg(1)\033[0m" in src
    no_color = list(TextRenderer(sources, color=False).thread(thread))
    assert all("\033[" not in line for line in no_color)


def test_use_color_only_on_terminals_and_without_no_color(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty(), True)
    assert not use_color(io.StringIO(), True)
    assert not use_color(Tty(), False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Tty(), True)


def test_native_symbols_print_without_their_version(tmp_path):
    """`clock_nanosleep@GLIBC_2.2.5` prints as gdb prints it: `clock_nanosleep`."""
    from pystack.types import NativeFrame
    sources, name = sources_for(tmp_path, "x\n")
    frames = [NativeFrame(0x10, "clock_nanosleep@GLIBC_2.2.5", "clock.c", 48, 0, "libc.so.6"),
              NativeFrame(0x20, "memcpy@@GLIBC_2.14", "???", 0, 0, "libc.so.6"),
              NativeFrame(0x30, "std::cout@GLIBCXX_3.4", "???", 0, 0, "libstdc++.so.6"),
              NativeFrame(0x40, "@weird", "???", 0, 0, "x.so")]
    renderer = TextRenderer(sources, native="all")
    lines = [renderer.native_frame(f) for f in frames]
    assert [line.split(" in ", 1)[1] for line in lines] == [
        "clock_nanosleep (libc.so.6)", "memcpy (libc.so.6)", "std::cout (libstdc++.so.6)",
        "@weird (x.so)"]


def test_nameless_native_frames_print_their_library_and_offset(tmp_path):
    """A frame no symbol names (a stock distribution build) says where it is, as
    addr2line takes it; a named one does not, and nor does one whose file was unread."""
    from pystack.native.symbols import ResolvedFrame
    sources, name = sources_for(tmp_path, "x\n")
    frames = [ResolvedFrame(0x725b68, "???", "???", 0, 0, "python3.13", offset=0x725b68),
              ResolvedFrame(0x7f0000112f98, "???", "???", 0, 0, "libc.so.6", offset=0x112f98),
              ResolvedFrame(0x7f0000001000, "clock_nanosleep", "???", 0, 0, "libc.so.6",
                            offset=0x1000),
              ResolvedFrame(0x10, "???", "???", 0, 0, "???")]
    renderer = TextRenderer(sources, native="all")
    assert [renderer.native_frame(f) for f in frames] == [
        '    (C) File "???", line 0, in ??? at python3.13+0x725b68 (python3.13)',
        '    (C) File "???", line 0, in ??? at libc.so.6+0x112f98 (libc.so.6)',
        '    (C) File "???", line 0, in clock_nanosleep (libc.so.6)',
        '    (C) File "???", line 0, in ??? (???)']


def test_colours_are_reset_before_every_line_break(tmp_path):
    from pystack.colors import format_colored
    assert format_colored("one\n  two\n", "red") == "\033[31mone\033[0m\n\033[31m  two\033[0m\n"
    assert format_colored("x", "red") == "\033[31mx\033[0m"
    sources, name = sources_for(tmp_path, "x\n")
    renderer = TextRenderer(sources, color=True)
    assert renderer._c("\033[1m", "a\nb") == "\033[1ma\033[0m\n\033[1mb\033[0m"
    thread = make_thread([code(name, 1, "f")])
    for line in renderer.thread(thread):
        assert "\n" not in line and (line.endswith("\033[0m") or "\033[" not in line[-8:])


def test_frames_variables_corruption_and_native_frames_exactly_in_colour(tmp_path):
    """Every piece of a frame's lines, colours included: the header, the executing
    range highlighted, argument and local sections, both corruption markers, and
    native frames (inlined, and one without a line number)."""
    from pystack.native.symbols import ResolvedFrame
    from pystack.types import PyFrame
    sources, name = sources_for(tmp_path, "def f(a):\n    x = g(a)  # call\n")
    renderer = TextRenderer(sources, color=True, native="all")
    frame = PyFrame(prev=None, next=None, code=code(name, 2, "f", 8, 12),
                    arguments={"a": "1"}, locals={"x": "'s'"}, is_entry=True)
    frame.corrupted_at = 0xDEAD0  # the walk stopped below this frame
    unreadable = PyFrame(prev=None, next=None, code=None, arguments={}, locals={},
                         is_entry=False)
    unreadable.corrupted_at = 0xBEEF
    unknown = PyFrame(prev=None, next=None, code=None, arguments={}, locals={},
                      is_entry=False)
    e = "\x1b["
    assert list(renderer.frame(frame)) + list(renderer.frame(unreadable)) + \
        list(renderer.frame(unknown)) == [
            f'    {e}35m(Python){e}0m File {e}32m"/app.py"{e}0m, line {e}36m2{e}0m, '
            f'in {e}33mf{e}0m',
            f"        x = {e}1m{e}31mg(a){e}0m  # call",
            f"      {e}1mArguments:{e}0m",
            f"        {e}36ma{e}0m: 1",
            f"      {e}1mLocals:{e}0m",
            f"        {e}36mx{e}0m: 's'",
            f"    {e}31m(corrupted frame at 0xdead0){e}0m",
            f"    {e}31m(corrupted frame at 0xbeef){e}0m",
            f"    {e}31m(corrupted frame at 0x0){e}0m"]
    inlined = ResolvedFrame(0x10, "pysleep", "Modules/timemodule.c", 2182, 9,
                            "libpython3.12.so", inlined=True)
    lineless = ResolvedFrame(0x10, "time_sleep", "Modules/timemodule.c", None, 0,
                             "libpython3.12.so")
    assert [renderer.native_frame(f) for f in (inlined, lineless)] == [
        f'    {e}34m(C){e}0m File {e}32m"Modules/timemodule.c"{e}0m, line {e}36m2182{e}0m, '
        f"in {e}33mpysleep{e}0m (inlined) (libpython3.12.so)",
        f'    {e}34m(C){e}0m File {e}32m"Modules/timemodule.c"{e}0m, line {e}36m0{e}0m, '
        f"in {e}33mtime_sleep{e}0m (libpython3.12.so)"]


def _coloured(tmp_path):
    sources, name = sources_for(tmp_path, "def f():\n    g()\n\nf()\n")
    return TextRenderer(sources, color=True, native="all"), sources, name


def test_an_os_thread_in_several_interpreters_has_a_section_each(tmp_path):
    renderer, sources, name = _coloured(tmp_path)
    e = "\x1b["
    main = make_thread([code(name, 4, "<module>")], name="MainThread", interpreter_id=0,
                       in_main_interpreter=True)
    sub = make_thread([code(name, 2, "f")], interpreter_id=3, in_main_interpreter=False,
                      holds_the_gil=1)
    idle = make_thread([], interpreter_id=4, in_main_interpreter=False)
    module_line = [f'    {e}35m(Python){e}0m File {e}32m"/app.py"{e}0m, line {e}36m4{e}0m, '
                   f"in {e}33m<module>{e}0m", "        f()"]
    f_line = [f'    {e}35m(Python){e}0m File {e}32m"/app.py"{e}0m, line {e}36m2{e}0m, '
              f"in {e}33mf{e}0m", "        g()"]
    # the header's status is the innermost section's (where the thread runs now);
    # an interpreter with nothing running in it has no section
    assert list(renderer.os_thread([main, idle, sub])) == [
        f"{e}1mTraceback for thread 42 (MainThread) [Has the GIL] "
        f"(most recent call last):{e}0m",
        f"  {e}1mIn the main interpreter:{e}0m", *module_line,
        f"  {e}1mIn interpreter 3 [Has the GIL]:{e}0m", *f_line]
    assert list(renderer.os_thread([sub], labelled=True)) == [
        f"{e}1mTraceback for thread 42 [Has the GIL] (most recent call last):{e}0m",
        f"  {e}1mIn interpreter 3 [Has the GIL]:{e}0m", *f_line]
    assert list(renderer.os_thread([idle, idle])) == ["The frame stack for thread 42 is empty"]
    assert list(TextRenderer(sources).os_thread([main])) == [
        "Traceback for thread 42 (MainThread) [] (most recent call last):",
        '    (Python) File "/app.py", line 4, in <module>', "        f()"]


def test_a_body_merges_native_frames_or_says_why_not(tmp_path):
    from pystack.native.symbols import ResolvedFrame
    renderer, _, name = _coloured(tmp_path)
    e = "\x1b["
    python = [f'    {e}35m(Python){e}0m File {e}32m"/app.py"{e}0m, line {e}36m4{e}0m, '
              f"in {e}33m<module>{e}0m", "        f()",
              f'    {e}35m(Python){e}0m File {e}32m"/app.py"{e}0m, line {e}36m2{e}0m, '
              f"in {e}33mf{e}0m", "        g()"]
    thread = make_thread([code(name, 4, "<module>"), code(name, 2, "f")])
    evaluation = ResolvedFrame(0x2, "_PyEval_EvalFrameDefault", "???", 0, 0, "python3")
    thread.native_frames = [ResolvedFrame(0x1, "main", "m.c", 3, 0, "python3"),
                            evaluation, evaluation,
                            ResolvedFrame(0x3, "clock_nanosleep", "???", 0, 0, "libc.so.6")]
    assert renderer.body(thread) == [
        f'    {e}34m(C){e}0m File {e}32m"m.c"{e}0m, line {e}36m3{e}0m, in {e}33mmain{e}0m '
        "(python3)", *python,
        f'    {e}34m(C){e}0m File {e}32m"???"{e}0m, line {e}36m0{e}0m, '
        f"in {e}33mclock_nanosleep{e}0m (libc.so.6)"]
    thread.native_frames = thread.native_frames[:2]  # one eval-loop call for two groups
    assert renderer.body(thread) == [
        f"    {e}31m(native frames not shown: 1 eval-loop call in the native stack for 2 "
        f"groups of Python frames){e}0m", *python]
    assert TextRenderer(renderer.sources, color=True).body(thread) == python  # not asked
    assert renderer.body(make_thread([])) is None


def test_the_executing_range_is_highlighted_exactly(tmp_path):
    from pystack.types import LocationInfo, PyCodeObject, PyFrame
    sources, name = sources_for(tmp_path, "x = g(a)\n    y = [\n")
    renderer = TextRenderer(sources, color=True)
    hot, cold = "\x1b[1m\x1b[31m", "\x1b[0m"

    def line(lineno, end_lineno, column, end_column):
        frame = PyFrame(prev=None, next=None, is_entry=True, arguments={}, locals={},
                        code=PyCodeObject(name, "f", LocationInfo(lineno, end_lineno, column,
                                                                  end_column)))
        return list(renderer.frame(frame))[1]

    assert line(1, 1, 0, 1) == f"        {hot}x{cold} = g(a)"  # from column 0
    assert line(1, 1, 4, 8) == f"        x = {hot}g(a){cold}"  # up to the line's end
    assert line(2, 3, 8, 9) == f"        y = {hot}[{cold}"  # on to a later line: to the end
    assert line(2, 2, 8, 8) == f"        y = {hot}[{cold}"  # no width given: to the end
    assert line(2, 3, 9, 12) == "        y = ["  # starts past the end: nothing marked
    assert line(1, 1, 0, 0) == "        x = g(a)"  # no columns at all
    assert line(1, 1, 2, 40) == f"        x {hot}= g(a){cold}"  # past the end: to the end


def test_native_frames_are_shown_only_when_asked_for(tmp_path):
    from pystack.native.symbols import ResolvedFrame
    sources, name = sources_for(tmp_path, "def f():\n    g()\n")
    thread = make_thread([code(name, 2, "f")])
    thread.native_frames = [ResolvedFrame(0x2, "_PyEval_EvalFrameDefault", "???", 0, 0, "p"),
                            ResolvedFrame(0x3, "clock_nanosleep", "???", 0, 0, "libc.so.6")]
    assert not any("(C)" in line for line in TextRenderer(sources).thread(thread))
    assert any("clock_nanosleep" in line
               for line in TextRenderer(sources, native="all").thread(thread))


def test_a_contained_thread_names_its_own_tid_too(tmp_path):
    sources, name = sources_for(tmp_path, "def f():\n    g()\n")
    named = make_thread([code(name, 2, "f")], tid=9347, name="worker", tid_in_namespace=2)
    unnamed = make_thread([code(name, 2, "f")], tid=9348, tid_in_namespace=3)
    renderer = TextRenderer(sources)
    assert next(renderer.thread(named)) == \
        "Traceback for thread 9347 (worker; tid 2 in its namespace) [] (most recent call last):"
    assert next(renderer.thread(unnamed)) == \
        "Traceback for thread 9348 (tid 3 in its namespace) [] (most recent call last):"
    assert list(renderer.os_thread([named, unnamed]))[0] == \
        "Traceback for thread 9347 (worker; tid 2 in its namespace) [] (most recent call last):"


def test_a_stream_without_isatty_gets_no_colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert not use_color(object(), True)
