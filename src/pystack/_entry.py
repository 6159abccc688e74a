"""The command's entry point: as little as possible runs before Ctrl-C is handled.

Importing the CLI takes tens of milliseconds; an interrupt in that window must end
the command quietly (status 130), not with a Python traceback. Library users never
import this module, so their signal handlers are left alone.
"""
import sys

# The C module behind `signal`: same functions and constants, without the
# IntEnums that signal.py builds at import (1-3 ms of every start).
import _signal


def _interrupted(signum, frame):
    sys.stderr.write("pystack: interrupted\n")
    raise SystemExit(130)


def main() -> None:
    _signal.signal(_signal.SIGINT, _interrupted)
    # A dump lives for a fraction of a second and builds no cycles worth freeing; the
    # cyclic collector would only walk what imports and the walk allocate (a few % of
    # a run). Library users keep theirs: only the command turns it off.
    import gc
    gc.disable()
    from .cli import console_main
    console_main()
