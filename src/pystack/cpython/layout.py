"""Where each field of each CPython structure lives, as data.

One `PythonLayout` bundle per minor version holds one frozen dataclass per C structure,
built by keyword (a field the version lacks is `None`, so nothing shifts when one is
missing). The bundles for 2.7 and 3.6-3.15 are generated from DWARF by
`scripts/gen_layouts.py` into `layouts/`; for 3.13+ the target's own `_Py_DebugOffsets`
overrides them at run time (`debug_offsets.py`).

Walkers never compare version numbers: they ask the bundle's named capabilities
(`frame_kind`, `tagged_code_pointer`, ...) that are derived here, once.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

Off = Optional[int]


@dataclass(frozen=True)
class RuntimeLayout:
    """`_PyRuntimeState` (3.7+); absent before 3.7 (globals `interp_head` instead)."""

    interpreters_head: Off = None
    interpreters_main: Off = None
    finalizing: Off = None
    tstate_current: Off = None  # gilstate.tstate_current, 3.7-3.11
    gil_locked: Off = None  # ceval.gil.locked, 3.7-3.11 (one GIL per runtime)
    gil_last_holder: Off = None
    gc_collecting: Off = None  # gc.collecting, 3.7-3.8


@dataclass(frozen=True)
class InterpreterLayout:
    """`PyInterpreterState`."""

    size: Off = None
    next: Off = None
    id: Off = None
    threads_head: Off = None  # tstate_head before 3.12
    threads_main: Off = None
    modules: Off = None  # imports.modules from 3.12
    sysdict: Off = None
    builtins: Off = None
    gc_collecting: Off = None  # gc.collecting, 3.9+
    ceval_gil: Off = None  # pointer to the interpreter's GIL, 3.12+
    finalizing: Off = None


@dataclass(frozen=True)
class GilLayout:
    """`struct _gil_runtime_state` (the GIL itself)."""

    locked: Off = None
    last_holder: Off = None


@dataclass(frozen=True)
class ThreadStateLayout:
    """`PyThreadState`."""

    size: Off = None
    prev: Off = None
    next: Off = None
    interp: Off = None
    frame: Off = None  # PyFrameObject*, up to 3.10
    cframe: Off = None  # _PyCFrame*, 3.11-3.12
    current_frame: Off = None  # _PyInterpreterFrame*, 3.13+ (through cframe before)
    thread_id: Off = None
    native_thread_id: Off = None  # 3.8+


@dataclass(frozen=True)
class CFrameLayout:
    """`_PyCFrame` (3.11-3.12): the thread state points at it, it points at the frame."""

    current_frame: Off = None


@dataclass(frozen=True)
class FrameObjectLayout:
    """`PyFrameObject` as the frame chain of 2.7-3.10."""

    f_back: Off = None
    f_code: Off = None
    f_lasti: Off = None
    f_lineno: Off = None
    f_localsplus: Off = None


@dataclass(frozen=True)
class InterpreterFrameLayout:
    """`_PyInterpreterFrame` (3.11+)."""

    size: Off = None
    previous: Off = None
    code: Off = None  # f_code (3.11-3.12), f_executable (3.13+)
    instr_ptr: Off = None  # prev_instr (3.11-3.12), instr_ptr (3.13+)
    owner: Off = None
    is_entry: Off = None  # 3.11 only
    localsplus: Off = None
    stackpointer: Off = None
    tlbc_index: Off = None


@dataclass(frozen=True)
class CodeLayout:
    """`PyCodeObject`."""

    size: Off = None
    argcount: Off = None
    posonlyargcount: Off = None
    kwonlyargcount: Off = None
    nlocals: Off = None
    flags: Off = None
    firstlineno: Off = None
    filename: Off = None
    name: Off = None
    qualname: Off = None  # 3.11+
    linetable: Off = None  # co_lnotab up to 3.9, co_linetable after
    code: Off = None  # co_code (bytes object), up to 3.10
    code_adaptive: Off = None  # inline bytecode, 3.11+
    varnames: Off = None
    cellvars: Off = None
    freevars: Off = None
    localsplusnames: Off = None  # 3.11+
    localspluskinds: Off = None
    tlbc: Off = None


@dataclass(frozen=True)
class ObjectLayout:
    """The object header and the builtin objects we decode."""

    ob_type: int = 8
    ob_size: int = 16  # PyVarObject
    tp_name: Off = None
    tp_basicsize: Off = None
    tp_dictoffset: Off = None
    tp_flags: Off = None
    ht_cached_keys: Off = None
    # str (3.x unicode; 2.7 str is the bytes layout)
    unicode_length: Off = None
    unicode_state: Off = None
    unicode_ascii_size: Off = None  # sizeof(PyASCIIObject): where compact ASCII data starts
    unicode_compact_size: Off = None  # sizeof(PyCompactUnicodeObject)
    unicode_data: Off = None  # PyUnicodeObject.data (legacy, non-compact strings)
    unicode_kind_shift: int = 2  # bit position of `kind` in `state`
    unicode_compact_shift: int = 5
    unicode_ascii_shift: int = 6
    # bytes (and 2.7 str)
    bytes_sval: Off = None
    # int
    long_digits: Off = None
    long_size: Off = None  # ob_size (sign and digit count) or lv_tag (3.12+)
    long_tagged: bool = False  # 3.12+: lv_tag = ndigits << 3 | sign bits
    int_ival: Off = None  # 2.7 PyIntObject
    float_fval: Off = None
    tuple_items: Off = None
    list_items: Off = None
    module_dict: Off = None
    # dict
    dict_used: Off = None
    dict_keys: Off = None
    dict_values: Off = None
    dict_mask: Off = None  # 2.7 open-addressing table
    dict_table: Off = None
    keys_size: Off = None  # dk_size (3.6-3.10)
    keys_log2_size: Off = None  # dk_log2_size (3.11+)
    keys_log2_index_bytes: Off = None
    keys_kind: Off = None
    keys_nentries: Off = None
    keys_indices: Off = None
    keys_entry_size: Off = None  # PyDictKeyEntry
    keys_unicode_entry_size: Off = None  # PyDictUnicodeEntry (3.11+)
    values_values: Off = None  # offset of the array inside PyDictValues
    gen_frame: Off = None  # gi_frame (<=3.10) / gi_iframe (3.11+)


@dataclass(frozen=True)
class Constants:
    """Enum values and flag bits that the walkers test against."""

    frame_owned_by_thread: Off = None
    frame_owned_by_generator: Off = None
    frame_owned_by_frame_object: Off = None
    frame_owned_by_cstack: Off = None  # 3.12-3.14 shim frames
    frame_owned_by_interpreter: Off = None  # 3.14+ entry frames on the C stack
    tpflags_managed_dict: Off = None
    tpflags_inline_values: Off = None
    #: Where an instance with a managed dict keeps its split values when it has no
    #: dict yet: "before" the object (3.11), "tagged" in the dict slot (3.12),
    #: "inline" after the object (3.13+).
    managed_values: Optional[str] = None
    code_unit_size: int = 2


@dataclass(frozen=True)
class PythonLayout:
    """Everything version-specific about one CPython minor version."""

    version: tuple  # (major, minor)
    source: str = ""  # what the table was generated from
    runtime: RuntimeLayout = field(default_factory=RuntimeLayout)
    interpreter: InterpreterLayout = field(default_factory=InterpreterLayout)
    gil: GilLayout = field(default_factory=GilLayout)
    thread: ThreadStateLayout = field(default_factory=ThreadStateLayout)
    cframe: CFrameLayout = field(default_factory=CFrameLayout)
    frame_object: FrameObjectLayout = field(default_factory=FrameObjectLayout)
    iframe: InterpreterFrameLayout = field(default_factory=InterpreterFrameLayout)
    code: CodeLayout = field(default_factory=CodeLayout)
    objects: ObjectLayout = field(default_factory=ObjectLayout)
    constants: Constants = field(default_factory=Constants)
    free_threaded: bool = False

    # -- capabilities: the only place that knows which version does what -----------
    @property
    def has_interpreter_frames(self) -> bool:
        """3.11+: frames are `_PyInterpreterFrame`s, not frame objects."""
        return self.iframe.previous is not None

    @property
    def has_runtime_state(self) -> bool:
        """3.7+: a `_PyRuntime` global leads to the interpreters."""
        return self.runtime.interpreters_head is not None

    @property
    def shim_owners(self) -> frozenset:
        """`owner` values of frames that run no Python code (3.12+ shims, 3.14+ entries)."""
        c = self.constants
        return frozenset(v for v in (c.frame_owned_by_cstack, c.frame_owned_by_interpreter)
                         if v is not None)

    @property
    def has_shim_frames(self) -> bool:
        """3.12+: C-stack-owned frames separate entries into the eval loop."""
        return bool(self.shim_owners)

    @property
    def tagged_code_pointer(self) -> bool:
        """3.14+: `f_executable` is a `_PyStackRef` whose low bits are tags."""
        return self.version >= (3, 14)

    @property
    def is_python2(self) -> bool:
        return self.version[0] == 2

    @property
    def lasti_is_instruction_index(self) -> bool:
        """3.10 counts `f_lasti` in code units; earlier versions count bytes."""
        return self.version == (3, 10)

    @property
    def line_table_format(self) -> str:
        if self.version >= (3, 11):
            return "locations"
        if self.version == (3, 10):
            return "linetable310"
        return "lnotab"

    def replace(self, **changes) -> "PythonLayout":
        return dataclasses.replace(self, **changes)
