"""The Pipeline screen driven by Pilot: opportunities by stage with their scores, advance, decide,
an override refused without a reason and audited with one, the detail with the criteria table,
a survey answer entered on screen, and per-feed health."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import SquadApp
from console.config import load_settings
from console.screens.pipeline import OpportunityDetail, PipelineScreen
from console.screens.tasks import TaskForm
from console.service.store.sqlite import LocalStore
from console.service.pipeline import pipeline_for
from tests.waiting import settle  # the first poll, then until everything a key started has finished
from widgets.tables import SyncedTable

NOW = 1_764_000_000.0


@pytest.fixture
def app(tmp_path: Path):
    (tmp_path / "squad.toml").write_text('[openclaw]\nstate_dir = "/nonexistent"\n')
    settings = load_settings(tmp_path / "squad.toml", env={})
    store = LocalStore(tmp_path / "squad.db")
    p = pipeline_for(store, settings)
    opp = p.create_opportunity("Shopify churn-risk alerts", "for small stores")
    for i in range(3):
        p.add_response(opp.id, f"founder-{i}", {"pain": 5, "frequency": 4, "urgency": 4, "would_pay": 4,
                                                 "has_budget": "yes"})
    p.add_feed("http://127.0.0.1:9/feed.xml", "Acme")
    yield SquadApp(settings, store, clock=lambda: NOW, probe_openclaw=False), store, opp
    store.close()


async def test_the_pipeline_screen(app) -> None:
    app, store, opp = app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        assert isinstance(app.screen, PipelineScreen)
        table = app.screen.query_one("#opportunities", SyncedTable)
        assert str(table.get_cell(opp.id, "stage")) == "analysis"
        assert str(table.get_cell(opp.id, "validation")).endswith("(3)")
        feeds = app.screen.query_one("#feeds", SyncedTable)
        assert feeds.row_count == 1 and str(feeds.get_cell("http://127.0.0.1:9/feed.xml", "competitor")) == "Acme"

        await pilot.press("a")
        await settle(pilot)
        assert str(table.get_cell(opp.id, "stage")) == "validation"
        await pilot.press("a")
        await settle(pilot)
        assert str(table.get_cell(opp.id, "stage")) == "decision"
        await pilot.press("d")
        await settle(pilot)
        decided = store.get_opportunity(opp.id) if hasattr(store, "get_opportunity") else \
            next(o for o in store.list_opportunities() if o.id == opp.id)
        verdict = decided.decision["verdict"]
        assert verdict in ("go", "no_go", "more_data")
        assert str(table.get_cell(opp.id, "verdict")).lower().startswith(verdict.replace("_", "_"))

        # an override without a reason is refused: the form stays open, the error beside the
        # reason, the verdict picked still ticked (issue 15: forms keep what was typed)
        await pilot.press("o")
        assert isinstance(app.screen, TaskForm)
        other = "go" if verdict != "go" else "no_go"
        form = app.screen
        await pilot.press(*(["down"] if other == "no_go" else []), "space", "enter", "enter")  # tick, reason, save
        await settle(pilot)
        again = next(o for o in store.list_opportunities() if o.id == opp.id)
        assert again.decision["verdict"] == verdict and not again.decision.get("override")
        assert app.screen is form
        assert "needs a reason" in str(form.query_one("#error-reason").render())
        assert form.values()["verdict"] == [other]
        # with a reason it is recorded, and audited
        await pilot.press(*"pilot study", "enter")
        await settle(pilot)
        final = next(o for o in store.list_opportunities() if o.id == opp.id)
        assert final.decision["verdict"] == other and final.decision["override"]["reason"] == "pilot study"
        overrides = [a for a in store.list_activities(50) if a.type == "decision_overridden"]
        assert overrides and "pilot study" in (overrides[0].message + str(overrides[0].detail))

        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, OpportunityDetail)
        text = str(app.screen.query_one("Static").render())
        assert "Criteria" in text and "respondents" in text and "market score" in text
        await pilot.press("escape")


async def test_a_survey_answer_entered_on_screen(app) -> None:
    app, store, opp = app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("s")
        assert isinstance(app.screen, TaskForm)
        for value in ("founder-9", "4", "3", "5", "2", "no", "too pricey"):  # pressed quickly: one field each
            await pilot.press(*[c if c != " " else "space" for c in value], "enter")
        await settle(pilot)
        o = next(x for x in store.list_opportunities() if x.id == opp.id)
        assert o.survey["respondents"] == 4
        table = app.screen.query_one("#opportunities", SyncedTable)
        assert str(table.get_cell(opp.id, "validation")).endswith("(4)")


async def test_fetch_from_the_screen_says_what_it_did(app) -> None:
    """`f` fetches the feeds; its toast is the report's summary (once a bound method, whose `<`
    and `[` reached the toast as markup and ended the session)."""
    app, store, _ = app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any("1 feed in" in m and "failed" in m for m in messages), messages
        assert not [m for m in messages if "bound method" in m]
        assert app.is_running
