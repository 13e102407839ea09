"""Heartbeats: per agent a status badge, last and next beat, uptime 24 h / 7 d, the strip of the
last slots, heartbeat tokens and cost per day, and the cause of a failure with its fix."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console.screens.base import ConsoleScreen
from widgets.format import badge, clock, money, pct, strip, tokens, safe
from widgets.tables import SyncedTable


class HeartbeatsScreen(ConsoleScreen):
    TITLE = "Heartbeats"
    BINDINGS = [Binding("enter", "detail", "Detail", id="heartbeats.detail")]

    def compose_body(self) -> ComposeResult:
        yield SyncedTable(id="beats", flex="cause", minimum={"agent": 6, "status": 7, "last": 5, "next": 5, "up24": 6,
                                                           "up7": 6, "strip": 4, "tok": 6, "cost": 5, "cause": 8})
        yield Static("", id="cause")

    def on_mount(self) -> None:
        t = self.query_one("#beats", SyncedTable)
        for label, key in (("agent", "agent"), ("status", "status"), ("last", "last"), ("next", "next"),
                           ("24h", "up24"), ("7d", "up7"), ("slots", "strip"), ("tok/24h", "tok"),
                           ("$/24h", "cost"), ("cause", "cause")):
            t.add_column(label, key=key)
        super().on_mount()
        t.focus()

    def draw(self, view) -> None:
        # A row is rebuilt only when what it shows changed: at a thousand agents most rows are
        # unchanged between two polls, and building Rich cells is most of a redraw's cost.
        cache: dict[str, tuple] = getattr(self, "_row_keys", {})
        rows = {}
        for agent_id, h in view.health.items():
            causes = view.causes.get(agent_id) or []
            cause = causes[0].title if causes and h.status.status != "up" else ""
            if not self.matches(agent_id, h.name, h.status.status, cause):
                continue
            outcomes = tuple(m.outcome for m in view.strips.get(agent_id, []))
            key = (h.status.status, h.last_beat.at if h.last_beat else None, h.status.next_slot,
                   h.uptime_24h.time_based, h.uptime_7d.time_based, outcomes, h.tokens_24h, h.cost_24h, cause)
            old = cache.get(agent_id)
            if old is not None and old[0] == key:
                rows[agent_id] = old[1]
                continue
            cells = (
                agent_id, badge(h.status.status),
                clock(h.last_beat.at, h.schedule.tz) if h.last_beat else "never",
                clock(h.status.next_slot, h.schedule.tz),
                pct(h.uptime_24h.time_based), pct(h.uptime_7d.time_based),
                strip(list(outcomes)), tokens(h.tokens_24h), money(h.cost_24h), cause,
            )
            cache[agent_id] = (key, cells)
            rows[agent_id] = cells
        self._row_keys = cache
        table = self.query_one("#beats", SyncedTable)
        table.sync(rows)
        self._show_cause(table.selected_key())

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_cause(event.row_key.value if event.row_key else None)

    def _show_cause(self, agent_id: str | None) -> None:
        box = self.query_one("#cause", Static)
        if self.view is None or agent_id is None or agent_id not in self.view.health:
            box.update("")
            return
        h = self.view.health[agent_id]
        text = Text()
        text.append(f"{h.name}: ", style="bold")
        text.append(f"{h.status.status} — {h.status.reason}\n")
        u = h.uptime_7d
        text.append(f"runs {u.ok_runs}/{u.expected_runs} in 7 d · {h.schedule.cron} {h.schedule.tz}\n", style="dim")
        for c in (self.view.causes.get(agent_id) or [])[:2]:
            text.append(f"cause: {c.title}\n", style="bold red" if h.status.status != "up" else "yellow")
            for fix in c.fix[:3]:
                text.append(f"  $ {fix}\n")
        box.update(safe(text, multiline=True))

    def action_detail(self) -> None:
        key = self.query_one("#beats", SyncedTable).selected_key()
        if key and self.view is not None:
            from console.screens.detail import AgentDetailScreen

            self.app.push_screen(AgentDetailScreen(key, self.view))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_detail()
