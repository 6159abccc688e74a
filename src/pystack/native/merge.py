"""Merge a thread's native frames with its Python frames.

Every call into the eval loop shows up as one native frame (`_PyEval_EvalFrameDefault`,
`PyEval_EvalFrameEx` in 2.7) and runs one group of Python frames: before 3.11 one
frame per call; from 3.11 the frames from an entry frame (marked `is_entry`, or just
after a 3.12+ shim) up to the next one. Each eval frame is replaced by its group, and
the interpreter's own plumbing between them (vectorcall trampolines, the tail-called
opcode functions of 3.14 builds) is hidden. When the counts disagree the merge would
be a guess: we return None and the caller prints the Python stack alone.
"""
from __future__ import annotations


from ..types import NativeFrame, PyFrame

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import List, Optional, Sequence, Union

EVAL_FRAMES = ("_PyEval_EvalFrameDefault", "PyEval_EvalFrameEx")
_EVAL_PREFIXES = ("_TAIL_CALL_",)
# Interpreter plumbing: how calls travel between eval loops; never what a user looks for.
_PLUMBING_PREFIXES = (
    "_PyEval_", "PyEval_Eval", "_PyFunction_Vectorcall", "_PyObject_Vectorcall",
    "PyObject_Vectorcall", "_PyObject_Call", "PyObject_Call", "_PyObject_MakeTpCall",
    "_PyVectorcall_Call", "PyVectorcall_Call", "method_vectorcall", "function_code_fastcall",
    "_PyCFunction_", "cfunction_call", "cfunction_vectorcall", "vectorcall_",
    "_PyTAIL_CALL", "_TAIL_CALL_", "slot_tp_call", "call_function", "do_call_core",
    "fast_function", "_PyFunction_FastCall", "function_call", "instancemethod_call",
    "_PyObject_FastCall", "call_trampoline", "_Py_VectorCall", "py_trampoline_evaluator",
)
GC_FRAMES = ("gc_collect_main", "gc_collect_with_callback", "gc_collect_full",
             "gc_collect_region", "gc_collect_increment", "_PyGC_Collect", "collect",
             "collect_with_callback", "collect_generations", "gc_collect_impl")

if TYPE_CHECKING:
    Merged = List[Union[PyFrame, NativeFrame]]


def base_name(symbol: str) -> str:
    """The symbol without a version (`@GLIBC_2.2.5`) or compiler clone suffix."""
    name = symbol.split("@", 1)[0]
    return name.split(".", 1)[0] if "." in name and not name.startswith(".") else name


def is_eval_frame(frame: NativeFrame) -> bool:
    if getattr(frame, "inlined", False):
        return False
    return base_name(frame.symbol) in EVAL_FRAMES


def is_plumbing(frame: NativeFrame, python_libraries: Sequence[str]) -> bool:
    if frame.library not in python_libraries:
        return False
    name = base_name(frame.symbol)
    return name.startswith(_PLUMBING_PREFIXES) or name.startswith(_EVAL_PREFIXES)


def frames_holding(raw_frames: Sequence, addresses: Sequence[int]) -> set:
    """Indices of the unwound frames (innermost first, with their stack pointers)
    whose own stack holds one of `addresses`.

    From 3.12 each eval-loop call keeps its entry frame in its own C stack frame, so
    the frame holding an entry frame's address is that call, whatever the symbol
    table says (a stock distribution build names none of it). A frame's stack runs
    from its stack pointer up to its caller's; where either is unknown (0), nothing.
    """
    found = set()
    if not addresses:
        return found
    for index in range(len(raw_frames) - 1):
        low, high = raw_frames[index].sp, raw_frames[index + 1].sp
        if low and high and low < high:
            if any(low <= address < high for address in addresses):
                found.add(index)
    return found


def python_groups(frames: Sequence[PyFrame]) -> List[List[PyFrame]]:
    """Python frames (outermost first, shims excluded) split into eval-loop calls."""
    groups: List[List[PyFrame]] = []
    for frame in frames:
        if frame.is_entry or not groups:
            groups.append([])
        groups[-1].append(frame)
    return groups


def merge(python_frames: Sequence[PyFrame], native_frames: Sequence[NativeFrame],
          python_libraries: Sequence[str]) -> Optional[Merged]:
    """Outermost-first merged stack, or None when the frames cannot be matched."""
    groups = python_groups(python_frames)
    evals = [f for f in native_frames if is_eval_frame(f)]
    if len(evals) != len(groups):
        return None
    merged: Merged = []
    group_iter = iter(groups)
    for frame in native_frames:  # outermost first
        if is_eval_frame(frame):
            merged.extend(next(group_iter))
        elif not is_plumbing(frame, python_libraries):
            merged.append(frame)
    return merged


def split_between_interpreters(python_stacks: Sequence[Sequence[PyFrame]],
                               native_frames: Sequence[NativeFrame]
                               ) -> Optional[List[List[NativeFrame]]]:
    """One OS thread's native stack cut into the parts each interpreter ran.

    `python_stacks` are the visible Python frames of each of the thread's thread
    states, outermost interpreter first (each outermost frame first); the native
    frames are outermost first. An interpreter's part ends just before the eval-loop
    call that entered the next interpreter's first group of Python frames, so the C
    frames that made the switch (`run_string`, `_PyXI_Enter`...) stay with the
    caller. None when the eval-loop calls and the Python groups do not add up.
    """
    counts = [len(python_groups(stack)) for stack in python_stacks]
    evals = [i for i, f in enumerate(native_frames) if is_eval_frame(f)]
    if len(evals) != sum(counts):
        return None
    parts: List[List[NativeFrame]] = []
    start = entered = 0
    for count in counts[:-1]:
        entered += count
        end = evals[entered] if entered < len(evals) else len(native_frames)
        parts.append(list(native_frames[start:end]))
        start = end
    parts.append(list(native_frames[start:]))
    return parts


def mismatch_reason(python_frames: Sequence[PyFrame],
                    native_frames: Sequence[NativeFrame]) -> str:
    groups = len(python_groups(python_frames))
    evals = sum(1 for f in native_frames if is_eval_frame(f))
    return (f"native frames not shown: {evals} eval-loop call{'' if evals == 1 else 's'} "
            f"in the native stack for {groups} group{'' if groups == 1 else 's'} of "
            "Python frames")


def last_native_only(merged: Merged) -> Merged:
    """--native-last: Python frames, and native frames only below the last Python one."""
    last_python = max((i for i, f in enumerate(merged) if isinstance(f, PyFrame)),
                      default=-1)
    return [f for i, f in enumerate(merged) if isinstance(f, PyFrame) or i > last_python]


def is_collecting(native_frames: Sequence[NativeFrame],
                  python_libraries: Sequence[str]) -> bool:
    return any(f.library in python_libraries and base_name(f.symbol) in GC_FRAMES
               for f in native_frames)
