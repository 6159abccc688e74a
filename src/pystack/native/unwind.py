"""Native stacks of a stopped process or of a core file, through libdwfl.

`NativeUnwinder` owns one Dwfl session: the modules (every mapped ELF file),
the thread state source (ptrace for a live process, the core's notes for a
core) and the symbolizer's caches.  It unwinds a thread into bare pcs
(`unwind`), and turns the pcs that will be printed into source frames
(`symbolize`), because symbolization loads DWARF and unwinding does not.

Files are located by our own ``find_elf`` callback so that a target whose
files live elsewhere is handled: a process in a container or chroot (its
paths are opened under /proc/PID/root), a core analysed on another machine
(``lib_search_root``: an image of the target's filesystem; ``lib_search_path``:
directories searched by file name).  Separate debug information is found by
libdw's standard lookup -- by build id under ``.build-id`` and by
``.gnu_debuglink`` -- over a path that includes the target's own
/usr/lib/debug.

Live processes: the caller must have stopped every task with ptrace (see
`pystack.target.live.LiveProcess`) *from the thread that calls us*; libdw is
told so (``assume_ptrace_stopped``) and only reads registers and memory.
"""
from __future__ import annotations

import os
import stat
import struct
from ctypes import POINTER, byref, c_bool, c_char_p, c_uint64, c_void_p, cast, string_at
from types import TracebackType

from pystack import log
from pystack.errors import EngineError
from pystack.native import libdw
from pystack.native.libdw import (FIND_ELF, FRAME_CALLBACK, THREAD_CALLBACK, Dwfl_Callbacks,
                                  NativeUnavailable)
from pystack.native.symbols import RawNativeFrame, ResolvedFrame, Symbolizer

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import BinaryIO, Dict, Iterable, List, Optional, Sequence, Union

__all__ = ["NativeUnwinder", "RawNativeFrame", "NativeUnavailable"]

#: DWARF's number of the stack pointer register, by machine.
_SP_REGISTER = {"x86_64": 7, "aarch64": 31}

#: Where distributions install separate debug files.
_DEBUG_DIR = "/usr/lib/debug"
_DELETED = " (deleted)"


def _debuginfo_path(roots: Iterable[Optional[str]]) -> bytes:
    """libdw's search path: "+" checks CRCs of debuglink matches; "" and ".debug"
    search beside the main file (which we opened under the target's root)."""
    dirs: List[str] = []
    for root in roots:
        if root and root != "/":
            dirs.append(os.path.join(root, _DEBUG_DIR.lstrip("/")))
    dirs.append(_DEBUG_DIR)
    return ("+:.debug:" + ":".join(dict.fromkeys(dirs))).encode()


def _sysroots(paths: Iterable[Optional[str]]) -> List[str]:
    """Image roots that the given host paths lie in, judged by their shape.

    A core of a container's or chroot's process is often read with
    ``--lib-search-path /img/usr/lib/x86_64-linux-gnu`` and the executable
    ``/img/usr/bin/python3``: that image's debug files (``/img/usr/lib/debug``)
    are the ones that match, and the host's are not. Only roots that hold such
    a directory are returned.
    """
    roots: List[str] = []
    for path in paths:
        if not path:
            continue
        path = os.path.abspath(path)
        for marker in ("/usr/", "/lib/", "/lib64/", "/bin/"):
            cut = path.find(marker)
            if cut >= 0:
                root = path[:cut]
                debug_dir = _under(root, _DEBUG_DIR)
                if debug_dir is not None and os.path.isdir(debug_dir):
                    roots.append(root)
                break
    return list(dict.fromkeys(roots))


def _under(root: Optional[str], path: str) -> Optional[str]:
    if not root or root == "/" or not path.startswith("/"):
        return None
    return os.path.join(root, path.lstrip("/"))


def _is_regular(path: str) -> bool:
    """Only regular files: opening a mapped device (/dev/...) could block."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


class NativeUnwinder:
    """One libdwfl session over a stopped process or a core file.

    Build it with `for_process` or `for_core`, use it as a context manager
    (or call `close`).  Not thread-safe; for a live process every call must
    come from the thread that stopped the target.
    """

    def __init__(self) -> None:
        self._lib = libdw.lib()
        self._dwfl: Optional[int] = None
        self._root: Optional[str] = None
        self._search_path: List[str] = []
        self._executable: Optional[str] = None
        self._core_fd: Optional[int] = None
        self._core_elf: Optional[int] = None
        self._pid: Optional[int] = None
        self.is_core = False
        #: Whether libdw walks the threads (else it only names what another walked).
        self.attached = True
        #: Set when another object says in -v what this one did.
        self.quiet = False
        #: The last libdwfl error seen while unwinding each thread, for diagnostics.
        self.unwind_errors: Dict[int, str] = {}
        # Kept alive until dwfl_end: libdwfl holds pointers to all of these.
        self._find_elf_cb = FIND_ELF(self._find_elf)
        self._debuginfo_path = c_char_p(b"")
        self._debuginfo_path_ptr = POINTER(c_char_p)()
        self._callbacks = Dwfl_Callbacks()
        # Reused for every unwind: creating a ctypes thunk costs more than a frame.
        self._frames: List[RawNativeFrame] = []
        self._max_frames = 0
        self._frame_cb = FRAME_CALLBACK(self._on_frame)
        self._stop_reason: Optional[str] = None
        self._pc = c_uint64()
        self._activation = c_bool(False)
        self._sp = c_uint64()
        self._sp_regno = _SP_REGISTER.get(os.uname().machine) \
            if self._lib.dwfl_frame_reg is not None else None
        self._tids: List[int] = []
        self._known_tids: Optional[set] = None  # what threads() found, once
        self._thread_cb = THREAD_CALLBACK(self._on_thread)
        self._symbolizer: Optional[Symbolizer] = None

    # ------------------------------------------------------------ construction

    @classmethod
    def for_process(cls, pid: int, *, root: Optional[str] = None,
                    attach: bool = True) -> "NativeUnwinder":
        """A session over live process `pid`, whose tasks the caller has ptrace-stopped.

        `root` is where the target's paths open from here (normally
        /proc/PID/root); paths that do not exist there are tried as they are,
        because the kernel shows a chrooted process's files with host paths.
        Without `attach`, the session only names pcs (another unwinder walks):
        libdw then never touches the threads.
        """
        self = cls()
        self._pid = pid
        self._root = root
        self.attached = attach
        try:
            self._begin([root])
            lib = self._lib
            lib.dwfl_report_begin(self._dwfl)
            rc = lib.dwfl_linux_proc_report(self._dwfl, pid)
            lib.dwfl_report_end(self._dwfl, None, None)
            if rc != 0:
                reason = os.strerror(rc) if rc > 0 else libdw.errmsg()
                raise EngineError(f"cannot read the mappings of process {pid} for native stacks: {reason}")
            rc = lib.dwfl_linux_proc_attach(self._dwfl, pid, True) if attach else 0
            if rc != 0:
                reason = os.strerror(rc) if rc > 0 else libdw.errmsg()
                raise EngineError(f"cannot attach libdw to process {pid}: {reason}")
        except BaseException:
            self.close()
            raise
        return self

    @classmethod
    def for_core(
        cls,
        core_path: str,
        executable: Optional[str],
        *,
        lib_search_path: Union[str, Sequence[str], None] = None,
        lib_search_root: Optional[str] = None,
        attach: bool = True,
    ) -> "NativeUnwinder":
        """A session over an (uncompressed) ELF core file.

        Modules are found from the core's NT_FILE note and link map.  A file
        path named in the core is looked up, in order: under
        `lib_search_root`, by file name in each `lib_search_path` directory,
        as it stands, and by build id under the debug directories; when the
        core records a build id for the module, the first candidate with the
        same build id wins.
        """
        self = cls()
        self.is_core = True
        self.attached = attach
        self._root = lib_search_root
        if isinstance(lib_search_path, str):
            lib_search_path = [p for p in lib_search_path.split(os.pathsep) if p]
        self._search_path = list(lib_search_path or [])
        self._executable = executable
        lib = self._lib
        try:
            try:
                self._core_fd = os.open(core_path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise EngineError(f"cannot open core file {core_path}: {exc.strerror}", corefile=core_path) from exc
            self._core_elf = lib.elf_begin(self._core_fd, libdw.ELF_C_READ_MMAP, None)
            if not self._core_elf:
                raise EngineError(f"{core_path} is not an ELF file: {libdw.elf_errmsg()}", corefile=core_path)
            self._begin([lib_search_root, *_sysroots([executable, *self._search_path])])
            lib.dwfl_report_begin(self._dwfl)
            exe = executable.encode() if executable else None
            reported = lib.dwfl_core_file_report(self._dwfl, self._core_elf, exe)
            lib.dwfl_report_end(self._dwfl, None, None)
            if reported < 0:
                raise EngineError(
                    f"cannot read the modules of core {core_path}: {libdw.errmsg()}", corefile=core_path
                )
            pid = lib.dwfl_core_file_attach(self._dwfl, self._core_elf) if attach else 0
            if pid < 0:
                raise EngineError(
                    f"cannot read the threads of core {core_path}: {libdw.errmsg()}", corefile=core_path
                )
            self._pid = pid
        except BaseException:
            self.close()
            raise
        return self

    def _begin(self, roots: Iterable[Optional[str]]) -> None:
        lib = self._lib
        self._debuginfo_path = c_char_p(_debuginfo_path(roots))
        self._debuginfo_path_ptr = POINTER(c_char_p)(self._debuginfo_path)
        callbacks = self._callbacks
        callbacks.find_elf = cast(self._find_elf_cb, c_void_p).value
        callbacks.find_debuginfo = lib.address_of("dwfl_standard_find_debuginfo")
        callbacks.section_address = None
        callbacks.debuginfo_path = self._debuginfo_path_ptr
        dwfl = lib.dwfl_begin(byref(callbacks))
        if not dwfl:
            raise EngineError(f"cannot start a libdw session: {libdw.errmsg()}")
        self._dwfl = dwfl

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """End the session; libdw closes every file it opened."""
        if self._dwfl and not self.quiet and log.enabled(log.INFO):
            log.info("native frames: %s", self.describe())
        if self._symbolizer is not None:
            self._symbolizer.save()
        if self._dwfl:
            self._lib.dwfl_end(self._dwfl)
            self._dwfl = None
        if self._core_elf:
            self._lib.elf_end(self._core_elf)
            self._core_elf = None
        if self._core_fd is not None:
            os.close(self._core_fd)
            self._core_fd = None
        self._symbolizer = None

    def describe(self) -> str:
        """What unwound and named the frames, for -v (before `close`)."""
        version = self._lib.dwfl_version(self._dwfl) if self._lib.dwfl_version else None
        sources = self._symbolizer.sources() if self._symbolizer is not None else []
        return (f"{'unwound' if self.attached else 'named'} by libdw "
                f"{(version or b'?').decode()}; names and lines from "
                + ("; ".join(sources) or "no module"))

    def __enter__(self) -> "NativeUnwinder":
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def _session(self) -> int:
        if not self._dwfl:
            raise EngineError("the native unwinder is closed")
        return self._dwfl

    @property
    def pid(self) -> Optional[int]:
        """The process id (for a core: the one recorded in it)."""
        return self._pid

    # ------------------------------------------------------------ threads & unwinding

    def threads(self) -> List[int]:
        """Thread ids libdw sees (/proc/PID/task live, NT_PRSTATUS notes in a core)."""
        dwfl = self._session()
        self._tids = []
        rc = self._lib.dwfl_getthreads(dwfl, self._thread_cb, None)
        if rc < 0 and not self._tids:
            raise EngineError(f"cannot list the threads: {libdw.errmsg()}")
        self._known_tids = set(self._tids)
        return list(self._tids)

    def _on_thread(self, thread: int, arg: int) -> int:
        try:
            self._tids.append(self._lib.dwfl_thread_tid(thread))
        except Exception:  # noqa: BLE001 - an exception must not cross into C
            return libdw.DWARF_CB_ABORT
        return libdw.DWARF_CB_OK

    def unwind(self, tid: int, max_frames: int = 4096) -> List[RawNativeFrame]:
        """The pcs of thread `tid`, innermost first.

        A thread whose unwinding stops early (no CFI for a frame, a corrupted
        stack, `max_frames` reached) still yields the frames found so far;
        the reason is kept in `unwind_errors`.  An empty list means not even
        the registers could be read.
        """
        dwfl = self._session()
        # libdw asserts (and so aborts the whole process) when asked for a thread
        # that is not one of the target's: never hand it a tid it has not listed.
        if self._known_tids is None:
            self._known_tids = set(self.threads())
        if tid not in self._known_tids:
            self.unwind_errors[tid] = f"thread {tid} is not a thread of the target"
            return []
        self._frames = []
        self._max_frames = max_frames
        self._stop_reason = None
        rc = self._lib.dwfl_getthread_frames(dwfl, tid, self._frame_cb, None)
        reason = self._stop_reason
        if rc < 0 and reason is None:
            # libdw also reports the normal end of a stack as an error on
            # some architectures; record it, keep what was found.
            reason = libdw.errmsg() or None
        if reason:
            self.unwind_errors[tid] = reason
        else:
            self.unwind_errors.pop(tid, None)
        frames = self._frames
        self._frames = []
        return frames

    def _on_frame(self, state: int, arg: int) -> int:
        try:
            pc = self._pc
            activation = self._activation
            if not self._lib.dwfl_frame_pc(state, byref(pc), byref(activation)):
                self._stop_reason = libdw.errmsg() or "no pc for the next frame"
                return libdw.DWARF_CB_ABORT
            if pc.value == 0:
                return libdw.DWARF_CB_ABORT  # the outermost frame's return address
            sp = 0
            if self._sp_regno is not None and \
                    self._lib.dwfl_frame_reg(state, self._sp_regno, byref(self._sp)) == 0:
                sp = self._sp.value
            self._frames.append(RawNativeFrame(pc.value, bool(activation.value), sp))
            if len(self._frames) >= self._max_frames:
                self._stop_reason = f"stopped after {self._max_frames} frames"
                return libdw.DWARF_CB_ABORT
        except BaseException as exc:  # noqa: BLE001 - an exception must not cross into C
            self._stop_reason = f"internal error: {exc!r}"
            return libdw.DWARF_CB_ABORT
        return libdw.DWARF_CB_OK

    def unwind_all(self, max_frames: int = 4096) -> Dict[int, List[RawNativeFrame]]:
        """Every thread's pcs, in `threads()` order."""
        return {tid: self.unwind(tid, max_frames) for tid in self.threads()}

    # ------------------------------------------------------------ symbols

    @property
    def symbolizer(self) -> Symbolizer:
        if self._symbolizer is None:
            self._symbolizer = Symbolizer(self._session())
        return self._symbolizer

    def symbolize(self, frame: RawNativeFrame) -> List[ResolvedFrame]:
        """Source frames for one pc: inlined functions first, the real function last."""
        self._session()
        return self.symbolizer.symbolize(frame)

    def function_of(self, frame: RawNativeFrame) -> Optional[ResolvedFrame]:
        """The frame's function by ELF symbol only (see `Symbolizer.function_of`)."""
        self._session()
        return self.symbolizer.function_of(frame)

    def unnamed(self, frame: RawNativeFrame, symbol: str = "???") -> ResolvedFrame:
        """The frame by library and offset only (see `Symbolizer.unnamed`)."""
        self._session()
        return self.symbolizer.unnamed(frame, symbol)

    def module_path(self, pc: int) -> Optional[str]:
        """The file the module containing `pc` was loaded from (its name if not opened)."""
        self._session()
        return self.symbolizer.module_path(pc)

    # ------------------------------------------------------------ finding files

    def _find_elf(
        self,
        mod: int,
        userdata: int,
        modname: Optional[bytes],
        base: int,
        file_name: "POINTER[c_void_p]",
        elfp: "POINTER[c_void_p]",
    ) -> int:
        """libdwfl's find_elf: open the file a module was mapped from.

        Returns an open fd and stores a malloc'd copy of the path in
        *file_name (libdwfl frees it), or defers to libdw's own callbacks,
        which also read a [vdso] or a deleted file from the live process's
        memory and look up build ids.
        """
        lib = self._lib
        try:
            name = modname.decode("utf-8", "surrogateescape") if modname else ""
            candidates = (self._core_candidates(mod, name) if self.is_core
                          else self._live_candidates(name, base))
            for path in candidates:
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError:
                    continue
                copy = lib.strdup(os.fsencode(path))
                if not copy:
                    os.close(fd)
                    return -1
                file_name[0] = copy
                return fd
        except Exception:  # noqa: BLE001 - an exception must not cross into C
            pass
        try:
            if self.is_core:
                return int(lib.dwfl_build_id_find_elf(mod, userdata, modname, base, file_name, elfp))
            return int(lib.dwfl_linux_proc_find_elf(mod, userdata, modname, base, file_name, elfp))
        except Exception:  # noqa: BLE001
            return -1

    def _live_candidates(self, name: str, base: int = 0) -> List[str]:
        if name.endswith(_DELETED):
            # deleted or replaced since it was mapped: the file as mapped, if the
            # process's map_files shows it (libdw would read only what is in memory)
            from ..target.procfs import map_file_at
            mapped = self._pid is not None and map_file_at(self._pid, base)
            return [mapped] if mapped else []
        if not name.startswith("/"):
            return []  # [vdso], [heap]...: libdw reads memory
        found = []
        under = _under(self._root, name)
        if under is not None and _is_regular(under):
            found.append(under)
        elif _is_regular(name):
            found.append(name)
        return found

    def _core_candidates(self, mod: int, name: str) -> List[str]:
        """Where the file a core names may be here, best first (at most one returned).

        With a build id recorded in the core, only a file with that build id
        is accepted, wherever it is.  Without one, a file under the search
        root or path wins over the path as it stands.
        """
        if name.endswith(_DELETED):
            name = name[: -len(_DELETED)]
        located: List[str] = []
        under = _under(self._root, name)
        if under is not None:
            located.append(under)
        base = os.path.basename(name)
        if base:
            located.extend(os.path.join(d, base) for d in self._search_path)
        if self._executable and base and os.path.basename(self._executable) == base:
            located.append(self._executable)
        as_named = [name] if name.startswith("/") else []
        wanted = self._reported_build_id(mod)
        if wanted is not None:
            for path in dict.fromkeys(located + as_named):
                if _is_regular(path) and _file_build_id(path) == wanted:
                    return [path]
            # A file with another build id would only be rejected by libdwfl;
            # returning nothing lets its build-id lookup try the debug dirs.
            return []
        return [p for p in dict.fromkeys(located + as_named) if _is_regular(p)][:1]

    def _reported_build_id(self, mod: int) -> Optional[bytes]:
        bits = c_void_p()
        vaddr = c_uint64()
        length = self._lib.dwfl_module_build_id(mod, byref(bits), byref(vaddr))
        if length <= 0 or not bits.value:
            return None
        return string_at(bits.value, length)


def _file_build_id(path: str) -> Optional[bytes]:
    """The GNU build id note of an ELF file, read from its program headers.

    Read directly (a few hundred bytes) rather than through libelf so that
    choosing among candidate files costs no ELF session per candidate.
    """
    try:
        with open(path, "rb") as f:
            return _build_id_from_file(f)
    except (OSError, ValueError, struct.error):
        return None


def _build_id_from_file(f: BinaryIO) -> Optional[bytes]:
    read = f.read
    seek = f.seek
    header = read(64)
    if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
        return None  # only 64-bit little-endian, the layouts we support
    phoff, = struct.unpack_from("<Q", header, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
    if phentsize < 56 or phnum == 0 or phnum > 4096:
        return None
    seek(phoff)
    table = read(phentsize * phnum)
    for i in range(phnum):
        p_type, _flags, p_offset, _vaddr, _paddr, p_filesz = struct.unpack_from("<IIQQQQ", table, i * phentsize)
        if p_type != 4 or p_filesz > 1 << 20:  # PT_NOTE
            continue
        seek(p_offset)
        notes = read(p_filesz)
        pos = 0
        while pos + 12 <= len(notes):
            namesz, descsz, ntype = struct.unpack_from("<III", notes, pos)
            pos += 12
            name = notes[pos : pos + namesz]
            pos += (namesz + 3) & ~3
            desc = notes[pos : pos + descsz]
            pos += (descsz + 3) & ~3
            if ntype == 3 and name.rstrip(b"\0") == b"GNU":  # NT_GNU_BUILD_ID
                return desc
    return None

