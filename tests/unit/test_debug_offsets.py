"""`_Py_DebugOffsets`: our schemas against real binaries, and defensive parsing."""
from __future__ import annotations

import os
import struct

import pytest

from pystack.binaries.elf import ElfFile
from pystack.cpython import debug_offsets
from pystack.cpython.layout import PythonLayout
from pystack.cpython.layouts import debug_offsets_schema, layout_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SID = os.path.join(REPO, ".targets", "sid")
BINARIES = [
    ((3, 13), "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0"),
    ((3, 13), f"{SID}/usr/bin/python3.13"),
    ((3, 14), f"{SID}/usr/bin/python3.14"),
    ((3, 14), f"{SID}/usr/bin/python3.14d"),
    ((3, 15), f"{SID}/usr/bin/python3.15"),
]


def runtime_blob(path: str, size: int) -> bytes:
    with ElfFile(path) as elf:
        address = elf.symbol("_PyRuntime")
        if address is None:
            section = elf.section(".PyRuntime")
            address = section.addr
        data = elf.read_vaddr(address, size)
    assert data is not None
    return data


@pytest.mark.parametrize("version,path", BINARIES, ids=[os.path.basename(p) for _, p in BINARIES])
def test_real_debug_offsets_agree_with_generated_tables(version, path):
    """The struct the binary carries, read through our schema, gives our table's offsets."""
    if not os.path.exists(path):
        pytest.skip(f"{path} not provisioned")
    size = debug_offsets.schema_size(version)
    blob = runtime_blob(path, size)
    assert blob[:8] == debug_offsets.COOKIE
    hexversion = debug_offsets.peek_version(blob)
    assert (hexversion >> 24, (hexversion >> 16) & 0xFF) == version
    generated = layout_for(version)
    applied = debug_offsets.apply(blob, PythonLayout(version=version))
    for group in ("thread", "iframe", "code"):
        mine, theirs = getattr(generated, group), getattr(applied, group)
        for name in theirs.__fields__:
            value = getattr(theirs, name)
            if value is None or name == "size":
                continue
            if path.endswith("d") and group == "thread":
                continue  # the debug build's thread state has extra members
            assert getattr(mine, name) == value, f"{group}.{name}"


def synthetic_blob(version, **values) -> bytes:
    schema = debug_offsets_schema(version)
    blob = bytearray(schema["__size__"])
    blob[:8] = debug_offsets.COOKIE
    struct.pack_into("<Q", blob, 8, (version[0] << 24) | (version[1] << 16))
    for group, size in (("interpreter_state", 4096), ("thread_state", 512),
                        ("interpreter_frame", 96), ("code_object", 256)):
        struct.pack_into("<Q", blob, schema[f"{group}.size"], size)
    for name, value in values.items():
        struct.pack_into("<Q", blob, schema[name.replace("__", ".")], value)
    return bytes(blob)


def test_apply_maps_members_onto_the_layout():
    version = (3, 14)
    blob = synthetic_blob(version, thread_state__native_thread_id=200,
                          interpreter_frame__owner=70,
                          interpreter_state__gil_runtime_state=1000,
                          interpreter_state__gil_runtime_state_locked=1016,
                          interpreter_state__gil_runtime_state_holder=1008)
    layout = debug_offsets.apply(blob, layout_for(version))
    assert layout.thread.native_thread_id == 200
    assert layout.iframe.owner == 70
    assert (layout.gil.locked, layout.gil.last_holder) == (16, 8)


def test_apply_rejects_offsets_beyond_their_structure():
    blob = synthetic_blob((3, 14), thread_state__native_thread_id=4096)
    with pytest.raises(debug_offsets.DebugOffsetsError):
        debug_offsets.apply(blob, layout_for((3, 14)))


def test_apply_rejects_missing_cookie_and_absurd_sizes():
    blob = synthetic_blob((3, 14))
    with pytest.raises(debug_offsets.DebugOffsetsError):
        debug_offsets.apply(b"xxxxxxxx" + blob[8:], layout_for((3, 14)))
    schema = debug_offsets_schema((3, 14))
    bad = bytearray(blob)
    struct.pack_into("<Q", bad, schema["thread_state.size"], 1 << 40)
    with pytest.raises(debug_offsets.DebugOffsetsError):
        debug_offsets.apply(bytes(bad), layout_for((3, 14)))
    assert debug_offsets.peek_version(b"short") is None
