"""Function names by address from ELF symbol tables, without libdw.

A binary's own `.symtab` names every function; a stripped one keeps `.dynsym` (the
exported ones) and may carry MiniDebugInfo (`.gnu_debugdata`: an xz-compressed ELF
holding the local function symbols, as Fedora ships). Its separate debug file, found
by build id under `/usr/lib/debug/.build-id/` or by `.gnu_debuglink`, has the full
`.symtab`. `SymbolIndex` merges what it finds into one table sorted by address.
"""
from __future__ import annotations

import bisect
import os
import struct

from ..binaries.elf import ElfError, ElfFile

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Callable, List, Optional, Sequence, Tuple

_SYM = struct.Struct("<IBBHQQ")
_STT_FUNC, _STT_GNU_IFUNC = 2, 10
_BINDING_RANK = {1: 0, 2: 1, 0: 2}  # STB_GLOBAL, STB_WEAK, STB_LOCAL
_DEBUG_DIR = "usr/lib/debug"


class SymbolIndex:
    """Function symbols of one file, looked up by unrelocated address.

    Built for every library a native stack passes through, so it is built for speed:
    the tables are read as arrays of 64-bit words (a symbol is three), filtered and
    sorted as ints, and a name is decoded only when it is looked up.
    """

    def __init__(self, tables: Sequence[Tuple[ElfFile, str]]) -> None:
        keys: List[int] = []
        found: list = []  # (values, sizes, name offsets, string table) per table
        for elf, section_name in tables:
            table = _function_table(elf, section_name)
            if table is None:
                continue
            values, sizes, names, ranks, strings = table
            which = len(found)
            found.append((values, sizes, names, strings))
            # sort key: address, then preference among aliases, then where it is
            keys.extend((((value << 3) | rank) << 24 | which << 20) | index
                        for index, (value, rank) in enumerate(zip(values, ranks)))
        keys.sort()
        starts: List[int] = []
        entries: List[Tuple[int, int, int]] = []
        for key in keys:
            value = key >> 27
            if starts and starts[-1] == value:
                continue  # an alias of the symbol kept
            starts.append(value)
            entries.append(((key >> 20) & 0xF, key & 0xFFFFF, value))
        self._starts = starts
        self._entries = entries
        self._tables = found
        #: Where the names came from, for -v.
        self.sources = [f"{elf.path} {name}" for elf, name in tables]

    def lookup(self, address: int) -> Optional[str]:
        index = bisect.bisect_right(self._starts, address) - 1
        if index < 0:
            return None
        which, at, start = self._entries[index]
        values, sizes, names, strings = self._tables[which]
        if address >= start + max(sizes[at], 1):
            return None
        name_at = names[at]
        end = strings.find(b"\0", name_at)
        return strings[name_at:end].decode("utf-8", "surrogateescape") if end > name_at else None

    def __len__(self) -> int:
        return len(self._entries)


def _function_table(elf: ElfFile, section_name: str) -> Optional[tuple]:
    """(values, sizes, name offsets, alias ranks, string table) of the defined
    functions of one symbol table, or None."""
    section = elf.section(section_name)
    if section is None or not section.size:
        return None
    sections = elf.sections
    if not 0 < section.link < len(sections):
        return None
    try:
        data = elf.section_data(section)
        strings = bytes(elf.section_data(sections[section.link]))
    except ElfError:
        return None
    usable = len(data) - len(data) % _SYM.size
    if usable > 0x100000 * _SYM.size:  # more than the 20 bits an index has in a key
        usable = 0x100000 * _SYM.size
    words = memoryview(data)[:usable].cast("Q")
    # word 0: st_name | st_info << 32 | st_other << 40 | st_shndx << 48
    heads = words[0::3].tolist()
    all_values = words[1::3].tolist()
    all_sizes = words[2::3].tolist()
    values, sizes, names, ranks = [], [], [], []
    for head, value, size in zip(heads, all_values, all_sizes):
        kind = (head >> 32) & 0xF
        if (kind != _STT_FUNC and kind != _STT_GNU_IFUNC) or not value or not head >> 48:
            continue
        name_at = head & 0xFFFFFFFF
        if name_at >= len(strings):
            continue
        values.append(value)
        sizes.append(size)
        names.append(name_at)
        # of aliases at one address, prefer what libdw and gdb print: a global name
        # over a weak or local one (clock_nanosleep, not __GI___clock_nanosleep)
        ranks.append(_BINDING_RANK.get((head >> 36) & 0xF, 3) << 1
                     | (strings[name_at] == 0x5F))
    return values, sizes, names, ranks, strings


def debug_file_candidates(elf: ElfFile, roots: Sequence[Optional[str]]) -> List[str]:
    """Where a file's separate debug file may be: by build id, then by debuglink
    (beside it, in .debug/ beside it, under the debug directory), under each root."""
    found: List[str] = []
    try:
        build_id = elf.build_id
    except ElfError:
        build_id = None
    bases = [os.path.join(root, _DEBUG_DIR) if root not in (None, "", "/") else "/" + _DEBUG_DIR
             for root in roots]
    bases = list(dict.fromkeys(bases))
    if build_id and len(build_id) >= 2:
        text = build_id.hex()
        found.extend(os.path.join(base, ".build-id", text[:2], text[2:] + ".debug")
                     for base in bases)
    try:
        link = elf.debuglink
    except ElfError:
        link = None
    if link:
        name = os.path.basename(link[0])
        here = os.path.dirname(elf.path)
        found.append(os.path.join(here, name))
        found.append(os.path.join(here, ".debug", name))
        for base in bases:
            found.append(os.path.join(base, here.lstrip("/"), name))
    return [path for path in found if path != elf.path]


def index_for(elf: ElfFile, roots: Sequence[Optional[str]],
              opened: Callable[[ElfFile], None]) -> SymbolIndex:
    """The best symbols of a file: its debug file's .symtab where one matches, else
    its own .symtab, else .dynsym and MiniDebugInfo. `opened` is told of every file
    opened for it (the caller closes them)."""
    tables: List[Tuple[ElfFile, str]] = []
    if elf.section(".symtab") is None:
        for path in debug_file_candidates(elf, roots):
            try:
                debug = ElfFile(path)
            except ElfError:
                continue
            opened(debug)
            try:
                same = debug.build_id == elf.build_id or elf.build_id is None
            except ElfError:
                same = False
            if same and debug.section(".symtab") is not None:
                tables.append((debug, ".symtab"))
                break
    if not tables and elf.section(".symtab") is not None:
        tables.append((elf, ".symtab"))
    if not tables:
        tables.append((elf, ".dynsym"))
        mini = _mini_debuginfo(elf)
        if mini is not None:
            tables.append((mini, ".symtab"))
    return SymbolIndex(tables)


def _mini_debuginfo(elf: ElfFile) -> Optional[ElfFile]:
    section = elf.section(".gnu_debugdata")
    if section is None or not section.size:
        return None
    try:
        import lzma  # only here: most machines never need it
        data = lzma.decompress(bytes(elf.section_data(section)))
        return ElfFile.from_bytes(data, f"{elf.path} [.gnu_debugdata]")
    except Exception:  # noqa: BLE001 - damaged or unreadable: the other symbols stand
        return None
