"""`?`: every binding of the current screen and of the app, with its id (for [keys] in squad.toml)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from widgets.footer import key_display
from widgets.format import hang


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, app) -> None:
        super().__init__()
        self.target = app.screen

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._text(), id="help-text")

    def on_resize(self, event) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Drawn again for the modal's width: at 60 columns an id goes in brackets after its action."""
        width = self.query_one("#help").scrollable_content_region.width - 2
        if width > 0 and width != getattr(self, "_width", None):
            self._width = width
            self.query_one("#help-text", Static).update(self._text(width))

    def _text(self, width: int | None = None) -> Text:
        app = self.app
        t = Text()
        t.append(f"Keys — {getattr(self.target, 'TITLE', '')}\n\n", style="bold")
        rows = []
        seen: set[str] = set()
        for source in (self.target, app):
            for cls in type(source).__mro__:  # a screen's own keys, then those it inherits
                for b in cls.__dict__.get("BINDINGS", []):
                    if not isinstance(b, Binding) or (b.id or b.key) in seen or b.action == "help_quit":
                        continue
                    seen.add(b.id or b.key)
                    rows.append((self._keys(b), b.description or b.action, b.id or ""))
        key_w = max(len("key"), *(len(r[0]) for r in rows))
        desc_w = max(len("action"), *(len(r[1]) for r in rows))
        id_w = max(len(r[2]) for r in rows)
        columns = width is None or 2 + key_w + 2 + desc_w + 2 + max(id_w, 23) <= width
        if columns:
            t.append(f"  {'key'.ljust(key_w)}  {'action'.ljust(desc_w)}  id in squad.toml [keys]\n", style="dim")
        else:  # too narrow for three columns: the id after its action
            t.append(f"  {'key'.ljust(key_w)}  action (id in squad.toml [keys])\n", style="dim")
        for keys, desc, bid in rows:
            row = Text(f"  {keys.ljust(key_w)}  ", style="bold")
            row.append(desc.ljust(desc_w) if bid and columns else desc, style="not bold")
            if bid:
                row.append(f"  {bid}" if columns else f" ({bid})", style="not bold dim")
            for piece in hang(row, width or 0, indent=key_w + 4):  # a wrapped row stays in its column
                t.append_text(piece)
                t.append("\n")
        t.append("\nRemap a key in squad.toml by its id, e.g. [keys] \"screen.heartbeats\" = \"h\" (an id with a "
                 "dot is quoted). Keys without an id are Textual's own.  esc closes.", style="dim")
        return t

    def _keys(self, binding: Binding) -> str:
        """The keys as typed (`]`, `?`, `esc`, `^p`), never Textual's names (`right_square_bracket`)."""
        keymap = getattr(self.app, "_keymap", {}) or {}
        keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
        return ",".join(key_display(self.app, k.strip()) for k in keys.split(","))

