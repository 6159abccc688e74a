"""ANSI colours for scripts written against Bloomberg's `pystack.colors`.

`colored(text, color, highlight, attrs)` colours only when stdout is a terminal and
NO_COLOR is unset; `format_colored` always does. Our own renderers use
`pystack.render.text`, which follows the same rule.
"""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Iterable, Optional

_NAMES = ("grey", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
COLORS = {name: 30 + index for index, name in enumerate(_NAMES)}
HIGHLIGHTS = {"on_" + name: 40 + index for index, name in enumerate(_NAMES)}
ATTRIBUTES = {"bold": 1, "faint": 2, "italized": 3, "underline": 4, "blink": 5,
              "reverse": 7, "concealed": 8}
RESET = "\033[0m"


def _strip_codes(text: str, codes: Iterable[int]) -> str:
    """Drop the codes of one kind already inside `text`: the new one wins."""
    for code in codes:
        text = text.replace(f"\033[{code}m", "")
    return text


def format_colored(text: str, color: Optional[str] = None, highlight: Optional[str] = None,
                   attrs: Optional[Iterable[str]] = None) -> str:
    prefix = ""
    for table, chosen in ((COLORS, [color] if color else []),
                          (HIGHLIGHTS, [highlight] if highlight else []),
                          (ATTRIBUTES, list(attrs or []))):
        if chosen:
            text = _strip_codes(text, table.values())
            prefix += "".join(f"\033[{table[name]}m" for name in chosen)
    return painted(prefix, text)


def painted(prefix: str, text: str) -> str:
    """`text` in the colour `prefix` opens, reset before every line break: a reset
    written after it would leave the next line's indentation coloured."""
    if "\n" not in text:
        return prefix + text + RESET
    return "\n".join(prefix + line + RESET if line else line for line in text.split("\n"))


def colored(text: str, color: Optional[str] = None, highlight: Optional[str] = None,
            attrs: Optional[Iterable[str]] = None) -> str:
    isatty = getattr(sys.stdout, "isatty", None)
    if os.environ.get("NO_COLOR") is not None or not (isatty and isatty()):
        return text
    return format_colored(text, color, highlight, attrs)
