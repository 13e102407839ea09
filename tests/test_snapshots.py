"""A few SVG snapshots of the console on the demo squad at a fixed time (80×24 and 120×40).
Review the HTML report before `--snapshot-update`."""

from __future__ import annotations

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


@pytest.fixture
def demo_app():
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


def test_overview_80x24(snap_compare, demo_app) -> None:
    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=_settle)


def test_heartbeats_80x24(snap_compare, demo_app) -> None:
    async def go(pilot) -> None:
        await _settle(pilot)
        await pilot.press("3", "down")
        await settle(pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=go)


def test_heartbeats_120x40(snap_compare, demo_app) -> None:
    async def go(pilot) -> None:
        await _settle(pilot)
        await pilot.press("3", "down")
        await settle(pilot)

    assert snap_compare(demo_app, terminal_size=(120, 40), run_before=go)


def test_agents_120x40(snap_compare, demo_app) -> None:
    async def go(pilot) -> None:
        await _settle(pilot)
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(demo_app, terminal_size=(120, 40), run_before=go)
