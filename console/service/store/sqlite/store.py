"""LocalStore: the store contract on an embedded SQLite file (the default store).

- WAL journal and a busy timeout (`connection`), so the daemon and a console or two can share
  one file.
- `schema_version` plus numbered migrations (`schema`); a file written by a newer console is
  refused.
- Ids are a one-letter table prefix plus the rowid (`rows`): the rowid is also the insertion
  order that `snapshot` uses as its high-water mark for append-only tables.
- `agents`, `tasks`, `feeds` and `opportunities` carry a change counter kept by triggers, so a
  write from another process is seen by the next snapshot without scanning the table.
- Every change and its activity (worded by `console.service.store.activities`) are written in
  one `BEGIN IMMEDIATE` transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
    History,
    Marks,
    Message,
    Opportunity,
    Signal,
    SignalIn,
    Snapshot,
    RunsBuilder,
    Task,
)
from console.service.store import activities
from console.service.store.activities import Said
from console.service.store.contract import (
    DEFAULT_SNAPSHOT_LIMIT,
    NotFoundError,
    StoreError,
    StoreFunctionError,
    StoreUnavailable,
    VaultRow,
    check_choice,
)
from console.service.store.sqlite import connection
from console.service.store.sqlite import rows as read
from console.service.store.sqlite.rows import READERS, camel, public_id, seq_of
from console.service.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

T = TypeVar("T")

WHOLE_TABLES = ("agents", "tasks", "feeds", "opportunities")  # returned whole by snapshot when changed
APPEND_TABLES = ("messages", "activities", "heartbeats", "flips")  # returned by insertion mark


@dataclass(frozen=True, slots=True)
class PastBeat:
    """A heartbeat for `LocalStore.import_history`, recorded at `recorded_at` (ms). `audited=False`
    leaves out the `heartbeat_failed` activity a failed beat would write."""

    beat: HeartbeatIn
    recorded_at: float
    audited: bool = True
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class PastFlip:
    """A status change for `LocalStore.import_history`, recorded at `recorded_at` (ms)."""

    agent_id: str
    at: float
    from_status: str
    to_status: str
    recorded_at: float
    reason: str | None = None
    actor: str = OPERATOR


class LocalStore:
    """SQLite store. Thread-safe: one connection, used under a lock."""

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = connection.now_ms) -> None:
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
            db = connection.connect(self.path)
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
        return connection.translate(exc, self.path)

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
        said: Said,
        *,
        agent_id: str | None = None,
        actor: str | None = OPERATOR,
        target_id: str | None = None,
        now: float | None = None,
    ) -> Activity:
        """Writes one activity (inside the caller's transaction), worded by `activities`."""
        now = self._clock() if now is None else now
        cur = db.execute(
            "INSERT INTO activities (type, message, agent_id, actor, target_id, detail, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (said.type, said.message, agent_id, actor, target_id,
             json.dumps(said.detail) if said.detail is not None else None, now),
        )
        return Activity(
            id=public_id("activities", cur.lastrowid),
            type=said.type,
            message=said.message,
            agent_id=agent_id,
            actor=actor,
            target_id=target_id,
            detail=said.detail,
            created_at=now,
        )

    # ----------------------------------------------------------------- agents
    def _find_agent(self, db: sqlite3.Connection, agent_id: str) -> sqlite3.Row | None:
        return db.execute(
            "SELECT * FROM agents WHERE agent_id = ? OR (agent_id IS NULL AND session_key = ?)"
            " ORDER BY seq LIMIT 1",
            (agent_id, f"agent:{agent_id}:main"),
        ).fetchone()

    def _agent_doc_id(self, db: sqlite3.Connection, agent_id: str) -> str | None:
        """The document id of the agent with this OpenClaw id, if it is registered."""
        row = self._find_agent(db, agent_id)
        return public_id("agents", row["seq"]) if row else None

    def upsert_agent(self, spec: AgentSpec, *, actor: str = OPERATOR) -> tuple[Agent, bool, bool]:
        if not spec.agent_id:
            raise StoreFunctionError("an agent needs an id", data={"code": "BadValue", "field": "agentId"})
        if spec.status is not None:
            check_choice(spec.status, AGENT_STATUSES, "status")
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
                agent_doc_id = public_id("agents", cur.lastrowid)
                said = activities.agent_registered(spec.name, spec.agent_id, camel(k for k in values if k in wanted))
                self._activity_in(db, said, agent_id=agent_doc_id, actor=actor, target_id=agent_doc_id)
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
                    agent_doc_id = public_id("agents", seq)
                    said = activities.agent_updated(changes.get("name", row["name"]), spec.agent_id,
                                                    camel(k for k in changes if k != "updated_at"))
                    self._activity_in(db, said, agent_id=agent_doc_id, actor=actor, target_id=agent_doc_id)
            agent = read.agent(db.execute("SELECT * FROM agents WHERE seq = ?", (seq,)).fetchone())
        return agent, created, changed

    def list_agents(self) -> list[Agent]:
        with self._read() as db:
            return [read.agent(r) for r in db.execute("SELECT * FROM agents ORDER BY seq")]

    # ------------------------------------------------------------------ tasks
    def _check_agents_exist(self, db: sqlite3.Connection, ids: list[str] | tuple[str, ...]) -> None:
        for agent_ref in ids:
            seq = seq_of("agents", agent_ref)
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
        check_choice(status, TASK_STATUSES, "status")
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
            task_id = public_id("tasks", cur.lastrowid)
            said = activities.task_created(title, status, list(assignee_ids))
            self._activity_in(db, said, actor=actor, target_id=task_id)
            return read.task(db.execute("SELECT * FROM tasks WHERE seq = ?", (cur.lastrowid,)).fetchone())

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
            check_choice(status, TASK_STATUSES, "status")
        with self._write() as db:
            seq = seq_of("tasks", task_id)
            row = db.execute("SELECT * FROM tasks WHERE seq = ?", (seq,)).fetchone() if seq else None
            if row is None:
                raise NotFoundError(f"task {task_id} not found", data={"code": "NotFound", "id": task_id})
            before = read.task(row)
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
            after = read.task(db.execute("SELECT * FROM tasks WHERE seq = ?", (seq,)).fetchone())
            self._activity_in(db, activities.task_updated(after.title, changes), actor=actor, target_id=task_id)
            return after

    def remove_task(self, task_id: str, *, actor: str = OPERATOR) -> Task:
        with self._write() as db:
            seq = seq_of("tasks", task_id)
            row = db.execute("SELECT * FROM tasks WHERE seq = ?", (seq,)).fetchone() if seq else None
            if row is None:
                raise NotFoundError(f"task {task_id} not found", data={"code": "NotFound", "id": task_id})
            task = read.task(row)
            db.execute("DELETE FROM tasks WHERE seq = ?", (seq,))  # its messages stay: the history
            said = activities.task_removed(task.title, task.status, list(task.assignee_ids))
            self._activity_in(db, said, actor=actor, target_id=task_id)
            return task

    def list_tasks(self) -> list[Task]:
        with self._read() as db:
            return [read.task(r) for r in db.execute("SELECT * FROM tasks ORDER BY seq")]

    # --------------------------------------------------- messages, activities
    def send_message(
        self, task_id: str, from_agent_id: str, content: str, *, actor: str = OPERATOR
    ) -> Message:
        with self._write() as db:
            seq = seq_of("tasks", task_id)
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
            message_id = public_id("messages", cur.lastrowid)
            self._activity_in(db, activities.message_sent(task["title"], message_id), agent_id=from_agent_id,
                              actor=actor, target_id=task_id)
            return read.message(db.execute("SELECT * FROM messages WHERE seq = ?", (cur.lastrowid,)).fetchone())

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
                    return read.activity(row)
            activity = self._activity_in(
                db, Said(type, message, detail), agent_id=agent_id, actor=actor, target_id=target_id
            )
            if key is not None:
                db.execute("INSERT INTO activity_keys (key, activity_seq) VALUES (?, ?)",
                           (key, seq_of("activities", activity.id)))
            return activity

    def list_activities(self, limit: int = 100, before: float | None = None) -> list[Activity]:
        with self._read() as db:
            if before is None:
                rows = db.execute("SELECT * FROM activities ORDER BY seq DESC LIMIT ?", (limit,))
            else:
                rows = db.execute(
                    "SELECT * FROM activities WHERE created_at < ? ORDER BY seq DESC LIMIT ?", (before, limit)
                )
            return [read.activity(r) for r in rows]

    # ------------------------------------------------------------- heartbeats
    def record_heartbeat(self, beat: HeartbeatIn, *, actor: str | None = None) -> tuple[Heartbeat, bool]:
        check_choice(beat.outcome, HEARTBEAT_OUTCOMES, "outcome")
        with self._write() as db:
            return self._insert_heartbeat(db, beat, self._clock(), actor=actor, audited=True)

    def _insert_heartbeat(
        self, db: sqlite3.Connection, beat: HeartbeatIn, now: float, *, actor: str | None, audited: bool
    ) -> tuple[Heartbeat, bool]:
        run_id = beat.effective_run_id()
        existing = db.execute("SELECT * FROM heartbeats WHERE run_id = ?", (run_id,)).fetchone()
        if existing is not None:
            return read.heartbeat(existing), False
        cur = db.execute(
            "INSERT INTO heartbeats (agent_id, at, outcome, source, run_id, duration_ms, error,"
            " delivery, model, tokens, cost_usd, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                beat.agent_id, beat.at, beat.outcome, beat.source, run_id, beat.duration_ms,
                beat.error, beat.delivery, beat.model, beat.tokens, beat.cost_usd, now,
            ),
        )
        if beat.outcome == "error" and audited:
            self._activity_in(
                db,
                activities.heartbeat_failed(beat.agent_id, beat.error, run_id),
                agent_id=self._agent_doc_id(db, beat.agent_id),
                actor=actor if actor is not None else beat.source,
                target_id=public_id("heartbeats", cur.lastrowid),
                now=now,
            )
        return read.heartbeat(db.execute("SELECT * FROM heartbeats WHERE seq = ?", (cur.lastrowid,)).fetchone()), True

    def list_heartbeats(
        self,
        agent_id: str | None = None,
        *,
        since: float = 0.0,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[Heartbeat]:
        return self._list_by_at("heartbeats", read.heartbeat, agent_id, since, until, limit)

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
            return self._insert_flip(db, agent_id, at, from_status, to_status, reason, actor=actor, now=self._clock())

    def _insert_flip(
        self, db: sqlite3.Connection, agent_id: str, at: float, from_status: str, to_status: str,
        reason: str | None, *, actor: str, now: float,
    ) -> Flip:
        cur = db.execute(
            "INSERT INTO flips (agent_id, at, from_status, to_status, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (agent_id, at, from_status, to_status, reason, now),
        )
        self._activity_in(
            db,
            activities.flip(agent_id, at, from_status, to_status, reason),
            agent_id=self._agent_doc_id(db, agent_id),
            actor=actor,
            target_id=public_id("flips", cur.lastrowid),
            now=now,
        )
        return read.flip(db.execute("SELECT * FROM flips WHERE seq = ?", (cur.lastrowid,)).fetchone())

    def list_flips(
        self,
        agent_id: str | None = None,
        *,
        since: float = 0.0,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[Flip]:
        return self._list_by_at("flips", read.flip, agent_id, since, until, limit)

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
            for table in WHOLE_TABLES:
                mark = str(versions[table])
                marks[table] = mark
                out[table] = (
                    None
                    if since.get(table) == mark
                    else tuple(READERS[table](r) for r in db.execute(f"SELECT * FROM {table} ORDER BY seq"))
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

    def history(self, since: float, until: float) -> History:
        runs: list = []
        with self._read() as db:
            builder: RunsBuilder | None = None
            cursor = db.execute(
                "SELECT agent_id, at, outcome, tokens, cost_usd, error FROM heartbeats"
                " WHERE at >= ? AND at < ? ORDER BY agent_id, at", (since, until))
            for agent_id, at, outcome, tokens, cost, error in cursor:  # row by row: 672,000 rows stay small
                if builder is None or builder.agent_id != agent_id:
                    if builder is not None:
                        runs.append(builder.build())
                    builder = RunsBuilder(agent_id)
                builder.add(at, outcome == "ok", tokens, cost, error)
            if builder is not None:
                runs.append(builder.build())
            flips = tuple(read.flip(r) for r in db.execute("SELECT * FROM flips ORDER BY at, seq"))
        return History(tuple(runs), flips)

    # ------------------------------------------------------------------ vault
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
                return read.vault_row(same)
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
            row_id = public_id("vault", cur.lastrowid)
            self._activity_in(db, activities.vault_put(name, version, kid), actor=actor, target_id=row_id)
            return read.vault_row(db.execute("SELECT * FROM vault WHERE seq = ?", (cur.lastrowid,)).fetchone())

    def vault_list(self) -> list[VaultRow]:
        with self._read() as db:
            return [read.vault_row(r, with_record=False) for r in db.execute("SELECT * FROM vault ORDER BY name, version")]

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
        return read.vault_row(row)

    def vault_remove(self, name: str, *, actor: str = OPERATOR) -> int:
        with self._write() as db:
            if db.execute("SELECT 1 FROM vault WHERE name = ?", (name,)).fetchone() is None:
                raise NotFoundError(f"vault entry {name} not found", data={"code": "NotFound", "name": name})
            marked = db.execute("UPDATE vault SET deleted = 1 WHERE name = ? AND deleted = 0", (name,)).rowcount
            if marked:
                self._activity_in(db, activities.vault_removed(name, marked), actor=actor, target_id=name)
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
            feed_id = public_id("feeds", cur.lastrowid)
            self._activity_in(db, activities.feed_added(url, competitor), actor=actor, target_id=feed_id)
            return read.feed(db.execute("SELECT * FROM feeds WHERE seq = ?", (cur.lastrowid,)).fetchone())

    def list_feeds(self) -> list[Feed]:
        with self._read() as db:
            return [read.feed(r) for r in db.execute("SELECT * FROM feeds ORDER BY seq")]

    def remove_feed(self, url: str, *, actor: str = OPERATOR) -> Feed:
        with self._write() as db:
            feed = read.feed(self._feed_row(db, url))
            db.execute("DELETE FROM feeds WHERE url = ?", (url,))
            self._activity_in(db, activities.feed_removed(url, feed.competitor), actor=actor, target_id=feed.id)
            return feed

    def record_fetch(
        self, url: str, state: FeedState, signals: Sequence[SignalIn] = (), *, actor: str = "service"
    ) -> FetchRecorded:
        if state.outcome is not None:
            check_choice(state.outcome, FEED_OUTCOMES, "outcome")
        with self._write() as db:
            before = read.feed(self._feed_row(db, url))
            db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, last_fetched_at = ?, last_status = ?, error_count = ?,"
                " next_fetch_at = ?, outcome = ?, health = ? WHERE seq = ?",
                (state.etag, state.last_modified, state.last_fetched_at, state.last_status, int(state.error_count),
                 state.next_fetch_at, state.outcome, state.health, seq_of("feeds", before.id)),
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
            for said in activities.fetch_recorded(before, state, created, updated, new_keys):
                self._activity_in(db, said, actor=actor, target_id=before.id)
            feed = read.feed(db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone())
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
            return [read.signal(r) for r in reversed(rows.fetchall())]

    def _opportunity_row(self, db: sqlite3.Connection, opportunity_id: str) -> sqlite3.Row:
        seq = seq_of("opportunities", opportunity_id)
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
            opp_id = public_id("opportunities", cur.lastrowid)
            self._activity_in(db, activities.opportunity_created(title), actor=actor, target_id=opp_id)
            return read.opportunity(db.execute("SELECT * FROM opportunities WHERE seq = ?", (cur.lastrowid,)).fetchone())

    def list_opportunities(self) -> list[Opportunity]:
        with self._read() as db:
            return [read.opportunity(r) for r in db.execute("SELECT * FROM opportunities ORDER BY seq")]

    def get_opportunity(self, opportunity_id: str) -> Opportunity:
        with self._read() as db:
            return read.opportunity(self._opportunity_row(db, opportunity_id))

    def _patch_opportunity(self, db: sqlite3.Connection, seq: int, **cols: Any) -> Opportunity:
        cols["updated_at"] = self._clock()
        db.execute(f"UPDATE opportunities SET {', '.join(f'{k} = ?' for k in cols)} WHERE seq = ?",
                   (*cols.values(), seq))
        return read.opportunity(db.execute("SELECT * FROM opportunities WHERE seq = ?", (seq,)).fetchone())

    def move_opportunity(self, opportunity_id: str, stage: str, *, actor: str = OPERATOR) -> Opportunity:
        check_choice(stage, OPPORTUNITY_STAGES, "stage")
        with self._write() as db:
            row = self._opportunity_row(db, opportunity_id)
            if row["stage"] == stage:
                return read.opportunity(row)
            opp = self._patch_opportunity(db, row["seq"], stage=stage)
            self._activity_in(db, activities.opportunity_moved(opp.title, row["stage"], stage), actor=actor,
                              target_id=opp.id)
            return opp

    def record_analysis(
        self, opportunity_id: str, market_score: float, analysis: dict[str, Any], *, actor: str = OPERATOR
    ) -> Opportunity:
        with self._write() as db:
            row = self._opportunity_row(db, opportunity_id)
            opp = self._patch_opportunity(db, row["seq"], market_score=float(market_score),
                                          analysis=json.dumps(analysis))
            said = activities.market_analysed(opp.title, row["market_score"], market_score, analysis)
            self._activity_in(db, said, actor=actor, target_id=opp.id)
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
            stored = activities.survey_responses(json.loads(row["survey"]) if row["survey"] else None)
            _check_survey_cas(opportunity_id, stored, expected_respondents)
            opp = self._patch_opportunity(db, row["seq"], survey=json.dumps(survey))
            self._activity_in(db, activities.survey_recorded(opp.title, stored, survey), actor=actor, target_id=opp.id)
            return opp

    def record_decision(self, opportunity_id: str, decision: dict[str, Any], *, actor: str = OPERATOR) -> Opportunity:
        _check_decision(decision)
        with self._write() as db:
            row = self._opportunity_row(db, opportunity_id)
            previous = json.loads(row["decision"]) if row["decision"] else None
            opp = self._patch_opportunity(db, row["seq"], decision=json.dumps(decision), stage=decision["verdict"])
            self._activity_in(db, activities.decision(opp.title, decision, previous), actor=actor, target_id=opp.id)
            return opp


    # ---------------------------------------------------------------- history
    def import_history(self, items: Iterable[PastBeat | PastFlip]) -> int:
        """Writes backdated heartbeats and flips in one transaction, in the order given, each with
        the rows `record_heartbeat` / `record_flip` write (the same SQL and activities), stamped
        `recorded_at` instead of the store's clock. For generated histories (the demo): thousands
        of rows in one write, with `audited=False` to leave a failed beat's activity out. A beat
        whose run id is already stored is skipped, as `record_heartbeat` does. Returns the rows
        written. Not part of the Store contract."""
        written = 0
        with self._write() as db:
            for item in items:
                if isinstance(item, PastBeat):
                    check_choice(item.beat.outcome, HEARTBEAT_OUTCOMES, "outcome")
                    _, created = self._insert_heartbeat(db, item.beat, item.recorded_at, actor=item.actor,
                                                        audited=item.audited)
                    written += created
                else:
                    self._insert_flip(db, item.agent_id, item.at, item.from_status, item.to_status, item.reason,
                                      actor=item.actor, now=item.recorded_at)
                    written += 1
        return written


def _check_survey_cas(opportunity_id: str, stored: int, expected: int | None) -> None:
    if expected is not None and stored != expected:
        raise StoreFunctionError(
            f"opportunity {opportunity_id}: the survey holds {stored} responses, not {expected}",
            hint="another writer added responses meanwhile: read it again, then retry",
            data={"code": "Conflict", "id": opportunity_id, "stored": stored},
        )


def _check_decision(decision: dict[str, Any]) -> None:
    """A verdict among VERDICTS; an override needs a non-empty reason."""
    verdict = decision.get("verdict")
    if verdict not in VERDICTS:
        raise StoreFunctionError(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}",
                                 data={"code": "BadValue", "field": "verdict"})
    override = decision.get("override")
    if override is None:
        return
    reason = override.get("reason") if isinstance(override, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise StoreFunctionError("an override needs a reason", hint="say why the computed verdict is set aside",
                                 data={"code": "BadValue", "field": "reason"})
