"""Outside text, made safe to show: one place that decides how a string nobody here wrote is shown.

Agents, feeds, workspaces (file names) and servers write text the console shows. None of it may
reach the terminal as a control sequence (OSC 52 writes the clipboard, OSC 0 the window title,
CSI moves the cursor) nor change the meaning of the line around it (bidirectional overrides).
`visible()` turns every such character into a visible stand-in: ESC → `␛`, the other C0
controls → their Unicode control pictures (`␇`, `␈`, …), DEL → `␡`, C1 controls and
bidirectional/invisible format characters → `\\u009b`-style escapes. Printable text, including
wide (CJK, emoji) text, is kept as it is.

A leaf module (no project imports): the CLI's output, the TUI's widgets and the logs use it.
"""

from __future__ import annotations

import json
from typing import Any

_BIDI_AND_INVISIBLE = (
    list(range(0x200B, 0x2010))  # zero-width space/joiners, LRM, RLM
    + list(range(0x2028, 0x202F))  # line/paragraph separators, LRE…RLO embeddings and overrides
    + list(range(0x2060, 0x2070))  # word joiner, invisible operators, LRI…PDI isolates
    + [0xFEFF, 0x061C]  # BOM / zero-width no-break space, Arabic letter mark
)


def _table(keep: str) -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        table[code] = "␛" if code == 0x1B else chr(0x2400 + code)
    table[0x7F] = "␡"
    for code in range(0x80, 0xA0):
        table[code] = f"\\u{code:04x}"
    for code in _BIDI_AND_INVISIBLE:
        table[code] = f"\\u{code:04x}"
    for ch in keep:
        table.pop(ord(ch), None)
    return table


_ONE_LINE = _table("")
_MULTI_LINE = _table("\n\t")


def _same_length(table: dict[int, str]) -> dict[int, str]:
    """The same stand-ins, one character each (C1 and format characters become `�`), so styled
    text keeps its spans where they were (the TUI's Rich Text)."""
    return {code: (rep if len(rep) == 1 else "\ufffd") for code, rep in table.items()}


_ONE_LINE_1 = _same_length(_ONE_LINE)
_MULTI_LINE_1 = _same_length(_MULTI_LINE)


def visible_same_length(text: str, *, multiline: bool = False) -> str:
    """Like `visible`, one character for one: for text whose styles are placed by offsets."""
    return text.translate(_MULTI_LINE_1 if multiline else _ONE_LINE_1)


def needs_care(text: str, *, multiline: bool = False) -> bool:
    """Whether `visible` would change `text` (the common case, plain text, costs one scan)."""
    table = _MULTI_LINE_1 if multiline else _ONE_LINE_1
    return any(ord(c) in table for c in text)


def visible(text: Any, *, multiline: bool = False) -> str:
    """`text` as a string with every control, escape and bidirectional override shown visibly.
    One line unless `multiline` (then newlines and tabs are kept as such)."""
    s = text if isinstance(text, str) else str(text)
    return s.translate(_MULTI_LINE if multiline else _ONE_LINE)


# Spreadsheets run a cell that starts with one of these as a formula (`=1+2`, `+cmd|…`, `@SUM`).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: a leading formula character gets a `'` before it."""
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(_FORMULA_START) else s


_C1_AND_BIDI = {code: f"\\u{code:04x}" for code in [*range(0x80, 0xA0), *_BIDI_AND_INVISIBLE, 0x7F]}


def json_line(obj: Any) -> str:
    """JSON with non-ASCII text kept readable but no raw control character: `json.dumps` already
    escapes C0; C1 controls, DEL and bidirectional overrides are escaped here too (still valid JSON,
    the same value when parsed)."""
    return json.dumps(obj, ensure_ascii=False).translate(_C1_AND_BIDI)
