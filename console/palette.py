"""The console's own commands in the command palette (`:` or ctrl+p): every screen, and every
action of every screen (`Tasks: New task`, `Pipeline: Fetch feeds`, `Audit: Export`…), run on its
screen; the palette finds them by any word (fetch, export, sync, feed)."""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from console.screens import SCREENS, screen_class
from widgets.footer import key_display

# Words a palette search should find an action by, beside its description (binding id -> words).
ALSO = {
    "agents.sync": "register squad.toml agents sync",
    "agents.import": "import openclaw.json agents",
    "pipeline.fetch": "fetch feeds rss now",
    "pipeline.feed_add": "add feed rss competitor watch",
    "pipeline.feed_remove": "remove feed rss stop watching",
    "audit.export": "export audit log file jsonl csv",
    "vault.migrate": "migrate credentials vault wizard encrypt",
}


class ConsoleCommands(Provider):
    """The console's own commands in the command palette (`:` or ctrl+p)."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        cmds: list[tuple[str, str, Callable[[], object]]] = [
            (f"Go to {s.title}", f"switch to the {s.title} screen ({s.key})", lambda m=s.mode: app.action_goto(m))
            for s in SCREENS
        ]
        for s in SCREENS:
            for b in _own_bindings(screen_class(s.mode)):
                words = ALSO.get(b.id or "", "")
                key = key_display(app, b.key, b)
                cmds.append((f"{s.title}: {b.description}", f"on the {s.title} screen ({key}) {words}".rstrip(),
                             lambda m=s.mode, a=b.action: app.run_on(m, a)))
        cmds += [
            ("Refresh now", "poll the store at once (r)", app.action_refresh),
            ("Show keys", "every key of this screen (?)", app.action_help),
            ("Quit", "leave the console (q)", app.action_quit),
        ]
        return cmds

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = max(matcher.match(name), matcher.match(help_text) * 0.5)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


def _own_bindings(cls: type) -> list[Binding]:
    """A screen's own actions (not the shared filter/back), each once, with a description."""
    out, seen = [], set()
    for b in cls.__dict__.get("BINDINGS", []):
        if isinstance(b, Binding) and b.description and b.action not in seen and b.action != "detail":
            seen.add(b.action)
            out.append(b)
    return out
