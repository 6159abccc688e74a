"""Read a 3.13+ target's `_Py_DebugOffsets` and lay its values over our table.

CPython 3.13 starts `_PyRuntime` with a struct naming the offsets a debugger needs
(cookie "xdebugpy", then PY_VERSION_HEX, then one sub-struct per C structure). Its
own layout differs between minor versions, so the byte position of each member comes
from the generated schema of that version. Values are sanity-checked against the
structure sizes the struct also carries before we trust them.
"""
from __future__ import annotations

import struct

from .layout import PythonLayout
from .layouts import debug_offsets_schema

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Optional

COOKIE = b"xdebugpy"

# debug-offsets member -> (layout group, field)
_MAP = {
    "runtime_state.finalizing": ("runtime", "finalizing"),
    "runtime_state.interpreters_head": ("runtime", "interpreters_head"),
    "interpreter_state.size": ("interpreter", "size"),
    "interpreter_state.id": ("interpreter", "id"),
    "interpreter_state.next": ("interpreter", "next"),
    "interpreter_state.threads_head": ("interpreter", "threads_head"),
    "interpreter_state.threads_main": ("interpreter", "threads_main"),
    "interpreter_state.imports_modules": ("interpreter", "modules"),
    "interpreter_state.sysdict": ("interpreter", "sysdict"),
    "interpreter_state.builtins": ("interpreter", "builtins"),
    "interpreter_state.ceval_gil": ("interpreter", "ceval_gil"),
    "thread_state.size": ("thread", "size"),
    "thread_state.prev": ("thread", "prev"),
    "thread_state.next": ("thread", "next"),
    "thread_state.interp": ("thread", "interp"),
    "thread_state.current_frame": ("thread", "current_frame"),
    "thread_state.thread_id": ("thread", "thread_id"),
    "thread_state.native_thread_id": ("thread", "native_thread_id"),
    "interpreter_frame.size": ("iframe", "size"),
    "interpreter_frame.previous": ("iframe", "previous"),
    "interpreter_frame.executable": ("iframe", "code"),
    "interpreter_frame.instr_ptr": ("iframe", "instr_ptr"),
    "interpreter_frame.localsplus": ("iframe", "localsplus"),
    "interpreter_frame.owner": ("iframe", "owner"),
    "interpreter_frame.stackpointer": ("iframe", "stackpointer"),
    "interpreter_frame.tlbc_index": ("iframe", "tlbc_index"),
    "code_object.size": ("code", "size"),
    "code_object.filename": ("code", "filename"),
    "code_object.name": ("code", "name"),
    "code_object.qualname": ("code", "qualname"),
    "code_object.linetable": ("code", "linetable"),
    "code_object.firstlineno": ("code", "firstlineno"),
    "code_object.argcount": ("code", "argcount"),
    "code_object.localsplusnames": ("code", "localsplusnames"),
    "code_object.localspluskinds": ("code", "localspluskinds"),
    "code_object.co_code_adaptive": ("code", "code_adaptive"),
    "code_object.co_tlbc": ("code", "tlbc"),
    "pyobject.ob_type": ("objects", "ob_type"),
    "type_object.tp_name": ("objects", "tp_name"),
    "type_object.tp_flags": ("objects", "tp_flags"),
    "tuple_object.ob_item": ("objects", "tuple_items"),
    "list_object.ob_item": ("objects", "list_items"),
    "dict_object.ma_keys": ("objects", "dict_keys"),
    "dict_object.ma_values": ("objects", "dict_values"),
    "float_object.ob_fval": ("objects", "float_fval"),
    "long_object.lv_tag": ("objects", "long_size"),
    "long_object.ob_digit": ("objects", "long_digits"),
    "bytes_object.ob_size": ("objects", "ob_size"),
    "bytes_object.ob_sval": ("objects", "bytes_sval"),
    "unicode_object.state": ("objects", "unicode_state"),
    "unicode_object.length": ("objects", "unicode_length"),
    "unicode_object.asciiobject_size": ("objects", "unicode_ascii_size"),
    "gen_object.gi_iframe": ("objects", "gen_frame"),
}
# Members that exist only in free-threaded builds; the struct says 0 where they don't.
_ZERO_MEANS_ABSENT = {"interpreter_frame.tlbc_index", "code_object.co_tlbc"}
# Members whose value must fall inside the structure whose size is given alongside.
_SIZED = ("interpreter_state", "thread_state", "interpreter_frame", "code_object")
MAX_SIZE = 1 << 22  # no structure we read is anywhere near 4 MiB


class DebugOffsetsError(Exception):
    """The bytes at `_PyRuntime` are not a debug-offsets struct we understand."""


def peek_version(blob: bytes) -> Optional[int]:
    """PY_VERSION_HEX from the start of `_PyRuntime`, or None without the cookie."""
    if len(blob) < 16 or blob[:8] != COOKIE:
        return None
    return struct.unpack_from("<Q", blob, 8)[0]


def schema_size(version: tuple) -> int:
    schema = debug_offsets_schema(version)
    return schema["__size__"] if schema else 0


def apply(blob: bytes, layout: PythonLayout) -> PythonLayout:
    """Return `layout` with every member the target's debug offsets provide."""
    schema = debug_offsets_schema(layout.version)
    if not schema:
        raise DebugOffsetsError(f"no debug-offsets schema for {layout.version}")
    if blob[:8] != COOKIE:
        raise DebugOffsetsError("debug offsets cookie missing")
    values = {}
    for name, pos in schema.items():
        if name.startswith("__") or pos + 8 > len(blob):
            continue
        values[name] = struct.unpack_from("<Q", blob, pos)[0]
    for group in _SIZED:
        size = values.get(f"{group}.size")
        if size is None or not 0 < size < MAX_SIZE:
            raise DebugOffsetsError(f"implausible {group}.size {size}")
        for name, value in values.items():
            if name.startswith(group + ".") and name != f"{group}.size" and value >= size:
                raise DebugOffsetsError(f"{name}={value} beyond {group}.size={size}")
    changes: dict[str, dict] = {}
    for name, (group, fieldname) in _MAP.items():
        if name in _ZERO_MEANS_ABSENT and not values.get(name):
            continue
        if name in values:
            changes.setdefault(group, {})[fieldname] = values[name]
    if values.get("interpreter_state.gc") is not None and values.get("gc.collecting") is not None:
        changes.setdefault("interpreter", {})["gc_collecting"] = (
            values["interpreter_state.gc"] + values["gc.collecting"])
    # The GIL members are given relative to the interpreter's own `_gil`; we read the
    # GIL through `ceval.gil` (which may point at the main interpreter's), so rebase.
    gil_base = values.get("interpreter_state.gil_runtime_state")
    if gil_base:
        for member, fieldname in (("locked", "locked"), ("holder", "last_holder")):
            value = values.get(f"interpreter_state.gil_runtime_state_{member}")
            if value is not None and value >= gil_base:
                changes.setdefault("gil", {})[fieldname] = value - gil_base
    updates = {group: getattr(layout, group).replace(**fields)
               for group, fields in changes.items()}
    return layout.replace(free_threaded=bool(values.get("free_threaded")), **updates)
