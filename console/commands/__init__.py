"""The subcommands of `squad-console`. Each module has `register(subparsers)` and `run(args, ctx)`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

from console.config import Settings
from console.errors import ConsoleError
from console.text import visible
from widgets.format import ago  # noqa: F401 - one wording of ages, shared with the screens

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class CommandError(ConsoleError):
    """A problem to report in words (no traceback) with an exit code and, if any, the fix."""

    kind = "command"

    def __init__(self, message: str, *, hint: str | None = None, code: int = EXIT_FAIL) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = code


@dataclass
class Context:
    settings: Settings
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    env: dict[str, str] = field(default_factory=dict)

    def print(self, *parts: Any) -> None:
        """Print text for the operator: outside text in it is shown, never obeyed (console/text.py)."""
        print(*(visible(p, multiline=True) for p in parts), file=self.out)

    def warn(self, *parts: Any) -> None:
        print(*(visible(p, multiline=True) for p in parts), file=self.err)


def with_store(ctx: Context, fn: Callable[[Any], int]) -> int:
    from console.service.wiring import open_store

    store = open_store(ctx.settings.store)
    try:
        return fn(store)
    finally:
        store.close()


def when(ms: float | None, *, tz: timezone = timezone.utc) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M UTC")


def table(rows: list[list[str]], out: TextIO) -> None:
    if not rows:
        return
    rows = [[visible(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip(), file=out)
