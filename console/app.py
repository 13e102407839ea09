"""The full-screen console: screens, bindings, and the poll loop's wiring.

Polls run in an exclusive thread worker (the stores are synchronous); each result comes back as a
typed message; the next poll is scheduled only after the last one ended, and not while a modal is
open (a refresh asked for during a poll runs right after it). The OpenClaw probe (gateway, channels,
cron: network) runs in a worker group of its own, so a slow gateway never delays a store poll; its
diagnosis comes back as a view like a poll's. Every binding has an id, so squad.toml's [keys] can
remap it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.css.stylesheet import Stylesheet
from textual.notifications import SeverityLevel
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer

from typing import TYPE_CHECKING

from console import asset
from console.text import visible
from console.screens import SCREENS, modes

if TYPE_CHECKING:  # the service side loads after the first frame
    from console.config import Settings
    from console.service.store import Store
    from console.service.watch import StepResult


class PollFinished(Message):
    """One step of the watch: a poll and everything computed from it."""

    def __init__(self, step: StepResult) -> None:
        super().__init__()
        self.step = step


class ProbeFinished(Message):
    """OpenClaw diagnosed: the view again with the new causes and gateway health."""

    def __init__(self, view, transitions) -> None:
        super().__init__()
        self.view, self.transitions = view, transitions


def _console_commands():
    """The palette's provider, imported when the palette first opens (textual.command is heavy)."""
    from console.palette import ConsoleCommands

    return ConsoleCommands


class _Stylesheet(Stylesheet):
    """Textual's stylesheet, without parsing every rule twice at start-up: App.refresh_css sets
    the theme's variables and re-parses all the CSS, and at start the variables are the ones it
    was just parsed with. Then the rules it has (cached per source, for these variables) stand;
    new variables (another theme) re-parse as Textual does. (textual is pinned: 8.2.8's
    set_variables clears the parse cache and reparse parses into a fresh stylesheet.)"""

    _unchanged = False

    def set_variables(self, variables: dict[str, str]) -> None:
        self._unchanged = variables == self._variables
        if not self._unchanged:
            super().set_variables(variables)

    def reparse(self) -> None:
        if self._unchanged:
            self._unchanged = False
            self.parse()  # every source from the parse cache, made with these very variables
            return
        super().reparse()


class SquadApp(App):
    TITLE = "squad-console"
    MODES = modes()
    DEFAULT_MODE = "overview"  # started in it: no default screen built, styled and switched away from
    CSS_PATH = [asset("app.tcss")]
    COMMANDS = {_console_commands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        *[Binding(s.key, f"goto('{s.mode}')", s.title, id=f"screen.{s.mode}", show=False) for s in SCREENS],
        Binding("question_mark", "help", "Keys", id="help"),
        Binding("colon,ctrl+p", "command_palette", "Commands", id="palette"),
        Binding("r", "refresh", "Refresh", id="refresh"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        store: Store | Callable[[], Store],
        *,
        clock: Callable[[], float] = time.time,
        probe_openclaw: bool = True,
        env: dict[str, str] | None = None,
        openclaw_runner: object = "auto",
        probe_gateway: bool = True,
        demo_story: Callable[[Store, float], object] | None = None,
    ) -> None:
        super().__init__()
        self.stylesheet = _Stylesheet(variables=self.get_css_variables())  # no source read yet
        self._demo_story = demo_story  # the demo's squad beating on while the console is open
        self.settings = settings
        # a store, or a function that opens one: then it is opened by the first poll, off the UI
        # thread and after the first frame (the SQLite or HTTP machinery is not start-up's cost)
        self._store = None if callable(store) and not hasattr(store, "snapshot") else store
        self._store_factory = store if self._store is None else None
        self.clock = clock
        self._watch_args = dict(clock=clock, probe_openclaw=probe_openclaw, env=env,
                                openclaw_runner=openclaw_runner, probe_gateway=probe_gateway)
        self._watch = None
        self.view = None
        self._timer: Timer | None = None
        self._polling = False
        self._poll_again = False
        self._probing = False
        self._history: list[str] = []
        self._draw_failure: str | None = None
        self.started_at = time.perf_counter()
        self.first_frame_ms: float | None = None

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every toast shows its words as text: markup off, whatever the caller passed (an agent's
        error or a task title in a toast once crashed the app on a `[/…]`), controls made visible."""
        super().notify(visible(message, multiline=True), title=visible(title), severity=severity, timeout=timeout,
                       markup=False)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    @property
    def watch(self):
        """The service side (imported and built on first use, after the first frame)."""
        if self._watch is None:
            from console.service.watch import Watch

            self._watch = Watch(self.settings, self.store, **self._watch_args)
        return self._watch

    def on_mount(self) -> None:
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        self.call_after_refresh(self._first_frame)
        self.set_interval(1.0, self._tick)

    def _first_frame(self) -> None:
        import gc

        gc.freeze()  # start-up's objects live for the session: keep full collections off them
        self.first_frame_ms = (time.perf_counter() - self.started_at) * 1000
        self.log(f"first frame after {self.first_frame_ms:.0f} ms")
        self.poll_now()  # the first poll starts once the screen is up

    # ------------------------------------------------------------------ polling
    def poll_now(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._polling:
            self._poll_again = True  # asked for during a poll (a change was just written): once more after it
            return
        if not self.is_running or not self.screen_stack:
            return
        if isinstance(self.screen, ModalScreen):
            # no polling while a modal is open: look again shortly
            self._timer = self.set_timer(0.5, self.poll_now)
            return
        self._polling = True
        self._poll()

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def _poll(self) -> None:
        try:
            if self._demo_story is not None:
                self._demo_story(self.store, self.clock() * 1000)
            step = self.watch.step()
        except Exception as exc:  # never a dead poll loop: say so, and try again shortly
            self.call_from_thread(self._poll_crashed, exc)
            return
        self.post_message(PollFinished(step))

    def _poll_crashed(self, exc: Exception) -> None:
        """The store could not be opened (a corrupt file, no key) or the poll broke: the screens show
        a stale view with the reason and its fix (the header, an alert row), polled again shortly."""
        from console.service.watch import unavailable_view

        self._polling = False
        if self._store is None and self._store_factory is not None:
            self._watch = None  # no store yet: opened again at the next poll
        store_words = None
        try:
            store_words = self._store.describe() if self._store is not None else None
        except Exception:  # noqa: BLE001 - only words for the header
            pass
        view = unavailable_view(self.settings, exc, self.clock() * 1000, store_words)
        if self.view is not None and self.view.last_success is not None:
            view.last_success = self.view.last_success
        self._show(view, [])
        self._timer = self.set_timer(5.0, self.poll_now)

    @on(PollFinished)
    def _on_poll_finished(self, message: PollFinished) -> None:
        self._polling = False
        step = message.step
        if self.view is None:
            import gc

            gc.freeze()  # the first load (history, screens) lives for the session: out of full collections
        self._show(step.view, step.transitions)
        if self._poll_again:
            self._poll_again = False
            self.poll_now()
        else:
            self._timer = self.set_timer(max(step.poll.next_delay, 0.05), self.poll_now)
        if not self._probing and self.watch.probe_due():
            self._probing = True
            self._probe()

    @work(thread=True, exclusive=True, group="openclaw-probe", exit_on_error=False)
    def _probe(self) -> None:
        try:
            view, transitions = self.watch.probe()
        except Exception as exc:  # a failed diagnosis is said once; polls go on regardless
            self.call_from_thread(self._probe_crashed, exc)
            return
        self.post_message(ProbeFinished(view, transitions))

    def _probe_crashed(self, exc: Exception) -> None:
        self._probing = False
        self.notify((getattr(exc, "message", None) or str(exc) or "no reason given")[:300],
                    title="OpenClaw probe failed", severity="warning", timeout=8)

    @on(ProbeFinished)
    def _on_probe_finished(self, message: ProbeFinished) -> None:
        self._probing = False
        if self.view is not None and message.view.at < self.view.at:
            return  # a poll's newer view came first (it has the diagnosis too)
        self._show(message.view, message.transitions)

    def _show(self, view, transitions) -> None:
        before = self.view.last_error if self.view is not None else None
        if view.last_error and not before:  # one toast when the store fails, not one per poll
            self.notify(f"{view.last_error}" + (f"\nfix: {view.error_hint}" if view.error_hint else ""),
                        title="Store unavailable", severity="error", timeout=10)
        elif before and not view.last_error and view.last_success is not None:
            self.notify("the store answers again", title="Store back", timeout=5)
        self.view = view
        if len(transitions) <= 3:
            for t in transitions:
                self._toast(t)
        else:  # a squad-wide change is one toast, not a flood
            down = sum(t.after in ("down", "failing") for t in transitions)
            up = sum(t.after == "up" for t in transitions)
            self.notify(f"{len(transitions)} agents changed status: {down} down or failing, {up} up",
                        title="Squad", severity="error" if down else "information", timeout=8)
        self._dispatch(view)

    def _toast(self, t) -> None:
        name = self.view.names.get(t.agent_id, t.agent_id) if self.view else t.agent_id
        if t.after in ("down", "failing") and t.before not in ("down", "failing"):
            self.notify(f"{name} is {t.after}: {t.reason}", title="Agent down", severity="error", timeout=10)
        elif t.after == "up" and t.before in ("down", "failing", "late"):
            self.notify(f"{name} is back up", title="Agent back", severity="information", timeout=6)

    def _dispatch(self, view) -> None:
        """The poll's view to every console screen on the stack. A screen that fails to draw it
        says so in a toast (once per distinct failure) and the session goes on; a poll that lands
        while the app is closing draws nothing."""
        from console.screens.base import ConsoleScreen

        if not self.is_running or self._closing or self._closed:
            return
        try:
            screens = list(self.screen_stack)
        except Exception:  # no mode or no screen: the app is starting or closing
            return
        for screen in screens:
            if not isinstance(screen, ConsoleScreen) or not screen.is_attached:
                continue
            try:
                screen.show(view)
            except Exception as exc:  # noqa: BLE001 - one screen's bug must not end the session
                self.log.error(f"drawing {type(screen).__name__} failed: {exc!r}")
                words = f"{getattr(screen, 'TITLE', type(screen).__name__)} could not be drawn: {exc}"
                if words != self._draw_failure:
                    self._draw_failure = words
                    self.notify(words[:300], title="Display", severity="error", timeout=8)

    def _tick(self) -> None:
        """Once a second: the header's age of the last good poll (a label, nothing else)."""
        try:
            screen = self.screen
        except Exception:  # no screen on the stack: the app is closing
            return
        for h in screen.query("StatusHeader"):
            h.tick(self.clock() * 1000)

    # ------------------------------------------------------------------ actions
    def action_goto(self, mode: str) -> None:
        if mode != self.current_mode:
            self._history.append(self.current_mode)
            del self._history[:-20]
            self.switch_mode(mode)

    def action_back(self) -> None:
        """esc on a screen with nothing to clear: back to the screen before."""
        if self._history:
            self.switch_mode(self._history.pop())

    def action_refresh(self) -> None:
        self.notify("refreshing", timeout=1.5)
        self.poll_now()

    def reread_vault(self) -> None:
        """The vault or the workspaces changed here (the migration wizard): read them at the next poll, now."""
        if self._watch is not None:  # else the first poll reads them anyway
            self._watch.vault.invalidate()
        self.poll_now()

    def action_migrate(self) -> None:
        from console.screens.vault import MigrationWizard

        self.action_goto("vault")
        self.push_screen(MigrationWizard())

    def action_help(self) -> None:
        from console.screens.help import HelpScreen

        self.push_screen(HelpScreen(self))

    def run_on(self, mode: str, action: str) -> None:
        """Go to a screen and run one of its actions there (the palette's commands)."""
        self.action_goto(mode)

        async def run() -> None:
            from console.screens.base import ConsoleScreen

            screen = self.screen
            if isinstance(screen, ConsoleScreen):
                await screen.run_forced(action)

        self.call_after_refresh(run)

    @work(thread=True, exclusive=True, group="import", exit_on_error=False)
    def action_sync_agents(self) -> None:
        """Register squad.toml's agents in the store (as `squad-console agents sync`)."""
        from console.service.agents import squad_specs, summary, upsert
        from console.service.store import StoreError

        try:
            lines = upsert(self.store, squad_specs(self.settings))
        except StoreError as exc:
            self.call_from_thread(self.notify, exc.describe(), title="Sync failed", severity="error", timeout=10)
            return
        where = str(self.settings.source) if getattr(self.settings, "source", None) else "squad.toml"
        self.call_from_thread(self.notify, summary(lines, where), title="Agents synced")
        self.call_from_thread(self.poll_now)

    @work(thread=True, exclusive=True, group="import", exit_on_error=False)
    def action_import_agents(self) -> None:
        from console.service.openclaw.errors import OpenClawError
        from console.service.openclaw.registry import openclaw_agent_specs
        from console.service.store import StoreError

        from console.service.agents import summary, upsert

        try:
            config, specs, note = openclaw_agent_specs(self.settings, self._watch_args.get("env") or {},
                                                       runner=self._watch_args.get("openclaw_runner", "auto"))
            lines = upsert(self.store, specs)
        except (OpenClawError, StoreError) as exc:
            self.call_from_thread(self.notify, exc.describe(), title="Import failed", severity="error", timeout=10)
            return
        text = summary(lines, str(config.path)) + (f"; {note}" if note else "")
        self.call_from_thread(self.notify, text, title="Import")
        self.call_from_thread(self.poll_now)


def binding_ids() -> set[str]:
    """Every binding id of the app and its screens (for validating squad.toml's [keys])."""
    from console.screens import all_screen_classes

    ids = {b.id for b in SquadApp.BINDINGS if isinstance(b, Binding) and b.id}
    for cls in all_screen_classes():
        ids |= {b.id for b in cls.BINDINGS if isinstance(b, Binding) and b.id}
    return ids
