"""Agents: the registry (id, name, role, status, last beat, next slot, workspace), sync from
squad.toml (s), import from openclaw.json (i), detail (enter). An agent squad.toml names that the
store does not hold yet shows as UNREGISTERED, and the line under the table says how to register it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console.screens.base import ConsoleScreen
from widgets.format import ago, badge, clock, safe
from widgets.tables import SyncedTable


class AgentsScreen(ConsoleScreen):
    TITLE = "Agents"
    BINDINGS = [
        Binding("enter", "detail", "Detail", id="agents.detail"),
        Binding("s", "sync", "Sync squad.toml", id="agents.sync"),
        Binding("i", "import", "Import openclaw.json", id="agents.import"),
    ]

    def compose_body(self) -> ComposeResult:
        yield SyncedTable(id="agents", flex="workspace", minimum={"id": 6, "name": 6, "status": 7, "role": 10})
        yield Static("", id="agents-note")

    def on_mount(self) -> None:
        t = self.query_one("#agents", SyncedTable)
        t.add_column("id", key="id")
        t.add_column("name", key="name")
        t.add_column("role", key="role")
        t.add_column("status", key="status")
        t.add_column("last beat", key="last")
        t.add_column("next", key="next")
        t.add_column("workspace", key="workspace")
        super().on_mount()
        t.focus()

    def draw(self, view) -> None:
        rows = {}
        configured = {a.id: a for a in self.app.settings.agents}
        for agent_id, name in view.names.items():
            h = view.health.get(agent_id)
            stored = view.agents.get(agent_id)
            cfg = configured.get(agent_id)
            role = (stored.role if stored and stored.role else (cfg.role if cfg else "")) or ""
            workspace = (stored.workspace if stored and stored.workspace else (cfg.workspace if cfg else "")) or ""
            status = h.status.status if h else ("new" if stored else "unregistered")
            cells = (
                agent_id, name, role, badge(status),
                ago(h.last_beat.at if h and h.last_beat else None, view.at),
                clock(h.status.next_slot, h.schedule.tz) if h else "-",
                workspace,
            )
            if self.matches(agent_id, name, role, status, workspace):
                rows[agent_id] = cells
        self.query_one("#agents", SyncedTable).sync(rows)
        missing = [a for a in view.names if a not in view.agents]
        note = self.query_one("#agents-note", Static)
        if missing and not view.last_error:
            note.update(safe(Text(f"{', '.join(missing)} not registered in the store yet: press s to register "
                                  "squad.toml's agents (or i to import openclaw.json's)", style="yellow"), multiline=True))
            note.display = True
        else:
            note.display = False

    def action_detail(self) -> None:
        key = self.query_one("#agents", SyncedTable).selected_key()
        if key and self.view is not None:
            from console.screens.detail import AgentDetailScreen

            self.app.push_screen(AgentDetailScreen(key, self.view))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_import(self) -> None:
        self.app.action_import_agents()

    def action_sync(self) -> None:
        self.app.action_sync_agents()
