"""Target for --native tests (CPython 2.7 and 3.6+): a thread in time.sleep, one in a
lock wait, one inside a C++ function called through ctypes, and one thread started
from C that never touched Python. Prints JSON with the kernel tids, then blocks."""
import ctypes
import json
import os
import sys
import threading
import time

LIB = ctypes.CDLL(sys.argv[1])
TIDS = {}
_libc = ctypes.CDLL(None)


def tid():
    return _libc.syscall(186)


def sleeper():
    TIDS["sleeper"] = tid()
    time.sleep(100000)  # BLOCK


def locked(lock):
    TIDS["locked"] = tid()
    lock.acquire()  # BLOCK


def in_cpp():
    TIDS["cpp"] = tid()
    LIB.block_in_cpp(3)  # BLOCK


def start(target, *args):
    t = threading.Thread(target=target, args=args)
    t.daemon = True
    t.start()


held = threading.Lock()
held.acquire()
start(sleeper)
start(locked, held)
start(in_cpp)
LIB.start_c_thread()
deadline = time.time() + 20
while len(TIDS) < 3 and time.time() < deadline:
    time.sleep(0.01)
time.sleep(0.3)
TIDS["main"] = tid()
sys.stdout.write(json.dumps({"pid": os.getpid(), "tids": TIDS}) + "\n")
sys.stdout.flush()
time.sleep(100000)
