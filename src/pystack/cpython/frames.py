"""Walk a thread's frame chain and describe each frame: file, function, position.

Two chains exist: `PyFrameObject.f_back` up to 3.10 and `_PyInterpreterFrame.previous`
from 3.11. Both are walked innermost first, bounded in steps and guarded against
loops; when a link points at garbage the walk stops there and the last frame is marked
corrupted, so whatever could be trusted is still printed.
"""
from __future__ import annotations

import struct

from ..records import record

from ..errors import MemoryReadError
from ..types import LocationInfo, PyCodeObject
from . import linetable
from .layout import PythonLayout
from .memory import Memory
from .objects import ObjectError, Objects
from .. import log

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Optional

MAX_FRAMES = 100_000
#: Frames read in one dump, all threads together: a core may hold a huge list of
#: thread states that all lead into one long chain (each frame read costs ~1 KiB).
MAX_TOTAL_FRAMES = 1 << 18
#: Bytes of code object data (line tables, names) kept in the cache at most.
MAX_CODE_CACHE_BYTES = 64 << 20
MAX_CACHED_LOCATIONS = 1 << 16
_PTR = struct.Struct("<Q")
_I32 = struct.Struct("<i")


_TEXT_TYPES = frozenset({"str", "unicode"})


def _one_read(*offsets: int) -> tuple[int, int]:
    """(first offset, size) of the one read per frame that covers every field a walk
    uses, each taken as up to 8 bytes: a read per field would be five per frame."""
    first = min(offsets)
    return first, max(offsets) + 8 - first


@record
class RawFrame:
    """One frame as read from memory, before it is linked into `PyFrame`s."""

    address: int
    code: Optional[PyCodeObject]
    is_entry: bool
    is_shim: bool
    code_address: int = 0
    corrupted: bool = False


@record
class _CodeInfo:
    filename: str
    scope: str  # co_name
    firstlineno: int
    table: bytes
    qualname: Optional[str] = None  # co_qualname (3.11+)


def _is_init_cleanup(code: PyCodeObject) -> bool:
    """The frame 3.13+ pushes to run `__init__` from a class call.

    CALL_ALLOC_AND_ENTER_INIT runs `__init__` in the same eval loop, under a frame of
    the interpreter's static `_Py_InitCleanup` code (file, name and qualified name all
    `__init__`, no line); CPython counts it "incomplete" (`_co_firsttraceable` lies past
    its last instruction) and no traceback or `f_back` shows it, so neither do we.
    """
    return code.filename == "__init__" and code.scope == "__init__"


class FrameReader:
    """Reads frames and code objects of one interpreter; caches code objects."""

    def __init__(self, mem: Memory, objects: Objects, layout: PythonLayout) -> None:
        self.mem = mem
        self.objects = objects
        self.layout = layout
        self._codes: dict[int, _CodeInfo] = {}
        self._locations: dict[tuple[int, int], LocationInfo] = {}
        self._cached_bytes = 0
        self.frames_left = MAX_TOTAL_FRAMES

    # -- code objects -------------------------------------------------------------------
    def code_info(self, code: int) -> _CodeInfo:
        info = self._codes.get(code)
        if info is None:
            c = self.layout.code
            mem, objs = self.mem, self.objects
            # A frame whose code pointer leads anywhere else is corrupted: say so
            # rather than print what some other object's fields look like as text.
            if objs.type_name(code) != "code":
                raise ObjectError(f"0x{code:x} is not a code object")
            filename = self._text(mem.ptr(code + c.filename))
            if "\0" in filename:  # compile() refuses such names: this is not a code object
                raise ObjectError(f"code object at 0x{code:x} has a file name with a NUL")
            name_pointer = mem.ptr(code + c.name)
            scope = self._text(name_pointer)
            qualname = None
            if c.qualname is not None:
                qualname_pointer = mem.ptr(code + c.qualname)
                # most functions are not nested: one str object serves both names
                qualname = scope if qualname_pointer == name_pointer else \
                    self._text(qualname_pointer)
            firstlineno = mem.i32(code + c.firstlineno)
            table = objs.read_bytes(mem.ptr(code + c.linetable), 1 << 20)
            info = _CodeInfo(filename, scope, firstlineno, table, qualname)
            self._cached_bytes += len(table) + len(filename) + len(scope) + len(qualname or "")
            if self._cached_bytes > MAX_CODE_CACHE_BYTES:
                self._codes.clear()
                self._cached_bytes = 0
            self._codes[code] = info
        return info

    def _text(self, obj: int) -> str:
        """A code object's name or file name: a str (or, in 2.7, also unicode) object."""
        if self.objects.type_name(obj) not in _TEXT_TYPES:
            raise ObjectError(f"0x{obj:x} is not a str")
        return self.objects.read_str(obj, 4096)

    def location(self, info: _CodeInfo, instruction: int) -> LocationInfo:
        """Position of an instruction given as a code-unit index (3.10+) or byte offset."""
        fmt = self.layout.line_table_format
        if fmt == "locations":
            loc = linetable.location311(info.table, info.firstlineno, instruction)
            line = loc.lineno if loc.lineno is not None else info.firstlineno
            return LocationInfo(line,
                                loc.end_lineno if loc.end_lineno is not None else line,
                                loc.column if loc.column is not None else 0,
                                loc.end_column if loc.end_column is not None else 0)
        if fmt == "linetable310":
            line = linetable.linetable310_line(info.table, info.firstlineno, instruction * 2)
            line = info.firstlineno if line is None else line
        else:
            line = linetable.lnotab_line(info.table, info.firstlineno, instruction,
                                         signed=not self.layout.is_python2)
        return LocationInfo(line, line, 0, 0)

    def describe(self, code: int, instruction: int) -> PyCodeObject:
        info = self.code_info(code)
        # Recursion and many threads parked in one place decode the same spot again
        # and again: a 1000-frame recursion is 1000 frames but only 2-3 positions.
        key = (code, instruction)
        location = self._locations.get(key)
        if location is None:
            if len(self._locations) > MAX_CACHED_LOCATIONS:
                self._locations.clear()
            location = self._locations[key] = self.location(info, instruction)
        return PyCodeObject(info.filename, info.scope, location, info.qualname)

    def code_address(self, frame: int) -> int:
        """The code object a frame runs (one outside any thread's chain too)."""
        lay = self.layout
        field = lay.iframe.code if lay.has_interpreter_frames else lay.frame_object.f_code
        return self._object_at(frame + field)

    def first_variable(self, frame: int) -> int:
        """A frame's first variable (`self` of a method), 0 when unbound."""
        lay = self.layout
        field = lay.iframe.localsplus if lay.has_interpreter_frames \
            else lay.frame_object.f_localsplus
        return self._object_at(frame + field)

    def _object_at(self, address: int) -> int:
        """An object pointer of a frame (3.14+: a `_PyStackRef`, tagged in its low bits)."""
        return self.mem.ptr(address) & (~7 if self.layout.tagged_code_pointer else ~0)

    def first_line(self, code: int) -> PyCodeObject:
        """Where a frame that has run nothing yet is: its `def` line, as its
        `f_lineno` says (a coroutine not started)."""
        info = self.code_info(code)
        first = info.firstlineno
        return PyCodeObject(info.filename, info.scope, LocationInfo(first, first, 0, 0),
                            info.qualname)

    # -- chains -----------------------------------------------------------------------
    def first_frame(self, tstate: int) -> int:
        t = self.layout.thread
        if t.frame is not None and not self.layout.has_interpreter_frames:
            return self.mem.ptr(tstate + t.frame)
        if t.current_frame is not None:
            return self.mem.ptr(tstate + t.current_frame)
        cframe = self.mem.ptr(tstate + t.cframe)
        return self.mem.ptr(cframe + self.layout.cframe.current_frame) if cframe else 0

    def walk(self, tstate: int) -> list[RawFrame]:
        """Frames of a thread, innermost first."""
        try:
            address = self.first_frame(tstate)
        except MemoryReadError:
            return [RawFrame(tstate, None, False, False, corrupted=True)]
        if self.layout.has_interpreter_frames:
            frames = self._walk_interpreter_frames(address)
        else:
            frames = self._walk_frame_objects(address)
        if len(frames) > MAX_FRAMES:
            del frames[MAX_FRAMES:]
            log.warning("thread state 0x%x has more than %d frames: showing the newest",
                        tstate, MAX_FRAMES)
        return frames

    def _spend_frame(self) -> bool:
        """Count one frame against the budget of the whole dump; False when it is spent."""
        self.frames_left -= 1
        if self.frames_left == -1:
            log.warning("more than %d frames in all: the rest are not read", MAX_TOTAL_FRAMES)
        return self.frames_left >= 0

    def _walk_frame_objects(self, address: int) -> list[RawFrame]:
        f = self.layout.frame_object
        first, span = _one_read(f.f_code, f.f_lasti, f.f_back)
        at_code, at_lasti, at_back = f.f_code - first, f.f_lasti - first, f.f_back - first
        unpack_ptr, unpack_i32 = _PTR.unpack_from, _I32.unpack_from
        frames: list[RawFrame] = []
        seen: set[int] = set()
        while address and len(frames) <= MAX_FRAMES:  # one more: are there more?
            if address in seen or not self._spend_frame():
                frames.append(RawFrame(address, None, True, False, corrupted=True))
                break
            seen.add(address)
            try:
                fields = self.mem.read(address + first, span)
                code = unpack_ptr(fields, at_code)[0]
                lasti = unpack_i32(fields, at_lasti)[0]
                described = self.describe(code, lasti)
                nxt = unpack_ptr(fields, at_back)[0]
            except (MemoryReadError, ObjectError):
                frames.append(RawFrame(address, None, True, False, corrupted=True))
                break
            frames.append(RawFrame(address, described, True, False, code))
            address = nxt
        return frames

    def _walk_interpreter_frames(self, address: int) -> list[RawFrame]:
        lay = self.layout
        f = lay.iframe
        shim_owners = lay.shim_owners
        code_mask = ~7 if lay.tagged_code_pointer else ~0
        unit = lay.constants.code_unit_size
        used = [f.owner, f.previous, f.code, f.instr_ptr]
        if f.is_entry is not None:
            used.append(f.is_entry)
        first, span = _one_read(*used)
        at_owner, at_previous = f.owner - first, f.previous - first
        at_code, at_instr = f.code - first, f.instr_ptr - first
        at_entry = f.is_entry - first if f.is_entry is not None else None
        unpack_ptr = _PTR.unpack_from
        frames: list[RawFrame] = []
        seen: set[int] = set()
        while address and len(frames) <= MAX_FRAMES:  # one more: are there more?
            if address in seen or not self._spend_frame():
                frames.append(RawFrame(address, None, False, False, corrupted=True))
                break
            seen.add(address)
            try:
                fields = self.mem.read(address + first, span)
                owner = fields[at_owner]
                nxt = unpack_ptr(fields, at_previous)[0]
                if owner in shim_owners:
                    frames.append(RawFrame(address, None, False, True))
                    address = nxt
                    continue
                code = unpack_ptr(fields, at_code)[0] & code_mask
                instr = unpack_ptr(fields, at_instr)[0]
                index = (instr - (code + lay.code.code_adaptive)) // unit
                described = self.describe(code, index)
                is_entry = bool(fields[at_entry]) if at_entry is not None else False
            except (MemoryReadError, ObjectError):
                frames.append(RawFrame(address, None, False, False, corrupted=True))
                break
            if _is_init_cleanup(described):
                address = nxt  # never shown, and no eval-loop entry either
                continue
            frames.append(RawFrame(address, described, is_entry, False, code))
            address = nxt
        if shim_owners:
            # 3.12+: a frame is an entry when the eval loop was entered for it, which
            # the interpreter marks by pushing a shim frame just before (older than) it.
            for newer, older in zip(frames, frames[1:]):
                if older.is_shim and not newer.is_shim:
                    newer.is_entry = True
        return frames
