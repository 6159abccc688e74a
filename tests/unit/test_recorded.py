"""Recorded dumps of real targets replayed in-process (see tests/recorded.py).

The same engine, renderers and checks as the integration tests, against what each
target said about itself when it was recorded: threads, names, frames, lines and
3.11+ columns (stacks), arguments and locals at three value lengths and who holds
the GIL (locals), every value of the repr zoo both ways (zoo), a thread inside a
garbage collection (gc), damaged frames and code objects (corrupt-*). They need no
interpreter and no ptrace, run on any machine, and are what `scripts/mutation.py`
runs against the CPython model and the reprs.
"""
from __future__ import annotations

import io
import json
import os
import re
import types

import pytest

from recorded import OPTIONAL_KINDS, RecordedTarget, rebuilt_layout, recordings, without
from integration.parse_output import parse
from integration.test_corruption import check as check_damage
from integration.test_json_group import SCHEMA, check_against_report, check_locals_and_status
from integration.test_locals_status import check_locals, check_status, frame_variables
from integration.test_remote import assert_same_stacks
from integration.test_subinterpreters import check_json as check_interpreters_json
from integration.test_subinterpreters import check_text as check_interpreters_text
from integration.test_reprs_live import _expected_full, bad_cuts, is_cut_of
from pystack import engine
from pystack.cpython.locate import Interpreter
from pystack.cpython.memory import Memory
from pystack.cpython.objects import Objects
from pystack.cpython.reprs import render
from pystack.render.sources import SourceLines

RECORDINGS = recordings()


def _params(scenario: str) -> list:
    """Recordings of `scenario` (a prefix of it: `corrupt-` for every damage)."""
    found = [pytest.param(path, id=name)
             for name, path in RECORDINGS if name.rsplit(".", 1)[1].startswith(scenario)]
    return found or [pytest.param(None, marks=pytest.mark.skip(
        reason="no recordings: run scripts/record_dumps.py"))]


def interpreter_of(target: RecordedTarget, mem: Memory) -> Interpreter:
    """The interpreter as locate found it when recording: its layout is rebuilt the
    way locate builds it (the version's table, then the target's debug offsets)."""
    meta = target.meta
    version = tuple(meta["version"])
    layout = rebuilt_layout(mem, version, meta["runtime"])
    return Interpreter(layout, version, None, meta["interp_head"], meta["runtime"],
                       meta["current_tstate"], meta["method"])


def replayed(target: RecordedTarget, **options):
    """engine._dump_of over the recording, the interpreter taken from it."""
    real = engine.locate
    engine.locate = lambda tgt, mem, method: interpreter_of(tgt, mem)
    try:
        return engine._dump_of(target, cache=True, exact_version=True, **options)
    finally:
        engine.locate = real


def printed(dump, *, json_output: bool = False, locals: bool = False) -> str:
    """What `pystack remote` prints of `dump` (no source lines: the target's files
    are gone), through the CLI's own printer."""
    from pystack.cli import _print_dumps

    args = types.SimpleNamespace(json=json_output, group=False, tasks=False,
                                 subprocesses=False, locals=locals, no_color=True,
                                 command="remote", native=False, native_all=False,
                                 native_last=False)
    out = io.StringIO()
    nowhere = SourceLines(lambda path: "/nonexistent" + path)
    _print_dumps(args, [dump], lambda pid: nowhere, out, [])
    return out.getvalue()


def without_sources(report: dict) -> dict:
    """The report as seen with no source file at hand: no frame has a source line."""
    threads = [dict(t, frames=[dict(f, code=None) for f in t["frames"]])
               for t in report["threads"]]
    return dict(report, threads=threads)


def document_of(dump, locals: bool = False) -> dict:
    document = json.loads(printed(dump, json_output=True, locals=locals))
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)
    return document


@pytest.mark.parametrize("path", _params("stacks"))
def test_stacks_match_the_targets_report(path):
    target = RecordedTarget(path)
    report = without_sources(target.meta["report"])
    dump = replayed(target)
    assert_same_stacks(printed(dump), report, sources=False)
    check_against_report(document_of(dump), report,
                         {"version": ".".join(map(str, report["version"]))})


@pytest.mark.parametrize("path", _params("stacks"))
def test_variables_are_the_frames_own(path):
    """--locals on every frame of the stacks target: the arguments (keyword-only ones,
    *args, **kwargs) and the variables bound (cells and free variables among them)
    that the interpreter named for each function, in every thread but the one that
    wrote the report (its frame moved on since)."""
    target = RecordedTarget(path)
    report = target.meta["report"]
    threads = parse(printed(replayed(target, locals=True), locals=True))
    checked = 0
    for thread in report["threads"]:
        if thread["tid"] == report["pid"]:
            continue
        for frame, shown in zip(thread["frames"], threads[thread["tid"]]["frames"]):
            if frame.get("arguments") is None:
                assert shown["variables"] == [], (thread["name"], frame["name"])
                continue
            arguments, local_vars = _variable_names(shown["variables"])
            where = (thread["name"], frame["name"])
            assert arguments == frame["arguments"], where
            bound = set(frame["variables"])
            assert set(arguments) | set(local_vars) == bound, where
            assert not set(arguments) & set(local_vars), where
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("path", _params("stacks"))
def test_frame_limits_keep_the_newest_and_say_so(path, monkeypatch):
    """Past MAX_FRAMES a thread shows its newest frames; past MAX_TOTAL_FRAMES in all,
    the rest are not read; each limit says so once, in words."""
    from pystack import log
    from pystack.cpython import frames

    target = RecordedTarget(path)
    report = target.meta["report"]
    deep = next(t for t in report["threads"] if t["name"] == "deep-recursion")
    want = [(f["file"], f["name"], f["line"]) for f in deep["frames"]]

    def threads_and_warnings() -> tuple:
        warnings: list = []
        log.keep_warnings(warnings)
        try:
            return parse(printed(replayed(target))), warnings
        finally:
            log.keep_warnings(None)

    monkeypatch.setattr(frames, "MAX_FRAMES", 10)
    threads, warnings = threads_and_warnings()
    shown = threads[deep["tid"]]["frames"]
    assert [(f["file"], f["name"], f["line"]) for f in shown] == want[-10:]
    assert any(re.fullmatch(r"thread state 0x[0-9a-f]+ has more than 10 frames: showing "
                            r"the newest", w) for w in warnings), warnings

    monkeypatch.setattr(frames, "MAX_FRAMES", 100_000)
    monkeypatch.setattr(frames, "MAX_TOTAL_FRAMES", 50)
    threads, warnings = threads_and_warnings()
    # (shim and C-entry frames count against the budget and are not printed)
    assert 30 <= sum(len(t["frames"]) for t in threads.values()) <= 50
    assert warnings.count("more than 50 frames in all: the rest are not read") == 1, warnings


@pytest.mark.parametrize("path", _params("stacks"))
def test_entry_frames(path):
    """`is_entry` (JSON, API): before 3.11 every frame object has its own eval loop
    call; from 3.11, a Python function called from Python runs in its caller's, so
    every recursive call of the deep thread is no entry, and a thread's first frame,
    called from C, is one."""
    target = RecordedTarget(path)
    report = target.meta["report"]
    document = document_of(replayed(target))
    threads = {t["tid"]: t for t in document["processes"][0]["threads"]}
    for thread in report["threads"]:
        frames = [f for f in threads[thread["tid"]]["frames"] if f["kind"] == "python"]
        if tuple(report["version"][:2]) < (3, 11):
            assert all(f["is_entry"] for f in frames), thread["name"]
            continue
        assert frames[0]["is_entry"], thread["name"]
        if thread["name"] == "deep-recursion":
            recursive = [f for f in frames if f["function"] == "recurse"]
            assert len(recursive) > 100 and not any(f["is_entry"] for f in recursive)


def _variable_names(lines: list) -> tuple:
    """Names under `Arguments:` and under `Locals:` of a frame's --locals lines."""
    sections: dict = {"Arguments:": [], "Locals:": []}
    current = None
    for line in lines:
        if line in sections:
            current = sections[line]
        elif current is not None:
            current.append(line.partition(": ")[0])
    return sections["Arguments:"], sections["Locals:"]


@pytest.mark.parametrize("path", _params("stacks"))
def test_sys_version_is_the_targets(path):
    """sys.version, read when the binary's name does not give the micro version."""
    from pystack.cpython.threads import ThreadReader

    target = RecordedTarget(path)
    mem = Memory(target)
    version = ThreadReader(mem, interpreter_of(target, mem)).sys_version()
    assert version == tuple(target.meta["report"]["version"])


@pytest.mark.parametrize("path", _params("gc"))
def test_garbage_collecting_thread(path):
    """The thread stopped inside a collection says so; the others do not."""
    target = RecordedTarget(path)
    report = target.meta["report"]
    threads = parse(printed(replayed(target)))
    assert "Garbage collecting" in threads[report["tids"]["collector"]]["status"]
    assert "Garbage collecting" not in threads[report["tids"]["main"]]["status"]


@pytest.mark.parametrize("path", _params("corrupt-"))
def test_damaged_frames_end_in_a_marker(path):
    """test_corruption's targets: the damaged thread prints the frames that can be
    trusted, then `(corrupted frame at 0x...)` where the damage is; the others as
    the target reported them."""
    target = RecordedTarget(path)
    check_damage(printed(replayed(target)), target.meta["report"])


@pytest.mark.parametrize("path", _params("locals"))
def test_locals_and_gil_match_the_targets_report(path):
    target = RecordedTarget(path)
    report = target.meta["report"]
    full, default, short = (replayed(target, locals=True, max_value_length=n)
                            for n in target.meta["lengths"])
    text = printed(full, locals=True)
    check_locals(text, report)
    check_status(text, report)
    check_locals_and_status(document_of(full, locals=True), text, report)
    _, cut = frame_variables(printed(default, locals=True), "zoo")
    assert cut["words"] == report["locals"]["words"]
    for dump, length in ((default, 80), (short, 12)):
        _, values = frame_variables(printed(dump, locals=True), "zoo")
        assert values.keys() == {**report["locals"], "args": 0, "names": 0}.keys()
        for name, value in values.items():
            want = report["locals"].get(name)
            assert len(value) <= length, (name, value)
            if want is not None:
                assert is_cut_of(value, want, max_len=length), (name, value, want)
    assert parse(text)[report["tids"]["spinner"]]["status"] == "Has the GIL"


@pytest.mark.parametrize("path", _params("subinterp"))
def test_subinterpreter_threads_in_call_order(path):
    """Threads that entered subinterpreters (nested, from threads of the main one):
    one block per OS thread, a section per interpreter in call order with its label
    and frames, and per thread state its interpreter's id in JSON."""
    target = RecordedTarget(path)
    report = target.meta["report"]
    threads = [dict(t, sections=[dict(s, frames=[dict(f, code=None) for f in s["frames"]])
                                 for s in t["sections"]]) for t in report["threads"]]
    report = dict(report, threads=threads)  # (no source lines: the files are gone)
    dump = replayed(target)
    check_interpreters_text(printed(dump), report)
    check_interpreters_json(document_of(dump), report)


def _zoo(path: str, full: bool = False, short: bool = False, generic: bool = False):
    """The recorded zoo rendered in the test that asks (never in a shared fixture:
    mutmut runs only the tests that call a mutated function, and a module fixture is
    called by the first of them alone): with an unlimited budget, with the default
    one, and as versions without each optional layout would."""
    target = RecordedTarget(path)
    mem = Memory(target)
    layout = interpreter_of(target, mem).layout
    objs = Objects(mem, layout)
    values = target.meta["report"]["values"]
    results = []
    for label, address, expected, check, truncated, whole in values:
        results.append(dict(label=label, address=address, expected=expected, check=check,
                            truncated=truncated,
                            full=render(objs, address, max_len=10 ** 6)
                            if full and whole else None,
                            short=render(objs, address) if short else None))
    stripped = {}
    for field, start in OPTIONAL_KINDS.items() if generic else ():
        without_field = Objects(mem, without(layout, field))
        for label, address, expected, *_ in values:
            if expected.startswith(start):
                stripped[(field, address)] = render(without_field, address)
    return target.meta["interpreter"], results, stripped


@pytest.mark.parametrize("path", _params("zoo"))
def test_zoo_unlimited_budget_equals_repr(path):
    name, results, _ = _zoo(path, full=True)
    bad = [f"{r['label']}: got {r['full'][:300]!r}\n    want {r['expected'][:300]!r}"
           for r in results if r["full"] is not None
           and not re.fullmatch(_expected_full(r), r["full"], re.S)]
    assert not bad, f"{name}: {len(bad)} differ\n" + "\n".join(bad)


@pytest.mark.parametrize("path", _params("zoo"))
def test_zoo_default_budget_is_a_visible_cut(path):
    name, results, _ = _zoo(path, short=True)
    bad = bad_cuts(results)
    assert not bad, f"{name}: {len(bad)} bad\n" + "\n".join(bad)


@pytest.mark.parametrize("path", _params("zoo"))
def test_zoo_without_a_kinds_layout_is_generic(path):
    """A version whose table lacks a kind's fields shows its values in the generic
    form, named by their type."""
    name, _, generic = _zoo(path, generic=True)
    seen = set()
    for (field, address), text in generic.items():
        # (2.7's OrderedDict is written in Python: it has no such layout to lose)
        if not (field == "odict_first" and name.startswith("pyenv-2.7")):
            assert re.fullmatch(rf"<(\S+\.)?\w+ object at 0x{address:x}>", text), \
                (name, field, text)
            seen.add(field)
    # 2.7's zoo has no range, slice or deque value of a kind with a layout
    assert seen == ({"method_func", "dict_object_size"} if name.startswith("pyenv-2.7")
                    else set(OPTIONAL_KINDS)), (name, seen)


def test_recordings_cover_every_layout():
    """One recording of each scenario per CPython version we have a layout for."""
    if not RECORDINGS:
        pytest.skip("no recordings: run scripts/record_dumps.py")
    names = {name for name, _ in RECORDINGS}
    versions = {re.search(r"-(\d+\.\d+)", n).group(1) for n in names}
    assert versions >= {"2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12",
                        "3.13", "3.14", "3.15"}, sorted(versions)
    for scenario in ("stacks", "locals", "zoo"):
        assert len([n for n in names if n.endswith("." + scenario)]) == \
            len([n for n in names if n.endswith(".zoo")]), scenario
    assert len([n for n in names if n.endswith(".subinterp")]) == \
        len([n for n in names if n.endswith(".zoo")]) - 1  # all but 2.7
    assert sum(os.path.getsize(p) for _, p in RECORDINGS) < 3 << 20
