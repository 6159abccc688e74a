"""`--group`: threads whose stacks print the same are printed once.

Two threads are in one group when everything under their headers would print the
same (frames, lines, source, native frames, values with `--locals`) and their status
is the same: grouping by the printed text is grouping by exactly what a reader would
otherwise have to compare by eye. Groups come largest first; a group of one prints
as an ordinary thread.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

    from ..types import PyThread
    from .text import TextRenderer


def grouped_blocks(renderers: Dict[int, TextRenderer], threads: Iterable[Tuple[PyThread, int]],
                   name_processes: bool = False) -> Iterator[List[str]]:
    """The printed blocks (lists of lines), one per group of identical threads.

    `threads` pairs each thread with the pid of its process, `renderers` holds each
    process's renderer (its own source root); threads of several processes group
    together (8 workers stuck in one place print once) and, with `name_processes`, a
    group names the processes its threads belong to. The thread states of one OS
    thread (one per interpreter it entered) are one thread here, as in the text.
    """
    from ..types import by_os_thread, several_interpreters

    of_process: dict = {}  # pid -> its threads; processes in the order given
    for thread, pid in threads:
        of_process.setdefault(pid, []).append(thread)
    labelled = {pid: several_interpreters(ts) for pid, ts in of_process.items()}
    blocks = [(block, pid) for pid, ts in of_process.items() for block in by_os_thread(ts)]
    groups: dict = {}
    for block, pid in blocks:
        renderer = renderers[pid]
        if len(block) == 1 and not labelled[pid]:
            body = renderer.body(block[0])
        else:
            body = renderer.os_thread_body(block)
        key = (block[-1].status, tuple(body) if body is not None else None)
        members = groups.get(key)
        if members is None:
            groups[key] = members = []
        members.append((block, pid))
    # largest first; among equals, the order the threads came in (dicts keep it)
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))
    for (status, body), members in ordered:
        block, pid = members[0]
        renderer = renderers[pid]
        if len(members) == 1:
            yield list(renderer.os_thread(block, labelled[pid]))
            continue
        who = describe_group([b for b, _ in members],
                             [p for _, p in members] if name_processes else None)
        if body is None:
            yield [renderer.empty_line(who)]
        else:
            yield [renderer.header(who, status), *body]


def describe_group(blocks: Sequence[Sequence[PyThread]],
                   pids: Optional[Sequence[int]] = None) -> str:
    """`4 threads (worker-0 .. worker-3), tids 101-104`: every tid, names compressed;
    with `pids`, the processes too (`pids 4242-4249`). Each block is one OS thread
    (its thread states, outermost first)."""
    names = compress_names([n for n in (_name_of(b) for b in blocks) if n])
    who = f"{len(blocks)} threads"
    if names:
        who += f" ({names})"
    if pids is not None:
        who += ", pids " + compress_numbers(pids)
    return who + ", tids " + compress_numbers([b[0].tid for b in blocks])


def _name_of(block: Sequence[PyThread]) -> Optional[str]:
    return next((t.name for t in block if t.name), None)


def _runs(numbers: Iterable[int], shown_as_range, shown_alone) -> List[str]:
    """Sorted numbers, runs of three or more consecutive ones as one range."""
    ordered = sorted(set(numbers))
    parts: List[str] = []
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        if end - start >= 2:
            parts.append(shown_as_range(ordered[start], ordered[end]))
        else:
            parts.extend(shown_alone(n) for n in ordered[start:end + 1])
        start = end + 1
    return parts


def compress_numbers(numbers: Iterable[int]) -> str:
    """`101-164, 170`: every number, consecutive runs as `first-last`."""
    return ", ".join(_runs(numbers, lambda a, b: f"{a}-{b}", str))


def _split_number(name: str) -> tuple[str, Optional[int]]:
    """`worker-12` -> (`worker-`, 12); a name without trailing digits -> (name, None)."""
    stem = name.rstrip("0123456789")
    digits = name[len(stem):]
    # a leading zero would not survive int(): keep such names as they are
    if not digits or (len(digits) > 1 and digits[0] == "0"):
        return name, None
    return stem, int(digits)


def compress_names(names: Sequence[str]) -> str:
    """Names in order, runs of numbered names (`t0 .. t63`), repeats counted (`x (3x)`).

    ThreadPoolExecutor, Thread-N and most pools number their threads, so a pool of
    64 reads as one range; names that share nothing are listed one by one.
    """
    counts: dict = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    numbered: dict = {}  # stem -> numbers (names that appear once)
    order: List[tuple] = []  # (stem or name, is_numbered) in first-seen order
    for name, count in counts.items():
        stem, number = _split_number(name)
        if number is None or count > 1:
            order.append((name, False))
            continue
        if stem not in numbered:
            numbered[stem] = []
            order.append((stem, True))
        numbered[stem].append(number)
    parts: List[str] = []
    for key, is_numbered in order:
        if not is_numbered:
            count = counts[key]
            parts.append(key if count == 1 else f"{key} ({count}x)")
            continue
        parts += _runs(numbered[key], lambda a, b, stem=key: f"{stem}{a} .. {stem}{b}",
                       lambda n, stem=key: f"{stem}{n}")
    return ", ".join(parts)
