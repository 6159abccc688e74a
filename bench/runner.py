"""Measure every tool on one scenario under one interpreter.

Each tool first runs once untimed: that warms the page cache and, for the two
pystacks, writes their bytecode caches, and it tells whether the tool answers at all.
Only tools whose warm-up printed a correct dump are then timed, in N rounds whose order
rotates so that no tool always runs first (or right after another) on the target.
"""
from __future__ import annotations

import contextlib
import statistics
import sys
from dataclasses import dataclass, field
from typing import Iterator, Optional

import targets
import tools
from interpreters import Interpreter
from measure import Run, run_once
from peers import Peers
from scenarios import GCORE, KERNEL_CORE, Scenario

OK, NOT_SUPPORTED, NA, DASH = "ok", "not supported yet", "n/a", "—"
FAIL, WRONG, TIMEOUT = "fail", "wrong", "timeout"
EXIT_NOT_SUPPORTED = 64  # our CLI's status for an option not implemented yet


@dataclass
class ToolResult:
    """How one tool did: a status, why (unless ok), and the timed runs."""

    tool: str
    status: str
    reason: str = ""
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)

    @property
    def median_seconds(self) -> Optional[float]:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def median_rss_mb(self) -> Optional[float]:
        return statistics.median(self.rss_kb) / 1024 if self.rss_kb else None


@dataclass
class ScenarioResult:
    interp: Interpreter
    scenario: Scenario
    tools: dict[str, ToolResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str = ""  # the target itself failed: nothing was measured


@dataclass
class Settings:
    runs: int
    timeout: float
    keep: bool
    tools: tuple[str, ...]


def measure(interp: Interpreter, scenario: Scenario, peers: Peers,
            settings: Settings) -> ScenarioResult:
    """Start the target (and make its core), then time every tool on it."""
    result = ScenarioResult(interp, scenario)
    try:
        with targets.workspace(interp, keep=settings.keep) as space:
            with _subject(interp, scenario, space, result) as subject:
                _measure_tools(scenario, subject, peers, settings, result)
            if settings.keep:
                result.notes.append(f"kept {space.host}")
    except targets.TargetError as exc:
        result.error = str(exc)
    except Exception as exc:  # one broken scenario must not cost the others' results
        result.error = f"harness error: {type(exc).__name__}: {exc}"
    return result


@contextlib.contextmanager
def _subject(interp: Interpreter, scenario: Scenario, space: targets.Workspace,
             result: ScenarioResult) -> Iterator[tools.Subject]:
    """A live target for remote scenarios; for core ones, a core of a dead one."""
    dump = scenario.source == KERNEL_CORE
    with targets.started(space, scenario.target_args, dump_core=dump) as target:
        if scenario.source == KERNEL_CORE:
            core = targets.kernel_core(target, space)
        elif scenario.source == GCORE:
            core = targets.gcore(target, space)
        else:
            yield tools.Subject(interp, space, pid=target.pid)
            return
        target.stop()
    apparent, allocated = targets.disk_usage(core)
    result.notes.append(f"core: {_size(apparent)} apparent, {_size(allocated)} on disk")
    yield tools.Subject(interp, space, core=core)


def _size(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def _measure_tools(scenario: Scenario, subject: tools.Subject, peers: Peers,
                   settings: Settings, result: ScenarioResult) -> None:
    commands = {}
    for tool in settings.tools:
        try:
            commands[tool] = tools.command(tool, scenario, subject, peers)
        except tools.NotApplicable as exc:
            result.tools[tool] = ToolResult(tool, DASH, str(exc))
        except tools.Unavailable as exc:
            result.tools[tool] = ToolResult(tool, NA, str(exc))
        except OSError as exc:  # e.g. staging py-spy into the root
            result.tools[tool] = ToolResult(tool, NA, f"could not prepare: {exc}")
    for tool, (argv, env) in commands.items():
        result.tools[tool] = _warm_up(tool, argv, env, scenario, subject, settings)
    timed = [t for t in commands if result.tools[t].status == OK]
    for round_no in range(settings.runs):
        shift = round_no % len(timed) if timed else 0
        for tool in timed[shift:] + timed[:shift]:
            _timed_run(result.tools[tool], commands[tool], scenario, subject, settings)
    for tool in timed:
        outcome = result.tools[tool]
        if outcome.status == OK:
            _progress(subject.interp, scenario, tool,
                      f"median {outcome.median_seconds:.3f} s of {len(outcome.seconds)} "
                      f"(CPU {statistics.median(outcome.cpu_seconds):.3f} s), "
                      f"{outcome.median_rss_mb:.0f} MB")
        else:
            _progress(subject.interp, scenario, tool, f"{outcome.status} ({outcome.reason})")


def _warm_up(tool: str, argv: list[str], env: dict[str, str], scenario: Scenario,
             subject: tools.Subject, settings: Settings) -> ToolResult:
    try:
        run = run_once(argv, env, settings.timeout, cwd=subject.space.host)
    except OSError as exc:
        _progress(subject.interp, scenario, tool, f"could not run {argv[0]}: {exc}")
        return ToolResult(tool, FAIL, f"could not run {argv[0]}: {exc.strerror or exc}")
    status, reason = judge(tool, run, scenario)
    _progress(subject.interp, scenario, tool, f"warm-up {run.seconds:.3f} s: {status}"
              + (f" ({reason})" if reason else ""))
    return ToolResult(tool, status, reason)


def _timed_run(outcome: ToolResult, command: tuple[list[str], dict[str, str]],
               scenario: Scenario, subject: tools.Subject, settings: Settings) -> None:
    """One timed run; a run that goes wrong turns the whole result to that status."""
    if outcome.status != OK:
        return
    argv, env = command
    run = run_once(argv, env, settings.timeout, cwd=subject.space.host)
    status, reason = judge(outcome.tool, run, scenario)
    if status != OK:
        outcome.status, outcome.reason = status, f"run {len(outcome.seconds) + 1}: {reason}"
        return
    outcome.seconds.append(run.seconds)
    outcome.cpu_seconds.append(run.cpu_seconds)
    outcome.rss_kb.append(run.max_rss_kb)


def judge(tool: str, run: Run, scenario: Scenario) -> tuple[str, str]:
    """Status and reason of one run: did it finish, succeed, and print the stacks?"""
    if run.timed_out:
        return TIMEOUT, f"killed after {run.seconds:.0f} s"
    if tool == tools.OURS and run.returncode == EXIT_NOT_SUPPORTED:
        return NOT_SUPPORTED, _complaint(run)
    if run.returncode != 0:
        return FAIL, f"exit {run.returncode}: {_complaint(run)}"
    problems = [p for p in (c.failure(run.stdout) for c in scenario.checks) if p]
    if problems:
        return WRONG, "; ".join(problems) + _hint(run)
    return OK, ""


def _complaint(run: Run) -> str:
    """The line of stderr that says what went wrong (py-spy's is the first)."""
    lines = [l.strip() for l in (run.stderr or run.stdout).splitlines() if l.strip()]
    errors = [l for l in lines if l.lower().startswith(("error", "pystack: error"))]
    line = errors[0] if errors else (lines[-1] if lines else "no output")
    return line[:160]


def _hint(run: Run) -> str:
    """For a wrong dump, a telling line of it, when there is one."""
    markers = ("Unable to", "unable to", "Error", "error")
    for line in run.stdout.splitlines():
        if any(m in line for m in markers):
            return f' (it said: "{line.strip()[:100]}")'
    return ""


def _progress(interp: Interpreter, scenario: Scenario, tool: str, message: str) -> None:
    print(f"[{interp.name} {scenario.name}] {tool}: {message}", file=sys.stderr, flush=True)
