"""Parse pystack's text output back into threads and frames, for comparisons."""
from __future__ import annotations

import re

HEADER = re.compile(r"^Traceback for thread (\d+)(?: \((.*)\))? \[(.*)\] \(most recent call last\):$")
EMPTY = re.compile(r"^The frame stack for thread (\d+)(?: \((.*)\))? is empty$")
FRAME = re.compile(r'^    \(Python\) File "(.*)", line (\d+), in (.*)$')


def parse(text: str) -> dict[int, dict]:
    threads: dict[int, dict] = {}
    current = None
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            current = {"name": m.group(2), "status": m.group(3), "frames": []}
            threads[int(m.group(1))] = current
            continue
        m = EMPTY.match(line)
        if m:
            threads[int(m.group(1))] = {"name": m.group(2), "status": "", "frames": []}
            current = None
            continue
        m = FRAME.match(line)
        if m and current is not None:
            current["frames"].append({"file": m.group(1), "line": int(m.group(2)),
                                      "name": m.group(3)})
    return threads


def expand_numbers(text: str) -> list[int]:
    """`101-104, 110` (a --group header's tids or pids) as the numbers it stands for."""
    out: list[int] = []
    for part in text.split(", "):
        first, _, last = part.partition("-")
        out += range(int(first), int(last or first) + 1)
    return out
