"""Target for --native tests (CPython 2.7 and 3.6+): a thread in time.sleep, one in a
lock wait, one inside a C++ function called through ctypes, one thread started from C
that never touched Python, threads whose Python frames are called back from C
several times over (several eval-loop calls per thread: sorted's key, map, reduce, a
class's __init__ and __eq__ from a dict lookup, a ctypes callback from qsort), and one
interrupted in pause() by a signal whose C handler (a ctypes callback) runs Python
(a signal frame in its stack). Prints JSON with the kernel tids and every Python
thread's frames, then blocks."""
import ctypes
import functools
import json
import os
import sys
import threading
import time

LIB = ctypes.CDLL(sys.argv[1])
TIDS = {}
IDENTS = {}  # tid -> threading ident, to match the frames with the kernel's threads
_libc = ctypes.CDLL(None)


def tid():
    value = _libc.syscall(186)
    IDENTS[str(value)] = threading.current_thread().ident
    return value


def sleeper():
    TIDS["sleeper"] = tid()
    time.sleep(100000)  # BLOCK


def locked(lock):
    TIDS["locked"] = tid()
    lock.acquire()  # BLOCK


def in_cpp():
    TIDS["cpp"] = tid()
    LIB.block_in_cpp(3)  # BLOCK


def leaf(_):
    time.sleep(100000)  # BLOCK


def by_reduce(a, b):
    leaf(a)


def by_map(x):
    return functools.reduce(by_reduce, [x, x])


def by_key(x):
    return list(map(by_map, [x]))


def callbacks():
    """sorted -> key -> map -> function -> reduce -> function: three groups of
    Python frames of different sizes under one thread."""
    TIDS["callbacks"] = tid()
    sorted([1], key=by_key)


class Key(object):
    def __init__(self, block):
        self.block = block

    def __hash__(self):
        return 1

    def __eq__(self, other):
        if self.block or other.block:  # the dict compares its own key with ours
            compare_in_c()
        return True


CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))


def compare(a, b):
    time.sleep(100000)  # BLOCK
    return 0


def compare_in_c():
    values = (ctypes.c_int * 2)(2, 1)
    _libc.qsort(values, 2, ctypes.sizeof(ctypes.c_int), CMP(compare))


class Built(object):
    def __init__(self):
        table = {Key(False): 1}
        table.get(Key(True))  # __eq__ from the dict's lookup


def in_init():
    """A type call runs __init__, a dict lookup __eq__, qsort a ctypes callback."""
    TIDS["init"] = tid()
    Built()


HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_int)
HANDLED = threading.Event()
SIGUSR1 = 10


def on_signal(signum):
    HANDLED.set()
    time.sleep(100000)  # BLOCK


ON_SIGNAL = HANDLER(on_signal)  # kept alive: the C library holds a pointer to it


def interrupted():
    TIDS["signalled"] = tid()
    _libc.pause()  # BLOCK: until the signal, whose handler never returns


def start(target, *args):
    t = threading.Thread(target=target, args=args)
    t.daemon = True
    t.start()


held = threading.Lock()
held.acquire()
start(sleeper)
start(locked, held)
start(in_cpp)
start(callbacks)
start(in_init)
_libc.signal(SIGUSR1, ON_SIGNAL)
signalled = threading.Thread(target=interrupted)
signalled.daemon = True
signalled.start()
LIB.start_c_thread()
deadline = time.time() + 20
while len(TIDS) < 6 and time.time() < deadline:
    time.sleep(0.01)
time.sleep(0.3)  # in pause() by now
_libc.pthread_kill(ctypes.c_ulong(signalled.ident), SIGUSR1)
HANDLED.wait(20)
time.sleep(0.3)
TIDS["main"] = tid()


def frames_of(frame):
    out = []
    while frame is not None:
        out.append([frame.f_code.co_filename, frame.f_code.co_name, frame.f_lineno])
        frame = frame.f_back
    return out[::-1]


current = sys._current_frames()
me = threading.current_thread().ident
FRAMES = {}
for ident, frame in current.items():
    if ident != me:
        FRAMES[str(ident)] = frames_of(frame)
sys.stdout.write(json.dumps({"pid": os.getpid(), "tids": TIDS, "frames": FRAMES,
                             "idents": IDENTS}) + "\n")
sys.stdout.flush()
time.sleep(100000)
