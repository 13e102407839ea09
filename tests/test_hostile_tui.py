"""Outside text on every screen, modal and toast of the console: shown literally, never markup,
never an escape to the terminal, never the end of the session (issue 12).

Agents' names and roles (squad.toml and the store), task titles and descriptions, heartbeat errors,
activity messages, feed competitors and entry titles, opportunity titles: each holds markup
(`[/api/login]`, `[bold red]X[/]`, `[@click=app.quit]Q[/]`), terminal escapes (OSC 52, OSC 0, an
8-bit CSI), a bidirectional override, control characters and wide text. Pilot visits screens 1-7,
their detail modals and a toast; every rendered widget's text is then searched."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings as hsettings, strategies as st
from rich.text import Text
from textual.widgets import DataTable, Static

from console.app import SquadApp
from console.config import load_settings
from console.service.models import AgentSpec, FeedState, HeartbeatIn, SignalIn
from console.service.store.sqlite import LocalStore
from console.text import visible_same_length
from widgets.format import safe

NOW = 1_764_000_000.0  # 2025-11-24 16:00 UTC, seconds

MARKUP = ["Fix [/api/login] 500s", "[bold red]X[/]", "[@click=app.quit]Q[/]"]
ESCAPES = ["x \x1b]52;c;UFdORUQ=\x1b\\", "\x1b]0;owned\x07", "\x9b31m", "evil\u202egnp.exe", "bell\x07\x08\x7f"]
WIDE = ["修正 " * 30 + "🚀" * 10]


def raw_controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0
            or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069]


def toml_string(s: str) -> str:
    return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F or c in '"\\' else c for c in s) + '"'


def build(tmp_path: Path, texts: list[str]) -> tuple[SquadApp, LocalStore]:
    t = (texts * 8)[:8]
    config = tmp_path / "squad.toml"
    config.write_text(
        '[store]\npoll_interval = "0.5s"\npoll_interval_idle = "1s"\n[openclaw]\nstate_dir = "/nonexistent/openclaw"\n'
        f'[[agents]]\nid = "veda"\nname = {toml_string(t[0])}\nrole = {toml_string(t[1])}\n'
        'workspace = "/nonexistent/ws-veda"\nheartbeat = "2-59/15 * * * *"\n'
        f'[[agents]]\nid = "orin"\nname = "ORIN"\nrole = {toml_string(t[2])}\n'
        'workspace = "/nonexistent/ws-orin"\nheartbeat = "4-59/15 * * * *"\n')
    settings = load_settings(config, env={})
    store = LocalStore(tmp_path / "squad.db")
    now_ms = NOW * 1000
    veda, _, _ = store.upsert_agent(AgentSpec("veda", t[0], role=t[1], heartbeat="2-59/15 * * * *"))
    store.upsert_agent(AgentSpec("orin", "ORIN", role=t[2], heartbeat="4-59/15 * * * *"))
    store.record_heartbeat(HeartbeatIn("veda", now_ms - 60_000, source="push", run_id="r1", outcome="error", error=t[3]))
    store.record_heartbeat(HeartbeatIn("orin", now_ms - 120_000, source="push", run_id="r2"))
    task = store.create_task(t[4], t[5], assignee_ids=[veda.id])
    store.create_task(t[6])
    store.send_message(task.id, veda.id, t[7])
    store.log_activity("note", t[0] + " " + t[3], agent_id="veda", actor="veda", detail={"why": t[5]})
    feed = store.add_feed("http://127.0.0.1:9/feed.xml", t[1])
    store.record_fetch(feed.url, FeedState(last_fetched_at=now_ms, last_status=200, outcome="ok", health=t[2]),
                       [SignalIn(feed.url, "e1", t[4], t[1], link="http://127.0.0.1:9/1", summary=t[5])])
    store.create_opportunity(t[6], t[7])
    app = SquadApp(settings, store, clock=lambda: NOW, probe_openclaw=False)
    return app, store


def rendered(app: SquadApp) -> str:
    """The text of every Static and every DataTable cell on the current screen and its modals."""
    parts: list[str] = []
    for widget in app.screen.walk_children():
        if isinstance(widget, DataTable):
            for row in range(widget.row_count):
                parts.extend(str(c) for c in widget.get_row_at(row))
        elif isinstance(widget, Static):
            visual = widget.render()
            parts.append(visual.plain if isinstance(visual, Text) else str(visual))
    for toast in app._notifications:
        parts.append(toast.message)
    return "\n".join(parts)


async def visit_everything(app: SquadApp, texts: list[str]) -> str:
    seen: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)
        app.notify(texts[0], title=texts[1])  # a toast with outside words in it
        for key in "1234567":
            await pilot.press(key)
            await pilot.pause(0.05)
            seen.append(rendered(app))
            await pilot.press("enter")  # the row's detail, where the screen has one
            await pilot.pause(0.05)
            seen.append(rendered(app))
            await pilot.press("escape")
            await pilot.pause(0.05)
        await pilot.press("2")
        await pilot.press("question_mark")
        await pilot.pause(0.05)
        seen.append(rendered(app))
        assert app.is_running  # nothing ended the session
    return "\n".join(seen)


async def test_markup_and_escapes_everywhere_are_shown_as_text(tmp_path: Path) -> None:
    texts = MARKUP + ESCAPES
    app, store = build(tmp_path, texts)
    shown = await visit_everything(app, texts)
    assert raw_controls(shown) == []
    for s in MARKUP:
        assert s in shown, s  # literally: markup would have swallowed the brackets
    assert "␛]52;c;UFdORUQ=␛\\" in shown and "␛]0;owned␇" in shown
    store.close()


async def test_a_hostile_task_title_on_the_board_and_in_its_detail(tmp_path: Path) -> None:
    app, store = build(tmp_path, ["Fix [/api/login] 500s"])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        await pilot.press("6")
        await pilot.pause(0.1)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert "Fix [/api/login] 500s" in rendered(app)
        assert app.is_running
    store.close()


# each example is a whole console session (about 2 s): few of them, the same ones every run (a CI run
# must not fail on a new draw), and no shrinking (a failure prints its example as drawn)
@hsettings(max_examples=6, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and "\x00" not in s), min_size=3, max_size=8))
def test_any_text_survives_every_screen(tmp_path_factory, texts: list[str]) -> None:
    import asyncio

    tmp_path = tmp_path_factory.mktemp("hostile")
    app, store = build(tmp_path, texts)
    shown = asyncio.run(visit_everything(app, texts))
    assert raw_controls(shown) == []
    store.close()


def test_safe_keeps_styles_in_place() -> None:
    t = Text("ok ")
    t.append("\x1b]0;x\x07", style="red")  # Rich itself drops BEL, keeps ESC
    t.append(" end", style="bold")
    s = safe(t)
    assert s.plain == "ok ␛]0;x end" and [(sp.start, sp.end, sp.style) for sp in s.spans] == \
        [(sp.start, sp.end, sp.style) for sp in t.spans]
    assert safe("[b]x[/b]").plain == "[b]x[/b]" and visible_same_length("\x9b") == "\ufffd"


async def test_a_task_is_removed_from_the_board_after_a_typed_yes(tmp_path: Path) -> None:
    from console.screens.tasks import TaskForm
    from tests.waiting import first_poll, until
    from widgets.tables import SyncedTable

    app, store = build(tmp_path, ["Fix [/api/login] 500s"])
    async with app.run_test(size=(120, 40)) as pilot:
        await first_poll(pilot)
        await pilot.press("6")
        inbox = app.screen.query_one("#col-inbox", SyncedTable)
        await until(pilot, lambda: inbox.row_count == 2, "the two inbox tasks on the board")
        inbox.focus()
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, TaskForm), "the confirmation")
        assert "Remove: Fix [/api/login] 500s" in rendered(app)
        form = app.screen
        await pilot.press("n", "o", "enter")  # anything but yes: nothing removed, the form says why
        await until(pilot, lambda: "type yes" in str(form.query_one("#error-confirm").render()), "the refusal")
        assert len(store.list_tasks()) == 2 and app.screen is form
        await pilot.press("backspace", "backspace", "y", "e", "s", "enter")
        await until(pilot, lambda: inbox.row_count == 1, "the task gone from the board")
        assert [t.title for t in store.list_tasks()] == ["Fix [/api/login] 500s"]  # the other one stays
        assert store.list_activities(1)[0].type == "task_removed"
    store.close()
