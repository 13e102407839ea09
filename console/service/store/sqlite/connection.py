"""Opening a SQLite file the way every part of the console shares one: WAL and a busy timeout.

The LocalStore opens its file with `connect`; the outbox opens its own file with `set_wal`. This
module imports nothing of the store (the outbox must not load the LocalStore to open its queue).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from console.service.store.contract import StoreError, StoreUnavailable

BUSY_TIMEOUT_MS = 5000


def now_ms() -> float:
    """The wall clock in ms: the LocalStore's default clock."""
    return time.time() * 1000.0


def set_wal(db: sqlite3.Connection) -> None:
    """`PRAGMA journal_mode = WAL`, retried: switching a new file to WAL does not wait on the busy
    handler, so processes opening a new store at once (the daemon and a console) can get
    "database is locked" at once from it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), rows by name, WAL, the busy
    timeout, `synchronous = NORMAL` and foreign keys on. Raises sqlite3 errors as they come
    (see `translate`)."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    set_wal(db)
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    return db


def translate(exc: sqlite3.Error, path: Path) -> StoreError:
    """A SQLite failure on the store at `path` as a StoreUnavailable in words, with a hint."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreUnavailable(
            f"the local store {path} stayed locked for {BUSY_TIMEOUT_MS / 1000:.0f} s",
            hint="another process holds a long write on it; it usually clears by itself",
            retry_after=1.0,
        )
    if "not a database" in text or "malformed" in text:
        return StoreUnavailable(
            f"the local store {path} is not a readable SQLite database ({text})",
            hint="nothing was changed; move the file aside and start again, or restore a backup",
        )
    if "unable to open" in text or "readonly" in text:
        return StoreUnavailable(
            f"cannot open the local store {path} ({text})",
            hint="check the file's permissions, or choose another path with [store] path",
        )
    return StoreUnavailable(f"the local store {path} failed: {text}")
