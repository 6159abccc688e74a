"""A target process for the integration tests (runs on CPython 2.7 and 3.6+).

It starts threads that block in many shapes of Python code (deep recursion,
generators, a coroutine driven by asyncio, closures, lambdas, methods, a lock wait in
C, a call spread over lines, a comprehension, a decorator, a line far below the one
before it), waits until every one of them is parked on its line marked `# BLOCK`, then prints
one JSON line describing every thread as the interpreter itself sees it
(`sys._current_frames()`, thread names, kernel thread ids) and blocks forever.
SIGUSR1 makes it print "alive", so a test can check it still runs after a dump.
"""
import io
import json
import os
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    get_native_id = threading.get_native_id
except AttributeError:  # before 3.8: ask the kernel
    import ctypes

    _libc = ctypes.CDLL(None, use_errno=True)

    def get_native_id():
        return _libc.syscall(186)  # SYS_gettid on x86-64

NATIVE_IDS = {}
CHURNING = []  # the churn thread (TARGET_CHURN), whose stack is never the same twice
SLEEP = 100000
DEPTH = int(os.environ.get("TARGET_DEPTH", "300"))


def register():
    NATIVE_IDS[threading.current_thread().ident] = get_native_id()


def recurse(n):
    if n == 0:
        register()
        time.sleep(SLEEP)  # BLOCK
    return recurse(n - 1)


def generator_inner():
    register()
    time.sleep(SLEEP)  # BLOCK
    yield 1


def generator_outer():
    for item in generator_inner():
        yield item


def run_generator():
    for _ in generator_outer():
        pass


def make_closure(lock):
    captured = [lock]

    def closure():
        register()
        captured[0].acquire()  # BLOCK
    return closure


class Worker(object):
    def method(self):
        blocker = lambda: time.sleep(SLEEP)  # BLOCK
        register()
        blocker()


class Constructed(object):
    def __init__(self, block):
        if block:
            register()
            time.sleep(SLEEP)  # BLOCK


def construct():
    """Call a class often enough that 3.13+ specializes the call: `__init__` then runs
    under the interpreter's hidden init-cleanup frame."""
    for turn in range(64):
        Constructed(turn == 63)


def crash_when_told():
    """Wait for a line on stdin, then crash inside a C call (a kernel core with SIGSEGV)."""
    import ctypes
    register()
    sys.stdin.readline()  # BLOCK
    ctypes.memset(1, 0, 1)  # CRASH


def far_below():
    """The blocking line lies 150+ lines below the previous one: its line-table step
    takes more than 127 (a byte read as signed would go backwards)."""
    register()
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    # .
    time.sleep(SLEEP)  # BLOCK


def multi_line_call():
    """Blocked inside a call spread over lines: the call's instruction and the one
    before it (loading the argument) are on different lines."""
    register()
    time.sleep(  # BLOCK
        SLEEP  # BLOCK
    )


def in_comprehension():
    register()
    return [time.sleep(SLEEP) for _ in range(1)]  # BLOCK


def blocking_decorator(function):
    def wrapper(*args):
        register()
        time.sleep(SLEEP)  # BLOCK
        return function(*args)
    return wrapper


@blocking_decorator
def decorated():
    pass


def spanning_expression():
    register()
    return (1 +
            len(str(time.sleep(SLEEP))) +  # BLOCK
            2)


def churn_down(n):
    return churn_down(n - 1) if n else 0


def churn():
    """TARGET_CHURN: a thread whose stack grows and shrinks without pause (torn reads
    for --no-block); it is left out of the report."""
    register()
    while True:
        churn_down(50)


HELD = threading.Lock()
HELD.acquire()


def start(target, name):
    t = threading.Thread(target=target, name=name)
    t.daemon = True
    t.start()
    return t


def blocked_lines():
    lines = set()
    with io.open(os.path.join(HERE, "stacks.py"), encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.rstrip().endswith("# BLOCK"):
                lines.add(number)
    try:
        import stacks_async
        with io.open(os.path.join(HERE, "stacks_async.py"), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.rstrip().endswith("# BLOCK"):
                    lines.add(number)
    except (ImportError, SyntaxError):
        pass
    return lines


def describe(frame):
    """Each frame as the interpreter sees it, with the names of its arguments and of
    every variable bound in it (functions only; None for module and class bodies)."""
    import inspect
    import linecache
    out = []
    while frame is not None:
        code = frame.f_code
        positions = None
        if hasattr(code, "co_positions"):  # 3.11+: where the frame is, to the column
            positions = list(code.co_positions())[frame.f_lasti // 2]
        arguments = variables = None
        if code.co_flags & inspect.CO_OPTIMIZED:  # a function: its arguments, variables
            args, varargs, varkw = inspect.getargs(code)
            arguments = list(args) + [n for n in (varargs, varkw) if n]
            variables = sorted(frame.f_locals)
        out.append({"file": code.co_filename,
                    "name": getattr(code, "co_qualname", code.co_name),
                    "function": code.co_name,
                    "line": frame.f_lineno,
                    "code": linecache.getline(code.co_filename, frame.f_lineno).strip(),
                    "positions": positions, "arguments": arguments,
                    "variables": variables})
        frame = frame.f_back
    out.reverse()
    return out


def main():
    if os.environ.get("TARGET_LIBRARY"):  # a library the test deletes before reading a core
        import ctypes
        ctypes.CDLL(os.environ["TARGET_LIBRARY"])
    threads = [
        start(lambda: recurse(DEPTH), "deep-recursion"),
        start(run_generator, "generator"),
        start(make_closure(HELD), "closure-lock"),
        start(Worker().method, "method-lambda"),
        start(construct, "class-init"),
        start(far_below, "far-below"),
        start(multi_line_call, "multi-line-call"),
        start(in_comprehension, "comprehension"),
        start(decorated, "decorated"),
        start(spanning_expression, "spanning-expression"),
    ]
    if sys.version_info >= (3, 5):
        import stacks_async
        threads.append(start(lambda: stacks_async.run(register, SLEEP), "asyncio-loop"))
        threads.append(start(lambda: stacks_async.keyword_only(register, SLEEP, 1),
                             "keyword-only"))
    if os.environ.get("TARGET_CHURN"):
        CHURNING.append(start(churn, "churn"))
    if os.environ.get("TARGET_CRASHER"):
        threads.append(start(crash_when_told, "crasher"))
    for i in range(int(os.environ.get("TARGET_EXTRA_THREADS", "2"))):
        threads.append(start(lambda: recurse(3), "extra-%d" % i))
    register()
    wanted = blocked_lines()
    deadline = time.time() + 30
    while True:
        frames = sys._current_frames()
        parked = [t for t in threads
                  if t.ident in frames and t.ident in NATIVE_IDS
                  and frames[t.ident].f_lineno in wanted]
        if len(parked) == len(threads) or time.time() > deadline:
            break
        time.sleep(0.01)
    report_and_block()


def report_and_block():
    me = threading.current_thread().ident
    frames = sys._current_frames()
    names = dict((t.ident, t.name) for t in threading.enumerate())
    report = {"pid": os.getpid(), "version": list(sys.version_info[:3]),
              "executable": os.path.realpath(sys.executable), "threads": []}
    for ident, frame in frames.items():
        if any(t.ident == ident for t in CHURNING):
            continue
        stack = describe(frame)
        if ident == me:
            stack[-1]["line"] = marked_line("# MAIN")
        elif names.get(ident) == "crasher":
            stack[-1]["line"] = marked_line("# CRASH")
        if ident == me or names.get(ident) == "crasher":
            import linecache
            stack[-1]["code"] = linecache.getline(stack[-1]["file"], stack[-1]["line"]).strip()
            stack[-1]["positions"] = None  # it reports from elsewhere than it will be
        report["threads"].append({"ident": ident, "tid": NATIVE_IDS.get(ident),
                                  "name": names.get(ident), "frames": stack})
    signal.signal(signal.SIGUSR1, lambda *a: (sys.stdout.write("alive\n"),
                                              sys.stdout.flush()))
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    while True:
        time.sleep(SLEEP)  # MAIN


def marked_line(marker):
    with io.open(os.path.join(HERE, "stacks.py"), encoding="utf-8") as f:
        return [n for n, line in enumerate(f, 1) if line.rstrip().endswith(marker)][0]


if __name__ == "__main__":
    main()
