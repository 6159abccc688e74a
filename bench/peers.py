"""The peers we compare with, installed into a throwaway virtual environment.

Bloomberg's pystack (PyPI `pystack`) and py-spy (`py-spy`) are measured, never used by
the project: they live in bench/.venv-peers, made and reused here, so neither becomes a
dependency and the project's own `pystack` is never shadowed by Bloomberg's.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from dataclasses import dataclass, field
from typing import Optional

PACKAGES = {"bloomberg": "pystack", "py-spy": "py-spy"}


@dataclass
class Peers:
    """Where each peer's executable is, its version, and why one is missing."""

    venv_dir: str
    executables: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    our_script: Optional[str] = None  # see our_script()

    def executable(self, tool: str) -> Optional[str]:
        return self.executables.get(tool)


def ensure(venv_dir: str, upgrade: bool = False) -> Peers:
    """Make (or reuse) the venv and install what is missing; never raise for a peer."""
    peers = Peers(venv_dir)
    python = os.path.join(venv_dir, "bin", "python")
    if not os.path.exists(python):
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    installed = _installed_versions(python)
    wanted = [pkg for pkg in PACKAGES.values() if upgrade or pkg not in installed]
    if wanted:
        problem = _pip_install(python, wanted, upgrade)
        installed = _installed_versions(python)
        for tool, pkg in PACKAGES.items():
            if pkg not in installed:
                peers.problems[tool] = f"pip install {pkg} failed: {problem}"
    for tool, pkg in PACKAGES.items():
        exe = os.path.join(venv_dir, "bin", "pystack" if tool == "bloomberg" else "py-spy")
        if pkg in installed and os.access(exe, os.X_OK):
            peers.executables[tool] = exe
            peers.versions[tool] = installed[pkg]
    return peers


def _installed_versions(python: str) -> dict[str, str]:
    """Distribution versions in the venv, asked of the venv's own interpreter."""
    code = ("import importlib.metadata as m, json, sys\n"
            f"names = {list(PACKAGES.values())!r}\n"
            "found = {}\n"
            "for n in names:\n"
            "    try: found[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(found))")
    result = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        return {}
    return json.loads(result.stdout)


def _pip_install(python: str, packages: list[str], upgrade: bool) -> str:
    """Install with the venv's pip; return the tail of its complaint, if any."""
    argv = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    argv += ["--upgrade"] if upgrade else []
    venv_dir = os.path.dirname(os.path.dirname(python))
    print(f"installing {' '.join(packages)} into {venv_dir}", file=sys.stderr)
    result = subprocess.run(argv + packages, capture_output=True, text=True)
    if result.returncode == 0:
        return ""
    lines = [l for l in result.stderr.splitlines() if l.strip() and "WARNING" not in l]
    return lines[-1] if lines else f"exit status {result.returncode}"


# What pip writes for a console script (the same as Bloomberg's bin/pystack beside it).
_CONSOLE_SCRIPT = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from pystack._entry import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""


def our_script(venv_dir: str) -> str:
    """Our `pystack` command, as `pip install` would make it, in a venv of its own.

    Bloomberg's pystack starts from a clean venv through pip's console script; so does
    ours (the package itself comes from src/ through PYTHONPATH, so the tree being
    measured is the work tree). A venv keeps out whatever the base interpreter's
    site-packages import at start-up (.pth files), which on some machines costs more
    than the dump itself.
    """
    python = os.path.join(os.path.abspath(venv_dir), "bin", "python")
    if not os.path.exists(python):
        venv.EnvBuilder(with_pip=False, clear=True).create(venv_dir)
    script = os.path.join(venv_dir, "bin", "pystack")
    with open(script, "w") as f:
        f.write(_CONSOLE_SCRIPT.format(python=python))
    os.chmod(script, 0o755)
    return script
