"""One fingerprint scheme everywhere (issue 15, item 8): the same value shows the same
fingerprint in the migration's scan (CLI dry run and wizard), `vault list`, the vault screen's
Versions modal and the redaction markers; before there is a vault key none is shown; a journal
begun without a key, or written by an older console (version 1, a salt of its own), resumes and
takes the vault's fingerprints."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from console.app import SquadApp
from console.config import load_settings
from console.service import vault as V
from console.service.demo import build_demo
from console.service.store.sqlite import LocalStore
from console.service.vault import migration as M
from console.service.vault.crypto import fingerprint, fingerprint_key, value_fingerprint
from tests.test_migration import DEPLOY_KEY, World, confirm_all
from tests.test_operator import type_text
from tests.test_vault_cli import KEY_HEX, Run, env, sc  # noqa: F401 - fixtures
from tests.waiting import settle, until

NOW_MS = 1_764_000_000_000.0


def fps(text: str) -> set[str]:
    return set(re.findall(r"fp:[0-9a-f]{12}", text))


def test_scan_vault_list_and_markers_show_the_same_fingerprint(env: dict[str, str], sc: Run,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    key = V.parse_key(KEY_HEX)
    cestra = Path(env["_cestra"])
    file_fp = value_fingerprint(key, (cestra / ".convex-deploy-key").read_bytes())
    inline_fp = value_fingerprint(key, DEPLOY_KEY.encode())
    # no key yet: the dry run shows no fingerprint at all (none that `vault list` would not show)
    monkeypatch.delenv("CONVEX_VAULT_KEY")
    code, out, _ = sc("vault", "migrate", "--dry-run")
    assert code == 0 and fps(out) == set() and "<redacted>" in out
    assert "the fingerprints appear once there is a key" in out
    monkeypatch.setenv("CONVEX_VAULT_KEY", KEY_HEX)
    code, dry, _ = sc("vault", "migrate", "--dry-run")
    assert code == 0 and file_fp in dry and f"<redacted {inline_fp}>" in dry  # the scan and the marker
    code, out, _ = sc("vault", "migrate", "--yes")
    assert f"<redacted {inline_fp}>" not in out  # nothing to redact in the run's words, but:
    code, listed, _ = sc("vault", "list")
    assert code == 0 and file_fp in listed  # `vault list` shows the scan's fingerprint
    sc("vault", "put", "bare-key", stdin=DEPLOY_KEY.encode())
    code, listed, _ = sc("vault", "list")
    assert inline_fp in listed  # the same bytes as the inline key: the marker's fingerprint
    journal = json.loads((Path(env["SQUAD_CONSOLE_DB"]).parent / "migration.json").read_text())
    assert journal["version"] == 2 and journal["fp"] == {"kid": key.kid} and "salt" not in journal
    assert file_fp in {f["fingerprint"] for f in journal["findings"]}


def _as_v1(w: World, salt: bytes) -> None:
    """The journal as an older console (JOURNAL_VERSION 1) wrote it: a "salt" of its own, each
    fingerprint made with it."""
    path = w.data / "migration.json"
    j = json.loads(path.read_text())
    m = w.migration()
    vault_fp = fingerprint_key(w.key)
    for f in j["findings"]:
        if f.get("fingerprint"):
            value = m._recover(f, vault_fp)
            assert value is not None
            f["fingerprint"] = fingerprint(value, salt)
            if "strippedFp" in f:
                f["strippedFp"] = fingerprint(m._as_secret(value), salt)
    j.pop("fp")
    j.update(version=1, salt=salt.hex())
    path.write_text(json.dumps(j))


@pytest.mark.parametrize("stop_after", ["scan", "verify", "workflows"])
def test_a_journal_written_by_an_older_console_resumes(tmp_path: Path, stop_after: str) -> None:
    w = World(tmp_path, V.parse_key(KEY_HEX))
    m = w.migration()
    for step in M.STEP_ORDER[:M.STEP_ORDER.index(stop_after) + 1]:
        assert m.run_step(step, confirm=M.CONFIRM.get(step)).status in ("done", "skipped")
    _as_v1(w, os.urandom(16))
    resumed = w.migration()
    assert resumed.next_step().id == M.STEP_ORDER[M.STEP_ORDER.index(stop_after) + 1]
    results = resumed.run_all(confirm_all)
    assert all(r.status in ("done", "skipped") for r in results), results
    report = resumed.report()
    assert report.done and w.plaintext_left() == [] and w.recoverable() == []
    assert len(report.removed) == 4 and len(report.rewritten) == 1  # nothing found twice, nothing lost
    j = json.loads((w.data / "migration.json").read_text())
    assert j["version"] == 2 and j["fp"] == {"kid": w.key.kid} and "salt" not in j
    listed = {v.fingerprint for e in V.Vault(w.data / "vault.json", key=w.key).entries() for v in e.versions}
    shown = {f.fingerprint for f in resumed.findings() if f.action == "migrate"}
    assert shown and shown <= listed  # the findings show what `vault list` shows
    w.store.close()


def test_a_journal_begun_with_a_key_needs_that_key(tmp_path: Path) -> None:
    w = World(tmp_path, V.parse_key(KEY_HEX))
    w.migration().run_step("scan")
    other = M.Migration(w.fx["workspaces"], w.store, V.Vault(w.data / "vault.json", key=V.parse_key("b2" * 32)))
    with pytest.raises(M.MigrationError, match="written with the vault key .* the key given is"):
        other.plan()
    nokey = M.Migration(w.fx["workspaces"], w.store,
                        V.Vault(w.data / "vault.json", key_provider=lambda: V.find_key({"SQUAD_CONSOLE_KEYRING": "off"})))
    with pytest.raises(M.MigrationError, match="there is no vault key here"):
        nokey.plan()
    w.store.close()


async def test_the_wizard_and_the_vault_screen_show_the_fingerprint_vault_list_shows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration begun without a key (scan), the key made at step 2: from then on the wizard
    shows the vault's fingerprints, the same the Versions modal shows."""
    from console.screens.vault import MigrationWizard, VersionsScreen, VaultScreen

    monkeypatch.delenv("CONVEX_VAULT_KEY", raising=False)
    monkeypatch.setenv("SQUAD_CONSOLE_KEYRING", "off")
    demo = build_demo(tmp_path / "demo", NOW_MS)
    settings = load_settings(demo.config_path, env=demo.env)
    cestra = Path(settings.agents[0].workspace)
    value = (cestra / ".convex-deploy-key").read_bytes()
    store = LocalStore(demo.db_path)
    env = {k: v for k, v in {**os.environ, **demo.env}.items() if k != "CONVEX_VAULT_KEY"}
    app = SquadApp(settings, store, clock=lambda: NOW_MS / 1000, env=env, openclaw_runner=None, probe_gateway=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4", "m")
        await settle(pilot)
        wizard = app.screen
        assert isinstance(wizard, MigrationWizard)
        page = str(wizard.query_one("#wizard-text").render())
        assert "no fingerprint before the vault key" in page and not fps(page)
        await pilot.press("enter")  # scan, without a key
        await settle(pilot)
        await pilot.press("g")
        await until(pilot, lambda: wizard.new_key is not None, "the key made")
        key = wizard.new_key.key
        expected = value_fingerprint(key, value)
        await type_text(pilot, "I have a copy")
        await pilot.press("enter")  # the key step runs
        await until(pilot, lambda: [s.status for s in wizard.migration.steps() if s.id == "key"] == ["done"],
                    "the key step done")
        await until(pilot, lambda: expected in str(wizard.query_one("#wizard-text").render())
                    or wizard.migration.next_step().id not in ("encrypt", "verify"),
                    "the page to show the vault's fingerprints")
        for _ in range(8):
            step = wizard.migration.next_step()
            if step is None:
                break
            if step.id == "encrypt":
                assert expected in str(wizard.query_one("#wizard-text").render())
            if step.destructive and step.confirm:
                await type_text(pilot, step.confirm)
            await pilot.press("enter")
            await settle(pilot)
        assert wizard.migration.next_step() is None
        assert expected in {f.fingerprint for f in wizard.migration.findings()}
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, VaultScreen), "the vault screen")
        await settle(pilot)
        entries = app.screen.query_one("#entries")
        await until(pilot, lambda: "convex-deploy-key" in entries._rows_cache, "the entry listed")
        entries.move_cursor(row=entries.get_row_index("convex-deploy-key"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, VersionsScreen), "the Versions modal")
        assert expected in str(app.screen.query_one("#versions-text").render())
        listed = V.Vault(Path(demo.db_path).with_name("vault.json"), key=key).entries()
        assert expected in {v.fingerprint for e in listed if e.name == "convex-deploy-key" for v in e.versions}
    store.close()


def test_a_wrong_key_at_step_two_does_not_lock_the_journal(tmp_path: Path) -> None:
    """A migration begun without a key meets a key that is not the vault's: the key step refuses
    it, and the journal keeps its own salt, so the right key then resumes it (it was locked to the
    wrong key's id before, every later step refused)."""
    right, wrong = V.parse_key(KEY_HEX), V.parse_key("b2" * 32)
    w = World(tmp_path, right)
    V.Vault(w.data / "vault.json", key=right, store=w.store).put("earlier", b"kept from before")
    nokey = V.Vault(w.data / "vault.json", key_provider=lambda: V.find_key({"SQUAD_CONSOLE_KEYRING": "off"}),
                    store=w.store)
    assert M.Migration(w.fx["workspaces"], w.store, nokey).run_step("scan").status == "done"
    mistaken = M.Migration(w.fx["workspaces"], w.store, V.Vault(w.data / "vault.json", key=wrong, store=w.store))
    assert mistaken.run_step("key").status == "failed"
    j = json.loads((w.data / "migration.json").read_text())
    assert set(j["fp"]) == {"salt"}  # not locked to the wrong key
    resumed = w.migration()
    results = resumed.run_all(confirm_all)
    assert all(r.status in ("done", "skipped") for r in results), results
    assert w.plaintext_left() == [] and w.recoverable() == []
    assert json.loads((w.data / "migration.json").read_text())["fp"] == {"kid": right.kid}
    w.store.close()
