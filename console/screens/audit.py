"""Audit: the activity log, newest first, live. `/` filters by text, and by `actor:NAME` and
`kind:TYPE` (a trailing * matches a prefix: `kind:task_*`). Enter shows one entry in full; `e`
exports the log to a file (JSON lines, or CSV for a name ending in .csv) and says where."""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from console.screens.base import ConsoleScreen
from widgets.format import clock, stamp, safe
from widgets.tables import SyncedTable

KIND_STYLE = {"heartbeat_down": "red", "heartbeat_failing": "red", "heartbeat_failed": "red",
              "heartbeat_up": "green", "task_completed": "green", "decision_made": "cyan"}


def parse_filter(text: str) -> tuple[dict[str, str], list[str]]:
    fields: dict[str, str] = {}
    words: list[str] = []
    for token in text.split():
        key, sep, value = token.partition(":")
        if sep and key in ("actor", "kind", "type") and value:
            fields["kind" if key == "type" else key] = value.lower()
        else:
            words.append(token.lower())
    return fields, words


def _match(pattern: str, value: str | None) -> bool:
    value = (value or "").lower()
    return value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern


class ActivityDetail(ModalScreen):
    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="activity.close")]

    def __init__(self, activity) -> None:
        super().__init__()
        self.activity = activity

    def compose(self) -> ComposeResult:
        a = self.activity
        t = Text()
        t.append(f"{a.type}\n", style="bold")
        t.append(f"{a.message}\n\n")
        for label, value in (("id", a.id), ("at", clock(a.created_at) + f" UTC ({a.created_at:.0f} ms)"),
                             ("actor", a.actor), ("agent", a.agent_id), ("target", a.target_id)):
            t.append(f"{label:>7}: ", style="dim")
            t.append(f"{value or '-'}\n")
        if a.detail:
            t.append("\n detail:\n", style="dim")
            t.append(json.dumps(a.detail, indent=2, ensure_ascii=False))
        t.append("\n\nesc to close", style="dim")
        with VerticalScroll(id="detail"):
            yield Static(safe(t, multiline=True))


class AuditScreen(ConsoleScreen):
    TITLE = "Audit"
    BINDINGS = [
        Binding("enter", "detail", "Detail", id="audit.detail"),
        Binding("e", "export", "Export", id="audit.export"),
    ]

    def compose_body(self) -> ComposeResult:
        yield SyncedTable(id="log", flex="what", minimum={"time": 11, "kind": 12, "actor": 6})

    def on_mount(self) -> None:
        t = self.query_one("#log", SyncedTable)
        t.add_column("time", key="time")
        t.add_column("kind", key="kind")
        t.add_column("actor", key="actor")
        t.add_column("what", key="what")
        super().on_mount()
        t.focus()

    def draw(self, view) -> None:
        fields, words = parse_filter(self.filter_text)
        rows = {}
        for a in view.activities:  # newest first
            if "actor" in fields and not _match(fields["actor"], a.actor):
                continue
            if "kind" in fields and not _match(fields["kind"], a.type):
                continue
            hay = f"{a.type} {a.actor} {a.message}".lower()
            if any(w not in hay for w in words):
                continue
            rows[a.id] = (stamp(a.created_at), Text(a.type, style=KIND_STYLE.get(a.type, "")), a.actor or "-", a.message)
        # newest first: new rows go on top, which the table's sync does by rebuilding (a few hundred
        # rows, only when activity arrives, never on a quiet poll)
        self.query_one("#log", SyncedTable).sync(rows)

    def matches(self, *cells: object) -> bool:  # filtering is done in draw
        return True

    def action_detail(self) -> None:
        key = self.query_one("#log", SyncedTable).selected_key()
        if key and self.view is not None:
            activity = next((a for a in self.view.activities if a.id == key), None)
            if activity is not None:
                self.app.push_screen(ActivityDetail(activity))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_export(self) -> None:
        from console.screens.form import Field, Form

        app = self.app
        default = f"squad-audit-{stamp(app.clock() * 1000).replace(' ', '-').replace(':', '')}.jsonl"

        def submit(values) -> str:
            from console.service.audit import export_file

            path, n = export_file(app.store, values["path"])
            return f"{n} entries written to {path}"

        app.push_screen(Form("Export the audit log", [
            Field("path", "File (JSON lines; a name ending in .csv writes CSV). Relative to the folder the console "
                  "started in; an existing file is never overwritten.", value=default, required="say where to write it"),
        ], submit=submit))
