"""A process tree for `--subprocesses` (CPython 2.7 and 3.6+).

    tree.py prefork    a master that forks workers (gunicorn's way) and one child
                       that exits at once and is never reaped (a zombie)
    tree.py pool       a multiprocessing.Pool of workers
    tree.py forkexec   a master that starts `sh -c '... python tree.py leaf ...; sleep'`:
                       a non-Python child with a Python child of its own

Every Python process of the tree writes what it sees of itself (pid, parent, its main
thread's frames as `sys._current_frames()` reports them, with the line it parks on)
into a folder; the master waits for all of them, prints one JSON line listing every
process, then parks too. SIGTERM to the master ends the tree.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stacks import describe  # noqa: E402

SLEEP = 100000
WORKERS = 3


def marked(marker):
    with open(os.path.join(HERE, "tree.py")) as f:
        return [n for n, line in enumerate(f, 1) if line.rstrip().endswith(marker)][0]


def report_self(folder, role, marker):
    """What this process is, as it will be once it parks on the line marked `marker`."""
    import linecache
    stack = describe(sys._getframe(1))
    stack[-1]["line"] = marked(marker)
    stack[-1]["code"] = linecache.getline(stack[-1]["file"], stack[-1]["line"]).strip()
    stack[-1]["positions"] = None
    out = {"pid": os.getpid(), "ppid": os.getppid(), "role": role, "frames": stack}
    path = os.path.join(folder, "%d.json" % os.getpid())
    with open(path + ".tmp", "w") as f:
        json.dump(out, f)
    os.rename(path + ".tmp", path)


def worker(folder):
    report_self(folder, "worker", "# WORKER")
    while True:
        time.sleep(SLEEP)  # WORKER


def pool_task(folder):
    report_self(folder, "worker", "# POOL")
    time.sleep(SLEEP)  # POOL


def leaf(folder):
    report_self(folder, "leaf", "# LEAF")
    time.sleep(SLEEP)  # LEAF


def wait_for_reports(folder, count):
    deadline = time.time() + 60
    while time.time() < deadline:
        names = [n for n in os.listdir(folder) if n.endswith(".json")]
        if len(names) >= count:
            return [json.load(open(os.path.join(folder, n))) for n in sorted(names)]
        time.sleep(0.02)
    raise SystemExit("the tree never reported")


def master(mode):
    folder = tempfile.mkdtemp(prefix="pystack-tree-")
    children = []
    if mode == "prefork":
        for _ in range(WORKERS):
            pid = os.fork()
            if pid == 0:
                worker(folder)
            children.append(pid)
        if os.fork() == 0:
            os._exit(0)  # never waited for: a zombie
        expected = WORKERS
    elif mode == "pool":
        import multiprocessing
        pool = multiprocessing.Pool(WORKERS)
        pool.map_async(pool_task, [folder] * WORKERS, chunksize=1)
        expected = WORKERS
    else:
        script = ('"$0" "$1" leaf "$2" & exec sleep %d' % SLEEP)
        subprocess.Popen(["/bin/sh", "-c", script, sys.executable,
                          os.path.join(HERE, "tree.py"), folder])
        expected = 1
    reports = wait_for_reports(folder, expected)
    report_self(folder, "master", "# MASTER")
    reports = wait_for_reports(folder, expected + 1)
    signal.signal(signal.SIGTERM, lambda *a: os.killpg(0, signal.SIGKILL))
    sys.stdout.write(json.dumps({"pid": os.getpid(), "processes": reports}) + "\n")
    sys.stdout.flush()
    while True:
        time.sleep(SLEEP)  # MASTER


if __name__ == "__main__":
    if sys.argv[1] == "leaf":
        leaf(sys.argv[2])
    else:
        os.setpgrp()  # the tree is one process group: the test ends it with one kill
        master(sys.argv[1])
