#!/usr/bin/env python3
"""Mutation testing of the modules that decide what pystack prints (run by hand,
never in CI): each module is mutated by mutmut and its fast tests must kill every
mutant that changes behaviour.

    .venv/bin/python scripts/mutation.py                 # every group below
    .venv/bin/python scripts/mutation.py linetable merge  # some of them
    .venv/bin/python scripts/mutation.py --keep reprs     # keep the copy to rerun mutants

Works in a throwaway copy of the checkout (mutmut rewrites the sources it mutates),
installs mutmut into .venv if it is missing, and prints per group: mutants, killed,
timed out, survived, and each survivor that `docs/mutation-equivalents.txt` does not
list as equivalent (with the reason why it changes nothing). Three shapes of mutant
are equivalent wherever they are (`equivalent_shape`): a changed ObjectError message
(never printed), a changed -v diagnostic, and a sanity bound on a size read from
memory moved by one step. A survivor that is not listed is a test to write.

mutmut was chosen over cosmic-ray by measurement: on linetable.py it made and ran
326 mutants in 6 min 43 s with one command and no session database to manage;
cosmic-ray needs a config, an init step and a worker per run.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_PYTHON = os.path.join(REPO, ".venv", "bin", "python")
EQUIVALENTS = os.path.join(REPO, "docs", "mutation-equivalents.txt")
MUTMUT = "mutmut==3.8.1"

#: group -> (modules mutated, the tests that run in-process against them)
GROUPS = {
    "linetable": (["src/pystack/cpython/linetable.py"], ["tests/unit/test_linetable.py"]),
    "merge": (["src/pystack/native/merge.py"], ["tests/unit/test_merge.py"]),
    "reprs": (["src/pystack/cpython/reprs.py", "src/pystack/cpython/reprs_named.py"],
              ["tests/unit/test_reprs.py", "tests/unit/test_reprs_edges.py",
               "tests/unit/test_reprs_named_types.py", "tests/unit/test_reprs_named_values.py",
               "tests/unit/test_recorded.py"]),
    # the CPython model, through recorded dumps of real targets (tests/recorded.py)
    "model": (["src/pystack/cpython/frames.py", "src/pystack/cpython/threads.py",
               "src/pystack/cpython/objects.py", "src/pystack/cpython/variables.py"],
              ["tests/unit/test_recorded.py", "tests/unit/test_threads.py",
               "tests/unit/test_objects.py", "tests/unit/test_frames.py",
               "tests/unit/test_variables.py",
               "tests/unit/test_tasks_memory.py", "tests/unit/test_reprs.py"]),
    "render": (["src/pystack/render/text.py", "src/pystack/render/tasks.py",
                "src/pystack/render/group.py", "src/pystack/render/jsondoc.py"],
               ["tests/unit/test_render.py", "tests/unit/test_render_json.py",
                "tests/unit/test_group.py", "tests/unit/test_tasks_render.py"]),
    "tasks": (["src/pystack/cpython/tasks.py"],
              ["tests/unit/test_tasks_memory.py", "tests/unit/test_tasks_render.py"]),
}


#: Survivors equivalent by their shape, whatever function they are in: (why, a
#: pattern every removed and added line of the mutant's diff matches).
EQUIVALENT_SHAPES = [
    ("the message of an ObjectError is never printed: every one is caught and the "
     "value shown as <invalid object at 0x...>",
     re.compile(r"^[-+]\s*raise ObjectError\(.*\)\s*(#.*)?$")),
]
_DIAGNOSTIC = re.compile(r"^[-+]\s*log\.(info|debug)\(")
_CONTINUATION = re.compile(r"^[-+]\s*[^=()]*\)\s*$")


#: A sanity bound on a size or count read from memory (`MAX_SIZE`, `1 << 40`) and the
#: comparison next to it: only corrupted memory comes anywhere near one.
_LIMIT = r"(\bMAX_SIZE\b|\b\d+ << \d+\b)"
_BOUND = re.compile(rf"(<=?|>=?)\s*{_LIMIT}|{_LIMIT}\s*(<=?|>=?)")


def _without_bounds(line: str) -> str:
    return _BOUND.sub("BOUND", line[1:])


def equivalent_shape(diff: list) -> str:
    """Why a mutant with this diff changes nothing, if its shape says so; else ''."""
    for why, pattern in EQUIVALENT_SHAPES:
        if diff and all(pattern.match(line) for line in diff):
            return why
    if diff and _DIAGNOSTIC.match(diff[0]) and \
            all(_DIAGNOSTIC.match(line) or _CONTINUATION.match(line) for line in diff):
        return "a -v diagnostic (log.info, log.debug), not the dump: -v output is for us"
    removed = [line for line in diff if line.startswith("-")]
    added = [line for line in diff if line.startswith("+")]
    if len(removed) == len(added) == 1 and "BOUND" in _without_bounds(removed[0]) and \
            _without_bounds(removed[0]) == _without_bounds(added[0]):
        return ("moves a sanity bound on a size read from memory (MAX_SIZE, 1 << N) by one "
                "step: only corrupted memory comes near it")
    return ""


def equivalents() -> dict:
    """mutant name -> why it changes nothing (one line each in the file)."""
    found = {}
    try:
        with open(EQUIVALENTS) as f:
            for line in f:
                name, _, why = line.strip().partition(" ")
                if name and not name.startswith("#"):
                    found[name] = why.strip()
    except OSError:
        pass
    return found


def ensure_mutmut() -> str:
    mutmut = os.path.join(os.path.dirname(VENV_PYTHON), "mutmut")
    if not os.path.exists(mutmut):
        subprocess.run([VENV_PYTHON, "-m", "pip", "install", "-q", MUTMUT], check=True)
    return mutmut


def run_group(name: str, mutmut: str, keep: bool = False) -> tuple:
    modules, tests = GROUPS[name]
    work = tempfile.mkdtemp(prefix=f"pystack-mutation-{name}-")
    try:
        subprocess.run(["git", "clone", "-q", REPO, work], check=True)
        targets = os.path.join(REPO, ".targets")
        if os.path.isdir(targets):
            os.symlink(targets, os.path.join(work, ".targets"))
        with open(os.path.join(work, "pyproject.toml"), "a") as f:
            f.write("\n[tool.mutmut]\n"
                    f"source_paths = {modules!r}\n"
                    f"pytest_add_cli_args_test_selection = {tests!r}\n"
                    'also_copy = ["tests", "src", "docs", "README.md"]\n'
                    'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]\n')
        env = dict(os.environ, PYTHONPATH=os.path.join(work, "src"))
        run = subprocess.run([mutmut, "run"], cwd=work, env=env, capture_output=True,
                             text=True)
        results = subprocess.run([mutmut, "results", "--all", "true"], cwd=work, env=env,
                                 capture_output=True, text=True).stdout
        statuses = dict(re.findall(r"^\s*(\S+): (\w[\w ]*)$", results, re.M))
        shown = {}
        for mutant, status in statuses.items():
            if status == "survived":
                diff = subprocess.run([mutmut, "show", mutant], cwd=work, env=env,
                                      capture_output=True, text=True).stdout
                shown[mutant] = [line for line in diff.splitlines()
                                 if line.startswith(("-    ", "+    ", "- ", "+ "))
                                 and not line.startswith(("---", "+++"))]
        if not any(s in ("killed", "survived", "timeout") for s in statuses.values()):
            # mutmut stopped before testing any mutant (the tests failed unmutated...)
            print(f"{name}: mutmut tested no mutant; its last words:\n"
                  + (run.stdout + run.stderr)[-3000:], file=sys.stderr)
        return statuses, shown
    finally:
        if keep:
            print(f"{name}: the copy is kept in {work} (`mutmut run NAME` there reruns one "
                  "mutant after a test is added to its tests/)", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list) -> int:
    keep = "--keep" in argv
    argv = [a for a in argv if a != "--keep"]
    groups = argv or list(GROUPS)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        print(f"unknown group(s) {unknown}; known: {', '.join(GROUPS)}", file=sys.stderr)
        return 2
    mutmut = ensure_mutmut()
    known = equivalents()
    failed = False
    for name in groups:
        statuses, diffs = run_group(name, mutmut, keep)
        counts: dict = {}
        for status in statuses.values():
            counts[status] = counts.get(status, 0) + 1
        survivors = [m for m, s in statuses.items() if s == "survived"]
        open_ones = [m for m in survivors
                     if m not in known and not equivalent_shape(diffs.get(m, []))]
        total = len(statuses)
        killed = counts.get("killed", 0) + counts.get("timeout", 0)
        score = killed / max(1, total - (len(survivors) - len(open_ones)))
        untested = counts.get("no tests", 0)
        others = {k: v for k, v in counts.items()
                  if k not in ("killed", "timeout", "survived", "no tests")}
        print(f"{name}: {total} mutants, {counts.get('killed', 0)} killed, "
              f"{counts.get('timeout', 0)} timed out, {len(survivors)} survived "
              f"({len(survivors) - len(open_ones)} equivalent), {untested} in code no "
              f"fast test reaches{', ' + str(others) if others else ''}: score {score:.1%}")
        for mutant in open_ones:
            failed = True
            print(f"  survivor {mutant}")
            for line in diffs.get(mutant, []):
                print(f"      {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
