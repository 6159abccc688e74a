#!/usr/bin/env python3
"""Generate `src/pystack/cpython/layouts/v*.py` from the DWARF of real CPython builds.

For every field of `pystack.cpython.layout`, FIELDS lists the C expressions that name
it across versions (the first one the DWARF knows wins). gdb evaluates them against a
binary carrying debug information and this script writes the results as keyword-built
dataclasses, one module per minor version.  gdb is used here, at generation time only;
the tool itself never runs it.

Usage: scripts/gen_layouts.py [--only 3.11] [--check]
  --check compares the freshly generated tables with the committed ones (exit 1 if any
  differ), to see whether another patch release or distribution build changes a layout.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "src", "pystack", "cpython", "layouts")
SID = os.path.join(REPO, ".targets", "sid")
PYENV = os.environ.get("PYENV_ROOT", "/root/.pyenv") + "/versions"

# version -> (binary with DWARF or stripped binary, debug-file-directory or None)
SOURCES = {
    (2, 7): (f"{PYENV}/2.7.18/lib/libpython2.7.so.1.0", None),
    (3, 6): (f"{PYENV}/3.6.15/lib/libpython3.6m.so.1.0", None),
    (3, 7): (f"{PYENV}/3.7.16/lib/libpython3.7m.so.1.0", None),
    (3, 8): (f"{PYENV}/3.8.18/lib/libpython3.8.so.1.0", None),
    (3, 9): (f"{PYENV}/3.9.18/lib/libpython3.9.so.1.0", None),
    (3, 10): (f"{PYENV}/3.10.13/lib/libpython3.10.so.1.0", None),
    (3, 11): (f"{PYENV}/3.11.7/lib/libpython3.11.so.1.0", None),
    (3, 12): (f"{PYENV}/3.12.1/lib/libpython3.12.so.1.0", None),
    (3, 13): (f"{SID}/usr/bin/python3.13", f"{SID}/usr/lib/debug"),
    (3, 14): (f"{SID}/usr/bin/python3.14", f"{SID}/usr/lib/debug"),
    (3, 15): (f"{SID}/usr/bin/python3.15", f"{SID}/usr/lib/debug"),
}
# Other builds whose tables must match the committed ones (checked with --check).
CHECK_SOURCES = {
    (3, 11): [("/usr/bin/python3.11", "/usr/lib/debug")],
    (3, 13): [(f"{PYENV}/3.13.0/lib/libpython3.13.so.1.0", None)],
}

# (dataclass attribute in PythonLayout, field) -> candidate C expressions.
# "T.a.b" means offsetof(T, a.b); "sizeof T" the size; "=N" a literal; "enum X" a value.
FIELDS: dict[tuple[str, str], list[str]] = {
    ("runtime", "interpreters_head"): ["_PyRuntimeState.interpreters.head"],
    ("runtime", "interpreters_main"): ["_PyRuntimeState.interpreters.main"],
    ("runtime", "finalizing"): ["_PyRuntimeState._finalizing", "_PyRuntimeState.finalizing"],
    ("runtime", "tstate_current"): ["_PyRuntimeState.gilstate.tstate_current"],
    ("runtime", "gil_locked"): ["_PyRuntimeState.ceval.gil.locked"],
    ("runtime", "gil_last_holder"): ["_PyRuntimeState.ceval.gil.last_holder"],
    ("runtime", "gc_collecting"): ["_PyRuntimeState.gc.collecting"],

    ("interpreter", "size"): ["sizeof PyInterpreterState"],
    ("interpreter", "next"): ["PyInterpreterState.next"],
    ("interpreter", "id"): ["PyInterpreterState.id"],
    ("interpreter", "threads_head"): ["PyInterpreterState.threads.head",
                                      "PyInterpreterState.tstate_head"],
    ("interpreter", "threads_main"): ["PyInterpreterState.threads.main"],
    ("interpreter", "modules"): ["PyInterpreterState.imports.modules",
                                 "PyInterpreterState.modules"],
    ("interpreter", "sysdict"): ["PyInterpreterState.sysdict"],
    ("interpreter", "builtins"): ["PyInterpreterState.builtins"],
    ("interpreter", "gc_collecting"): ["PyInterpreterState.gc.collecting"],
    ("interpreter", "ceval_gil"): ["PyInterpreterState.ceval.gil"],
    ("interpreter", "finalizing"): ["PyInterpreterState._finalizing"],

    ("gil", "locked"): ["struct _gil_runtime_state.locked"],
    ("gil", "last_holder"): ["struct _gil_runtime_state.last_holder"],

    ("thread", "size"): ["sizeof PyThreadState"],
    ("thread", "prev"): ["PyThreadState.prev"],
    ("thread", "next"): ["PyThreadState.next"],
    ("thread", "interp"): ["PyThreadState.interp"],
    ("thread", "frame"): ["PyThreadState.frame"],
    ("thread", "cframe"): ["PyThreadState.cframe"],
    ("thread", "current_frame"): ["PyThreadState.current_frame"],
    ("thread", "thread_id"): ["PyThreadState.thread_id"],
    ("thread", "native_thread_id"): ["PyThreadState.native_thread_id"],

    ("cframe", "current_frame"): ["_PyCFrame.current_frame"],

    ("frame_object", "f_back"): ["PyFrameObject.f_back"],
    ("frame_object", "f_code"): ["PyFrameObject.f_code"],
    ("frame_object", "f_lasti"): ["PyFrameObject.f_lasti"],
    ("frame_object", "f_lineno"): ["PyFrameObject.f_lineno"],
    ("frame_object", "f_localsplus"): ["PyFrameObject.f_localsplus"],

    ("iframe", "size"): ["sizeof _PyInterpreterFrame"],
    ("iframe", "previous"): ["_PyInterpreterFrame.previous"],
    ("iframe", "code"): ["_PyInterpreterFrame.f_executable", "_PyInterpreterFrame.f_code"],
    ("iframe", "instr_ptr"): ["_PyInterpreterFrame.instr_ptr",
                              "_PyInterpreterFrame.prev_instr"],
    ("iframe", "owner"): ["_PyInterpreterFrame.owner"],
    ("iframe", "is_entry"): ["_PyInterpreterFrame.is_entry"],
    ("iframe", "localsplus"): ["_PyInterpreterFrame.localsplus"],
    ("iframe", "stackpointer"): ["_PyInterpreterFrame.stackpointer",
                                 "_PyInterpreterFrame.stacktop"],
    ("iframe", "tlbc_index"): ["_PyInterpreterFrame.tlbc_index"],

    ("code", "size"): ["sizeof PyCodeObject"],
    ("code", "argcount"): ["PyCodeObject.co_argcount"],
    ("code", "posonlyargcount"): ["PyCodeObject.co_posonlyargcount"],
    ("code", "kwonlyargcount"): ["PyCodeObject.co_kwonlyargcount"],
    ("code", "nlocals"): ["PyCodeObject.co_nlocals"],
    ("code", "flags"): ["PyCodeObject.co_flags"],
    ("code", "firstlineno"): ["PyCodeObject.co_firstlineno"],
    ("code", "filename"): ["PyCodeObject.co_filename"],
    ("code", "name"): ["PyCodeObject.co_name"],
    ("code", "qualname"): ["PyCodeObject.co_qualname"],
    ("code", "linetable"): ["PyCodeObject.co_linetable", "PyCodeObject.co_lnotab"],
    ("code", "code"): ["PyCodeObject.co_code"],
    ("code", "code_adaptive"): ["PyCodeObject.co_code_adaptive"],
    ("code", "varnames"): ["PyCodeObject.co_varnames"],
    ("code", "cellvars"): ["PyCodeObject.co_cellvars"],
    ("code", "freevars"): ["PyCodeObject.co_freevars"],
    ("code", "localsplusnames"): ["PyCodeObject.co_localsplusnames"],
    ("code", "localspluskinds"): ["PyCodeObject.co_localspluskinds"],
    ("code", "tlbc"): ["PyCodeObject.co_tlbc"],

    ("objects", "ob_type"): ["PyObject.ob_type"],
    ("objects", "ob_size"): ["PyVarObject.ob_size"],
    ("objects", "tp_name"): ["PyTypeObject.tp_name"],
    ("objects", "tp_basicsize"): ["PyTypeObject.tp_basicsize"],
    ("objects", "tp_itemsize"): ["PyTypeObject.tp_itemsize"],
    ("objects", "tp_dictoffset"): ["PyTypeObject.tp_dictoffset"],
    ("objects", "tp_flags"): ["PyTypeObject.tp_flags"],
    ("objects", "ht_cached_keys"): ["PyHeapTypeObject.ht_cached_keys"],
    ("objects", "unicode_length"): ["PyASCIIObject.length"],
    ("objects", "unicode_state"): ["PyASCIIObject.state"],
    ("objects", "unicode_ascii_size"): ["sizeof PyASCIIObject"],
    ("objects", "unicode_compact_size"): ["sizeof PyCompactUnicodeObject"],
    ("objects", "unicode_data"): ["PyUnicodeObject.data"],
    ("objects", "bytes_sval"): ["PyBytesObject.ob_sval", "PyStringObject.ob_sval"],
    ("objects", "long_digits"): ["PyLongObject.long_value.ob_digit", "PyLongObject.ob_digit"],
    ("objects", "long_size"): ["PyLongObject.long_value.lv_tag", "PyVarObject.ob_size"],
    ("objects", "int_ival"): ["PyIntObject.ob_ival"],
    ("objects", "float_fval"): ["PyFloatObject.ob_fval"],
    ("objects", "tuple_items"): ["PyTupleObject.ob_item"],
    ("objects", "list_items"): ["PyListObject.ob_item"],
    ("objects", "module_dict"): ["PyModuleObject.md_dict"],
    ("objects", "cell_ref"): ["PyCellObject.ob_ref"],
    ("objects", "tp_dict"): ["PyTypeObject.tp_dict"],
    ("objects", "func_name"): ["PyFunctionObject.func_name"],
    ("objects", "func_qualname"): ["PyFunctionObject.func_qualname"],
    ("objects", "dict_used"): ["PyDictObject.ma_used"],
    ("objects", "dict_keys"): ["PyDictObject.ma_keys"],
    ("objects", "dict_values"): ["PyDictObject.ma_values"],
    ("objects", "dict_mask"): ["PyDictObject.ma_mask"],
    ("objects", "dict_table"): ["PyDictObject.ma_table"],
    ("objects", "keys_size"): ["struct _dictkeysobject.dk_size"],
    ("objects", "keys_log2_size"): ["struct _dictkeysobject.dk_log2_size"],
    ("objects", "keys_log2_index_bytes"): ["struct _dictkeysobject.dk_log2_index_bytes"],
    ("objects", "keys_kind"): ["struct _dictkeysobject.dk_kind"],
    ("objects", "keys_nentries"): ["struct _dictkeysobject.dk_nentries"],
    ("objects", "keys_indices"): ["struct _dictkeysobject.dk_indices"],
    ("objects", "keys_entry_size"): ["sizeof PyDictKeyEntry"],
    ("objects", "keys_unicode_entry_size"): ["sizeof PyDictUnicodeEntry"],
    ("objects", "values_values"): ["struct _dictvalues.values"],
    ("objects", "gen_frame"): ["PyGenObject.gi_iframe", "PyGenObject.gi_frame"],
    # What reprs.py needs to render any builtin value.
    ("objects", "tp_base"): ["PyTypeObject.tp_base"],
    ("objects", "long_digit_size"): ["sizeof digit"],
    ("objects", "complex_cval"): ["PyComplexObject.cval"],
    ("objects", "bytearray_bytes"): ["PyByteArrayObject.ob_bytes"],
    ("objects", "bytearray_start"): ["PyByteArrayObject.ob_start"],
    ("objects", "set_used"): ["PySetObject.used"],
    ("objects", "set_mask"): ["PySetObject.mask"],
    ("objects", "set_table"): ["PySetObject.table"],
    ("objects", "set_entry_size"): ["sizeof setentry"],
    ("objects", "set_entry_key"): ["setentry.key"],
    # Values whose repr() memory gives: classes, bound methods, ranges, slices,
    # OrderedDict, defaultdict, deque.
    ("objects", "ht_qualname"): ["PyHeapTypeObject.ht_qualname"],
    ("objects", "ht_name"): ["PyHeapTypeObject.ht_name"],
    ("objects", "func_module"): ["PyFunctionObject.func_module"],
    ("objects", "member_descr_member"): ["PyMemberDescrObject.d_member"],
    ("objects", "member_def_offset"): ["PyMemberDef.offset", "struct PyMemberDef.offset"],
    ("objects", "method_func"): ["PyMethodObject.im_func"],
    ("objects", "method_self"): ["PyMethodObject.im_self"],
    ("objects", "method_class"): ["PyMethodObject.im_class"],
    ("objects", "range_start"): ["rangeobject.start"],
    ("objects", "range_stop"): ["rangeobject.stop"],
    ("objects", "range_step"): ["rangeobject.step"],
    ("objects", "slice_start"): ["PySliceObject.start"],
    ("objects", "slice_stop"): ["PySliceObject.stop"],
    ("objects", "slice_step"): ["PySliceObject.step"],
    ("objects", "dict_object_size"): ["sizeof PyDictObject"],
    ("objects", "odict_first"): ["PyODictObject.od_first"],
    ("objects", "odict_node_key"): ["_ODictNode.key"],
    ("objects", "odict_node_next"): ["_ODictNode.next"],
    ("objects", "deque_left_block"): ["dequeobject.leftblock"],
    ("objects", "deque_left_index"): ["dequeobject.leftindex"],
    ("objects", "deque_maxlen"): ["dequeobject.maxlen"],
    ("objects", "deque_size"): ["PyVarObject.ob_size"],
    ("objects", "block_data"): ["block.data", "struct BLOCK.data"],
    ("objects", "block_right"): ["block.rightlink", "struct BLOCK.rightlink"],
    ("objects", "set_entry_hash"): ["setentry.hash"],
    ("objects", "values_capacity"): ["struct _dictvalues.capacity"],
    # 2.7's unicode object (3.x's PyUnicodeObject has none of these members).
    ("objects", "unicode_py2_length"): ["PyUnicodeObject.length"],
    ("objects", "unicode_py2_str"): ["PyUnicodeObject.str"],
    ("objects", "unicode_py2_char_size"): ["sizeof ((PyUnicodeObject *)0)->str[0]"],

    ("constants", "frame_owned_by_thread"): ["enum FRAME_OWNED_BY_THREAD"],
    ("constants", "frame_owned_by_generator"): ["enum FRAME_OWNED_BY_GENERATOR"],
    ("constants", "frame_owned_by_frame_object"): ["enum FRAME_OWNED_BY_FRAME_OBJECT"],
    # 3.12+ push frames that run no Python code: "owned by the C stack" (3.12-3.14),
    # "owned by the interpreter" (3.14+, the entry frame of each eval-loop call).
    ("constants", "frame_owned_by_cstack"): ["enum FRAME_OWNED_BY_CSTACK"],
    ("constants", "frame_owned_by_interpreter"): ["enum FRAME_OWNED_BY_INTERPRETER"],
}

# Preprocessor macros leave no trace in DWARF: these come from the headers, by hand.
# Py_TPFLAGS_MANAGED_DICT (1 << 4) appeared in 3.11 (Include/object.h);
# Py_TPFLAGS_INLINE_VALUES (1 << 2) in 3.13.
# Where split values live for a managed dict (Objects/dictobject.c of each version):
# 3.11 keeps a values pointer before the dict pointer, 3.12 tags the values pointer
# into the dict slot (PyDictOrValues), 3.13 stores the values inline after the object.
_MANAGED_3_13 = {("constants", "tpflags_managed_dict"): 1 << 4,
                 ("constants", "tpflags_inline_values"): 1 << 2,
                 ("constants", "managed_values"): "inline"}
# Py_TPFLAGS_HEAPTYPE is (1 << 9) in every version we know (2.2 on).
COMMON_MACROS = {("constants", "tpflags_heaptype"): 1 << 9}


def repr_macros(version: tuple[int, int]) -> dict:
    """How the target's bytearray repr behaves (Objects/bytearrayobject.c).

    3.7 started naming the subclass (`B(b'x')` instead of `bytearray(b'x')`);
    until 3.14 it escapes every single quote even inside double quotes
    (`bytearray(b"it\\'s")`), 3.15 writes it like bytes.
    """
    return {("constants", "bytearray_repr_named"): version >= (3, 7),
            ("constants", "bytearray_repr_escapes_quote"): version <= (3, 14)}


MACROS = {
    (3, 11): {("constants", "tpflags_managed_dict"): 1 << 4,
              ("constants", "managed_values"): "before"},
    (3, 12): {("constants", "tpflags_managed_dict"): 1 << 4,
              ("constants", "managed_values"): "tagged"},
    (3, 13): _MANAGED_3_13,
    (3, 14): _MANAGED_3_13,
    (3, 15): _MANAGED_3_13,
}

GDB_SCRIPT = r'''
import gdb, json
def off(expr):
    try:
        if expr.startswith("sizeof "):
            return int(gdb.parse_and_eval("sizeof(%s)" % expr[7:]))
        if expr.startswith("enum "):
            return int(gdb.parse_and_eval("(long)%s" % expr[5:]))
        typ, member = expr.split(".", 1)
        return int(gdb.parse_and_eval("(long)&((%s *)0)->%s" % (typ, member)))
    except gdb.error:
        return None
def debug_offsets_schema():
    """Byte position of every uint64 in _Py_DebugOffsets, by dotted member name."""
    try:
        root = gdb.lookup_type("struct _Py_DebugOffsets")
    except gdb.error:
        return None
    schema = {}
    def walk(t, prefix, base):
        for f in t.strip_typedefs().fields():
            ft = f.type.strip_typedefs()
            pos = base + f.bitpos // 8
            if ft.code == gdb.TYPE_CODE_STRUCT:
                walk(ft, prefix + f.name + ".", pos)
            elif ft.code == gdb.TYPE_CODE_INT and ft.sizeof == 8:
                schema[prefix + f.name] = pos
    walk(root, "", 0)
    schema["__size__"] = root.sizeof
    return schema
exprs = json.load(open(EXPRS))
result = {e: off(e) for e in exprs}
result["__debug_offsets__"] = debug_offsets_schema()
json.dump(result, open(OUT, "w"))
'''


def evaluate(binary: str, debug_dir: str | None) -> dict[str, int | None]:
    exprs = sorted({e for cands in FIELDS.values() for e in cands})
    with tempfile.TemporaryDirectory() as tmp:
        exprs_path, out_path = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        with open(exprs_path, "w") as f:
            json.dump(exprs, f)
        script = os.path.join(tmp, "gen.py")
        with open(script, "w") as f:
            f.write(f"EXPRS = {exprs_path!r}\nOUT = {out_path!r}\n" + GDB_SCRIPT)
        cmd = ["gdb", "-batch", "-nx"]
        if debug_dir:
            cmd += ["-ex", f"set debug-file-directory {debug_dir}"]
        cmd += ["-ex", f"file {binary}", "-x", script]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with open(out_path) as f:
            return json.load(f)


def build_table(version: tuple[int, int], binary: str, debug_dir: str | None) -> dict:
    values = evaluate(binary, debug_dir)
    if values.get("PyThreadState.interp") is None:
        raise SystemExit(f"{binary}: no DWARF for PyThreadState (missing debug info?)")
    table: dict[str, dict[str, int]] = {}
    for (group, name), candidates in FIELDS.items():
        for expr in candidates:
            if values.get(expr) is not None:
                table.setdefault(group, {})[name] = values[expr]
                break
    macros = {**COMMON_MACROS, **repr_macros(version), **MACROS.get(version, {})}
    for (group, name), value in macros.items():
        table.setdefault(group, {})[name] = value
    schema = values.get("__debug_offsets__")
    if schema:
        table["__debug_offsets__"] = schema
    objects = table.setdefault("objects", {})
    if values.get("PyLongObject.long_value.lv_tag") is not None:
        objects["long_tagged"] = True  # 3.12+: ndigits << 3 | sign
    return table


CLASSES = {
    "runtime": "RuntimeLayout", "interpreter": "InterpreterLayout", "gil": "GilLayout",
    "thread": "ThreadStateLayout", "cframe": "CFrameLayout",
    "frame_object": "FrameObjectLayout", "iframe": "InterpreterFrameLayout",
    "code": "CodeLayout", "objects": "ObjectLayout", "constants": "Constants",
}


def render(version: tuple[int, int], source: str, table: dict) -> str:
    lines = [
        f'"""CPython {version[0]}.{version[1]} structure layout.',
        "",
        f"Generated by scripts/gen_layouts.py from the DWARF of {source}.",
        "Do not edit by hand: change the generator and run it again.",
        '"""',
        "from ..layout import (CFrameLayout, CodeLayout, Constants, GilLayout,",
        "                      InterpreterFrameLayout, InterpreterLayout, ObjectLayout,",
        "                      PythonLayout, RuntimeLayout, ThreadStateLayout,",
        "                      FrameObjectLayout)",
        "",
        "LAYOUT = PythonLayout(",
        f"    version={version!r},",
        f"    source={source!r},",
    ]
    for group, cls in CLASSES.items():
        fields = table.get(group)
        if not fields:
            continue
        lines.append(f"    {group}={cls}(")
        for name, value in fields.items():
            lines.append(f"        {name}={value!r},")
        lines.append("    ),")
    lines.append(")")
    schema = table.get("__debug_offsets__")
    if schema:
        lines += ["", "# Byte position of each member of this version's _Py_DebugOffsets.",
                  "DEBUG_OFFSETS_SCHEMA = {"]
        lines += [f"    {name!r}: {pos}," for name, pos in schema.items()]
        lines.append("}")
    return "\n".join(lines) + "\n"


def source_label(binary: str) -> str:
    label = binary.replace(SID, "sid:").replace(PYENV, "pyenv:")
    return label


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="one version, like 3.11")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    os.makedirs(OUT_DIR, exist_ok=True)
    status = 0
    for version, (binary, debug_dir) in SOURCES.items():
        if args.only and args.only != "%d.%d" % version:
            continue
        if not os.path.exists(binary):
            print(f"skip {version}: {binary} missing", file=sys.stderr)
            continue
        table = build_table(version, binary, debug_dir)
        if args.check:
            for other, other_debug in CHECK_SOURCES.get(version, []):
                if not os.path.exists(other):
                    print(f"skip check {other}: missing", file=sys.stderr)
                    continue
                try:
                    other_table = build_table(version, other, other_debug)
                except SystemExit as e:
                    print(f"skip check {other}: {e}", file=sys.stderr)
                    continue
                for group in sorted((set(table) | set(other_table)) - {"__debug_offsets__"}):
                    a, b = table.get(group, {}), other_table.get(group, {})
                    for name in sorted(set(a) | set(b)):
                        if a.get(name) != b.get(name):
                            status = 1
                            print(f"{version} {other}: {group}.{name} "
                                  f"{a.get(name)} != {b.get(name)}")
            continue
        path = os.path.join(OUT_DIR, "v%d_%d.py" % version)
        with open(path, "w") as f:
            f.write(render(version, source_label(binary), table))
        print(f"wrote {path}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
