"""The console's header: which store, how old the data is, and a STALE badge while polls fail."""

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
        self._now: float | None = None

    def show(self, view) -> None:
        self.view = view
        self.set_class(bool(view.last_error), "stale")
        self._render_text(view.at)

    def tick(self, now_ms: float) -> None:
        if self.view is not None:
            self._render_text(now_ms)

    def _render_text(self, now_ms: float) -> None:
        view = self.view
        text = Text()
        text.append(" squad-console ", style="bold reverse")
        text.append(f" {self.screen_title} ", style="bold")
        if view is None:
            text.append(" · connecting…")
            self.update(safe(text))
            return
        if view.last_error:
            text.append(" STALE ", style="bold white on red")
            text.append(" ")
        text.append(f"· polled {ago(view.last_success, now_ms)} ")
        text.append(f"· {view.store}", style="dim")
        if view.last_error:
            text.append(f" · {view.last_error}", style="red")
        self.update(safe(text))
