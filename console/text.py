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

import re
from collections.abc import Iterable
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


def _any_of(table: dict[int, str]) -> re.Pattern[str]:
    return re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(table)) + "]")


_CARE_ONE_LINE = _any_of(_ONE_LINE_1)
_CARE_MULTI_LINE = _any_of(_MULTI_LINE_1)


def needs_care(text: str, *, multiline: bool = False) -> bool:
    """Whether `visible` would change `text` (the common case, plain text, costs one scan, in C:
    the TUI asks it for every changed cell of a poll)."""
    return (_CARE_MULTI_LINE if multiline else _CARE_ONE_LINE).search(text) is not None


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
    import json  # here: the TUI imports this module at start-up and never writes JSON

    return json.dumps(obj, ensure_ascii=False).translate(_C1_AND_BIDI)


# ------------------------------------------------------------------ secrets in outside text
# What a server, a CLI or a log may echo back that must never be shown: credentials by shape.
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # user:password@ inside a URL
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.I), r"\1"),
    # Authorization headers (a credential is long: "Convex at …" and "a Convex reply" are words)
    (re.compile(r"\b(Bearer|Basic|Convex)\s+(?=[A-Za-z0-9._~+/=:|-]{16,})[A-Za-z0-9._~+/=:|-]+", re.I),
     r"\1 [redacted]"),
    # Convex deploy/admin keys: `prod:name|base64`, `dev:...`, `preview:...`, `project:...`
    (re.compile(r"\b(?:prod|dev|preview|project):[A-Za-z0-9_.:-]*\|[A-Za-z0-9+/=_.-]+"), "[redacted key]"),
    # "token": "…" in JSON text
    (
        re.compile(r"(\"(?:[A-Za-z_]*(?:token|secret|password|api[_-]?key|apikey|deploy[_-]?key)[A-Za-z_]*)\"\s*:\s*)\"[^\"]*\"", re.I),
        r'\1"[redacted]"',
    ),
    # token=…, api_key: …, OPENCLAW_GATEWAY_TOKEN=…, ?token=… in URLs
    (
        re.compile(r"\b([A-Za-z_]*(?:token|secret|password|api[_-]?key|apikey|deploy[_-]?key)[A-Za-z_]*)(\s*[=:]\s*)(?!\s)[^\s\"'&,;)]+", re.I),
        r"\1\2[redacted]",
    ),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), "[redacted key]"),
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without anything that looks like a credential (a password inside a URL, Bearer and
    Convex authorization, Convex deploy keys, `token=…`, API keys) nor any of the literal `secrets`
    given (a deploy key or vault key a server echoed back)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    for pattern, repl in _REDACTIONS:
        text = pattern.sub(repl, text)
    return text


def shown_url(url: str) -> str:
    """A URL as it may be printed: without a user name or password in it."""
    return _REDACTIONS[0][0].sub(_REDACTIONS[0][1], url)
