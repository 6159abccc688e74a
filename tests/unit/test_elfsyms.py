"""Function names by address from ELF symbol tables (our own, for --native without
libdw), on ELF files made here."""
from __future__ import annotations

import lzma
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from pystack.binaries.elf import ElfFile
from pystack.native.elfsyms import SymbolIndex, index_for

STT_FUNC, STT_OBJECT, STT_GNU_IFUNC = 2, 1, 10
GLOBAL, LOCAL, WEAK = 1, 0, 2


def make_elf(symbols, *, table=".symtab", extra_sections=()) -> bytes:
    """A minimal ELF64 with one symbol table: symbols are (name, value, size, type,
    binding, section index)."""
    strtab = b"\0"
    entries = [b"\0" * 24]
    for name, value, size, kind, binding, shndx in symbols:
        offset = len(strtab)
        strtab += name.encode() + b"\0"
        entries.append(struct.pack("<IBBHQQ", offset, binding << 4 | kind, 0, shndx, value,
                                   size))
    symtab = b"".join(entries)
    names = [b"", table.encode(), b".strtab" if table == ".symtab" else b".dynstr",
             b".text", b".shstrtab"] + [name.encode() for name, _ in extra_sections]
    shstrtab = b"\0".join(names) + b"\0"
    name_at = []
    pos = 0
    for name in names:
        name_at.append(pos)
        pos += len(name) + 1
    blobs = [symtab, strtab, b"\x90" * 16, shstrtab] + [data for _, data in extra_sections]
    offset = 64
    placed = []
    for blob in blobs:
        placed.append(offset)
        offset += len(blob)
    shoff = offset
    sym_type = 2 if table == ".symtab" else 11  # SHT_SYMTAB, SHT_DYNSYM
    headers = [b"\0" * 64,
               struct.pack("<IIQQQQIIQQ", name_at[1], sym_type, 0, 0, placed[0], len(symtab),
                           2, 1, 8, 24),
               struct.pack("<IIQQQQIIQQ", name_at[2], 3, 0, 0, placed[1], len(strtab),
                           0, 0, 1, 0),
               struct.pack("<IIQQQQIIQQ", name_at[3], 1, 6, 0x1000, placed[2], 16, 0, 0, 16, 0),
               struct.pack("<IIQQQQIIQQ", name_at[4], 3, 0, 0, placed[3], len(shstrtab),
                           0, 0, 1, 0)]
    for index, (_, data) in enumerate(extra_sections):
        headers.append(struct.pack("<IIQQQQIIQQ", name_at[5 + index], 1, 0, 0,
                                   placed[4 + index], len(data), 0, 0, 1, 0))
    header = (b"\x7fELF\x02\x01\x01" + b"\0" * 9
              + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, 64, 56, 0, 64,
                            len(headers), 4))
    return header + b"".join(blobs) + b"".join(headers)


def elf_of(tmp_path, symbols, name="lib.so", **options) -> ElfFile:
    path = tmp_path / name
    path.write_bytes(make_elf(symbols, **options))
    return ElfFile(str(path))


def test_functions_by_address_with_sizes_and_aliases(tmp_path):
    elf = elf_of(tmp_path, [
        ("__GI___clock_nanosleep", 0x1000, 0x40, STT_FUNC, LOCAL, 3),
        ("clock_nanosleep", 0x1000, 0x40, STT_FUNC, GLOBAL, 3),
        ("__clock_nanosleep", 0x1000, 0x40, STT_FUNC, WEAK, 3),
        ("_private", 0x1100, 0x10, STT_FUNC, GLOBAL, 3),
        ("public", 0x1100, 0x10, STT_FUNC, GLOBAL, 3),
        ("a_variable", 0x1200, 0x100, STT_OBJECT, GLOBAL, 3),
        ("undefined_here", 0x1300, 0x10, STT_FUNC, GLOBAL, 0),
        ("resolver", 0x1400, 0x8, STT_GNU_IFUNC, GLOBAL, 3),
        ("no_size", 0x1500, 0, STT_FUNC, LOCAL, 3),
    ])
    with elf:
        index = SymbolIndex([(elf, ".symtab")])
        assert index.lookup(0x1000) == "clock_nanosleep"  # global over weak over local
        assert index.lookup(0x103F) == "clock_nanosleep"
        assert index.lookup(0x1040) is None  # past its size
        assert index.lookup(0x1105) == "public"  # no leading underscore among equals
        assert index.lookup(0x1250) is None  # data is no function
        assert index.lookup(0x1300) is None  # undefined symbols name nothing
        assert index.lookup(0x1404) == "resolver"
        assert index.lookup(0x1500) == "no_size"  # a size of 0 covers its address only
        assert index.lookup(0x1501) is None
        assert index.lookup(0xFFF) is None
        assert len(index) == 4


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 1 << 20), st.integers(0, 64),
                          st.sampled_from([LOCAL, GLOBAL, WEAK])), max_size=40),
       st.integers(0, (1 << 20) + 100))
def test_lookup_agrees_with_a_scan(tmp_path_factory, symbols, address):
    named = [(f"f{i}", value, size, STT_FUNC, binding, 3)
             for i, (value, size, binding) in enumerate(symbols)]
    elf = elf_of(tmp_path_factory.mktemp("syms"), named)
    with elf:
        got = SymbolIndex([(elf, ".symtab")]).lookup(address)
    rank = {GLOBAL: 0, WEAK: 1, LOCAL: 2}
    best = {}
    for name, value, size, _, binding, _ in named:
        key = (rank[binding], name.startswith("_"), name)
        if value not in best or key < best[value][0]:
            best[value] = (key, name, size)
    starts = sorted(v for v in best if v <= address)
    expected = None
    if starts:
        _, name, size = best[starts[-1]]
        if address < starts[-1] + max(size, 1):
            expected = name
    assert got == expected


def test_a_stripped_file_uses_dynsym_and_minidebuginfo(tmp_path):
    mini = make_elf([("local_helper", 0x2000, 0x20, STT_FUNC, LOCAL, 3)])
    elf = elf_of(tmp_path, [("exported", 0x1000, 0x10, STT_FUNC, GLOBAL, 3)],
                 table=".dynsym",
                 extra_sections=[(".gnu_debugdata", lzma.compress(mini))])
    opened = []
    with elf:
        index = index_for(elf, ["/"], opened.append)
        assert index.lookup(0x1008) == "exported"
        assert index.lookup(0x2010) == "local_helper"
        assert any("gnu_debugdata" in source for source in index.sources)


def test_damaged_minidebuginfo_leaves_the_other_names(tmp_path):
    elf = elf_of(tmp_path, [("exported", 0x1000, 0x10, STT_FUNC, GLOBAL, 3)],
                 table=".dynsym", extra_sections=[(".gnu_debugdata", b"not xz")])
    with elf:
        index = index_for(elf, ["/"], lambda opened: None)
        assert index.lookup(0x1000) == "exported"
        assert index.lookup(0x2010) is None
