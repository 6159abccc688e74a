# -*- coding: utf-8 -*-
"""Targets for --locals and thread status (CPython 2.7 and 3.6+).

`status.py locals`: the main thread stops in `zoo()` with many kinds of values; a
"spinner" thread runs pure Python forever (it holds the GIL) and a "sleeper" thread
sleeps (it does not). Prints JSON: the arguments and locals of `zoo` as repr() shows
them, and the kernel tids of the threads.
`status.py gc`: a "collector" thread runs gc.collect(), which calls a weakref callback
that sleeps: the thread is garbage collecting while it waits.
"""
import gc
import json
import os
import sys
import threading
import time
import weakref

SLEEP = 100000
try:
    get_native_id = threading.get_native_id
except AttributeError:
    import ctypes
    _libc = ctypes.CDLL(None)

    def get_native_id():
        return _libc.syscall(186)

TIDS = {}


def named(name):
    TIDS[name] = get_native_id()


class Point(object):
    def __init__(self, x):
        self.x = x


class MyInt(int):
    pass


def report(extra):
    out = {"pid": os.getpid(), "tids": TIDS}
    out.update(extra)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


def zoo(number, text, *rest, **options):
    big = 2 ** 100
    negative = -(2 ** 70)
    ratio = 0.1
    floats = [1.5, -0.0, 1e100, float("inf")]
    words = u"h\xe9llo w\xf6rld \u2603"
    raw = b"\x00ab\xff'"
    nested = {"a": [1, (2, 3.0)], 3: {4: None}}
    empty = ([], (), {}, set())
    single = (1,)
    flags = (True, False, None)
    numbers = set([1, 2, 3])
    frozen = frozenset([4])
    cyclic = [1]
    cyclic.append(cyclic)
    sub = MyInt(7)
    obj = Point(1)
    captured = [number]

    def closure():
        return captured, text
    names = dict((k, repr(v)) for k, v in locals().items())
    args = ["number", "text", "rest", "options"]
    report({"arguments": dict((k, names.pop(k)) for k in args),
            "locals": names,
            "order": list(zoo.__code__.co_varnames)})
    if sys.version_info[0] == 2:
        # 2.7's eval loop lets go of the GIL every 100 instructions even when no other
        # thread waits, and a dump that stops it there finds no holder: from now on the
        # spinner keeps it (for ~2**31 instructions). Only after the report: writing it
        # lets go of the GIL, and the spinner would never give it back.
        sys.setcheckinterval(2 ** 31 - 1)
    time.sleep(SLEEP)  # MAIN


def spin():
    named("spinner")
    x = 0
    while True:
        x += 1


def sleep():
    named("sleeper")
    time.sleep(SLEEP)


class Node(object):
    pass


def in_gc(ref):
    time.sleep(SLEEP)  # GC


def collect():
    named("collector")
    time.sleep(0.5)  # let the main thread settle in its sleep: it holds no GIL then
    report({})
    node = Node()
    node.self = node
    keep = weakref.ref(node, in_gc)
    del node
    gc.collect()
    return keep


def start(target, name):
    t = threading.Thread(target=target, name=name)
    t.daemon = True
    t.start()


def wait_for(names):
    deadline = time.time() + 30
    while len([n for n in names if n in TIDS]) < len(names) and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # let them reach their blocking call


if __name__ == "__main__":
    named("main")
    if sys.argv[1] == "locals":
        start(spin, "spinner")
        start(sleep, "sleeper")
        wait_for(["spinner", "sleeper"])
        zoo(42, "text", 1, 2, key="value")
    else:
        start(collect, "collector")
        time.sleep(SLEEP)
