"""The migration wizard driven end to end by Pilot (and once in tmux), on a fixture workspace
built like an OpenClaw one: workspace-cestra holding .convex-deploy-key, .convex-auth-token, a
HEARTBEAT.md and a script that reads the key file. Afterwards the script reads the key through
the vault, and no plaintext credential is left."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from console.app import SquadApp
from console.config import load_settings
from console.service.demo import build_demo
from console.screens.vault import MigrationWizard, VaultScreen
from console.service.store.sqlite import LocalStore
from console.service.vault import generate_key
from tests.waiting import settle, until
from widgets.tables import SyncedTable

NOW_MS = 1_764_000_000_000.0


@pytest.fixture
def squad(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    demo = build_demo(tmp_path / "demo", NOW_MS)
    key = generate_key()
    monkeypatch.setenv("CONVEX_VAULT_KEY", key.hex())
    monkeypatch.setenv("SQUAD_CONSOLE_KEYRING", "off")
    settings = load_settings(demo.config_path, env=demo.env)
    cestra = Path(settings.agents[0].workspace)
    return demo, settings, cestra, key


def run_script(cestra: Path, tmp_path: Path, env: dict[str, str]) -> str:
    """Run the workspace's report script with a stub `npx` that prints the key it was given."""
    stub = tmp_path / "stub-bin"
    stub.mkdir(exist_ok=True)
    npx = stub / "npx"
    npx.write_text('#!/bin/sh\necho "key=$CONVEX_DEPLOY_KEY"\n')
    npx.chmod(npx.stat().st_mode | stat.S_IEXEC)
    path = f"{stub}:{Path(sys.executable).parent}:/usr/bin:/bin"
    p = subprocess.run(["sh", str(cestra / "scripts" / "report.sh")], capture_output=True, text=True,
                       env={**os.environ, **env, "PATH": path}, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


async def test_the_wizard_end_to_end(squad, tmp_path: Path) -> None:
    demo, settings, cestra, key = squad
    secret = (cestra / ".convex-deploy-key").read_text().strip()
    before = run_script(cestra, tmp_path, demo.env)
    assert before == f"key={secret}"

    store = LocalStore(demo.db_path)
    app = SquadApp(settings, store, clock=lambda: NOW_MS / 1000, env={**os.environ, **demo.env},
                   openclaw_runner=None, probe_gateway=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        assert isinstance(app.screen, VaultScreen)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, MigrationWizard)

        async def page() -> str:
            await settle(pilot)
            return str(app.screen.query_one("#wizard-text").render())

        text = await page()
        assert "Scan the workspaces" in text and ".convex-deploy-key" in text and secret not in text
        seen = []
        for _ in range(12):
            step = app.screen.migration.next_step()
            if step is None:
                break
            seen.append(step.id)
            if step.id == "workflows":  # the diff is read with the keys alone: no tab to reach it
                body = app.screen.query_one("#wizard-body")
                if body.max_scroll_y:
                    await pilot.press("pagedown")
                    await until(pilot, lambda: body.scroll_y > 0, "pgdn to scroll the diff")
            if step.destructive and step.confirm:
                await pilot.press("enter")  # without the phrase: refused
                await until(pilot, lambda: "type exactly" in str(app.screen.query_one("#wizard-hint").render()),
                            "the wizard to ask for the phrase")
                assert app.screen.migration.next_step().id == step.id
                for ch in step.confirm:
                    await pilot.press("space" if ch == " " else ch)
            await pilot.press("enter")
            text = await page()
            assert secret not in text
        assert seen == ["scan", "key", "convex", "encrypt", "verify", "workflows", "remove", "openclaw"]
        assert "Migration report" in text and "convex-deploy-key" in text
        footer = str(app.screen.query_one("KeyFooter").render())
        assert "Run this step" not in footer and "Close" in footer  # finished: enter closes
        assert "resume later" not in footer  # nothing is left to resume
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, VaultScreen), "enter to close the finished wizard")
        await settle(pilot)
        entries = app.screen.query_one("#entries", SyncedTable)
        assert "convex-deploy-key" in entries._rows_cache and "convex-auth-token" in entries._rows_cache
        assert "workspace-cestra/scripts/report.sh" in str(entries.get_cell("convex-deploy-key", "used"))
    store.close()

    assert not (cestra / ".convex-deploy-key").exists() and not (cestra / ".convex-auth-token").exists()
    script = (cestra / "scripts" / "report.sh").read_text()
    assert "vault exec --env CONVEX_DEPLOY_KEY=convex-deploy-key -- npx" in script and ".convex-deploy-key)" not in script
    after = run_script(cestra, tmp_path, {**demo.env, "CONVEX_VAULT_KEY": key.hex(), "SQUAD_CONSOLE_KEYRING": "off"})
    assert after == before  # the same key, now from the vault
    acts = LocalStore(demo.db_path).list_activities(200)
    assert any(a.type.startswith("vault") or a.type.startswith("migration") for a in acts)
    assert all(secret not in (a.message + str(a.detail)) for a in acts)


async def test_the_wizard_resumes_after_a_restart(squad) -> None:
    demo, settings, cestra, key = squad
    store = LocalStore(demo.db_path)

    def make_app() -> SquadApp:
        return SquadApp(settings, store, clock=lambda: NOW_MS / 1000, env={**os.environ, **demo.env},
                        openclaw_runner=None, probe_gateway=False)

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.action_migrate()
        await settle(pilot)
        for _ in range(2):  # scan, key
            await pilot.press("enter")
            await settle(pilot)
        assert app.screen.migration.next_step().id == "convex"
    app = make_app()  # the console was closed and opened again
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.action_migrate()
        await settle(pilot)
        assert app.screen.migration.next_step().id == "convex"
        assert "step 3/8" in str(app.screen.query_one("#wizard-title").render())
    store.close()
    assert (cestra / ".convex-deploy-key").exists()  # nothing removed before its step


async def test_no_key_says_how_to_give_one(squad, monkeypatch: pytest.MonkeyPatch) -> None:
    demo, settings, cestra, key = squad
    monkeypatch.delenv("CONVEX_VAULT_KEY")
    store = LocalStore(demo.db_path)
    env = {k: v for k, v in os.environ.items() if k != "CONVEX_VAULT_KEY"}
    app = SquadApp(settings, store, clock=lambda: NOW_MS / 1000, env={**env, **demo.env},
                   openclaw_runner=None, probe_gateway=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.action_migrate()
        await settle(pilot)
        await pilot.press("enter")  # scan works without a key
        await settle(pilot)
        await pilot.press("enter")  # the key step fails, in words
        await settle(pilot)
        text = str(app.screen.query_one("#wizard-text").render())
        assert "CONVEX_VAULT_KEY" in text and "vault init" in text
    store.close()
    assert (cestra / ".convex-deploy-key").exists()


async def test_the_wizard_moves_openclaws_plaintext_value_by_value(squad, tmp_path: Path, monkeypatch) -> None:
    """OpenClaw's findings beside the workspace's files: 1-9 leave a value as it is, the openclaw
    step (typed phrase) points openclaw.json at the vault for the others (a scripted
    `openclaw secrets`, tests/test_openclaw_secrets.py; the real one: test_openclaw_secrets_real.py)."""
    import json

    from console.service import wiring
    from console.service.vault import openclaw_secrets as O
    from tests.test_openclaw_secrets import ALIAS, API_KEY, BOT_TOKEN, PROVIDER, FakeOpenClaw

    demo, settings, cestra, key = squad
    config = tmp_path / "oc" / "openclaw.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"gateway": {"mode": "local", "port": 1},
                                  "models": {"providers": {"openai": {"apiKey": API_KEY}}},
                                  "channels": {"telegram": {"botToken": BOT_TOKEN}}}))
    fake = FakeOpenClaw(config)
    monkeypatch.setattr(wiring, "open_openclaw_secrets",
                        lambda s, e=None: O.OpenClawSecrets(fake, config, alias=ALIAS, provider=lambda: PROVIDER))
    store = LocalStore(demo.db_path)
    app = SquadApp(settings, store, clock=lambda: NOW_MS / 1000, env={**os.environ, **demo.env},
                   openclaw_runner=None, probe_gateway=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, MigrationWizard) and app.screen.plan is not None,
                    "the wizard's plan")

        def text() -> str:
            return str(app.screen.query_one("#wizard-text").render())

        await until(pilot, lambda: "OpenClaw's own config" in text(), "OpenClaw's findings on the scan page")
        assert "1 [move ]" in text() and "models.providers.openai.apiKey" in text() and "2 [move ]" in text()
        await pilot.press("2")  # leave the Telegram token as it is
        await until(pilot, lambda: "2 [leave]" in text(), "the choice shown")
        for _ in range(12):
            step = app.screen.migration.next_step()
            if step is None:
                break
            if step.destructive and step.confirm:
                for ch in step.confirm:
                    await pilot.press("space" if ch == " " else ch)
            await pilot.press("enter")
            await until(pilot, lambda: not app.screen.busy, f"the step {step.id} to run")
            await settle(pilot)
            assert API_KEY not in text() and BOT_TOKEN not in text()
        assert "Migration report" in text()
        assert "channels.telegram.botToken: not chosen" in text()
    store.close()
    cfg = json.loads(config.read_text())
    assert cfg["models"]["providers"]["openai"]["apiKey"]["provider"] == ALIAS
    assert cfg["channels"]["telegram"]["botToken"] == BOT_TOKEN
    acts = LocalStore(demo.db_path).list_activities(500)
    assert all(API_KEY not in a.message + str(a.detail) for a in acts)
