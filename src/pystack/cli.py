"""`pystack remote PID` and `pystack core CORE [EXECUTABLE]`: parse, run, report.

Every failure pystack knows about ends here as one line on stderr and the exit status
its error class carries; a Python traceback of ours is a bug.

Command lines spelt out in full (the way scripts and operators type them) are read by
`parse_plain`, without argparse: importing it and building the parser costs about as
much as the whole stack walk (argparse pulls in re, gettext, locale and shutil, which
pulls in bz2 and lzma). Anything else (--help, abbreviations, mistakes) goes to the
argparse parser, which owns the messages; a property test holds the two to the same
answers.
"""
from __future__ import annotations

import os
import sys

from . import log
from .errors import PystackError

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    import argparse
    from typing import Optional, Sequence

EXIT_INTERRUPTED = 130


def _common(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    import argparse
    # Sub-commands accept the same options; SUPPRESS keeps them from resetting what
    # was given before the sub-command name.
    parser.add_argument("-v", "--verbose", action="count",
                        dest="verbose" if top else "verbose_sub",
                        default=0 if top else argparse.SUPPRESS,
                        help="log what was found where on stderr (twice for more)")
    parser.add_argument("--no-color", action="store_true",
                        default=False if top else argparse.SUPPRESS,
                        help="Deactivate colored output")


def _native_and_more(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--native", action="store_true",
                        help="Include the native (C) frames in the resulting stack trace")
    parser.add_argument("--native-all", action="store_true",
                        help="Include native (C) frames from threads not registered with "
                             "the interpreter (implies --native)")
    parser.add_argument("--native-last", action="store_true",
                        help="Include native (C) frames only after the last Python frame "
                             "(implies --native)")
    parser.add_argument("--locals", action="store_true",
                        help="Show local variables for each frame in the stack trace")
    parser.add_argument("--locals-max-length", type=_value_length, default=80, metavar="N",
                        help="Cut each value shown by --locals to at most N characters, "
                             "'...' included (N >= 3, default: 80)")
    parser.add_argument("--exhaustive", action="store_true",
                        help="Use all possible methods to obtain the Python stack info "
                             "(may be slow)")
    parser.add_argument("--json", action="store_true",
                        help="Print one JSON document (schema in README) instead of text")
    parser.add_argument("--tasks", action="store_true",
                        help="After the threads, list every asyncio task: where it is "
                             "suspended, what it awaits and which tasks await it")
    parser.add_argument("--group", action="store_true",
                        help="Print threads whose stacks are identical once, with how many "
                             "share them and their tids (text output)")


def build_parser() -> argparse.ArgumentParser:
    import argparse
    parser = argparse.ArgumentParser(
        prog="pystack", description="Get Python stack trace of a remote process")
    _common(parser, top=True)
    sub = parser.add_subparsers(
        dest="command", title="commands", metavar="{remote,core}",
        help="What should be analyzed by PyStack (use <command> --help for a "
             "command-specific help section).")
    sub.required = True

    remote = sub.add_parser("remote", help="Analyze a remote process given its PID")
    _common(remote)
    remote.add_argument("pid", type=_pid, help="The PID of the remote process")
    remote.add_argument("--no-block", action="store_true",
                        help="do not block the process when inspecting its memory")
    remote.add_argument("--subprocesses", action="store_true",
                        help="Also dump every descendant process that runs Python, one "
                             "at a time")
    _native_and_more(remote)

    core = sub.add_parser("core", help="Analyze a core dump file given its location and "
                                       "the executable")
    _common(core)
    core.add_argument("core", help="The path to the core file")
    core.add_argument("executable", nargs="?",
                      help="(Optional) The path to the executable of the core file")
    _native_and_more(core)
    search = core.add_mutually_exclusive_group()
    search.add_argument("--lib-search-path",
                        help="List of paths to search for shared libraries loaded in the "
                             "core. Paths must be separated by the ':' character")
    search.add_argument("--lib-search-root",
                        help="Root directory to search recursively for shared libraries "
                             "loaded into the core.")
    return parser


def _pid(text: str) -> int:
    import argparse
    try:
        pid = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid pid: {text!r}") from None
    if pid <= 0:
        raise argparse.ArgumentTypeError(f"invalid pid: {text!r}")
    return pid


#: The shortest cut value: the marker `...` alone.
MIN_VALUE_LENGTH = 3


def _value_length(text: str) -> int:
    import argparse
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if value < MIN_VALUE_LENGTH:
        raise argparse.ArgumentTypeError(
            f"expected a number of characters, at least {MIN_VALUE_LENGTH}: {text!r}")
    return value


class PlainArgs:
    """What `parse_plain` read: the attributes the argparse parser would set."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.verbose = 0
        self.no_color = False
        self.native = self.native_all = self.native_last = False
        self.locals = self.exhaustive = False
        self.json = self.group = self.tasks = False
        self.locals_max_length = 80
        if command == "remote":
            self.pid = 0
            self.no_block = self.subprocesses = False
        else:
            self.core = ""
            self.executable: Optional[str] = None
            self.lib_search_path: Optional[str] = None
            self.lib_search_root: Optional[str] = None


_FLAGS = {"--no-color": "no_color", "--native": "native", "--native-all": "native_all",
          "--native-last": "native_last", "--locals": "locals",
          "--exhaustive": "exhaustive", "--json": "json", "--group": "group",
          "--tasks": "tasks"}
_VALUED = {"--locals-max-length": "locals_max_length"}
_COMMAND_FLAGS = {"remote": {"--no-block": "no_block", "--subprocesses": "subprocesses"},
                  "core": {}}
_COMMAND_VALUED = {"remote": {}, "core": {"--lib-search-path": "lib_search_path",
                                          "--lib-search-root": "lib_search_root"}}


def _plain_number(text: str, least: int = 1) -> Optional[int]:
    """A decimal number of at least `least` as argparse's type functions accept it
    (a pid, a value length), or None (argparse then says why)."""
    if not text.isascii() or not text.strip().isdigit():
        return None
    value = int(text, 10)
    return value if value >= least else None


def parse_plain(argv: Sequence[str]) -> Optional[PlainArgs]:
    """Read a command line that names every option in full; None for anything else.

    None is never an error: it hands the line to argparse, which gives --help, accepts
    unambiguous abbreviations and words every mistake.
    """
    verbose = 0
    at = 0
    no_color = False
    while at < len(argv) and argv[at] in ("-v", "-vv", "-vvv", "--verbose", "--no-color"):
        if argv[at] == "--no-color":
            no_color = True
        else:
            verbose += 1 if argv[at] == "--verbose" else len(argv[at]) - 1
        at += 1
    if at == len(argv) or argv[at] not in ("remote", "core"):
        return None
    command = argv[at]
    args = PlainArgs(command)
    args.no_color = no_color
    flags = {**_FLAGS, **_COMMAND_FLAGS[command]}
    valued = {**_VALUED, **_COMMAND_VALUED[command]}
    positionals: list = []
    runs = 0  # groups of adjacent positionals: argparse fills CORE [EXECUTABLE] from one
    previous_positional = False
    rest = list(argv[at + 1:])
    while rest:
        token = rest.pop(0)
        if not token.startswith("-") or token == "-":
            if not previous_positional:
                runs += 1
            positionals.append(token)
            previous_positional = True
            continue
        previous_positional = False
        if token in flags:
            setattr(args, flags[token], True)
        elif token in ("-v", "-vv", "-vvv", "--verbose"):
            verbose += 1 if token == "--verbose" else len(token) - 1
        else:
            name, equals, value = token.partition("=")
            if name not in valued:
                return None
            if not equals:
                if not rest or rest[0].startswith("-"):
                    return None
                value = rest.pop(0)
            if name == "--locals-max-length":
                # argparse checks every occurrence, not only the one that counts
                value = _plain_number(value, MIN_VALUE_LENGTH)
                if value is None:
                    return None
            setattr(args, valued[name], value)
    args.verbose = verbose
    if command == "remote":
        if len(positionals) != 1:
            return None
        pid = _plain_number(positionals[0])
        if pid is None:
            return None
        args.pid = pid
        return args
    if not 1 <= len(positionals) <= 2 or runs != 1:
        return None
    if args.lib_search_path is not None and args.lib_search_root is not None:
        return None
    args.core = positionals[0]
    args.executable = positionals[1] if len(positionals) == 2 else None
    return args


def _native_mode(args: argparse.Namespace):
    from .types import NativeReportingMode
    if args.native_all:
        return NativeReportingMode.ALL
    if args.native_last:
        return NativeReportingMode.LAST
    if args.native:
        return NativeReportingMode.PYTHON
    return NativeReportingMode.OFF


def _remote(args: argparse.Namespace, out, warnings: Optional[list]) -> int:
    from .engine import StackMethod, dump_process, dump_process_tree

    method = StackMethod.ALL if args.exhaustive else StackMethod.AUTO
    native = _native_mode(args)
    if args.no_block and native.value:
        raise _UsageError("--native cannot be used with --no-block: native stacks "
                          "need the threads stopped")
    options = dict(stop_process=not args.no_block, native_mode=native, locals=args.locals,
                   method=method, max_value_length=args.locals_max_length,
                   exact_version=args.json, tasks=args.tasks)
    if args.subprocesses:
        dumps = dump_process_tree(args.pid, **options)
    else:
        dumps = [dump_process(args.pid, **options)]
        if args.json:  # the document says who the process is
            from .target.tree import command_line, parent_of
            dump = dumps[0]
            dump.ppid, dump.command = parent_of(dump.pid), command_line(dump.pid)
    # Source lines are read after the target runs again, through its own root.
    _print_dumps(args, dumps, _live_sources, out, warnings)
    return 0


def _live_sources(pid: int):
    """The target's files through its root (a container's), relative names through
    its working directory, none that changed after it started."""
    from .render.sources import SourceLines
    from .target.procfs import start_time
    root = f"/proc/{pid}/root"
    return SourceLines(lambda path: os.path.join(root, path.lstrip("/")),
                       cwd=f"/proc/{pid}/cwd", not_after=start_time(pid))


def _written_at(path: str) -> Optional[float]:
    """When a core was written (its mtime): a source file changed since then is
    not the code the process ran."""
    try:
        return os.stat(path).st_mtime
    except (OSError, ValueError):
        return None


def _core(args: argparse.Namespace, out, warnings: Optional[list]) -> int:
    from .engine import StackMethod, dump_core, open_core
    from .render.core_header import core_facts, core_header, executable_line
    from .render.sources import SourceLines

    method = StackMethod.ALL if args.exhaustive else StackMethod.AUTO
    with open_core(args.core, args.executable, args.lib_search_path,
                   args.lib_search_root) as core:
        if not args.json:
            intro = executable_line(core, args.executable)
            if intro:
                out.write(intro + "\n\n")
            out.write("\n".join(core_header(core)) + "\n")
            out.flush()
        for path in core.missing_files():
            log.warning("%s is mapped in the core but was not found", path)
        for path, in_core, on_disk in core.build_id_mismatches():
            log.warning("%s differs from the file that was mapped (build id %s, core says %s)",
                        path, on_disk, in_core)
        dump = dump_core(core, native_mode=_native_mode(args), locals=args.locals,
                         method=method, max_value_length=args.locals_max_length,
                         exact_version=args.json, tasks=args.tasks)
        facts = core_facts(core, args.executable) if args.json else None
        if core.psinfo is not None:
            dump.ppid, dump.command = core.psinfo.ppid, core.psinfo.psargs
        sources = SourceLines(core.host_path, not_after=_written_at(args.core))
        _print_dumps(args, [dump], lambda pid: sources, out, warnings, core=facts)
    return 0


def _print_dumps(args: argparse.Namespace, dumps: list, sources_of, out,
                 warnings: Optional[list], core: Optional[dict] = None) -> None:
    """Print the dumps of one process, or of a tree (`--subprocesses`).

    `sources_of(pid)` gives the `SourceLines` of a process (each its own root).
    """
    from .render.stack import native_mode_name
    native = native_mode_name(_native_mode(args))
    tree = getattr(args, "subprocesses", False)
    if args.json:
        from .render.jsondoc import JsonDocument
        document = JsonDocument(args.command, native=native, locals=args.locals)
        document.core = core
        for dump in dumps:
            document.add_process(dump, sources_of(dump.pid))
        document.write(out, warnings or ())
        return
    from .render.text import TextRenderer, process_line, use_color
    from .types import by_os_thread, several_interpreters
    color = use_color(out, not args.no_color)
    renderers = {d.pid: TextRenderer(sources_of(d.pid), color=color, native=native)
                 for d in dumps if not d.skipped}
    written = 0

    def put(lines) -> None:
        nonlocal written
        out.write(("\n" if written else "") + "\n".join(lines) + "\n")
        written += 1

    if args.group:
        from .render.group import grouped_blocks
        if tree:
            put([process_line(d) for d in dumps])
        threads = [(t, d.pid) for d in dumps for t in d.threads]
        for block in grouped_blocks(renderers, threads, name_processes=tree):
            put(block)
        if args.tasks:
            from .render.tasks import tasks_section
            for dump in dumps:
                section = [] if dump.skipped else tasks_section(dump, renderers[dump.pid])
                if section:
                    put(([process_line(dump)] if tree else []) + section)
        out.flush()
        return
    # One block at a time: a dump of thousands of threads is never held as text whole.
    for dump in dumps:
        lines = [process_line(dump)] if tree else []
        if not dump.threads:
            if lines:
                put(lines)
            continue
        renderer = renderers[dump.pid]
        labelled = several_interpreters(dump.threads)
        loops = dict(dump.event_loops)
        for block in by_os_thread(dump.threads):
            block_lines = lines + list(renderer.os_thread(block, labelled))
            if block[-1].tid in loops:
                block_lines.append(_loop_line(dump, block[-1].tid, loops, args.tasks))
            put(block_lines)
            lines = []
        if args.tasks and dump.tasks is not None:
            from .render.tasks import tasks_section
            put(tasks_section(dump, renderer))
    out.flush()


def _loop_line(dump, tid: int, loops: dict, listed: bool) -> str:
    from .render.tasks import loop_line
    running = next((t for t in dump.tasks or () if t.running and t.thread == tid), None)
    return loop_line(loops[tid], running, listed)


class _UsageError(PystackError):
    exit_code = 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_plain(sys.argv[1:] if argv is None else argv)
    if args is None:
        args = build_parser().parse_args(argv)
        args.verbose += getattr(args, "verbose_sub", 0)
    log.configure(args.verbose)
    out = sys.stdout
    # Names from a core are decoded with surrogateescape (the kernel cuts arguments
    # mid-character): never let printing them fail.
    reconfigure = getattr(out, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="backslashreplace")
        except (ValueError, OSError):
            pass
    # --json also puts every warning in its document, for tools that never see stderr
    warnings: Optional[list] = [] if args.json else None
    log.keep_warnings(warnings)
    try:
        if args.command == "remote":
            return _remote(args, out, warnings)
        return _core(args, out, warnings)
    except PystackError as exc:
        print(f"pystack: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pystack: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (| head): not an error worth a message
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except Exception as exc:  # a bug of ours (the last resort): one line, no traceback
        where, tb = "", exc.__traceback__
        while tb is not None:  # the innermost frame of pystack's own code
            code = tb.tb_frame.f_code
            if os.sep + "pystack" + os.sep in code.co_filename:
                where = (f" at {os.path.basename(code.co_filename)}:{tb.tb_lineno} "
                         f"in {code.co_name}")
            tb = tb.tb_next
        text = str(exc).splitlines()[0][:200] if str(exc).strip() else ""
        print(f"pystack: internal error: {type(exc).__name__}{': ' + repr(text) if text else ''}"
              f"{where}; please report it (with -v output and, if you can share it, the core)",
              file=sys.stderr)
        return 70  # EX_SOFTWARE
    finally:
        log.keep_warnings(None)


def console_main() -> None:
    sys.exit(main())
