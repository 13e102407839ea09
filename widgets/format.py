"""Small renderers for status badges, slot strips and figures. Colours come from the stylesheet's
theme variables through Rich styles named here once; screens never pick colours themselves."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from rich.text import Text

from console.text import needs_care, visible_same_length

STATUS_STYLE = {
    "up": "bold green",
    "late": "bold yellow",
    "down": "bold red",
    "failing": "bold red",
    "paused": "dim",
    "new": "cyan",
}
SLOT_GLYPH = {"ok": ("●", "green"), "late": ("◐", "yellow"), "missed": ("○", "red"), "failed": ("✗", "red"),
              "pending": ("·", "dim"), "paused": ("‖", "dim")}


def badge(status: str) -> Text:
    return Text(status.upper(), style=STATUS_STYLE.get(status, ""))


def strip(outcomes: list[str]) -> Text:
    return _strip(tuple(outcomes))


@lru_cache(maxsize=4096)
def _strip(outcomes: tuple[str, ...]) -> Text:  # many agents share a pattern: build each once
    text = Text()
    for outcome in outcomes:
        glyph, style = SLOT_GLYPH.get(outcome, ("?", ""))
        text.append(glyph, style=style)
    return text


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def ago(ms: float | None, now_ms: float) -> str:
    if not ms:
        return "never"
    s = max(0.0, (now_ms - ms) / 1000)
    if s < 90:
        return f"{s:.0f}s ago"
    if s < 5400:
        return f"{s / 60:.0f}m ago"
    if s < 172_800:
        return f"{s / 3600:.1f}h ago"
    return f"{s / 86400:.1f}d ago"


def clock(ms: float | None, tz: str = "UTC") -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, _zone(tz)).strftime("%H:%M")


@lru_cache(maxsize=64)
def _zone(tz: str):
    from zoneinfo import ZoneInfo  # here: zoneinfo is not the first frame's cost (no time shown yet)

    return ZoneInfo(tz)


def money(x: float) -> str:
    return f"${x:.2f}"


def tokens(x: float) -> str:
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def stamp(ms: float | None, tz: str = "UTC") -> str:
    """Month-day and time: for lists that span days (the audit log)."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, _zone(tz)).strftime("%m-%d %H:%M")


def safe(value: object, *, multiline: bool = False) -> Text:
    """Outside text as a Rich Text for the TUI: markup never parsed (a str becomes plain Text, so
    `[/api/login]` and `[@click=app.quit]` are characters), control characters and escape
    sequences shown visibly (console/text.py), styles of a Text kept where they were."""
    if isinstance(value, Text):
        if not needs_care(value.plain, multiline=multiline):
            return value
        shown = value.copy()
        shown.plain = visible_same_length(value.plain, multiline=multiline)
        return shown
    return Text(visible_same_length(value if isinstance(value, str) else str(value), multiline=multiline), end="")


def hang(line: Text, width: int, indent: int | None = None) -> list[Text]:
    """One line wrapped at word boundaries to `width`, its continuation lines indented by `indent`
    (two more than its own indent by default), so a wrapped row never reads as a new one."""
    plain = line.plain
    if width < 8 or len(plain) <= width:
        return [line]
    lead = len(plain) - len(plain.lstrip(" "))
    pad = " " * min(lead + 2 if indent is None else indent, width // 2)
    out: list[Text] = []
    start, avail, floor = 0, width, lead
    while len(plain) - start > avail:
        cut = plain.rfind(" ", start + floor + 1, start + avail + 1)
        if cut < 0:
            cut = start + avail  # one word longer than the line: broken where it must be
        out.append(line[start:cut] if not out else Text(pad) + line[start:cut])
        start = cut
        while start < len(plain) and plain[start] == " ":
            start += 1
        avail, floor = width - len(pad), 0
    if start < len(plain):
        out.append(Text(pad) + line[start:])
    return out


def reflow(text: Text, width: int | None) -> Text:
    """`text` with every line longer than `width` wrapped with a hanging indent."""
    if not width:
        return text
    out = Text(end="")
    for i, line in enumerate(text.split("\n", allow_blank=True)):
        for j, piece in enumerate(hang(line, width)):
            if i or j:
                out.append("\n")
            out.append_text(piece)
    return out


def columns(rows: list[list[str]], indent: str = "  ", width: int | None = None) -> list[str]:
    """Rows of words as aligned columns (the first row is the heading), as `pipeline show` prints.
    When the table is wider than `width` (a narrow modal), each row becomes one record instead,
    `first: heading value; heading value …`, so no row is broken in the middle of a column."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    if width is None or max(len(line) for line in lines) <= width:
        return lines
    heads = [h.lower() for h in rows[0]]
    return [indent + f"{r[0]}: " + "; ".join(f"{h} {c}" for h, c in zip(heads[1:], r[1:])) for r in rows[1:]]
