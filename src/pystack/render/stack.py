"""Which frames a thread shows, whatever the output format.

Text, `--group` and JSON must agree on what a thread's stack is: the Python frames
alone, or (with native frames) the merged stack, cut to the frames below the last
Python one for `--native-last`, or the Python frames with a notice when the merge
would be a guess. Deciding it once here keeps the renderers to formatting.
"""
from __future__ import annotations

from ..types import NativeReportingMode, PyFrame, PyThread

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import List, Optional, Union

    from ..types import NativeFrame

#: Native modes a renderer is given: "off", "all" (merged stacks) or "last" (native
#: frames only below the last Python frame).
NATIVE_MODES = ("off", "all", "last")


def native_mode_name(mode: NativeReportingMode) -> str:
    """The renderers' name for an engine `NativeReportingMode` (ALL is "all" too: the
    threads it adds are already in the list)."""
    if mode == NativeReportingMode.OFF:
        return "off"
    return "last" if mode == NativeReportingMode.LAST else "all"


class ShownStack:
    """A thread's frames as printed, outermost first, and why native ones are missing."""

    __slots__ = ("frames", "notice")

    def __init__(self, frames: List[Union[PyFrame, NativeFrame]],
                 notice: Optional[str] = None) -> None:
        self.frames = frames
        #: Set when native frames were read but could not be placed among the Python
        #: ones: the frames are then the Python ones alone.
        self.notice = notice


def shown_stack(thread: PyThread, native: str = "off") -> ShownStack:
    visible = [f for f in thread.all_frames if not f.is_shim]
    if native == "off" or not thread.native_frames:
        return ShownStack(visible)
    from ..native.merge import last_native_only, merge, mismatch_reason
    if not visible:  # a thread started from C (--native-all): native frames only
        return ShownStack(list(thread.native_frames))
    merged = merge(visible, thread.native_frames, ())
    if merged is None:
        return ShownStack(visible, mismatch_reason(visible, thread.native_frames))
    if native == "last":
        merged = last_native_only(merged)
    return ShownStack(merged)
