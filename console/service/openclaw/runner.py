"""How the console reaches the `openclaw` CLI, and how OpenClaw's words are made safe to show.

A *runner* is a callable taking an argv list and returning `(returncode, stdout, stderr)`.
Every function of this package that may use the CLI takes `runner="auto"` (the real CLI when
`shutil.which("openclaw")` finds it, else none), `None` (never the CLI: read the files) or a
runner of one's own (tests). `redact()` takes credentials out of any text that came from
OpenClaw (run errors, CLI output) before it is shown.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from console.text import redact

CLI = "openclaw"

Runner = Callable[[Sequence[str]], tuple[int, str, str]]
RunnerArg = Runner | None | Literal["auto"]


# `redact()`, the one scrubber of outside text (console/text.py), re-exported: this package's
# modules take OpenClaw's words through `runner.redact` before they are shown
__all__ = ["CLI", "Runner", "RunnerArg", "cli_failure", "default_runner", "redact", "resolve_runner", "subprocess_runner"]


def subprocess_runner(executable: str, timeout: float = 15.0, env: Mapping[str, str] | None = None) -> Runner:
    """A runner calling `executable` (argv[0] is replaced by it) with a timeout, in `env` (this
    process's environment when None)."""

    def run(argv: Sequence[str]) -> tuple[int, str, str]:
        try:
            p = subprocess.run(
                [executable, *argv[1:]], capture_output=True, text=True, errors="replace", timeout=timeout,
                stdin=subprocess.DEVNULL, env=dict(env) if env is not None else None,
            )
        except subprocess.TimeoutExpired:
            return 124, "", f"{' '.join(argv[:3])} gave no answer within {timeout:g}s"
        except OSError as exc:
            return 127, "", f"could not run {executable}: {exc.strerror or exc}"
        return p.returncode, p.stdout, p.stderr

    return run


def default_runner(timeout: float = 15.0) -> Runner | None:
    """The real `openclaw` CLI when it is on PATH, else None."""
    found = shutil.which(CLI)
    return subprocess_runner(found, timeout) if found else None


def resolve_runner(runner: RunnerArg) -> Runner | None:
    """The runner a `runner` argument stands for: "auto" is `default_runner()`."""
    return default_runner() if runner == "auto" else runner  # type: ignore[return-value]


def cli_failure(argv: Sequence[str], code: int, stdout: str, stderr: str) -> str:
    """`argv` failed, in one redacted line: the exit code and the first line it printed."""
    text = (stderr or stdout).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return redact(f"`{' '.join(argv)}` failed (exit {code})" + (f": {first[:300]}" if first else ""))
