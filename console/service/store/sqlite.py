"""LocalStore: the store contract on an embedded SQLite file (the default store).

- WAL journal and a busy timeout, so the daemon and a console or two can share one file.
- `schema_version` plus numbered migrations; a file written by a newer console is refused.
- Ids are a one-letter table prefix plus the rowid (`a12`, `t3`, `h1000000`): the rowid is also
  the insertion order that `snapshot` uses as its high-water mark for append-only tables.
- `agents` and `tasks` carry a change counter kept by triggers, so a write from another process
  is seen by the next snapshot without scanning the table.
- Every change and its activity are written in one `BEGIN IMMEDIATE` transaction.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from console.service.models import (
    AGENT_STATUSES,
    FEED_OUTCOMES,
    HEARTBEAT_OUTCOMES,
    OPERATOR,
    OPPORTUNITY_STAGES,
    TASK_STATUSES,
    VERDICTS,
    Activity,
    Agent,
    AgentSpec,
    Feed,
    FeedState,
    FetchRecorded,
    Flip,
    Heartbeat,
    HeartbeatIn,
    Marks,
    Message,
    Opportunity,
    Signal,
    SignalIn,
    Snapshot,
    Task,
    agent_id_from_session_key,
)
from console.service.store.contract import (
    DEFAULT_SNAPSHOT_LIMIT,
    NotFoundError,
    StoreError,
    StoreFunctionError,
    StoreUnavailable,
    VaultRow,
)

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000

# Each migration is a list of statements run in one transaction; append, never edit.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE agents (
            seq INTEGER PRIMARY KEY,
            agent_id TEXT,
            name TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'idle',
            current_task_id TEXT,
            session_key TEXT NOT NULL,
            level TEXT,
            workspace TEXT,
            heartbeat TEXT,
            tz TEXT,
            grace_seconds REAL,
            updated_at REAL,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX agents_agent_id ON agents(agent_id)",
        "CREATE INDEX agents_session_key ON agents(session_key)",
        """CREATE TABLE tasks (
            seq INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            assignee_ids TEXT NOT NULL DEFAULT '[]',
            updated_at REAL,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE messages (
            seq INTEGER PRIMARY KEY,
            task_id TEXT NOT NULL,
            from_agent_id TEXT NOT NULL,
            content TEXT NOT NULL,
            attachments TEXT NOT NULL DEFAULT '[]',
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE activities (
            seq INTEGER PRIMARY KEY,
            type TEXT NOT NULL,
            message TEXT NOT NULL,
            agent_id TEXT,
            actor TEXT,
            target_id TEXT,
            detail TEXT,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE heartbeats (
            seq INTEGER PRIMARY KEY,
            agent_id TEXT NOT NULL,
            at REAL NOT NULL,
            outcome TEXT NOT NULL,
            source TEXT NOT NULL,
            run_id TEXT NOT NULL UNIQUE,
            duration_ms REAL,
            error TEXT,
            delivery TEXT,
            model TEXT,
            tokens REAL,
            cost_usd REAL,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX heartbeats_agent_at ON heartbeats(agent_id, at)",
        "CREATE INDEX heartbeats_at ON heartbeats(at)",
        """CREATE TABLE flips (
            seq INTEGER PRIMARY KEY,
            agent_id TEXT NOT NULL,
            at REAL NOT NULL,
            from_status TEXT NOT NULL,
            to_status TEXT NOT NULL,
            reason TEXT,
            created_at REAL NOT NULL
        )""",
        "CREATE INDEX flips_agent_at ON flips(agent_id, at)",
        # change counters for the tables a snapshot returns whole
        "CREATE TABLE versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
        "INSERT INTO versions VALUES ('agents', 0), ('tasks', 0)",
        *[
            f"""CREATE TRIGGER {table}_{op.lower()}_version AFTER {op} ON {table}
                BEGIN UPDATE versions SET version = version + 1 WHERE name = '{table}'; END"""
            for table in ("agents", "tasks")
            for op in ("INSERT", "UPDATE", "DELETE")
        ],
    ],
    [
        # the vault: ciphertext records only (docs/VAULT.md)
        """CREATE TABLE vault (
            seq INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            record TEXT NOT NULL,
            kid TEXT NOT NULL,
            created_at REAL NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            UNIQUE (name, version)
        )""",
    ],
    [
        # the pipeline (DESIGN §8): feeds, their signals, opportunities
        """CREATE TABLE feeds (
            seq INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            competitor TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            last_fetched_at REAL,
            last_status INTEGER,
            error_count INTEGER NOT NULL DEFAULT 0,
            next_fetch_at REAL,
            outcome TEXT,
            health TEXT,
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE signals (
            seq INTEGER PRIMARY KEY,
            feed_url TEXT NOT NULL,
            entry_key TEXT NOT NULL,
            title TEXT NOT NULL,
            link TEXT,
            published_at REAL,
            competitor TEXT NOT NULL,
            summary TEXT,
            created_at REAL NOT NULL,
            UNIQUE (feed_url, entry_key)
        )""",
        "CREATE INDEX signals_competitor ON signals(competitor)",
        """CREATE TABLE opportunities (
            seq INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            stage TEXT NOT NULL,
            market_score REAL,
            analysis TEXT,
            survey TEXT,
            decision TEXT,
            updated_at REAL,
            created_at REAL NOT NULL
        )""",
    ],
    # 4: idempotency keys for activities delivered from an outbox (a reply lost after the write
    # must not log the same activity twice when it is sent again)
    [
        "CREATE TABLE activity_keys (key TEXT PRIMARY KEY, activity_seq INTEGER NOT NULL)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)

PREFIX = {"agents": "a", "tasks": "t", "messages": "m", "activities": "e", "heartbeats": "h", "flips": "f",
          "vault": "v", "feeds": "r", "signals": "s", "opportunities": "o"}
APPEND_TABLES = ("messages", "activities", "heartbeats", "flips")


def _now_ms() -> float:
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


def _public_id(table: str, seq: int) -> str:
    return f"{PREFIX[table]}{seq}"


def _seq(table: str, public_id: str) -> int | None:
    prefix = PREFIX[table]
    if not isinstance(public_id, str) or not public_id.startswith(prefix):
        return None
    digits = public_id[len(prefix):]
    return int(digits) if digits.isdigit() else None


def _agent(row: sqlite3.Row) -> Agent:
    return Agent(
        id=_public_id("agents", row["seq"]),
        agent_id=row["agent_id"] or agent_id_from_session_key(row["session_key"]) or "",
        name=row["name"],
        role=row["role"] or "",
        status=row["status"],
        session_key=row["session_key"],
        current_task_id=row["current_task_id"],
        level=row["level"],
        workspace=row["workspace"],
        heartbeat=row["heartbeat"],
        tz=row["tz"],
        grace_seconds=row["grace_seconds"],
        updated_at=row["updated_at"],
        created_at=row["created_at"],
    )


def _task(row: sqlite3.Row) -> Task:
    return Task(
        id=_public_id("tasks", row["seq"]),
        title=row["title"],
        description=row["description"] or "",
        status=row["status"],
        assignee_ids=tuple(json.loads(row["assignee_ids"] or "[]")),
        updated_at=row["updated_at"],
        created_at=row["created_at"],
    )


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=_public_id("messages", row["seq"]),
        task_id=row["task_id"],
        from_agent_id=row["from_agent_id"],
        content=row["content"],
        attachments=tuple(json.loads(row["attachments"] or "[]")),
        created_at=row["created_at"],
    )


def _activity(row: sqlite3.Row) -> Activity:
    return Activity(
        id=_public_id("activities", row["seq"]),
        type=row["type"],
        message=row["message"],
        agent_id=row["agent_id"],
        actor=row["actor"],
        target_id=row["target_id"],
        detail=json.loads(row["detail"]) if row["detail"] else None,
        created_at=row["created_at"],
    )


def _heartbeat(row: sqlite3.Row) -> Heartbeat:
    return Heartbeat(
        id=_public_id("heartbeats", row["seq"]),
        agent_id=row["agent_id"],
        at=row["at"],
        outcome=row["outcome"],
        source=row["source"],
        run_id=row["run_id"],
        duration_ms=row["duration_ms"],
        error=row["error"],
        delivery=row["delivery"],
        model=row["model"],
        tokens=row["tokens"],
        cost_usd=row["cost_usd"],
        created_at=row["created_at"],
    )


def _flip(row: sqlite3.Row) -> Flip:
    return Flip(
        id=_public_id("flips", row["seq"]),
        agent_id=row["agent_id"],
        at=row["at"],
        from_status=row["from_status"],
        to_status=row["to_status"],
        reason=row["reason"],
        created_at=row["created_at"],
    )


def _feed(row: sqlite3.Row) -> Feed:
    return Feed(
        id=_public_id("feeds", row["seq"]),
        url=row["url"],
        competitor=row["competitor"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_fetched_at=row["last_fetched_at"],
        last_status=row["last_status"],
        error_count=int(row["error_count"] or 0),
        next_fetch_at=row["next_fetch_at"],
        outcome=row["outcome"],
        health=row["health"],
        created_at=row["created_at"],
    )


def _signal(row: sqlite3.Row) -> Signal:
    return Signal(
        id=_public_id("signals", row["seq"]),
        feed_url=row["feed_url"],
        entry_key=row["entry_key"],
        title=row["title"],
        competitor=row["competitor"],
        link=row["link"],
        published_at=row["published_at"],
        summary=row["summary"],
        created_at=row["created_at"],
    )


def _opportunity(row: sqlite3.Row) -> Opportunity:
    return Opportunity(
        id=_public_id("opportunities", row["seq"]),
        title=row["title"],
        stage=row["stage"],
        description=row["description"] or "",
        market_score=row["market_score"],
        analysis=json.loads(row["analysis"]) if row["analysis"] else None,
        survey=json.loads(row["survey"]) if row["survey"] else None,
        decision=json.loads(row["decision"]) if row["decision"] else None,
        updated_at=row["updated_at"],
        created_at=row["created_at"],
    )


READERS: dict[str, Callable[[sqlite3.Row], Any]] = {
    "messages": _message,
    "activities": _activity,
    "heartbeats": _heartbeat,
    "flips": _flip,
}


def _camel(columns: Iterable[str]) -> list[str]:
    """Column names as the Convex documents spell them, for activity details."""
    return sorted(re.sub(r"_([a-z])", lambda m: m.group(1).upper(), c) for c in columns)


def _check_choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise StoreFunctionError(
            f"{what} {value!r} is not one of {', '.join(choices)}",
            data={"code": "BadValue", "field": what},
        )


class LocalStore:
    """SQLite store. Thread-safe: one connection, used under a lock."""

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = _now_ms) -> None:
        self.path = Path(path).expanduser()
        self._clock = clock
        self._lock = threading.RLock()
        self._db = self._open()

    # ----------------------------------------------------------------- opening
    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create the folder for the local store {self.path.parent}: {exc.strerror}",
                hint="choose a writable path with [store] path in squad.toml",
            ) from None
        try:
            db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            set_wal(db)
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            self._migrate(db)
        except sqlite3.DatabaseError as exc:
            raise self._translate(exc) from None
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (0)")
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"the local store {self.path} has schema version {current}, newer than this "
                    f"squad-console understands ({SCHEMA_VERSION})",
                    hint="upgrade squad-console, or point [store] path at another file",
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    db.execute(statement)
                db.execute("UPDATE schema_version SET version = ?", (version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        with self._read() as db:
            return int(db.execute("SELECT version FROM schema_version").fetchone()[0])

    def _translate(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StoreUnavailable(
                f"the local store {self.path} stayed locked for {BUSY_TIMEOUT_MS / 1000:.0f} s",
                hint="another process holds a long write on it; it usually clears by itself",
                retry_after=1.0,
            )
        if "not a database" in text or "malformed" in text:
            return StoreUnavailable(
                f"the local store {self.path} is not a readable SQLite database ({text})",
                hint="nothing was changed; move the file aside and start again, or restore a backup",
            )
        if "unable to open" in text or "readonly" in text:
            return StoreUnavailable(
                f"cannot open the local store {self.path} ({text})",
                hint="check the file's permissions, or choose another path with [store] path",
            )
        return StoreUnavailable(f"the local store {self.path} failed: {text}")

    def describe(self) -> str:
        return f"local {self.path}"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---------------------------------------------------------- transactions
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._translate(exc) from None
            try:
                yield db
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                raise self._translate(exc) from None
            except BaseException:
                db.execute("ROLLBACK")
                raise
            else:
                try:
                    db.execute("COMMIT")
                except sqlite3.Error as exc:
                    db.execute("ROLLBACK")
                    raise self._translate(exc) from None

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every SELECT inside sees one consistent state."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN")
                yield db
            except sqlite3.Error as exc:
                raise self._translate(exc) from None
            finally:
                if db.in_transaction:
                    db.execute("COMMIT")

    def _activity_in(
        self,
        db: sqlite3.Connection,
        type: str,
        message: str,
        *,
        agent_id: str | None = None,
        actor: str | None = OPERATOR,
        target_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Activity:
        now = self._clock()
        cur = db.execute(
            "INSERT INTO activities (type, message, agent_id, actor, target_id, detail, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (type, message, agent_id, actor, target_id, json.dumps(detail) if detail else None, now),
        )
        return Activity(
            id=_public_id("activities", cur.lastrowid),
            type=type,
            message=message,
            agent_id=agent_id,
            actor=actor,
            target_id=target_id,
            detail=detail,
            created_at=now,
        )

    # ----------------------------------------------------------------- agents
    def _find_agent(self, db: sqlite3.Connection, agent_id: str) -> sqlite3.Row | None:
        return db.execute(
            "SELECT * FROM agents WHERE agent_id = ? OR (agent_id IS NULL AND session_key = ?)"
            " ORDER BY seq LIMIT 1",
            (agent_id, f"agent:{agent_id}:main"),
        ).fetchone()

    def upsert_agent(self, spec: AgentSpec, *, actor: str = OPERATOR) -> tuple[Agent, bool, bool]:
        if not spec.agent_id:
            raise StoreFunctionError("an agent needs an id", data={"code": "BadValue", "field": "agentId"})
        if spec.status is not None:
            _check_choice(spec.status, AGENT_STATUSES, "status")
        wanted = {
            "agent_id": spec.agent_id,
            "name": spec.name,
            "role": spec.role,
            "status": spec.status,
            "level": spec.level,
            "workspace": spec.workspace,
            "heartbeat": spec.heartbeat,
            "tz": spec.tz,
            "grace_seconds": spec.grace_seconds,
        }
        with self._write() as db:
            now = self._clock()
            row = self._find_agent(db, spec.agent_id)
            if row is None:
                values = {k: v for k, v in wanted.items() if v is not None}
                values.setdefault("status", "idle")
                values.update(session_key=f"agent:{spec.agent_id}:main", updated_at=now, created_at=now)
                cols = ", ".join(values)
                cur = db.execute(
                    f"INSERT INTO agents ({cols}) VALUES ({', '.join('?' * len(values))})",
                    tuple(values.values()),
                )
                agent_doc_id = _public_id("agents", cur.lastrowid)
                self._activity_in(
                    db,
                    "agent_registered",
                    f"{spec.name} registered",
                    agent_id=agent_doc_id,
                    actor=actor,
                    target_id=agent_doc_id,
                    detail={"agentId": spec.agent_id, "changed": _camel(k for k in values if k in wanted)},
                )
                created, changed = True, True
                seq = cur.lastrowid
            else:
                seq = row["seq"]
                changes = {k: v for k, v in wanted.items() if v is not None and row[k] != v}
                created, changed = False, bool(changes)
                if changes:
                    changes["updated_at"] = now
                    db.execute(
                        f"UPDATE agents SET {', '.join(f'{k} = ?' for k in changes)} WHERE seq = ?",
                        (*changes.values(), seq),
                    )
                    agent_doc_id = _public_id("agents", seq)
                    self._activity_in(
                        db,
                        "agent_updated",
                        f"{changes.get('name', row['name'])} updated: {', '.join(_camel(k for k in changes if k != 'updated_at'))}",
                        agent_id=agent_doc_id,
                        actor=actor,
                        target_id=agent_doc_id,
                        detail={"agentId": spec.agent_id, "changed": _camel(k for k in changes if k != "updated_at")},
                    )
            agent = _agent(db.execute("SELECT * FROM agents WHERE seq = ?", (seq,)).fetchone())
        return agent, created, changed

    def list_agents(self) -> list[Agent]:
        with self._read() as db:
            return [_agent(r) for r in db.execute("SELECT * FROM agents ORDER BY seq")]

    # ------------------------------------------------------------------ tasks
    def _check_agents_exist(self, db: sqlite3.Connection, ids: list[str] | tuple[str, ...]) -> None:
        for agent_ref in ids:
            seq = _seq("agents", agent_ref)
            if seq is None or db.execute("SELECT 1 FROM agents WHERE seq = ?", (seq,)).fetchone() is None:
                raise NotFoundError(f"agent {agent_ref} not found", data={"code": "NotFound", "id": agent_ref})

    def create_task(
        self,
        title: str,
        description: str = "",
        *,
        status: str = "inbox",
        assignee_ids: tuple[str, ...] | list[str] = (),
        actor: str = OPERATOR,
    ) -> Task:
        _check_choice(status, TASK_STATUSES, "status")
        if not title.strip():
            raise StoreFunctionError("a task needs a title", data={"code": "BadValue", "field": "title"})
        with self._write() as db:
            self._check_agents_exist(db, assignee_ids)
            now = self._clock()
            cur = db.execute(
                "INSERT INTO tasks (title, description, status, assignee_ids, updated_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (title, description, status, json.dumps(list(assignee_ids)), now, now),
            )
            task_id = _public_id("tasks", cur.lastrowid)
            self._activity_in(
                db,
                "task_created",
                f"task created: {title}",
                actor=actor,
                target_id=task_id,
                detail={"status": status, "assigneeIds": list(assignee_ids)},
            )
            return _task(db.execute("SELECT * FROM tasks WHERE seq = ?", (cur.lastrowid,)).fetchone())

    def update_task(
        self,
        task_id: str,
        *,
        status: str | None = None,
        assignee_ids: tuple[str, ...] | list[str] | None = None,
        title: str | None = None,
        description: str | None = None,
        actor: str = OPERATOR,
    ) -> Task:
        if status is not None:
            _check_choice(status, TASK_STATUSES, "status")
        with self._write() as db:
            seq = _seq("tasks", task_id)
            row = db.execute("SELECT * FROM tasks WHERE seq = ?", (seq,)).fetchone() if seq else None
            if row is None:
                raise NotFoundError(f"task {task_id} not found", data={"code": "NotFound", "id": task_id})
            before = _task(row)
            if assignee_ids is not None:
                self._check_agents_exist(db, assignee_ids)
            changes: dict[str, dict[str, Any]] = {}
            if status is not None and status != before.status:
                changes["status"] = {"from": before.status, "to": status}
            if assignee_ids is not None and tuple(assignee_ids) != before.assignee_ids:
                changes["assigneeIds"] = {"from": list(before.assignee_ids), "to": list(assignee_ids)}
            if title is not None and title != before.title:
                changes["title"] = {"from": before.title, "to": title}
            if description is not None and description != before.description:
                changes["description"] = {"from": before.description, "to": description}
            if not changes:
                return before  # nothing to change: no write, no activity (as in Convex)
            now = self._clock()
            db.execute(
                "UPDATE tasks SET title = ?, description = ?, status = ?, assignee_ids = ?, updated_at = ?"
                " WHERE seq = ?",
                (
                    title if title is not None else before.title,
                    description if description is not None else before.description,
                    status if status is not None else before.status,
                    json.dumps(list(assignee_ids if assignee_ids is not None else before.assignee_ids)),
                    now,
                    seq,
                ),
            )
            kind, text = task_update_activity(before.title, changes)
            self._activity_in(db, kind, text, actor=actor, target_id=task_id, detail={"changes": changes})
            return _task(db.execute("SELECT * FROM tasks WHERE seq = ?", (seq,)).fetchone())

    def list_tasks(self) -> list[Task]:
        with self._read() as db:
            return [_task(r) for r in db.execute("SELECT * FROM tasks ORDER BY seq")]

    # --------------------------------------------------- messages, activities
    def send_message(
        self, task_id: str, from_agent_id: str, content: str, *, actor: str = OPERATOR
    ) -> Message:
        with self._write() as db:
            seq = _seq("tasks", task_id)
            task = db.execute("SELECT title FROM tasks WHERE seq = ?", (seq,)).fetchone() if seq else None
            if task is None:
                raise NotFoundError(f"task {task_id} not found", data={"code": "NotFound", "id": task_id})
            self._check_agents_exist(db, [from_agent_id])
            now = self._clock()
            cur = db.execute(
                "INSERT INTO messages (task_id, from_agent_id, content, attachments, created_at)"
                " VALUES (?, ?, ?, '[]', ?)",
                (task_id, from_agent_id, content, now),
            )
            self._activity_in(
                db,
                "message_sent",
                f"commented on \"{task['title']}\"",
                agent_id=from_agent_id,
                actor=actor,
                target_id=task_id,
            )
            return _message(db.execute("SELECT * FROM messages WHERE seq = ?", (cur.lastrowid,)).fetchone())

    def log_activity(
        self,
        type: str,
        message: str,
        *,
        agent_id: str | None = None,
        actor: str = OPERATOR,
        target_id: str | None = None,
        detail: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> Activity:
        with self._write() as db:
            if key is not None:
                row = db.execute(
                    "SELECT a.* FROM activity_keys k JOIN activities a ON a.seq = k.activity_seq WHERE k.key = ?",
                    (key,),
                ).fetchone()
                if row is not None:
                    return _activity(row)
            activity = self._activity_in(
                db, type, message, agent_id=agent_id, actor=actor, target_id=target_id, detail=detail
            )
            if key is not None:
                db.execute("INSERT INTO activity_keys (key, activity_seq) VALUES (?, ?)",
                           (key, _seq("activities", activity.id)))
            return activity

    def list_activities(self, limit: int = 100, before: float | None = None) -> list[Activity]:
        with self._read() as db:
            if before is None:
                rows = db.execute("SELECT * FROM activities ORDER BY seq DESC LIMIT ?", (limit,))
            else:
                rows = db.execute(
                    "SELECT * FROM activities WHERE created_at < ? ORDER BY seq DESC LIMIT ?", (before, limit)
                )
            return [_activity(r) for r in rows]

    # ------------------------------------------------------------- heartbeats
    def record_heartbeat(self, beat: HeartbeatIn, *, actor: str | None = None) -> tuple[Heartbeat, bool]:
        _check_choice(beat.outcome, HEARTBEAT_OUTCOMES, "outcome")
        run_id = beat.effective_run_id()
        with self._write() as db:
            existing = db.execute("SELECT * FROM heartbeats WHERE run_id = ?", (run_id,)).fetchone()
            if existing is not None:
                return _heartbeat(existing), False
            now = self._clock()
            cur = db.execute(
                "INSERT INTO heartbeats (agent_id, at, outcome, source, run_id, duration_ms, error,"
                " delivery, model, tokens, cost_usd, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    beat.agent_id, beat.at, beat.outcome, beat.source, run_id, beat.duration_ms,
                    beat.error, beat.delivery, beat.model, beat.tokens, beat.cost_usd, now,
                ),
            )
            heartbeat_id = _public_id("heartbeats", cur.lastrowid)
            if beat.outcome == "error":
                agent = self._find_agent(db, beat.agent_id)
                self._activity_in(
                    db,
                    "heartbeat_failed",
                    f"{beat.agent_id} heartbeat failed: {beat.error or 'unknown error'}",
                    agent_id=_public_id("agents", agent["seq"]) if agent else None,
                    actor=actor or beat.source,
                    target_id=heartbeat_id,
                    detail={"agentId": beat.agent_id, "runId": run_id},
                )
            return _heartbeat(db.execute("SELECT * FROM heartbeats WHERE seq = ?", (cur.lastrowid,)).fetchone()), True

    def list_heartbeats(
        self,
        agent_id: str | None = None,
        *,
        since: float = 0.0,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[Heartbeat]:
        return self._list_by_at("heartbeats", _heartbeat, agent_id, since, until, limit)

    def record_flip(
        self,
        agent_id: str,
        at: float,
        from_status: str,
        to_status: str,
        reason: str | None = None,
        *,
        actor: str = OPERATOR,
    ) -> Flip:
        with self._write() as db:
            now = self._clock()
            cur = db.execute(
                "INSERT INTO flips (agent_id, at, from_status, to_status, reason, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (agent_id, at, from_status, to_status, reason, now),
            )
            flip_id = _public_id("flips", cur.lastrowid)
            agent = self._find_agent(db, agent_id)
            self._activity_in(
                db,
                f"heartbeat_{to_status}",
                f"{agent_id}: {from_status} → {to_status}" + (f" ({reason})" if reason else ""),
                agent_id=_public_id("agents", agent["seq"]) if agent else None,
                actor=actor,
                target_id=flip_id,
                detail={"agentId": agent_id, "at": at},
            )
            return _flip(db.execute("SELECT * FROM flips WHERE seq = ?", (cur.lastrowid,)).fetchone())

    def list_flips(
        self,
        agent_id: str | None = None,
        *,
        since: float = 0.0,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[Flip]:
        return self._list_by_at("flips", _flip, agent_id, since, until, limit)

    def _list_by_at(
        self, table: str, reader: Callable[[sqlite3.Row], T], agent_id: str | None,
        since: float, until: float | None, limit: int,
    ) -> list[T]:
        clauses, params = ["at >= ?"], [since]
        if until is not None:
            clauses.append("at < ?")
            params.append(until)
        if agent_id is not None:
            clauses.append("agent_id = ?")
            params.append(agent_id)
        with self._read() as db:
            rows = db.execute(
                f"SELECT * FROM {table} WHERE {' AND '.join(clauses)} ORDER BY at, seq LIMIT ?",
                (*params, limit),
            )
            return [reader(r) for r in rows]

    # --------------------------------------------------------------- snapshot
    def snapshot(self, since: Marks | None = None, limit: int = DEFAULT_SNAPSHOT_LIMIT) -> Snapshot:
        since = since or {}
        marks: dict[str, Any] = {}
        has_more = False
        out: dict[str, Any] = {}
        with self._read() as db:
            versions = dict(db.execute("SELECT name, version FROM versions").fetchall())
            for table, reader in (("agents", _agent), ("tasks", _task)):
                mark = str(versions[table])
                marks[table] = mark
                out[table] = (
                    None
                    if since.get(table) == mark
                    else tuple(reader(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY seq"))
                )
            for table in APPEND_TABLES:
                after = since.get(table)
                if after is None:
                    rows = db.execute(
                        f"SELECT * FROM {table} ORDER BY seq DESC LIMIT ?", (limit + 1,)
                    ).fetchall()
                    rows.reverse()
                    more = len(rows) > limit
                    rows = rows[-limit:] if more else rows
                else:
                    rows = db.execute(
                        f"SELECT * FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?", (int(after), limit + 1)
                    ).fetchall()
                    more = len(rows) > limit
                    rows = rows[:limit]
                has_more = has_more or (more and after is not None)
                marks[table] = rows[-1]["seq"] if rows else int(after or 0)
                out[table] = tuple(READERS[table](r) for r in rows)
        return Snapshot(**out, marks=marks, has_more=has_more, server_time=self._clock())

    # ------------------------------------------------------------------ vault
    @staticmethod
    def _vault_row(row: sqlite3.Row, with_record: bool) -> VaultRow:
        return VaultRow(
            id=_public_id("vault", row["seq"]),
            name=row["name"],
            version=int(row["version"]),
            kid=row["kid"],
            created_at=row["created_at"],
            deleted=bool(row["deleted"]),
            record=row["record"] if with_record else None,
        )

    def vault_put(
        self,
        name: str,
        version: int,
        record: str,
        kid: str,
        *,
        expected_version: int | None = None,
        actor: str = OPERATOR,
    ) -> VaultRow:
        with self._write() as db:
            same = db.execute("SELECT * FROM vault WHERE name = ? AND version = ?", (name, version)).fetchone()
            if same is not None and same["record"] == record and same["kid"] == kid:
                return self._vault_row(same, True)
            latest = int(db.execute("SELECT COALESCE(MAX(version), 0) FROM vault WHERE name = ?", (name,)).fetchone()[0])
            if (expected_version is not None and latest != expected_version) or version <= latest:
                raise StoreFunctionError(
                    f"vault entry {name}: version {version} conflicts with the stored version {latest}",
                    hint="another writer got there first: read the entry again, then retry",
                    data={"code": "Conflict", "name": name, "latest": latest},
                )
            now = self._clock()
            cur = db.execute(
                "INSERT INTO vault (name, version, record, kid, created_at, deleted) VALUES (?, ?, ?, ?, ?, 0)",
                (name, version, record, kid, now),
            )
            row_id = _public_id("vault", cur.lastrowid)
            self._activity_in(
                db, "vault_put", f"vault: stored {name} v{version}", actor=actor, target_id=row_id,
                detail={"name": name, "version": version, "kid": kid},
            )
            return self._vault_row(db.execute("SELECT * FROM vault WHERE seq = ?", (cur.lastrowid,)).fetchone(), True)

    def vault_list(self) -> list[VaultRow]:
        with self._read() as db:
            return [self._vault_row(r, False) for r in db.execute("SELECT * FROM vault ORDER BY name, version")]

    def vault_get(self, name: str, version: int | None = None) -> VaultRow:
        with self._read() as db:
            if version is None:
                row = db.execute(
                    "SELECT * FROM vault WHERE name = ? AND deleted = 0 ORDER BY version DESC LIMIT 1", (name,)
                ).fetchone()
            else:
                row = db.execute("SELECT * FROM vault WHERE name = ? AND version = ?", (name, version)).fetchone()
        if row is None:
            what = f"vault entry {name}" + (f" version {version}" if version is not None else "")
            raise NotFoundError(f"{what} not found", data={"code": "NotFound", "name": name})
        return self._vault_row(row, True)

    def vault_remove(self, name: str, *, actor: str = OPERATOR) -> int:
        with self._write() as db:
            if db.execute("SELECT 1 FROM vault WHERE name = ?", (name,)).fetchone() is None:
                raise NotFoundError(f"vault entry {name} not found", data={"code": "NotFound", "name": name})
            marked = db.execute("UPDATE vault SET deleted = 1 WHERE name = ? AND deleted = 0", (name,)).rowcount
            if marked:
                self._activity_in(
                    db, "vault_removed", f"vault: removed {name}", actor=actor, target_id=name,
                    detail={"name": name, "versions": marked},
                )
            return marked

    # --------------------------------------------------------------- pipeline
    def _feed_row(self, db: sqlite3.Connection, url: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        if row is None:
            raise NotFoundError(f"feed {url} not found", data={"code": "NotFound", "url": url})
        return row

    def add_feed(self, url: str, competitor: str, *, actor: str = OPERATOR) -> Feed:
        if not url.strip():
            raise StoreFunctionError("a feed needs a URL", data={"code": "BadValue", "field": "url"})
        if not competitor.strip():
            raise StoreFunctionError("a feed needs a competitor", data={"code": "BadValue", "field": "competitor"})
        with self._write() as db:
            if db.execute("SELECT 1 FROM feeds WHERE url = ?", (url,)).fetchone() is not None:
                raise StoreFunctionError(f"feed {url} is already added", hint="remove it first to change it",
                                         data={"code": "Conflict", "url": url})
            cur = db.execute("INSERT INTO feeds (url, competitor, error_count, created_at) VALUES (?, ?, 0, ?)",
                             (url, competitor, self._clock()))
            feed_id = _public_id("feeds", cur.lastrowid)
            self._activity_in(db, "feed_added", f"feed added: {url} ({competitor})", actor=actor,
                              target_id=feed_id, detail={"url": url, "competitor": competitor})
            return _feed(db.execute("SELECT * FROM feeds WHERE seq = ?", (cur.lastrowid,)).fetchone())

    def list_feeds(self) -> list[Feed]:
        with self._read() as db:
            return [_feed(r) for r in db.execute("SELECT * FROM feeds ORDER BY seq")]

    def remove_feed(self, url: str, *, actor: str = OPERATOR) -> Feed:
        with self._write() as db:
            feed = _feed(self._feed_row(db, url))
            db.execute("DELETE FROM feeds WHERE url = ?", (url,))
            self._activity_in(db, "feed_removed", f"feed removed: {url} ({feed.competitor})", actor=actor,
                              target_id=feed.id, detail={"url": url, "competitor": feed.competitor})
            return feed

    def record_fetch(
        self, url: str, state: FeedState, signals: Sequence[SignalIn] = (), *, actor: str = "service"
    ) -> FetchRecorded:
        if state.outcome is not None:
            _check_choice(state.outcome, FEED_OUTCOMES, "outcome")
        with self._write() as db:
            before = _feed(self._feed_row(db, url))
            db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, last_fetched_at = ?, last_status = ?, error_count = ?,"
                " next_fetch_at = ?, outcome = ?, health = ? WHERE seq = ?",
                (state.etag, state.last_modified, state.last_fetched_at, state.last_status, int(state.error_count),
                 state.next_fetch_at, state.outcome, state.health, _seq("feeds", before.id)),
            )
            created, updated, unchanged, new_keys = 0, 0, 0, []
            now = self._clock()
            for sig in signals:
                if sig.feed_url != url:
                    raise StoreFunctionError(f"signal {sig.entry_key} belongs to {sig.feed_url}, not {url}",
                                             data={"code": "BadValue", "field": "feedUrl"})
                row = db.execute("SELECT * FROM signals WHERE feed_url = ? AND entry_key = ?",
                                 (url, sig.entry_key)).fetchone()
                values = (sig.title, sig.link, sig.published_at, sig.competitor, sig.summary)
                if row is None:
                    db.execute(
                        "INSERT INTO signals (feed_url, entry_key, title, link, published_at, competitor, summary,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (url, sig.entry_key, *values, now))
                    created += 1
                    new_keys.append(sig.entry_key)
                elif (row["title"], row["link"], row["published_at"], row["competitor"], row["summary"]) != values:
                    db.execute("UPDATE signals SET title = ?, link = ?, published_at = ?, competitor = ?, summary = ?"
                               " WHERE seq = ?", (*values, row["seq"]))
                    updated += 1
                else:
                    unchanged += 1
            for type_, message, detail in fetch_activities(before, state, created, updated, new_keys):
                self._activity_in(db, type_, message, actor=actor, target_id=before.id, detail=detail)
            feed = _feed(db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone())
            return FetchRecorded(feed, created, updated, unchanged)

    def list_signals(
        self, *, feed_url: str | None = None, competitor: str | None = None, limit: int = 1000
    ) -> list[Signal]:
        clauses, params = [], []
        if feed_url is not None:
            clauses.append("feed_url = ?")
            params.append(feed_url)
        if competitor is not None:
            clauses.append("competitor = ?")
            params.append(competitor)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read() as db:
            rows = db.execute(f"SELECT * FROM signals {where} ORDER BY seq DESC LIMIT ?", (*params, max(0, limit)))
            return [_signal(r) for r in reversed(rows.fetchall())]

    def _opportunity_row(self, db: sqlite3.Connection, opportunity_id: str) -> sqlite3.Row:
        seq = _seq("opportunities", opportunity_id)
        row = db.execute("SELECT * FROM opportunities WHERE seq = ?", (seq,)).fetchone() if seq else None
        if row is None:
            raise NotFoundError(f"opportunity {opportunity_id} not found",
                                data={"code": "NotFound", "id": opportunity_id})
        return row

    def create_opportunity(self, title: str, description: str = "", *, actor: str = OPERATOR) -> Opportunity:
        if not title.strip():
            raise StoreFunctionError("an opportunity needs a title", data={"code": "BadValue", "field": "title"})
        with self._write() as db:
            now = self._clock()
            cur = db.execute("INSERT INTO opportunities (title, description, stage, updated_at, created_at)"
                             " VALUES (?, ?, 'analysis', ?, ?)", (title, description, now, now))
            opp_id = _public_id("opportunities", cur.lastrowid)
            self._activity_in(db, "opportunity_created", f"opportunity created: {title}", actor=actor,
                              target_id=opp_id, detail={"stage": "analysis"})
            return _opportunity(db.execute("SELECT * FROM opportunities WHERE seq = ?", (cur.lastrowid,)).fetchone())

    def list_opportunities(self) -> list[Opportunity]:
        with self._read() as db:
            return [_opportunity(r) for r in db.execute("SELECT * FROM opportunities ORDER BY seq")]

    def get_opportunity(self, opportunity_id: str) -> Opportunity:
        with self._read() as db:
            return _opportunity(self._opportunity_row(db, opportunity_id))

    def _patch_opportunity(self, db: sqlite3.Connection, seq: int, **cols: Any) -> Opportunity:
        cols["updated_at"] = self._clock()
        db.execute(f"UPDATE opportunities SET {', '.join(f'{k} = ?' for k in cols)} WHERE seq = ?",
                   (*cols.values(), seq))
        return _opportunity(db.execute("SELECT * FROM opportunities WHERE seq = ?", (seq,)).fetchone())

    def move_opportunity(self, opportunity_id: str, stage: str, *, actor: str = OPERATOR) -> Opportunity:
        _check_choice(stage, OPPORTUNITY_STAGES, "stage")
        with self._write() as db:
            row = self._opportunity_row(db, opportunity_id)
            if row["stage"] == stage:
                return _opportunity(row)
            opp = self._patch_opportunity(db, row["seq"], stage=stage)
            self._activity_in(db, "opportunity_moved", f"opportunity moved to {stage}: {opp.title}", actor=actor,
                              target_id=opp.id, detail={"from": row["stage"], "to": stage})
            return opp

    def record_analysis(
        self, opportunity_id: str, market_score: float, analysis: dict[str, Any], *, actor: str = OPERATOR
    ) -> Opportunity:
        with self._write() as db:
            row = self._opportunity_row(db, opportunity_id)
            opp = self._patch_opportunity(db, row["seq"], market_score=float(market_score),
                                          analysis=json.dumps(analysis))
            self._activity_in(db, "market_analysed", f"market score {market_score:g}: {opp.title}", actor=actor,
                              target_id=opp.id, detail=analysis_activity_detail(row["market_score"], market_score, analysis))
            return opp

    def record_survey(
        self,
        opportunity_id: str,
        survey: dict[str, Any],
        *,
        expected_respondents: int | None = None,
        actor: str = OPERATOR,
    ) -> Opportunity:
        with self._write() as db:
            row = self._opportunity_row(db, opportunity_id)
            stored = len((json.loads(row["survey"]) if row["survey"] else {}).get("responses") or [])
            check_survey_cas(opportunity_id, stored, expected_respondents)
            opp = self._patch_opportunity(db, row["seq"], survey=json.dumps(survey))
            self._activity_in(db, "survey_recorded", survey_activity_message(opp.title, survey), actor=actor,
                              target_id=opp.id, detail=survey_activity_detail(stored, survey))
            return opp

    def record_decision(self, opportunity_id: str, decision: dict[str, Any], *, actor: str = OPERATOR) -> Opportunity:
        type_ = check_decision(decision)
        with self._write() as db:
            row = self._opportunity_row(db, opportunity_id)
            previous = json.loads(row["decision"]) if row["decision"] else None
            opp = self._patch_opportunity(db, row["seq"], decision=json.dumps(decision), stage=decision["verdict"])
            message, detail = decision_activity(opp.title, decision, previous)
            self._activity_in(db, type_, message, actor=actor, target_id=opp.id, detail=detail)
            return opp



def task_update_activity(title: str, changes: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The activity type and text for a task update (the same rule as convex/console/tasks.ts)."""
    status = changes.get("status")
    if status and status["to"] == "done":
        return "task_completed", f"task completed: {title}"
    if "assigneeIds" in changes:
        return "task_assigned", f"task assigned: {title}"
    if status:
        return "task_moved", f"task moved to {status['to']}: {title}"
    return "task_updated", f"task updated: {title}"


# The pipeline's activities: the same rules as convex/console/pipeline.ts.
def fetch_activities(
    before: Feed, state: FeedState, created: int, updated: int, new_keys: list[str]
) -> list[tuple[str, str, dict[str, Any]]]:
    out: list[tuple[str, str, dict[str, Any]]] = []
    if created or updated:
        text = f"{before.competitor}: {created} new signal{'s' if created != 1 else ''} from {before.url}"
        if updated:
            text += f" ({updated} updated)"
        out.append(("signals_ingested", text, {"url": before.url, "competitor": before.competitor,
                                               "created": created, "updated": updated, "entryKeys": new_keys[:50]}))
    if state.outcome == "failed" and before.outcome != "failed":
        out.append(("feed_failed", f"feed {before.url} {state.health or 'failed'}",
                    {"url": before.url, "status": state.last_status, "errorCount": state.error_count}))
    elif before.outcome == "failed" and state.outcome not in (None, "failed"):
        out.append(("feed_recovered", f"feed {before.url} answers again ({state.outcome})",
                    {"url": before.url, "status": state.last_status}))
    return out


def analysis_activity_detail(before: float | None, score: float, analysis: dict[str, Any]) -> dict[str, Any]:
    return {"from": before, "to": float(score), "signals": len(analysis.get("signals") or [])}


def check_survey_cas(opportunity_id: str, stored: int, expected: int | None) -> None:
    if expected is not None and stored != expected:
        raise StoreFunctionError(
            f"opportunity {opportunity_id}: the survey holds {stored} responses, not {expected}",
            hint="another writer added responses meanwhile: read it again, then retry",
            data={"code": "Conflict", "id": opportunity_id, "stored": stored},
        )


def survey_activity_message(title: str, survey: dict[str, Any]) -> str:
    n = len(survey.get("responses") or [])
    score = survey.get("score")
    return f"survey: {n} respondent{'s' if n != 1 else ''}" + (
        f", validation {score:g}" if isinstance(score, (int, float)) else "") + f": {title}"


def survey_activity_detail(before: int, survey: dict[str, Any]) -> dict[str, Any]:
    n = len(survey.get("responses") or [])
    return {"respondents": n, "added": n - before, "score": survey.get("score")}


def check_decision(decision: dict[str, Any]) -> str:
    """The activity type of a decision, after checking it (an override needs a reason)."""
    verdict = decision.get("verdict")
    if verdict not in VERDICTS:
        raise StoreFunctionError(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}",
                                 data={"code": "BadValue", "field": "verdict"})
    override = decision.get("override")
    if override is None:
        return "decision_made"
    reason = override.get("reason") if isinstance(override, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise StoreFunctionError("an override needs a reason", hint="say why the computed verdict is set aside",
                                 data={"code": "BadValue", "field": "reason"})
    return "decision_overridden"


def decision_activity(title: str, decision: dict[str, Any], previous: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    override = decision.get("override")
    detail: dict[str, Any] = {"verdict": decision["verdict"], "previous": (previous or {}).get("verdict"),
                              "computed": decision.get("computed", {}).get("verdict"),
                              "criteriaVersion": decision.get("inputs", {}).get("criteria", {}).get("version")}
    if override:
        detail["reason"] = override["reason"]
        return f"decision overridden to {decision['verdict']}: {title} ({override['reason']})", detail
    return f"decision: {decision['verdict']}: {title}", detail
