"""Speed assertions that hold on a busy machine: durations are compared with a fixed
pure-Python workload timed in the same test, not with wall-clock constants (a loaded
CI runner slows both alike). Speed itself is tracked by the benchmarks in bench/."""
from __future__ import annotations

import time


def reference_seconds() -> float:
    """Best of three runs of a fixed workload: about 10 ms on an idle machine."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(200_000):
            total += i * i
        best = min(best, time.perf_counter() - started)
    return best


def assert_quick(elapsed: float, references: float, what: str) -> None:
    """`elapsed` must be under `references` times the reference workload (measured
    now, after the timed work: the machine's state at the same moment)."""
    unit = reference_seconds()
    assert elapsed < references * unit, (
        f"{what} took {elapsed * 1000:.1f} ms: {elapsed / unit:.1f} times the reference "
        f"workload ({unit * 1000:.1f} ms), more than {references}")
