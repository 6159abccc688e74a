"""Fixtures of the fuzz tests: small real cores (and libpython copies) made once per session.

`run_long.py` is the long fuzzing loop, run by hand: never collected.
"""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fuzzlib  # noqa: E402

collect_ignore = ["run_long.py", "fuzzlib.py", "elfmut.py"]

_WHY_NOT = fuzzlib.have_tools()


@pytest.fixture(scope="session")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="session")
def subjects(fuzz_dir):
    """name -> fuzzlib.Subject for the 3.11 and 2.7 targets, made on first use."""
    if _WHY_NOT:
        pytest.skip(_WHY_NOT)

    class Lazy(dict):
        def __missing__(self, name):
            why_not = fuzzlib.missing_python(name)
            if why_not:
                pytest.skip(why_not)
            work = fuzz_dir / name
            work.mkdir()
            self[name] = fuzzlib.build_subject(name, str(work))
            return self[name]
    return Lazy()


@pytest.fixture(scope="session")
def elf_subjects(subjects, fuzz_dir):
    import elfmut

    class Lazy(dict):
        def __missing__(self, name):
            self[name] = elfmut.ElfSubject.build(subjects[name], str(fuzz_dir / f"root-{name}"))
            return self[name]
    return Lazy()
