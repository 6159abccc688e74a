"""A live process and its descendants, for `--subprocesses`.

Children come from /proc/PID/task/TID/children where the kernel provides it
(CONFIG_PROC_CHILDREN); otherwise from one pass over every /proc/PID/stat, whose
parent field names each process's parent. Either way the tree is a snapshot: a
process that exits afterwards is found out when it is read.
"""
from __future__ import annotations

import os

from . import procfs

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Dict, List, Optional

MAX_PROCESSES = 100_000


class ProcessNode:
    """One process of the tree: who it is, who started it, how deep it sits."""

    __slots__ = ("pid", "ppid", "depth", "command")

    def __init__(self, pid: int, ppid: Optional[int], depth: int, command: str) -> None:
        self.pid = pid
        self.ppid = ppid
        self.depth = depth
        self.command = command

    def __repr__(self) -> str:
        return f"ProcessNode({self.pid}, ppid={self.ppid}, depth={self.depth})"


def _stat_fields(pid: int) -> Optional[List[str]]:
    """Fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()


def parent_of(pid: int) -> Optional[int]:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields and len(fields) > 1 else None


def command_line(pid: int) -> str:
    """The command line as `ps` shows it; `[comm]` when it has none (a zombie)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(4096)
    except OSError:
        raw = b""
    words = [w.decode("utf-8", "backslashreplace") for w in raw.split(b"\0") if w]
    if words:
        return " ".join(words)
    name = procfs.comm(pid)
    return f"[{name}]" if name else "[?]"


def _children_from_task_files(pid: int) -> Optional[List[int]]:
    """Children of every thread of `pid`; None when the kernel has no such files."""
    found: List[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(word) for word in f.read().split()]
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread exited meanwhile
            return None  # the file does not exist on this kernel
        except OSError:
            continue
    return sorted(set(found))


def _children_by_parent() -> Dict[int, List[int]]:
    """Every process's children, from one pass over /proc/*/stat."""
    children: Dict[int, List[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields and len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    for pids in children.values():
        pids.sort()
    return children


def process_tree(root: int) -> List[ProcessNode]:
    """`root` and its descendants, parents before children (depth first, by pid)."""
    by_parent: Optional[Dict[int, List[int]]] = None

    def children(pid: int) -> List[int]:
        nonlocal by_parent
        if by_parent is None:
            listed = _children_from_task_files(pid)
            if listed is not None:
                return listed
            by_parent = _children_by_parent()
        return by_parent.get(pid, [])

    nodes: List[ProcessNode] = []
    seen = {root}
    stack = [(root, parent_of(root), 0)]  # depth first without recursion: trees can be deep
    while stack and len(nodes) < MAX_PROCESSES:
        pid, ppid, depth = stack.pop()
        nodes.append(ProcessNode(pid, ppid, depth, command_line(pid)))
        fresh = [child for child in children(pid) if child not in seen]
        seen.update(fresh)
        stack.extend((child, pid, depth + 1) for child in reversed(fresh))
    return nodes
