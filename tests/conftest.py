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
