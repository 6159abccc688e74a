"""The generated layout tables: every version loads and has what its family needs."""
from __future__ import annotations

import pytest

from pystack.cpython.layout import CodeLayout, PythonLayout
from pystack.cpython.layouts import KNOWN, debug_offsets_schema, layout_for


@pytest.mark.parametrize("version", KNOWN, ids=lambda v: "%d.%d" % v)
def test_every_known_version_has_its_family_fields(version):
    layout = layout_for(version)
    assert isinstance(layout, PythonLayout)
    assert layout.version == version
    t, i, c = layout.thread, layout.interpreter, layout.code
    for value in (t.next, t.interp, t.thread_id, i.next, i.threads_head, i.modules,
                  c.filename, c.name, c.firstlineno, c.linetable):
        assert isinstance(value, int)
    assert (t.native_thread_id is not None) == (version >= (3, 11))
    assert layout.has_runtime_state == (version >= (3, 7))
    assert layout.has_interpreter_frames == (version >= (3, 11))
    if layout.has_interpreter_frames:
        f = layout.iframe
        assert None not in (f.previous, f.code, f.instr_ptr, f.owner, c.code_adaptive,
                            c.qualname)
    else:
        f = layout.frame_object
        assert None not in (f.f_back, f.f_code, f.f_lasti, t.frame)
    assert layout.has_shim_frames == (version >= (3, 12))
    # exactly one way to reach the current frame
    assert (t.frame is not None) + (t.cframe is not None) + (t.current_frame is not None) >= 1
    if version in ((3, 11), (3, 12)):
        assert t.cframe is not None and layout.cframe.current_frame is not None
    assert layout.line_table_format == (
        "lnotab" if version < (3, 10) else "linetable310" if version == (3, 10)
        else "locations")


@pytest.mark.parametrize("version", [v for v in KNOWN if v >= (3, 13)], ids=str)
def test_debug_offsets_schema_starts_with_cookie_and_version(version):
    schema = debug_offsets_schema(version)
    assert schema["version"] == 8
    assert schema["runtime_state.interpreters_head"] < schema["__size__"]
    positions = [p for n, p in schema.items() if not n.startswith("__")]
    assert len(positions) == len(set(positions))


def test_newer_version_uses_newest_table_with_a_warning(capsys):
    newest = KNOWN[-1]
    newer = (3, newest[1] + 1)
    layout = layout_for(newer)
    assert layout.version == newer
    assert layout.thread == layout_for(newest).thread
    assert "newer than any layout" in capsys.readouterr().err


@pytest.mark.parametrize("version", [(3, 5), (3, 0), (4, 0), (1, 5)])
def test_unknown_versions_have_no_layout(version):
    assert layout_for(version) is None


def test_records_are_frozen_and_reject_unknown_fields():
    code = CodeLayout(filename=8)
    with pytest.raises(AttributeError):
        code.filename = 16
    with pytest.raises(TypeError):
        CodeLayout(file_name=8)
    assert code.replace(name=16) == CodeLayout(filename=8, name=16)
    assert code.name is None
