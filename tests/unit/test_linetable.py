"""Differential tests of pystack.cpython.linetable against the real interpreters.

The decoders must give, for every instruction, exactly the position the target
CPython computes itself.  The only trustworthy reference for that is CPython, so
each interpreter on this machine compiles a varied corpus (and, separately, builds
code objects around randomly generated but well-formed tables) and reports, for
every code object, its raw table plus what it says about every address:

* through ``dis.findlinestarts`` / ``co_lines()`` / ``co_positions()`` (the
  Python-level views), and
* through ``ctypes`` calls of ``PyCode_Addr2Line`` and (3.11+)
  ``PyCode_Addr2Location``, the C functions the debugger imitates, including at
  addresses before the first and past the last instruction.

Our functions must agree with every one of those answers.  Hypothesis then feeds
arbitrary bytes to check that garbage never raises or hangs.
"""
from __future__ import annotations

import binascii
import gzip
import json
import os
import random
import re
import subprocess
import sys
import time
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timing import assert_quick

try:
    from pystack.cpython.linetable import (
        Location,
        linetable310_line,
        lnotab_line,
        location311,
    )
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    from pystack.cpython.linetable import (
        Location,
        linetable310_line,
        lnotab_line,
        location311,
    )

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYENV = "/root/.pyenv/versions"
SID = os.path.join(REPO, ".targets", "sid")

# (test id, argv to start it, path that must exist for it to be tested)
_PYENV_VERSIONS = ["2.7.18", "3.6.15", "3.7.16", "3.8.18", "3.9.18", "3.10.13", "3.11.7",
                   "3.12.1", "3.13.0"]
_SID_BINARIES = ["python3.13", "python3.14", "python3.14d", "python3.15"]


def _interpreters() -> List[Tuple[str, List[str], str]]:
    found = []
    for version in _PYENV_VERSIONS:
        exe = os.path.join(PYENV, version, "bin", "python")
        found.append((version, [exe], exe))
    for name in _SID_BINARIES:
        path = "/usr/bin/" + name
        found.append(("sid-" + name[len("python"):], ["chroot", SID, path], SID + path))
    return found


INTERPRETERS = _interpreters()

# ---------------------------------------------------------------------------
# The probe: runs inside each target interpreter (2.7 and every 3.x), so it is
# written in the common subset of both languages.  It reads a JSON request on
# stdin and writes the answers as JSON on stdout.
# ---------------------------------------------------------------------------

PROBE = r'''
import binascii, json, sys, types

V = sys.version_info[:2]
FAMILY = "lnotab" if V < (3, 10) else ("310" if V == (3, 10) else "311")
# Debug builds assert that the address is inside co_code: ask them nothing else.
DEBUG = hasattr(sys, "gettotalrefcount")

try:
    import ctypes
    _addr2line = ctypes.pythonapi.PyCode_Addr2Line
    _addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
    _addr2line.restype = ctypes.c_int
    _addr2loc = getattr(ctypes.pythonapi, "PyCode_Addr2Location", None)
    if _addr2loc is not None:
        _addr2loc.argtypes = ([ctypes.py_object, ctypes.c_int]
                              + [ctypes.POINTER(ctypes.c_int)] * 4)
        _addr2loc.restype = ctypes.c_int
except Exception:
    _addr2line = _addr2loc = None


def none_if_minus_one(v):
    return None if v == -1 else v


def c_location(co, addr):
    vals = [ctypes.c_int() for _ in range(4)]
    _addr2loc(co, addr, *[ctypes.byref(v) for v in vals])
    line, col, end_line, end_col = [v.value for v in vals]
    return [none_if_minus_one(x) for x in (line, end_line, col, end_col)]


def hexlify(b):
    return binascii.hexlify(b).decode("ascii")


def table_of(co):
    return co.co_lnotab if FAMILY == "lnotab" else co.co_linetable


def describe(co, cover):
    """Everything the interpreter says about the positions of ``co``.

    ``cover`` is how many bytes of code the table describes: len(co_code)
    for compiled code, the table's own extent for synthetic tables."""
    d = {"name": co.co_name, "table": hexlify(table_of(co)),
         "first": co.co_firstlineno, "cover": cover}
    if FAMILY == "lnotab":
        import dis
        d["starts"] = [list(x) for x in dis.findlinestarts(co)]
    else:
        d["lines"] = [list(x) for x in co.co_lines()]
    if FAMILY == "311":
        d["positions"] = [list(x) for x in co.co_positions()]
    if _addr2line is not None:
        if FAMILY == "311":
            hi = cover // 2 if DEBUG else cover // 2 + 3
            d["c_line_units"] = [-1, hi]
            d["c_line"] = [none_if_minus_one(_addr2line(co, 2 * k)) for k in range(-1, hi)]
        else:
            hi = cover if DEBUG else cover + 4
            d["c_line_bytes"] = [-2, hi]
            d["c_line"] = [_addr2line(co, a) for a in range(-2, hi)]
            if FAMILY == "310":
                d["c_line"] = [none_if_minus_one(x) for x in d["c_line"]]
        if FAMILY == "311" and _addr2loc is not None:
            d["c_loc"] = [c_location(co, 2 * k) for k in range(-1, cover // 2)]
            if not DEBUG and cover:
                d["c_loc_past_end"] = [c_location(co, 2 * k)
                                       for k in (cover // 2, cover // 2 + 5)]
    return d


def walk(co, out):
    out.append(describe(co, len(co.co_code)))
    for const in co.co_consts:
        if isinstance(const, types.CodeType):
            walk(const, out)


def with_table(base, table, first, cover):
    """A code object carrying a synthetic table (never executed).

    Its co_code is NOPs a little longer than the table covers, so that every
    view (dis.findlinestarts stops at the end of co_code from 3.8) sees it all."""
    import dis
    code = bytes(bytearray([dis.opmap["NOP"], 0]) * (cover // 2 + 4))
    if FAMILY != "lnotab":
        return base.replace(co_code=code, co_linetable=table, co_firstlineno=first)
    if hasattr(base, "replace"):
        return base.replace(co_code=code, co_lnotab=table, co_firstlineno=first)
    args = [base.co_argcount]
    if V >= (3, 0):
        args.append(base.co_kwonlyargcount)
    args += [base.co_nlocals, base.co_stacksize, base.co_flags, code,
             base.co_consts, base.co_names, base.co_varnames, base.co_filename,
             base.co_name, first, table, base.co_freevars, base.co_cellvars]
    return types.CodeType(*args)


def main():
    request = json.loads(sys.stdin.read())
    result = {"version": list(sys.version_info[:3]), "family": FAMILY,
              "debug": DEBUG, "ctypes": _addr2line is not None,
              "codes": [], "skipped": 0}
    if request["mode"] == "corpus":
        for source in request["sources"]:
            try:
                co = compile(source, "<corpus>", "exec")
            except SyntaxError:
                result["skipped"] += 1
                continue
            walk(co, result["codes"])
    else:
        base = compile("pass", "<synthetic>", "exec")
        for table_hex, first, cover in request["tables"]:
            table = binascii.unhexlify(table_hex.encode("ascii"))
            co = with_table(base, table, first, cover)
            result["codes"].append(describe(co, cover))
    sys.stdout.write(json.dumps(result))


main()
'''


def _run_probe(argv: List[str], request: Dict[str, Any],
               extra: Tuple[str, ...] = ()) -> Dict[str, Any]:
    proc = subprocess.run(argv + list(extra) + ["-c", PROBE],
                          input=json.dumps(request), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


# ---------------------------------------------------------------------------
# The corpus: hand-written snippets for specific constructs, plus random
# programs with line gaps chosen around every encoding boundary (127/128 for
# signed deltas, 254/255/256 for byte-sized deltas, varint chunk sizes).
# Snippets a given version cannot parse are skipped by the probe.
# ---------------------------------------------------------------------------

_SNIPPETS = [
    # decorators, nested functions, lambdas, comprehensions, properties
    '''
import functools
def deco(f):
    @functools.wraps(f)
    def wrapper(*a, **k):
        return f(*a, **k)
    return wrapper

@deco
@deco
def decorated(x,
              y=lambda q: (q +
                           1),
              *args, **kwargs):
    def inner(z):
        return [w * 2 for w in range(z)
                if w % 3]
    g = (i for i in
         range(10))
    return inner(x) + list(g) + [y(x)]

class K(object):
    attr = [n for n in range(3)]
    @staticmethod
    def s(): return 1
    @property
    def p(self):
        return {k: v for k, v in
                zip("ab", "cd")}
''',
    # loops, try/except/else/finally, with
    '''
def f(path):
    total = 0
    for i in range(10):
        if i % 2:
            continue
        while total < 100:
            total += i
            if total > 50:
                break
        else:
            total -= 1
    try:
        with open(path) as fh:
            with open(path) as fh2:
                data = fh.read() + fh2.read()
    except (IOError, OSError) as e:
        data = str(e)
    except Exception:
        raise
    else:
        data += "x"
    finally:
        total += 1
    return data, total
''',
    # generators (2.7 and 3.x)
    '''
def gen(n):
    i = 0
    while i < n:
        x = yield i
        if x:
            i = x
        try:
            yield i * 2
        finally:
            i += 1
''',
    # a decorator far above its function, a for loop with a long body: both
    # make the line go backwards by several hundred lines
    "def deco(f): return f\n@deco\n" + "\n" * 300 + "def far(x):\n    for i in x:\n"
    + "".join("        y%d = i\n" % k + "\n" * 40 for k in range(10))
    + "    return y1\n",
    # a multi-line call whose arguments are far from the callee
    "result = callee(\n    first,\n" + "\n" * 300 + "    second,\n" + "\n" * 130
    + "    third)\n",
    # one long line with a lot of bytecode (address deltas > 255)
    "def longline(a, b):\n    x = (" + " + ".join("a * %d" % i for i in range(100))
    + ")\n    return x\n",
    # columns beyond 80, 127, 255 and multi-line expressions
    "x = (" + " " * 70 + "a + b)\ny = (" + " " * 130 + "a + b)\nz = (" + " " * 300
    + "a + b)\nw = f(a,\n      b)[\n  c]\n",
    "value = f(" + "aa, " * 80 + "bb)\n",
    # non-ASCII: columns are UTF-8 byte offsets
    'def uni():\n    s = u"h\u00e9llo w\u00f6rld \u20ac\u20ac" + g(x)\n    return s\n',
    "def \u00fcnicode(\u00e4):\n    return \u00e4 + \u00e4\u00e4(\u00e4)\n",
    # Python 3 only
    '''
import asyncio
async def coro(a, *, b=1):
    async with a as x:
        async for y in x:
            await asyncio.sleep(y)
    r = [z async for z in a]
    return f"{a!r:>{b}} {r}"

def walrus(xs):
    if (n := len(xs)) > 10:
        return [y for x in xs if (y := x * 2)]
    return n

def gen3():
    yield from range(3)
    nonlocal_user = 1
    def inner():
        nonlocal nonlocal_user
        nonlocal_user += 1
    return inner
''',
    '''
def matcher(cmd):
    match cmd:
        case [x, y, *rest]:
            return x
        case {"k": v, **kw}:
            return v
        case Point(x=0, y=yy) if yy > 3:
            return yy
        case str() | bytes():
            pass
        case _:
            return None
''',
    '''
def exc_groups():
    try:
        raise ExceptionGroup("g", [ValueError(1)])
    except* ValueError as e:
        handle(e)
    except* TypeError:
        pass
''',
    # a long function: many statements, EXTENDED_ARG, many entries
    "def longfunc(a):\n" + "".join("    a = a + %d\n" % i for i in range(150))
    + "    return a\n",
    # huge gaps: multi-chunk varints and long runs of split lnotab entries
    "def gaps():\n    a = 1\n" + "\n" * 40000 + "    b = 2\n" + "\n" * 70000
    + "    return a + b\n",
    # module-level code with classes and global statements
    '''
import os, sys
G = 1
class A(object):
    x = 1
    def m(self):
        global G
        G += 1
        return [i for i in range(G)
                for j in range(i)]
if G:
    A().m()
else:
    del G
assert G, "message"
for a in range(3): pass
''',
]

_GAPS = [0] * 30 + [1] * 6 + [2, 3, 5, 63, 64, 126, 127, 128, 129, 253, 254, 255, 256,
                               257, 300, 511, 600, 4100]
_PADS = [0] * 10 + [5, 70, 79, 80, 81, 120, 127, 128, 200, 255, 256, 300]


class _RandomProgram:
    """Random Python 2.7/3.x-compatible source with awkward line and column gaps.

    Nothing is ever run, so names need not be defined; the programs only have to
    compile everywhere, which rules out syntax newer than 2.7 and the few
    constructs 2.7 - 3.7 reject (``continue`` in ``finally``, ``return value`` in
    a generator)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: List[str] = []

    def gap(self) -> str:
        return "\n" * self.rng.choice(_GAPS)

    def expr(self, depth: int) -> str:
        rng = self.rng
        kind = rng.randrange(9) if depth < 3 else rng.randrange(3)
        if kind == 0:
            return rng.choice(["a", "b", "c", "self", "x1"])
        if kind == 1:
            return str(rng.randrange(1000))
        if kind == 2:
            return '"%s"' % rng.choice(["s", "long string " * 3, ""])
        if kind == 3:
            args = [self.expr(depth + 1) for _ in range(rng.randrange(4))]
            return "%s(%s)" % (self.expr(depth + 1), ("," + self.gap()).join(args))
        if kind == 4:
            op = rng.choice(["+", "-", "*", "and", "or", "<", "==", "%"])
            return "(%s %s%s %s)" % (self.expr(depth + 1), op, self.gap(),
                                     self.expr(depth + 1))
        if kind == 5:
            return "(lambda q: q +%s %s)" % (self.gap(), self.expr(depth + 1))
        if kind == 6:
            return "[v for v in%s %s if v]" % (self.gap(), self.expr(depth + 1))
        if kind == 7:
            return "(%s%s).attr[%s]" % (" " * rng.choice(_PADS), self.expr(depth + 1),
                                         self.expr(depth + 1))
        return "{%s: %s}" % (self.expr(depth + 1), self.expr(depth + 1))

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)
        extra = self.gap()
        if extra:
            self.lines.append(extra[:-1])

    def block(self, indent: int, depth: int, ctx: Dict[str, bool]) -> None:
        for _ in range(self.rng.randrange(1, 4)):
            self.stmt(indent, depth, ctx)

    def stmt(self, indent: int, depth: int, ctx: Dict[str, bool]) -> None:
        rng = self.rng
        kinds = ["assign", "aug", "call", "assert", "raise"]
        if depth < 3:
            kinds += ["if", "for", "while", "try", "with", "def", "class"]
        if ctx.get("func"):
            kinds.append("return")
        if ctx.get("loop") and not ctx.get("finally"):
            kinds += ["break", "continue"]
        kind = rng.choice(kinds)
        sub = dict(ctx)
        if kind == "assign":
            self.emit(indent, "%s = %s" % (rng.choice(["a", "b", "x1", "self.z"]),
                                           self.expr(0)))
        elif kind == "aug":
            self.emit(indent, "a += %s" % self.expr(0))
        elif kind == "call":
            self.emit(indent, "%s(%s)" % (self.expr(1), self.expr(1)))
        elif kind == "assert":
            self.emit(indent, "assert %s, %s" % (self.expr(1), self.expr(1)))
        elif kind == "raise":
            self.emit(indent, "raise E(%s)" % self.expr(1))
        elif kind == "return":
            self.emit(indent, "return %s" % self.expr(0))
        elif kind in ("break", "continue"):
            self.emit(indent, kind)
        elif kind == "if":
            self.emit(indent, "if %s:" % self.expr(0))
            self.block(indent + 1, depth + 1, sub)
            if rng.random() < 0.5:
                self.emit(indent, "elif %s:" % self.expr(1))
                self.block(indent + 1, depth + 1, sub)
            if rng.random() < 0.5:
                self.emit(indent, "else:")
                self.block(indent + 1, depth + 1, sub)
        elif kind in ("for", "while"):
            head = "for x1 in %s:" if kind == "for" else "while %s:"
            self.emit(indent, head % self.expr(0))
            sub["loop"], sub["finally"] = True, False
            self.block(indent + 1, depth + 1, sub)
            if rng.random() < 0.3:
                self.emit(indent, "else:")
                self.block(indent + 1, depth + 1, ctx)
        elif kind == "try":
            self.emit(indent, "try:")
            self.block(indent + 1, depth + 1, sub)
            self.emit(indent, "except (E, F) as e:")
            self.block(indent + 1, depth + 1, sub)
            if rng.random() < 0.5:
                self.emit(indent, "except:")
                self.block(indent + 1, depth + 1, sub)
            if rng.random() < 0.6:
                self.emit(indent, "finally:")
                fin = dict(sub)
                fin["finally"] = True
                self.block(indent + 1, depth + 1, fin)
        elif kind == "with":
            self.emit(indent, "with %s as w:" % self.expr(1))
            self.block(indent + 1, depth + 1, sub)
        elif kind == "def":
            if rng.random() < 0.4:
                # 2.7 - 3.8 only accept a dotted name, optionally called
                self.emit(indent, "@dec.attr(%s)" % self.expr(2))
            self.emit(indent, "def fn%d(a, b=%s, *args, **kw):" % (rng.randrange(99),
                                                                 self.expr(2)))
            self.block(indent + 1, depth + 1, {"func": True})
        elif kind == "class":
            self.emit(indent, "class C%d(object):" % rng.randrange(99))
            self.emit(indent + 1, "attr = %s" % self.expr(1))
            self.block(indent + 1, depth + 1, {})

    def module(self) -> str:
        for _ in range(self.rng.randrange(2, 4)):
            self.stmt(0, 0, {})
        return "\n".join(self.lines) + "\n"


def corpus() -> List[str]:
    rng = random.Random(20240611)
    return list(_SNIPPETS) + [_RandomProgram(rng).module() for _ in range(40)]


# ---------------------------------------------------------------------------
# Synthetic well-formed tables, to reach encodings the compiler rarely writes.
# ---------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 64:
        out.append(64 | (value & 63))
        value >>= 6
    out.append(value)
    return bytes(out)


def _svarint(value: int) -> bytes:
    return _varint((-value << 1) | 1 if value < 0 else value << 1)


def _random_311_table(rng: random.Random, first: int) -> Tuple[bytes, int]:
    """A valid 3.11+ location table and the number of code units it covers.

    Lines stay positive, as compiled code's do: CPython itself cannot report a
    line of -1 (it is its "no line" value) and ``co_lines()`` hides any negative
    line, so a negative line could not be compared."""
    out = bytearray()
    units = 0
    line = first
    for _ in range(rng.randrange(0, 40)):
        length = rng.randrange(1, 9)
        units += length
        head = 0x80 | (length - 1)
        kind = rng.randrange(5)
        big = rng.random() < 0.2
        delta = rng.randrange(-100000, 100000) if big else rng.randrange(-300, 300)
        delta = max(delta, 1 - line)
        if kind == 0:  # short form
            code = rng.randrange(10)
            out += bytes([head | code << 3, rng.randrange(128)])
        elif kind == 1:  # one-line form
            code = rng.randrange(10, 13)
            line += code - 10
            out += bytes([head | code << 3, rng.randrange(128), rng.randrange(128)])
        elif kind == 2:  # no columns
            line += delta
            out += bytes([head | 13 << 3]) + _svarint(delta)
        elif kind == 3:  # long form
            line += delta
            out += (bytes([head | 14 << 3]) + _svarint(delta)
                    + _varint(rng.randrange(5000) if big else rng.randrange(5))
                    + _varint(rng.choice([0, 1, rng.randrange(5000)]))
                    + _varint(rng.choice([0, 1, rng.randrange(5000)])))
        else:  # no location
            out += bytes([head | 15 << 3])
    return bytes(out), units


def _random_310_table(rng: random.Random, first: int) -> Tuple[bytes, int]:
    """A 3.10 table CPython can walk safely (it must not end in a zero-length
    pair: 3.10 skips those without checking for the end of the table).  Lines
    stay positive, as compiled code's do (``co_lines()`` hides negative ones)."""
    out = bytearray()
    line = first
    for _ in range(rng.randrange(0, 30)):
        bdelta = rng.choice([0, 0, 2, 4, 6, 254, rng.randrange(256)])
        ldelta = rng.choice([0x80, rng.randrange(256), 127, 129, 1, 0])
        if ldelta != 0x80:
            signed = ldelta - 256 if ldelta > 0x80 else ldelta
            if line + signed < 1:
                ldelta = signed = rng.randrange(128)
            line += signed
        out += bytes([bdelta, ldelta])
    if out and out[-2] == 0:
        out[-2] = 2
    if rng.random() < 0.1:  # an unpaired final byte (CPython reads a NUL after it)
        out.append(rng.randrange(1, 256))
    return bytes(out), sum(out[0::2])


def _random_lnotab(rng: random.Random, first: int) -> Tuple[bytes, int]:
    """Any bytes are a walkable lnotab (every view reports raw line numbers)."""
    data = bytes(rng.choice([0, 1, 2, 127, 128, 255, rng.randrange(256)])
                 for _ in range(rng.randrange(0, 50)))
    return data, sum(data[0::2])


def synthetic_tables(family: str) -> List[Tuple[str, int, int]]:
    """(hex table, firstlineno, bytes of code covered) for the probe."""
    rng = random.Random({"311": 311, "310": 310, "lnotab": 27}[family])
    make = {"311": _random_311_table, "310": _random_310_table,
            "lnotab": _random_lnotab}[family]
    tables = []
    for _ in range(400):
        first = rng.choice([1, 2, 100, 1000, 123456])
        table, cover = make(rng, first)
        if family == "311":
            cover *= 2
        tables.append((binascii.hexlify(table).decode("ascii"), first, cover))
    return tables


# ---------------------------------------------------------------------------
# Running the probes (once per interpreter and request, shared by the tests)
# ---------------------------------------------------------------------------

_CACHE: Dict[Tuple[str, str], Dict[str, Any]] = {}


def _available(exe_path: str, argv: List[str]) -> bool:
    if not os.path.exists(exe_path):
        return False
    try:
        proc = subprocess.run(argv + ["-c", "pass"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _family_of(argv: List[str]) -> str:
    out = subprocess.run(argv + ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, timeout=60).stdout.split()
    major, minor = map(int, out[0].split("."))
    if (major, minor) < (3, 10):
        return "lnotab"
    return "310" if (major, minor) == (3, 10) else "311"


def probe(interp: Tuple[str, List[str], str], what: str) -> Dict[str, Any]:
    """Probe output for ``what`` in {"corpus", "nodebugranges", "tables"}."""
    name, argv, exe_path = interp
    key = (name, what)
    if key not in _CACHE:
        if not _available(exe_path, argv):
            pytest.skip("%s is not installed" % name)
        if what == "corpus":
            _CACHE[key] = _run_probe(argv, {"mode": "corpus", "sources": corpus()})
        elif what == "nodebugranges":
            if _family_of(argv) != "311":
                pytest.skip("-X no_debug_ranges exists from 3.11")
            # Only the encoding of positions changes: a part of the corpus will do.
            sources = corpus()[:len(_SNIPPETS) + 15]
            _CACHE[key] = _run_probe(argv, {"mode": "corpus", "sources": sources},
                                     ("-X", "no_debug_ranges"))
        else:
            family = _family_of(argv)
            _CACHE[key] = _run_probe(argv, {"mode": "tables",
                                            "tables": synthetic_tables(family)})
    return _CACHE[key]


# ---------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------


def _expected_from_starts(starts: List[List[int]], first: int, offset: int) -> int:
    line = first
    for addr, start_line in starts:
        if addr > offset:
            break
        line = start_line
    return line


def compare_code(result: Dict[str, Any], code: Dict[str, Any]) -> List[str]:
    """Every disagreement between our decoders and the interpreter on one code object.

    Each address is decoded once and the answer checked against every view the
    interpreter gave of it (the decoders are O(table) per call, so decoding per
    view would make big code objects quadratic several times over)."""
    family = result["family"]
    table = binascii.unhexlify(code["table"])
    first = code["first"]
    errors: List[str] = []

    def check(what: str, addr: int, ours: Any, theirs: Any) -> None:
        if ours != theirs and len(errors) < 5:
            errors.append("%s %s@%s table=%s first=%d: ours %r, CPython %r" % (
                code["name"], what, addr, code["table"][:120], first, ours, theirs))

    if family == "lnotab":
        signed = tuple(result["version"][:2]) >= (3, 6)
        lo = -2
        hi = max(code["cover"], code["c_line_bytes"][1] if "c_line" in code else 0)
        ours = {off: lnotab_line(table, first, off, signed) for off in range(lo, hi)}
        starts = code["starts"]
        for off in range(code["cover"]):
            check("findlinestarts", off, ours[off], _expected_from_starts(starts, first, off))
        if "c_line" in code:
            lo = code["c_line_bytes"][0]
            for i, theirs in enumerate(code["c_line"]):
                check("PyCode_Addr2Line", lo + i, ours[lo + i], theirs)
    elif family == "310":
        lo = -2
        hi = max(code["cover"], code["c_line_bytes"][1] if "c_line" in code else 0,
                 max([end for _s, end, _l in code["lines"]] or [0]))
        ours = {off: linetable310_line(table, first, off) for off in range(lo, hi)}
        for start, end, line in code["lines"]:
            for off in range(start, end):
                check("co_lines", off, ours[off], line)
        if "c_line" in code:
            lo = code["c_line_bytes"][0]
            for i, theirs in enumerate(code["c_line"]):
                check("PyCode_Addr2Line", lo + i, ours[lo + i], theirs)
    else:
        units = code["cover"] // 2
        hi = max(units + 1, len(code["positions"]),
                 code["c_line_units"][1] if "c_line" in code else 0)
        ours = {k: location311(table, first, k) for k in range(-1, hi)}
        for k, pos in enumerate(code["positions"]):
            check("co_positions", k, ours[k], tuple(pos))
        for start, end, line in code["lines"]:
            for off in range(start, end, 2):
                check("co_lines", off // 2, ours[off // 2].lineno, line)
        if "c_line" in code:
            lo = code["c_line_units"][0]
            for i, theirs in enumerate(code["c_line"]):
                check("PyCode_Addr2Line", lo + i, ours[lo + i].lineno, theirs)
        if "c_loc" in code:
            for i, theirs in enumerate(code["c_loc"]):
                check("PyCode_Addr2Location", i - 1, ours[i - 1], tuple(theirs))
        if "c_loc_past_end" in code:
            # Documented divergence: past the end, Addr2Location re-decodes the
            # last entry while Addr2Line (and we) report "no line".  Pin both
            # halves so a change in CPython is noticed.
            for theirs in code["c_loc_past_end"]:
                check("Addr2Location past end", units, ours[units - 1], tuple(theirs))
            check("ours past end", units, ours[units], Location(None, None, None, None))
    return errors


def _assert_all_match(result: Dict[str, Any]) -> None:
    assert result["codes"], "the probe reported no code objects"
    errors: List[str] = []
    for code in result["codes"]:
        errors += compare_code(result, code)
    assert not errors, "\n".join(errors[:20])


IDS = [name for name, _argv, _exe in INTERPRETERS]


@pytest.mark.parametrize("interp", INTERPRETERS, ids=IDS)
def test_corpus_matches_interpreter(interp: Tuple[str, List[str], str]) -> None:
    result = probe(interp, "corpus")
    assert result["ctypes"], "ctypes unavailable: the C API could not be checked"
    # Everything 2.7 can parse is the bulk of the corpus; later versions parse more.
    assert result["skipped"] <= 4
    _assert_all_match(result)


def _minor(name: str) -> Tuple[int, int]:
    """(3, 14) of "3.14.10" or "sid-3.14d"."""
    digits = re.match(r"(?:sid-)?(\d+)\.(\d+)", name)
    return (int(digits.group(1)), int(digits.group(2))) if digits else (0, 0)


WITH_DEBUG_RANGES = [i for i in INTERPRETERS if _minor(i[0]) >= (3, 11)]


@pytest.mark.parametrize("interp", WITH_DEBUG_RANGES, ids=[i[0] for i in WITH_DEBUG_RANGES])
def test_corpus_without_debug_ranges_matches_interpreter(
        interp: Tuple[str, List[str], str]) -> None:
    """``-X no_debug_ranges`` makes 3.11+ write column-less (code 13) entries."""
    result = probe(interp, "nodebugranges")
    _assert_all_match(result)
    codes = _codes_311(result)
    assert codes.get(13) and not any(codes.get(c) for c in range(13)), codes


@pytest.mark.parametrize("interp", INTERPRETERS, ids=IDS)
def test_synthetic_tables_match_interpreter(interp: Tuple[str, List[str], str]) -> None:
    """Random well-formed tables reach every encoding, whatever the compiler emits."""
    _assert_all_match(probe(interp, "tables"))


# ---------------------------------------------------------------------------
# The corpus must actually exercise the hard cases, or the tests above prove
# little.  Stats are taken from the tables the interpreter produced.
# ---------------------------------------------------------------------------


def _pairs(result: Dict[str, Any]) -> List[Tuple[int, int]]:
    pairs = []
    for code in result["codes"]:
        table = binascii.unhexlify(code["table"])
        pairs += list(zip(table[0::2], table[1::2]))
    return pairs


def _codes_311(result: Dict[str, Any]) -> Dict[int, int]:
    counts: Dict[int, int] = {}
    for code in result["codes"]:
        for byte in binascii.unhexlify(code["table"]):
            if byte & 0x80:
                counts[(byte >> 3) & 15] = counts.get((byte >> 3) & 15, 0) + 1
    return counts


@pytest.mark.parametrize("interp", INTERPRETERS, ids=IDS)
def test_corpus_covers_hard_cases(interp: Tuple[str, List[str], str]) -> None:
    _check_hard_cases(probe(interp, "corpus"))


def _check_hard_cases(result: Dict[str, Any]) -> None:
    family = result["family"]
    version = tuple(result["version"][:2])
    if family == "lnotab":
        pairs = _pairs(result)
        assert any(a == 255 for a, _ in pairs), "no address delta split"
        assert any(a == 0 and l for a, l in pairs), "no line delta split"
        if version >= (3, 8):
            # 3.6 and 3.7 read signed deltas but their compiler never writes a
            # negative one; the synthetic tables cover those versions' reading.
            assert any(l >= 0x80 for _, l in pairs), "no negative line delta"
            assert any(l == 0x80 or l == 0x81 for _, l in pairs), "no big negative delta"
        elif version < (3, 0):
            assert any(l == 255 for _, l in pairs), "no 255-line split"
    elif family == "310":
        pairs = _pairs(result)
        assert any(l == 0x80 for _, l in pairs), "no 'no line' entry"
        assert any(0x80 < l for _, l in pairs), "no negative line delta"
        assert any(a == 0 for a, _ in pairs), "no line delta split"
        assert any(a == 254 for a, _ in pairs), "no address delta split"
    else:
        codes = _codes_311(result)
        missing = [c for c in range(16) if c != 13 and not codes.get(c)]
        assert not missing, "location codes never produced: %s" % missing
        columns = [p[2] for code in result["codes"] for p in code["positions"]
                   if p[2] is not None]
        assert max(columns) > 255


# ---------------------------------------------------------------------------
# Hand-checked examples (the formats' corner cases, spelled out)
# ---------------------------------------------------------------------------


def test_lnotab_examples() -> None:
    table = bytes([6, 1, 4, 2])
    assert [lnotab_line(table, 10, off) for off in range(-1, 13)] == \
        [10] * 7 + [11] * 4 + [13] * 3
    assert lnotab_line(b"", 7, 0) == 7
    assert lnotab_line(b"", 7, 1000) == 7
    # a leading zero-address pair applies at offset 0 but not before it
    assert lnotab_line(bytes([0, 5]), 1, 0) == 6
    assert lnotab_line(bytes([0, 5]), 1, -1) == 1
    # signed from 3.6, unsigned in 2.7
    assert lnotab_line(bytes([2, 0xFF]), 100, 2) == 99
    assert lnotab_line(bytes([2, 0xFF]), 100, 2, signed=False) == 355
    # an unpaired trailing byte is ignored
    assert lnotab_line(bytes([2, 1, 0]), 1, 50) == 2


def test_linetable310_examples() -> None:
    table = bytes([4, 0x80, 4, 1, 2, 0xFE])
    assert [linetable310_line(table, 10, off) for off in range(-2, 12)] == \
        [10, 10] + [None] * 4 + [11] * 4 + [9, 9] + [None, None]
    assert linetable310_line(b"", 5, 0) is None
    assert linetable310_line(b"", 5, -1) == 5
    # big line delta split over zero-length pairs
    assert linetable310_line(bytes([0, 127, 2, 3]), 1, 0) == 131
    assert linetable310_line(bytes([0, 127, 2, 3]), 1, 2) is None
    # an unpaired trailing byte counts with a line delta of 0
    assert linetable310_line(bytes([4, 1, 4]), 1, 6) == 2


def test_location311_examples() -> None:
    short = bytes([0x80 | 2 << 3 | 2, 0x35])  # 3 units, columns 19..24
    one_line = bytes([0x80 | 11 << 3, 7, 20])  # 1 unit, next line, columns 7..20
    no_columns = bytes([0x80 | 13 << 3 | 1]) + _svarint(-3)  # 2 units, 3 lines up
    # long form: 200 lines down (svarint 400 = 0x50 0x06), two lines long, cols 4..9
    long_form = bytes([0x80 | 14 << 3, 0x50, 0x06, 0x02, 0x05, 0x0A])
    nothing = bytes([0x80 | 15 << 3 | 7])  # 8 units without a location
    table = short + one_line + no_columns + long_form + nothing + short
    assert _varint(200) == bytes([0x48, 0x03])  # the example in locations.md
    got = [location311(table, 50, k) for k in range(-1, 19)]
    assert got == [
        Location(50, 50, 0, 0),
        *[Location(50, 50, 19, 24)] * 3,
        Location(51, 51, 7, 20),
        *[Location(48, 48, None, None)] * 2,
        Location(248, 250, 4, 9),
        *[Location(None, None, None, None)] * 8,
        *[Location(248, 248, 19, 24)] * 3,
        Location(None, None, None, None),
    ]
    assert location311(b"", 3, 0) == Location(None, None, None, None)
    assert location311(b"", 3, -5) == Location(3, 3, 0, 0)
    # column 0 stored as varint 1; 0 means "unknown"
    unknown = bytes([0x80 | 14 << 3, 0x00, 0x00, 0x00, 0x01])
    assert location311(unknown, 1, 0) == Location(1, 1, None, 0)


def test_location311_truncated_entries() -> None:
    """A table cut short mid-entry gives what is known, never an exception."""
    assert location311(bytes([0x80]), 5, 0) == Location(5, 5, None, None)
    assert location311(bytes([0x80 | 10 << 3, 3]), 5, 0) == Location(5, 5, 3, None)
    assert location311(bytes([0x80 | 13 << 3]), 5, 0) == Location(None, None, None, None)
    assert location311(bytes([0x80 | 14 << 3, 0x04]), 5, 0) == Location(7, None, None, None)
    # an unterminated varint in a skipped entry still lets later lookups run
    assert location311(bytes([0x80 | 13 << 3, 0x7F]), 5, 1) == \
        Location(None, None, None, None)


# ---------------------------------------------------------------------------
# Garbage in: never raise, never hang
# ---------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=3000), st.integers(-(2 ** 31), 2 ** 31),
       st.integers(-5, 4000), st.booleans())
def test_random_bytes_never_raise(table: bytes, first: int, addr: int, signed: bool) -> None:
    line = lnotab_line(table, first, addr, signed)
    assert isinstance(line, int)
    line310 = linetable310_line(table, first, addr)
    assert line310 is None or isinstance(line310, int)
    loc = location311(table, first, addr)
    assert isinstance(loc, Location)
    assert all(v is None or isinstance(v, int) for v in loc)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(0, 400))
def test_repeated_patterns_never_raise(unit: bytes, addr: int) -> None:
    """Repetitive garbage (what a torn read of a freed buffer looks like)."""
    table = unit * (4000 // len(unit) + 1)
    lnotab_line(table, 1, addr)
    linetable310_line(table, 1, addr)
    location311(table, 1, addr)


@pytest.mark.parametrize("table", [
    b"\xe8" + b"\x7f" * 200000,  # one endless varint
    b"\xe8\x7f\x7f" * 70000,  # endless varints crossing entry headers
    b"\xf0" + b"\x40" * 200000,
    b"\x00" * 200000,
    b"\xff" * 200000,
    bytes(range(256)) * 800,
], ids=["long-varint", "header-crossing", "long-form", "zeros", "ones", "ramp"])
def test_pathological_tables_are_linear(table: bytes) -> None:
    """Big corrupted tables must still be decoded in time linear in their size."""
    start = time.perf_counter()
    for addr in (0, 1, 10 ** 9):
        lnotab_line(table, 1, addr)
        linetable310_line(table, 1, addr)
        location311(table, 1, addr)
    assert_quick(time.perf_counter() - start, 400, "decoding corrupted tables")  # 5 s idle


# ---------------------------------------------------------------------------
# Replayed: what pyenv's 2.7 and 3.6-3.10 said (scripts/record_linetables.py), so
# those decoders are held to real interpreters on a machine without them too.
# ---------------------------------------------------------------------------

RECORDED_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                             "recorded-linetables.json.gz")


def _recorded() -> Dict[str, Any]:
    with gzip.open(RECORDED_PATH, "rt") as f:
        return json.load(f)


RECORDED = _recorded()


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_answers_of_real_interpreters(name: str) -> None:
    _assert_all_match(RECORDED[name]["corpus"])
    _assert_all_match(RECORDED[name]["tables"])
    _check_hard_cases(RECORDED[name]["corpus"])



def test_one_line_forms_cut_short_know_what_they_hold() -> None:
    """A 3.11+ one-line entry (codes 10-12) at the very end of a cut table: the
    columns that are missing are unknown, never read past the end."""
    for code, added in ((10, 0), (11, 1), (12, 2)):
        header = bytes([0x80 | (code << 3)])
        assert location311(header, 5, 0) == Location(5 + added, 5 + added, None, None)
        assert location311(header + b"\x03", 5, 0) == Location(5 + added, 5 + added, 3, None)
        assert location311(header + b"\x03\x09", 5, 0) == Location(5 + added, 5 + added, 3, 9)
