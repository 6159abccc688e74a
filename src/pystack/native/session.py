"""One native session made of two parts: what walks the stacks and what names them.

On x86-64 our own unwinder walks (`cfi_unwind`: the same frames as libdw's, and it
steps over perf trampolines), while libdw, where it is installed, only names the
frames it is handed: source lines, inlined calls, debug files. libdw then never
attaches to the target's threads, where the failures it cannot recover from live
(an assertion on a thread it does not know ends the whole process).
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Dict, List, Optional

    from .symbols import RawNativeFrame, ResolvedFrame


class NativeSession:
    """`NativeUnwinder`'s interface over a walker and a namer."""

    def __init__(self, walker, namer) -> None:
        self._walker = walker
        self._namer = namer
        self.is_core = walker.is_core
        self.anonymous_code = walker.anonymous_code
        walker.quiet = namer.quiet = True  # the session says what both did

    @property
    def unwind_errors(self) -> Dict[int, str]:
        return self._walker.unwind_errors

    def threads(self) -> List[int]:
        return self._walker.threads()

    def unwind(self, tid: int, max_frames: int = 4096) -> List["RawNativeFrame"]:
        return self._walker.unwind(tid, max_frames)

    def function_of(self, frame: "RawNativeFrame") -> Optional["ResolvedFrame"]:
        return self._namer.function_of(frame)

    def symbolize(self, frame: "RawNativeFrame") -> List["ResolvedFrame"]:
        return self._namer.symbolize(frame)

    def unnamed(self, frame: "RawNativeFrame", symbol: str = "???") -> "ResolvedFrame":
        return self._namer.unnamed(frame, symbol)

    def module_path(self, pc: int) -> Optional[str]:
        return self._namer.module_path(pc)

    def close(self) -> None:
        from .. import log
        if log.enabled(log.INFO):
            log.info("native frames: %s; %s", self._walker.describe(), self._namer.describe())
        try:
            self._walker.close()
        finally:
            self._namer.close()

    def __enter__(self) -> "NativeSession":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
