"""A long mutation loop over real cores and libpython copies (not collected by pytest).

    python3 tests/fuzz/run_long.py --minutes 10 [--seed N] [--out /tmp/pystack-fuzz]

Makes small gcore cores of a pyenv 3.11 and 2.7 target (see fuzzlib), then until the
time is up mutates either a core (notes, program headers, interpreter structures,
truncation...) or the libpython that a good core loads through --lib-search-root, and
runs `pystack core` in-process on it. Any escaped exception, hang, memory blow-up or
malformed output is saved as a reproducer (the mutated file and a .txt describing the
run) under --out. Prints a summary at the end; exits 1 if anything was found.
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fuzzlib  # noqa: E402
import elfmut  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", default="/tmp/pystack-fuzz")
    parser.add_argument("--keep", type=int, default=3,
                        help="reproducers kept per kind of failure")
    parser.add_argument("--locals-share", type=float, default=0.0,
                        help="fraction of core runs made with --locals")
    parser.add_argument("--elf-share", type=float, default=0.25,
                        help="fraction of iterations that mutate libpython, not the core")
    args = parser.parse_args(argv)
    why = fuzzlib.have_tools()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="pystack-fuzz-")
    print(f"seed {seed}; work dir {work}; reproducers go to {args.out}", flush=True)
    try:
        subjects = [fuzzlib.build_subject(name, work) for name in fuzzlib.PYTHONS]
        elf_subjects = [elfmut.ElfSubject.build(s, os.path.join(work, f"root-{s.name}"))
                        for s in subjects]
        return loop(args, rng, work, subjects, elf_subjects)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def loop(args, rng, work, subjects, elf_subjects) -> int:
    stop = time.time() + args.minutes * 60
    path = os.path.join(work, "mutated.core")
    counts = collections.Counter()
    exits = collections.Counter()
    slowest = (0.0, None)
    peak_growth = 0
    found = []
    signatures = collections.Counter()
    outcomes = collections.Counter()
    baselines = {s.name: fuzzlib.parse_frames(s.baseline) for s in subjects}
    outside = collections.Counter()
    last_report = time.time()
    while time.time() < stop:
        if rng.random() < args.elf_share:
            es = rng.choice(elf_subjects)
            ops = es.random_ops(rng)
            with es.mutated(ops):
                result = fuzzlib.guarded_run(es.argv())
            repro_bytes = (lambda es=es, ops=ops: es.current_bytes(ops))
            subject, kind, extra = es.subject, "elf", es.argv()[2:]
        else:
            subject = rng.choice(subjects)
            ops = fuzzlib.random_ops(subject, rng)
            data = fuzzlib.mutated(subject, ops)
            repro_bytes = (lambda data=data: data)
            with open(path, "wb") as f:
                f.write(data)
            argv = ["core", path, subject.exe]
            if rng.random() < args.locals_share:
                argv.append("--locals")
            result = fuzzlib.guarded_run(argv)
            kind, extra = "core", argv[3:]
        counts[f"{kind}-{subject.name}"] += 1
        exits[result.rc if result.rc is not None else "none"] += 1
        peak_growth = max(peak_growth, result.rss_growth)
        if result.elapsed > slowest[0]:
            slowest = (result.elapsed, f"{kind}-{subject.name} {ops}")
        if "(corrupted frame at 0x" in result.stdout:
            outcomes["some frames marked corrupted"] += 1
        if result.rc == 0 and fuzzlib.parse_frames(result.stdout) != baselines[subject.name]:
            outcomes["exit 0, stacks differ from the unmutated core"] += 1
        known = fuzzlib.known_outside(result)
        if known:
            outside[" ".join(known)] += 1
        problems = fuzzlib.output_problems(result)
        if problems:
            sig = fuzzlib.signature(result)
            signatures[sig] += 1
            if signatures[sig] <= args.keep:  # a few reproducers of each kind
                repro = fuzzlib.save_reproducer(args.out, subject, ops, repro_bytes(),
                                                result, extra)
                found.append((problems, repro))
                print(f"FOUND [{sig}] {problems[0][:200]} -> {repro}", flush=True)
        if time.time() - last_report > 60:
            last_report = time.time()
            print(f"... {sum(counts.values())} runs, {sum(signatures.values())} problems",
                  flush=True)
    total = sum(counts.values())
    minutes = args.minutes
    print(f"\n{total} runs in {minutes:g} min ({total / (minutes * 60):.1f}/s): "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print("exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(exits.items(), key=str)))
    print(f"slowest run {slowest[0]:.2f} s ({str(slowest[1])[:300]})")
    print(f"largest peak-RSS growth during a run: {peak_growth >> 20} MiB")
    print("outcomes: " + ", ".join(f"{k}: {v}" for k, v in outcomes.items()))
    print(f"problems: {sum(signatures.values())} runs"
          + "".join(f"\n  {n:6d}  {sig}" for sig, n in signatures.most_common()))
    if outside:
        print("known issues outside this issue's files (not counted as problems): "
              + ", ".join(f"{k}: {v}" for k, v in outside.items()))
    for problems, repro in found[:30]:
        print(f"  {repro}: {problems[0][:160]}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
