"""Native (C/C++/Rust) stacks through elfutils' libdw, loaded with ctypes.

Importing this package loads nothing: libdw is opened on first use, and a
missing libdw surfaces as `NativeUnavailable` only when native frames are
asked for.
"""
from __future__ import annotations

from pystack.native.demangle import demangle
from pystack.native.libdw import NativeUnavailable, available
from pystack.native.symbols import UNKNOWN, RawNativeFrame, ResolvedFrame
from pystack.native.unwind import NativeUnwinder

__all__ = [
    "NativeUnwinder",
    "NativeUnavailable",
    "RawNativeFrame",
    "ResolvedFrame",
    "UNKNOWN",
    "available",
    "demangle",
]
