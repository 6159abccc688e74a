"""A benchmark target: a Python process whose stacks are known in advance.

It runs under every interpreter the harness measures, inside a chroot for Debian
sid's, so it uses only the standard library and no syntax newer than 3.6. The main
thread prints one line, ``ready PID``, once every other thread waits forever and it is
about to as well: the harness times a settled process instead of sleeping and hoping.

Function and variable names are distinctive (``bench_...``) so that the harness can
tell a real stack dump from an error message.
"""
import argparse
import mmap
import os
import sys
import threading
import time

FOREVER = threading.Event()


def _parked_threads() -> int:
    """Threads blocked in FOREVER.wait(): each one has queued a waiter lock."""
    return len(FOREVER._cond._waiters)  # private, but the same from 3.6 to 3.15


def bench_leaf(others: int) -> None:
    """Where every thread parks, with locals for ``--locals`` to show."""
    bench_local_marker = {"answer": 42, "name": "bench"}
    bench_local_list = list(range(5))
    if threading.current_thread() is threading.main_thread():
        while _parked_threads() < others:
            time.sleep(0.005)
        sys.stdout.write("ready %d\n" % os.getpid())
        sys.stdout.flush()
    FOREVER.wait()
    return bench_local_marker, bench_local_list  # never reached


def bench_recurse(depth: int, others: int) -> None:
    """Python recursion: the cost of walking a long frame chain."""
    if depth <= 1:
        bench_leaf(others)
    else:
        bench_recurse(depth - 1, others)


def bench_worker(depth: int) -> None:
    """Body of each thread but the main one."""
    bench_recurse(depth, 0)


def bench_main(args: argparse.Namespace) -> None:
    """Set up, start the threads and park the main thread at its depth."""
    if args.cwd:
        os.chdir(args.cwd)  # a kernel core lands in the working directory
    sys.setrecursionlimit(max(1000, args.depth + 200))
    if args.sparse_mb:
        # Private and all but untouched: a kernel core holds it as one big hole.
        # mmap's default, MAP_SHARED, is shmem, which dumping would fill page by
        # page; a private mapping never written to is left out of the core, hence
        # the one byte.
        sparse = mmap.mmap(-1, args.sparse_mb << 20, flags=mmap.MAP_PRIVATE)
        sparse[0] = 1
        bench_main.sparse = sparse
    for index in range(args.threads - 1):
        threading.Thread(target=bench_worker, args=(args.thread_depth,),
                         name="bench-thread-%d" % index, daemon=True).start()
    bench_recurse(args.depth, args.threads - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description="pystack benchmark target")
    parser.add_argument("--threads", type=int, default=3, help="threads, main included")
    parser.add_argument("--depth", type=int, default=3, help="main thread's recursion depth")
    parser.add_argument("--thread-depth", type=int, default=3, help="the others' depth")
    parser.add_argument("--sparse-mb", type=int, default=0, help="untouched anonymous memory")
    parser.add_argument("--cwd", default="", help="working directory (where cores go)")
    bench_main(parser.parse_args())


if __name__ == "__main__":
    main()
