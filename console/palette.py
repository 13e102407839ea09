"""The console's own commands in the command palette (`:` or ctrl+p)."""

from __future__ import annotations

from collections.abc import Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from console.screens import SCREENS


class ConsoleCommands(Provider):
    """The console's own commands in the command palette (`:` or ctrl+p)."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        cmds: list[tuple[str, str, Callable[[], object]]] = [
            (f"Go to {s.title}", f"switch to the {s.title} screen ({s.key})", lambda m=s.mode: app.action_goto(m))
            for s in SCREENS
        ]
        cmds += [
            ("Refresh now", "poll the store at once (r)", app.action_refresh),
            ("Import agents from openclaw.json", "register OpenClaw's agents in the store", app.action_import_agents),
            ("Migrate credentials", "move plaintext credentials into the encrypted vault, step by step",
             app.action_migrate),
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
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
