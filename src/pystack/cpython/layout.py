"""Where each field of each CPython structure lives, as data.

One `PythonLayout` bundle per minor version holds one frozen record per C structure,
built by keyword (a field the version lacks is `None`, so nothing shifts when one is
missing). The bundles for 2.7 and 3.6-3.15 are generated from DWARF by
`scripts/gen_layouts.py` into `layouts/`; for 3.13+ the target's own `_Py_DebugOffsets`
overrides them at run time (`debug_offsets.py`).

Walkers never compare version numbers: they ask the bundle's named capabilities
(`frame_kind`, `tagged_code_pointer`, ...) that are derived here, once.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Any, Optional

    Off = Optional[int]  # an offset, None where the version has no such field


class _Record:
    """A frozen, keyword-built record whose fields are the annotated class attributes.

    Works like a frozen dataclass for what we need (keywords, defaults, equality,
    `replace`) at a fraction of the import cost: a dump imports one layout module and
    these classes on every run. Unknown keywords are an error, so a typo in a
    generated table fails loudly instead of leaving a field at None.
    """

    __fields__: tuple = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list = []
        for klass in reversed(cls.__mro__):
            names += [n for n in vars(klass).get("__annotations__", {}) if n not in names]
        cls.__fields__ = tuple(n for n in names if n != "__fields__")

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(self.__fields__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)}")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def replace(self, **changes: Any):
        values = {n: self.__dict__[n] for n in self.__fields__ if n in self.__dict__}
        values.update(changes)
        return type(self)(**values)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, n) == getattr(other, n) for n in self.__fields__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__fields__))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={self.__dict__[n]!r}" for n in self.__fields__
                          if n in self.__dict__)
        return f"{type(self).__name__}({shown})"


class RuntimeLayout(_Record):
    """`_PyRuntimeState` (3.7+); absent before 3.7 (globals `interp_head` instead)."""

    interpreters_head: Off = None
    interpreters_main: Off = None
    finalizing: Off = None
    tstate_current: Off = None  # gilstate.tstate_current, 3.7-3.11
    gil_locked: Off = None  # ceval.gil.locked, 3.7-3.11 (one GIL per runtime)
    gil_last_holder: Off = None
    gc_collecting: Off = None  # gc.collecting, 3.7-3.8


class InterpreterLayout(_Record):
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


class GilLayout(_Record):
    """`struct _gil_runtime_state` (the GIL itself)."""

    locked: Off = None
    last_holder: Off = None


class ThreadStateLayout(_Record):
    """`PyThreadState`."""

    size: Off = None
    prev: Off = None
    next: Off = None
    interp: Off = None
    frame: Off = None  # PyFrameObject*, up to 3.10
    cframe: Off = None  # _PyCFrame*, 3.11-3.12
    current_frame: Off = None  # _PyInterpreterFrame*, 3.13+ (through cframe before)
    thread_id: Off = None
    native_thread_id: Off = None  # 3.11+


class CFrameLayout(_Record):
    """`_PyCFrame` (3.11-3.12): the thread state points at it, it points at the frame."""

    current_frame: Off = None


class FrameObjectLayout(_Record):
    """`PyFrameObject` as the frame chain of 2.7-3.10."""

    f_back: Off = None
    f_code: Off = None
    f_lasti: Off = None
    f_lineno: Off = None
    f_localsplus: Off = None


class InterpreterFrameLayout(_Record):
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


class CodeLayout(_Record):
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


class ObjectLayout(_Record):
    """The object header and the builtin objects we decode."""

    ob_type: int = 8
    ob_size: int = 16  # PyVarObject
    tp_name: Off = None
    tp_basicsize: Off = None
    tp_itemsize: Off = None  # a negative tp_dictoffset counts from the items' end
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
    cell_ref: Off = None  # PyCellObject.ob_ref
    tp_dict: Off = None
    func_name: Off = None
    func_qualname: Off = None  # 3.3+
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
    # -- what reprs.py needs beyond the above -------------------------------------
    tp_base: Off = None  # walked to find the builtin a heap type derives from
    long_digit_size: Off = None  # sizeof(digit): 4 for 30-bit digits, 2 for 15-bit
    complex_cval: Off = None  # Py_complex {double real, imag}
    bytearray_bytes: Off = None  # ob_bytes: the allocation
    bytearray_start: Off = None  # ob_start (3.x): where the value begins inside it
    set_used: Off = None
    set_mask: Off = None
    set_table: Off = None
    set_entry_size: Off = None  # sizeof(setentry)
    set_entry_key: Off = None
    # classes, bound methods, ranges, slices, OrderedDict, defaultdict, deque
    ht_qualname: Off = None  # PyHeapTypeObject.ht_qualname (3.3+)
    ht_name: Off = None
    func_module: Off = None  # PyFunctionObject.func_module (__module__)
    member_descr_member: Off = None  # a __slots__ entry's descriptor -> its PyMemberDef
    member_def_offset: Off = None  # PyMemberDef.offset: where the slot is in the object
    method_func: Off = None  # PyMethodObject.im_func
    method_self: Off = None
    method_class: Off = None  # 2.7 only
    range_start: Off = None
    range_stop: Off = None
    range_step: Off = None
    slice_start: Off = None
    slice_stop: Off = None
    slice_step: Off = None
    dict_object_size: Off = None  # sizeof(PyDictObject): where a C subclass's fields start
    odict_first: Off = None  # PyODictObject.od_first: the OrderedDict's own order
    odict_node_key: Off = None
    odict_node_next: Off = None
    deque_left_block: Off = None
    deque_left_index: Off = None
    deque_maxlen: Off = None
    deque_size: Off = None
    block_data: Off = None  # a deque block: data[BLOCKLEN] between its two links
    block_right: Off = None
    set_entry_hash: Off = None
    values_capacity: Off = None  # 3.13+: the insertion order follows `capacity` slots
    unicode_py2_length: Off = None  # 2.7 PyUnicodeObject
    unicode_py2_str: Off = None
    unicode_py2_char_size: Off = None  # sizeof(Py_UNICODE): 2 (UCS-2) or 4 (UCS-4)


class Constants(_Record):
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
    tpflags_heaptype: Off = None  # Py_TPFLAGS_HEAPTYPE
    #: The target's bytearray repr names the subclass (3.7+) rather than "bytearray".
    bytearray_repr_named: bool = False
    #: The target's bytearray repr escapes every ' even between double quotes (<= 3.14).
    bytearray_repr_escapes_quote: bool = False


class PythonLayout(_Record):
    """Everything version-specific about one CPython minor version."""

    version: tuple  # (major, minor)
    source: str = ""  # what the table was generated from
    runtime: RuntimeLayout = RuntimeLayout()
    interpreter: InterpreterLayout = InterpreterLayout()
    gil: GilLayout = GilLayout()
    thread: ThreadStateLayout = ThreadStateLayout()
    cframe: CFrameLayout = CFrameLayout()
    frame_object: FrameObjectLayout = FrameObjectLayout()
    iframe: InterpreterFrameLayout = InterpreterFrameLayout()
    code: CodeLayout = CodeLayout()
    objects: ObjectLayout = ObjectLayout()
    constants: Constants = Constants()
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

