"""Shared fixtures: the provisioned interpreters and a way to run pystack itself."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(REPO, "src")
TARGETS_DIR = os.environ.get("PYSTACK_TARGETS", os.path.join(REPO, ".targets"))


def load_interpreters() -> list[dict]:
    """What scripts/provision_targets.py provisioned; empty if it never ran."""
    path = os.path.join(TARGETS_DIR, "manifest.json")
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return []


INTERPRETERS = load_interpreters()

# Every pystack the tests run names native frames from DWARF, cold: the frame cache
# (native/cache.py) has tests of its own, which turn it back on in a folder of theirs.
os.environ["PYSTACK_NO_CACHE"] = "1"

if "MUTANT_UNDER_TEST" in os.environ:
    # Under scripts/mutation.py a failing example only has to fail: shrinking it costs
    # tens of seconds per killed mutant, and a fixed seed makes runs comparable.
    from hypothesis import Phase, settings as _hypothesis_settings
    _hypothesis_settings.register_profile(
        "mutation", derandomize=True, database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate])
    _hypothesis_settings.load_profile("mutation")


def interpreter_params():
    if not INTERPRETERS:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason="no interpreters provisioned: run scripts/provision_targets.py"))]
    return [pytest.param(i, id=i["name"]) for i in INTERPRETERS]


def run_pystack(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "pystack", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def pytest_report_header(config):
    if not INTERPRETERS:
        return "target interpreters: none provisioned (integration tests skipped)"
    return "target interpreters: " + ", ".join(i["name"] for i in INTERPRETERS)


#: Skips past this many are a machine that lacks what the suite tests against (the
#: pyenv builds, gdb, the sid chroot): the summary says so in capitals.
MANY_SKIPS = 20


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say how many tests did not run and why, once, at the very end: a green run
    that skipped the interpreters it was meant to check proves little."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons: dict = {}
    for report in skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.replace("Skipped: ", "", 1)
        reasons[reason] = reasons.get(reason, 0) + 1
    title = f"{len(skipped)} tests skipped"
    if len(skipped) > MANY_SKIPS:
        title = f"WARNING: {title}: this machine lacks part of what the suite checks against"
    terminalreporter.write_sep("=", title, yellow=True, bold=len(skipped) > MANY_SKIPS)
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{count:5d}  {reason}")


#: The 3.x layouts the unit tests' synthetic heaps (unit/test_reprs.Heap) are made of.
HEAP_VERSIONS = [(3, 6), (3, 7), (3, 10), (3, 11), (3, 12), (3, 13), (3, 14), (3, 15)]


@pytest.fixture(params=HEAP_VERSIONS, ids=lambda v: "%d.%d" % v)
def heap(request):
    """A synthetic heap of objects laid out as each of those versions lays them out."""
    from pystack.cpython.layouts import layout_for
    from unit.test_reprs import Heap
    return Heap(layout_for(request.param))


@pytest.fixture
def heap27():
    """A synthetic heap of 2.7's objects."""
    from pystack.cpython.layouts import layout_for
    from unit.test_reprs import Heap
    return Heap(layout_for((2, 7)))
