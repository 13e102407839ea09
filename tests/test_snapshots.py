"""A few SVG snapshots of the console on the demo squad at a fixed time (80×24 and 120×40).
Review the HTML report before `--snapshot-update`."""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest

from console.app import SquadApp
from console.config import load_settings
from console.service.demo import build_demo
from console.service.store.sqlite import LocalStore
from tests.waiting import settle

NOW_MS = 1_764_000_000_000.0  # a fixed instant: every age, slot and uptime on screen is stable
ROOT = Path("/tmp/squad-console-snapshot-demo")  # a fixed path: the header shows the store's path
# One xdist group (one worker runs them all, one after the other); the lock keeps two test runs
# on the same machine (two checkouts, two pytest sessions) from building the demo there at once.
LOCK = Path("/tmp/squad-console-snapshot-demo.lock")
pytestmark = pytest.mark.xdist_group("snapshots")


@pytest.fixture
def demo_app():
    with LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if the test fails
        shutil.rmtree(ROOT, ignore_errors=True)
        demo = build_demo(ROOT, NOW_MS)
        settings = load_settings(demo.config_path, env=demo.env)
        store = LocalStore(demo.db_path)
        app = SquadApp(settings, store, clock=lambda: NOW_MS / 1000, env=demo.env, openclaw_runner=None,
                       probe_gateway=False)
        yield app
        store.close()
        shutil.rmtree(ROOT, ignore_errors=True)


async def _settle(pilot) -> None:
    """The first poll drawn and nothing left running: the screen the snapshot takes is final."""
    await settle(pilot)


SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
@pytest.mark.parametrize("key", ["1", "2", "3", "4", "5", "6", "7"],
                         ids=["overview", "agents", "heartbeats", "vault", "pipeline", "tasks", "audit"])
def test_every_screen(snap_compare, demo_app, key: str, size: tuple[int, int]) -> None:
    """Every screen of the demo at the smallest supported terminal and a common large one: a layout
    regression (a column off the edge, `q Quit` off the footer, a cut title) fails here."""
    async def go(pilot) -> None:
        await _settle(pilot)
        await pilot.press(key)
        await settle(pilot)

    assert snap_compare(demo_app, terminal_size=size, run_before=go)


def test_heartbeats_row_80x24(snap_compare, demo_app) -> None:
    async def go(pilot) -> None:
        await _settle(pilot)
        await pilot.press("3", "down")
        await settle(pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=go)


def test_new_task_form_80x24(snap_compare, demo_app) -> None:
    async def go(pilot) -> None:
        await _settle(pilot)
        await pilot.press("6", "n")
        await settle(pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=go)


def test_survey_form_80x24(snap_compare, demo_app) -> None:
    """ORIN's survey form on a 24-row screen: it scrolls, it does not run off the screen."""
    async def go(pilot) -> None:
        await _settle(pilot)
        await pilot.press("5", "s")
        await settle(pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=go)


def test_pipeline_detail_80x24(snap_compare, demo_app) -> None:
    """The first opportunity's detail in the modal at 80 columns: the rule table, too wide there,
    one record per rule; signals and the criteria wrapped under their own indent."""
    async def go(pilot) -> None:
        await _settle(pilot)
        await pilot.press("5", "enter")
        await settle(pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=go)


def test_keys_help_80x24(snap_compare, demo_app) -> None:
    """`?` on the Agents screen: key, action and the id for [keys] in squad.toml, in columns."""
    async def go(pilot) -> None:
        await _settle(pilot)
        await pilot.press("2", "question_mark")
        await settle(pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=go)
