"""What is measured: a target shape, how it is looked at (live or a core), options.

Each scenario also says what a correct dump must contain, so that a tool that prints
an error message quickly, or half the threads, is reported as "wrong" instead of
winning the race.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

REMOTE, KERNEL_CORE, GCORE = "remote", "kernel core", "gcore"


@dataclass(frozen=True)
class Check:
    """At least `minimum` matches of `pattern` in the tool's standard output."""

    pattern: str
    minimum: int
    what: str

    def failure(self, output: str) -> str:
        """Empty when satisfied, else why not."""
        found = len(re.findall(self.pattern, output))
        if found >= self.minimum:
            return ""
        return f"{self.what}: found {found} of {self.minimum}"


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    target_args: tuple[str, ...]
    source: str = REMOTE
    locals: bool = False
    native: bool = False
    json: bool = False  # a JSON document instead of text (tools that have one)
    #: ours with elfutils hidden (its own .eh_frame unwinder); the peers as they are
    without_libdw: bool = False
    #: ours without its frame cache (every run reads DWARF, as a first run does)
    cold: bool = False
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def is_core(self) -> bool:
        return self.source != REMOTE


def _threads(count: int) -> Check:
    return Check(r"\bbench_leaf\b", count, "threads parked in bench_leaf")


LOCALS = Check(r"bench_local_marker", 3, "the local bench_local_marker")
NATIVE = Check(r"libc[.-]|pthread_|futex|__clone", 1, "native frames (libc)")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("threads3", "live process, 3 threads", ("--threads", "3"),
             checks=(_threads(3),)),
    Scenario("threads100", "live process, 100 threads", ("--threads", "100"),
             checks=(_threads(100),)),
    Scenario("json100", "live process, 100 threads, as JSON", ("--threads", "100"),
             json=True, checks=(_threads(100),)),
    Scenario("deep1000", "live process, 1 thread 1000 frames deep",
             ("--threads", "1", "--depth", "1000"),
             checks=(Check(r"\bbench_recurse\b", 1000, "bench_recurse frames"),)),
    Scenario("locals", "live process, 3 threads, --locals", ("--threads", "3"),
             locals=True, checks=(_threads(3), LOCALS)),
    Scenario("native", "live process, 3 threads, --native", ("--threads", "3"),
             native=True, checks=(_threads(3), NATIVE)),
    Scenario("native-cold", "live process, 3 threads, --native, ours without its cache",
             ("--threads", "3"), native=True, cold=True, checks=(_threads(3), NATIVE)),
    Scenario("native-nolibdw", "live process, 3 threads, --native, ours without libdw",
             ("--threads", "3"), native=True, without_libdw=True,
             checks=(_threads(3), NATIVE)),
    Scenario("core-kernel", "kernel core (SIGABRT) of a 3-thread process",
             ("--threads", "3"), source=KERNEL_CORE, checks=(_threads(3),)),
    Scenario("core-gcore", "gcore core of a 3-thread process", ("--threads", "3"),
             source=GCORE, checks=(_threads(3),)),
    Scenario("core-sparse", "kernel core of a 100-thread process with 1 GiB untouched",
             ("--threads", "100", "--sparse-mb", "1024"), source=KERNEL_CORE,
             checks=(_threads(100),)),
    Scenario("core-native-cold", "kernel core of a 3-thread process, --native, no cache",
             ("--threads", "3"), source=KERNEL_CORE, native=True, cold=True,
             checks=(_threads(3), NATIVE)),
    Scenario("core-native", "kernel core of a 3-thread process, --native",
             ("--threads", "3"), source=KERNEL_CORE, native=True,
             checks=(_threads(3), NATIVE)),
)


def select(names: list[str]) -> list[Scenario]:
    """Scenarios by name, in the order given; all of them for an empty list."""
    if not names:
        return list(SCENARIOS)
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; "
                         f"known: {', '.join(known)}")
    return [known[n] for n in names]
