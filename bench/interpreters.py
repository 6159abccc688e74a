"""The interpreters to measure, from the manifest that scripts/provision_targets.py writes.

An interpreter either lives on the host (root "/") or in a chroot (Debian sid's); the
harness needs both views of each path, the host's to hand files to the tools and the
one inside the root to hand them to the target, to gdb and py-spy run there.
"""
from __future__ import annotations

import glob
import json
import os
import sysconfig
from dataclasses import dataclass
from typing import Iterable, Optional

# Preferred manifest entries for a bare "3.X": the issue asks for pyenv's 3.11 and
# sid's 3.14, the plain builds rather than the -pie or debug variants.
_PREFERENCE = ("pyenv-", "sid-", "system-")


@dataclass(frozen=True)
class Interpreter:
    """One manifest entry."""

    name: str
    version: str
    argv: tuple[str, ...]
    root: str
    exe: str

    @property
    def in_chroot(self) -> bool:
        return self.root not in ("", "/")

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    def host_path(self, inside: str) -> str:
        """Where a path seen by the target (inside its root) is on the host."""
        if not self.in_chroot:
            return inside
        return os.path.join(self.root, inside.lstrip("/"))

    def inside_path(self, host: str) -> str:
        """Where a host path under the root is as seen from inside it."""
        if not self.in_chroot:
            return host
        relative = os.path.relpath(host, self.root)
        if relative.startswith(".."):
            raise ValueError(f"{host} is outside {self.root}")
        return "/" + relative

    @property
    def exe_inside(self) -> str:
        return self.inside_path(self.exe)


def load_manifest(path: str) -> list[Interpreter]:
    """Every interpreter the manifest lists; empty when provisioning never ran."""
    try:
        with open(path) as f:
            entries = json.load(f)
    except OSError:
        return []
    return [Interpreter(name=e["name"], version=e["version"], argv=tuple(e["argv"]),
                        root=e.get("root", "/"), exe=e["exe"]) for e in entries]


def select(available: list[Interpreter], wanted: Iterable[str]) -> list[Interpreter]:
    """Resolve names ("sid-3.14d") or versions ("3.11") to manifest entries."""
    chosen = []
    for token in wanted:
        match = _resolve(available, token.strip())
        if match is None:
            names = ", ".join(i.name for i in available) or "none"
            raise ValueError(f"no interpreter {token!r} in the manifest (have: {names})")
        chosen.append(match)
    return chosen


def _resolve(available: list[Interpreter], token: str) -> Optional[Interpreter]:
    by_name = [i for i in available if i.name == token]
    if by_name:
        return by_name[0]
    same = [i for i in available if token in (i.minor, i.version)]
    return min(same, key=_rank) if same else None


def _rank(interp: Interpreter) -> tuple[int, bool]:
    """pyenv before sid before the system's; a plain build before -pie or debug ones."""
    for index, prefix in enumerate(_PREFERENCE):
        if interp.name.startswith(prefix):
            plain = interp.name[len(prefix):] in (interp.minor, interp.version)
            return index, not plain
    return len(_PREFERENCE), True


def python_gdb_script(interp: Interpreter) -> Optional[str]:
    """CPython's python-gdb.py (libpython.py) for this interpreter, as a host path.

    pyenv installs it beside the binary; Debian ships it in gdb's auto-load tree, named
    after the executable or after libpython.
    """
    exe_inside = interp.exe_inside
    candidates = [
        os.path.join(os.path.dirname(interp.exe), f"python{interp.minor}-gdb.py"),
        interp.host_path(f"/usr/share/gdb/auto-load{exe_inside}-gdb.py"),
    ]
    candidates += sorted(glob.glob(interp.host_path(
        f"/usr/share/gdb/auto-load/usr/lib/*/libpython{interp.minor}.so*-gdb.py")))
    prefix = os.path.dirname(os.path.dirname(interp.exe))
    candidates += sorted(glob.glob(os.path.join(prefix, "lib",
                                                f"libpython{interp.minor}.so*-gdb.py")))
    return next((c for c in candidates if os.path.isfile(c)), None)


def lib_search_path(interp: Interpreter) -> str:
    """Host directories holding the shared libraries a chroot's target maps.

    A kernel core names them as the target saw them (/usr/lib/...), which on the
    host are other files; the pystacks are told where the right ones are.
    """
    arch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    inside = [f"/usr/lib/{arch}", f"/lib/{arch}", f"/usr/lib/python{interp.minor}/lib-dynload",
              "/usr/lib", "/lib64"]
    dirs = [interp.host_path(d) for d in inside]
    return ":".join(d for d in dirs if os.path.isdir(d))
