"""From a program counter to function names, source files and lines.

Symbolization is separated from unwinding because it is the expensive part:
the first DWARF query on a module makes libdw find, open and (often)
decompress its debug information, tens of milliseconds for a libc or a
libpython.  The unwinder records bare pcs for every thread; only the frames a
renderer actually prints come here, and results are cached per pc and per
compilation unit.

One pc can stand for several source-level frames when the compiler inlined
calls: `Symbolizer.symbolize` then returns the inlined functions first (the
innermost), each marked `inlined=True`, and the real (out-of-line) function
last.  Names come from the ELF symbol table for the real function -- that is
what the binary calls it, version suffixes and clone suffixes included -- and
from DWARF for the inlined ones, which have no symbol of their own.
"""
from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_uint64, c_void_p
from ..records import TupleRecord, field, record

from pystack.native import libdw
from pystack.native.demangle import demangle
from pystack.native.libdw import Dwarf_Attribute, Dwarf_Die, GElf_Sym
from pystack.types import NativeFrame

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Dict, List, Optional, Tuple

__all__ = ["RawNativeFrame", "ResolvedFrame", "Symbolizer", "UNKNOWN"]

#: What pystack prints for a name, file or library it could not determine.
UNKNOWN = "???"


#: DW_LANG_C89, C, C99, C11, C17: languages whose functions no scope qualifies.
_C_LANGUAGES = frozenset({0x01, 0x02, 0x0C, 0x1D, 0x2C})

#: DIE tags whose names qualify the functions they contain.
_NAMING_SCOPES = frozenset(
    (libdw.DW_TAG_namespace, libdw.DW_TAG_class_type, libdw.DW_TAG_structure_type, libdw.DW_TAG_union_type)
)


class RawNativeFrame(TupleRecord):
    """One unwound frame before symbolization.

    `is_activation` is libdw's DWARF "activation" flag: True for the
    innermost frame of a thread and for frames interrupted by a signal, whose
    pc points at the instruction that was about to run.  For every other
    frame the pc is a return address, which may already belong to the next
    line or even the next function (a call to a noreturn function at the very
    end of a function), so look-ups use pc - 1.
    """

    pc: int
    is_activation: bool
    #: The stack pointer in this frame (0 where libdw cannot say): the frame's own
    #: stack lies between it and the next outer frame's.
    sp: int = 0

    @property
    def lookup_pc(self) -> int:
        return self.pc if self.is_activation or self.pc == 0 else self.pc - 1


@record
class ResolvedFrame(NativeFrame):
    """A `NativeFrame` that also says whether the compiler inlined it.

    A subclass rather than a new field of `NativeFrame`, so the public type
    stays exactly Bloomberg pystack's; renderers print ``(inlined)`` when
    ``getattr(frame, "inlined", False)`` is true.
    """

    inlined: bool = False
    #: The pc in the file's own addresses (the pc less the load bias), what
    #: addr2line and objdump take: names the spot when no symbol does.
    offset: Optional[int] = field(default=None, repr=False, compare=False)


@record
class _Module:
    """What we remember about one Dwfl_Module."""

    name: str  # as reported (a path for mapped files)
    library: str  # its basename, as printed
    # Per-CU file tables, keyed by the CU's Dwarf_CU pointer.
    files: Dict[int, Tuple[c_void_p, int]]
    #: What its pcs less give addresses in the file (None: its ELF could not be read).
    bias: Optional[int] = None
    #: Whether DWARF (its own or a debug file's) gave a line or scope for a pc in it.
    has_dwarf: bool = False
    #: Its GNU build id (hex), what the frame cache is keyed by; None if it has none.
    build_id: Optional[str] = None
    #: How many of its frames the frame cache answered (no DWARF read for them).
    cached: int = 0


class _Function(TupleRecord):
    """One function-like scope of the inline chain, innermost first."""

    name: str
    call_file: Optional[str]
    call_line: int
    call_column: int
    inlined: bool


def _offset(pc: int, module: _Module) -> Optional[int]:
    return pc - module.bias if module.bias is not None else None


class Symbolizer:
    """Resolve pcs of one Dwfl session; keeps its caches for the session's life."""

    def __init__(self, dwfl: int) -> None:
        self._dwfl = dwfl
        self._lib = libdw.lib()
        self._modules: Dict[int, _Module] = {}
        self._frames: Dict[Tuple[int, bool], List[ResolvedFrame]] = {}
        self._prefixes: Dict[int, str] = {}
        # By lookup pc: `function_of` classifies every frame first, and the frames
        # then printed are symbolized in full, which needs the same symbol again.
        self._symbols: Dict[int, Optional[str]] = {}
        from .cache import FrameCache
        self._cache = FrameCache()

    # ------------------------------------------------------------ public

    def symbolize(self, frame: RawNativeFrame) -> List[ResolvedFrame]:
        """Source-level frames for one unwound frame (inlined ones first)."""
        key = (frame.pc, frame.is_activation)
        cached = self._frames.get(key)
        if cached is None:
            try:
                cached = self._resolve(frame)
            except Exception:  # noqa: BLE001 - never lose a whole stack to one bad pc
                cached = [ResolvedFrame(frame.pc, UNKNOWN, UNKNOWN, 0, 0, UNKNOWN)]
            self._frames[key] = cached
        # Callers may mutate what they get; the cache keeps its own copies.
        return [ResolvedFrame(f.address, f.symbol, f.path, f.linenumber, f.colnumber, f.library,
                              f.inlined, f.offset)
                for f in cached]

    def function_of(self, frame: RawNativeFrame) -> Optional[ResolvedFrame]:
        """The frame's function by its ELF symbol alone (no file or line), or None.

        Enough to tell an eval-loop or plumbing frame, which the merge replaces or
        hides: their source lines would cost the DWARF of the interpreter's largest
        compilation units (ceval.c's line table and DIEs: most of a --native dump).
        """
        lookup = frame.lookup_pc
        mod = self._lib.dwfl_addrmodule(self._dwfl, lookup)
        if not mod:
            return None
        symbol = self._elf_symbol(mod, lookup)
        if symbol is None:
            return None
        module = self._module(mod)
        return ResolvedFrame(frame.pc, symbol, UNKNOWN, 0, 0, module.library,
                             offset=_offset(frame.pc, module))

    def unnamed(self, frame: RawNativeFrame, symbol: str = UNKNOWN) -> ResolvedFrame:
        """A frame known by its library and offset alone (no symbol looked up),
        named `symbol` when the caller knows better than the symbol table."""
        mod = self._lib.dwfl_addrmodule(self._dwfl, frame.lookup_pc)
        if not mod:
            return ResolvedFrame(frame.pc, symbol, UNKNOWN, 0, 0, UNKNOWN)
        module = self._module(mod)
        return ResolvedFrame(frame.pc, symbol, UNKNOWN, 0, 0, module.library,
                             offset=_offset(frame.pc, module))

    def module_path(self, pc: int) -> Optional[str]:
        """The file the module containing `pc` was opened from, else its name."""
        mod = self._lib.dwfl_addrmodule(self._dwfl, pc)
        if not mod:
            return None
        mainfile = c_char_p()
        raw = self._lib.dwfl_module_info(mod, None, None, None, None, None, byref(mainfile), None)
        if mainfile.value:
            return mainfile.value.decode("utf-8", "surrogateescape")
        return raw.decode("utf-8", "surrogateescape") if raw else None

    def save(self) -> None:
        """Keep what DWARF said for the next run (see `cache`)."""
        self._cache.save()

    def sources(self) -> List[str]:
        """Where each module's names came from, for `-v`: its debug file when libdw
        read DWARF for one of its frames, else its own symbol table."""
        found = []
        for mod, module in self._modules.items():
            mainfile, debugfile = c_char_p(), c_char_p()
            self._lib.dwfl_module_info(mod, None, None, None, None, None, byref(mainfile),
                                       byref(debugfile))
            main = (mainfile.value or b"").decode("utf-8", "surrogateescape")
            debug = (debugfile.value or b"").decode("utf-8", "surrogateescape")
            if module.cached:
                found.append(f"{module.library}: the frame cache (build id "
                             f"{module.build_id})" + (f" and {debug}" if debug else ""))
            elif debug and debug != main:
                found.append(f"{module.library}: {debug}")
            elif debug or module.has_dwarf:
                found.append(f"{module.library}: its own DWARF")
            else:
                found.append(f"{module.library}: its symbol table only")
        return found

    # ------------------------------------------------------------ internals

    def _module(self, mod: int) -> _Module:
        info = self._modules.get(mod)
        if info is None:
            raw = self._lib.dwfl_module_info(mod, None, None, None, None, None, None, None)
            name = raw.decode("utf-8", "surrogateescape") if raw else UNKNOWN
            library = os.path.basename(name) or name
            bias = c_uint64()
            elf = self._lib.dwfl_module_getelf(mod, byref(bias))
            bits, vaddr = c_void_p(), c_uint64()
            length = self._lib.dwfl_module_build_id(mod, byref(bits), byref(vaddr))
            build_id = ctypes.string_at(bits.value, length).hex() \
                if length > 0 and bits.value else None
            info = _Module(name, library, {}, bias.value if elf else None, False, build_id)
            self._modules[mod] = info
        return info

    def _resolve(self, frame: RawNativeFrame) -> List[ResolvedFrame]:
        lib = self._lib
        pc = frame.pc
        lookup = frame.lookup_pc
        mod = lib.dwfl_addrmodule(self._dwfl, lookup)
        if not mod:
            return [ResolvedFrame(pc, UNKNOWN, UNKNOWN, 0, 0, UNKNOWN)]
        module = self._module(mod)
        offset = _offset(pc, module)
        key = lookup - module.bias if module.bias is not None else None
        if key is not None:
            kept = self._cache.frames(module.build_id, key)
            if kept is not None:
                module.cached += 1
                return [ResolvedFrame(pc, name, path, line, column, module.library,
                                      inlined=inlined, offset=offset)
                        for name, path, line, column, inlined in kept]

        symbol = self._elf_symbol(mod, lookup)
        path, line, column = self._source_line(mod, lookup)
        chain = self._inline_chain(mod, module, lookup)
        frames = self._frames_of(pc, module, symbol, path, line, column, chain, offset)
        if path or chain:
            module.has_dwarf = True
        # an answer without a line is kept only where DWARF was there to ask: a debug
        # file installed later must not be hidden by what its absence said
        if key is not None and (path or chain or self._has_debug_file(mod)):
            self._cache.keep_frames(module.build_id, key, [
                (f.symbol, f.path, f.linenumber, f.colnumber, f.inlined) for f in frames])
        return frames

    @staticmethod
    def _frames_of(pc: int, module: _Module, symbol: Optional[str], path: Optional[str],
                   line: int, column: int, chain: List[_Function],
                   offset: Optional[int]) -> List[ResolvedFrame]:
        if not chain:
            return [ResolvedFrame(pc, symbol or UNKNOWN, path or UNKNOWN, line, column,
                                  module.library, offset=offset)]

        frames: List[ResolvedFrame] = []
        location = (path, line, column)
        for index, function in enumerate(chain):
            outermost = index == len(chain) - 1
            if outermost:
                name = symbol or function.name or UNKNOWN
            else:
                name = function.name or UNKNOWN
            file, fline, fcol = location
            frames.append(
                ResolvedFrame(pc, name, file or UNKNOWN, fline, fcol, module.library,
                              inlined=not outermost, offset=offset)
            )
            # The caller's position is where this inlined instance was called.
            location = (function.call_file, function.call_line, function.call_column)
        return frames

    def _elf_symbol(self, mod: int, address: int) -> Optional[str]:
        """The demangled ELF symbol covering `address` (None if there is none)."""
        if address in self._symbols:
            return self._symbols[address]
        module = self._module(mod)
        key = address - module.bias if module.bias is not None else None
        kept = self._cache.symbol(module.build_id, key) if key is not None else None
        if kept is not None:
            symbol = kept or None  # "": known to have none
        else:
            symbol = self._symbol_of(mod, address)
            if key is not None and (symbol is not None or self._has_debug_file(mod)):
                self._cache.keep_symbol(module.build_id, key, symbol or "")
        self._symbols[address] = symbol
        return symbol

    def _has_debug_file(self, mod: int) -> bool:
        """Whether libdw found a separate debug file for the module (so far)."""
        mainfile, debugfile = c_char_p(), c_char_p()
        self._lib.dwfl_module_info(mod, None, None, None, None, None, byref(mainfile),
                                   byref(debugfile))
        return bool(debugfile.value) and debugfile.value != mainfile.value

    def _symbol_of(self, mod: int, address: int) -> Optional[str]:
        offset = c_uint64()
        sym = GElf_Sym()
        raw = self._lib.dwfl_module_addrinfo(mod, address, byref(offset), byref(sym), None, None, None)
        if not raw:
            return None
        return demangle(raw.decode("utf-8", "surrogateescape"))

    def _source_line(self, mod: int, address: int) -> Tuple[Optional[str], int, int]:
        lib = self._lib
        line_record = lib.dwfl_module_getsrc(mod, address)
        if not line_record:
            return None, 0, 0
        line = c_int(0)
        column = c_int(0)
        raw = lib.dwfl_lineinfo(line_record, None, byref(line), byref(column), None, None)
        if not raw:
            return None, 0, 0
        return raw.decode("utf-8", "surrogateescape"), line.value, column.value

    def _inline_chain(self, mod: int, module: _Module, address: int) -> List[_Function]:
        """Function-like scopes containing `address`, innermost first, up to the subprogram.

        `dwarf_getscopes` stops its concrete chain at the innermost inlined
        instance (it continues with the abstract definition's parents), so the
        innermost scope is looked up again with `dwarf_getscopes_die`, which
        follows the physical nesting of DIEs up to the CU.
        """
        lib = self._lib
        bias = c_uint64()
        cudie = lib.dwfl_module_addrdie(mod, address, byref(bias))
        if not cudie:
            return []
        scopes = POINTER(Dwarf_Die)()
        count = lib.dwarf_getscopes(cudie, address - bias.value, byref(scopes))
        if count <= 0 or not scopes:
            return []
        try:
            innermost = Dwarf_Die.from_buffer_copy(scopes[0])
        finally:
            lib.free(ctypes.cast(scopes, c_void_p))
        physical = POINTER(Dwarf_Die)()
        count = lib.dwarf_getscopes_die(byref(innermost), byref(physical))
        if count <= 0 or not physical:
            return []
        chain: List[_Function] = []
        try:
            for i in range(count):
                die = physical[i]
                tag = lib.dwarf_tag(byref(die))
                if tag == libdw.DW_TAG_inlined_subroutine:
                    chain.append(self._function(module, die, inlined=True))
                elif tag in (libdw.DW_TAG_subprogram, libdw.DW_TAG_entry_point):
                    chain.append(self._function(module, die, inlined=False))
                    break
        finally:
            lib.free(ctypes.cast(physical, c_void_p))
        return chain

    def _function(self, module: _Module, die: Dwarf_Die, *, inlined: bool) -> _Function:
        name = self._die_name(die)
        if not inlined:
            return _Function(name, None, 0, 0, False)
        call_file = None
        file_index = self._udata(die, libdw.DW_AT_call_file)
        if file_index is not None:
            call_file = self._file_name(module, die, file_index)
        return _Function(
            name,
            call_file,
            self._udata(die, libdw.DW_AT_call_line) or 0,
            self._udata(die, libdw.DW_AT_call_column) or 0,
            True,
        )

    def _die_name(self, die: Dwarf_Die) -> str:
        """The linkage name (demangled) if there is one, else the plain name.

        `dwarf_attr_integrate` follows DW_AT_abstract_origin and
        DW_AT_specification, so an inlined instance gets the name of the
        function it instantiates, with its class and namespace for C++.
        """
        lib = self._lib
        attr = Dwarf_Attribute()
        for code in (libdw.DW_AT_linkage_name, libdw.DW_AT_MIPS_linkage_name):
            if lib.dwarf_attr_integrate(byref(die), code, byref(attr)):
                raw = lib.dwarf_formstring(byref(attr))
                if raw:
                    return demangle(raw.decode("utf-8", "surrogateescape"))
        if lib.dwarf_attr_integrate(byref(die), libdw.DW_AT_name, byref(attr)):
            raw = lib.dwarf_formstring(byref(attr))
            if raw:
                return self._scope_prefix(die) + raw.decode("utf-8", "surrogateescape")
        return ""

    def _declaration(self, die: Dwarf_Die) -> Dwarf_Die:
        """The DIE that declares `die`'s function: through its abstract origin
        (an inlined or out-of-line instance) and its specification (a member
        or namespace function defined outside its declaration)."""
        lib = self._lib
        attr = Dwarf_Attribute()
        current = die
        for _ in range(8):
            target = Dwarf_Die()
            if lib.dwarf_attr(byref(current), libdw.DW_AT_abstract_origin, byref(attr)) or lib.dwarf_attr(
                byref(current), libdw.DW_AT_specification, byref(attr)
            ):
                if not lib.dwarf_formref_die(byref(attr), byref(target)):
                    break
                current = target
            else:
                break
        return current

    def _scope_prefix(self, die: Dwarf_Die) -> str:
        """``ns::Class::`` for a function without a linkage name (a static or
        inlined-only C++ function), from the namespaces and types enclosing
        its declaration; "" for C."""
        decl = self._declaration(die)
        key = decl.addr or 0
        cached = self._prefixes.get(key)
        if cached is not None:
            return cached
        lib = self._lib
        cudie = Dwarf_Die()
        if lib.dwarf_diecu(byref(decl), byref(cudie), None, None) and \
                lib.dwarf_srclang(byref(cudie)) in _C_LANGUAGES:
            # C has no namespaces; and finding a DIE's parents walks its whole unit
            # from the start (ceval.c's is most of libpython's DWARF)
            self._prefixes[key] = ""
            return ""
        parents: List[str] = []
        scopes = POINTER(Dwarf_Die)()
        count = lib.dwarf_getscopes_die(byref(decl), byref(scopes))
        if count > 0 and scopes:
            try:
                attr = Dwarf_Attribute()
                for i in range(1, count):
                    scope = scopes[i]
                    tag = lib.dwarf_tag(byref(scope))
                    if tag not in _NAMING_SCOPES:
                        continue
                    raw = None
                    if lib.dwarf_attr(byref(scope), libdw.DW_AT_name, byref(attr)):
                        raw = lib.dwarf_formstring(byref(attr))
                    if raw:
                        parents.append(raw.decode("utf-8", "surrogateescape"))
                    elif tag == libdw.DW_TAG_namespace:
                        parents.append("(anonymous namespace)")
            finally:
                lib.free(ctypes.cast(scopes, c_void_p))
        prefix = "".join(name + "::" for name in reversed(parents))
        self._prefixes[key] = prefix
        return prefix

    def _udata(self, die: Dwarf_Die, code: int) -> Optional[int]:
        lib = self._lib
        attr = Dwarf_Attribute()
        if not lib.dwarf_attr_integrate(byref(die), code, byref(attr)):
            return None
        value = c_uint64()
        if lib.dwarf_formudata(byref(attr), byref(value)) != 0:
            return None
        return value.value

    def _file_name(self, module: _Module, die: Dwarf_Die, index: int) -> Optional[str]:
        """Entry `index` of the file table of the CU that holds `die`."""
        lib = self._lib
        cu_key = die.cu or 0
        table = module.files.get(cu_key)
        if table is None:
            cudie = Dwarf_Die()
            files = c_void_p()
            nfiles = c_size_t(0)
            if lib.dwarf_diecu(byref(die), byref(cudie), None, None) and \
                    lib.dwarf_getsrcfiles(byref(cudie), byref(files), byref(nfiles)) == 0:
                table = (files, nfiles.value)
            else:
                table = (c_void_p(), 0)
            module.files[cu_key] = table
        files, nfiles = table
        if not files or index >= nfiles:
            return None
        raw: Optional[bytes] = lib.dwarf_filesrc(files, index, None, None)
        return raw.decode("utf-8", "surrogateescape") if raw else None

