"""What every console screen shares: the header, the footer, `/` to filter, `esc` to go back.

The filter works as in k9s: `/` opens it, typing narrows the lists, enter keeps the filter and
returns to the list (the header says it is on), esc clears it (the lists in their own order again),
and esc once more goes back to the screen before."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input

from widgets.footer import KeyFooter
from widgets.header import StatusHeader


class ConsoleScreen(Screen):
    TITLE = "Console"
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("escape", "back", "Back", id="back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.view = None
        self.forced_action: str | None = None  # an action the palette asked for, whatever has focus

    async def run_forced(self, action: str) -> None:
        """Run one of this screen's actions as the palette asks, even where its key would not
        apply to what has focus (a screen's check_action lets `forced_action` through)."""
        self.forced_action = action
        try:
            await self.run_action(action)
        finally:
            self.forced_action = None

    def compose(self) -> ComposeResult:
        yield StatusHeader(self.TITLE)
        with Vertical(id="body"):
            yield from self.compose_body()
        yield Input(placeholder="filter: type to narrow, esc to clear", id="filter")
        yield KeyFooter()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = False
        box.can_focus = False  # a hidden box must not take the keys: only `/` opens it
        self._mounted = True
        view = getattr(self.app, "view", None)
        if view is not None:
            self.show(view)

    def on_screen_resume(self) -> None:
        view = getattr(self.app, "view", None)
        if view is not None and view is not self.view:
            self.show(view)

    def show(self, view) -> None:
        """New data: the header, then the screen's own part (screens override `draw`)."""
        self.view = view
        if getattr(self, "_mounted", False):
            self.query_one(StatusHeader).show(view)
            self.draw(view)

    def draw(self, view) -> None:
        pass

    def matches(self, *cells: object) -> bool:
        if not self.filter_text:
            return True
        needle = self.filter_text.lower()
        return any(needle in str(c).lower() for c in cells)

    # ------------------------------------------------------------------ filter
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.can_focus = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value.strip()
            self.query_one(StatusHeader).filter_text = self.filter_text
            if self.view is not None:
                self.refilter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.stop()
            self._close_filter_box()  # the filter stays on (the header says so); the keys go to the list

    def _close_filter_box(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = False
        box.can_focus = False
        self.focus_main()

    def refilter(self) -> None:
        if self.view is not None:
            self.draw(self.view)
            self.query_one(StatusHeader).refresh_text()

    def focus_main(self) -> None:
        tables = [t for t in self.query("DataTable") if t.can_focus and t.display]
        if tables:
            tables[0].focus()
        else:
            self.set_focus(None)

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display or self.filter_text:
            box.value = ""
            self.filter_text = ""
            self.query_one(StatusHeader).filter_text = ""
            self._close_filter_box()
            self.refilter()
            return
        self.app.action_back()
