"""Mutated copies of a target's executable and libpython under a --lib-search-root.

The core stays good; the files it names are laid out under a private root (copies of
the executable and libpython, symbolic links to everything else), and a mutation
rewrites a few bytes of a copy in place (restored afterwards, so a 20 MB libpython is
copied once, not once per example).
"""
from __future__ import annotations

import contextlib
import os
import random
import shutil
import struct
from dataclasses import dataclass, field
from typing import Optional

import fuzzlib

_SYM = struct.Struct("<IBBHQQ")
SYMBOLS = (b"_PyRuntime", b"Py_Version", b"interp_head", b"_PyThreadState_Current")


@dataclass
class ElfFileMap:
    host: str  # the copy under the root
    original: bytes
    regions: list[tuple[str, int, int]] = field(default_factory=list)  # kind, offset, size


def _regions_of(path: str, data: bytes) -> list[tuple[str, int, int]]:
    from pystack.binaries.elf import ElfFile

    regions = [("ehdr", 0, 64)]
    with ElfFile(path) as elf:
        ehdr = struct.unpack_from("<16sHHIQQQIHHHHHH", data, 0)
        phoff, shoff, phnum, shnum = ehdr[5], ehdr[6], ehdr[10], ehdr[12]
        regions.append(("phdrs", phoff, phnum * 56))
        if shoff:
            regions.append(("shdrs", shoff, shnum * 64))
        for seg in elf.segments:
            if seg.type == 2:  # PT_DYNAMIC
                regions.append(("dynamic", seg.offset, seg.filesz))
            if seg.type == 4:  # PT_NOTE
                regions.append(("note", seg.offset, seg.filesz))
        for sec in elf.sections:
            if sec.name in (".dynsym", ".dynstr", ".gnu.hash", ".hash", ".symtab", ".strtab",
                            ".note.gnu.build-id", ".PyRuntime", ".shstrtab"):
                regions.append((sec.name, sec.offset, min(sec.size, len(data) - sec.offset)))
        # the entries of the symbols locate() looks up, in both symbol tables
        for table, strings in ((".dynsym", ".dynstr"), (".symtab", ".strtab")):
            sym, strtab = elf.section(table), elf.section(strings)
            if sym is None or strtab is None:
                continue
            for off in range(sym.offset, sym.offset + sym.size, _SYM.size):
                st_name = _SYM.unpack_from(data, off)[0]
                start = strtab.offset + st_name
                end = data.find(b"\0", start, start + 64)
                if end > 0 and data[start:end] in SYMBOLS:
                    regions.append(("symbol", off, _SYM.size))
                    regions.append(("symbol-name", start, end - start + 1))
    return [r for r in regions if r[2] > 0 and r[1] + r[2] <= len(data)]


class ElfSubject:
    """A good core whose executable and libpython are read from mutable copies."""

    def __init__(self, subject: fuzzlib.Subject, root: str, files: list[ElfFileMap]) -> None:
        self.subject = subject
        self.root = root
        self.files = files

    @classmethod
    def build(cls, subject: fuzzlib.Subject, root: str) -> "ElfSubject":
        from pystack.target.core import CoreFile

        with CoreFile(subject.core) as core:
            paths = sorted({fm.path for fm in core.file_mappings})
        mutable = {os.path.realpath(fuzzlib.PYTHONS[subject.name]),
                   os.path.realpath(fuzzlib.LIBPYTHON[subject.name])}
        files = []
        for path in paths:
            if not path.startswith("/") or not os.path.isfile(path):
                continue
            host = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(host), exist_ok=True)
            if path in mutable:
                shutil.copyfile(path, host)
                with open(host, "rb") as f:
                    data = f.read()
                files.append(ElfFileMap(host, data, _regions_of(host, data)))
            else:
                os.symlink(path, host)
        assert len(files) == 2, f"expected the executable and libpython in {paths}"
        es = cls(subject, root, files)
        result = fuzzlib.guarded_run(es.argv())
        assert result.rc == 0 and fuzzlib.parse_frames(result.stdout) == \
            fuzzlib.parse_frames(subject.baseline), result.stderr
        return es

    def argv(self) -> list[str]:
        return ["core", self.subject.core, "--lib-search-root", self.root]

    # -- mutations: (file index, op) with ops as in fuzzlib.apply ----------------------
    def op_for(self, which: int, kind: str, region_index: int, where: int, raw: int,
               targeted: bool) -> tuple:
        f = self.files[which % len(self.files)]
        size = len(f.original)
        if kind == "truncate":
            return (which % len(self.files), ("truncate", where % (size + 1)))
        if targeted and f.regions:
            _, start, length = f.regions[region_index % len(f.regions)]
        else:
            start, length = 0, size
        offset = start + where % max(1, length)
        if kind == "flip":
            return (which % len(self.files), ("flip", offset, raw & 0xFF))
        if kind == "zero":
            return (which % len(self.files), ("zero", offset, 1 + raw % 64))
        value = fuzzlib.INTERESTING_WORDS[raw % len(fuzzlib.INTERESTING_WORDS)] \
            if raw & (1 << 40) else raw >> 8
        return (which % len(self.files), ("word", offset - offset % 8 if raw & 1 else offset,
                                          value))

    def random_ops(self, rng: random.Random, max_ops: int = 3) -> list[tuple]:
        ops = []
        for _ in range(rng.randint(1, max_ops)):
            kind = rng.choice(["flip", "flip", "word", "word", "zero", "truncate"])
            if kind == "truncate" and rng.random() < 0.6:
                kind = "flip"
            ops.append(self.op_for(rng.getrandbits(8), kind, rng.getrandbits(16),
                                   rng.getrandbits(40), rng.getrandbits(64), rng.random() < 0.85))
        return ops

    def _mutated_bytes(self, which: int, ops: list[tuple]) -> Optional[bytearray]:
        mine = [op for w, op in ops if w == which]
        if not mine:
            return None
        data = bytearray(self.files[which].original)
        for op in mine:
            fuzzlib.apply(data, self.subject, op)
        return data

    @contextlib.contextmanager
    def mutated(self, ops: list[tuple]):
        """Apply `ops` to the copies for the duration of the block, then restore them."""
        written: list[tuple[ElfFileMap, int, int]] = []  # file, offset, length changed
        try:
            for which, f in enumerate(self.files):
                mine = [op for w, op in ops if w == which]
                if not mine:
                    continue
                with open(f.host, "r+b") as out:
                    for op in mine:
                        if op[0] == "truncate":
                            written.append((f, op[1], len(f.original) - op[1]))
                            out.truncate(op[1])
                            continue
                        offset = op[1]
                        length = 1 if op[0] == "flip" else 8 if op[0] == "word" else op[2]
                        out.seek(0, os.SEEK_END)
                        end = min(out.tell(), offset + length)
                        if offset >= end:
                            continue
                        written.append((f, offset, end - offset))
                        out.seek(offset)
                        window = bytearray(out.read(end - offset))
                        piece = fuzzlib.apply(window, self.subject,
                                              (op[0], 0) + tuple(op[2:]))
                        out.seek(offset)
                        out.write(piece[:end - offset])
            yield
        finally:
            for f, offset, length in reversed(written):
                with open(f.host, "r+b") as out:
                    out.seek(offset)
                    out.write(f.original[offset:offset + length])

    def current_bytes(self, ops: list[tuple]) -> bytes:
        """The mutated file (the first one the ops touch), for a reproducer."""
        for which in range(len(self.files)):
            data = self._mutated_bytes(which, ops)
            if data is not None:
                return bytes(data)
        return b""
