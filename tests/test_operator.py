"""Issue 15: every flow finishable where the operator stands, layouts that hold at 80×24. Each test
here failed before the change it covers: a task assigned to VEDA on a fresh store without leaving
the console, a form that keeps what was typed, agents synced from the Agents screen, a feed added,
fetched and removed on the Pipeline screen, the audit exported to a file, a vault key made in the
wizard, the board's focus following the card, a store failing from the first poll, no tick without
data, the k9s filter, the overview's grouped and counted alerts, the footer at 80 columns, the
pipeline detail, the Versions modal, and the demo left open."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from console.app import SquadApp
from console.config import load_settings
from console.screens.form import Form
from console.service.demo import build_demo, continue_story
from console.service.models import AgentSpec
from console.service.store.sqlite import LocalStore
from tests.test_tui import Clock, rows, seed_store, settings_at
from tests.waiting import first_poll, poll, settle, until
from widgets.header import StatusHeader
from widgets.tables import SyncedTable

NOW = 1_764_000_000.0
NOW_MS = NOW * 1000


def fresh_app(tmp_path: Path, **kw) -> tuple[SquadApp, LocalStore]:
    """squad.toml names cestra, veda and orin; the store holds nothing (no `agents sync` yet)."""
    store = LocalStore(tmp_path / "fresh.db")
    return SquadApp(settings_at(tmp_path), store, clock=Clock(), probe_openclaw=False, **kw), store


def text_of(widget) -> str:
    return str(widget.render())


def screen_text(app) -> str:
    """Everything the screen's shown Static widgets show (headers, notes, alerts, form errors)."""
    return "\n".join(str(w.render()) for w in app.screen.query("Static") if w.display)


async def type_text(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space", ",": "comma", "/": "slash", ".": "full_stop", ":": "colon",
                         "-": "minus", "_": "underscore"}.get(c, c) for c in text])


async def on_form(pilot) -> Form:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, Form), "a form")
    await pilot.pause()
    return app.screen


# ------------------------------------------------------------------------------- 1: act where you look
async def test_a_task_assigned_to_veda_on_a_fresh_store_without_leaving_the_console(tmp_path: Path) -> None:
    app, store = fresh_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press("6", "n")
        form = await on_form(pilot)
        await type_text(pilot, "Compare pricing pages")
        await pilot.press("enter", "enter")  # title, description: on to the list of agents
        picker = form.query_one("#field-assign")
        labels = [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)]
        assert any("VEDA (veda)" in label and "registered when saved" in label for label in labels), labels
        await pilot.press("down", "space", "enter")  # cestra, VEDA: tick VEDA, save
        await until(pilot, lambda: rows(app, "#col-assigned") == 1, "the task in the assigned column")
        [task] = store.list_tasks()
        veda = next(a for a in store.list_agents() if a.agent_id == "veda")
        assert task.title == "Compare pricing pages" and list(task.assignee_ids) == [veda.id]
        assert any("assigned to veda" in n.message for n in app._notifications)
        await until(pilot, lambda: app.screen.focused.id == "col-assigned", "the focus on the new card")
        await pilot.press("right_square_bracket")  # the next key acts on the card just made
        await until(pilot, lambda: store.list_tasks()[0].status == "in_progress", "the new card moved on")
    store.close()


async def test_a_refused_save_keeps_what_was_typed_and_says_why_beside_the_field(tmp_path: Path) -> None:
    from console.service.store import StoreUnavailable

    app, store = fresh_app(tmp_path)
    real = store.create_task
    calls = []

    def down_once(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise StoreUnavailable("the local store is busy", hint="try again in a moment")
        return real(*a, **k)

    store.create_task = down_once  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press("6", "n")
        form = await on_form(pilot)
        await type_text(pilot, "Survey founders")
        await pilot.press("enter", "enter", "enter")  # save with nobody ticked
        await until(pilot, lambda: "busy" in text_of(form.query_one("#form-error")), "the error in the form")
        assert app.screen is form and form.values()["title"] == "Survey founders"  # kept
        assert "try again" in text_of(form.query_one("#form-error"))
        await pilot.press("ctrl+s")  # the same content, saved this time
        await until(pilot, lambda: not isinstance(app.screen, Form), "the form closed")
        assert [t.title for t in store.list_tasks()] == ["Survey founders"]
    store.close()


async def test_two_quick_enters_move_two_fields(tmp_path: Path) -> None:
    app, store = fresh_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press("6", "n")
        form = await on_form(pilot)
        await pilot.press("x", "enter", "enter")  # title, then past the description: the list has focus
        await until(pilot, lambda: form.focused is form.query_one("#field-assign"), "the third field focused")
    store.close()


def test_agents_are_named_by_id_or_name_in_any_case(tmp_path: Path) -> None:
    from console.service import tasks

    store = LocalStore(tmp_path / "s.db")
    for agent_id, name in (("veda", "VEDA"), ("orin", "ORIN")):
        store.upsert_agent(AgentSpec(agent_id, name))
    ids = {a.agent_id: a.id for a in store.list_agents()}
    assert tasks.agent_doc_ids(store, tasks.split_names("veda, Orin")) == [ids["veda"], ids["orin"]]
    assert tasks.agent_doc_ids(store, ["VEDA"]) == [ids["veda"]]
    with pytest.raises(tasks.TaskError) as info:
        tasks.agent_doc_ids(store, ["nova"])
    assert "s on the Agents screen" in info.value.hint
    store.close()


async def test_agents_are_synced_from_the_agents_screen(tmp_path: Path) -> None:
    app, store = fresh_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press("2")
        await until(pilot, lambda: "press s to register" in screen_text(app), "the note on unregistered agents")
        await pilot.press("s")
        await until(pilot, lambda: len(store.list_agents()) == 3, "the three agents registered")
        await poll(pilot)
        assert "press s to register" not in screen_text(app)
        assert any("3 agents from" in n.message and "3 registered" in n.message for n in app._notifications)
    store.close()


async def test_a_feed_added_fetched_and_removed_on_the_pipeline_screen(tmp_path: Path) -> None:
    app, store = fresh_app(tmp_path)
    url = "http://127.0.0.1:9/acme.xml"
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press("5", "tab", "n")  # the feeds have focus: n adds a feed
        form = await on_form(pilot)
        assert "Watch a feed" in form.form_title
        await type_text(pilot, url)
        await pilot.press("enter", "enter")  # the competitor left empty: refused beside its field
        await until(pilot, lambda: "whose feed" in text_of(form.query_one("#error-competitor")), "the error")
        assert form.values()["url"] == url
        await type_text(pilot, "acme")
        await pilot.press("enter")
        await until(pilot, lambda: rows(app, "#feeds") == 1, "the feed on the screen")
        await pilot.press("f")
        await settle(pilot)
        assert any("1 feed" in n.message for n in app._notifications)
        app.screen.query_one("#feeds", SyncedTable).focus()
        await pilot.press("x")
        await on_form(pilot)
        await type_text(pilot, "yes")
        await pilot.press("enter")
        await until(pilot, lambda: rows(app, "#feeds") == 0, "the feed gone")
        assert store.list_feeds() == []
    store.close()


async def test_the_audit_log_exported_from_the_audit_screen(tmp_path: Path) -> None:
    store = seed_store(tmp_path / "squad.db", NOW_MS)
    store.log_activity("note", "by hand", agent_id=next(a.id for a in store.list_agents() if a.agent_id == "cestra"),
                       actor="operator")
    app = SquadApp(settings_at(tmp_path), store, clock=Clock(), probe_openclaw=False)
    target = tmp_path / "week.jsonl"
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press("7", "e")
        form = await on_form(pilot)
        await pilot.press("ctrl+u")
        await type_text(pilot, str(target))
        await pilot.press("enter")
        await until(pilot, lambda: target.exists() and not isinstance(app.screen, Form), "the export written")
        assert any(str(target) in n.message and "entries written" in n.message for n in app._notifications)
        lines = [json.loads(x) for x in target.read_text().splitlines()]
        note = next(x for x in lines if x["type"] == "note")
        assert note["agent"] == "cestra" and note["agentId"].startswith("a")  # the name, not only the store's id
        # never over an existing file: said beside the path, the form open
        await pilot.press("e")
        form = await on_form(pilot)
        await pilot.press("ctrl+u")
        await type_text(pilot, str(target))
        await pilot.press("enter")
        await until(pilot, lambda: "exists already" in text_of(form.query_one("#error-path")), "the refusal")
    store.close()


def test_the_palette_finds_fetch_export_sync_and_feed(tmp_path: Path) -> None:
    from console.palette import ConsoleCommands

    app, store = fresh_app(tmp_path)

    class Bare(ConsoleCommands):
        def __init__(self) -> None:  # the command list only: no palette screen needed
            pass

        @property
        def app(self):  # type: ignore[override]
            return app

    names = [name.lower() for name, _, _ in Bare()._commands()]
    for word in ("fetch", "export", "sync", "feed", "assign", "override", "migrate"):
        assert any(word in n for n in names), word
    store.close()


async def test_the_wizard_makes_a_key_at_step_two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from console.screens.vault import MigrationWizard

    monkeypatch.delenv("CONVEX_VAULT_KEY", raising=False)
    monkeypatch.setenv("SQUAD_CONSOLE_KEYRING", "off")
    demo = build_demo(tmp_path / "demo", NOW_MS)
    settings = load_settings(demo.config_path, env=demo.env)
    store = LocalStore(demo.db_path)
    env = {k: v for k, v in {**os.environ, **demo.env}.items() if k != "CONVEX_VAULT_KEY"}
    app = SquadApp(settings, store, clock=lambda: NOW, env=env, openclaw_runner=None, probe_gateway=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("4", "m")
        await settle(pilot)
        wizard = app.screen
        assert isinstance(wizard, MigrationWizard)
        await pilot.press("enter")  # scan
        await settle(pilot)
        assert wizard.migration.next_step().id == "key"
        await settle(pilot)
        page = getattr(wizard, "_shown", None) or wizard.query_one("#wizard-text").render()  # the page's own lines
        page = page.plain if hasattr(page, "plain") else str(page)
        assert "Press g to generate one" in page
        assert_wrapped_under_their_indent(wizard.query_one("#wizard-text"), page)  # the scan's paths
        await pilot.press("g")
        await until(pilot, lambda: wizard.new_key is not None, "the key made")
        page = str(wizard.query_one("#wizard-text").render())
        key_hex = wizard.new_key.key.hex()
        assert f"export CONVEX_VAULT_KEY=\\\n{key_hex}\n" in page and "Keep a copy" in page
        widget = wizard.query_one("#wizard-text")
        assert key_hex in [line.strip() for line in shown_lines(widget)]  # on one line at 80×24: it copies whole
        await type_text(pilot, "I have a copy")
        await pilot.press("enter")
        await settle(pilot)
        assert wizard.migration.next_step().id != "key"
        assert [s.status for s in wizard.migration.steps() if s.id == "key"] == ["done"]
        assert app.watch.env["CONVEX_VAULT_KEY"] == key_hex  # this session's vault reads use it
        assert str(wizard.query_one("#wizard-text").render()).count("no vault key") <= 1
    store.close()


# ------------------------------------------------------------------------------- 2: the board
async def test_the_boards_focus_follows_the_moved_card(tmp_path: Path) -> None:
    store = seed_store(tmp_path / "squad.db", NOW_MS)
    first = store.create_task("first")
    store.create_task("second")
    app = SquadApp(settings_at(tmp_path), store, clock=Clock(), probe_openclaw=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press("6")
        await until(pilot, lambda: rows(app, "#col-inbox") == 2, "two tasks in the inbox")
        await pilot.press("right_square_bracket", "right_square_bracket")  # pressed at once: one task, two columns
        await until(pilot, lambda: rows(app, "#col-in_progress") == 1, "the card two columns on")
        await settle(pilot)
        tasks = {t.title: t.status for t in store.list_tasks()}
        assert tasks == {"first": "in_progress", "second": "inbox"}
        focused = app.screen.focused
        assert focused.id == "col-in_progress" and focused.selected_key() == first.id
        assert "first" in text_of(app.screen.query_one("#task-detail"))
        assert any("first → In progress" in n.message for n in app._notifications)  # words, not ids
    store.close()


# ------------------------------------------------------------------------------- 4: first poll fails
async def test_a_store_failing_from_the_first_poll(tmp_path: Path) -> None:
    from console.service.wiring import open_store

    bad = tmp_path / "squad.db"
    bad.write_bytes(b"this is not a database" * 200)
    settings = load_settings(_with_store_path(tmp_path, bad), env={})
    app = SquadApp(settings, lambda: open_store(settings.store), clock=Clock(), probe_openclaw=False)
    async with app.run_test(size=(80, 24)) as pilot:
        header = await until(pilot, lambda: app.screen.query(StatusHeader) and app.view is not None
                             and app.screen.query_one(StatusHeader), "the first (failed) poll drawn")
        await pilot.pause()
        text = text_of(header)
        assert "Overview" in text and "STALE" in text and "polled never" in text and "not a readable" in text
        for alert in app.screen.query(".alert"):  # the long path wraps under the alert's text, not at the margin
            assert_wrapped_under_their_indent(alert, str(alert.render()))
        alerts = " ".join(screen_text(app).split())  # as read, whatever the wrapping
        assert "not a readable SQLite database" in alerts and "move the file aside" in alerts
        assert "$ nothing was changed" not in alerts and "fix: nothing was changed" in alerts  # words, not a command
        for _ in range(3):  # polls go on failing: still one toast
            app._poll_again = False
            before = app.view
            app.poll_now()
            await until(pilot, lambda: app.view is not before, "another failed poll")
        toasts = [n for n in app._notifications if "not a readable" in n.message]
        assert len(toasts) == 1
        everything = alerts + text + " ".join(n.message + n.title for n in app._notifications)
        assert "StoreUnavailable" not in everything and "Error:" not in everything
        await pilot.press("2")
        assert "Agents" in text_of(app.screen.query_one(StatusHeader))


def _with_store_path(tmp_path: Path, db: Path) -> Path:
    from tests.test_tui import CONFIG

    path = tmp_path / "squad-bad.toml"
    path.write_text(CONFIG.replace('[store]\n', f'[store]\npath = "{db}"\n', 1))
    return path


# ------------------------------------------------------------------------------- 5: no tick without data
async def test_no_tick_and_no_percentage_without_data(tmp_path: Path) -> None:
    app, store = fresh_app(tmp_path)
    for a in app.settings.agents:  # right after `agents sync`: registered, never beaten
        store.upsert_agent(AgentSpec(a.id, a.name, heartbeat=a.heartbeat))
    async with app.run_test(size=(100, 30)) as pilot:
        await first_poll(pilot)
        criteria = app.screen.query_one("#criteria", SyncedTable)
        assert str(criteria.get_cell("Heartbeat uptime", "mark")) == "…"
        assert str(criteria.get_cell("Heartbeat uptime", "value")) == "no runs yet"
        squad = app.screen.query_one("#squad", SyncedTable)
        assert {str(squad.get_cell(k, "uptime")) for k in ("cestra", "veda", "orin")} == {"no runs yet"}
        assert "%" not in str(criteria.get_cell("Heartbeat uptime", "value"))
        # no workspace on this machine (/srv/openclaw/…): nothing scanned is no tick either
        assert str(criteria.get_cell("Credential encryption", "mark")) == "…"
        assert str(criteria.get_cell("Credential encryption", "value")) == "no workspace found"
    store.close()


# ------------------------------------------------------------------------------- 7: filter like k9s
async def test_the_filter_like_k9s(tmp_path: Path) -> None:
    app = SquadApp(settings_at(tmp_path), seed_store(tmp_path / "squad.db", NOW_MS, orin_fails=True), clock=Clock(),
                   probe_openclaw=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press("2")
        table = app.screen.query_one("#agents", SyncedTable)
        order = list(table._rows_cache)
        await pilot.press("slash", "o", "r", "i", "n", "enter", "3")  # enter keeps the filter and leaves the box
        await until(pilot, lambda: app.current_mode == "heartbeats", "3 to switch screens, not to be typed")
        await pilot.press("2")
        assert app.screen.filter_text == "orin" and table.row_count == 1
        assert "filter: orin" in text_of(app.screen.query_one(StatusHeader))
        await pilot.press("escape")
        await until(pilot, lambda: table.row_count == 3, "esc to clear the filter")
        assert list(table._rows_cache) == order  # the rows in their own order again
        # the overview never says healthy while an alert is only filtered out
        await pilot.press("1", "slash", "c", "e", "s", "t", "r", "a", "enter")
        await until(pilot, lambda: "hidden by the filter" in screen_text(app), "the hidden alert counted")
        assert "healthy" not in screen_text(app)
    app.store.close()


# ------------------------------------------------------------------------------- 3: the overview
async def test_the_overview_groups_a_shared_cause_and_counts_what_is_below(tmp_path: Path) -> None:
    shutil.rmtree(tmp_path / "demo", ignore_errors=True)
    demo = build_demo(tmp_path / "demo", NOW_MS)
    extra = "".join(f'\n[[agents]]\nid = "extra{i}"\nname = "EXTRA{i}"\nheartbeat = "*/15 * * * *"\n'
                    for i in range(4))
    cfg = tmp_path / "demo-plus.toml"
    cfg.write_text(demo.config_path.read_text() + extra)
    settings = load_settings(cfg, env=demo.env)
    store = LocalStore(demo.db_path)
    for i in range(4):  # registered a week ago, never beaten: down, each for its own reason
        store.upsert_agent(AgentSpec(f"extra{i}", f"EXTRA{i}", heartbeat="*/15 * * * *"))
        with store._write() as db:
            db.execute("UPDATE agents SET created_at = ? WHERE agent_id = ?", (NOW_MS - 86_400_000 - i * 60_000,
                                                                             f"extra{i}"))
    app = SquadApp(settings, store, clock=lambda: NOW, env=demo.env, openclaw_runner=None, probe_gateway=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await until(pilot, lambda: app.view.causes, "the OpenClaw diagnosis")
        await poll(pilot)
        alerts = [str(w.render()) for w in app.screen.query(".alert")]
        whatsapp = [a for a in alerts if "WhatsApp logged out" in a]
        assert len(whatsapp) == 1 and "VEDA, ORIN failing" in whatsapp[0]
        assert whatsapp[0].count("openclaw channels login --channel whatsapp") == 1
        more = app.screen.query_one("#alerts-more")
        await until(pilot, lambda: more.display and "more alert" in text_of(more), "the count of alerts below")
        page = app.screen.query_one("#overview")
        assert page.max_scroll_y > 0  # it scrolls
        await pilot.press("end")
        await until(pilot, lambda: not more.display, "nothing below once scrolled down")
    store.close()


# ------------------------------------------------------------------------------- 6: layout
@pytest.mark.parametrize("mode", ["overview", "agents", "heartbeats", "vault", "pipeline", "tasks", "audit"])
async def test_keys_and_quit_always_show_at_80_columns(tmp_path: Path, mode: str) -> None:
    from console.screens import SCREENS

    app = SquadApp(settings_at(tmp_path), seed_store(tmp_path / "squad.db", NOW_MS), clock=Clock(), probe_openclaw=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press(next(s.key for s in SCREENS if s.mode == mode))
        await settle(pilot)
        footer = str(app.screen.query_one("KeyFooter").render())
        assert "? Keys" in footer and "q Quit" in footer and len(footer.rstrip()) <= 80
        assert footer.count("Commands") <= 1 and "^p" not in footer
        await pilot.press("slash")  # while filtering too
        footer = str(app.screen.query_one("KeyFooter").render())
        assert footer.count("Commands") <= 1
        await pilot.press("escape", "question_mark")
        help_text = str(app.screen.query_one("#help-text").render())
        assert "right_square_bracket" not in help_text and "question_mark" not in help_text
    app.store.close()


@pytest.mark.parametrize("size", [(60, 18), (80, 24)])
async def test_the_keys_help_reads_as_columns_with_ids_for_squad_toml(tmp_path: Path, size) -> None:
    """`?`: key, action and the id [keys] in squad.toml takes, under a heading that says so (no bare
    `[screen.overview]`); at 60 columns the id follows its action and a wrapped row stays in its column."""
    from console.screens.help import HelpScreen

    app, store = fresh_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await first_poll(pilot)
        await pilot.press("2", "question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the keys help")
        widget = app.screen.query_one("#help-text")
        await until(pilot, lambda: any("agents.import" in line for line in shown_lines(widget)), "the help drawn")
        await settle(pilot)
        lines = shown_lines(widget)
        assert any("action" in line and "id in squad.toml [keys]" in line for line in lines), lines
        assert not any("[screen." in line or "[agents." in line for line in lines), lines
        rows = lines[lines.index(next(line for line in lines if "id in squad.toml" in line)) + 1:]
        rows = rows[:rows.index("")]
        assert all(line.startswith("  ") for line in rows), rows  # a continuation never at the margin
        sync = next(line for line in rows if "Sync squad.toml" in line)
        assert sync.split()[0] == "s" and "agents.sync" in sync, rows
    store.close()


async def test_a_form_label_longer_than_the_form_wraps(tmp_path: Path) -> None:
    """The audit export's label (where the file goes, never overwritten) is longer than a form at
    80 columns: it wraps instead of being cut at `Relative to the fol`."""
    app, store = fresh_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press("7", "e")
        form = await on_form(pilot)
        label = form.query("Label").first()
        await settle(pilot)
        box = form.query_one("#form").scrollable_content_region
        assert label.region.right <= box.right, (label.region, box)  # nothing drawn past the form's edge
        shown = " ".join(" ".join(shown_lines(label)).split())
        assert "an existing file is never overwritten." in shown, shown_lines(label)
    store.close()


async def test_columns_fit_80_columns_with_an_ellipsis(tmp_path: Path) -> None:
    long = "/srv/openclaw/" + "very-long-folder-name/" * 4 + "workspace-veda"
    extra = f'\n[[agents]]\nid = "nova"\nname = "NOVA"\nworkspace = "{long}"\nheartbeat = "*/15 * * * *"\n'
    store = seed_store(tmp_path / "squad.db", NOW_MS)
    app = SquadApp(settings_at(tmp_path, extra), store, clock=Clock(), probe_openclaw=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one("#agents", SyncedTable)
        widths = {c.key.value: c.width for c in table.columns.values()}
        total = sum(c.get_render_width(table) for c in table.columns.values())
        assert total <= table.scrollable_content_region.width  # nothing off the right edge
        assert widths["id"] == 6 and widths["status"] == len("status")  # whole words, not "ces…" or "faile"
        assert widths["workspace"] < len(long)  # the widest gives way, cut with an ellipsis
        rendered = "".join(s.text for s in table.render_line(2)) + "".join(s.text for s in table.render_line(4))
        assert "…" in rendered
    store.close()


# ------------------------------------------------------------------------------- 8, 9: vault and pipeline detail
async def test_the_vault_versions_modal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from console.screens.vault import VersionsScreen
    from console.service.vault import generate_key
    from console.service.wiring import open_vault

    key = generate_key()
    monkeypatch.setenv("CONVEX_VAULT_KEY", key.hex())
    monkeypatch.setenv("SQUAD_CONSOLE_KEYRING", "off")
    settings = load_settings(_with_store_path(tmp_path, tmp_path / "squad.db"), env={})
    store = LocalStore(tmp_path / "squad.db")
    vault = open_vault(settings, {"CONVEX_VAULT_KEY": key.hex(), "SQUAD_CONSOLE_KEYRING": "off"})
    vault.put("convex-deploy-key", b"prod:demo|one", source="workspace-cestra/.convex-deploy-key")
    vault.put("convex-deploy-key", b"prod:demo|two")
    app = SquadApp(settings, store, clock=Clock(), probe_openclaw=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await until(pilot, lambda: rows(app, "#entries") == 1, "the entry listed")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, VersionsScreen), "the Versions modal")
        text = str(app.screen.query_one("#versions-text").render())
        assert "v2" in text and "v1" in text and "fp:" in text and "prod:demo" not in text
        assert text.count(key.kid) == 2
        await settle(pilot)  # at 80 columns the FROM path does not fit: one record per version, never cut at the margin
        widget = app.screen.query_one("#versions-text")
        assert_wrapped_under_their_indent(widget, str(widget.render()))
        assert any("workspace-cestra/.convex-deploy-key" in line for line in shown_lines(widget))
        await pilot.press("escape")
    store.close()


async def test_the_pipeline_detail_reads_like_pipeline_show(tmp_path: Path) -> None:
    from console.screens.pipeline import OpportunityDetail

    demo = build_demo(tmp_path / "demo", NOW_MS)
    settings = load_settings(demo.config_path, env=demo.env)
    store = LocalStore(demo.db_path)
    churn = next(o for o in store.list_opportunities() if o.title == "Shopify churn-risk alerts")
    signals = {(s["feedUrl"], s["entryKey"]) for s in churn.analysis["signals"]}
    app = SquadApp(settings, store, clock=lambda: NOW, env=demo.env, openclaw_runner=None, probe_gateway=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        app.screen.query_one("#opportunities", SyncedTable).move_to(churn.id)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, OpportunityDetail), "the detail")
        text = str(app.screen.query_one("#opportunity-text").render())
        assert f"from {len(signals)} signals" in text  # distinct signals, not one per rule
        assert "{'" not in text and "( answers)" not in text  # no Python reprs
        assert "RULE" in text and "CRITERION" in text and "Verdict: GO" in text  # the tables fit at 120
        titles = [line for line in text.splitlines() if line.strip().startswith("·")]
        assert len(titles) == len(set(titles)) == len(signals)
    store.close()


def assert_wrapped_under_their_indent(widget, logical: str) -> None:
    """Every line the widget draws at the margin starts one of `logical`'s lines: a wrapped line
    continues indented, never at the margin where it reads as the next item (`-auth-token …`)."""
    starts = [line for line in logical.splitlines() if line.strip()]
    for line in shown_lines(widget):
        if line and not line.startswith(" "):
            assert any(s.startswith(line.strip()) for s in starts), (line, shown_lines(widget))


def shown_lines(widget) -> list[str]:
    """The lines a widget draws, as the terminal shows them (after Textual's own wrapping)."""
    return ["".join(seg.text for seg in widget.render_line(y)).rstrip() for y in range(widget.size.height)]


@pytest.mark.parametrize("size", [(60, 18), (80, 24)])
async def test_the_pipeline_detail_keeps_its_tables_whole_in_a_narrow_modal(tmp_path: Path, size) -> None:
    """At 60×18 and 80×24 the rule table is wider than the modal: each rule becomes one record
    (its figures together) and a long line wraps under its own indent; no fragment of a row
    (`POINTS`, `(cap 2)`) starts a line of its own."""
    from console.screens.pipeline import OpportunityDetail

    demo = build_demo(tmp_path / "demo", NOW_MS)
    settings = load_settings(demo.config_path, env=demo.env)
    store = LocalStore(demo.db_path)
    agency = next(o for o in store.list_opportunities() if o.title == "Agency reporting add-on")
    app = SquadApp(settings, store, clock=lambda: NOW, env=demo.env, openclaw_runner=None, probe_gateway=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        app.screen.query_one("#opportunities", SyncedTable).move_to(agency.id)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, OpportunityDetail), "the detail")
        widget = app.screen.query_one("#opportunity-text")
        await until(pilot, lambda: any("(cap 2)" in line for line in shown_lines(widget)), "the detail drawn")
        await settle(pilot)
        lines = shown_lines(widget)
        starts = ("Agency reporting", "White-label", "Market score", "Survey", "Criteria", "Would be", "esc to close")
        assert all(not line or line.startswith(" ") or line.startswith(starts) for line in lines), lines
        i = next(i for i, line in enumerate(lines) if line.startswith("  competitor activity"))
        record = [lines[i]] + [line for line in lines[i + 1:i + 4] if line.startswith("    ") and "·" not in line]
        flat = " ".join(" ".join(record).split())
        assert "any" in flat and "0.5" in flat and "7" in flat and "2 (cap 2)" in flat, lines
    store.close()


# ------------------------------------------------------------------------------- 10: the demo
def test_a_capped_rule_says_so_so_matched_and_the_signals_add_up(tmp_path: Path) -> None:
    """`pipeline show` (and the detail, which renders the same rows): MATCHED counts every signal
    the rule matched, the signals listed are those that scored; a cap in between is shown."""
    demo = build_demo(tmp_path / "demo", NOW_MS)
    env = {**demo.env, "SQUAD_CONSOLE_CONFIG": str(demo.config_path), "SQUAD_CONSOLE_KEYRING": "off"}
    store = LocalStore(demo.db_path)
    o = next(o for o in store.list_opportunities() if o.title == "Agency reporting add-on")
    store.close()
    code, text = run_cli("pipeline", "show", o.id, env=env)
    assert code == 0 and "(4 signals behind it)" in text, text
    assert "competitor activity  any         (volume)  0.5     7        2 (cap 2)" in text, text


async def test_the_demo_left_open_stays_coherent(tmp_path: Path) -> None:
    demo = build_demo(tmp_path / "demo", NOW_MS)
    settings = load_settings(demo.config_path, env=demo.env)
    store = LocalStore(demo.db_path)
    clock = Clock(NOW)
    app = SquadApp(settings, store, clock=clock, env=demo.env, openclaw_runner=None, probe_gateway=False,
                   demo_story=lambda s, now: continue_story(s, now, settings.agents))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        before = {k: h.status.status for k, h in app.view.health.items()}
        assert before == {"cestra": "up", "veda": "failing", "orin": "failing"}
        revenue = next(c for c in app.view.criteria if c.name == "Revenue workflow")
        decided = sum(1 for _stage, rs in app.view.board for r in rs if r.verdict)
        assert revenue.value == f"{decided} go/no-go decision(s)" and decided == 3
        clock.t += 20 * 60  # left open twenty minutes, then an hour
        await poll(pilot)
        assert {k: h.status.status for k, h in app.view.health.items()} == before
        clock.t += 60 * 60
        await poll(pilot)
        assert {k: h.status.status for k, h in app.view.health.items()} == before
        await pilot.press("5", "f")  # the first key of the Pipeline's footer: the story's feeds stay as they were
        await until(pilot, lambda: any("stand-ins" in n.message for n in app._notifications), "the demo's words on f")
        await poll(pilot)
        assert {h.state for h in app.view.feeds} <= {"ok", "not_modified"}, [h.state for h in app.view.feeds]
    store.close()


def test_the_demo_check_tells_the_overviews_story() -> None:
    """`squad-console --demo check` blames what the demo's overview blames (WhatsApp's logout for
    VEDA and ORIN, Cestra up), not the gateway the demo does not have."""
    code, text = run_cli("--demo", "check", env={})
    assert code == 2, text
    lines = text.splitlines()
    assert next(line for line in lines if line.startswith("cestra")).split()[1] == "UP"
    assert sum(1 for line in lines if line.strip() == "cause: WhatsApp logged out") == 2, text
    assert "gateway" not in text.lower(), text


def test_the_demo_fetch_from_the_cli_skips_the_stand_in_feeds() -> None:
    """`squad-console --demo pipeline fetch` says the demo's feeds are stand-ins (as `f` on the
    screen does) and fails nothing, rather than marking three feeds failed."""
    code, text = run_cli("--demo", "pipeline", "fetch", env={})
    assert code == 0, text
    assert "stand-ins" in text and "failed" not in text, text
    code, text = run_cli("--demo", "pipeline", "feeds", "list", env={})
    assert code == 0 and "failed" not in text.lower(), text


def test_make_run_says_a_down_check_in_words(tmp_path: Path) -> None:
    """`make run ARGS=...` with a check that is merely DOWN ends with the status in words, not
    make's own error (item 12)."""
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "HOME": str(tmp_path), "SQUAD_CONSOLE_KEYRING": "off"}
    done = subprocess.run(["make", "-s", "run", "ARGS=--demo check"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "make: ***" not in done.stderr, done.stderr
    assert "(squad-console exited with status 2)" in done.stdout, done.stdout


# ------------------------------------------------------------------------------- 12: smaller
def test_the_migration_scans_imported_agents_workspaces(tmp_path: Path) -> None:
    from console.service.wiring import open_migration

    demo = build_demo(tmp_path / "demo", NOW_MS)
    settings = load_settings(demo.config_path, env=demo.env)
    store = LocalStore(demo.db_path)
    nova = tmp_path / "workspace-nova"
    nova.mkdir()
    (nova / ".convex-deploy-key").write_text("prod:nova-123|" + "n" * 40 + "\n")
    store.upsert_agent(AgentSpec("nova", "NOVA", workspace=str(nova)))  # imported: not in squad.toml
    plan = open_migration(settings, {"SQUAD_CONSOLE_KEYRING": "off"}, store).plan()
    assert any(str(f.path).startswith(str(nova)) for f in plan.findings)
    store.close()


def run_cli(*argv: str, env: dict[str, str]) -> tuple[int, str]:
    import io

    from console import cli

    import contextlib

    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):  # argparse's --help
            code = cli.main(list(argv), out=out, err=err)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, out.getvalue() + err.getvalue()


def test_the_smaller_cli_points(tmp_path: Path) -> None:
    env = {"SQUAD_CONSOLE_DB": str(tmp_path / "s.db"), "OPENCLAW_STATE_DIR": str(tmp_path / "oc"),
           "SQUAD_CONSOLE_CONFIG": str(_with_store_path(tmp_path, tmp_path / "s.db")), "SQUAD_CONSOLE_KEYRING": "off"}
    code, text = run_cli("agents", "sync", "--dry-run", env=env)
    assert code == 0 and text.count("would register") == 3
    run_cli("agents", "sync", env=env)
    code, text = run_cli("agents", "sync", "--dry-run", env=env)
    assert "would not change" in text and "would update if changed" not in text
    store = LocalStore(tmp_path / "s.db")
    store.upsert_agent(AgentSpec("veda", "VEDA", "market analysis", heartbeat="5-59/15 * * * *"))
    store.upsert_agent(AgentSpec("nova", "NOVA", role="imported"))
    store.close()
    code, text = run_cli("agents", "sync", "--dry-run", env=env)
    assert "veda: would update (heartbeat)" in text
    code, text = run_cli("--text", env=env)
    assert "nova" in text and "1 more in the store" in text  # imported agents are listed too
    code, text = run_cli("check", "--help", env=env)
    assert "3 unknown" in text
    code, text = run_cli("pipeline", "override", "--help", env=env)
    assert "--reason TEXT" in text and "[--reason" not in text  # shown as required
    code, text = run_cli("heartbeat", "crons", "--help", env=env)
    flat = " ".join(text.split())
    assert "cron edit" in flat and "Exit 0 when every agent's job is there and matches, 1 otherwise" in flat
    assert "staggered" not in flat  # OpenClaw's stagger is what the commands avoid (--exact), not what they give
    code, text = run_cli("tasks", "add", "x", "--assign", "VEDA, Orin", env=env)
    assert code == 0 and "assigned" in text


async def test_a_palette_action_runs_on_its_screen(tmp_path: Path) -> None:
    from tests.test_tui import palette_ready

    app, store = fresh_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_poll(pilot)
        await pilot.press("colon")
        await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "the palette")
        await type_text(pilot, "add feed")
        await until(pilot, lambda: palette_ready(app, "add feed"), "the palette's match")
        await pilot.press("enter")
        form = await on_form(pilot)  # on the Pipeline screen, whatever had focus there
        assert app.current_mode == "pipeline" and "Watch a feed" in form.form_title
        await pilot.press("escape")
        await pilot.press("colon")
        await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "the palette again")
        await type_text(pilot, "sync")
        await until(pilot, lambda: palette_ready(app, "sync"), "the palette's match for sync")
        await pilot.press("enter")
        await until(pilot, lambda: len(store.list_agents()) == 3, "the agents synced from the palette")
        assert app.current_mode == "agents"
    store.close()
