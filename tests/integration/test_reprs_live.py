"""`reprs.render` against the target's own `repr()`, on every provisioned interpreter.

Each target builds a zoo of values (every builtin type, nested, huge, cyclic,
non-ASCII, subclasses of builtins, empty containers, awkward floats), reports
`repr()` of each with its `id()` as one JSON line, then sleeps. We attach, render every
value with an unlimited budget (must equal the repr) and with the default budget (must
be short, and the repr cut visibly: a prefix of it, then `...`, then closers).
"""
from __future__ import annotations

import json
import os
import re
from typing import Optional
import select
import shutil
import subprocess
import tempfile
import time

import pytest

from timing import assert_quick
from conftest import INTERPRETERS
from pystack.cpython.locate import locate
from pystack.cpython.memory import Memory
from pystack.cpython.objects import Objects
from pystack.cpython.reprs import DEFAULT_MAX_LEN, render
from pystack.target.live import LiveProcess

# Runs under 2.7 and 3.6+: no f-strings, u'' and b'' literals only.
ZOO = r'''
import collections, json, os, sys, time

PY2 = sys.version_info[0] == 2
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)
TRUNCATE = 4000
ZOO = []          # keeps every value alive
REPORT = []


def add(label, value, check="exact", expected=None):
    ZOO.append(value)
    if expected is None:
        expected = repr(value)
    truncated = len(expected) > 2000000
    if check == "prefix":
        truncated = True
    if truncated:
        expected = expected[:TRUNCATE]
    REPORT.append([label, id(value), expected, check, truncated])


def digits_marker(v):
    word = "long" if PY2 and isinstance(v, long) else "int"
    sign = "negative " if v < 0 else ""
    return "<%s%s with %d digits>" % (sign, word, len(str(abs(v))))


# -- scalars
for v in [None, True, False, Ellipsis, NotImplemented]:
    add(repr(v), v)
ints = [0, 1, -1, 7, 255, -(2 ** 30), 2 ** 30 - 1, 2 ** 30, 2 ** 60, 2 ** 63, -2 ** 63,
        2 ** 64, 2 ** 100, -2 ** 100, 10 ** 50, 10 ** 4299, -(10 ** 4299), 10 ** 4299 - 1]
if PY2:
    ints += [sys.maxint, -sys.maxint - 1, long(5), long(0), -long(3), long(2) ** 40]
for v in ints:
    add("int %d digits" % len(str(v)), v)
for v in [10 ** 4300, -7 ** 9000, 2 ** 200000, 10 ** 20000]:
    add("big int", v, "exact", digits_marker(v))
add("big int in list", [10 ** 5000, 1], "exact", "[%s, 1]" % digits_marker(10 ** 5000))
inf = float("inf")
nan = float("nan")
for v in [0.0, -0.0, 0.1, 1 / 3.0, 1e100, -1e-300, 5e-324, 1.7976931348623157e308, inf,
          -inf, nan, 123456789.0, 1e16, 1e22, 2.5, 1e-7]:
    add("float", v)
for v in [1j, complex(1, 2), complex(-0.0, 0.0), complex(0.0, -0.0), complex(inf, nan),
          complex(1.5, -2.5), complex(0, 0), complex(-1e100, 1e-100)]:
    add("complex", v)

# -- text
texts = [u"", u"a", u"it's", u'say "hi"', u"both ' and \"", u"tab\tnew\nline\r",
         u"\x00\x1f\x7f", u"back\\slash", u"h\xe9llo w\xf6rld", u"\xa0\xad\x85",
         u"\u65e5\u672c\u8a9e", u"\u2028\u200b\ufeff", u"\U0001f600 emoji", u"\ud800",
         u"\U0010ffff", u"x" * 1000, u"\xe9" * 500, u"\u1234" * 300,
         u"x" * 200 + u"'", u"\U0001f600" * 100, u"q" * 50 + u"\n" * 50]
for v in texts:
    add("text", v)
for v in ["abc", "it's", "a\tb"]:
    add("native str", v)
for v in [b"", b"\x00ab", b"\xff\xfe", b"it's", b'q"', b"both ' and \"", b"y" * 1000,
          bytes(bytearray(range(256)))]:
    add("bytes", v)
shifted = bytearray(b"0123456789")
del shifted[:3]
for v in [bytearray(), bytearray(b"abc\x00"), bytearray(b"it's"), bytearray(b'q"'),
          bytearray(b"both ' and \""), bytearray(b"y" * 500), shifted]:
    add("bytearray", v)

# -- containers
for v in [[], [1], [1, 2.0, u"x", None], [[[]]], [3.0], [(1,)], list(range(1000)),
          (), (1,), (1, 2), ((),), ((1,),), tuple(range(100)),
          (u"a", [b"b"], {1: 2}), [True, False, -0.0, 1j, u"\xe9"]]:
    add("sequence", v)
deleted = dict((i, i) for i in range(100))
for i in range(90):
    del deleted[i]
for v in [{}, {1: 2}, {u"a": [1, {u"b": (2,)}]}, {(1, 2): frozenset([3])}, deleted,
          dict((i, -i) for i in range(30000)), {u"\xe9": 1, u"\U0001f600": 2},
          {1.5: None, None: True}, dict.fromkeys(u"abcdef")]:
    add("dict", v)


class P(object):
    def __init__(self):
        self.a = 1
        self.b = u"two"
        self.c = [3]


class Q(object):
    pass


p1 = P()
p2 = P()
del p2.b
q1 = Q()
q1.x = 1
q1.y = 2
q2 = Q()
q2.y = 3
q2.x = 4
for v in [p1.__dict__, p2.__dict__, q1.__dict__, q2.__dict__]:
    add("instance dict", v)
holes = set(range(20))
for i in range(15):
    holes.discard(i)
for v in [set(), set([1]), set([1, 2, 3]), frozenset(), frozenset([1, 2]),
          set([u"a", u"b", (1, 2)]), holes, set(range(30000)), set([frozenset([1])]),
          [set(), frozenset([5])]]:
    add("set", v)


# -- subclasses of builtins print their builtin value (sets name themselves)
class MyInt(int):
    pass


class MyInt2(MyInt):
    pass


class MyFloat(float):
    pass


class MyComplex(complex):
    pass


class MyText(type(u"")):
    pass


class MyBytes(bytes):
    pass


class MyList(list):
    pass


class MyTuple(tuple):
    pass


class MyDict(dict):
    pass


class MySet(set):
    pass


class MyFrozen(frozenset):
    pass


class MyBA(bytearray):
    pass


class Loud(dict):
    def __repr__(self):
        return "loud"


subs = [MyInt(5), MyInt(-2 ** 60 if PY2 else -2 ** 100), MyInt(0), MyInt2(7), MyFloat(2.5),
        MyComplex(1 + 1j),
        MyText(u"sub \xe9"), MyBytes(b"sub"), MyList([1, 2]), MyTuple((1,)),
        MyDict(a=1), MySet([1]), MySet(), MyFrozen([2]), MyBA(b"x"),
        [MyInt(3), MyList([MyFloat(1.0)])]]
if PY2:
    class MyLong(long):
        pass
    subs += [MyLong(5)]
for v in subs:
    add("subclass " + type(v).__name__, v)
Point = collections.namedtuple("Point", "x y")
add("namedtuple", Point(1, 2), "exact", Point(1, 2).__repr__() if not PY2
    else tuple.__repr__(Point(1, 2)))
add("dict overriding __repr__", Loud(z=1), "exact", dict.__repr__(Loud(z=1)))

# -- cycles and depth
l = [1]
l.append(l)
d = {}
d[u"self"] = d
t = ([],)
t[0].append(t)
a = []
b = [a]
a.append(b)
m = {u"k": []}
m[u"k"].append(m)
for v in [l, d, t, a, m]:
    add("cycle", v)
deep = []
for i in range(150):
    deep = [deep]
add("deep", deep, "prefix")

# -- huge values: only the default budget is checked, against the start of the repr
add("huge list", [0] * 10 ** 7, "prefix", repr([0] * 1000))
add("huge str", u"z" * 10 ** 7, "prefix", repr(u"z" * 1000))


# -- everything else
class Foo(object):
    pass


def function():
    pass


for v in [object(), Foo(), function, iter([])]:
    add("generic", v, "exact", repr(v))


# -- what names things: classes, modules, methods, library types (issue 17)
class Outer(object):
    class Inner(object):
        def method(self):
            pass


def outer():
    def inner():
        pass
    return inner


import json as json_module, types, zlib, select
add("module", sys)
add("module", os)
add("module", json_module)
add("module", types.ModuleType("made_here"))
for frozen in ("_frozen_importlib", "zipimport"):
    if frozen in sys.modules:
        add("module", sys.modules[frozen])
for v in [int, Foo, Outer.Inner, type(zlib.compressobj()), collections.OrderedDict]:
    add("type", v)
if not PY2:
    long_named = type("Long", (object,), {})
    long_named.__qualname__ = u"Q" * 400  # printed whole, however long
    add("type", long_named)
add("instance of a nested class", Outer.Inner())
add("C type with a dotted name", zlib.compressobj())
if hasattr(select, "epoll"):
    add("C type with a dotted name", select.epoll())
add("bound method", Outer.Inner().method)
add("nested function", outer())
add("defaultdict", collections.defaultdict(list, {u"a": [1]}))
add("defaultdict", collections.defaultdict(None))
if not PY2:
    import enum
    from fractions import Fraction

    class Color(enum.Enum):
        RED = 1
        BLUE = u"b"

    class Num(enum.IntEnum):
        ONE = 1

    class Perm(enum.IntFlag):
        R = 4
        W = 2

    add("enum", Color.RED)
    add("enum", Color.BLUE)
    add("enum", Num.ONE)
    add("enum", Perm.R)
    add("enum in a list", [Color.RED, Num.ONE])

    class Own(enum.Enum):
        A = 1

        def __repr__(self):
            return "own"

    # a class with a __repr__ of its own: what it prints is not ours to know
    add("enum with its own repr", Own.A, "generic", "Own")
    both = Perm.R | Perm.W
    if sys.version_info >= (3, 11):
        add("Flag combination", both)
    else:  # its name is computed by its __repr__: an int subclass's value, then
        add("Flag combination", both, "exact", "6")
    import pathlib
    add("Windows path", pathlib.PureWindowsPath(u"c:/x"), "generic", "PureWindowsPath")

    class Holder(object):
        class Inner(enum.Enum):
            X = (1, u"x")

    add("nested enum", Holder.Inner.X)
    for v in [range(10), range(1, 10, 3), range(-5, 0), slice(1, 2), slice(None, 5, -1),
              memoryview(b"abc")]:
        add("range slice memoryview", v)
    add("range slice memoryview", range(1, 10, 2 ** 60))
    if sys.version_info >= (3, 7):  # (3.6 allows at most 255 arguments)
        wide = collections.namedtuple("Wide", [u"f%d" % i for i in range(300)])
        add("namedtuple", wide(*range(300)))
    od = collections.OrderedDict([(u"a", 1), (u"b", 2), (u"c", [3])])
    od.move_to_end(u"a")
    for v in [od, collections.OrderedDict(), collections.Counter(u"abracadabra"),
              collections.Counter(), collections.Counter({u"x": 1.5, u"y": 2}),
              collections.deque([1, 2, 3]), collections.deque(range(200), maxlen=150),
              collections.deque(), collections.deque([u"x"], maxlen=0)]:
        add("collections", v)
    add("deque in a dict", {u"q": collections.deque([1])})
    import uuid
    for v in [Fraction(1, 3), Fraction(-7, 2), Fraction(10 ** 30, 7),
              uuid.UUID("12345678-1234-5678-1234-567812345678"), uuid.UUID(int=0),
              uuid.UUID("deadbeef-cafe-f00d-abcd-0123456789ef")]:
        add("slots", v)
import datetime
dates = [datetime.date(2024, 2, 29), datetime.datetime(2024, 1, 2, 3, 4),
         datetime.datetime(2024, 1, 2, 3, 4, 5), datetime.datetime(1, 1, 1, 0, 0, 0, 7),
         datetime.timedelta(0), datetime.timedelta(days=-1, seconds=5),
         datetime.timedelta(microseconds=3), datetime.timedelta(days=9999)]
if not PY2:
    dates += [datetime.datetime(2024, 1, 2, 3, 4, tzinfo=datetime.timezone.utc),
              datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone(
                  datetime.timedelta(hours=2), u"CEST")),
              datetime.datetime(2024, 11, 3, 1, 30, fold=1) if sys.version_info >= (3, 6)
              else datetime.date(2024, 1, 1)]
for v in dates:
    add("datetime", v)
if not PY2 and sys.version_info >= (3, 8):
    import pathlib
    # repr() of a twin: the value itself must keep its text uncomputed (no `_str`)
    for cls, parts in [(pathlib.PurePosixPath, ("/a//b/./c/",)),
                       (pathlib.PosixPath, ("rel", "x")), (pathlib.PurePosixPath, ()),
                       (pathlib.PurePosixPath, ("//net/share",)),
                       (pathlib.PosixPath, ("/tmp", "/etc", "it's")),
                       (pathlib.PurePosixPath, ("a", "", "b/")),
                       (pathlib.PosixPath, ("/",)),
                       (pathlib.PurePosixPath, ("/" + u"d" * 1200,))]:
        add("pathlib", cls(*parts), "exact", repr(cls(*parts)))
    printed = pathlib.PosixPath("/printed/once")
    str(printed)  # caches _str
    add("pathlib", printed)
od2 = collections.OrderedDict([(u"a", 1), (u"b", [2])])
od2[u"c"] = 3
del od2[u"a"]
od2[u"a"] = 4
add("OrderedDict", od2)
add("OrderedDict", collections.OrderedDict())
import decimal
for text in [u"1.50", u"0", u"-0", u"1E+2", u"123456789012345678901234567890.5", u"1e-7",
             u"0.000001", u"-Infinity", u"NaN", u"sNaN", u"NaN123", u"12.345E-100",
             u"-0.00", u"1234567890123456789", u"5E+1", u"0.5", u"-0.05", u"123E-2"]:
    add("decimal", decimal.Decimal(text))


class MyDecimal(decimal.Decimal):
    pass


class MyDeque(collections.deque):
    pass


class MyOrdered(collections.OrderedDict):
    pass


class MyDefault(collections.defaultdict):
    pass


class MyCounter(collections.Counter):
    pass


# -- library types: subclasses name themselves, cycles, every field of a datetime
add("decimal subclass", MyDecimal(u"-2.5E+7"))
add("decimal", decimal.Decimal(u"1" * 60 + u"E-3"))
self_od = collections.OrderedDict([(u"a", 1)])
self_od[u"me"] = self_od
add("OrderedDict", self_od)
add("OrderedDict subclass", MyOrdered([(u"k", [1])]))
self_dd = collections.defaultdict(list)
self_dd[u"me"] = self_dd
add("defaultdict", self_dd)
add("defaultdict subclass", MyDefault(int, {1: 2}))
add("defaultdict with a function", collections.defaultdict(outer, {}))
if PY2:
    # no deque layout for 2.7: the generic form, named by its type
    add("deque", collections.deque([1]), "generic", "deque")
else:
    self_q = collections.deque([1])
    self_q.append(self_q)
    add("deque", self_q)
    add("deque subclass", MyDeque([1, 2], maxlen=5))
    add("Counter subclass", MyCounter(u"aab"))
    add("Counter with bools", collections.Counter({u"t": True, u"f": False, u"n": -3}))
    add("Counter with a huge count", collections.Counter({u"small": 1, u"big": 2 ** 300}))
    # a class prints its __name__, whatever its __qualname__ says
    for base, args in [(collections.OrderedDict, ([(u"a", 1)],)),
                       (collections.deque, ([1],)), (collections.defaultdict, (None, {1: 2})),
                       (collections.Counter, (u"ab",))]:
        renamed = type("Renamed", (base,), {})
        renamed.__qualname__ = u"Other"
        add("renamed subclass", renamed(*args))
    # C types print the part of __name__ after its last dot, Counter all of it
    for base, name in [(collections.Counter, u"pkg.Dotted"), (collections.OrderedDict,
                       u"pkg.Dotted"), (collections.OrderedDict, u"x."),
                       (collections.deque, u"L" * 300)]:
        renamed = type("Renamed", (base,), {})
        renamed.__name__ = name
        add("renamed subclass", renamed([(u"a", 1)]))
if PY2:
    for v in [collections.Counter(u"abracadabra"), collections.Counter(),
              collections.Counter({u"x": 1.5, u"y": 2, u"z": 2 ** 70, u"t": True}),
              collections.Counter({u"a": 5, u"b": long(7)}),  # (a long of one digit)
              MyCounter(u"aab")]:
        add("Counter", v)
    # _exp as a unicode special (the tuple constructor keeps it) and as a long
    add("decimal", decimal.Decimal((0, (), u"F")))
    add("decimal", decimal.Decimal((1, (1, 2), u"n")))
    add("decimal", decimal.Decimal(u"1E+10000000000000000000"))
    add("decimal", decimal.Decimal(u"-7E-10000000000000000000"))
for v in [datetime.datetime(2024, 12, 31, 23, 59, 59, 123456),
          datetime.timedelta(microseconds=999999)]:
    add("datetime micros", v)
if not PY2:
    for tz in [datetime.timezone(datetime.timedelta(0), u"Z"),
               datetime.timezone(datetime.timedelta(hours=-5, minutes=-30)),
               datetime.timezone(datetime.timedelta(seconds=-1, microseconds=1)
                                 if sys.version_info >= (3, 7) else datetime.timedelta(0))]:
        add("timezone", datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=tz))

sys.stdout.write(json.dumps({"pid": os.getpid(), "values": REPORT}) + "\n")
sys.stdout.flush()
time.sleep(600)
'''

_CLOSERS = set("])}'\">")
_MARKER = re.compile(r"<(negative )?(int|long) with (about )?(\d+) digits>")


def _pattern(text: str) -> str:
    """A regex for `text` where each `<int with N digits>` stands for N digits."""
    parts, pos = [], 0
    for m in _MARKER.finditer(text):
        parts.append(re.escape(text[pos:m.start()]))
        count = int(m.group(4))
        lo = count - 1 if m.group(3) else count
        hi = count + 1 if m.group(3) else count
        parts.append(("-" if m.group(1) else "") + r"\d{%d,%d}L?" % (lo, hi))
        pos = m.end()
    parts.append(re.escape(text[pos:]))
    return "".join(parts)


_OPENERS = {"[": "]", "(": ")", "{": "}", "<": ">"}
#: The longest escape a str or bytes repr writes for one character (`\U0001f600`).
LONGEST_ESCAPE = 10


def closers_of(prefix: str) -> str:
    """What closes every bracket and quote still open at the end of `prefix`, innermost
    first: the only tail a cut of a repr may have after its `...`."""
    stack: list = []
    quote, escaped = "", False
    for ch in prefix:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
                stack.pop()
        elif ch in "'\"":
            quote = ch
            stack.append(ch)
        elif ch in _OPENERS:
            stack.append(_OPENERS[ch])
        elif stack and ch == stack[-1]:
            stack.pop()
    return "".join(reversed(stack))


def is_cut_of(out: str, full: str, truncated: bool = False,
              max_len: Optional[int] = None) -> bool:
    """`out` is `full`, or exactly a cut of it: a prefix, `...`, then what closes the
    brackets and quotes the prefix left open.

    With `max_len`: what fits is never cut, a cut fits, and it is as long as it can be:
    the next piece of `full` (a character inside a quote, else everything up to the
    next `, `: what is written whole) would not have fitted as well."""
    if out == full or re.fullmatch(_pattern(out), full, re.S):
        return max_len is None or len(out) <= max_len or bool(_MARKER.search(out))
    if truncated and re.match(_pattern(out), full, re.S):
        return True
    if max_len is not None and (len(full) <= max_len or len(out) > max_len):
        return False
    for i in range(len(out) - 3, -1, -1):
        if out[i:i + 3] != "..." or not set(out[i + 3:]) <= _CLOSERS:
            continue
        prefix, tail = out[:i], out[i + 3:]
        found = re.match(_pattern(prefix), full, re.S)
        if found is None or tail != closers_of(prefix):
            continue
        if max_len is None:
            return True
        rest = full[found.end():]
        if tail[:1] in ("'", '"'):  # the cut is inside a str or bytes
            piece = LONGEST_ESCAPE if rest.startswith("\\") else 1
        elif rest.startswith(", "):  # after an item: the separator and the next one
            piece = 2 + len(rest[2:].split(", ", 1)[0])
        else:
            piece = len(rest.split(", ", 1)[0]) or 1
        closing = max(len(tail), len(closers_of(prefix + rest[:piece])))
        return len(prefix) + piece + 3 + closing > max_len
    return False


def _start(interp: dict) -> tuple[subprocess.Popen, dict, str]:
    root = interp.get("root") or "/"
    host_tmp = os.path.join(root, "tmp")
    os.makedirs(host_tmp, exist_ok=True)
    host_dir = tempfile.mkdtemp(prefix="pystack-reprs-", dir=host_tmp)
    os.chmod(host_dir, 0o755)
    with open(os.path.join(host_dir, "zoo.py"), "w") as f:
        f.write(ZOO)
    inside = host_dir if root in ("/", "") else "/tmp/" + os.path.basename(host_dir)
    proc = subprocess.Popen(interp["argv"] + [os.path.join(inside, "zoo.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""
        if not line:
            proc.kill()
            raise RuntimeError(f"zoo did not start under {interp['name']}: "
                               f"{proc.stderr.read()[-3000:]}")
        return proc, json.loads(line), host_dir
    except BaseException:
        proc.kill()
        proc.wait()
        shutil.rmtree(host_dir, ignore_errors=True)
        raise


def _available(interp: dict) -> str:
    exe = interp.get("exe") or interp["argv"][-1]
    if not os.path.exists(exe):
        return f"{exe} is missing"
    if interp["argv"][0] == "chroot" and os.geteuid() != 0:
        return "chroot targets need root"
    return ""


def _params():
    if not INTERPRETERS:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no interpreters provisioned"))]
    params = []
    for interp in INTERPRETERS:
        reason = _available(interp)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(interp, id=interp["name"], marks=marks))
    return params


@pytest.fixture(scope="module", params=_params())
def rendered(request):
    """Start the zoo, attach once, render every value both ways, let the target go."""
    proc, report, host_dir = _start(request.param)
    try:
        results = []
        with LiveProcess(report["pid"]) as target:
            mem = Memory(target)
            interp = locate(target, mem)
            objs = Objects(mem, interp.layout)
            for label, address, expected, check, truncated in report["values"]:
                full = None if truncated else render(objs, address, max_len=10 ** 6)
                reads = mem.reads
                start = time.perf_counter()
                short = render(objs, address)
                cost = (mem.reads - reads, time.perf_counter() - start)
                results.append(dict(label=label, address=address, expected=expected,
                                    check=check, truncated=truncated, full=full,
                                    short=short, cost=cost))
        yield request.param, results
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(host_dir, ignore_errors=True)


def _expected_full(r: dict) -> str:
    if r["check"] == "generic":
        return rf"<\S*{re.escape(r['expected'])} object at 0x{r['address']:x}>"
    return re.escape(r["expected"])


def test_unlimited_budget_equals_repr(rendered):
    interp, results = rendered
    bad = []
    for r in results:
        if r["truncated"]:
            continue
        if not re.fullmatch(_expected_full(r), r["full"], re.S):
            bad.append(f"{r['label']}: got {r['full'][:300]!r}\n    want {r['expected'][:300]!r}")
    assert not bad, f"{interp['name']}: {len(bad)} differ\n" + "\n".join(bad)


def bad_cuts(results: list) -> list:
    """What is wrong with each value rendered with the default budget (`short`): too
    long, not the generic form asked for, or no visible cut of the target's repr."""
    bad = []
    for r in results:
        short = r["short"]
        if len(short) > DEFAULT_MAX_LEN:
            bad.append(f"{r['label']}: {len(short)} characters: {short!r}")
        elif r["check"] == "generic":
            if not re.fullmatch(_expected_full(r), short):
                bad.append(f"{r['label']}: {short!r}")
        elif not is_cut_of(short, r["expected"], r["truncated"],
                           max_len=None if r["truncated"] else DEFAULT_MAX_LEN):
            bad.append(f"{r['label']}: {short!r} is no cut of {r['expected'][:200]!r}")
    return bad


def test_default_budget_is_a_visible_cut(rendered):
    interp, results = rendered
    bad = bad_cuts(results)
    assert not bad, f"{interp['name']}: {len(bad)} bad\n" + "\n".join(bad)


def test_default_budget_reads_little(rendered):
    """A 10-million-element list or str costs about what a short one does."""
    interp, results = rendered
    for r in results:
        if r["label"] in ("huge list", "huge str"):
            reads, seconds = r["cost"]
            assert reads <= 40, (r["label"], r["cost"])
            assert_quick(seconds, 40, r["label"])  # 0.5 s idle


@pytest.mark.skipif(not shutil.which("gcore"), reason="needs gdb's gcore")
@pytest.mark.parametrize("interp", _params())
def test_core_renders_what_the_target_printed(interp, tmp_path):
    """The same zoo read back from a gcore core: every value as the target's repr."""
    from integration.test_core import gcore
    from pystack.engine import open_core

    proc, report, host_dir = _start(interp)
    try:
        target = type("Zoo", (), {"pid": report["pid"], "host_dir": host_dir})()
        core = gcore(interp, target, tmp_path)
        root = interp.get("root") or "/"
        with open_core(core, None, None, None if root == "/" else root) as dump:
            mem = Memory(dump)
            objs = Objects(mem, locate(dump, mem).layout)
            bad = []
            for label, address, expected, check, truncated in report["values"]:
                if truncated or check != "exact":
                    continue
                got = render(objs, address, max_len=10 ** 6)
                if not re.fullmatch(re.escape(expected), got, re.S):
                    bad.append(f"{label}: got {got[:300]!r}\n    want {expected[:300]!r}")
        os.unlink(core)
        assert not bad, f"{interp['name']}: {len(bad)} differ\n" + "\n".join(bad)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(host_dir, ignore_errors=True)
