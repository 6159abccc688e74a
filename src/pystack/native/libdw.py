"""ctypes bindings to elfutils' libdw (which contains libdwfl) and libelf.

Only the functions the native layer calls are declared.  The libraries are
loaded on first use, not at import: a Python-only dump never needs them, and
a machine without elfutils must still be able to run pystack (it then gets a
`NativeUnavailable` error the moment native frames are asked for).

We bind to the shared objects of the elfutils runtime package (libdw1), not to
the development symlinks, so nothing beyond the runtime package is required.
"""
from __future__ import annotations

import ctypes
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_size_t,
    c_uint,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)

from pystack.errors import EngineError

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Any, Optional

__all__ = [
    "NativeUnavailable",
    "Dwfl_Callbacks",
    "Dwarf_Die",
    "Dwarf_Attribute",
    "GElf_Sym",
    "FIND_ELF",
    "FRAME_CALLBACK",
    "THREAD_CALLBACK",
    "lib",
    "errmsg",
]

_LIBDW_NAMES = ("libdw.so.1",)
_LIBELF_NAMES = ("libelf.so.1",)

#: Values from libelf.h / libdw.h / dwarf.h used by the native layer.
EV_CURRENT = 1
ELF_C_READ_MMAP = 8
DWARF_CB_OK = 0
DWARF_CB_ABORT = 1

DW_TAG_entry_point = 0x03
DW_TAG_inlined_subroutine = 0x1D
DW_TAG_subprogram = 0x2E
DW_TAG_class_type = 0x02
DW_TAG_structure_type = 0x13
DW_TAG_union_type = 0x17
DW_TAG_namespace = 0x39
DW_AT_name = 0x03
DW_AT_specification = 0x47
DW_AT_abstract_origin = 0x31
DW_AT_call_column = 0x57
DW_AT_call_file = 0x58
DW_AT_call_line = 0x59
DW_AT_linkage_name = 0x6E
DW_AT_MIPS_linkage_name = 0x2007


class NativeUnavailable(EngineError):
    """Native stacks were asked for but elfutils' libdw cannot be loaded."""


class Dwarf_Die(Structure):
    """libdw's DIE handle: an opaque 4-word value struct the caller owns."""

    _fields_ = [("addr", c_void_p), ("cu", c_void_p), ("abbrev", c_void_p), ("padding__", ctypes.c_long)]


class Dwarf_Attribute(Structure):
    _fields_ = [("code", c_uint), ("form", c_uint), ("valp", c_void_p), ("cu", c_void_p)]


class GElf_Sym(Structure):
    """Elf64_Sym (GElf_Sym is the 64-bit layout on every host)."""

    _fields_ = [
        ("st_name", c_uint32),
        ("st_info", c_uint8),
        ("st_other", c_uint8),
        ("st_shndx", c_uint16),
        ("st_value", c_uint64),
        ("st_size", c_uint64),
    ]


#: int (*find_elf)(Dwfl_Module *, void **userdata, const char *modname,
#:                 Dwarf_Addr base, char **file_name, Elf **elfp)
FIND_ELF = CFUNCTYPE(c_int, c_void_p, c_void_p, c_char_p, c_uint64, POINTER(c_void_p), POINTER(c_void_p))
#: int (*)(Dwfl_Frame *state, void *arg)
FRAME_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_void_p)
#: int (*)(Dwfl_Thread *thread, void *arg)
THREAD_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_void_p)


class Dwfl_Callbacks(Structure):
    """The callbacks struct `dwfl_begin` keeps a pointer to for the Dwfl's whole life.

    Fields are plain pointers so that both C functions of libdw (the standard
    find_debuginfo) and ctypes callbacks can be stored; the owner must keep
    the ctypes callback objects and the debuginfo path string alive.
    """

    _fields_ = [
        ("find_elf", c_void_p),
        ("find_debuginfo", c_void_p),
        ("section_address", c_void_p),
        ("debuginfo_path", POINTER(c_char_p)),
    ]


# (name, restype, argtypes) of every function we call.
_DW_FUNCS: list[tuple[str, Any, list[Any]]] = [
    ("dwfl_begin", c_void_p, [POINTER(Dwfl_Callbacks)]),
    ("dwfl_end", None, [c_void_p]),
    ("dwfl_errno", c_int, []),
    ("dwfl_errmsg", c_char_p, [c_int]),
    ("dwfl_report_begin", None, [c_void_p]),
    ("dwfl_report_begin_add", None, [c_void_p]),
    ("dwfl_report_end", c_int, [c_void_p, c_void_p, c_void_p]),
    ("dwfl_report_elf", c_void_p, [c_void_p, c_char_p, c_char_p, c_int, c_uint64, c_bool]),
    ("dwfl_linux_proc_report", c_int, [c_void_p, c_int]),
    ("dwfl_linux_proc_attach", c_int, [c_void_p, c_int, c_bool]),
    ("dwfl_core_file_report", c_int, [c_void_p, c_void_p, c_char_p]),
    ("dwfl_core_file_attach", c_int, [c_void_p, c_void_p]),
    ("dwfl_getthreads", c_int, [c_void_p, THREAD_CALLBACK, c_void_p]),
    ("dwfl_thread_tid", c_int, [c_void_p]),
    ("dwfl_thread_getframes", c_int, [c_void_p, FRAME_CALLBACK, c_void_p]),
    ("dwfl_getthread_frames", c_int, [c_void_p, c_int, FRAME_CALLBACK, c_void_p]),
    ("dwfl_frame_pc", c_bool, [c_void_p, POINTER(c_uint64), POINTER(c_bool)]),
    ("dwfl_addrmodule", c_void_p, [c_void_p, c_uint64]),
    (
        "dwfl_module_info",
        c_char_p,
        [c_void_p, c_void_p, POINTER(c_uint64), POINTER(c_uint64), c_void_p, c_void_p,
         POINTER(c_char_p), POINTER(c_char_p)],
    ),
    ("dwfl_module_build_id", c_int, [c_void_p, POINTER(c_void_p), POINTER(c_uint64)]),
    ("dwfl_module_getelf", c_void_p, [c_void_p, POINTER(c_uint64)]),
    (
        "dwfl_module_addrinfo",
        c_char_p,
        [c_void_p, c_uint64, POINTER(c_uint64), POINTER(GElf_Sym), c_void_p, c_void_p, c_void_p],
    ),
    ("dwfl_module_getsrc", c_void_p, [c_void_p, c_uint64]),
    ("dwfl_lineinfo", c_char_p, [c_void_p, c_void_p, POINTER(c_int), POINTER(c_int), c_void_p, c_void_p]),
    ("dwfl_module_addrdie", POINTER(Dwarf_Die), [c_void_p, c_uint64, POINTER(c_uint64)]),
    ("dwarf_getscopes", c_int, [POINTER(Dwarf_Die), c_uint64, POINTER(POINTER(Dwarf_Die))]),
    ("dwarf_getscopes_die", c_int, [POINTER(Dwarf_Die), POINTER(POINTER(Dwarf_Die))]),
    ("dwarf_tag", c_int, [POINTER(Dwarf_Die)]),
    ("dwarf_dieoffset", c_uint64, [POINTER(Dwarf_Die)]),
    ("dwarf_attr_integrate", POINTER(Dwarf_Attribute), [POINTER(Dwarf_Die), c_uint, POINTER(Dwarf_Attribute)]),
    ("dwarf_attr", POINTER(Dwarf_Attribute), [POINTER(Dwarf_Die), c_uint, POINTER(Dwarf_Attribute)]),
    ("dwarf_formref_die", POINTER(Dwarf_Die), [POINTER(Dwarf_Attribute), POINTER(Dwarf_Die)]),
    ("dwarf_formstring", c_char_p, [POINTER(Dwarf_Attribute)]),
    ("dwarf_formudata", c_int, [POINTER(Dwarf_Attribute), POINTER(c_uint64)]),
    ("dwarf_diecu", POINTER(Dwarf_Die), [POINTER(Dwarf_Die), POINTER(Dwarf_Die), c_void_p, c_void_p]),
    ("dwarf_srclang", c_int, [POINTER(Dwarf_Die)]),
    ("dwarf_getsrcfiles", c_int, [POINTER(Dwarf_Die), POINTER(c_void_p), POINTER(c_size_t)]),
    ("dwarf_filesrc", c_char_p, [c_void_p, c_size_t, c_void_p, c_void_p]),
    ("dwfl_standard_find_debuginfo", c_int, []),  # only its address is used
    ("dwfl_build_id_find_elf", c_int, [c_void_p, c_void_p, c_char_p, c_uint64, POINTER(c_void_p), POINTER(c_void_p)]),
    ("dwfl_linux_proc_find_elf", c_int, [c_void_p, c_void_p, c_char_p, c_uint64, POINTER(c_void_p), POINTER(c_void_p)]),
]

#: Functions newer than the oldest elfutils we support: None on the library object
#: where absent, and what needs them does without.
_DW_OPTIONAL_FUNCS: list[tuple[str, Any, list[Any]]] = [
    # 0.188: a register of an unwound frame (the stack pointer places entry frames).
    ("dwfl_frame_reg", c_int, [c_void_p, c_uint, POINTER(c_uint64)]),
    ("dwfl_version", c_char_p, [c_void_p]),
]

_ELF_FUNCS: list[tuple[str, Any, list[Any]]] = [
    ("elf_version", c_uint, [c_uint]),
    ("elf_begin", c_void_p, [c_int, c_int, c_void_p]),
    ("elf_end", c_int, [c_void_p]),
    ("elf_errmsg", c_char_p, [c_int]),
    ("elf_errno", c_int, []),
]

_LIBC_FUNCS: list[tuple[str, Any, list[Any]]] = [
    ("free", None, [c_void_p]),
    ("strdup", c_void_p, [c_char_p]),
]


class _Lib:
    """The loaded libraries with typed functions as attributes (`lib().dwfl_begin`)."""

    def __init__(self) -> None:
        self.dw = _load(_LIBDW_NAMES, "dw")
        self.elf = _load(_LIBELF_NAMES, "elf")
        # dlopen(NULL): the C library our own interpreter already uses.
        self.c = ctypes.CDLL(None)
        for library, table in ((self.dw, _DW_FUNCS), (self.elf, _ELF_FUNCS), (self.c, _LIBC_FUNCS)):
            for name, restype, argtypes in table:
                try:
                    func = getattr(library, name)
                except AttributeError as exc:
                    raise NativeUnavailable(
                        f"{library._name} lacks {name}: elfutils is too old; "
                        "install libdw1 (elfutils) 0.158 or newer"
                    ) from exc
                func.restype = restype
                func.argtypes = argtypes
                setattr(self, name, func)
        for name, restype, argtypes in _DW_OPTIONAL_FUNCS:
            func = getattr(self.dw, name, None)
            if func is not None:
                func.restype = restype
                func.argtypes = argtypes
            setattr(self, name, func)
        # libelf refuses every call until a version has been negotiated.
        self.elf_version(EV_CURRENT)

    def address_of(self, name: str) -> int:
        """The C address of a library function, to store in a callbacks struct."""
        value = ctypes.cast(getattr(self, name), c_void_p).value
        assert value is not None
        return value


def _load(names: tuple[str, ...], short: str) -> ctypes.CDLL:
    """dlopen by soname only: ctypes.util.find_library would run ldconfig or a
    compiler, and pystack never runs another program."""
    errors = []
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as exc:
            errors.append(str(exc))
    raise NativeUnavailable(
        f"native stacks need elfutils' lib{short} ({', '.join(names)}), which cannot be loaded: "
        f"install libdw1 (elfutils). ({'; '.join(errors)})"
    )


_LIB: Optional[_Lib] = None
_LOCK = threading.Lock()


def lib() -> _Lib:
    """Load libdw/libelf once, on first use; raise `NativeUnavailable` if absent."""
    global _LIB
    if _LIB is None:
        with _LOCK:
            if _LIB is None:
                _LIB = _Lib()
    return _LIB


def errmsg() -> str:
    """The message of the calling thread's last libdwfl error ("" if none)."""
    library = lib()
    code = library.dwfl_errno()
    if not code:
        return ""
    msg = library.dwfl_errmsg(code)
    return msg.decode("utf-8", "replace") if msg else f"libdwfl error {code}"


def elf_errmsg() -> str:
    library = lib()
    msg = library.elf_errmsg(-1)
    return msg.decode("utf-8", "replace") if msg else "unknown libelf error"


def available() -> bool:
    """True when libdw can be loaded (without raising)."""
    try:
        lib()
    except NativeUnavailable:
        return False
    return True

