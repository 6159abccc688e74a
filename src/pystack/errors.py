"""The exceptions pystack raises, one class per failure an operator must tell apart.

Names and the hierarchy follow Bloomberg's pystack so scripts catching them run
unchanged; each class also carries the exit status the CLI uses for it, so the
mapping from failure to exit code lives here and nowhere else.
"""
from __future__ import annotations


class PystackError(Exception):
    """Base of every error pystack reports on purpose."""

    exit_code = 1


class EngineError(PystackError):
    """Something in the target could not be analysed."""

    exit_code = 2

    def __init__(self, message: str = "", *, corefile: str | None = None) -> None:
        super().__init__(message)
        self.corefile = corefile


class ProcessNotFound(EngineError, ProcessLookupError):
    """No process has that pid (or it exited before we could stop it)."""

    exit_code = 3


class PermissionDenied(EngineError, PermissionError):
    """ptrace or /proc access was refused."""

    exit_code = 4


class AlreadyTraced(EngineError):
    """Another debugger (gdb, strace, a second pystack) is attached."""

    exit_code = 5


class ProcessExited(EngineError):
    """The target died while we were reading it."""

    exit_code = 6


class ZombieProcess(EngineError):
    """The target has exited and only its process-table entry remains."""

    exit_code = 7


class InvalidPythonProcess(EngineError):
    """The target is not running a CPython interpreter we can read."""

    exit_code = 8


class NotInitialised(InvalidPythonProcess):
    """The interpreter is not initialised yet, or already finalised."""

    exit_code = 9


class NotEnoughInformation(EngineError):
    """The memory we need is missing (a core without it, a torn --no-block read)."""

    exit_code = 10


class InvalidExecutable(EngineError):
    """The executable given does not belong to the process or core."""

    exit_code = 11


class CoreExecutableNotFound(EngineError):
    """The executable named by the user does not exist."""

    exit_code = 12


class DetectedExecutableNotFound(EngineError):
    """The executable named in the core cannot be found on disk."""

    exit_code = 12


class MissingExecutableMaps(EngineError):
    """The core names no mapping for its executable."""

    exit_code = 13


class MemoryReadError(EngineError):
    """An address could not be read from the target.

    Raised by the memory layer; the CPython walkers turn it into a marker in the
    output (a corrupted frame) or into a higher-level error.
    """

    exit_code = 14

    def __init__(self, address: int, size: int, reason: str = "") -> None:
        msg = f"cannot read {size} bytes at 0x{address:x}"
        if reason:
            msg += f": {reason}"
        super().__init__(msg)
        self.address = address
        self.size = size


class ElfError(PystackError):
    """A file is not a valid ELF file, or is damaged where we need to read it."""

    exit_code = 15
