"""Parse pystack's text output back into threads and frames, for comparisons."""
from __future__ import annotations

import re

HEADER = re.compile(r"^Traceback for thread (\d+)(?: \((.*)\))? \[(.*)\] \(most recent call last\):$")
EMPTY = re.compile(r"^The frame stack for thread (\d+)(?: \((.*)\))? is empty$")
FRAME = re.compile(r'^    \(Python\) File "(.*)", line (\d+), in (.*)$')
NATIVE = re.compile(r'^    \(C\) File "(.*)", line (\d+), in (.*) \((.*)\)$')
VARIABLES = re.compile(r"^      (Arguments|Locals):$")



def parse(text: str) -> dict[int, dict]:
    """tid -> {name, status, frames: [{file, line, name, code, variables}], native:
    [lines], others: [every other line of the block]}: `code` is the source line
    printed under a frame (None when none is), `variables` its --locals lines;
    corruption markers, notices and the like land in `others`, so a comparison can
    insist there are none."""
    threads: dict[int, dict] = {}
    current = None
    last = None
    variables = None  # the frame whose --locals lines are being read
    for line in text.splitlines():
        if variables is not None:
            if VARIABLES.match(line) or line.startswith(" " * 8):
                variables["variables"].append(line.strip())
                continue
            variables = None
        m = HEADER.match(line)
        if m:
            current = {"name": m.group(2), "status": m.group(3), "frames": [],
                       "native": [], "others": []}
            threads[int(m.group(1))] = current
            last = None
            continue
        m = EMPTY.match(line)
        if m:
            threads[int(m.group(1))] = {"name": m.group(2), "status": "", "frames": [],
                                        "native": [], "others": []}
            current = last = None
            continue
        if current is None:
            continue
        m = FRAME.match(line)
        if m:
            last = {"file": m.group(1), "line": int(m.group(2)), "name": m.group(3),
                    "code": None, "variables": []}
            current["frames"].append(last)
        elif VARIABLES.match(line) and current["frames"]:
            variables = current["frames"][-1]
            variables["variables"].append(line.strip())
            last = None
        elif NATIVE.match(line):
            current["native"].append(line)
            last = None
        elif last is not None and last["code"] is None and line.startswith(" " * 8) \
                and not line.startswith(" " * 9):
            last["code"] = line.strip()
            last = None  # what follows (locals) is not source
        elif line.strip():
            current["others"].append(line)
            last = None
        else:
            current = last = None  # a blank line ends the block
    return threads


def expand_numbers(text: str) -> list[int]:
    """`101-104, 110` (a --group header's tids or pids) as the numbers it stands for."""
    out: list[int] = []
    for part in text.split(", "):
        first, _, last = part.partition("-")
        out += range(int(first), int(last or first) + 1)
    return out


SECTION = re.compile(r"^  (In the main interpreter|In interpreter \d+|In a subinterpreter)"
                     r"(?: \[(.*)\])?:$")


def parse_sections(text: str) -> dict[int, dict]:
    """Threads as blocks of sections (one per interpreter the thread entered), each
    with its label, status, Python frames (source line included: None when none is
    printed) and native frame lines; frames before any label form an unlabelled
    section."""
    threads: dict[int, dict] = {}
    section = None
    thread = None
    last = None
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            thread = {"name": m.group(2), "status": m.group(3), "sections": []}
            threads[int(m.group(1))] = thread
            section = last = None
            continue
        if thread is None:
            continue
        m = SECTION.match(line)
        if m:
            section = {"label": m.group(1), "status": m.group(2) or "", "frames": [],
                       "native": []}
            thread["sections"].append(section)
            last = None
            continue
        if line.startswith("    (") and section is None:
            section = {"label": None, "status": "", "frames": [], "native": []}
            thread["sections"].append(section)
        m = FRAME.match(line)
        if m:
            last = {"file": m.group(1), "line": int(m.group(2)), "name": m.group(3),
                    "code": None}
            section["frames"].append(last)
            continue
        m = NATIVE.match(line)
        if m:
            section["native"].append(m.group(3))
            last = None
            continue
        if line.startswith("        ") and last is not None and last["code"] is None:
            last["code"] = line.strip()
        elif not line:
            thread = section = last = None
    return threads
