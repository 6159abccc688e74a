"""--json: the document's shape, values and stability, on threads made by hand."""
from __future__ import annotations

import io
import json
import os
import re

import pytest

from pystack.cpython.frames import RawFrame
from pystack.cpython.threads import link_frames
from pystack.native.symbols import ResolvedFrame
from pystack.render.jsondoc import JsonDocument
from pystack.render.text import SourceLines, TextRenderer
from pystack.types import LocationInfo, NativeFrame, ProcessDump, PyCodeObject, PyThread

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA_PATH = os.path.join(REPO, "docs", "pystack-json.schema.json")


def validate(document: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)


def code(filename, line, scope, col=0, end=0, qualname=None, end_line=None):
    return PyCodeObject(filename, scope, LocationInfo(line, end_line or line, col, end), qualname)


def thread_of(codes, *, corrupted_after=False, variables=None, **kw) -> PyThread:
    """Frames given outermost first, as a reader would write them down."""
    # one eval-loop call runs them all: the outermost is its entry frame
    raw = [RawFrame(0x1000 + i, c, i == len(codes) - 1, False)
           for i, c in enumerate(reversed(codes))]
    if corrupted_after:  # the walk (innermost first) broke past the outermost frame
        raw.append(RawFrame(0xdead0, None, False, False, corrupted=True))
    found = None
    if variables:
        found = {0x1000 + i: v for i, v in enumerate(reversed(variables))}
    fields = dict(tid=42, frame=link_frames(raw, found), native_frames=[], holds_the_gil=0,
                  is_gc_collecting=0, python_version=(3, 12))
    fields.update(kw)
    return PyThread(**fields)


@pytest.fixture
def sources(tmp_path):
    (tmp_path / "app.py").write_text("def f():\n    g(1)\n\nf()\n    \n")
    return SourceLines(lambda p: str(tmp_path / p.lstrip("/")))


def render(document: JsonDocument, threads, sources, warnings=(), **dump) -> tuple[str, dict]:
    facts = dict(pid=7, executable="/usr/bin/python3.12", python_version=(3, 12, 1))
    facts.update(dump)
    document.add_process(ProcessDump(threads=list(threads), **facts), sources)
    out = io.StringIO()
    document.write(out, warnings)
    text = out.getvalue()
    parsed = json.loads(text)
    validate(parsed)
    return text, parsed


def test_python_frames_outermost_first_with_every_field(sources):
    thread = thread_of([code("/app.py", 4, "<module>", 0, 3),
                        code("/app.py", 2, "f", 4, 8, qualname="C.f", end_line=3)],
                       name="worker", holds_the_gil=1)
    _, doc = render(JsonDocument("remote"), [thread], sources)
    assert doc["version"] == 1 and doc["command"] == "remote" and doc["core"] is None
    process = doc["processes"][0]
    assert (process["pid"], process["executable"], process["python_version"]) == (
        7, "/usr/bin/python3.12", "3.12.1")
    (t,) = process["threads"]
    assert (t["tid"], t["name"], t["holds_gil"], t["gc_collecting"], t["status"]) == (
        42, "worker", True, False, "Has the GIL")
    # nothing but native frames tells whether a thread waits for the GIL
    assert t["waiting_for_gil"] is None and t["dropping_gil"] is None
    outer, inner = t["frames"]
    assert outer == {"kind": "python", "file": "/app.py", "line": 4, "end_line": 4,
                     "column": 0, "end_column": 3, "function": "<module>", "qualname": None,
                     "code": "f()", "is_entry": True, "corrupted": False,
                     "corrupted_at": None}
    assert (inner["function"], inner["qualname"], inner["code"], inner["line"],
            inner["end_line"], inner["column"], inner["end_column"], inner["is_entry"]) == (
        "f", "C.f", "g(1)", 2, 3, 4, 8, False)
    assert "locals" not in inner and "arguments" not in inner  # only with --locals


def test_unknowns_are_null(sources):
    # no columns (before 3.11), a blank or missing source line, gc status unknown (2.7)
    thread = thread_of([code("/app.py", 5, "f"), code("/gone.py", 1, "g")],
                       is_gc_collecting=-1)
    _, doc = render(JsonDocument("remote"), [thread], sources, python_version=(2, 7, None),
                    executable=None)
    t = doc["processes"][0]["threads"][0]
    assert t["gc_collecting"] is None and t["name"] is None
    assert [(f["column"], f["end_column"], f["code"]) for f in t["frames"]] == [
        (None, None, None), (None, None, None)]
    assert doc["processes"][0]["python_version"] == "2.7"
    assert doc["processes"][0]["executable"] is None


def test_locals_are_the_text_outputs_values(sources):
    values = ({"x": "1"}, {"s": "'h\\xe9'", "big": "1267650600228229401496703205376"})
    thread = thread_of([code("/app.py", 2, "f")], variables=[values])
    _, doc = render(JsonDocument("remote", locals=True), [thread], sources)
    frame = doc["processes"][0]["threads"][0]["frames"][0]
    assert frame["arguments"] == {"x": "1"}
    assert list(frame["locals"]) == ["s", "big"]  # the order the text prints
    text = "\n".join(TextRenderer(sources).thread(thread))
    for name, value in {**values[0], **values[1]}.items():
        assert f"        {name}: {value}" in text


def test_corrupted_frames_are_marked(sources):
    thread = thread_of([code("/app.py", 2, "f")], corrupted_after=True)
    _, doc = render(JsonDocument("remote"), [thread], sources)
    frames = doc["processes"][0]["threads"][0]["frames"]
    assert [f["corrupted"] for f in frames] == [True, False]
    assert frames[0]["corrupted_at"] == 0xdead0 and frames[0]["file"] is None


def native(symbol, library="libc.so.6", path="???", line=0, inlined=False, address=0x10,
           offset=None):
    return ResolvedFrame(address, symbol, path, line, 0, library, inlined=inlined,
                         offset=offset)


def test_native_frames_merged_in_place(sources):
    thread = thread_of([code("/app.py", 4, "<module>"), code("/app.py", 2, "f")])
    thread.native_frames = [native("main", "python3.12"),
                            native("_PyEval_EvalFrameDefault", "python3.12"),
                            native("time_sleep", "python3.12", "Modules/timemodule.c", 383),
                            native("clock_nanosleep@GLIBC_2.2.5", address=0x7f00,
                                   offset=0xe6b00),
                            native("helper", "libc.so.6", "x.c", 9, inlined=True)]
    _, doc = render(JsonDocument("remote", native="all"), [thread], sources)
    t = doc["processes"][0]["threads"][0]
    kinds = [(f["kind"], f.get("symbol") or f.get("function")) for f in t["frames"]]
    assert kinds == [("native", "main"), ("python", "<module>"), ("python", "f"),
                     ("native", "time_sleep"), ("native", "clock_nanosleep@GLIBC_2.2.5"),
                     ("native", "helper")]
    sleep = t["frames"][4]
    assert sleep == {"kind": "native", "symbol": "clock_nanosleep@GLIBC_2.2.5",
                     "library": "libc.so.6", "file": None, "line": 0, "column": 0,
                     "address": 0x7f00, "inlined": False, "offset": 0xe6b00}
    assert t["frames"][3]["file"] == "Modules/timemodule.c" and t["frames"][5]["inlined"]
    assert t["waiting_for_gil"] is False and t["dropping_gil"] is False
    _, last = render(JsonDocument("remote", native="last"), [thread], sources)
    assert [f.get("symbol") or f.get("function") for f in
            last["processes"][0]["threads"][0]["frames"]] == [
        "<module>", "f", "time_sleep", "clock_nanosleep@GLIBC_2.2.5", "helper"]


def test_unmergeable_native_stack_is_a_thread_warning(sources):
    thread = thread_of([code("/app.py", 4, "<module>"), code("/app.py", 2, "f")])
    thread.native_frames = [native("take_gil", "python3.12")]  # no eval-loop frame
    _, doc = render(JsonDocument("remote", native="all"), [thread], sources)
    t = doc["processes"][0]["threads"][0]
    assert [f["kind"] for f in t["frames"]] == ["python", "python"]
    assert t["warnings"] and "native frames not shown" in t["warnings"][0]
    assert t["waiting_for_gil"] is True and t["status"] == "Waiting for the GIL"


def test_threads_without_frames_and_documents_without_threads(sources):
    _, doc = render(JsonDocument("core"), [thread_of([])], sources)
    assert doc["processes"][0]["threads"][0]["frames"] == []
    _, empty = render(JsonDocument("core"), [], sources)
    assert empty["processes"][0]["threads"] == []


def test_warnings_and_core_facts_in_the_document(sources):
    document = JsonDocument("core")
    document.core = {"file": "/c", "executable": None, "executable_from_core": True,
                     "process": None, "signal": None, "cause": "x", "missing_files": ["/l"],
                     "build_id_mismatches": []}
    _, doc = render(document, [], sources, warnings=["/l is mapped in the core but was not found"])
    assert doc["warnings"] == ["/l is mapped in the core but was not found"]
    assert doc["core"]["missing_files"] == ["/l"]


def test_same_dump_same_bytes_and_fixed_key_order(sources):
    def once():
        thread = thread_of([code("/app.py", 2, "f", 4, 8)], name="w")
        return render(JsonDocument("remote", locals=True), [thread, thread], sources)[0]
    first = once()
    assert first == once()
    keys = re.findall(r'"(\w+)": ', first)
    assert keys[:4] == ["version", "command", "core", "processes"]
    assert keys[-1] == "warnings"
    thread_keys = keys[keys.index("tid"):keys.index("kind")]
    assert thread_keys == ["tid", "tid_in_namespace", "name", "interpreter_id", "holds_gil",
                           "waiting_for_gil", "dropping_gil", "gc_collecting", "status",
                           "frames"]
    assert first.endswith("}\n") and first.count("\n") == 5  # one line per thread


def test_text_that_is_not_utf8_or_json_safe(sources):
    # names decoded with surrogateescape (cores cut arguments mid-character)
    thread = thread_of([code("/app\udcff.py", 1, 'q"\\\n')], name="t\udce9")
    text, doc = render(JsonDocument("remote"), [thread], sources)
    assert text.isascii()
    t = doc["processes"][0]["threads"][0]
    assert t["name"] == "t\udce9" and t["frames"][0]["function"] == 'q"\\\n'


def test_nothing_is_written_until_the_document_is_whole(sources):
    from pystack.cli import PlainArgs, _print_dumps
    args = PlainArgs("remote")
    args.json = True
    good = thread_of([code("/app.py", 2, "f")])
    bad = thread_of([code("/app.py", 2, "f")])
    bad.tid = object()  # a bug on the way: not something JSON can say
    out = io.StringIO()
    with pytest.raises(TypeError):
        _print_dumps(args, [ProcessDump(7, None, (3, 12, 1), [good, bad])], lambda pid: sources,
                     out, [])
    assert out.getvalue() == ""
    _print_dumps(args, [ProcessDump(7, None, (3, 12, 1), [good, good])], lambda pid: sources,
                 out, [])
    assert len(json.loads(out.getvalue())["processes"][0]["threads"]) == 2


def test_readme_example_is_a_valid_document():
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    marker = "<!-- json-example:"
    assert marker in readme
    block = readme.split(marker, 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    document = json.loads(block)
    validate(document)
    frames = document["processes"][0]["threads"][0]["frames"]
    assert {f["kind"] for f in frames} == {"python", "native"}


def test_schema_requires_what_the_renderer_always_writes(sources):
    """Every key the renderer writes unconditionally is `required` in the schema."""
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    thread = thread_of([code("/app.py", 2, "f")])
    thread.native_frames = []
    document = JsonDocument("remote")
    assert set(document.thread(thread, sources)) == set(schema["$defs"]["thread"]["required"])
    frame = document.python_frame(thread.frame, sources)
    assert set(frame) == set(schema["$defs"]["python_frame"]["required"])
    assert set(JsonDocument.native_frame(native("x"))) == \
        set(schema["$defs"]["native_frame"]["required"])


def test_tasks_event_loops_and_processes_exactly(tmp_path):
    """The document's text, byte for byte: one piece per line (processes, threads,
    tasks), event loops always, tasks only where they were read (`--tasks`)."""
    from pystack.types import AsyncTask, ProcessDump
    from test_render import sources_for
    sources, name = sources_for(tmp_path, "async def main():\n    await x\n")
    first = AsyncTask(0x10, "Task-1", "pending", False, 42, 0x99, [code(name, 2, "main")],
                      "Task 'Task-2'", [])
    second = AsyncTask(0x20, "Task-2", "done", False, None, 0x99, [], None, [0x10],
                       "ValueError('boom')", "asyncio")
    document = JsonDocument("remote")
    document.add_process(ProcessDump(7, "/x", (3, 12, 1), [thread_of([code(name, 2, "main")])],
                                     tasks=[first, second], event_loops=[(42, 2)]), sources)
    document.add_process(ProcessDump(8, "/y", (3, 12, 1), [], skipped="not a Python process"),
                         sources)
    out = io.StringIO()
    document.write(out)
    assert out.getvalue() == (
        '{"version": 1, "command": "remote", "core": null, "processes": [\n'
        '{"pid": 7, "ppid": null, "command": null, "executable": "/x", "python_version": '
        '"3.12.1", "skipped": null, "threads": [\n'
        '{"tid": 42, "tid_in_namespace": null, "name": null, "interpreter_id": null, '
        '"holds_gil": false, "waiting_for_gil": null, "dropping_gil": null, '
        '"gc_collecting": false, "status": "", "frames": [{"kind": "python", "file": '
        '"/app.py", "line": 2, "end_line": 2, "column": null, "end_column": null, '
        '"function": "main", "qualname": null, "code": "await x", "is_entry": true, '
        '"corrupted": false, "corrupted_at": null}], "warnings": []}], "event_loops": '
        '[{"thread": 42, "pending_tasks": 2}], "tasks": [\n'
        '{"id": 16, "name": "Task-1", "state": "pending", "running": false, "thread": 42, '
        '"loop": 153, "implementation": "_asyncio", "frames": [{"file": "/app.py", "line": 2, '
        '"function": "main", "qualname": null, "code": "await x"}], "awaits": '
        '"Task \'Task-2\'", "awaited_by": [], "exception": null},\n'
        '{"id": 32, "name": "Task-2", "state": "done", "running": false, "thread": null, '
        '"loop": 153, "implementation": "asyncio", "frames": [], "awaits": null, '
        '"awaited_by": [16], "exception": "ValueError(\'boom\')"}]},\n'
        '{"pid": 8, "ppid": null, "command": null, "executable": "/y", "python_version": '
        '"3.12.1", "skipped": "not a Python process", "threads": [], "event_loops": []}],\n'
        '"warnings": []}\n')
    validate(json.loads(out.getvalue()))


def test_gil_facts_only_from_native_frames_that_were_read(sources):
    from pystack.types import NativeFrame
    thread = thread_of([code("/app.py", 4, "<module>")])
    thread.native_frames = [NativeFrame(0x4, "_PyEval_EvalFrameDefault", "ceval.c", 1, 1,
                                        "libpython3.12.so"),
                            NativeFrame(0x5, "drop_gil", "ceval_gil.c", 120, 7,
                                        "libpython3.12.so")]
    _, doc = render(JsonDocument("remote", native="all"), [thread], sources)
    t = doc["processes"][0]["threads"][0]
    assert (t["dropping_gil"], t["waiting_for_gil"]) == (True, False)
    native = [f for f in t["frames"] if f["kind"] == "native"]
    # a plain NativeFrame (the public type) has no `inlined`: not inlined
    assert native == [{"kind": "native", "symbol": "drop_gil", "library": "libpython3.12.so",
                       "file": "ceval_gil.c", "line": 120, "column": 7, "address": 5,
                       "inlined": False, "offset": None}]
    thread.native_frames = []  # asked for, but none were read: unknown, not False
    _, doc = render(JsonDocument("remote", native="all"), [thread], sources)
    t = doc["processes"][0]["threads"][0]
    assert (t["dropping_gil"], t["waiting_for_gil"]) == (None, None)


def test_a_plain_document_leaves_native_frames_out_and_says_who_collects(sources):
    from pystack.types import NativeFrame
    thread = thread_of([code("/app.py", 4, "<module>")])
    thread.is_gc_collecting = 1
    thread.native_frames = [NativeFrame(0x4, "_PyEval_EvalFrameDefault", "ceval.c", 1, 1,
                                        "libpython3.12.so")]
    _, doc = render(JsonDocument("remote"), [thread], sources)
    t = doc["processes"][0]["threads"][0]
    assert [f["kind"] for f in t["frames"]] == ["python"]
    assert t["gc_collecting"] is True and t["waiting_for_gil"] is None
