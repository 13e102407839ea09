"""OpenClawError: a problem reading OpenClaw's state or talking to its CLI, in words.

Derives from the one error root (console.errors.ConsoleError), so the CLI reports it with
`describe()` like every other error. Never carries a secret.
"""

from __future__ import annotations

from pathlib import Path

from console.errors import ConsoleError


class OpenClawError(ConsoleError):
    """A problem reading OpenClaw's state, in words: which file or key (`path`, `line`, `key`),
    what is wrong (`message`) and, when there is an obvious one, the next step (`hint`).
    Never carries a secret."""

    kind = "openclaw"

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None, key: str | None = None,
                 hint: str | None = None):
        where = str(path) if path else "openclaw"
        if line:
            where += f":{line}"
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}", hint=hint)
        self.message = message
        self.path = path
        self.line = line
        self.key = key
