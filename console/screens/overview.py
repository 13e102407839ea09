"""Overview: the seed's success criteria computed live, and the current alerts."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from console.screens.base import ConsoleScreen
from widgets.format import ago, badge, safe
from widgets.tables import SyncedTable


class OverviewScreen(ConsoleScreen):
    TITLE = "Overview"

    def compose_body(self) -> ComposeResult:
        yield Static("Success criteria", classes="section-title")
        yield SyncedTable(id="criteria", classes="criteria")
        yield Static("Squad", classes="section-title")
        yield SyncedTable(id="squad", classes="squad")
        yield Static("Alerts", classes="section-title")
        yield Static("", id="alerts")

    def on_mount(self) -> None:
        c = self.query_one("#criteria", SyncedTable)
        c.add_columns("", "criterion", "now", "target")
        s = self.query_one("#squad", SyncedTable)
        s.add_columns("agent", "status", "last beat", "uptime 7d")
        for table in (c, s):  # read-only summaries: no cursor, no focus
            table.cursor_type = "none"
            table.can_focus = False
        super().on_mount()

    def draw(self, view) -> None:
        rows = {}
        for c in view.criteria:
            if self.matches(c.name, c.value):
                mark = Text("✓", style="green") if c.ok else (Text("✗", style="red") if c.ok is False else Text("…", style="dim"))
                rows[c.name] = (mark, c.name, c.value, c.target)
        self.query_one("#criteria", SyncedTable).sync(rows)
        squad = {}
        for agent_id, h in view.health.items():
            if self.matches(agent_id, h.name, h.status.status):
                up = h.uptime_7d.time_based
                squad[agent_id] = (h.name, badge(h.status.status), ago(h.last_beat.at if h.last_beat else None, view.at),
                                   "-" if up is None else f"{up * 100:.1f}%")
        self.query_one("#squad", SyncedTable).sync(squad)
        text = Text()
        alerts = [a for a in view.alerts if self.matches(a.text)]
        if not alerts:
            text.append("No alerts: the squad is healthy.", style="green")
        for a in alerts[:8]:
            text.append("● " if a.severity == "error" else "▲ ", style="red" if a.severity == "error" else "yellow")
            text.append(a.text + "\n")
            for fix in a.fix[:3]:
                text.append(f"    $ {fix}\n", style="dim")
        self.query_one("#alerts", Static).update(safe(text, multiline=True))
