"""The one error root. Every failure the console reports in words derives from ConsoleError.

A leaf module (it imports nothing of the project): `config` and every service package use it.
- `message`: the cause in words, never a secret;
- `hint`: the next step for the operator (a command to run, a setting to change), or None;
- `data`: structured detail for programs (`check --json`), never a secret;
- `kind` (per class) and `code` (per instance, e.g. "conflict", "not_found"): what programs
  decide on. Code never matches the words of a message.
The CLI catches ConsoleError once and prints `describe()`.
"""

from __future__ import annotations

from typing import Any


class ConsoleError(Exception):
    kind = "error"

    def __init__(self, message: str, *, hint: str | None = None, data: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.data = data
        if code is not None:
            self.code = code

    code: str | None = None

    def describe(self) -> str:
        text = str(self)
        return text if not self.hint else f"{text}\n  fix: {self.hint}"


class LocatedError(ConsoleError):
    """A problem at a place in a file: `str(err)` is `path:line: key: what`; `message` is the bare
    what; `path`, `line` and `key` say where (`nowhere` names the source when there is no path)."""

    nowhere = "input"

    def __init__(self, message: str, *, path: Any = None, line: int | None = None, key: str | None = None,
                 hint: str | None = None) -> None:
        where = str(path) if path else self.nowhere
        if line:
            where += f":{line}"
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}", hint=hint)
        self.message = message
        self.path = path
        self.line = line
        self.key = key
