"""Overview: the seed's success criteria computed live, the squad, and the current alerts (a cause
shared by several agents is one alert naming them, its fix said once). The page scrolls (arrows,
page keys); a line at the bottom says how many alerts are below the fold, and a filter says how
many alerts it hides (never "healthy" while an alert is only filtered out)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from console.screens.base import ConsoleScreen
from widgets.format import ago, badge, reflow, safe
from widgets.tables import SyncedTable


def uptime_words(h) -> str:
    up = h.uptime_7d.time_based
    if up is not None:
        return f"{up * 100:.1f}%"
    return "no runs yet" if h.last_beat is None else "no slot due yet"


class OverviewScreen(ConsoleScreen):
    TITLE = "Overview"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="overview"):
            yield Static("Success criteria", classes="section-title")
            yield SyncedTable(id="criteria", classes="criteria", flex="value", minimum={"name": 14, "value": 12},
                              fill=False)
            yield Static("Squad", classes="section-title")
            yield SyncedTable(id="squad", classes="squad", flex="name", minimum={"status": 7}, fill=False)
            yield Static("Alerts", classes="section-title", id="alerts-title")
            yield Vertical(id="alerts")
        yield Static("", id="alerts-more")

    def on_mount(self) -> None:
        c = self.query_one("#criteria", SyncedTable)
        c.add_column("", key="mark")
        c.add_column("criterion", key="name")
        c.add_column("now", key="value")
        c.add_column("target", key="target")
        s = self.query_one("#squad", SyncedTable)
        s.add_column("agent", key="name")
        s.add_column("status", key="status")
        s.add_column("last beat", key="last")
        s.add_column("uptime 7d", key="uptime")
        for table in (c, s):  # read-only summaries: no cursor, no focus (the page scrolls)
            table.cursor_type = "none"
            table.can_focus = False
        self.query_one("#alerts-more", Static).display = False
        page = self.query_one("#overview", VerticalScroll)
        self.watch(page, "scroll_y", lambda _: self._count_below(), init=False)
        super().on_mount()
        page.focus()

    def focus_main(self) -> None:
        self.query_one("#overview", VerticalScroll).focus()

    def on_resize(self, event) -> None:
        if self.view is not None:  # the alerts wrapped again for the new width
            self.call_after_refresh(self._draw_alerts, self.view)
        self.call_after_refresh(self._count_below)

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
                squad[agent_id] = (h.name, badge(h.status.status), ago(h.last_beat.at if h.last_beat else None, view.at),
                                   uptime_words(h))
        if not view.health and view.last_error:  # no data at all: the squad by name, status unknown
            for agent_id, name in view.names.items():
                if self.matches(agent_id, name):
                    squad[agent_id] = (name, Text("?", style="dim"), "-", "-")
        self.query_one("#squad", SyncedTable).sync(squad)
        self._draw_alerts(view)

    def _draw_alerts(self, view) -> None:
        alerts = [a for a in view.alerts if self.matches(a.text, a.hint, *a.fix)]
        hidden = len(view.alerts) - len(alerts)
        box = self.query_one("#alerts", Vertical)
        items = []
        if not alerts:
            if hidden:
                items.append(Text(f"No alert matches the filter ({hidden} alert{'s' if hidden != 1 else ''} hidden "
                                  "by the filter; esc clears it).", style="yellow"))
            elif view.last_error:
                items.append(Text("No data: the store has not answered yet.", style="yellow"))
            else:
                items.append(Text("No alerts: the squad is healthy.", style="green"))
        for a in alerts:
            text = Text()
            text.append("● " if a.severity == "error" else "▲ ", style="red" if a.severity == "error" else "yellow")
            text.append(a.text)
            if a.hint:  # words, not a command: no `$` before them
                text.append(f"\n    fix: {a.hint}", style="dim")
            for fix in a.fix[:3]:
                text.append(f"\n    $ {fix}", style="dim")
            items.append(text)
        if alerts and hidden:
            items.append(Text(f"({hidden} more alert{'s' if hidden != 1 else ''} hidden by the filter)", style="dim"))
        width = box.scrollable_content_region.width
        items = [reflow(t, width or None) for t in items]  # a wrapped line continues under its text, not at the margin
        if [t.plain for t in items] != getattr(self, "_alert_words", None):  # rebuilt only when they change
            self._alert_words = [t.plain for t in items]
            box.remove_children()
            box.mount_all([Static(safe(t, multiline=True), classes="alert") for t in items])
        title = f"Alerts ({len(view.alerts)})" if view.alerts else "Alerts"
        self.query_one("#alerts-title", Static).update(title)
        self.call_after_refresh(self._count_below)

    def _count_below(self) -> None:
        """How many alerts start below the visible part of the page: said on the bottom line."""
        if not self.is_attached:
            return
        page = self.query_one("#overview", VerticalScroll)
        more = self.query_one("#alerts-more", Static)
        bottom = page.region.y + page.region.height
        below = sum(1 for w in self.query(".alert") if w.region.height and w.region.y >= bottom
                    or (not w.region.height and page.max_scroll_y > page.scroll_y))
        if below and page.max_scroll_y > page.scroll_y:
            more.update(Text(f"↓ {below} more alert{'s' if below != 1 else ''} below: ↓ or pgdn scrolls", style="bold"))
            more.display = True
        else:
            more.display = False
