"""The local store's schema: numbered migrations and the version they reach.

`MIGRATIONS[n - 1]` takes a file from schema version n - 1 to n, in one transaction; append a
migration, never edit one (files in the field ran the old ones). `schema_version` in the file
records the last one run; a file with a version above `SCHEMA_VERSION` was written by a newer
console and is refused.

Change counters: `versions` holds one counter per table a snapshot returns whole (agents,
tasks, feeds, opportunities), bumped by triggers on every insert, update and delete, so a write
from another process (or a raw one) is seen by the next snapshot without scanning the table.
"""

from __future__ import annotations


def _counted(*tables: str) -> list[str]:
    """The change counter of each table and the triggers that keep it."""
    return [
        "INSERT INTO versions VALUES " + ", ".join(f"('{t}', 0)" for t in tables),
        *[
            f"""CREATE TRIGGER {table}_{op.lower()}_version AFTER {op} ON {table}
                BEGIN UPDATE versions SET version = version + 1 WHERE name = '{table}'; END"""
            for table in tables
            for op in ("INSERT", "UPDATE", "DELETE")
        ],
    ]


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
        *_counted("agents", "tasks"),
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
    # 5: feeds and opportunities come in the snapshot like agents and tasks (whole, when changed)
    _counted("feeds", "opportunities"),
]
SCHEMA_VERSION = len(MIGRATIONS)
