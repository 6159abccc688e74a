"""Tables of results: plain text for the terminal, Markdown for README.md.

A cell holds the median wall time and median peak RSS of the timed runs, or why
there are none: "—" (the tool does not do this), "n/a" (it could not run here),
"not supported yet" (our CLI's exit 64), "fail", "wrong" (it printed something other
than the stacks) or "timeout"; the reasons are numbered notes under the table. A ratio
is ours/peer of the medians: below 1 means ours is faster.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from typing import Optional

from runner import DASH, NOT_SUPPORTED, OK, ScenarioResult, ToolResult
from tools import BLOOMBERG, GDB, LABELS, OURS, PYSPY

PEERS = (BLOOMBERG, PYSPY, GDB)


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> str:
        """A numbered note; the same text gets the same number."""
        if text not in self.notes:
            self.notes.append(text)
        return f"[{self.notes.index(text) + 1}]"


def build(results: list[ScenarioResult], tool_names: tuple[str, ...]) -> Table:
    peers = [p for p in PEERS if p in tool_names]
    header = ["python", "scenario"] + [LABELS[t] for t in tool_names]
    if OURS in tool_names:
        header += [f"ours/{LABELS[p].split()[0] if p != GDB else 'gdb'}" for p in peers]
    table = Table(header)
    for result in results:
        table.rows.append(_row(result, tool_names, peers, table))
    return table


def _row(result: ScenarioResult, tool_names: tuple[str, ...], peers: list[str],
         table: Table) -> list[str]:
    row = [result.interp.name, result.scenario.name]
    if result.error:
        mark = table.note(f"{result.interp.name} {result.scenario.name}: {result.error}")
        return row + [f"target failed {mark}"] + [""] * (len(table.header) - 3)
    for note in result.notes:
        table.note(f"{result.interp.name} {result.scenario.name}: {note}")
    row += [_cell(result, result.tools.get(t), table) for t in tool_names]
    if OURS in tool_names:
        ours = result.tools.get(OURS)
        row += [_ratio(ours, result.tools.get(p)) for p in peers]
    return row


def _cell(result: ScenarioResult, outcome: Optional[ToolResult], table: Table) -> str:
    if outcome is None or outcome.status == DASH:
        return DASH
    if outcome.status == OK:
        return f"{outcome.median_seconds:.3f} s, {outcome.median_rss_mb:.0f} MB"
    if outcome.status == NOT_SUPPORTED:
        return NOT_SUPPORTED
    label = LABELS[outcome.tool]
    mark = table.note(f"{result.interp.name} {result.scenario.name}, {label}: "
                      f"{outcome.status}: {outcome.reason}")
    return f"{outcome.status} {mark}"


def _ratio(ours: Optional[ToolResult], peer: Optional[ToolResult]) -> str:
    if not ours or not peer or ours.status != OK or peer.status != OK:
        return ""
    return f"{ours.median_seconds / peer.median_seconds:.2f}"


def as_text(table: Table) -> str:
    widths = [max(len(r[i]) for r in [table.header] + table.rows)
              for i in range(len(table.header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
             for r in [table.header, ["-" * w for w in widths]] + table.rows]
    return "\n".join(lines + _numbered(table.notes))


def as_markdown(table: Table) -> str:
    lines = ["| " + " | ".join(table.header) + " |",
             "|" + "|".join(" --- " for _ in table.header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in table.rows]
    notes = _numbered(table.notes)
    return "\n".join(lines + ([""] + notes if notes else []))


def _numbered(notes: list[str]) -> list[str]:
    return [f"[{i}] {n}" for i, n in enumerate(notes, 1)]


def machine_line() -> str:
    """What it ran on: kernel, CPU, cores, memory."""
    u = os.uname()
    return (f"{u.sysname} {u.release} {u.machine}; {_cpu_model()}, {os.cpu_count()} cores, "
            f"{_memory_gib():.0f} GiB RAM")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0
