#!/usr/bin/env python3
"""Record, per interpreter, what a dump reads from real targets, for in-process replay.

For each interpreter (one build per CPython version, and sid's debug 3.14), the
targets of the integration tests are started and stopped once each:

- `stacks`: stacks.py, every shape of blocked thread, with its own report of its
  threads and frames (`sys._current_frames()`, `co_positions()` on 3.11+, the names
  of each function's arguments and variables), dumped without and with --locals;
- `locals`: status.py's `locals` mode, a frame full of locals and a thread that spins
  holding the GIL, dumped with --locals at three value lengths;
- `zoo`: test_reprs_live's zoo of values with the target's own `repr()` of each,
  every value rendered with an unlimited and with the default budget;
- `gc`: status.py's `gc` mode, a thread stopped inside a garbage collection (3.7+);
- `subinterp`: subinterp.py, threads that entered subinterpreters (some nested, from
  3.6), with what each part reported from inside its own interpreter;
- `corrupt-DAMAGE`: corrupt.py with each of test_corruption's damages (a frame link
  to garbage or to itself, a code object's filename, a line table cut short), on
  one build of each way of walking frames.

Each recording (tests/unit/data/dumps/NAME.SCENARIO.dump.xz, see tests/recorded.py)
holds only the bytes those dumps read and the target's report, so
tests/unit/test_recorded.py replays them with no interpreter and no ptrace, and
`scripts/mutation.py` can see the CPython model and reprs run. Run it again after a
change to the targets or to what a dump reads (the replay then says which bytes it
missed):

    .venv/bin/python scripts/record_dumps.py [NAME...] [stacks|locals|zoo|gc|corrupt-*...]
"""
from __future__ import annotations

import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "tests"), os.path.join(REPO, "src")]

#: One interpreter per layout: the pyenv builds, and sid's for 3.14 (release and
#: debug) and 3.15. Values beyond this length are checked only with the default
#: budget (their bytes would make the recordings large).
RECORDED = ["pyenv-2.7.18", "pyenv-3.6.15", "pyenv-3.7.16", "pyenv-3.8.18", "pyenv-3.9.18",
            "pyenv-3.10.13", "pyenv-3.11.7", "pyenv-3.12.1", "pyenv-3.13.0", "sid-3.14",
            "sid-3.14d", "sid-3.15"]
LONGEST_FULL = 5000
#: --locals-max-length values the locals dump is made with.
LOCALS_LENGTHS = (100000, 80, 12)


class Recording:
    """One stopped target being recorded: every read of every dump made through it,
    and the interpreter the first dump found."""

    def __init__(self, process) -> None:
        self.process = process
        self.memories: list = []
        self.interpreter = None

    def memory(self):
        """A fresh recording Memory over the target, its reads kept."""
        from recorded import RecordingMemory
        mem = RecordingMemory(self.process)
        self.memories.append(mem)
        return mem

    def dump(self, **options):
        """engine._dump_of over the target, every read noted."""
        from pystack import engine

        def locate(target, mem, method):
            found = real_locate(target, mem, method)
            if self.interpreter is None:
                self.interpreter = found
            return found

        real_memory, real_locate = engine.Memory, engine.locate
        engine.Memory, engine.locate = (lambda target, cache=True: self.memory()), locate
        try:
            return engine._dump_of(self.process, cache=True, **options)
        finally:
            engine.Memory, engine.locate = real_memory, real_locate

    def save(self, out: str, report: dict, name: str, scenario: str, **extra) -> int:
        from recorded import save
        meta = dict(_meta(self.process, self.interpreter, report, name, scenario), **extra)
        return save(out, meta, self.process,
                    [r for mem in self.memories for r in mem.ranges])


def _meta(process, interpreter, report: dict, name: str, scenario: str) -> dict:
    from pystack.cpython.memory import Memory
    from recorded import rebuilt_layout

    layout = rebuilt_layout(Memory(process), interpreter.version, interpreter.runtime)
    assert layout == interpreter.layout, f"{name}: the replay would use another layout"
    return {
        "interpreter": name, "scenario": scenario, "report": report,
        "pid": process.pid, "exe": process.exe,
        "version": list(interpreter.version), "interp_head": interpreter.interp_head,
        "runtime": interpreter.runtime, "current_tstate": interpreter.current_tstate,
        "method": interpreter.method,
        "mappings": [[m.start, m.end, m.offset, m.perms, m.path]
                     for m in process.mappings()],
        "thread_ids": process.thread_ids(),
        "thread_pointers": {str(k): v for k, v in process.thread_pointers().items()},
        "thread_names": {str(t): process.thread_name(t) for t in process.thread_ids()},
    }


def record_stacks(interp: dict, out: str) -> int:
    from integration.targets_util import started
    from pystack.cpython.threads import ThreadReader
    from pystack.target.live import LiveProcess

    with started(interp) as target:
        with LiveProcess(target.pid) as process:
            rec = Recording(process)
            rec.dump(exact_version=True)
            rec.dump(exact_version=True, locals=True)
            # sys.version, which a dump reads only when the binary's name lacks the micro
            ThreadReader(rec.memory(), rec.interpreter).sys_version()
            return rec.save(out, target.report, interp["name"], "stacks")


def record_locals(interp: dict, out: str) -> int:
    from integration.targets_util import wait_until_sleeping
    from integration.test_locals_status import start
    from pystack.target.live import LiveProcess

    proc, report = start(interp, "locals")
    try:
        wait_until_sleeping(report["pid"])
        for _ in range(20):  # 2.7 lets go of the GIL now and then: stop it holding it
            with LiveProcess(report["pid"]) as process:
                rec = Recording(process)
                dumps = [rec.dump(locals=True, max_value_length=n, exact_version=True)
                         for n in LOCALS_LENGTHS]
                spinner = [t for t in dumps[0].threads if t.tid == report["tids"]["spinner"]]
                if not spinner or spinner[0].holds_the_gil <= 0:
                    continue
                return rec.save(out, report, interp["name"], "locals",
                                lengths=list(LOCALS_LENGTHS))
        raise RuntimeError("the spinner never held the GIL when stopped")
    finally:
        proc.kill()
        proc.wait()


def record_zoo(interp: dict, out: str) -> int:
    from integration.test_reprs_live import _start
    from pystack.cpython.locate import locate
    from pystack.cpython.objects import Objects
    from pystack.cpython.reprs import render
    from pystack.target.live import LiveProcess
    from recorded import OPTIONAL_KINDS, without

    proc, report, host_dir = _start(interp)
    try:
        with LiveProcess(report["pid"]) as process:
            rec = Recording(process)
            mem = rec.memory()
            interpreter = rec.interpreter = locate(process, mem)
            objs = Objects(mem, interpreter.layout)
            values = []
            for label, address, expected, check, truncated in report["values"]:
                full = not truncated and len(expected) <= LONGEST_FULL
                if full:
                    render(objs, address, max_len=10 ** 6)
                render(objs, address)
                values.append([label, address, expected, check, truncated, full])
            for field, start in OPTIONAL_KINDS.items():  # as a version without it
                stripped = Objects(mem, without(interpreter.layout, field))
                for label, address, expected, check, truncated in report["values"]:
                    if expected.startswith(start):
                        render(stripped, address)
            return rec.save(out, dict(report, values=values), interp["name"], "zoo")
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(host_dir, ignore_errors=True)


def record_gc(interp: dict, out: str) -> int:
    from integration.targets_util import wait_until_sleeping
    from integration.test_locals_status import start
    from pystack.target.live import LiveProcess

    proc, report = start(interp, "gc")
    try:
        wait_until_sleeping(report["pid"], tid=report["tids"]["collector"])
        with LiveProcess(report["pid"]) as process:
            rec = Recording(process)
            rec.dump()
            return rec.save(out, report, interp["name"], "gc")
    finally:
        proc.kill()
        proc.wait()


def record_subinterp(interp: dict, out: str) -> int:
    from integration.targets_util import started
    from integration.test_subinterpreters import settled
    from pystack.target.live import LiveProcess

    with started(interp, "subinterp.py") as target:
        settled(target)
        with LiveProcess(target.pid) as process:
            rec = Recording(process)
            rec.dump()
            return rec.save(out, target.report, interp["name"], "subinterp")


def record_corrupt(interp: dict, out: str, damage: str) -> int:
    import json
    from integration.targets_util import started
    from integration.test_corruption import offsets
    from pystack.target.live import LiveProcess

    env = {"TARGET_DAMAGE": damage, "TARGET_OFFSETS": json.dumps(offsets(interp["version"]))}
    with started(interp, script="corrupt.py", env=env) as target:
        with LiveProcess(target.pid) as process:
            rec = Recording(process)
            rec.dump()
            return rec.save(out, target.report, interp["name"], "corrupt-" + damage)


SCENARIOS = {"stacks": record_stacks, "locals": record_locals, "zoo": record_zoo,
             "gc": record_gc, "subinterp": record_subinterp}
#: test_corruption's damages, on one build of each way of walking frames (frame
#: objects; 3.11, 3.12 and 3.13's interpreter frames; 3.14's tagged pointers).
CORRUPT_RECORDED = ["pyenv-2.7.18", "pyenv-3.10.13", "pyenv-3.11.7", "pyenv-3.12.1",
                    "pyenv-3.13.0", "sid-3.14"]
for _damage in ("back-garbage", "back-self", "filename", "linetable"):
    SCENARIOS["corrupt-" + _damage] = (
        lambda interp, out, damage=_damage: record_corrupt(interp, out, damage))


def main(argv: list) -> int:
    from conftest import INTERPRETERS
    from recorded import DATA

    scenarios = [a for a in argv if a in SCENARIOS] or list(SCENARIOS)
    wanted = [a for a in argv if a not in SCENARIOS] or RECORDED
    os.makedirs(DATA, exist_ok=True)
    by_name = {i["name"]: i for i in INTERPRETERS}
    missing = [n for n in wanted if n not in by_name]
    if missing:
        print(f"not provisioned here: {', '.join(missing)} "
              "(run scripts/provision_targets.py)", file=sys.stderr)
        return 1
    total = 0
    for name in wanted:
        for scenario in scenarios:
            if scenario.startswith("corrupt-") and name not in CORRUPT_RECORDED:
                continue
            if scenario == "gc" and name in ("pyenv-2.7.18", "pyenv-3.6.15"):
                continue  # their collecting flag is a static of gcmodule.c
            if scenario == "subinterp" and name == "pyenv-2.7.18":
                continue  # (its subinterpreters are made in C only)
            record = SCENARIOS[scenario]
            out = os.path.join(DATA, f"{name}.{scenario}.dump.xz")
            size = record(by_name[name], out)
            total += size
            print(f"{name} {scenario}: {size:,} bytes")
    print(f"{total:,} bytes in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
