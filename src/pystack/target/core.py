"""A core file as a `Target`: memory, mappings and threads of a process that is gone.

Why the design looks like this:

* The core is mmap'ed and never read as a whole.  PT_LOAD segments are kept
  sorted by address and found by bisection, and a read copies only the bytes
  asked for, so opening a 50 GB core costs what opening a 50 MB one does.
* Cores do not hold all of the memory.  The kernel leaves out file-backed
  memory that was never written (coredump_filter's default 0x33 keeps only
  the first page of each mapped ELF file, for its build id), and gdb's
  ``gcore`` writes no executable segments at all.  Those bytes are what the
  files named in NT_FILE hold at ``offset + (address - start)``, which is
  exactly what the kernel had mapped, so they are served from those files,
  opened lazily (once each) under ``--lib-search-root`` or found through
  ``--lib-search-path``.  Anonymous memory absent from the core is an error.
* A core is untrusted input.  Only files that NT_FILE or the auxiliary vector
  name (resolved under the root or search path) and the executable given by
  the user are ever opened, and only if they are regular files.  Every count
  and size read from the core is checked against the size of the file before
  anything is allocated from it.
* A truncated core (a copy cut short, a disk that filled up) is still read:
  what is missing is treated as absent memory and reported in `warnings`.
* Compressed cores (systemd-coredump's zstd, gzip, xz, lz4, bzip2) are
  decompressed to a sparse temporary file first; see `decompress`.
* Nothing here reads a live /proc: the process that dumped the core may not
  exist any more, or its pid may belong to another process now.
"""
from __future__ import annotations

import bisect
import mmap
import os
import stat
import struct
from types import TracebackType

from pystack.binaries.elf import ET_CORE, ET_DYN, ET_EXEC, PT_INTERP, PT_LOAD, PT_NOTE, ElfFile
from pystack.errors import (
    CoreExecutableNotFound,
    ElfError,
    EngineError,
    InvalidExecutable,
    MemoryReadError,
    MissingExecutableMaps,
)
from pystack.records import TupleRecord
from pystack.target import corenotes, decompress
from pystack.target.base import Mapping, Target
from pystack.target.corenotes import (
    AT_ENTRY,
    AT_EXECFN,
    AT_PHDR,
    NT_ARM_TLS,
    NT_AUXV,
    NT_FILE,
    NT_PRPSINFO,
    NT_PRSTATUS,
    NT_SIGINFO,
    CoreNoteError,
    FileMapping,
    PrStatus,
    PsInfo,
    SigInfo,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    import weakref
    from typing import Iterable, Iterator, Optional, Sequence, Union

__all__ = ["CoreFile", "PrStatus", "PsInfo", "SigInfo", "FileMapping"]

_ADDRESS_LIMIT = 1 << 64
_ELF_MAGIC = b"\x7fELF"
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_NHDR = struct.Struct("<III")
_NT_GNU_BUILD_ID = 3

# PT_LOAD p_flags bits.
_PF_X, _PF_W, _PF_R = 1, 2, 4

#: More notes than this is corruption (a core of 100k threads has ~500k notes).
_MAX_NOTES = 1 << 21
#: The longest path AT_EXECFN can name (PATH_MAX).
_PATH_MAX = 4096
#: Reads of strings from memory go in pieces that never cross this boundary, so
#: a string that ends just before unreadable memory is still found.
_STRING_CHUNK = 256
#: Bounds when reading an ELF header and build id out of core memory.
_MAX_PHNUM = 512
_MAX_NOTE_AREA = 1 << 16
#: Paths NT_FILE names that are never regular files on disk.
_PSEUDO_PREFIXES = ("/dev/", "/memfd:", "/SYSV", "/anon_hugepage")


class _Segment(TupleRecord):
    """One PT_LOAD of the core: `present` bytes from `offset` are in the file."""

    start: int
    end: int
    offset: int
    present: int  # p_filesz, clipped to p_memsz and to the end of the file
    flags: int
    clipped: bool  # the file ends before p_filesz bytes (a truncated core)


class _BackingFile(TupleRecord):
    """A file NT_FILE names, mapped once so reads of absent memory are slices of it."""

    path: str  # where it was opened (the host path)
    data: Optional[mmap.mmap]  # None for an empty file
    size: int


def _perms(flags: int) -> str:
    return (
        ("r" if flags & _PF_R else "-")
        + ("w" if flags & _PF_W else "-")
        + ("x" if flags & _PF_X else "-")
        + "p"
    )


def _iter_notes(data: bytes, align: int = 4) -> Iterator[tuple[str, int, bytes]]:
    """(owner, type, descriptor) of each note in a buffer; stops at the first that does not fit."""
    pad = align - 1
    pos = 0
    end = len(data)
    while pos + _NHDR.size <= end:
        namesz, descsz, ntype = _NHDR.unpack_from(data, pos)
        desc_off = pos + ((_NHDR.size + namesz + pad) & ~pad)
        desc_end = desc_off + descsz
        if desc_end > end:
            return
        owner = data[pos + _NHDR.size : pos + _NHDR.size + namesz].split(b"\0", 1)[0]
        yield owner.decode("latin-1"), ntype, data[desc_off:desc_end]
        pos += (desc_end - pos + pad) & ~pad


def _is_regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


class CoreFile(Target):
    """Memory, mappings, threads and process facts of an ELF core file.

    Use it as a context manager (or call `close`): it holds mappings of the
    core and of the files it reads from, and possibly a temporary file with
    a decompressed core.
    """

    def __init__(
        self,
        path: Union[str, "os.PathLike[str]"],
        executable: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        lib_search_path: Optional[Sequence[str]] = None,
        lib_search_root: Optional[str] = None,
    ) -> None:
        self.path = os.fspath(path)
        self.lib_search_root = os.fspath(lib_search_root) if lib_search_root else None
        self.lib_search_path = [os.fspath(d) for d in (lib_search_path or [])]
        self.root = self.lib_search_root or "/"
        #: The uncompressed core that is read (a temporary file for a compressed core).
        self.core_path = self.path
        self.compression: Optional[str] = None
        self.truncated = False
        self.warnings: list[str] = []
        self.pid: Optional[int] = None
        self.psinfo: Optional[PsInfo] = None
        self.siginfo: Optional[SigInfo] = None
        self.prstatus: list[PrStatus] = []
        #: The NT_SIGINFO that follows each thread's NT_PRSTATUS (gcore writes one per thread).
        self.thread_siginfo: dict[int, SigInfo] = {}
        self.auxv: dict[int, int] = {}
        self.file_mappings: list[FileMapping] = []
        self.page_size = mmap.PAGESIZE
        self.machine = 0
        self._map: Optional[mmap.mmap] = None
        self._size = 0
        self._segments: list[_Segment] = []
        self._segment_starts: list[int] = []
        self._data_ends: list[int] = []
        self._deltas: list[int] = []
        self._file_starts: list[int] = []
        self._files: dict[str, Optional[_BackingFile]] = {}
        self._resolved: dict[str, Optional[str]] = {}
        self._registers: dict[int, dict[str, int]] = {}
        self._mappings_cache: Optional[list[Mapping]] = None
        self._perms_cache: dict[tuple[str, int], str] = {}
        self._exe: Optional[str] = None
        self._exe_known = False
        self._executable: Optional[str] = None
        self._executable_known = False
        self._build_ids: Optional[list[tuple[str, Optional[str], Optional[str]]]] = None
        self._cleanup: Optional[weakref.finalize] = None
        try:
            self._open()
            if executable is not None:
                self._executable = self._check_given_executable(os.fspath(executable))
                self._executable_known = True
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> "CoreFile":
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Unmap the core and every file opened for it; delete a decompressed copy."""
        if self._map is not None:
            self._map.close()
            self._map = None
        for backing in self._files.values():
            if backing is not None and backing.data is not None:
                backing.data.close()
        self._files.clear()
        if self._cleanup is not None:
            self._cleanup()  # runs at most once; also registered for interpreter exit

    # ------------------------------------------------------------ opening

    def _open(self) -> None:
        self._check_core_path()
        fmt = decompress.detect(self.path)
        if fmt is not None:
            self._decompress(fmt)
        self._open_elf()
        self._map_core()

    def _check_core_path(self) -> None:
        """Fail with one line for a core that is not there (never open a FIFO or device)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise EngineError(f"{self.path}: no such file", corefile=self.path) from None
        except OSError as exc:
            raise EngineError(f"{self.path}: {exc.strerror or exc}", corefile=self.path) from None
        if not stat.S_ISREG(st.st_mode):
            raise EngineError(f"{self.path}: not a regular file", corefile=self.path)
        if not os.access(self.path, os.R_OK):
            raise EngineError(f"{self.path}: permission denied", corefile=self.path)

    def _decompress(self, fmt: str) -> None:
        import weakref  # lazily: only a compressed core needs it

        result = decompress.decompress_to_tempfile(self.path, fmt)
        self.compression = fmt
        self.core_path = result.path
        self._cleanup = weakref.finalize(self, _unlink_quietly, result.path)
        if result.truncated:
            self._warn_truncated(f"{self.path}: the {fmt} stream ends early (the file is cut short)")

    def _open_elf(self) -> None:
        """Parse the ELF header, the program headers and the notes, then let the ElfFile go."""
        try:
            elf = ElfFile(self.core_path)
        except ElfError as exc:
            raise self._not_a_core(str(exc)) from None
        try:
            if elf.elf_type != ET_CORE:
                kind = {ET_EXEC: "an executable", ET_DYN: "a shared object or PIE executable"}
                raise self._not_a_core(f"it is {kind.get(elf.elf_type, 'not ET_CORE')}")
            self.machine = elf.machine
            self._size = os.path.getsize(self.core_path)
            self._index_segments(elf)
            self._parse_notes(elf)
        finally:
            elf.close()

    def _not_a_core(self, why: str) -> EngineError:
        why = why.replace(self.core_path, self.path)
        for prefix in (f"{self.path} is ", f"{self.path} "):
            if why.startswith(prefix):
                why = why[len(prefix) :]
                break
        if self.compression:
            why += f"; decompressed from {self.compression}"
        return EngineError(f"{self.path} is not a core file ({why})", corefile=self.path)

    def _map_core(self) -> None:
        with open(self.core_path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    def _warn_truncated(self, message: str) -> None:
        self.truncated = True
        if message not in self.warnings:
            self.warnings.append(message)

    def _index_segments(self, elf: ElfFile) -> None:
        """Sort the PT_LOADs by address, clip them to the file, notice truncation."""
        segments = []
        needed = 0
        for seg in elf.segments:
            if seg.type not in (PT_LOAD, PT_NOTE):
                continue
            needed = max(needed, seg.offset + seg.filesz)
            if seg.type != PT_LOAD or seg.memsz == 0:
                continue
            wanted = min(seg.filesz, seg.memsz)
            present = min(wanted, max(0, self._size - seg.offset))
            end = min(seg.vaddr + seg.memsz, _ADDRESS_LIMIT)
            segments.append(
                _Segment(seg.vaddr, end, seg.offset, present, seg.flags, present < wanted)
            )
        if needed > self._size:
            self._warn_truncated(
                f"{self.path} is truncated: it has {self._size} bytes but its headers describe "
                f"{needed}; memory past the end is treated as absent"
            )
        segments.sort()
        self._segments = segments
        self._segment_starts = [s.start for s in segments]
        # Parallel lists for the fast path of `read` (plain list indexing is
        # several times cheaper than named-tuple attribute access).
        self._data_ends = [min(s.start + s.present, _ADDRESS_LIMIT) for s in segments]
        self._deltas = [s.start - s.offset for s in segments]

    def _parse_notes(self, elf: ElfFile) -> None:
        """Collect threads, process info, signal, auxv and file mappings from the notes."""
        current: Optional[PrStatus] = None
        count = 0
        for note in elf.notes():
            count += 1
            if count > _MAX_NOTES:
                self.warnings.append(f"{self.path}: more than {_MAX_NOTES} notes, ignoring the rest")
                break
            try:
                current = self._parse_note(note.owner, note.type, note.desc, current)
            except CoreNoteError as exc:
                self.warnings.append(f"{self.path}: {exc}")
            finally:
                note.desc.release()
        if self.psinfo is not None:
            self.pid = self.psinfo.pid
        elif self.prstatus:
            self.pid = self.prstatus[0].pid
        self.file_mappings.sort(key=lambda m: (m.start, m.end))
        self._file_starts = [m.start for m in self.file_mappings]

    def _parse_note(
        self, owner: str, ntype: int, desc: memoryview, current: Optional[PrStatus]
    ) -> Optional[PrStatus]:
        """Handle one note; returns the thread that the notes following it belong to."""
        if owner == "LINUX" and ntype == NT_ARM_TLS and current is not None:
            current.registers.setdefault("tpidr", corenotes.parse_arm_tls(desc))
            return current
        if owner != "CORE":
            return current
        if ntype == NT_PRSTATUS:
            status = corenotes.parse_prstatus(desc, self.machine)
            self.prstatus.append(status)
            self._registers.setdefault(status.pid, status.registers)
            return status
        if ntype == NT_PRPSINFO and self.psinfo is None:
            self.psinfo = corenotes.parse_prpsinfo(desc)
        elif ntype == NT_SIGINFO:
            info = corenotes.parse_siginfo(desc)
            if self.siginfo is None:
                self.siginfo = info
            if current is not None:
                self.thread_siginfo.setdefault(current.pid, info)
        elif ntype == NT_AUXV and not self.auxv:
            self.auxv = corenotes.parse_auxv(desc)
        elif ntype == NT_FILE and not self.file_mappings:
            self.page_size, self.file_mappings = corenotes.parse_file_note(desc)
        return current

    # ------------------------------------------------------------ memory

    def _segment_at(self, address: int) -> tuple[int, Optional[_Segment]]:
        """(index after the match, segment containing `address` or None)."""
        i = bisect.bisect_right(self._segment_starts, address)
        # Overlapping segments only occur in damaged cores; look back a little.
        for j in range(i - 1, max(i - 5, -1), -1):
            seg = self._segments[j]
            if seg.start <= address < seg.end:
                return i, seg
        return i, None

    def bytes_held(self, start: int, end: int) -> int:
        """How many bytes of [start, end) the core itself holds (PT_LOAD contents)."""
        i = max(0, bisect.bisect_right(self._segment_starts, start) - 5)
        held = 0
        for seg in self._segments[i:]:
            if seg.start >= end:
                break
            low, high = max(start, seg.start), min(end, seg.start + seg.present)
            held += max(0, high - low)
        return held

    def _file_mapping_at(self, address: int) -> Optional[FileMapping]:
        i = bisect.bisect_right(self._file_starts, address)
        for j in range(i - 1, max(i - 5, -1), -1):
            fm = self.file_mappings[j]
            if fm.start <= address < fm.end:
                return fm
        return None

    def read(self, address: int, size: int) -> bytes:
        """Return exactly `size` bytes at `address` or raise MemoryReadError.

        From the core where it has the bytes, else from the file NT_FILE says
        was mapped there.
        """
        data = self._map
        if data is not None and size > 0 and address >= 0:
            # Fast path: the whole range is in the core, in the segment that
            # starts last at or before `address`.
            i = bisect.bisect_right(self._segment_starts, address) - 1
            if i >= 0 and address + size <= self._data_ends[i]:
                offset = address - self._deltas[i]
                return data[offset : offset + size]
        if size < 0:
            raise ValueError("negative size")
        if size == 0:
            return b""
        if address < 0 or address + size > _ADDRESS_LIMIT:
            raise MemoryReadError(address, size, "address out of range")
        self._memory()
        return self._read_pieces(address, size, with_files=True)

    def read_from_core(self, address: int, size: int) -> bytes:
        """Like `read`, but only bytes the core itself holds (nothing from mapped files)."""
        if size <= 0 or address < 0 or address + size > _ADDRESS_LIMIT:
            if size == 0:
                return b""
            raise MemoryReadError(address, size, "invalid range")
        self._memory()
        return self._read_pieces(address, size, with_files=False)

    def read_many(self, ranges: Iterable[tuple[int, int]]) -> list[Optional[bytes]]:
        """Read several (address, size) ranges, None for those that cannot be read."""
        results: list[Optional[bytes]] = []
        for address, size in ranges:
            try:
                results.append(self.read(address, size))
            except (MemoryReadError, ValueError):
                results.append(None)
        return results

    def _memory(self) -> mmap.mmap:
        if self._map is None:
            raise EngineError(f"{self.path}: core file is closed", corefile=self.path)
        return self._map

    def _read_pieces(self, address: int, size: int, *, with_files: bool) -> bytes:
        """Assemble a read that spans segments, or needs bytes from a mapped file."""
        pieces = []
        cur = address
        end = address + size
        while cur < end:
            piece = self._piece(cur, end, with_files)
            if isinstance(piece, str):
                raise MemoryReadError(address, size, piece)
            pieces.append(piece)
            cur += len(piece)
        return b"".join(pieces)

    def _piece(self, cur: int, end: int, with_files: bool) -> Union[bytes, str]:
        """The longest readable run of bytes from `cur` (before `end`), or why there is none."""
        i, seg = self._segment_at(cur)
        if seg is not None:
            rel = cur - seg.start
            if rel < seg.present:
                n = min(end - cur, seg.present - rel)
                return self._memory()[seg.offset + rel : seg.offset + rel + n]
            limit = min(end, seg.end)  # the part of this segment the core leaves out
        else:
            limit = end
        if i < len(self._segments):
            # Stop where the next segment starts: from there the core has its say.
            limit = min(limit, self._segments[i].start)
        absent = f"0x{cur:x} is not in the core"
        if seg is not None and seg.clipped:
            absent += " (the core is truncated)"
        fm = self._file_mapping_at(cur) if with_files else None
        if fm is None:
            return absent
        return self._file_piece(fm, cur, min(limit, fm.end))

    def _file_piece(self, fm: FileMapping, cur: int, limit: int) -> Union[bytes, str]:
        """Bytes at `cur` of a file mapping, as the kernel had mapped them from the file."""
        backing = self._backing(fm.path)
        if backing is None:
            return f"0x{cur:x} is not in the core and {fm.path} was not found"
        offset = fm.offset + (cur - fm.start)
        n = limit - cur
        if offset < backing.size and backing.data is not None:
            n = min(n, backing.size - offset)
            return backing.data[offset : offset + n]
        # Past the end of the file the kernel maps zeros up to the page boundary
        # (and faults beyond it).
        page_end = -(-backing.size // self.page_size) * self.page_size
        if offset < page_end:
            return bytes(min(n, page_end - offset))
        return f"0x{cur:x} is past the end of {fm.path}"

    def _backing(self, path: str) -> Optional[_BackingFile]:
        """The mapped file for an NT_FILE path, opened on first use; None if unavailable."""
        if path in self._files:
            return self._files[path]
        host = self.mapped_file_path(path)
        backing = _map_regular_file(host) if host is not None else None
        if host is not None and backing is None:
            self.warnings.append(f"cannot read {host} (mapped as {path})")
        self._files[path] = backing
        return backing

    def _read_cstring(self, address: int, limit: int = _PATH_MAX) -> Optional[bytes]:
        """A NUL-terminated string from memory, read in chunks that stay within pages."""
        out = bytearray()
        cur = address
        while len(out) < limit:
            n = min(_STRING_CHUNK - cur % _STRING_CHUNK, limit - len(out))
            try:
                chunk = self.read(cur, n)
            except MemoryReadError:
                return None
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                return bytes(out)
            out += chunk
            cur += n
        return None

    # ------------------------------------------------------------ mappings

    def mappings(self) -> list[Mapping]:
        """Every mapping: NT_FILE's file-backed ones, plus PT_LOAD memory they do not cover."""
        if self._mappings_cache is None:
            maps = [
                Mapping(fm.start, fm.end, fm.offset, self._file_perms(fm), fm.path)
                for fm in self.file_mappings
            ]
            maps.extend(self._anonymous_mappings())
            maps.sort(key=lambda m: (m.start, m.end))
            self._mappings_cache = maps
        return list(self._mappings_cache)

    def _anonymous_mappings(self) -> Iterator[Mapping]:
        """The parts of PT_LOAD segments that no NT_FILE entry covers."""
        files = self.file_mappings
        for seg in self._segments:
            cur = seg.start
            i = max(0, bisect.bisect_right(self._file_starts, seg.start) - 1)
            while cur < seg.end and i < len(files) and files[i].start < seg.end:
                fm = files[i]
                if fm.end > cur:
                    if fm.start > cur:
                        yield Mapping(cur, fm.start, 0, _perms(seg.flags), None)
                    cur = max(cur, fm.end)
                i += 1
            if cur < seg.end:
                yield Mapping(cur, seg.end, 0, _perms(seg.flags), None)

    def _file_perms(self, fm: FileMapping) -> str:
        """Permissions of a file mapping: from its PT_LOAD, else from the file's own headers.

        gcore writes no segment at all for memory it leaves out, so the core
        does not say how such a mapping was protected; the ELF file does.
        Anything else left out was never written: read-only is the best guess.
        """
        _, seg = self._segment_at(fm.start)
        if seg is not None:
            return _perms(seg.flags)
        key = (fm.path, fm.offset)
        if key not in self._perms_cache:
            self._perms_cache[key] = self._perms_from_file(fm) or "r--p"
        return self._perms_cache[key]

    def _perms_from_file(self, fm: FileMapping) -> Optional[str]:
        host = self.mapped_file_path(fm.path)
        if host is None:
            return None
        try:
            with ElfFile(host) as elf:
                for seg in elf.segments:
                    aligned = seg.offset - seg.offset % self.page_size
                    if seg.type == PT_LOAD and aligned <= fm.offset < max(seg.offset + seg.filesz,
                                                                          aligned + 1):
                        return _perms(seg.flags)
        except ElfError:
            return None
        return None

    # ------------------------------------------------------------ threads

    def thread_ids(self) -> list[int]:
        """pr_pid of each NT_PRSTATUS in note order; the first is the thread that crashed."""
        return [s.pid for s in self.prstatus]

    def thread_name(self, tid: int) -> Optional[str]:
        """Cores record no per-thread names (and the live /proc is not the core's)."""
        return None

    def registers(self, tid: int) -> dict[str, int]:
        """General-purpose registers of a thread at the time of the dump."""
        regs = self._registers.get(tid)
        if regs is None:
            raise EngineError(f"the core has no thread {tid}", corefile=self.path)
        return dict(regs)

    def thread_pointers(self) -> dict[int, int]:
        """tid -> thread pointer (x86-64 fs_base, aarch64 tpidr), which glibc's pthread_t is."""
        pointers = {}
        for status in self.prstatus:
            pointer = status.registers.get("fs_base") or status.registers.get("tpidr")
            if pointer:
                pointers.setdefault(status.pid, pointer)
        return pointers

    # ------------------------------------------------------------ files

    def mapped_file_path(self, path: str) -> Optional[str]:  # type: ignore[override]
        """Where a file named in NT_FILE opens here, or None if it is nowhere to be found.

        Tried in order: beneath --lib-search-root, a file of the same name in a
        --lib-search-path directory, the path itself.  Only regular files count.
        """
        if path not in self._resolved:
            given = self._executable if self._executable_known else None
            if given and path == self.exe_mapping_path:
                self._resolved[path] = given  # the user named the executable: use it
            else:
                self._resolved[path] = self._locate(path, host_fallback=True)
        return self._resolved[path]

    def _locate(self, path: str, host_fallback: bool) -> Optional[str]:
        for candidate in self._candidates(path, host_fallback):
            if _is_regular_file(candidate):
                return candidate
        return None

    def _candidates(self, path: str, host_fallback: bool) -> Iterator[str]:
        if not path or "\0" in path:
            return
        if self.lib_search_root:
            yield _beneath(self.lib_search_root, path)
        name = os.path.basename(path)
        if name:
            for directory in self.lib_search_path:
                yield os.path.join(directory, name)
        if host_fallback and path.startswith("/"):
            yield path

    def host_path(self, path: str) -> str:
        """Where a path the target named (co_filename, AT_EXECFN) opens from here.

        Beneath the root when one is given, with ".." resolved first so that a
        name read from the core cannot climb out of it.
        """
        if self.lib_search_root and path.startswith("/"):
            return _beneath(self.lib_search_root, path)
        return path

    def missing_files(self) -> list[str]:
        """Files named in NT_FILE that cannot be found (pseudo-files like /dev/zero excluded)."""
        missing = []
        for fm in self.file_mappings:
            if fm.path in missing or fm.path.startswith(_PSEUDO_PREFIXES):
                continue
            if self.mapped_file_path(fm.path) is None:
                missing.append(fm.path)
        return missing

    def _first_mappings(self) -> dict[str, FileMapping]:
        """path -> its lowest mapping of file offset 0 (where the ELF header is), in address order."""
        first: dict[str, FileMapping] = {}
        for fm in self.file_mappings:
            if fm.offset == 0 and fm.path not in first:
                first[fm.path] = fm
        return first

    def _elf_header_in_core(self, fm: FileMapping) -> Optional[tuple[int, bytes]]:
        """(e_type, program headers) of the ELF file mapped at `fm`, from core memory only."""
        try:
            header = self.read_from_core(fm.start, _EHDR.size)
        except MemoryReadError:
            return None
        if header[:4] != _ELF_MAGIC or header[4] != 2 or header[5] != 1:
            return None
        fields = _EHDR.unpack(header)
        e_type, phoff, phentsize, phnum = fields[1], fields[5], fields[9], fields[10]
        if phentsize != _PHDR.size or not 0 < phnum <= _MAX_PHNUM or phoff >= fm.end - fm.start:
            return e_type, b""
        try:
            return e_type, self.read_from_core(fm.start + phoff, phnum * _PHDR.size)
        except MemoryReadError:
            return e_type, b""

    def core_build_id(self, path: str) -> Optional[str]:
        """The build id (hex) of a mapped ELF file as its first page in the core records it.

        None when that page or its note is not in the core, or it is not an ELF file.
        """
        fm = self._first_mappings().get(path)
        if fm is None:
            return None
        parsed = self._elf_header_in_core(fm)
        if parsed is None or not parsed[1]:
            return None
        phdrs = [_PHDR.unpack_from(parsed[1], off) for off in range(0, len(parsed[1]), _PHDR.size)]
        loads = [p for p in phdrs if p[0] == PT_LOAD]
        if not loads:
            return None
        first = min(loads, key=lambda p: p[2])  # lowest file offset: what `fm` maps
        bias = fm.start - (first[3] - first[2])
        for p_type, _flags, _off, vaddr, _paddr, filesz, _memsz, align in phdrs:
            if p_type != PT_NOTE or filesz == 0:
                continue
            try:
                area = self.read_from_core(bias + vaddr, min(filesz, _MAX_NOTE_AREA))
            except (MemoryReadError, ValueError):
                continue
            for owner, ntype, desc in _iter_notes(area, 8 if align == 8 else 4):
                if owner == "GNU" and ntype == _NT_GNU_BUILD_ID and desc:
                    return desc.hex()
        return None

    def _disk_build_id(self, host: str) -> Optional[str]:
        try:
            with ElfFile(host) as elf:
                build_id = elf.build_id
        except ElfError:
            return None
        return build_id.hex() if build_id else None

    def build_ids(self) -> list[tuple[str, Optional[str], Optional[str]]]:
        """(path, build id in the core, build id on disk) for every file mapped from offset 0."""
        if self._build_ids is None:
            result = []
            for path in self._first_mappings():
                if path.startswith(_PSEUDO_PREFIXES):
                    continue
                host = self.mapped_file_path(path)
                disk = self._disk_build_id(host) if host is not None else None
                result.append((path, self.core_build_id(path), disk))
            self._build_ids = result
        return list(self._build_ids)

    def build_id_mismatches(self) -> list[tuple[str, str, str]]:
        """(path, core build id, disk build id or "") for files on disk that differ from the core."""
        mismatches = []
        for path, core_id, disk_id in self.build_ids():
            if core_id and self.mapped_file_path(path) is not None and disk_id != core_id:
                mismatches.append((path, core_id, disk_id or ""))
        return mismatches

    # ------------------------------------------------------------ executable

    @property
    def exe(self) -> str:
        """The executable as the core names it: AT_EXECFN, else the first mapped file, else comm."""
        if not self._exe_known:
            self._exe = self._find_exe()
            self._exe_known = True
        if self._exe is None:
            raise self._no_executable()
        return self._exe

    @property
    def executable(self) -> Optional[str]:
        """Host path of the executable: the one given, else the one the core names, if found."""
        if not self._executable_known:
            self._executable = self._find_executable()
            self._executable_known = True
        return self._executable

    def _no_executable(self) -> MissingExecutableMaps:
        why = " (the core is truncated)" if self.truncated else ""
        return MissingExecutableMaps(
            f"{self.path} names no executable{why}: pass the executable as an argument"
        )

    def _find_exe(self) -> Optional[str]:
        execfn = self.auxv.get(AT_EXECFN)
        if execfn:
            raw = self._read_cstring(execfn)
            if raw:
                return os.fsdecode(raw)
        if self.file_mappings:
            return self.file_mappings[0].path
        if self.psinfo is not None and self.psinfo.fname:
            return self.psinfo.fname
        # A core whose notes are lost (truncated gcore cores keep them at the end):
        # the executable the user gave is all there is.
        if self._executable_known and self._executable:
            return self._executable
        return None

    @property
    def exe_mapping_path(self) -> Optional[str]:
        """The NT_FILE path of the main executable (the interpreter, not a shebang script).

        The mapping holding AT_ENTRY (or AT_PHDR) is the program's; without an
        auxiliary vector, the first file mapped from offset 0 that is an ELF
        executable with a program interpreter.
        """
        for key in (AT_ENTRY, AT_PHDR):
            address = self.auxv.get(key)
            fm = self._file_mapping_at(address) if address else None
            if fm is not None:
                return fm.path
        for path, fm in self._first_mappings().items():
            if path.startswith(_PSEUDO_PREFIXES):
                continue
            if self._is_program(path, fm):
                return path
        return None

    def _is_program(self, path: str, fm: FileMapping) -> bool:
        """Whether the file mapped at `fm` is an ELF executable with PT_INTERP."""
        parsed = self._elf_header_in_core(fm)
        if parsed is not None and parsed[1]:
            e_type, phdrs = parsed
            types = {_PHDR.unpack_from(phdrs, off)[0] for off in range(0, len(phdrs), _PHDR.size)}
            return e_type in (ET_EXEC, ET_DYN) and PT_INTERP in types
        host = self.mapped_file_path(path)
        return host is not None and _elf_program_kind(host) == "program"

    def _find_executable(self) -> Optional[str]:
        """Resolve the executable on this host; a shebang script falls back to its interpreter.

        Files beneath the root or in the search path are preferred over files
        at the same path on this host, for both the AT_EXECFN name and the
        mapped file: with a container's root given, the host's /usr/bin/python3
        is the wrong file even if it exists.
        """
        try:
            exe = self.exe
        except MissingExecutableMaps:
            exe = None
        names = [exe] if exe and exe.startswith("/") else []
        mapped = self.exe_mapping_path
        if mapped is not None and mapped not in names:
            names.append(mapped)
        for host_fallback in (False, True):
            for name in names:
                host = self._locate(name, host_fallback)
                if host is None:
                    continue
                # AT_EXECFN may name a script (shebang): only an ELF file will do.
                if name == mapped or _elf_program_kind(host) is not None:
                    return host
        if mapped is not None:
            self.warnings.append(f"the executable {mapped} was not found")
            return None
        if exe is None:
            raise self._no_executable()
        return None

    def _check_given_executable(self, executable: str) -> str:
        """Validate a user-given executable: exists, is an ELF program, matches the core."""
        if not _is_regular_file(executable):
            raise CoreExecutableNotFound(f"{executable}: no such file", corefile=self.path)
        try:
            with ElfFile(executable) as elf:
                elf_type = elf.elf_type
                build_id = elf.build_id
        except ElfError:
            raise InvalidExecutable(f"{executable} is not an ELF file", corefile=self.path) from None
        if elf_type not in (ET_EXEC, ET_DYN):
            raise InvalidExecutable(f"{executable} is not an executable", corefile=self.path)
        mapped = self.exe_mapping_path
        expected = self.core_build_id(mapped) if mapped else None
        if expected and (build_id is None or build_id.hex() != expected):
            raise InvalidExecutable(
                f"{executable} does not match the core: its build id is "
                f"{build_id.hex() if build_id else 'missing'}, the core's {mapped} has {expected}",
                corefile=self.path,
            )
        return executable


def _beneath(root: str, path: str) -> str:
    """`path` (absolute, as the target names it) under `root`, lexically confined to it.

    Symlinks found beneath the root are still followed the host's way; the
    paths NT_FILE records are already free of them (the kernel writes
    resolved paths), so this matters only for names like AT_EXECFN.
    """
    return os.path.join(root, os.path.normpath("/" + path).lstrip("/"))


def _elf_program_kind(path: str) -> Optional[str]:
    """'program' for an ELF ET_EXEC/ET_DYN with PT_INTERP, 'elf' for other ET_EXEC/ET_DYN, else None."""
    try:
        with ElfFile(path) as elf:
            if elf.elf_type not in (ET_EXEC, ET_DYN):
                return None
            return "program" if any(s.type == PT_INTERP for s in elf.segments) else "elf"
    except ElfError:
        return None


def _map_regular_file(path: str) -> Optional[_BackingFile]:
    """mmap a regular file read-only; None for anything else or on failure.

    O_NONBLOCK keeps a FIFO swapped in after the check from blocking the open.
    The descriptor is closed right away: the mapping keeps the file alive.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        if st.st_size == 0:
            return _BackingFile(path, None, 0)
        return _BackingFile(path, mmap.mmap(fd, 0, access=mmap.ACCESS_READ), st.st_size)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
