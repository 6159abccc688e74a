"""Threads that run code in subinterpreters (CPython 3.6+).

    main thread   main interpreter -> a subinterpreter -> one nested inside that one
                  (`_testcapi.run_in_subinterp`: the interpreters share one GIL)
    worker        main interpreter -> a subinterpreter with a GIL of its own on 3.12+
                  (`_xxsubinterpreters` / `_interpreters`), a shared one before
    in-sub        a thread started by `threading` inside the worker's subinterpreter:
                  it runs in that interpreter only
    reporter      main interpreter only: collects what the others reported, prints it

Every part of every thread reports itself, from the interpreter it runs in: its
thread id, the interpreter's id and its frames (outermost first) as they will be
once parked on a marked line. The reporter prints one JSON line: per thread, its
sections in call order (outermost interpreter first), then parks too. Subinterpreters
are created one after the other, so their ids are known even where no Python API
tells them (3.7: 1, 2, 3 in creation order; 3.6 has no ids at all).
"""
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from stacks import describe, get_native_id  # noqa: E402

SLEEP = 100000
#: the subinterpreter each part runs in, numbered in the order they are created: their
#: ids where no Python API tells them (3.7)
CREATED_AS = {"worker-sub": 1, "in-sub": 1, "main-sub": 2, "main-nested": 3}


def current_interpreter_id():
    """The running interpreter's id, or None where Python cannot tell (3.6, 3.7)."""
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        current = module.get_current()
        return int(current[0] if isinstance(current, tuple) else current)
    return None


def marked(marker):
    with open(os.path.join(HERE, "subinterp.py")) as f:
        return [n for n, line in enumerate(f, 1) if line.rstrip().endswith(marker)][0]


def report(folder, role, depth, marker, frame):
    """What this part of the thread is, as it will be once parked on `marker`."""
    import linecache
    stack = describe(frame)
    stack[-1]["line"] = marked(marker)
    stack[-1]["code"] = linecache.getline(stack[-1]["file"], stack[-1]["line"]).strip()
    stack[-1]["positions"] = None
    interp = current_interpreter_id()
    if interp is None and sys.version_info >= (3, 7):
        interp = CREATED_AS.get(role, 0)
    out = {"role": role, "depth": depth, "tid": get_native_id(), "interp": interp,
           "name": threading.current_thread().name, "frames": stack}
    path = os.path.join(folder, role + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f)
    os.rename(path + ".tmp", path)


def wait_for(folder, roles):
    deadline = time.time() + 60
    while not all(os.path.exists(os.path.join(folder, r + ".json")) for r in roles):
        if time.time() > deadline:
            raise SystemExit("parts never reported: %s" % os.listdir(folder))
        time.sleep(0.01)


def sub_code(folder, role, depth, then=None):
    """Source run in a new subinterpreter: import this module there and park (or go
    one level deeper, into a subinterpreter of its own, when `then` names the role)."""
    return ("import sys\nsys.path.insert(0, %r)\nimport subinterp\n"
            "subinterp.in_subinterpreter(%r, %r, %d, %r)\n" % (HERE, folder, role, depth, then))


# -- run inside subinterpreters ----------------------------------------------------------
def in_subinterpreter(folder, role, depth, then):
    if then == "in-sub":
        thread = threading.Thread(target=sub_thread, args=(folder,), name="in-sub")
        thread.start()
        park(folder, role, depth)
    elif then:
        nest(folder, role, depth, then)
    else:
        park(folder, role, depth)


def nest(folder, role, depth, then):
    import _testcapi
    report(folder, role, depth, "# NEST", sys._getframe())
    _testcapi.run_in_subinterp(sub_code(folder, then, depth + 1))  # NEST


def park(folder, role, depth):
    report(folder, role, depth, "# PARK", sys._getframe())
    while True:
        time.sleep(SLEEP)  # PARK


def sub_thread(folder):
    report(folder, "in-sub", 0, "# IN-SUB", sys._getframe())
    if sys.version_info >= (3, 12):  # (3.9-3.11 would starve the main interpreter)
        spin_if_told()
    while True:
        time.sleep(SLEEP)  # IN-SUB


def spin_if_told():
    """TARGET_SPIN=1: spin for ever instead of parking (the reporter, and in-sub from
    3.12 where the worker's subinterpreter has a GIL of its own, so that both hold
    one at once). With one GIL shared between interpreters, 3.9-3.11 ask only the
    waiter's interpreter to drop it: a spinner in another interpreter would never
    let go."""
    if os.environ.get("TARGET_SPIN"):
        while True: pass  # noqa: E701  (one line: a dump can only land on it)


# -- the main interpreter ---------------------------------------------------------------
def shared_gil(folder, role, code):
    import _testcapi
    report(folder, role, 0, "# SHARED", sys._getframe())
    _testcapi.run_in_subinterp(code)  # SHARED


def own_gil(folder, role, code):
    try:
        import _interpreters as interpreters
    except ImportError:
        import _xxsubinterpreters as interpreters
    interp = interpreters.create()
    report(folder, role, 0, "# OWN", sys._getframe())
    interpreters.run_string(interp, code)  # OWN


def reporter(folder):
    wait_for(folder, ["main", "main-sub", "main-nested", "worker", "worker-sub", "in-sub"])
    report(folder, "reporter", 0, "# REPORTER", sys._getframe())
    parts = []
    for name in os.listdir(folder):
        if name.endswith(".json"):
            with open(os.path.join(folder, name)) as f:
                parts.append(json.load(f))
    threads = {}
    for part in sorted(parts, key=lambda p: p["depth"]):
        thread = threads.setdefault(part["tid"], {"tid": part["tid"], "name": part["name"],
                                                  "sections": []})
        thread["sections"].append({"interp": part["interp"], "frames": part["frames"],
                                   "role": part["role"]})
    out = {"pid": os.getpid(), "version": list(sys.version_info[:3]),
           "own_gil": sys.version_info >= (3, 12), "threads": list(threads.values())}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    spin_if_told()
    while True:
        time.sleep(SLEEP)  # REPORTER


def main():
    import tempfile
    folder = tempfile.mkdtemp(prefix="subinterp-")
    enter = own_gil if sys.version_info >= (3, 12) else shared_gil
    worker = threading.Thread(target=enter, name="worker", args=(
        folder, "worker", sub_code(folder, "worker-sub", 1, "in-sub")))
    worker.daemon = True
    worker.start()
    wait_for(folder, ["worker-sub"])  # created first: id 1
    threading.Thread(target=reporter, args=(folder,), name="reporter").start()
    shared_gil(folder, "main", sub_code(folder, "main-sub", 1, "main-nested"))


if __name__ == "__main__":
    main()
