"""Vault: the encrypted entries (names, versions, where each came from, which workflows use it;
never a value), and the migration wizard that moves plaintext credentials out of the agents'
workspaces one step at a time, resumable, with a typed confirmation for destructive steps.

The entries come with each poll (console.service.vault_view: re-read only when the vault file
changes); the migration is opened by the composition root (console.service.wiring); the "used by"
column comes from the vault's one workspace scanner (console.service.vault.scan)."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, ProgressBar, Static

from console.screens.base import ConsoleScreen
from console.service.vault.migration import STEP_ORDER
from widgets.footer import KeyFooter
from widgets.format import stamp, safe
from widgets.tables import SyncedTable


class VaultScreen(ConsoleScreen):
    TITLE = "Vault"
    BINDINGS = [
        Binding("m", "migrate", "Migrate credentials", id="vault.migrate"),
        Binding("enter", "detail", "Versions", id="vault.detail"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="vault-status")
        refs = Static("", id="openclaw-refs")
        refs.display = False
        yield refs
        yield SyncedTable(id="entries")

    def on_mount(self) -> None:
        t = self.query_one("#entries", SyncedTable)
        for label, key in (("entry", "name"), ("version", "v"), ("updated", "at"), ("from", "source"),
                           ("used by", "used")):
            t.add_column(label, key=key)
        super().on_mount()
        t.focus()

    def draw(self, view) -> None:
        vault = view.vault
        if vault is None:
            return
        self.entries = vault.entries
        rows = {}
        for e in vault.entries:
            used = vault.usage.get(e.name) or []
            if self.matches(e.name, e.source, *used):
                rows[e.name] = (e.name, f"v{e.latest}", stamp(e.updated_at), e.source or "-",
                                ", ".join(used) or "-")
        self.query_one("#entries", SyncedTable).sync(rows)
        status = self.query_one("#vault-status", Static)
        if vault.error:
            status.update(safe(Text(vault.error, style="red"), multiline=True))
        elif not vault.entries:
            status.update("The vault is empty. Press m to migrate the workspaces' plaintext credentials into it.")
        else:
            status.update(safe(f"{len(vault.entries)} entries in {vault.path} · values are never shown"))
        refs = self.query_one("#openclaw-refs", Static)
        refs.display = bool(vault.openclaw_refs)  # only when openclaw.json takes secrets from the vault
        refs.update(safe(self._refs_text(vault.openclaw_refs), multiline=True))

    @staticmethod
    def _refs_text(refs) -> Text:
        """openclaw.json's SecretRefs to the vault: which resolve, and an alert with the fix for each
        one that does not (REF_UNRESOLVED)."""
        t = Text()
        if not refs:
            return t
        bad = [r for r in refs if r.alert]
        t.append(f"OpenClaw reads {len(refs)} secret(s) from the vault", style="bold")
        t.append(f" · {len(bad)} NOT RESOLVED\n" if bad else "\n", style="bold red" if bad else "")
        for r in refs:
            mark = {"resolves": ("resolves", "green"), "stored": ("in the vault", "")}.get(r.state, ("NOT RESOLVED", "red"))
            t.append(f"  {r.path} ← {r.id}: ")
            t.append(mark[0], style=mark[1])
            t.append("\n")
            if r.alert:
                t.append(f"    {r.why}\n", style="red")
                for cmd in r.fix:
                    t.append(f"    fix: {cmd}\n", style="dim")
        return t

    def action_detail(self) -> None:
        key = self.query_one("#entries", SyncedTable).selected_key()
        entry = next((e for e in getattr(self, "entries", []) if e.name == key), None)
        if entry is None:
            self.app.notify("no entry selected (the vault is empty: m migrates the workspaces' credentials)",
                            severity="warning", timeout=4)
            return
        used = (self.view.vault.usage.get(entry.name) or []) if self.view and self.view.vault else []
        self.app.push_screen(VersionsScreen(entry, used))

    def on_data_table_row_selected(self, event) -> None:
        self.action_detail()

    def action_migrate(self) -> None:
        self.app.push_screen(MigrationWizard(), lambda _: self.app.reread_vault())


class VersionsScreen(ModalScreen):
    """One vault entry's versions: when, with which key, its fingerprint, where it came from. Never a value."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="versions.close")]

    def __init__(self, entry, used: list[str]) -> None:
        super().__init__()
        self.entry = entry
        self.used = used

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(safe(self._text(), multiline=True), id="versions-text")

    def on_resize(self, event) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Drawn again for the modal's width: a table too wide (a long FROM path) becomes one record
        per version, a long line wraps under its own indent."""
        width = self.query_one("#detail").scrollable_content_region.width - 2
        if width > 0 and width != getattr(self, "_width", None):
            self._width = width
            self.query_one("#versions-text", Static).update(safe(self._text(width), multiline=True))

    def _text(self, width: int | None = None) -> Text:
        from widgets.format import columns, reflow

        e = self.entry
        t = Text()
        t.append(f"{e.name}", style="bold")
        t.append(f"  {len(e.versions)} version{'s' if len(e.versions) != 1 else ''}, latest v{e.latest}\n\n")
        rows = [["VERSION", "WRITTEN", "KEY", "FINGERPRINT", "FROM"]]
        for v in sorted(e.versions, key=lambda v: -v.version):
            rows.append([f"v{v.version}", stamp(v.created_at), str(v.kid), str(v.fingerprint), v.source or "-"])
        lines = columns(rows, width=width)
        for i, line in enumerate(lines):
            t.append(line + "\n", style="dim" if i == 0 and len(lines) == len(rows) else "")
        t.append(f"\nused by: {', '.join(self.used) or 'no workflow found'}\n")
        t.append("values are never shown: `squad-console vault get NAME` prints one, `vault exec` passes it on\n",
                 style="dim")
        t.append("\nesc to close", style="dim")
        return reflow(t, width)


class WizardReady(Message):
    def __init__(self, migration, plan, error: str | None) -> None:
        super().__init__()
        self.migration, self.plan, self.error = migration, plan, error


class KeyMade(Message):
    def __init__(self, result, error: str | None) -> None:
        super().__init__()
        self.result, self.error = result, error


class StepFinished(Message):
    def __init__(self, result, error: str | None = None, plan=None) -> None:
        super().__init__()
        self.result, self.error, self.plan = result, error, plan


class MigrationWizard(ModalScreen):
    """One step per page: what it will do, then (enter) doing it. esc closes; the journal keeps
    the progress, so reopening the wizard resumes where it stopped."""

    BINDINGS = [
        Binding("enter", "run_step", "Run this step", id="wizard.run"),
        Binding("enter,escape", "finish", "Close", id="wizard.finish"),  # once the last step is done
        Binding("g", "generate_key", "Generate a key", id="wizard.keygen"),
        Binding("escape", "close", "Close (resume later)", id="wizard.close"),
        *[Binding(str(n), f"toggle_openclaw({n})", "Move / leave this OpenClaw value", id=f"wizard.openclaw{n}",
                  show=n == 1, priority=True) for n in range(1, 10)],
        Binding("pagedown", "scroll(1)", "Scroll", id="wizard.page_down", show=False),
        Binding("pageup", "scroll(-1)", "Scroll", id="wizard.page_up", show=False),
        Binding("down", "scroll_line(1)", "Scroll", id="wizard.down", show=False),
        Binding("up", "scroll_line(-1)", "Scroll", id="wizard.up", show=False),
    ]
    COPY_PHRASE = "I have a copy"

    def __init__(self) -> None:
        super().__init__()
        self.migration = None
        self.plan = None
        self.last = None
        self.busy = False
        self.new_key = None  # a key generated here, shown once, used after the "keep a copy" confirmation
        self.leave: set[str] = set()  # OpenClaw's values (dot paths) the operator leaves as they are

    def finished(self) -> bool:
        return self.migration is not None and self.migration.next_step() is None

    def offers_key(self) -> bool:
        """Step 2 with no vault key: the wizard can make one."""
        if self.migration is None or self.busy or self.new_key is not None:
            return False
        step = self.migration.next_step()
        return step is not None and step.id == "key" and not self.migration.vault.has_key

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "run_step":
            return not self.finished() and self.new_key is None
        if action == "finish":
            return self.finished() or self.migration is None
        if action == "close":  # "resume later" only while there is something to resume
            return not (self.finished() or self.migration is None)
        if action == "generate_key":
            return self.offers_key()
        if action == "toggle_openclaw":
            return len(self.openclaw_values()) >= parameters[0] and not self.busy and self.new_key is None
        return True

    def openclaw_values(self) -> list:
        """OpenClaw's plaintext values the migration can move, numbered on the pages before its
        step runs (1-9 toggle each: moved into the vault, or left as it is)."""
        if self.migration is None or self.plan is None:
            return []
        step = self.migration.next_step()
        if step is None or step.id not in ("scan", "encrypt", "verify", "openclaw"):
            return []
        return [f for f in self.plan.findings if f.action == "openclaw" and not f.resolved][:9]

    def action_toggle_openclaw(self, n: int) -> None:
        values = self.openclaw_values()
        if not 1 <= n <= len(values):
            return
        path = values[n - 1].json_path
        take = path in self.leave
        try:
            self.migration.choose(path, take)
        except Exception as exc:  # noqa: BLE001 - said on the page
            self.query_one("#wizard-hint", Static).update(safe(Text(getattr(exc, "message", str(exc)), style="bold red")))
            return
        (self.leave.discard if take else self.leave.add)(path)
        self.show_current()

    def action_scroll(self, pages: int) -> None:
        body = self.query_one("#wizard-body", VerticalScroll)
        body.scroll_to(y=body.scroll_y + pages * max(1, body.size.height - 1), animate=False)

    def action_scroll_line(self, lines: int) -> None:
        body = self.query_one("#wizard-body", VerticalScroll)
        body.scroll_to(y=body.scroll_y + lines, animate=False)

    def action_finish(self) -> None:
        self.dismiss(self.finished())

    def compose(self) -> ComposeResult:
        with Vertical(id="wizard"):
            yield Static("Migrate credentials", id="wizard-title")
            yield ProgressBar(total=len(STEP_ORDER), show_eta=False, id="wizard-progress")
            with VerticalScroll(id="wizard-body"):
                yield Static("Reading the workspaces…", id="wizard-text")
            yield Input(placeholder="", id="wizard-confirm")
            yield Static("", id="wizard-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#wizard-confirm", Input).display = False
        self.start()

    @work(thread=True, exclusive=True, group="wizard", exit_on_error=False)
    def start(self) -> None:
        from console.service.vault import VaultError
        from console.service.wiring import open_migration

        app = self.app
        try:
            m = open_migration(app.settings, app.watch.env or None, app.store)
            self.post_message(WizardReady(m, m.plan(), None))
        except VaultError as exc:
            self.post_message(WizardReady(None, None, exc.describe()))

    @on(WizardReady)
    def _ready(self, message: WizardReady) -> None:
        self.migration, self.plan = message.migration, message.plan
        if self.plan is not None:
            self.leave = {f.json_path for f in self.plan.findings if f.action == "openclaw" and not f.chosen}
        if message.error:
            self._page(Text(message.error, style="red"), hint="esc to close")
            return
        self.show_current()

    def show_current(self) -> None:
        m = self.migration
        steps = m.steps()
        done = sum(s.status in ("done", "skipped") for s in steps)
        self.query_one("#wizard-progress", ProgressBar).update(total=len(steps), progress=done)
        step = m.next_step()
        box = self.query_one("#wizard-confirm", Input)
        if step is None:
            box.display = False
            self._page(self._report(), hint="enter or esc closes · the vault screen lists the entries")
            self.refresh_bindings()
            return
        index = [s.id for s in steps].index(step.id) + 1
        self.query_one("#wizard-title", Static).update(
            Text.assemble(("Migrate credentials", "bold"), f" — step {index}/{len(steps)}: {step.title}"))
        t = Text()
        if self.last is not None:
            style = "green" if self.last.status == "done" else ("yellow" if self.last.status == "skipped" else "red")
            t.append(f"{self.last.id}: {self.last.status}: {self.last.summary}\n", style=style)
            for d in self.last.details[:8]:
                t.append(f"  {d}\n", style="dim")
            t.append("\n")
        t.append(f"{step.title}\n", style="bold")
        t.append(f"{step.description}\n")
        if step.destructive:
            t.append("This step changes files in the workspaces.\n", style="bold yellow")
        t.append_text(self._step_extra(step.id))
        hint = "enter runs this step · esc closes (the journal keeps the progress)"
        if self.offers_key():
            t.append("\nThere is no vault key yet. Press g to generate one here: it is kept in the OS keyring when "
                     "one works, and shown once for you to keep a copy (a password manager). Or set "
                     "CONVEX_VAULT_KEY (squad-console vault init) and reopen the wizard.\n", style="bold")
            hint = "g generates a vault key · enter runs this step · esc closes (the journal keeps the progress)"
        needs = step.confirm is not None
        box.display = needs
        if needs:
            box.value = ""
            box.placeholder = f'type "{step.confirm}" then enter' + (" (or just enter to skip)" if step.id == "convex" else "")
            box.focus()
        self._page(t, hint=hint)
        self.refresh_bindings()

    def _step_extra(self, step_id: str) -> Text:
        t = Text()
        plan = self.plan
        if plan is None:
            return t
        if step_id in ("scan", "encrypt", "verify"):
            t.append(f"\nFound {len(plan.findings)}:\n", style="bold")
            for f in plan.findings:
                if f.kind == "openclaw":
                    continue
                t.append(f"  {f.path}\n")
                fp = f"fingerprint {f.fingerprint}" if f.fingerprint else "no fingerprint before the vault key"
                t.append(f"    {f.kind}, {f.size} B, mode {f.mode}, owner {f.owner}, {fp}"
                         f" → {f.action}{' ' + f.entry if f.entry else ''}\n", style="dim")
        oc = [f for f in plan.findings if f.kind == "openclaw"]
        if oc and step_id in ("scan", "encrypt", "verify", "openclaw"):
            t.append(f"\nOpenClaw's own config (`openclaw secrets audit`): {len(oc)} finding(s)\n", style="bold")
            numbered = {f.json_path: i for i, f in enumerate(self.openclaw_values(), 1)}
            for f in oc:
                if f.action == "openclaw":
                    mark = "leave" if f.json_path in self.leave else "move "
                    n = numbered.get(f.json_path)
                    t.append(f"  {n or ' '} [{mark}] {f.path} {f.json_path}", style="" if mark == "move " else "yellow")
                    t.append(f"  {f.code}, fingerprint {f.fingerprint} → vault {f.entry}, then a SecretRef\n", style="dim")
                else:
                    t.append(f"    {f.path} {f.json_path}  {f.reason}\n", style="yellow" if f.manual else "dim")
            if numbered:
                t.append("  press 1-9 to move a value into the vault or leave it as it is\n", style="dim")
        if step_id == "workflows":
            for e in plan.edits:
                t.append(f"\n{e.path}" + (f" (backup {e.backup})\n" if e.backup else "\n"), style="bold")
                for line in e.diff.splitlines()[:30]:
                    style = "green" if line.startswith("+") else ("red" if line.startswith("-") else "dim")
                    t.append(f"  {line}\n", style=style)
        if step_id == "remove":
            for w in plan.warnings:
                t.append(f"\n{w}\n", style="yellow")
        return t

    def _report(self) -> Text:
        r = self.migration.report()
        t = Text()
        t.append("Migration report\n\n", style="bold")
        t.append(f"migrated: {', '.join(r.migrated) or 'nothing'}\n")
        t.append(f"verified: {len(r.verified)}   removed: {len(r.removed)}   inline keys replaced: {len(r.rewritten)}"
                 f"   references updated: {len(r.references_updated)}\n")
        for path in r.references_updated:
            t.append(f"  updated {path}\n", style="dim")
        for m in r.mentions:
            t.append(f"  to update by hand: {m.path}:{m.line}\n", style="yellow")
            if m.change:
                t.append(f"    {m.change}\n", style="dim")
        for left in r.left:
            t.append(f"  still in plaintext: {left}\n", style="yellow")
        if r.rotate:
            t.append("\nRotate:\n", style="bold")
            for item in r.rotate:
                t.append(f"  {item}\n")
        for w in r.warnings:
            t.append(f"\n{w}\n", style="dim")
        return t

    def _page(self, text, *, hint: str) -> None:
        self._shown = text if isinstance(text, Text) else Text(str(text))
        self._draw_page()
        self.query_one("#wizard-hint", Static).update(safe(Text(hint, style="dim"), multiline=True))

    def _draw_page(self) -> None:
        """The page wrapped for the width the wizard has: a long path or line continues under its own
        indent, never at the margin where it would read as the next item."""
        from widgets.format import reflow

        width = self.query_one("#wizard-body").scrollable_content_region.width - 2  # room for the scrollbar
        text = getattr(self, "_shown", None)
        if text is not None:
            self.query_one("#wizard-text", Static).update(safe(reflow(text, width if width > 0 else None),
                                                               multiline=True))

    def on_resize(self, event) -> None:
        self.call_after_refresh(self._draw_page)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "wizard-confirm":
            return
        if self.new_key is not None:
            self._confirm_copy(event.value.strip())
            return
        self.action_run_step()

    # ------------------------------------------------------------------ a key made here
    def action_generate_key(self) -> None:
        if not self.offers_key():
            return
        self.busy = True
        self.query_one("#wizard-hint", Static).update(Text("generating a vault key…", style="bold"))
        self._generate()

    @work(thread=True, exclusive=True, group="wizard", exit_on_error=False)
    def _generate(self) -> None:
        from console.service.vault import init_key

        env = dict(self.app.watch.env) if getattr(self.app, "_watch", None) is not None else None
        try:
            result = init_key(env)
        except Exception as exc:  # noqa: BLE001 - said on the page
            self.post_message(KeyMade(None, getattr(exc, "message", None) or str(exc)))
            return
        self.post_message(KeyMade(result, None))

    @on(KeyMade)
    def _key_made(self, message: KeyMade) -> None:
        self.busy = False
        if message.error:
            self.query_one("#wizard-hint", Static).update(safe(Text(message.error, style="bold red"), multiline=True))
            return
        r = self.new_key = message.result
        t = Text()
        t.append(f"Vault key {r.key.kid} generated\n\n", style="bold")
        if r.stored_in_keyring:
            t.append(f"It is kept in the OS keyring ({r.keyring_backend}). ")
        else:
            t.append(f"No usable OS keyring ({r.reason}): it is kept by this session only. ")
        t.append("Keep a copy somewhere safe (a password manager) NOW: it is not shown again, and losing it loses "
                 "every secret in the vault.\n\n", style="bold yellow")
        if not r.stored_in_keyring:
            t.append("Put this command in the environment of every shell and agent that uses the vault:\n")
        # the key alone on its line (64 characters fit at 80 columns): a wrapped line would copy with a break
        # inside the key; the backslash makes the two lines one shell command
        t.append(f"export CONVEX_VAULT_KEY=\\\n{r.key.hex()}\n", style="bold")
        t.append(f'\nType "{self.COPY_PHRASE}" then enter to use it and go on with step 2. esc stops here '
                 "(a key kept in the keyring stays there).\n", style="dim")
        box = self.query_one("#wizard-confirm", Input)
        box.display = True
        box.value = ""
        box.placeholder = f'type "{self.COPY_PHRASE}" then enter'
        box.focus()
        self._page(t, hint=f'type "{self.COPY_PHRASE}" once the key is copied · esc closes')
        self.refresh_bindings()

    def _confirm_copy(self, typed: str) -> None:
        if typed.lower() != self.COPY_PHRASE.lower():
            self.query_one("#wizard-hint", Static).update(
                Text(f'type exactly "{self.COPY_PHRASE}" once the key is copied (esc to stop here)', style="bold red"))
            return
        key = self.new_key.key
        if not self.new_key.stored_in_keyring:  # this session's reads of the vault use it too
            from console.service.vault.keys import KEY_ENV

            if getattr(self.app, "_watch", None) is not None:
                self.app.watch.env[KEY_ENV] = key.hex()
            env = self.app._watch_args.get("env") if hasattr(self.app, "_watch_args") else None
            if isinstance(env, dict):
                env[KEY_ENV] = key.hex()
        self.migration.vault.set_key(key)
        self.new_key = None
        self.query_one("#wizard-confirm", Input).value = ""
        self.show_current()
        self.action_run_step()

    def action_run_step(self) -> None:
        if self.migration is None or self.busy:
            return
        step = self.migration.next_step()
        if step is None:
            self.dismiss(True)
            return
        typed = self.query_one("#wizard-confirm", Input).value.strip() or None
        if step.destructive and step.confirm and typed != step.confirm:
            self.query_one("#wizard-hint", Static).update(
                Text(f'type exactly "{step.confirm}" to run this step (esc to stop here)', style="bold red"))
            return
        self.busy = True
        self.query_one("#wizard-hint", Static).update(Text(f"running: {step.title}…", style="bold"))
        self._run(step.id, typed)

    @work(thread=True, exclusive=True, group="wizard", exit_on_error=False)
    def _run(self, step_id: str, confirm: str | None) -> None:
        from console.service.store import StoreError
        from console.service.vault import VaultError

        try:
            result = self.migration.run_step(step_id, confirm=confirm)
            # the plan again: what is on disk now, with the vault's fingerprints once there is a key
            self.post_message(StepFinished(result, plan=self.migration.plan()))
        except (StoreError, VaultError) as exc:
            self.post_message(StepFinished(None, exc.describe()))

    @on(StepFinished)
    def _finished(self, message: StepFinished) -> None:
        self.busy = False
        if message.error:
            self.query_one("#wizard-hint", Static).update(safe(Text(message.error, style="bold red"), multiline=True))
            return
        self.last = message.result
        if message.plan is not None:
            self.plan = message.plan
        self.show_current()  # a failed step is said once, at the top of the page

    def action_close(self) -> None:
        self.dismiss(False)
