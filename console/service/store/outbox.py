"""The outbox: beats and activities recorded while the store is unreachable wait here, in a local
SQLite file, and are delivered once when it is back.

- A heartbeat is queued under its run id (UNIQUE): queueing the same run twice is one item, and
  delivering it twice is one row in the store (`record_heartbeat` is idempotent by run id), so a
  crash between delivery and removal doubles nothing.
- Items are delivered oldest first; delivery stops at the first `StoreUnavailable` (the store is
  still away) and resumes on the next flush. An item the store refuses for what it is (a function
  error) is moved aside to `dead` with the error, so one bad item never blocks the rest.
- `delivered` remembers which OpenClaw runs were already sent, so the daemon's collector sends
  each run once even across restarts (the store would ignore the repeat, but every Convex call is
  billed).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from console.service.store.sqlite.connection import set_wal
from console.service.models import OPERATOR, HeartbeatIn
from console.service.store.contract import Store, StoreError, StoreFunctionError, StoreUnavailable

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS items (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        key TEXT UNIQUE,
        payload TEXT NOT NULL,
        queued_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS dead (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        queued_at REAL NOT NULL,
        error TEXT NOT NULL,
        dead_at REAL NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS delivered (run_id TEXT PRIMARY KEY, at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]


@dataclass(frozen=True, slots=True)
class FlushResult:
    delivered: int
    remaining: int
    dead: int
    error: StoreError | None  # why delivery stopped early, if it did


class Outbox:
    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 5000")
        set_wal(self._db)
        for statement in SCHEMA:
            self._db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ queue
    def put_heartbeat(self, beat: HeartbeatIn) -> bool:
        """Queue a beat; False when that run is already queued."""
        payload = asdict(beat) | {"run_id": beat.effective_run_id()}
        return self._put("heartbeat", payload["run_id"], payload)

    def put_activity(
        self, type: str, message: str, *, actor: str = OPERATOR, target_id: str | None = None,
        detail: dict[str, Any] | None = None, key: str | None = None,
    ) -> bool:
        """Queue an activity under an idempotency key (give the key a first, failed attempt
        used: if that attempt was applied after all, delivery does not log it twice)."""
        key = key or f"outbox:{uuid.uuid4().hex}"
        payload = {"type": type, "message": message, "actor": actor, "target_id": target_id, "detail": detail,
                   "key": key}
        return self._put("activity", key, payload)

    def _put(self, kind: str, key: str | None, payload: dict[str, Any]) -> bool:
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO items (kind, key, payload, queued_at) VALUES (?, ?, ?, ?)",
                (kind, key, json.dumps(payload), self._clock()),
            )
            return cur.rowcount == 1

    def pending(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM items").fetchone()[0]

    def dead_items(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT kind, payload, error FROM dead ORDER BY seq").fetchall()
        return [{"kind": k, "payload": json.loads(p), "error": e} for k, p, e in rows]

    # --------------------------------------------------------------- delivery
    def flush(self, store: Store, *, limit: int = 10_000) -> FlushResult:
        """Deliver queued items oldest first, until done or the store fails."""
        delivered = dead = 0
        error: StoreError | None = None
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, payload FROM items ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        for seq, kind, payload in rows:
            data = json.loads(payload)
            try:
                if kind == "heartbeat":
                    store.record_heartbeat(HeartbeatIn(**data))
                else:
                    store.log_activity(
                        data["type"], data["message"], actor=data.get("actor") or OPERATOR,
                        target_id=data.get("target_id"), detail=data.get("detail"), key=data.get("key"),
                    )
            except StoreUnavailable as exc:
                error = exc
                with self._lock:
                    self._db.execute(
                        "UPDATE items SET attempts = attempts + 1, last_error = ? WHERE seq = ?", (str(exc), seq)
                    )
                break
            except StoreFunctionError as exc:
                with self._lock:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.execute(
                        "INSERT INTO dead (kind, payload, queued_at, error, dead_at)"
                        " SELECT kind, payload, queued_at, ?, ? FROM items WHERE seq = ?",
                        (str(exc), self._clock(), seq),
                    )
                    self._db.execute("DELETE FROM items WHERE seq = ?", (seq,))
                    self._db.execute("COMMIT")
                dead += 1
                continue
            except StoreError as exc:  # auth and the like: nothing to do until someone fixes it
                error = exc
                break
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("DELETE FROM items WHERE seq = ?", (seq,))
                if kind == "heartbeat":
                    self._db.execute(
                        "INSERT OR IGNORE INTO delivered (run_id, at) VALUES (?, ?)", (data["run_id"], self._clock())
                    )
                self._db.execute("COMMIT")
            delivered += 1
        return FlushResult(delivered, self.pending(), dead, error)

    # ------------------------------------------------- what was already sent
    def was_sent(self, run_id: str) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM delivered WHERE run_id = ?", (run_id,)).fetchone() is not None
                or self._db.execute("SELECT 1 FROM items WHERE key = ?", (run_id,)).fetchone() is not None
            )

    def mark_sent(self, run_id: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO delivered (run_id, at) VALUES (?, ?)", (run_id, self._clock()))

    def forget_sent_before(self, cutoff: float) -> None:
        """Drop the memory of runs delivered before `cutoff` (seconds): they are old history."""
        with self._lock:
            self._db.execute("DELETE FROM delivered WHERE at < ?", (cutoff,))

    # --------------------------------------------- small persistent state
    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )


def record_beat(store: Store | None, outbox: Outbox, beat: HeartbeatIn) -> str:
    """Record a beat now, or queue it when the store is away. Returns "recorded", "duplicate" or
    "queued". Other store errors (a refused key, a refused value) are raised: queueing would only
    hide them."""
    if store is not None:
        try:
            _, created = store.record_heartbeat(beat)
        except StoreUnavailable:
            pass
        else:
            outbox.mark_sent(beat.effective_run_id())
            return "recorded" if created else "duplicate"
    outbox.put_heartbeat(beat)
    return "queued"
