"""Waiting for an event, never for a fixed time (issue 11: no flaky tests).

Every helper polls a condition every few milliseconds until it holds, or fails with what it was
waiting for once a generous deadline has passed: a fast machine goes on at once, a loaded one
takes longer but gets there. The deadline only bounds a test that would otherwise hang.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import IO, Any

DEADLINE = 30.0  # seconds: generous for a loaded CI machine; the waits end at the event


def wait_until(condition: Callable[[], Any], what: str, *, timeout: float = DEADLINE, every: float = 0.01,
               detail: Callable[[], str] | None = None) -> Any:
    """Call `condition` every `every` seconds until it returns something true, and return that;
    after `timeout` seconds fail with `what` (and `detail()`, when given)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}" + (f":\n{detail()}" if detail else ""))
        time.sleep(every)


async def until(pilot, condition: Callable[[], Any], what: str, *, timeout: float = DEADLINE,
                every: float = 0.02) -> Any:
    """The same inside a Pilot test: the app keeps running (and refreshing) while the test waits."""
    return await until_async(condition, what, timeout=timeout, every=every, pause=pilot.pause)


async def until_async(condition: Callable[[], Any], what: str, *, timeout: float = DEADLINE,
                      every: float = 0.01, pause: Callable[[float], Any] = asyncio.sleep) -> Any:
    """The same on an asyncio loop: `pause` lets the loop run between two looks (a bare loop's
    `asyncio.sleep`, or Pilot's `pause`, which also lets the app refresh)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        await pause(every)


# ---------------------------------------------------------------------------- the console's polls
async def first_poll(pilot) -> None:
    """Until the console's first poll has landed and been drawn on the screens."""
    app = pilot.app
    await until(pilot, lambda: app.view is not None and not app._polling, "the console's first poll")
    await pilot.pause()


async def poll(pilot) -> None:
    """Start a poll now, after the one in flight (if any), and wait until its result is drawn:
    whatever the test wrote to the store before this call is on the screens after it."""
    app = pilot.app
    await until(pilot, lambda: not app._polling, "the poll in flight to end")
    before = app.view
    app.poll_now()
    await until(pilot, lambda: app.view is not before and not app._polling, "the poll the test started")
    await pilot.pause()


async def quiet(pilot, *, timeout: float = DEADLINE) -> None:
    """Until the app has nothing left to do: every worker finished (the poll, a wizard step, a
    reload, and any worker those started), and the messages they posted handled."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()  # the messages posted so far are handled
        running = list(app.workers)
        if not running:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"waited {timeout:g} s for the app's workers to finish: {running}")
        try:
            await asyncio.wait_for(app.workers.wait_for_complete(running), timeout=left)
        except asyncio.TimeoutError:
            pass  # reported above, on the next turn


async def settle(pilot) -> None:
    """The first poll landed, and whatever the last key started has finished."""
    await first_poll(pilot)
    await quiet(pilot)


# ---------------------------------------------------------------------------- a process's log
class LineReader:
    """A process's output stream read line by line in a thread, so a test can wait for a line
    (an event in a JSON log, a word on stdout) while the process runs."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def snapshot(self) -> list[str]:
        with self._changed:
            return list(self.lines)

    def wait_for(self, condition: Callable[[list[str]], Any], what: str, *, timeout: float = DEADLINE) -> Any:
        """Until `condition(lines)` holds (returning its value); fails at the deadline or when the
        stream ends first, with the last lines read."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = condition(list(self.lines))
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0 or self._done:
                    why = "the stream ended" if self._done else f"waited {timeout:g} s"
                    raise AssertionError(f"{why} before {what}; last lines:\n" + "\n".join(self.lines[-40:]))
                self._changed.wait(min(left, 0.5))

    def join(self, timeout: float = DEADLINE) -> str:
        """The whole text, once the stream has ended."""
        self._thread.join(timeout)
        return "\n".join(self.snapshot()) + ("\n" if self.lines else "")
