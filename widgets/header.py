"""The console's header: the screen, the filter when one is on, a STALE badge and the reason while
polls fail (or the store cannot be opened), how old the data is, and which store. One line, cut
at the right with an ellipsis: the store's path goes first, never the screen's name or STALE."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from widgets.format import ago, safe


class StatusHeader(Static):
    DEFAULT_CLASSES = "status-header"

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.screen_title = title
        self.view = None
        self.filter_text = ""
        self._now: float | None = None

    def on_mount(self) -> None:
        self._render_text(None)

    def show(self, view) -> None:
        self.view = view
        self.set_class(bool(view.last_error), "stale")
        self._render_text(view.at)

    def tick(self, now_ms: float) -> None:
        if self.view is not None:
            self._render_text(now_ms)

    def refresh_text(self) -> None:
        self._render_text(self._now)

    def _render_text(self, now_ms: float | None) -> None:
        self._now = now_ms
        view = self.view
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(" squad-console ", style="bold reverse")
        text.append(f" {self.screen_title} ", style="bold")
        if self.filter_text:
            text.append(" filter: ", style="dim")
            text.append(self.filter_text, style="bold")
            text.append(" ")
        if view is None:
            text.append(" · connecting…")
            self.update(safe(text))
            return
        if view.last_error:
            text.append(" STALE ", style="bold reverse")
            text.append(" ")
        text.append(f"· polled {ago(view.last_success, now_ms or view.at)} ")
        if view.last_error:
            text.append(f"· {view.last_error} ", style="bold")
        text.append(f"· {view.store}", style="dim")
        self.update(safe(text))
