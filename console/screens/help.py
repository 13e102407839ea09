"""`?`: every binding of the current screen and of the app, with its id (for [keys] in squad.toml)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from widgets.footer import key_display


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, app) -> None:
        super().__init__()
        self.target = app.screen

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._text(), id="help-text")

    def _text(self) -> Text:
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
        width = max(len(r[0]) for r in rows)
        for keys, desc, bid in rows:
            t.append(f"  {keys.ljust(width)}  ", style="bold")
            t.append(f"{desc}")
            if bid:
                t.append(f"  [{bid}]", style="dim")
            t.append("\n")
        t.append("\nRemap any key in squad.toml: [keys] <id> = \"<key>\".  esc closes.", style="dim")
        return t

    def _keys(self, binding: Binding) -> str:
        """The keys as typed (`]`, `?`, `esc`, `^p`), never Textual's names (`right_square_bracket`)."""
        keymap = getattr(self.app, "_keymap", {}) or {}
        keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
        return ",".join(key_display(self.app, k.strip()) for k in keys.split(","))

