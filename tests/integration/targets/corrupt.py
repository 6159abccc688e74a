"""A target that damages its own frames or code objects (CPython 2.7 and 3.6+).

The thread "damaged" runs outer() -> middle() -> inner(); inner() describes its own
stack, then through ctypes breaks one thing of middle() (TARGET_DAMAGE):

* back-garbage: middle's link to its caller (f_back / previous) -> 0x1234
* back-self: that link -> middle itself (a loop)
* filename: middle's code object's co_filename pointer -> 0x1234
* linetable: middle's line table (co_lnotab / co_linetable) cut to a third

and then only sleeps in C: nothing in the interpreter follows the broken link again
(the GC is disabled, so it never traverses the broken frame). A thread "healthy" and
the main thread are left alone. The structure offsets come from the test
(TARGET_OFFSETS, JSON), which takes them from pystack's own layout tables.

Prints one JSON line: the pid, every thread's frames as the interpreter saw them
before the damage, and what was damaged at which address; then blocks forever.
"""
import ctypes
import gc
import json
import os
import sys
import threading
import time

gc.disable()

SLEEP = 100000
DAMAGE = os.environ.get("TARGET_DAMAGE", "back-garbage")
OFFSETS = json.loads(os.environ["TARGET_OFFSETS"])
HERE = os.path.abspath(__file__)

try:
    get_native_id = threading.get_native_id
except AttributeError:
    _libc = ctypes.CDLL(None, use_errno=True)

    def get_native_id():
        return _libc.syscall(186)  # SYS_gettid on x86-64

REPORT = {}
READY = threading.Event()


def marked_line(marker):
    with open(HERE) as f:
        return [n for n, line in enumerate(f, 1) if line.rstrip().endswith(marker)][0]


def describe(frame):
    out = []
    while frame is not None:
        code = frame.f_code
        out.append({"file": code.co_filename,
                    "name": getattr(code, "co_qualname", code.co_name),
                    "line": frame.f_lineno})
        frame = frame.f_back
    out.reverse()
    return out


def word(address):
    return ctypes.c_uint64.from_address(address)


def frame_address(frame):
    """Where pystack finds this frame: the PyFrameObject (2.7) or its
    _PyInterpreterFrame (3.11+)."""
    if OFFSETS["f_frame"] is None:
        return id(frame)
    return word(id(frame) + OFFSETS["f_frame"]).value


def damage(middle_frame):
    address = frame_address(middle_frame)
    code = middle_frame.f_code
    if DAMAGE == "back-garbage":
        word(address + OFFSETS["back"]).value = 0x1234
        return {"marker": 0x1234, "kept": 2}
    if DAMAGE == "back-self":
        word(address + OFFSETS["back"]).value = address
        return {"marker": address, "kept": 2}
    if DAMAGE == "filename":
        word(id(code) + OFFSETS["co_filename"]).value = 0x1234
        return {"marker": address, "kept": 1}
    if DAMAGE == "linetable":
        table = word(id(code) + OFFSETS["co_linetable"]).value
        size = word(table + OFFSETS["ob_size"])
        size.value = max(1, size.value // 3)
        return {"marker": None, "kept": 3}
    raise ValueError(DAMAGE)


def inner():
    me = sys._getframe()
    stack = describe(me)
    stack[-1]["line"] = marked_line("# SLEEP")
    REPORT["damaged"] = {"tid": get_native_id(), "frames": stack}
    REPORT["damaged"].update(damage(me.f_back))
    me = None
    READY.set()
    time.sleep(SLEEP)  # SLEEP


def middle():
    inner()


def outer():
    middle()


def healthy(n):
    if n == 0:
        REPORT["healthy"] = {"tid": get_native_id()}
        time.sleep(SLEEP)  # BLOCK
    healthy(n - 1)


def main():
    for target, name in ((lambda: healthy(3), "healthy"), (outer, "damaged")):
        t = threading.Thread(target=target, name=name)
        t.daemon = True
        t.start()
    READY.wait(30)
    block = marked_line("# BLOCK")
    deadline = time.time() + 30
    while time.time() < deadline:
        frames = sys._current_frames()
        ident = [t.ident for t in threading.enumerate() if t.name == "healthy"][0]
        if "healthy" in REPORT and frames[ident].f_lineno == block:
            break
        time.sleep(0.01)
    REPORT["healthy"]["frames"] = describe(sys._current_frames()[ident])
    REPORT["healthy"]["name"] = "healthy"
    REPORT["damaged"]["name"] = "damaged"
    main_stack = describe(sys._getframe())
    main_stack[-1]["line"] = marked_line("# MAIN")
    report = {"pid": os.getpid(), "damage": DAMAGE,
              "threads": [REPORT["healthy"], REPORT["damaged"],
                          {"tid": get_native_id(), "name": "MainThread",
                           "frames": main_stack}]}
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    while True:
        time.sleep(SLEEP)  # MAIN


if __name__ == "__main__":
    main()
