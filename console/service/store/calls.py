"""The Convex calls this installation makes (console, collector and commands alike), counted by the
minute in a small SQLite file beside the local store, so that `check --json` and the overview can
show the last 24 hours and the month they project to (docs/cost.md). Every call is billed on Convex;
the count is what the console sent, retries included, not Convex's own figure.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DAY_S = 86_400.0
MONTH_S = 30 * DAY_S
STARTER_CALLS = 1_000_000
FILE = "convex-calls.db"


@dataclass(frozen=True)
class CallSummary:
    last_24h: int
    month: int  # the last 24 h projected to 30 days (from the first call counted when younger)
    counted_since: float | None  # seconds since the epoch of the oldest minute still kept

    def to_json(self) -> dict:
        return {"last24h": self.last_24h, "projectedMonth": self.month, "countedSince": self.counted_since,
                "starterAllowance": STARTER_CALLS}


class CallCounter:
    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._minute: int | None = None
        self._pending = 0

    def add(self) -> None:
        minute = int(self._clock() // 60)
        with self._lock:
            if self._minute is not None and minute != self._minute:
                self._flush_locked()
            self._minute = minute
            self._pending += 1
            if self._pending >= 50:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._pending or self._minute is None:
            return
        try:
            with self._connect() as db:
                db.execute("INSERT INTO calls (minute, n) VALUES (?, ?)"
                           " ON CONFLICT(minute) DO UPDATE SET n = n + excluded.n", (self._minute, self._pending))
                db.execute("DELETE FROM calls WHERE minute < ?", (self._minute - 2 * 1440,))
        except (sqlite3.Error, OSError):
            return  # a count is never worth failing a poll for; it is tried again with the next
        self._pending = 0

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=2)
        db.execute("PRAGMA busy_timeout = 2000")
        db.execute("CREATE TABLE IF NOT EXISTS calls (minute INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        return db

    def summary(self, now: float | None = None) -> CallSummary:
        """The calls of the last 24 h (this process's unsaved ones included) and their month."""
        now = self._clock() if now is None else now
        minute = int(now // 60)
        with self._lock:
            pending = self._pending if self._minute is not None and self._minute > minute - 1440 else 0
        total, oldest = pending, None
        if self.path.exists():
            try:
                with self._connect() as db:
                    n, first = db.execute("SELECT COALESCE(SUM(n), 0), MIN(minute) FROM calls WHERE minute > ?",
                                          (minute - 1440,)).fetchone()
                total += int(n)
                oldest = None if first is None else first * 60.0
            except (sqlite3.Error, OSError):
                pass
        if oldest is None and pending:
            oldest = (self._minute or minute) * 60.0
        span = DAY_S if oldest is None else min(DAY_S, max(60.0, now - oldest + 60.0))
        return CallSummary(total, round(total * MONTH_S / span), oldest)
