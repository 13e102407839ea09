"""The console's footer: the keys of what has focus, on one line, with priorities. `?` (every key)
and `q` (quit) always show, at the right; the screen's own keys come first, then the shared ones;
what does not fit is left out and a `…` says so (`?` lists them all). Key names are shown as typed
(`]`, `?`, `esc`), never as Textual's names (`right_square_bracket`)."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget

PINNED = ("help", "quit")  # binding ids always shown, in this order, at the right
LAST = ("filter", "refresh", "palette")  # shared keys: after the screen's own


class KeyFooter(Widget):
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        background: $panel;
    }
    """
    COMPONENT_CLASSES = {"footer--key", "footer--description"}

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, screen) -> None:
        if self.is_attached and screen is self.screen:
            self.refresh()

    def on_resize(self, event) -> None:
        self.refresh()

    def entries(self) -> list[tuple[str, str, str]]:
        """(binding id, key as shown, description) of every shown binding, first come first shown."""
        out: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        try:
            active = self.screen.active_bindings
        except Exception:  # noqa: BLE001 - no screen yet
            return out
        for _key, active_binding in active.items():
            b = active_binding.binding
            if not b.show or b.action in seen:
                continue
            seen.add(b.action)
            out.append((b.id or b.action, key_display(self.app, b.key, b), b.description or b.action))
        return out

    def line(self, width: int) -> list[tuple[str, str, str]]:
        """What fits in `width` cells: the pinned keys always, then the others by priority."""
        entries = self.entries()
        pinned = [e for pid in PINNED for e in entries if e[0] == pid]
        own = [e for e in entries if e not in pinned and e[0] not in LAST]
        shared = [e for lid in LAST for e in entries if e[0] == lid]
        room = width - sum(_cells(e) for e in pinned) - 2
        shown = []
        rest = own + shared
        for i, e in enumerate(rest):
            need = _cells(e) + (2 if i + 1 < len(rest) else 0)  # keep room for the "… " that says more exist
            if need <= room or (i + 1 == len(rest) and _cells(e) <= room):
                shown.append(e)
                room -= _cells(e)
            else:
                shown.append(("more", "…", ""))
                break
        return shown + pinned

    def render(self) -> Text:
        key_style = self.get_component_rich_style("footer--key")
        desc_style = self.get_component_rich_style("footer--description")
        text = Text(no_wrap=True, overflow="crop", end="")
        for bid, key, desc in self.line(self.size.width or 80):
            click = Style(meta={"@click": f"app.simulate_key({_key_name(key)!r})"}) if bid != "more" else Style()
            text.append(f" {key}", style=key_style + click)
            if desc:
                text.append(f" {desc}", style=desc_style + click)
            text.append(" ")
        return text


def key_display(app, key: str, binding: Binding | None = None) -> str:
    """A key as the operator types it: `]`, `?`, `esc`, `enter`, `^p` (Textual's own display, with
    `enter` spelled out)."""
    shown = app.get_key_display(binding if binding is not None and binding.key == key else Binding(key, ""))
    return {"⏎": "enter", "escape": "esc", "question_mark": "?", "colon": ":", "slash": "/"}.get(shown, shown)


def _cells(entry: tuple[str, str, str]) -> int:
    _bid, key, desc = entry
    return len(f" {key} {desc} ") if desc else len(f" {key} ")


def _key_name(shown: str) -> str:
    return {"?": "question_mark", ":": "colon", "/": "slash", "]": "right_square_bracket",
            "[": "left_square_bracket", "esc": "escape", "^p": "ctrl+p"}.get(shown, shown)
