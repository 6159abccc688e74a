"""The one place that picks a structure layout for a CPython version.

Each `v{major}_{minor}.py` module is generated (see scripts/gen_layouts.py) and imported
only when a target of that version is met, so a dump costs one small import.
"""
from __future__ import annotations

import sys

from ..layout import PythonLayout
from ... import log

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import Optional


#: Versions with a generated table, oldest first.
KNOWN = [(2, 7), (3, 6), (3, 7), (3, 8), (3, 9), (3, 10), (3, 11), (3, 12), (3, 13),
         (3, 14), (3, 15)]


def _table(key: tuple):
    """The generated module of `key` (major, minor), imported on first use.

    `__import__` + `sys.modules` rather than importlib.import_module: importing
    importlib (and the warnings module it pulls in) costs every start ~1 ms.
    """
    name = f"{__name__}.v{key[0]}_{key[1]}"
    module = sys.modules.get(name)
    if module is None:
        __import__(name)
        module = sys.modules[name]
    return module


def layout_for(version: tuple) -> Optional[PythonLayout]:
    """The layout of `version` (major, minor); None when we know nothing close to it.

    A newer 3.x than any table gets the newest table with a loud warning: from 3.13
    on, the target's own `_Py_DebugOffsets` corrects most of it anyway.
    """
    key = tuple(version[:2])
    if key not in KNOWN:
        newer = [v for v in KNOWN if v[0] == key[0] and v < key]
        if key[0] != 3 or not newer or key < (3, 13):
            return None
        log.warning("CPython %d.%d is newer than any layout pystack knows; "
                    "using %d.%d's with the target's debug offsets", *key, *newer[-1])
        key = newer[-1]
    module = _table(key)
    layout: PythonLayout = module.LAYOUT
    if key != tuple(version[:2]):
        layout = layout.replace(version=tuple(version[:2]))
    return layout


def debug_offsets_schema(version: tuple) -> Optional[dict]:
    """Byte positions inside `_Py_DebugOffsets` for a 3.13+ version (or the newest)."""
    key = tuple(version[:2])
    candidates = [v for v in KNOWN if v <= key and v >= (3, 13)]
    if not candidates:
        return None
    module = _table(candidates[-1])
    return getattr(module, "DEBUG_OFFSETS_SCHEMA", None)
