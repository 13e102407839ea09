"""OpenClawError: a problem reading OpenClaw's state or talking to its CLI, in words.

Derives from the one error root (console.errors.ConsoleError), so the CLI reports it with
`describe()` like every other error. Never carries a secret.
"""

from __future__ import annotations


from console.errors import LocatedError


class OpenClawError(LocatedError):
    """A problem reading OpenClaw's state, in words: which file or key (`path`, `line`, `key`),
    what is wrong (`message`) and, when there is an obvious one, the next step (`hint`).
    Never carries a secret."""

    kind = "openclaw"
    nowhere = "openclaw"
