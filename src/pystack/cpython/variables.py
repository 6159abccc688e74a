"""Arguments and local variables of a frame, rendered as the target's repr() would.

A frame keeps its variables in one array (`f_localsplus` up to 3.10, `localsplus`
from 3.11) in the order the code declares them: up to 3.10 the names are
`co_varnames + co_cellvars + co_freevars`; from 3.11 `co_localsplusnames`, with a
kind byte per slot. The first `argcount + kwonlyargcount (+ *args) (+ **kwargs)`
names are the arguments. Cell and free variables hold cell objects: we show what
the cell holds. Unbound variables (NULL slots) are left out, as `locals()` does.
"""
from __future__ import annotations


from ..errors import MemoryReadError
from .objects import ObjectError, Objects
from .reprs import DEFAULT_MAX_LEN, render

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Optional

CO_VARARGS = 0x4
CO_VARKEYWORDS = 0x8
# co_localspluskinds bits (Include/internal/pycore_code.h, 3.11+)
CO_FAST_HIDDEN = 0x10
CO_FAST_CELL = 0x40
CO_FAST_FREE = 0x80
MAX_VARIABLES = 4096


def frame_variables(objects: Objects, frame_address: int, code: int, *,
                    max_len: int = DEFAULT_MAX_LEN) -> tuple[dict, dict]:
    """(arguments, locals) of one frame: names mapped to rendered values."""
    layout = objects.layout
    mem = objects.mem
    c = layout.code
    flags = mem.i32(code + c.flags)
    nargs = mem.i32(code + c.argcount) + (mem.i32(code + c.kwonlyargcount)
                                          if c.kwonlyargcount is not None else 0)
    nargs += bool(flags & CO_VARARGS) + bool(flags & CO_VARKEYWORDS)
    if layout.has_interpreter_frames:
        names = _names(objects, code + c.localsplusnames)
        kinds = objects.read_bytes(mem.ptr(code + c.localspluskinds), MAX_VARIABLES)
        base = frame_address + layout.iframe.localsplus
        cells = {i for i, kind in enumerate(kinds) if kind & (CO_FAST_CELL | CO_FAST_FREE)}
        hidden = {i for i, kind in enumerate(kinds) if kind & CO_FAST_HIDDEN}
    else:
        varnames = _names(objects, code + c.varnames)
        cellvars = _names(objects, code + c.cellvars)
        freevars = _names(objects, code + c.freevars)
        names = varnames + cellvars + freevars
        base = frame_address + layout.frame_object.f_localsplus
        cells = set(range(len(varnames), len(names)))
        hidden = set()
    names = names[:MAX_VARIABLES]
    raw = mem.read(base, 8 * len(names)) if names else b""
    tag_mask = ~7 if layout.tagged_code_pointer else ~0  # 3.14+ slots are _PyStackRefs
    values: dict[str, int] = {}
    order: list[str] = []
    for i, name in enumerate(names):
        if i in hidden:
            continue
        pointer = int.from_bytes(raw[8 * i:8 * i + 8], "little") & tag_mask
        if pointer and i in cells:
            pointer = _cell_contents(objects, pointer)
        if name not in values:
            order.append(name)
        if pointer:  # an argument captured by a closure lives in its cell (<= 3.10)
            values[name] = pointer
    arguments: dict[str, str] = {}
    local_vars: dict[str, str] = {}
    argument_names = set(names[:nargs])
    for name in order:
        if name not in values:
            continue
        text = render(objects, values[name], max_len=max_len)
        (arguments if name in argument_names else local_vars)[name] = text
    return arguments, local_vars


def _names(objects: Objects, field_address: int) -> list[str]:
    names = []
    for item in objects.tuple_items(objects.mem.ptr(field_address), MAX_VARIABLES):
        try:
            names.append(objects.read_str(item))
        except (MemoryReadError, ObjectError):
            names.append("???")
    return names


def _cell_contents(objects: Objects, pointer: int) -> Optional[int]:
    """What a cell holds; the pointer itself if it is not a cell (not made yet)."""
    try:
        if objects.type_name(pointer) != "cell":
            return pointer
        return objects.mem.ptr(pointer + objects.layout.objects.cell_ref) or None
    except (MemoryReadError, ObjectError):
        return pointer
