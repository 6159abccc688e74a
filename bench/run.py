#!/usr/bin/env python3
"""Benchmark our pystack against Bloomberg's pystack, py-spy and gdb (issue 7).

    python3 bench/run.py [--quick] [--python 3.11,3.14] [--scenarios a,b] [--markdown]

Starts each scenario's target under each interpreter of .targets/manifest.json, times
every tool on it in alternating rounds and prints the medians, the peak memory and the
ratio ours/peer. Run as root: the tools ptrace the targets and the kernel-core
scenarios may set kernel.core_pattern for the run (and put it back). See README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import interpreters  # noqa: E402
import peers as peer_setup  # noqa: E402
import report  # noqa: E402
import scenarios  # noqa: E402
import targets  # noqa: E402
import tools  # noqa: E402
from measure import run_once as measure_once  # noqa: E402
from runner import ScenarioResult, Settings, measure  # noqa: E402

REPO = os.path.dirname(HERE)
MANIFEST = os.path.join(REPO, ".targets", "manifest.json")
RESULTS = os.path.join(HERE, "results")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 timed runs per tool, not 7")
    parser.add_argument("--runs", type=int, help="timed runs per tool (overrides --quick)")
    parser.add_argument("--python", default="3.11,3.14",
                        help="versions (3.11) or manifest names (sid-3.14d), comma-separated")
    parser.add_argument("--scenarios", nargs="*", default=[],
                        help="scenario names, comma- or space-separated (default: all)")
    parser.add_argument("--tools", default=",".join(tools.ALL_TOOLS),
                        help="which tools to run (default: %(default)s)")
    parser.add_argument("--markdown", action="store_true",
                        help="print Markdown and write bench/results/latest.md")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds before one tool run is killed (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch dirs and cores")
    parser.add_argument("--upgrade-peers", action="store_true",
                        help="reinstall the newest Bloomberg pystack and py-spy")
    parser.add_argument("--manifest", default=MANIFEST, help="interpreter manifest")
    parser.add_argument("--list", action="store_true", help="list scenarios and interpreters")
    return parser.parse_args(argv)


def _split(values: list[str]) -> list[str]:
    return [v for value in values for v in value.split(",") if v]


def list_everything(manifest: str) -> None:
    for s in scenarios.SCENARIOS:
        print(f"{s.name:12} {s.summary}")
    print()
    for i in interpreters.load_manifest(manifest):
        print(f"{i.name:16} {i.version:8} {i.root}")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """Unwind like ^C does, so targets are killed and core_pattern is put back."""
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse_args(argv)
    if args.list:
        list_everything(args.manifest)
        return 0
    try:
        chosen_scenarios = scenarios.select(_split(args.scenarios))
        chosen_interps = interpreters.select(interpreters.load_manifest(args.manifest),
                                             _split([args.python]))
        tool_names = _tools(args.tools)
    except ValueError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("run.py: warning: not root; ptrace and cores will likely fail", file=sys.stderr)
    settings = Settings(runs=args.runs or (3 if args.quick else 7), timeout=args.timeout,
                        keep=args.keep, tools=tool_names)
    peers = peer_setup.ensure(os.path.join(HERE, ".venv-peers"), upgrade=args.upgrade_peers)
    peers.our_script = peer_setup.our_script(os.path.join(HERE, ".venv-ours"))
    started = datetime.datetime.now()
    results = run_all(chosen_interps, chosen_scenarios, peers, settings)
    elapsed = (datetime.datetime.now() - started).total_seconds()
    table = report.build(results, tool_names)
    about = describe(chosen_interps, peers, settings, elapsed)
    about.append(start_up_floor(peers, settings))
    print()
    print(report.as_markdown(table) if args.markdown else report.as_text(table))
    print()
    print("\n".join(about))
    write_raw(results, about)
    if args.markdown:
        write_latest(table, about, argv)
    return 0


def _tools(spec: str) -> tuple[str, ...]:
    names = tuple(t for t in spec.split(",") if t)
    unknown = [t for t in names if t not in tools.ALL_TOOLS]
    if unknown:
        raise ValueError(f"unknown tool(s) {', '.join(unknown)}; known: "
                         f"{', '.join(tools.ALL_TOOLS)}")
    return tuple(t for t in tools.ALL_TOOLS if t in names)


def run_all(interps: list[interpreters.Interpreter], chosen: list[scenarios.Scenario],
            peers: peer_setup.Peers, settings: Settings) -> list[ScenarioResult]:
    """Every scenario under every interpreter, with kernel cores written where we look."""
    needs_cores = any(s.source == scenarios.KERNEL_CORE for s in chosen)
    results = []
    with targets.cores_in_working_directory() if needs_cores else contextlib.nullcontext() as replaced:
        if replaced:
            print(f"core_pattern {replaced!r} set to 'core.%p' for the run", file=sys.stderr)
        for interp in interps:
            for scenario in chosen:
                results.append(measure(interp, scenario, peers, settings))
    return results


def describe(interps: list[interpreters.Interpreter], peers: peer_setup.Peers,
             settings: Settings, elapsed: float) -> list[str]:
    """The lines naming the machine, the interpreters and every tool's version."""
    gdbs = tools.gdb_versions(interps) if tools.GDB in settings.tools else {}
    peer_versions = [f"Bloomberg pystack {peers.versions.get('bloomberg', 'not installed')}",
                     f"py-spy {peers.versions.get('py-spy', 'not installed')}"]
    gdb_text = [f"{v} ({'host' if where == 'host' else 'in ' + where})"
                for where, v in gdbs.items()]
    return [
        f"Machine: {report.machine_line()}.",
        "Targets: " + ", ".join(f"CPython {i.version} ({i.name})" for i in interps) + ".",
        f"Tools (both pystacks on Python {sys.version.split()[0]}, each in a clean venv): "
        f"pystack (ours) {_our_version()}; "
        + "; ".join(peer_versions + gdb_text) + ".",
        f"Each cell: median wall time and median peak RSS of {settings.runs} timed runs "
        f"after one warm-up; ratios are ours/peer (below 1: ours is faster). "
        f"Whole run: {elapsed / 60:.1f} min.",
    ]


def start_up_floor(peers: peer_setup.Peers, settings: Settings) -> str:
    """What any Python tool started the way both pystacks are pays before its own code.

    pip's console script is an interpreter start in a venv plus `import re`; timed the
    same way as the tools, it is the floor under every Python-only cell of the table.
    """
    if not peers.our_script:
        return ""
    python = os.path.join(os.path.dirname(peers.our_script), "python")
    argv = [python, "-c", "import re, sys"]
    env = tools.base_env()
    measure_once(argv, env, settings.timeout, HERE)  # warm-up
    runs = sorted(measure_once(argv, env, settings.timeout, HERE).seconds
                  for _ in range(settings.runs))
    return (f"Start-up floor (a venv interpreter running pip's console-script preamble, "
            f"`import re`): median {runs[len(runs) // 2]:.3f} s.")


def _our_version() -> str:
    sys.path.insert(0, os.path.join(REPO, "src"))
    try:
        from pystack import __version__
    finally:
        sys.path.pop(0)
    commit = _git("rev-parse", "--short", "HEAD")
    if not commit:
        return __version__
    dirty = _git("status", "--porcelain", "--", "src")
    return f"{__version__} (git {commit}{', with uncommitted changes in src/' if dirty else ''})"


def _git(*args: str) -> str:
    """A read-only git query about the repo; empty when git cannot answer."""
    try:
        return subprocess.run(["git", "-C", REPO, *args], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return ""


def write_raw(results: list[ScenarioResult], about: list[str]) -> None:
    """Every timing, for whoever wants more than medians (not kept in git)."""
    os.makedirs(RESULTS, exist_ok=True)
    data = {"about": about, "results": [
        {"python": r.interp.name, "version": r.interp.version, "scenario": r.scenario.name,
         "error": r.error, "notes": r.notes,
         "tools": {t: {"status": o.status, "reason": o.reason, "seconds": o.seconds,
                       "cpu_seconds": o.cpu_seconds, "max_rss_kb": o.rss_kb} for t, o in r.tools.items()}}
        for r in results]}
    with open(os.path.join(RESULTS, "last-run.json"), "w") as f:
        json.dump(data, f, indent=1)


def write_latest(table: report.Table, about: list[str], argv: list[str]) -> None:
    """bench/results/latest.md: what README.md quotes."""
    command = " ".join(["python3 bench/run.py", *argv])
    text = "\n".join([f"# Benchmark results ({datetime.date.today().isoformat()})", "",
                      f"`{command}`", "", report.as_markdown(table), "", *about, ""])
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(text)
    print(f"\nwrote {os.path.relpath(os.path.join(RESULTS, 'latest.md'), os.getcwd())}",
          file=sys.stderr)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("run.py: interrupted", file=sys.stderr)
        sys.exit(130)
