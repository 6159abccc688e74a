"""A small, read-only ELF64 reader for the binaries and core files pystack inspects.

pystack only needs a handful of facts from an ELF file: where its segments go,
a few symbol values, its build id and the notes of a core.  This module reads
exactly that, straight out of an ``mmap`` of the file, and nothing more:

* It is lazy.  Opening a file parses the 64-byte header and the program headers;
  section headers, the dynamic segment and symbol tables are parsed the first
  time something needs them, so that opening a 20 MB libpython and looking up
  one exported symbol touches a few pages of it.
* It never trusts the file.  The files include cores from untrusted sources, so
  every offset and size is checked against the file size before use, every
  count is capped to what the file can hold, and every loop advances through a
  bounded range.  Any malformation surfaces as :class:`~pystack.errors.ElfError`;
  ``struct.error``, ``IndexError`` and friends never escape.
* It is stdlib only and cheap to import.

Only 64-bit little-endian files are supported (x86-64, and incidentally other
64-bit little-endian machines); anything else is rejected with an ``ElfError``
that says why.
"""
from __future__ import annotations

import bisect
import mmap
import os
import stat
import struct
from ..records import TupleRecord, record

from pystack.errors import ElfError

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

__all__ = [
    "ElfFile",
    "Segment",
    "Section",
    "Note",
    "ET_EXEC",
    "ET_DYN",
    "ET_CORE",
]

# e_type values.
ET_NONE = 0
ET_REL = 1
ET_EXEC = 2
ET_DYN = 3
ET_CORE = 4

# Program header types.
PT_NULL = 0
PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
PT_NOTE = 4

# Section header types.
SHT_NULL = 0
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_HASH = 5
SHT_NOTE = 7
SHT_NOBITS = 8
SHT_DYNSYM = 11
SHT_GNU_HASH = 0x6FFFFFF6

# Special section indices.
SHN_UNDEF = 0
SHN_XINDEX = 0xFFFF
PN_XNUM = 0xFFFF

# Dynamic tags.
DT_NULL = 0
DT_HASH = 4
DT_STRTAB = 5
DT_SYMTAB = 6
DT_STRSZ = 10
DT_SYMENT = 11
DT_SONAME = 14
DT_GNU_HASH = 0x6FFFFEF5

# Symbol types we never report: section and file symbols name no object.
STT_SECTION = 3
STT_FILE = 4
STB_LOCAL = 0

NT_GNU_BUILD_ID = 3

_ELF_MAGIC = b"\x7fELF"
_ELFCLASS32 = 1
_ELFCLASS64 = 2
_ELFDATA2LSB = 1
_ELFDATA2MSB = 2

# Precompiled layouts (all little-endian ELF64).
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_DYN = struct.Struct("<qQ")
_NHDR = struct.Struct("<III")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_GNU_HASH_HDR = struct.Struct("<IIII")
_SYSV_HASH_HDR = struct.Struct("<II")

# Mapping granularity used to match /proc/<pid>/maps file offsets to segments.
_PAGE_SIZE = mmap.PAGESIZE

_MASK32 = 0xFFFFFFFF


class Segment(TupleRecord):
    """One program header: how a range of the file is laid out in memory.

    A named tuple (not a frozen record): every mapped file's headers are read,
    and a tuple is built ten times faster."""

    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    align: int


class Section(TupleRecord):
    """One section header, with its name resolved from the section string table."""

    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int


@record(frozen=True)
class Note:
    """One ELF note.  ``desc`` is a view into the mapped file, not a copy."""

    owner: str
    type: int
    desc: memoryview


class _SymbolTable(TupleRecord):
    """Where a symbol table and its helpers live in the file (all file offsets).

    ``count`` is already capped to what fits in the file; ``count_known`` is
    False when it is only that cap (a table found through PT_DYNAMIC with no
    DT_HASH says nothing about its length).  Hash offsets are -1 when there is
    no such hash table.  (A named tuple, not a dataclass: it is private, and
    frozen dataclasses cost ~1.5 ms each at import.)
    """

    sym_offset: int
    count: int
    str_offset: int
    str_size: int
    count_known: bool = True
    gnu_hash_offset: int = -1
    gnu_hash_size: int = 0
    sysv_hash_offset: int = -1
    sysv_hash_size: int = 0


class _cached:
    """Like functools.cached_property, without its per-instance lock.

    (Python < 3.12 takes an RLock on every first access, which showed up as
    ~15% of opening a library and looking up one symbol.)  A non-data
    descriptor: once the value is in the instance dict, it is found there
    directly.  Exceptions are not cached, so a failing property raises again.
    """

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: Optional[type] = None) -> Any:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value


#: The most read (not mapped) from a file that cannot be mapped.
_MAX_READ = 1 << 30


def _read_at_most(fd: int, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.read(fd, min(size, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _gnu_hash(name: bytes) -> int:
    """The DJB hash used by ``.gnu.hash`` (h * 33 + c, truncated to 32 bits)."""
    h = 5381
    for c in name:
        h = (h * 33 + c) & _MASK32
    return h


def _sysv_hash(name: bytes) -> int:
    """The classic System V ELF hash used by ``DT_HASH`` tables."""
    h = 0
    for c in name:
        h = ((h << 4) + c) & _MASK32
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & _MASK32
    return h


class ElfFile:
    """A read-only view of one ELF64 little-endian file.

    The file is memory-mapped (or, when mapping is impossible, read into memory)
    once in the constructor.  Use it as a context manager or call :meth:`close`
    to release the mapping early.
    """

    path: str
    elf_type: int  # e_type: ET_EXEC, ET_DYN, ET_CORE, ...
    machine: int  # e_machine (62 = x86-64)
    entry: int
    flags: int
    segments: List[Segment]

    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        self.path = os.fspath(path)
        self._data: Optional[Union[mmap.mmap, bytes]] = None
        self._view: Optional[memoryview] = None
        self._data, self._size = self._open(self.path)
        self._view = memoryview(self._data)
        try:
            self._parse_header()
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> "ElfFile":
        """An ELF file held in memory (MiniDebugInfo's, once decompressed)."""
        self = cls.__new__(cls)
        self.path = name
        self._data, self._size = data, len(data)
        self._view = memoryview(data)
        self._parse_header()
        return self

    # ------------------------------------------------------------------ opening

    @staticmethod
    def _open(path: str) -> Tuple[Union[mmap.mmap, bytes], int]:
        """Map ``path`` read-only; read it instead if it cannot be mapped.

        Only regular files are opened (non-blocking, so a FIFO swapped in cannot
        hang the open). mmap fails for empty files and for files whose size says
        nothing of their content (procfs: 0 bytes, yet reading /proc/kmsg blocks
        and /proc/kcore never ends); the fallback reads no more than the size the
        file states, so those read as empty and fail the header check.
        """
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise ElfError(f"cannot open {path}: {exc.strerror or exc}") from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ElfError(f"cannot open {path}: not a regular file")
            try:
                data: Union[mmap.mmap, bytes] = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError, OverflowError):
                data = _read_at_most(fd, min(st.st_size, _MAX_READ))
        except OSError as exc:
            raise ElfError(f"cannot open {path}: {exc.strerror or exc}") from exc
        finally:
            os.close(fd)
        return data, len(data)

    def close(self) -> None:
        """Release the mapping.  Attributes already computed stay usable.

        If the caller still holds views returned by :meth:`section_data` or
        :meth:`notes`, the mapping cannot be unmapped yet; it is then dropped
        and unmapped by the garbage collector once those views are gone.
        """
        view, data = self._view, self._data
        self._view = None
        self._data = None
        if view is not None:
            try:
                view.release()
            except BufferError:
                pass
        if isinstance(data, mmap.mmap):
            try:
                data.close()
            except BufferError:
                pass

    def __enter__(self) -> "ElfFile":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ElfFile {self.path!r} type={getattr(self, 'elf_type', '?')}>"

    # ---------------------------------------------------------- low-level reads

    def _buffer(self) -> Union[mmap.mmap, bytes]:
        data = self._data
        if data is None:
            raise ElfError(f"{self.path}: file is closed")
        return data

    def _memview(self) -> memoryview:
        view = self._view
        if view is None:
            raise ElfError(f"{self.path}: file is closed")
        return view

    def _in_file(self, offset: int, size: int) -> bool:
        return 0 <= offset and 0 <= size and offset + size <= self._size

    def _check_range(self, offset: int, size: int, what: str) -> None:
        if not self._in_file(offset, size):
            raise ElfError(
                f"{self.path}: {what} (offset 0x{offset:x}, size 0x{size:x}) "
                f"is outside the file (size 0x{self._size:x})"
            )

    def _cstring(self, offset: int, limit: int) -> Optional[bytes]:
        """The NUL-terminated string at ``offset``, searching no further than ``limit``.

        Returns None if the offset is outside the file or no terminator is found.
        """
        limit = min(limit, self._size)
        if offset < 0 or offset >= limit:
            return None
        data = self._buffer()
        end = data.find(b"\0", offset, limit)
        if end < 0:
            return None
        return data[offset:end]

    def _table_count(self, offset: int, count: int, entsize: int) -> int:
        """Cap ``count`` entries of ``entsize`` bytes at ``offset`` to what the file holds."""
        if count <= 0 or offset < 0 or offset >= self._size or entsize <= 0:
            return 0
        return min(count, (self._size - offset) // entsize)

    # --------------------------------------------------------------- ELF header

    def _parse_header(self) -> None:
        ident = bytes(self._buffer()[:16])
        if len(ident) < 4 or ident[:4] != _ELF_MAGIC:
            raise ElfError(f"{self.path} is not an ELF file")
        if len(ident) < 16:
            raise ElfError(f"{self.path} is truncated: no complete ELF header")
        if ident[4] == _ELFCLASS32:
            raise ElfError(f"{self.path} is a 32-bit ELF file, not supported")
        if ident[4] != _ELFCLASS64:
            raise ElfError(f"{self.path} has an invalid ELF class {ident[4]}")
        if ident[5] == _ELFDATA2MSB:
            raise ElfError(f"{self.path} is a big-endian ELF file, not supported")
        if ident[5] != _ELFDATA2LSB:
            raise ElfError(f"{self.path} has an invalid ELF data encoding {ident[5]}")
        if self._size < _EHDR.size:
            raise ElfError(f"{self.path} is truncated: no complete ELF header")
        (
            _ident,
            self.elf_type,
            self.machine,
            _version,
            self.entry,
            self._phoff,
            self._shoff,
            self.flags,
            _ehsize,
            self._phentsize,
            phnum,
            self._shentsize,
            shnum,
            shstrndx,
        ) = _EHDR.unpack_from(self._buffer(), 0)

        # Extended numbering: when the real counts do not fit in 16 bits they
        # live in section header 0 (cores with many mappings use PN_XNUM).
        shdr0: Optional[tuple] = None
        if self._shoff and (phnum == PN_XNUM or shnum == 0 or shstrndx == SHN_XINDEX):
            shdr0 = self._read_shdr0()
        if phnum == PN_XNUM and shdr0 is not None:
            phnum = shdr0[7]
        if shnum == 0 and shdr0 is not None:
            shnum = shdr0[5]
        if shstrndx == SHN_XINDEX and shdr0 is not None:
            shstrndx = shdr0[6]
        self._shnum = shnum if self._shoff else 0
        self._shstrndx = shstrndx
        self.segments = self._parse_segments(phnum)

    def _read_shdr0(self) -> Optional[tuple]:
        """Section header 0 (holds extended counts), or None if it is not in the file."""
        if self._shentsize < _SHDR.size or not self._in_file(self._shoff, _SHDR.size):
            return None
        return _SHDR.unpack_from(self._buffer(), self._shoff)

    def _parse_segments(self, phnum: int) -> List[Segment]:
        if phnum == 0 or self._phoff == 0:
            return []
        if self._phentsize < _PHDR.size:
            raise ElfError(
                f"{self.path}: program header size {self._phentsize} is too small"
            )
        count = self._table_count(self._phoff, phnum, self._phentsize)
        view = self._memview()
        if self._phentsize == _PHDR.size:
            table = view[self._phoff : self._phoff + count * _PHDR.size]
            try:
                return [Segment(*fields) for fields in _PHDR.iter_unpack(table)]
            finally:
                table.release()
        data = self._buffer()
        return [
            Segment(*_PHDR.unpack_from(data, self._phoff + i * self._phentsize))
            for i in range(count)
        ]

    # ----------------------------------------------------------------- sections

    @_cached
    def sections(self) -> List[Section]:
        """All section headers (empty for files without them, such as cores)."""
        if self._shnum == 0:
            return []
        if self._shentsize < _SHDR.size:
            raise ElfError(
                f"{self.path}: section header size {self._shentsize} is too small"
            )
        count = self._table_count(self._shoff, self._shnum, self._shentsize)
        data = self._buffer()
        raw = [
            _SHDR.unpack_from(data, self._shoff + i * self._shentsize)
            for i in range(count)
        ]
        # The section name string table; if it is unusable, sections keep
        # empty names rather than failing the whole parse.
        names = b""
        if 0 < self._shstrndx < count:
            strtab = raw[self._shstrndx]
            if strtab[1] != SHT_NOBITS and self._in_file(strtab[4], 0):
                names = bytes(data[strtab[4] : min(strtab[4] + strtab[5], self._size)])
        sections = []
        for name_off, type_, flags, addr, offset, size, link, info, _align, entsize in raw:
            name = ""
            end = names.find(b"\0", name_off) if name_off < len(names) else -1
            if end >= 0:
                name = names[name_off:end].decode("latin-1")
            sections.append(Section(name, type_, flags, addr, offset, size, link, info, entsize))
        return sections

    @_cached
    def _sections_by_name(self) -> Dict[str, Section]:
        by_name: Dict[str, Section] = {}
        for sec in self.sections:
            by_name.setdefault(sec.name, sec)
        return by_name

    def section(self, name: str) -> Optional[Section]:
        """The first section called ``name``, or None."""
        return self._sections_by_name.get(name)

    def _resolve_section(self, name_or_section: Union[str, Section]) -> Section:
        if isinstance(name_or_section, Section):
            return name_or_section
        sec = self.section(name_or_section)
        if sec is None:
            raise ElfError(f"{self.path} has no section {name_or_section}")
        return sec

    def section_data(self, name_or_section: Union[str, Section]) -> Union[memoryview, bytes]:
        """The file contents of a section, as a view into the mapped file.

        SHT_NOBITS sections (``.bss``) have no file contents and give ``b""``.
        A section whose range is not entirely inside the file raises ElfError.
        """
        sec = self._resolve_section(name_or_section)
        if sec.type == SHT_NOBITS:
            return b""
        self._check_range(sec.offset, sec.size, f"section {sec.name!r}")
        return self._memview()[sec.offset : sec.offset + sec.size]

    def find(self, pattern: bytes, section: Union[str, Section]) -> int:
        """Offset within ``section`` of the first occurrence of ``pattern``, or -1.

        Searches the mapped file directly, so looking for a version string in
        a large ``.rodata`` copies nothing.  A missing section gives -1.
        """
        if isinstance(section, str):
            sec = self.section(section)
            if sec is None:
                return -1
        else:
            sec = section
        if sec.type == SHT_NOBITS or not self._in_file(sec.offset, 0):
            return -1
        end = min(sec.offset + sec.size, self._size)
        pos = self._buffer().find(pattern, sec.offset, end)
        return -1 if pos < 0 else pos - sec.offset

    # ------------------------------------------------------------ address maps

    @_cached
    def _loads(self) -> List[Segment]:
        return [s for s in self.segments if s.type == PT_LOAD]

    @_cached
    def _loads_by_vaddr(self) -> Tuple[List[int], List[Segment]]:
        loads = sorted((s for s in self._loads if s.memsz), key=lambda s: s.vaddr)
        return [s.vaddr for s in loads], loads

    def _load_containing(self, vaddr: int) -> Optional[Segment]:
        """The PT_LOAD segment whose memory range contains ``vaddr``."""
        starts, loads = self._loads_by_vaddr
        i = bisect.bisect_right(starts, vaddr) - 1
        # Segments may overlap in hostile files; look back a little for a match.
        for j in range(i, max(i - 4, -1), -1):
            seg = loads[j]
            if seg.vaddr <= vaddr < seg.vaddr + seg.memsz:
                return seg
        return None

    def _vaddr_to_offset(self, vaddr: int) -> Optional[int]:
        """The file offset backing an unrelocated ``vaddr``, or None."""
        seg = self._load_containing(vaddr)
        if seg is None or vaddr - seg.vaddr >= seg.filesz:
            return None
        return seg.offset + (vaddr - seg.vaddr)

    def read_vaddr(self, vaddr: int, size: int) -> Optional[bytes]:
        """The bytes the file supplies for ``size`` bytes at unrelocated ``vaddr``.

        The range may span adjacent PT_LOAD segments.  Bytes past a segment's
        ``filesz`` but within its ``memsz`` (``.bss``) read as zeros.  Returns
        None if any byte is not covered by a segment or the file is truncated
        before it.
        """
        if size < 0 or vaddr < 0:
            return None
        data = self._buffer()
        pieces = []
        remaining = size
        cur = vaddr
        while remaining > 0:
            seg = self._load_containing(cur)
            if seg is None:
                return None
            rel = cur - seg.vaddr
            chunk = min(remaining, seg.memsz - rel)
            in_file = max(0, min(chunk, seg.filesz - rel))
            if in_file:
                start = seg.offset + rel
                if not self._in_file(start, in_file):
                    return None
                pieces.append(data[start : start + in_file])
            if chunk > in_file:
                pieces.append(bytes(chunk - in_file))
            cur += chunk
            remaining -= chunk
        return b"".join(pieces)

    def _bias_candidates(self, mapped_start: int, mapped_offset: int) -> List[int]:
        """Every load bias consistent with one mapping, most likely first.

        A mapping's offset is the page-aligned offset of a PT_LOAD segment, so
        the segments starting within the mapping's first page are candidates
        (in program header order, i.e. by address).  If none starts there the
        mapping is a later page of one (the kernel splits a mapping when part
        of it is mprotect()ed, e.g. RELRO) and the segment containing the
        offset is the only candidate.
        """
        loads = [s for s in self._loads if s.filesz]
        chosen = [s for s in loads if 0 <= s.offset - mapped_offset < _PAGE_SIZE]
        if not chosen:
            inside = [s for s in loads if s.offset <= mapped_offset < s.offset + s.filesz]
            chosen = sorted(inside, key=lambda s: s.offset)[-1:]
        return [mapped_start - (s.vaddr - (s.offset - mapped_offset)) for s in chosen]

    def load_bias_for(self, mapped_start: int, mapped_offset: int) -> int:
        """The load bias of this file, given one mapping of it in a process.

        ``mapped_start`` and ``mapped_offset`` are the start address and file
        offset of a file-backed mapping (a line of ``/proc/<pid>/maps`` or an
        NT_FILE entry); the bias is what to add to an unrelocated address of
        the file (a symbol value) to get its address in the process.
        Non-PIE executables are not relocated, so their bias is always 0.

        Caveat: when two segments start in the same file page (common for
        small binaries, e.g. ``.rodata`` and ``.data`` sharing the page at
        offset 0x2000), a mapping of that page is ambiguous and the lower
        segment is assumed.  The file's lowest mapping is never ambiguous
        this way; :meth:`load_bias_from` picks it out of all the mappings.
        """
        if self.elf_type == ET_EXEC:
            return 0
        candidates = self._bias_candidates(mapped_start, mapped_offset)
        if not candidates:
            raise ElfError(
                f"{self.path}: no loadable segment is mapped from file offset 0x{mapped_offset:x}"
            )
        return candidates[0]

    def load_bias_from(self, mappings: Iterable[Tuple[int, int]]) -> int:
        """The load bias given all (start, file offset) mappings of this file.

        Uses the lowest mapping, which holds the file's first PT_LOAD segment
        and so is never ambiguous (see :meth:`load_bias_for`).
        """
        lowest = min(mappings, default=None)
        if lowest is None:
            raise ElfError(f"{self.path}: no mappings given")
        return self.load_bias_for(*lowest)

    # -------------------------------------------------------------------- notes

    def _note_ranges(self) -> List[Tuple[int, int, int]]:
        """(start, end, alignment) of every note area, clipped to the file."""
        areas = [(s.offset, s.filesz, s.align) for s in self.segments if s.type == PT_NOTE]
        if not areas:
            areas = [
                (s.offset, s.size, 0)
                for s in self.sections
                if s.type == SHT_NOTE
            ]
        ranges = []
        for offset, size, align in areas:
            if not self._in_file(offset, 0):
                continue
            # gABI says 4, but 8-aligned note segments (.note.gnu.property)
            # pad names and descriptors to 8; this is what binutils does too.
            ranges.append((offset, min(offset + size, self._size), 8 if align == 8 else 4))
        return ranges

    def notes(self) -> Iterator[Note]:
        """Every note in the PT_NOTE segments (or SHT_NOTE sections if there are none).

        Iteration stops quietly at the first note of an area that does not fit
        in it (a truncated core), so the number of notes is bounded by the size
        of the note areas.
        """
        data = self._buffer()
        view = self._memview()
        unpack = _NHDR.unpack_from
        owners: Dict[bytes, str] = {}
        for start, end, align in self._note_ranges():
            pad = align - 1
            pos = start
            while pos + 12 <= end:
                namesz, descsz, ntype = unpack(data, pos)
                name_off = pos + 12
                # Padding is measured from the start of the note (as binutils
                # and glibc do): it matters for 8-byte alignment, where the
                # 12-byte header is not itself a multiple of the alignment.
                desc_off = pos + ((12 + namesz + pad) & ~pad)
                desc_end = desc_off + descsz
                if desc_end > end:
                    break
                raw_owner = data[name_off : name_off + namesz]
                owner = owners.get(raw_owner)
                if owner is None:
                    nul = raw_owner.find(b"\0")
                    owner = (raw_owner if nul < 0 else raw_owner[:nul]).decode("latin-1")
                    owners[raw_owner] = owner
                yield Note(owner, ntype, view[desc_off:desc_end])
                pos += (desc_end - pos + pad) & ~pad

    @_cached
    def build_id(self) -> Optional[bytes]:
        """The GNU build id (NT_GNU_BUILD_ID note), or None."""
        for note in self.notes():
            if note.type == NT_GNU_BUILD_ID and note.owner == "GNU":
                return bytes(note.desc)
        return None

    # ----------------------------------------------------- interpreter, dynamic

    @_cached
    def interpreter(self) -> Optional[str]:
        """The program interpreter named by PT_INTERP, or None."""
        for seg in self.segments:
            if seg.type == PT_INTERP:
                self._check_range(seg.offset, seg.filesz, "PT_INTERP segment")
                raw = bytes(self._buffer()[seg.offset : seg.offset + seg.filesz])
                return os.fsdecode(raw.split(b"\0", 1)[0])
        return None

    @_cached
    def _dynamic(self) -> Dict[int, int]:
        """tag -> value of the PT_DYNAMIC entries before DT_NULL (first one wins).

        Only single-valued tags are looked up, so repeated tags (DT_NEEDED)
        need not be kept.
        """
        for seg in self.segments:
            if seg.type != PT_DYNAMIC:
                continue
            # Capped to the file: a PT_DYNAMIC outside it has no entries.
            count = self._table_count(seg.offset, seg.filesz // _DYN.size, _DYN.size)
            view = self._memview()
            entries: Dict[int, int] = {}
            table = view[seg.offset : seg.offset + count * _DYN.size]
            try:
                for tag, value in _DYN.iter_unpack(table):
                    if tag == DT_NULL:
                        break
                    entries.setdefault(tag, value)
            finally:
                table.release()
            return entries
        return {}

    def _dynamic_value(self, tag: int) -> Optional[int]:
        return self._dynamic.get(tag)

    @_cached
    def soname(self) -> Optional[str]:
        """DT_SONAME of a shared library, or None."""
        name_off = self._dynamic_value(DT_SONAME)
        strtab = self._dynamic_value(DT_STRTAB)
        if name_off is None or strtab is None:
            return None
        str_off = self._vaddr_to_offset(strtab)
        if str_off is None:
            raise ElfError(f"{self.path}: DT_STRTAB 0x{strtab:x} is not in the file")
        strsz = self._dynamic_value(DT_STRSZ)
        limit = str_off + strsz if strsz is not None else self._size
        raw = self._cstring(str_off + name_off, limit)
        if raw is None:
            raise ElfError(f"{self.path}: DT_SONAME points outside the string table")
        return os.fsdecode(raw)

    @_cached
    def debuglink(self) -> Optional[Tuple[str, int]]:
        """(file name, CRC32) from ``.gnu_debuglink``, or None."""
        sec = self.section(".gnu_debuglink")
        if sec is None:
            return None
        data = bytes(self.section_data(sec))
        nul = data.find(b"\0")
        if nul < 0:
            raise ElfError(f"{self.path}: unterminated .gnu_debuglink file name")
        crc_off = (nul + 4) & ~3
        if crc_off + 4 > len(data):
            raise ElfError(f"{self.path}: .gnu_debuglink has no CRC")
        (crc,) = _U32.unpack_from(data, crc_off)
        return os.fsdecode(data[:nul]), crc

    # ------------------------------------------------------------------ symbols

    def _symbol_table_from_section(self, sec: Section) -> Optional[_SymbolTable]:
        """Locate a SHT_SYMTAB/SHT_DYNSYM section and its string table."""
        if sec.entsize not in (0, _SYM.size):
            return None
        sections = self.sections
        if not 0 < sec.link < len(sections):
            return None
        strtab = sections[sec.link]
        if strtab.type == SHT_NOBITS or not self._in_file(strtab.offset, 0):
            return None
        return _SymbolTable(
            sym_offset=sec.offset,
            count=self._table_count(sec.offset, sec.size // _SYM.size, _SYM.size),
            str_offset=strtab.offset,
            str_size=min(strtab.size, self._size - strtab.offset),
        )

    @_cached
    def _dynsym(self) -> Optional[_SymbolTable]:
        """The dynamic symbol table with its hash tables.

        Found through PT_DYNAMIC, as the dynamic loader does: that needs a few
        dozen 16-byte reads, while parsing every section header and its name
        costs several times more.  Files without a usable PT_DYNAMIC fall back
        to the section headers.
        """
        table = self._dynsym_from_dynamic()
        return table if table is not None else self._dynsym_from_sections

    @_cached
    def _dynsym_from_sections(self) -> Optional[_SymbolTable]:
        """The SHT_DYNSYM section with its string table and hash sections."""
        sections = self.sections
        for index, sec in enumerate(sections):
            if sec.type != SHT_DYNSYM:
                continue
            table = self._symbol_table_from_section(sec)
            if table is None:
                return None
            hashes: Dict[int, Tuple[int, int]] = {}
            for h in sections:
                if h.type in (SHT_GNU_HASH, SHT_HASH) and h.link == index:
                    if h.type not in hashes and self._in_file(h.offset, 0):
                        hashes[h.type] = (h.offset, min(h.size, self._size - h.offset))
            gnu = hashes.get(SHT_GNU_HASH, (-1, 0))
            sysv = hashes.get(SHT_HASH, (-1, 0))
            return table._replace(
                gnu_hash_offset=gnu[0],
                gnu_hash_size=gnu[1],
                sysv_hash_offset=sysv[0],
                sysv_hash_size=sysv[1],
            )
        return None

    def _dynsym_from_dynamic(self) -> Optional[_SymbolTable]:
        """Locate .dynsym through DT_SYMTAB/DT_STRTAB and its DT_GNU_HASH/DT_HASH.

        Returns None unless the symbol table, its strings and at least one
        hash table are all inside the file.
        """
        symtab = self._dynamic_value(DT_SYMTAB)
        strtab = self._dynamic_value(DT_STRTAB)
        if symtab is None or strtab is None:
            return None
        syment = self._dynamic_value(DT_SYMENT)
        if syment is not None and syment != _SYM.size:
            return None
        sym_off = self._vaddr_to_offset(symtab)
        str_off = self._vaddr_to_offset(strtab)
        if sym_off is None or str_off is None:
            return None
        strsz = self._dynamic_value(DT_STRSZ)
        str_size = self._size - str_off if strsz is None else min(strsz, self._size - str_off)
        # Hash table sizes are not recorded; bound them by the end of the file.
        gnu_off = self._dynamic_offset(DT_GNU_HASH)
        sysv_off = self._dynamic_offset(DT_HASH)
        count = (self._size - sym_off) // _SYM.size
        count_known = False
        if sysv_off is not None and self._in_file(sysv_off, _SYSV_HASH_HDR.size):
            # DT_HASH's nchain is the number of dynamic symbols.
            count = min(count, _SYSV_HASH_HDR.unpack_from(self._buffer(), sysv_off)[1])
            count_known = True
        elif gnu_off is None:
            return None
        return _SymbolTable(
            sym_off,
            count,
            str_off,
            str_size,
            count_known,
            -1 if gnu_off is None else gnu_off,
            0 if gnu_off is None else self._size - gnu_off,
            -1 if sysv_off is None else sysv_off,
            0 if sysv_off is None else self._size - sysv_off,
        )

    def _dynamic_offset(self, tag: int) -> Optional[int]:
        """File offset of the address held by dynamic entry ``tag``, or None."""
        value = self._dynamic_value(tag)
        return None if value is None else self._vaddr_to_offset(value)

    def _name_at(self, table: _SymbolTable, st_name: int, name: bytes) -> bool:
        """Whether the string at ``st_name`` in the table's string table is ``name``."""
        if st_name >= table.str_size:
            return False
        start = table.str_offset + st_name
        end = start + len(name)
        if end >= table.str_offset + table.str_size:
            return False
        data = self._buffer()
        return data[end] == 0 and data[start:end] == name

    def _defined_symbol(
        self, table: _SymbolTable, index: int, name: bytes
    ) -> Optional[Tuple[int, int]]:
        """(value, size) of symbol ``index`` if it is defined and called ``name``."""
        if not 0 <= index < table.count:
            return None
        st_name, _info, _other, shndx, value, size = _SYM.unpack_from(
            self._buffer(), table.sym_offset + index * _SYM.size
        )
        if shndx == SHN_UNDEF or not self._name_at(table, st_name, name):
            return None
        return value, size

    @_cached
    def _gnu_hash_layout(self) -> Optional[Tuple[int, int, int, int, int, int, int, int]]:
        """The parsed ``.gnu.hash`` header and where its parts start, or None.

        None when there is no GNU hash table or it does not fit in its bounds;
        lookups then fall back to DT_HASH or a scan.
        """
        table = self._dynsym
        if table is None or table.gnu_hash_offset < 0:
            return None
        base = table.gnu_hash_offset
        limit = base + table.gnu_hash_size
        if base + _GNU_HASH_HDR.size > limit:
            return None
        nbuckets, symoffset, bloom_size, bloom_shift = _GNU_HASH_HDR.unpack_from(
            self._buffer(), base
        )
        bloom_off = base + _GNU_HASH_HDR.size
        buckets_off = bloom_off + bloom_size * 8
        chain_off = buckets_off + nbuckets * 4
        if nbuckets == 0 or bloom_size == 0 or chain_off > limit:
            return None
        return (
            nbuckets, symoffset, bloom_size, bloom_shift, bloom_off, buckets_off, chain_off, limit
        )

    @_cached
    def _sysv_hash_layout(self) -> Optional[Tuple[int, int, int, int]]:
        """(nbucket, nchain, buckets offset, chains offset) of a DT_HASH table, or None."""
        table = self._dynsym
        if table is None or table.sysv_hash_offset < 0:
            return None
        base = table.sysv_hash_offset
        if base + _SYSV_HASH_HDR.size > base + table.sysv_hash_size:
            return None
        nbucket, nchain = _SYSV_HASH_HDR.unpack_from(self._buffer(), base)
        buckets_off = base + _SYSV_HASH_HDR.size
        chains_off = buckets_off + nbucket * 4
        if nbucket == 0 or chains_off + nchain * 4 > base + table.sysv_hash_size:
            return None
        return nbucket, nchain, buckets_off, chains_off

    def _gnu_hash_lookup(
        self, table: _SymbolTable, layout: Tuple[int, ...], name: bytes
    ) -> Optional[Tuple[int, int]]:
        """Look ``name`` up through ``.gnu.hash``: bloom filter, then bucket, then chain."""
        nbuckets, symoffset, bloom_size, bloom_shift, bloom_off, buckets_off, chain_off, limit = (
            layout
        )
        data = self._buffer()
        h = _gnu_hash(name)
        # Bloom filter: two bits per name in one 64-bit word; both must be set,
        # which rejects most absent names without touching the symbol table.
        (word,) = _U64.unpack_from(data, bloom_off + ((h >> 6) % bloom_size) * 8)
        mask = (1 << (h & 63)) | (1 << ((h >> bloom_shift) & 63))
        if word & mask != mask:
            return None
        (index,) = _U32.unpack_from(data, buckets_off + (h % nbuckets) * 4)
        if index < symoffset:
            return None
        # Chain entries hold the hashes (low bit = end of chain) of the symbols
        # from ``index`` on.  Bounded by the symbol count and the table's end.
        h_even = h | 1
        while index < table.count:
            entry_off = chain_off + (index - symoffset) * 4
            if entry_off + 4 > limit:
                return None
            (chain_hash,) = _U32.unpack_from(data, entry_off)
            if chain_hash | 1 == h_even:
                found = self._defined_symbol(table, index, name)
                if found is not None:
                    return found
            if chain_hash & 1:
                return None
            index += 1
        return None

    def _sysv_hash_lookup(
        self, table: _SymbolTable, layout: Tuple[int, int, int, int], name: bytes
    ) -> Optional[Tuple[int, int]]:
        """Look ``name`` up through a System V ``DT_HASH`` table."""
        nbucket, nchain, buckets_off, chains_off = layout
        data = self._buffer()
        (index,) = _U32.unpack_from(data, buckets_off + (_sysv_hash(name) % nbucket) * 4)
        # A corrupted chain may loop; a real one visits at most nchain entries.
        for _ in range(nchain):
            if index == 0 or index >= nchain:
                return None
            found = self._defined_symbol(table, index, name)
            if found is not None:
                return found
            (index,) = _U32.unpack_from(data, chains_off + index * 4)
        return None

    def _build_index(self, table: _SymbolTable) -> Dict[bytes, Tuple[int, int]]:
        """name -> (value, size) for every defined symbol of a table.

        Global and weak symbols win over local ones of the same name; among
        equals the first one wins.
        """
        view = self._memview()
        strtab = bytes(view[table.str_offset : table.str_offset + table.str_size])
        nstr = len(strtab)
        globals_: Dict[bytes, Tuple[int, int]] = {}
        locals_: Dict[bytes, Tuple[int, int]] = {}
        raw = view[table.sym_offset : table.sym_offset + table.count * _SYM.size]
        try:
            for st_name, info, _other, shndx, value, size in _SYM.iter_unpack(raw):
                if shndx == SHN_UNDEF or st_name == 0 or st_name >= nstr:
                    continue
                kind = info & 0xF
                if kind == STT_SECTION or kind == STT_FILE:
                    continue
                end = strtab.find(b"\0", st_name)
                if end < 0:
                    continue
                target = locals_ if info >> 4 == STB_LOCAL else globals_
                target.setdefault(strtab[st_name:end], (value, size))
        finally:
            raw.release()
        locals_.update(globals_)
        return locals_

    @_cached
    def _dynsym_index(self) -> Dict[bytes, Tuple[int, int]]:
        """Dict over .dynsym, used only when it has no usable hash table.

        Needs the real length of the table: the section's, else DT_HASH's.
        """
        table = self._dynsym_from_sections
        if table is None and self._dynsym is not None and self._dynsym.count_known:
            table = self._dynsym
        return {} if table is None else self._build_index(table)

    @_cached
    def _symtab_index(self) -> Dict[bytes, Tuple[int, int]]:
        """Dict over .symtab, built once on the first lookup that needs it."""
        for sec in self.sections:
            if sec.type == SHT_SYMTAB:
                table = self._symbol_table_from_section(sec)
                return {} if table is None else self._build_index(table)
        return {}

    def _lookup_dynsym(self, name: bytes) -> Optional[Tuple[int, int]]:
        table = self._dynsym
        if table is None:
            return None
        # A usable hash table is authoritative: a miss there is a miss.
        gnu = self._gnu_hash_layout
        if gnu is not None:
            return self._gnu_hash_lookup(table, gnu, name)
        sysv = self._sysv_hash_layout
        if sysv is not None:
            return self._sysv_hash_lookup(table, sysv, name)
        return self._dynsym_index.get(name)

    def symbol_with_size(self, name: str) -> Optional[Tuple[int, int]]:
        """(st_value, st_size) of the defined symbol ``name``, unrelocated, or None.

        The dynamic symbol table is searched first through its hash table (the
        fast path: a few reads, no parsing of the whole table); only names not
        exported there are looked for in ``.symtab``, which is indexed once.
        """
        raw = os.fsencode(name) if isinstance(name, str) else bytes(name)
        found = self._lookup_dynsym(raw)
        if found is None:
            found = self._symtab_index.get(raw)
        return found

    def symbol(self, name: str) -> Optional[int]:
        """st_value of the defined symbol ``name`` (unrelocated), or None."""
        found = self.symbol_with_size(name)
        return None if found is None else found[0]
