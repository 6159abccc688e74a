"""Hostile binaries: a good core whose executable or libpython is mutated.

The files the core names are laid out under a --lib-search-root (see elfmut): copies
of the executable and of libpython, links to the rest. Mutations target the ELF
header, program and section headers, the dynamic segment, the symbol and string
tables, the hash tables, the build id note, the `.PyRuntime` section and the very
symbol entries the locator looks up, or land anywhere; truncation cuts the file.
`pystack core` must still answer with an exit code, in time, in bounded memory.

Budget: the whole file runs in well under 90 s.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fuzzlib

NAMES = list(fuzzlib.PYTHONS)
EXAMPLES = int(os.environ.get("PYSTACK_FUZZ_EXAMPLES", "150"))
REPRO_DIR = os.environ.get("PYSTACK_FUZZ_REPRO", "/tmp/pystack-fuzz-repro")

FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

OP = st.tuples(
    st.integers(0, 1),  # the executable or libpython
    st.sampled_from(("flip", "flip", "word", "word", "zero", "truncate")),
    st.integers(0, 1 << 16),  # which region
    st.integers(0, 1 << 40),  # where in it
    st.integers(0, (1 << 64) - 1),  # value
    st.sampled_from((True, True, True, False)),  # in a region of interest, or anywhere
)
OPS = st.lists(OP, min_size=1, max_size=3)


def run_mutated(es, ops) -> fuzzlib.Result:
    with es.mutated(ops):
        result = fuzzlib.guarded_run(es.argv())
    problems = fuzzlib.output_problems(result)
    if problems:
        repro = fuzzlib.save_reproducer(REPRO_DIR, es.subject, ops, es.current_bytes(ops),
                                        result, es.argv()[2:])
        pytest.fail(f"{problems} with {ops} (reproducer: {repro})\n{result.stderr[-2000:]}")
    return result


@pytest.mark.parametrize("name", NAMES)
def test_the_copies_give_the_same_stacks(elf_subjects, name):
    es = elf_subjects[name]
    result = run_mutated(es, [])
    assert result.rc == 0
    assert fuzzlib.frames_in_order(result.stdout) == \
        fuzzlib.frames_in_order(es.subject.baseline)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(raw=OPS)
def test_mutated_binaries(elf_subjects, name, raw):
    es = elf_subjects[name]
    ops = [es.op_for(which, kind, region, where, value, targeted)
           for which, kind, region, where, value, targeted in raw]
    run_mutated(es, ops)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("which", [0, 1], ids=["executable", "libpython"])
def test_every_region_zeroed_or_filled(elf_subjects, name, which):
    """Each interesting region of the file, zeroed and then filled with 0xff."""
    es = elf_subjects[name]
    f = es.files[which]
    for kind, offset, size in f.regions:
        for start in range(offset, offset + size, max(64, size // 4)):
            run_mutated(es, [(which, ("zero", start, 64))])
            run_mutated(es, [(which, ("word", start - start % 8, (1 << 64) - 1))])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("which", [0, 1], ids=["executable", "libpython"])
def test_truncated_binaries(elf_subjects, name, which):
    es = elf_subjects[name]
    size = len(es.files[which].original)
    cuts = {0, 3, 16, 63, 64, 65, 200} | {size * k // 16 for k in range(16)}
    cuts |= {offset for _, offset, _ in es.files[which].regions}
    for cut in sorted(cuts):
        run_mutated(es, [(which, ("truncate", cut))])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("field,value", [
    (32, (1 << 64) - 1),  # e_phoff
    (40, (1 << 64) - 1),  # e_shoff
    (40, 0),
    (56, 0xFFFF),  # e_phnum (PN_XNUM) and e_shentsize
    (60, 0xFFFF_0000_FFFF),  # e_shnum 0xffff, e_shstrndx 0xffff
    (54, 0x0001_0000),  # e_phentsize 0, e_phnum 1
])
def test_absurd_header_fields(elf_subjects, name, field, value):
    es = elf_subjects[name]
    for which in (0, 1):
        run_mutated(es, [(which, ("word", field, value))])


def test_special_files_are_never_read(tmp_path):
    """A core names the files to open: one that is not a regular file, or whose size
    says nothing of its content (procfs: /proc/kmsg blocks, /proc/kcore is endless),
    must fail at once, not block or read without end."""
    from pystack.binaries.elf import ElfFile
    from pystack.errors import ElfError

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, message in ((fifo, "not a regular file"), ("/dev/zero", "not a regular file"),
                          ("/proc/self/status", "not an ELF file")):
        with pytest.raises(ElfError, match=message):
            with fuzzlib.alarm(5):
                ElfFile(str(path))
