"""The exceptions pystack raises, one class per failure an operator must tell apart.

Names and the hierarchy follow Bloomberg's pystack so scripts catching them run
unchanged: the failures Bloomberg's names (ProcessNotFound, InvalidPythonProcess,
NotEnoughInformation, the executable errors) derive from PystackError alone, so an
`except EngineError` placed before them does not swallow them; the finer failures
only we tell apart (permission, another tracer, exit, zombie, unreadable memory)
are EngineErrors, which is what Bloomberg's raises for them. Each class also carries
the exit status the CLI uses for it, so the mapping from failure to exit code lives
here and nowhere else.
"""
from __future__ import annotations


# Longer explanations, for scripts that show them beside the one-line message (the
# names are Bloomberg's; each is also the HELP_TEXT of its error class below).
DETECTED_EXECUTABLE_NOT_FOUND_TEXT = """\
The core names an executable that is not on this machine. Give the Python
executable the process ran as the second argument of 'pystack core'.
"""
EXECUTABLE_NOT_FOUND_HELP_TEXT = """
The executable given for the core does not exist. Pass the path of the Python
executable the process ran, for example:

    pystack core ./core /usr/bin/python3.12

"""
NOT_ENOUGH_INFORMATION_HELP_TEXT = """
The memory that holds the interpreter's state could not be found or read. This
happens when the interpreter is starting or shutting down, when a program embeds
Python without running it, or when a core is read on a machine that lacks the
libraries it used: point --lib-search-root at a copy of the process's root
filesystem (a container image) or --lib-search-path at the directories holding
them. --exhaustive also searches anonymous memory and the heap, more slowly.
"""
INVALID_EXECUTABLE_HELP_TEXT = """
The executable given is not an ELF file: a script started through a shebang
names the script, not the interpreter. Pass the Python executable instead (the
core's header says which one ran), for example:

    pystack core ./core /usr/bin/python3.12
"""
MISSING_EXECUTABLE_MAPS_HELP_TEXT = """
The core has no memory mapped from the executable given: the executable is not
the one that wrote the core. The core's header lists what it ran; pass that file
as the second argument of 'pystack core'.
"""


class PystackError(Exception):
    """Base of every error pystack reports on purpose.

    Every one takes the `corefile=` and `pid=` of the target it concerns (None
    where not given), as Bloomberg's EngineError does.
    """

    exit_code = 1

    def __init__(self, *args: object, corefile: object = None, pid: int | None = None) -> None:
        super().__init__(*args)
        self.corefile = corefile
        self.pid = pid


class EngineError(PystackError):
    """Something in the target could not be analysed."""

    exit_code = 2


class ProcessNotFound(PystackError, ProcessLookupError):
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


class InvalidPythonProcess(PystackError):
    """The target is not running a CPython interpreter we can read."""

    exit_code = 8


class NotInitialised(InvalidPythonProcess):
    """The interpreter is not initialised yet, or already finalised."""

    exit_code = 9


class NotEnoughInformation(PystackError):
    """The memory we need is missing (a core without it, a torn --no-block read)."""

    exit_code = 10
    HELP_TEXT = NOT_ENOUGH_INFORMATION_HELP_TEXT


class InvalidExecutable(PystackError):
    """The executable given does not belong to the process or core."""

    exit_code = 11
    HELP_TEXT = INVALID_EXECUTABLE_HELP_TEXT


class CoreExecutableNotFound(PystackError):
    """The executable named by the user does not exist."""

    exit_code = 12
    HELP_TEXT = EXECUTABLE_NOT_FOUND_HELP_TEXT


class DetectedExecutableNotFound(PystackError):
    """The executable named in the core cannot be found on disk."""

    exit_code = 12
    HELP_TEXT = DETECTED_EXECUTABLE_NOT_FOUND_TEXT


class MissingExecutableMaps(PystackError):
    """The core names no mapping for its executable."""

    exit_code = 13
    HELP_TEXT = MISSING_EXECUTABLE_MAPS_HELP_TEXT


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
