"""The four tools and the command line each is given for a scenario.

Every tool is asked the same question the way its users would ask it. Where the
target lives in a chroot, py-spy and gdb run inside that root (py-spy has no option to
find the chroot's binaries; gdb then uses the root's own gdb, debug files and
python-gdb.py), while both pystacks run on the host and are told where the libraries
are with --lib-search-path.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Optional

import interpreters
from interpreters import Interpreter
from peers import Peers
from scenarios import Scenario
from targets import Workspace

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SRC = os.path.join(REPO, "src")

OURS, BLOOMBERG, PYSPY, GDB = "ours", "bloomberg", "py-spy", "gdb"
ALL_TOOLS = (OURS, BLOOMBERG, PYSPY, GDB)
LABELS = {OURS: "pystack (ours)", BLOOMBERG: "Bloomberg pystack", PYSPY: "py-spy",
          GDB: "gdb py-bt"}


class NotApplicable(Exception):
    """This tool does not answer this kind of question (a dash in the table)."""


class Unavailable(Exception):
    """This tool would apply but cannot run here (reported as n/a, with the reason)."""


@dataclass
class Subject:
    """What the tool looks at: a live pid or a core, of this interpreter."""

    interp: Interpreter
    space: Workspace
    pid: Optional[int] = None
    core: Optional[str] = None  # host path


# Unset for every tool: bytecode caching stays on (as for users), nothing leaks into
# the pystacks' imports, gdb asks no debuginfod server, and py-spy (Rust, anyhow)
# does not capture a backtrace for each error it makes and recovers from.
_UNSET = ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONHOME", "DEBUGINFOD_URLS",
          "RUST_BACKTRACE", "RUST_LIB_BACKTRACE", "PYSTACK_NO_CACHE")


def base_env() -> dict[str, str]:
    """The environment every tool gets: the user's, less what skews the race."""
    env = dict(os.environ, NO_COLOR="1")
    for name in _UNSET:
        env.pop(name, None)
    return env


def command(tool: str, scenario: Scenario, subject: Subject, peers: Peers
            ) -> tuple[list[str], dict[str, str]]:
    """argv and environment to run `tool` on `subject`, or NotApplicable/Unavailable."""
    builders = {OURS: _ours, BLOOMBERG: _bloomberg, PYSPY: _pyspy, GDB: _gdb}
    return builders[tool](scenario, subject, peers)


def _pystack_args(scenario: Scenario, subject: Subject) -> list[str]:
    """The arguments both pystacks share: same CLI, same question."""
    flags = (["--locals"] if scenario.locals else []) + (["--native"] if scenario.native else [])
    flags += ["--json"] if scenario.json else []
    if not scenario.is_core:
        return ["remote", str(subject.pid), *flags]
    args = ["core", subject.core, subject.interp.exe, *flags]
    if subject.interp.in_chroot:
        args += ["--lib-search-path", interpreters.lib_search_path(subject.interp)]
    return args


#: libdw hidden under /dev/null in a private mount namespace (a machine without it);
#: the namespace costs a few ms of the measured time.
_WITHOUT_LIBDW = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                  'mount --bind /dev/null "$1" && shift && exec "$@"', "sh",
                  "/usr/lib/x86_64-linux-gnu/libdw.so.1"]


#: Our frame cache for this benchmark run alone: its warm-up run fills it.
_CACHE_HOME = os.path.join(tempfile.gettempdir(), f"pystack-bench-cache-{os.getpid()}")


def _ours(scenario: Scenario, subject: Subject, peers: Peers):
    env = dict(base_env(), PYTHONPATH=SRC, XDG_CACHE_HOME=_CACHE_HOME)
    if scenario.cold:
        env["PYSTACK_NO_CACHE"] = "1"
    command = [peers.our_script] if peers.our_script else [sys.executable, "-m", "pystack"]
    if scenario.without_libdw:
        command = [*_WITHOUT_LIBDW, *command]
    return [*command, *_pystack_args(scenario, subject)], env


def _bloomberg(scenario: Scenario, subject: Subject, peers: Peers):
    if scenario.json:
        raise NotApplicable("Bloomberg's pystack has no JSON output")
    exe = peers.executable(BLOOMBERG)
    if exe is None:
        raise Unavailable(peers.problems.get(BLOOMBERG, "not installed"))
    return [exe, *_pystack_args(scenario, subject)], base_env()


def _pyspy(scenario: Scenario, subject: Subject, peers: Peers):
    exe = peers.executable(PYSPY)
    if exe is None:
        raise Unavailable(peers.problems.get(PYSPY, "not installed"))
    flags = (["--locals"] if scenario.locals else []) + (["--native"] if scenario.native else [])
    flags += ["--json"] if scenario.json else []
    if not scenario.is_core:
        return [exe, "dump", "--pid", str(subject.pid), *flags], base_env()
    interp = subject.interp
    if not interp.in_chroot:
        return [exe, "dump", "--core", subject.core, *flags], base_env()
    staged = os.path.join(subject.space.host, "py-spy")
    if not os.path.exists(staged):
        shutil.copy(exe, staged)  # a static binary: it runs inside the root as is
    argv = ["chroot", interp.root, interp.inside_path(staged), "dump", "--core",
            interp.inside_path(subject.core), *flags]
    return argv, base_env()


def _gdb(scenario: Scenario, subject: Subject, peers: Peers):
    if not scenario.is_core or scenario.json:
        raise NotApplicable("gdb is measured on cores only, as text")
    interp = subject.interp
    script = interpreters.python_gdb_script(interp)
    if script is None:
        raise Unavailable(f"no python-gdb.py found for {interp.name}")
    commands = ["thread apply all py-bt"]
    if scenario.native:
        commands.append("thread apply all bt")
    if interp.in_chroot and os.path.exists(interp.host_path("/usr/bin/gdb")):
        prefix = ["chroot", interp.root, "/usr/bin/gdb"]
        files = [interp.exe_inside, interp.inside_path(subject.core)]
        script, early = interp.inside_path(script), []
    else:
        if shutil.which("gdb") is None:
            raise Unavailable("gdb is not installed")
        prefix, files = ["gdb"], [interp.exe, subject.core]
        early = _sysroot(interp)
    argv = prefix + ["-nx", "-batch",
                     "-iex", "set debuginfod enabled off",
                     "-iex", "set auto-load python-scripts off", *early,
                     "-ex", f"source {script}"]
    for cmd in commands:
        argv += ["-ex", cmd]
    return argv + files, base_env()


def _sysroot(interp: Interpreter) -> list[str]:
    """A host gdb reading a chroot's core: libraries and debug files from the root."""
    if not interp.in_chroot:
        return []
    return ["-iex", f"set sysroot {interp.root}",
            "-iex", f"set debug-file-directory {interp.host_path('/usr/lib/debug')}"]


def gdb_versions(interps: list[Interpreter]) -> dict[str, str]:
    """'gdb 13.1 (host)' and, for each chroot with its own gdb, that one's version."""
    found = {}
    if shutil.which("gdb"):
        found["host"] = _first_line(["gdb", "--version"])
    for interp in interps:
        if interp.in_chroot and os.path.exists(interp.host_path("/usr/bin/gdb")):
            found[interp.root] = _first_line(["chroot", interp.root, "/usr/bin/gdb",
                                              "--version"])
    return found


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.splitlines()[0].strip() if out else "?"
