"""One agent in full: registry fields, schedule, health, causes with their fixing commands."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from widgets.format import ago, badge, clock, money, pct, strip, tokens, safe


class AgentDetailScreen(ModalScreen):
    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="detail.close")]

    def __init__(self, agent_id: str, view) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.view = view

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(safe(self._text(), multiline=True), id="detail-text")

    def _text(self) -> Text:
        v, a = self.view, self.agent_id
        h = v.health.get(a)
        stored = v.agents.get(a)
        t = Text()
        t.append(f"{v.names.get(a, a)} ({a})\n", style="bold")
        if stored:
            t.append(f"role: {stored.role or '-'}\nsession: {stored.session_key}\nworkspace: {stored.workspace or '-'}\n")
            t.append(f"Mission Control status: {stored.status}\n")
        else:
            t.append("not registered in the store (squad-console agents sync)\n", style="yellow")
        if h:
            t.append("\nheartbeat: ")
            t.append_text(badge(h.status.status))
            t.append(f"  {h.status.reason}\n")
            t.append(f"schedule: {h.schedule.cron} ({h.schedule.tz}), grace {h.schedule.grace / 60000:.0f} min\n")
            t.append(f"last beat: {ago(h.last_beat.at if h.last_beat else None, v.at)}, next slot {clock(h.status.next_slot, h.schedule.tz)}\n")
            t.append(f"uptime 24h {pct(h.uptime_24h.time_based)} (runs {h.uptime_24h.ok_runs}/{h.uptime_24h.expected_runs}), "
                     f"7d {pct(h.uptime_7d.time_based)} (runs {h.uptime_7d.ok_runs}/{h.uptime_7d.expected_runs})\n")
            t.append("last slots: ")
            t.append_text(strip([m.outcome for m in v.strips.get(a, [])]))
            t.append(f"\nheartbeat cost: {tokens(h.tokens_24h)} tokens, {money(h.cost_24h)} in 24 h ({h.beats_24h} runs)\n")
            if h.last_beat and h.last_beat.error:
                t.append(f"last error: {h.last_beat.error}\n", style="red")
        for c in v.causes.get(a) or []:
            t.append(f"\ncause: {c.title}\n", style="bold")
            if c.detail:
                t.append(f"{c.detail}\n", style="dim")
            for fix in c.fix:
                t.append(f"  $ {fix}\n")
        t.append("\nesc to close", style="dim")
        return t
