"""The merge of native and Python frames, on made-up stacks (in process: what the
mutation script mutates must be reached by fast tests)."""
from __future__ import annotations

from pystack.native.merge import (frames_holding, is_collecting, is_eval_frame,
                                  last_native_only, merge, mismatch_reason, python_groups,
                                  split_between_interpreters)
from pystack.native.symbols import RawNativeFrame
from pystack.types import LocationInfo, NativeFrame, PyCodeObject, PyFrame

PYLIB = "libpython3.12.so.1.0"


def native(symbol: str, library: str = PYLIB, inlined: bool = False) -> NativeFrame:
    frame = NativeFrame(address=0x1000, symbol=symbol, path="x.c", linenumber=1, colnumber=0,
                        library=library)
    frame.inlined = inlined
    return frame


def python(name: str, entry: bool = False) -> PyFrame:
    code = PyCodeObject("/app.py", name, LocationInfo(1, 1, 0, 0))
    return PyFrame(prev=None, next=None, code=code, arguments={}, locals={}, is_entry=entry)


def names(frames) -> list:
    return [f.code.scope if isinstance(f, PyFrame) else f.symbol for f in frames]


def test_each_eval_call_becomes_its_group_in_order_and_plumbing_hides():
    pythons = [python("main", entry=True), python("run"), python("key", entry=True),
               python("leaf", entry=True)]
    natives = [native("_start", "python3"), native("main", "python3"),
               native("_PyEval_EvalFrameDefault"), native("_PyObject_Vectorcall"),
               native("builtin_sorted"), native("_PyEval_EvalFrameDefault.cold"),
               native("map_next"), native("_PyEval_EvalFrameDefault"),
               native("time_sleep"), native("clock_nanosleep", "libc.so.6")]
    merged = merge(pythons, natives, [PYLIB])
    assert names(merged) == ["_start", "main", "main", "run", "builtin_sorted", "key",
                             "map_next", "leaf", "time_sleep", "clock_nanosleep"]
    assert names(last_native_only(merged)) == ["main", "run", "key", "leaf", "time_sleep",
                                               "clock_nanosleep"]


def test_plumbing_is_hidden_only_in_the_interpreter_and_inlined_eval_is_no_call():
    assert not is_eval_frame(native("_PyEval_EvalFrameDefault", inlined=True))
    assert is_eval_frame(native("PyEval_EvalFrameEx"))
    merged = merge([python("f", entry=True)],
                   [native("PyObject_Call", "libmine.so"), native("_PyEval_EvalFrameDefault"),
                    native("cfunction_call"), native("_TAIL_CALL_LOAD_ATTR")], [PYLIB])
    assert names(merged) == ["PyObject_Call", "f"]


def test_counts_that_disagree_give_no_merge_and_say_why():
    pythons = [python("a", entry=True), python("b", entry=True)]
    natives = [native("_PyEval_EvalFrameDefault")]
    assert merge(pythons, natives, [PYLIB]) is None
    assert mismatch_reason(pythons, natives) == \
        "native frames not shown: 1 eval-loop call in the native stack for 2 groups " \
        "of Python frames"
    assert mismatch_reason(pythons[:1], natives * 2) == \
        "native frames not shown: 2 eval-loop calls in the native stack for 1 group " \
        "of Python frames"


def test_groups_start_at_entries_and_the_first_frame():
    groups = python_groups([python("a"), python("b"), python("c", entry=True), python("d")])
    assert [[f.code.scope for f in g] for g in groups] == [["a", "b"], ["c", "d"]]
    assert python_groups([]) == []


def test_a_stack_is_split_where_the_next_interpreter_was_entered():
    main = [python("main", entry=True), python("call", entry=True)]
    sub = [python("work", entry=True)]
    natives = [native("main", "python3"), native("_PyEval_EvalFrameDefault"),
               native("builtin_exec"), native("_PyEval_EvalFrameDefault"),
               native("run_string"), native("_PyEval_EvalFrameDefault"),
               native("time_sleep")]
    parts = split_between_interpreters([main, sub], natives)
    assert [[f.symbol for f in part] for part in parts] == [
        ["main", "_PyEval_EvalFrameDefault", "builtin_exec", "_PyEval_EvalFrameDefault",
         "run_string"],
        ["_PyEval_EvalFrameDefault", "time_sleep"]]
    assert split_between_interpreters([main, sub], natives[:3]) is None
    assert split_between_interpreters([main], natives[:4]) == [natives[:4]]


def test_the_collector_is_told_by_its_frames_in_the_interpreter():
    assert is_collecting([native("gc_collect_main")], [PYLIB])
    assert is_collecting([native("collect.constprop.0")], [PYLIB])
    assert not is_collecting([native("gc_collect_main", "libother.so")], [PYLIB])
    assert not is_collecting([native("time_sleep")], [PYLIB])


def test_base_names_drop_versions_and_clone_suffixes_only():
    from pystack.native.merge import base_name
    assert base_name("clock_nanosleep@GLIBC_2.2.5") == "clock_nanosleep"
    assert base_name("memcpy@@GLIBC_2.14") == "memcpy"
    assert base_name("_PyEval_EvalFrameDefault.cold") == "_PyEval_EvalFrameDefault"
    assert base_name("collect.constprop.0") == "collect"
    assert base_name(".annobin_init.c") == ".annobin_init.c"  # a name that starts with a dot
    assert base_name("time_sleep") == "time_sleep"


def test_a_frame_without_an_inlined_flag_is_a_real_call():
    frame = NativeFrame(address=1, symbol="_PyEval_EvalFrameDefault", path="", linenumber=0,
                        colnumber=0, library=PYLIB)
    assert not hasattr(frame, "inlined") and is_eval_frame(frame)


def test_three_interpreters_and_one_that_runs_nothing():
    first = [python("a", entry=True)]
    second = [python("b", entry=True), python("c", entry=True)]
    third = [python("d", entry=True)]
    natives = [native("_PyEval_EvalFrameDefault"), native("enter2"),
               native("_PyEval_EvalFrameDefault"), native("call"),
               native("_PyEval_EvalFrameDefault"), native("enter3"),
               native("_PyEval_EvalFrameDefault"), native("sleep")]
    parts = split_between_interpreters([first, second, third], natives)
    assert [[f.symbol for f in p] for p in parts] == [
        ["_PyEval_EvalFrameDefault", "enter2"],
        ["_PyEval_EvalFrameDefault", "call", "_PyEval_EvalFrameDefault", "enter3"],
        ["_PyEval_EvalFrameDefault", "sleep"]]
    # the last thread state runs nothing: the whole stack is the first one's
    parts = split_between_interpreters([first, []], natives[:2])
    assert [[f.symbol for f in p] for p in parts] == [["_PyEval_EvalFrameDefault", "enter2"],
                                                      []]


def test_without_python_frames_every_native_frame_is_last():
    natives = [native("start_thread"), native("c_main"), native("pause")]
    assert last_native_only(natives) == natives


def test_the_frame_whose_stack_holds_an_entry_frame_is_the_eval_call():
    """Frames listed innermost first: frame i's stack runs from its own stack pointer
    (inclusive) up to its caller's (exclusive); an unknown pointer (0) places nothing."""
    raws = [RawNativeFrame(0x10, True, 0x1000), RawNativeFrame(0x20, False, 0x1100),
            RawNativeFrame(0x30, False, 0x1400), RawNativeFrame(0x40, False, 0),
            RawNativeFrame(0x50, False, 0x1800), RawNativeFrame(0x60, False, 0x1900)]
    assert frames_holding(raws, []) == set()
    assert frames_holding(raws, [0x1000]) == {0}
    assert frames_holding(raws, [0x10ff]) == {0}
    assert frames_holding(raws, [0x1100]) == {1}
    assert frames_holding(raws, [0x13ff, 0x1100, 0x1050]) == {0, 1}
    # the frame above an unknown pointer, and the outermost (no caller) hold nothing
    assert frames_holding(raws, [0x1400, 0x1500, 0x1900, 0x2000, 0xfff]) == set()
    assert frames_holding(raws, [0x1850]) == {4}
    # a caller's pointer below its callee's (a corrupt unwind) holds nothing either
    assert frames_holding([RawNativeFrame(1, True, 0x2000), RawNativeFrame(2, False, 0x1000)],
                          [0x1800]) == set()
