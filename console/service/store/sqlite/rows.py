"""Rows of the local store as the contract's models, and the ids the store shows.

Ids are a one-letter table prefix plus the rowid (`a12`, `t3`, `h1000000`): the rowid is also the
insertion order that `snapshot` uses as its high-water mark for append-only tables.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from console.service.models import (
    Activity,
    Agent,
    Feed,
    Flip,
    Heartbeat,
    Message,
    Opportunity,
    Signal,
    Task,
    agent_id_from_session_key,
)
from console.service.store.contract import VaultRow

PREFIX = {"agents": "a", "tasks": "t", "messages": "m", "activities": "e", "heartbeats": "h", "flips": "f",
          "vault": "v", "feeds": "r", "signals": "s", "opportunities": "o"}


def public_id(table: str, seq: int) -> str:
    return f"{PREFIX[table]}{seq}"


def seq_of(table: str, ref: str) -> int | None:
    """The rowid behind a public id of `table`; None when `ref` is not one."""
    prefix = PREFIX[table]
    if not isinstance(ref, str) or not ref.startswith(prefix):
        return None
    digits = ref[len(prefix):]
    return int(digits) if digits.isdigit() else None


def agent(row: sqlite3.Row) -> Agent:
    return Agent(
        id=public_id("agents", row["seq"]),
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


def task(row: sqlite3.Row) -> Task:
    return Task(
        id=public_id("tasks", row["seq"]),
        title=row["title"],
        description=row["description"] or "",
        status=row["status"],
        assignee_ids=tuple(json.loads(row["assignee_ids"] or "[]")),
        updated_at=row["updated_at"],
        created_at=row["created_at"],
    )


def message(row: sqlite3.Row) -> Message:
    return Message(
        id=public_id("messages", row["seq"]),
        task_id=row["task_id"],
        from_agent_id=row["from_agent_id"],
        content=row["content"],
        attachments=tuple(json.loads(row["attachments"] or "[]")),
        created_at=row["created_at"],
    )


def activity(row: sqlite3.Row) -> Activity:
    return Activity(
        id=public_id("activities", row["seq"]),
        type=row["type"],
        message=row["message"],
        agent_id=row["agent_id"],
        actor=row["actor"],
        target_id=row["target_id"],
        detail=json.loads(row["detail"]) if row["detail"] else None,
        created_at=row["created_at"],
    )


def heartbeat(row: sqlite3.Row) -> Heartbeat:
    return Heartbeat(
        id=public_id("heartbeats", row["seq"]),
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


def flip(row: sqlite3.Row) -> Flip:
    return Flip(
        id=public_id("flips", row["seq"]),
        agent_id=row["agent_id"],
        at=row["at"],
        from_status=row["from_status"],
        to_status=row["to_status"],
        reason=row["reason"],
        created_at=row["created_at"],
    )


def feed(row: sqlite3.Row) -> Feed:
    return Feed(
        id=public_id("feeds", row["seq"]),
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


def signal(row: sqlite3.Row) -> Signal:
    return Signal(
        id=public_id("signals", row["seq"]),
        feed_url=row["feed_url"],
        entry_key=row["entry_key"],
        title=row["title"],
        competitor=row["competitor"],
        link=row["link"],
        published_at=row["published_at"],
        summary=row["summary"],
        created_at=row["created_at"],
    )


def opportunity(row: sqlite3.Row) -> Opportunity:
    return Opportunity(
        id=public_id("opportunities", row["seq"]),
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


def vault_row(row: sqlite3.Row, with_record: bool = True) -> VaultRow:
    return VaultRow(
        id=public_id("vault", row["seq"]),
        name=row["name"],
        version=int(row["version"]),
        kid=row["kid"],
        created_at=row["created_at"],
        deleted=bool(row["deleted"]),
        record=row["record"] if with_record else None,
    )


READERS: dict[str, Callable[[sqlite3.Row], Any]] = {
    "agents": agent,
    "tasks": task,
    "messages": message,
    "activities": activity,
    "heartbeats": heartbeat,
    "flips": flip,
    "feeds": feed,
    "opportunities": opportunity,
}


def camel(columns: Iterable[str]) -> list[str]:
    """Column names as the Convex documents spell them, for activity details."""
    return sorted(re.sub(r"_([a-z])", lambda m: m.group(1).upper(), c) for c in columns)
