"""The audit log's export, shared by `squad-console audit export` and the Audit screen's `e`:
oldest first, as JSON lines or CSV, each entry with the agent's OpenClaw id (`cestra`) beside the
store's id of it. Outside text stays data: a CSV cell is never a spreadsheet formula and holds no
raw control character. No Textual here."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from console.errors import ConsoleError
from console.service.models import Activity
from console.service.store import Store
from console.text import csv_cell, json_line, visible

FORMATS = ("jsonl", "csv")


class ExportError(ConsoleError):
    kind = "export"


def activities_since(store: Store, since: float | None, page: int = 500) -> Iterator[Activity]:
    """Every activity since `since`, newest first, a page at a time (`before` walks back)."""
    before = None
    while True:
        batch = store.list_activities(page, before=before)
        for a in batch:
            if since is not None and a.created_at < since:
                return
            yield a
        if len(batch) < page:
            return
        before = batch[-1].created_at


def when(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def write(store: Store, out: IO[str], fmt: str = "jsonl", since: float | None = None) -> int:
    """The log since `since`, oldest first, to `out`; the number of entries written."""
    if fmt not in FORMATS:
        raise ExportError(f"{fmt!r} is not an export format ({', '.join(FORMATS)})", data={"field": "path"})
    agents = {a.id: a.agent_id for a in store.list_agents()}
    rows = list(activities_since(store, since))
    rows.reverse()  # oldest first: an export reads like a log
    if fmt == "jsonl":
        for a in rows:
            out.write(json_line({"id": a.id, "at": a.created_at, "type": a.type, "actor": a.actor,
                                 "agent": agents.get(a.agent_id or "", a.agent_id), "agentId": a.agent_id,
                                 "targetId": a.target_id, "message": a.message, "detail": a.detail}) + "\n")
    else:
        w = csv.writer(out)
        w.writerow(["id", "at", "time", "type", "actor", "agent", "agentId", "targetId", "message", "detail"])
        for a in rows:
            w.writerow([csv_cell(visible(c, multiline=True)) for c in (
                a.id, f"{a.created_at:.0f}", when(a.created_at), a.type, a.actor or "",
                agents.get(a.agent_id or "", a.agent_id or ""), a.agent_id or "",
                a.target_id or "", a.message, json_line(a.detail) if a.detail else "")])
    return len(rows)


def export_file(store: Store, path: str | Path, *, since: float | None = None) -> tuple[Path, int]:
    """Write the log to a file (CSV when it ends in .csv, else JSON lines), never over an existing
    one; (the absolute path written, the entries)."""
    target = Path(os.path.expanduser(str(path).strip())) if str(path).strip() else None
    if target is None:
        raise ExportError("say where to write the export", data={"field": "path"})
    target = target if target.is_absolute() else Path.cwd() / target
    if target.exists():
        raise ExportError(f"{target} exists already: nothing was written", hint="give another file name",
                          data={"field": "path"})
    if not target.parent.is_dir():
        raise ExportError(f"{target.parent} is not a folder", data={"field": "path"})
    fmt = "csv" if target.suffix.lower() == ".csv" else "jsonl"
    try:
        with open(target, "x", encoding="utf-8", newline="") as out:
            n = write(store, out, fmt, since)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}", data={"field": "path"}) from None
    return target, n
