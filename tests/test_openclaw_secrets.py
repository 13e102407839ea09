"""OpenClaw's own plaintext in the migration, against a scripted `openclaw secrets` (the real CLI's
report and plan shapes, checked in tests/test_openclaw_secrets_real.py): the audit's findings,
the plan, the order (dry run, apply, audit --check), a crash after OpenClaw wrote the refs, a
refused dry run (nothing changes), an unresolved ref (the fix), a finding left by choice, and
OpenClaw's backup of the config cleaned of the value. No value in any result, journal or activity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.service.store.sqlite import LocalStore
from console.service.vault import migration as M
from console.service.vault import openclaw_secrets as O
from console.service.vault.keys import generate_key
from console.service.vault.vault import Vault

API_KEY = "sk-test-" + "a1b2" * 8
BOT_TOKEN = "123456:" + "Zx9" * 10
ALIAS = "squadvault"
PROVIDER = {"source": "exec", "command": "/opt/squad/bin/squad-console", "args": ["vault", "provide"],
            "passEnv": ["CONVEX_VAULT_KEY"], "jsonOnly": True}
AUDITED = ("models.providers.openai.apiKey", "channels.telegram.botToken", "tools.custom.secret")


class Crash(Exception):
    pass


class FakeOpenClaw:
    """`openclaw secrets audit/apply/reload` on one openclaw.json, with the real CLI's JSON shapes."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.calls: list[list[str]] = []
        self.resolves = True  # the exec provider answers
        self.refuse_dry_run = False
        self.crash_after_write = False
        self.also_changes: list[str] = []  # files beside openclaw.json the dry run says it would change

    def _cfg(self) -> dict:
        return json.loads(self.config.read_text())

    def __call__(self, argv):
        argv = list(argv)
        self.calls.append(argv)
        if argv[1:3] == ["secrets", "audit"]:
            cfg, findings = self._cfg(), []
            for path in AUDITED:
                v = O.value_at(cfg, path)
                if isinstance(v, str):
                    findings.append({"code": "PLAINTEXT_FOUND", "severity": "warn", "file": str(self.config),
                                     "jsonPath": path, "message": f"{path} is stored as plaintext."})
                elif isinstance(v, dict) and "--allow-exec" in argv and not self.resolves:
                    findings.append({"code": "REF_UNRESOLVED", "severity": "error", "file": str(self.config),
                                     "jsonPath": path, "message": f"Failed to resolve exec:{ALIAS}:{v['id']} (NOT_FOUND)."})
            status = "unresolved" if any(f["code"] == "REF_UNRESOLVED" for f in findings) else (
                "findings" if findings else "clean")
            code = 2 if status == "unresolved" else (1 if findings and "--check" in argv else 0)
            return code, json.dumps({"version": 1, "status": status, "findings": findings, "filesScanned": [str(self.config)],
                                     "resolution": {"refsChecked": 1, "skippedExecRefs": 0, "resolvabilityComplete": True},
                                     "summary": {"plaintextCount": len(findings)}}), ""
        if argv[1:3] == ["secrets", "apply"]:
            plan = json.loads(Path(argv[argv.index("--from") + 1]).read_text())
            assert "--allow-exec" in argv
            if "--dry-run" in argv:
                if self.refuse_dry_run:
                    return 1, json.dumps({"ok": False, "error": {"message": f'Exec provider "{ALIAS}" exited with code 1.'}}), ""
                assert plan["options"] == {"scrubEnv": False, "scrubAuthProfilesForProviderTargets": False}
                return 0, json.dumps({"mode": "dry-run", "changed": True,
                                      "changedFiles": sorted([str(self.config)] + self.also_changes)}), ""
            old = self.config.read_text()
            cfg = self._cfg()
            cfg.setdefault("secrets", {}).setdefault("providers", {}).update(plan["providerUpserts"])
            for t in plan["targets"]:
                node = cfg
                for seg in t["pathSegments"][:-1]:
                    node = node[seg]
                node[t["pathSegments"][-1]] = t["ref"]
            (self.config.parent / (self.config.name + ".bak")).write_text(old)  # what the real CLI leaves
            self.config.write_text(json.dumps(cfg, indent=2))
            if self.crash_after_write:
                self.crash_after_write = False
                raise Crash("killed right after OpenClaw wrote the config")
            return 0, json.dumps({"mode": "write", "changed": True}), ""
        if argv[1:3] == ["secrets", "reload"]:
            return 1, json.dumps({"ok": False, "error": {"message": "gateway secrets.reload requires credentials"}}), ""
        raise AssertionError(argv)


@pytest.fixture
def world(tmp_path: Path):
    config = tmp_path / "state" / "openclaw.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"gateway": {"mode": "local", "port": 1},
                                  "models": {"providers": {"openai": {"apiKey": API_KEY}}},
                                  "channels": {"telegram": {"botToken": BOT_TOKEN}},
                                  "tools": {"custom": {"secret": "not-a-target-value"}}}))
    fake = FakeOpenClaw(config)
    key = generate_key()
    store = LocalStore(tmp_path / "data" / "console.db")

    def migration() -> M.Migration:
        oc = O.OpenClawSecrets(fake, config, alias=ALIAS, provider=lambda: PROVIDER)
        return M.Migration([], store, Vault(tmp_path / "data" / "vault.json", key=key), openclaw=oc)

    return fake, config, migration, store, key


def no_value_anywhere(m: M.Migration, store, results) -> None:
    texts = [m.journal_path.read_text(), json.dumps([(a.message, a.detail) for a in store.list_activities(1000)])]
    texts += [r.summary + "\n".join(r.details) for r in results]
    for t in texts:
        assert API_KEY not in t and BOT_TOKEN not in t


def test_audit_report_and_targets() -> None:
    r = O.parse_audit(2, "[warn] a log line\n" + json.dumps({
        "status": "unresolved", "resolution": {"refsChecked": 1, "resolvabilityComplete": True},
        "findings": [{"code": "REF_UNRESOLVED", "jsonPath": "gateway.auth.token", "file": "/x/openclaw.json",
                      "message": "Failed (Bearer abcdefghijklmnop0123)"}]}), "")
    assert r.status == "unresolved" and r.exit_code == 2 and r.at("gateway.auth.token", "REF_UNRESOLVED")
    assert "abcdefghijklmnop0123" not in r.findings[0].message
    with pytest.raises(O.OpenClawSecretsError):
        O.parse_audit(1, "", "boom")
    assert O.target_type("models.providers.openai.apiKey") == "models.providers.*.apiKey"
    assert O.target_type("channels.telegram.accounts.ops.botToken") == "channels.telegram.accounts.*.botToken"
    assert O.target_type("gateway.auth.token") == "gateway.auth.token"
    assert O.target_type("tools.custom.secret") is None
    plan = O.plan_for([("models.providers.openai.apiKey", "openclaw/models.providers.openai.apiKey")], ALIAS, PROVIDER)
    assert plan["providerUpserts"] == {ALIAS: PROVIDER}
    assert plan["targets"] == [{"type": "models.providers.*.apiKey", "path": "models.providers.openai.apiKey",
                                "pathSegments": ["models", "providers", "openai", "apiKey"], "providerId": "openai",
                                "ref": {"source": "exec", "provider": ALIAS, "id": "openclaw/models.providers.openai.apiKey"}}]
    # OpenClaw's defaults would also scrub auth profiles and .env files (values the vault never got)
    assert plan["options"] == {"scrubEnv": False, "scrubAuthProfilesForProviderTargets": False}
    assert [(r.path, r.id) for r in O.refs_in({"a": {"k": {"source": "exec", "provider": ALIAS, "id": "e"}},
                                                "secrets": {"providers": {ALIAS: PROVIDER}}}, ALIAS)] == [("a.k", "e")]


def test_the_openclaw_step_moves_the_chosen_values_and_survives_a_crash(world) -> None:
    fake, config, migration, store, key = world
    m = migration()
    results = [m.run_step("scan")]
    oc = {f.json_path: f for f in m.findings() if f.kind == "openclaw"}
    assert oc["models.providers.openai.apiKey"].action == "openclaw"
    assert oc["tools.custom.secret"].action == "report" and oc["tools.custom.secret"].manual  # not an apply target
    m.choose(oc["channels.telegram.botToken"].id, False)  # left by choice
    for sid in ("key", "convex", "encrypt", "verify", "workflows", "remove"):
        results.append(m.run_step(sid, M.CONFIRM.get(sid)))
    assert [e.name for e in m.vault.entries()] == ["openclaw/models.providers.openai.apiKey"]
    assert m.run_step("openclaw").status == "needs-confirmation"
    fake.crash_after_write = True
    with pytest.raises(Crash):
        m.run_step("openclaw", M.CONFIRM["openclaw"])
    m = migration()  # the console restarted: the journal says "applying"; the config holds the ref
    r = m.run_step("openclaw", M.CONFIRM["openclaw"])
    results.append(r)
    assert r.status == "done", r
    cfg = json.loads(config.read_text())
    assert cfg["models"]["providers"]["openai"]["apiKey"] == {"source": "exec", "provider": ALIAS,
                                                              "id": "openclaw/models.providers.openai.apiKey"}
    assert cfg["channels"]["telegram"]["botToken"] == BOT_TOKEN  # not chosen: untouched
    bak = config.parent / "openclaw.json.bak"
    assert API_KEY not in bak.read_text()  # OpenClaw's backup cleaned of the moved value
    assert any("no gateway listens on 127.0.0.1:1" in d for d in r.details)
    apply_calls = [c for c in fake.calls if c[1:3] == ["secrets", "apply"]]
    assert ["--dry-run" in c for c in apply_calls] == [True, False]  # the dry run, then the write (the rerun found it done)
    report = m.report()
    assert not report.done and any("telegram.botToken: not chosen" in x for x in report.left)
    assert any("tools.custom.secret" in x for x in report.left)
    no_value_anywhere(m, store, results)


def test_a_refused_dry_run_changes_nothing_and_an_unresolved_ref_says_the_fix(world) -> None:
    fake, config, migration, store, key = world
    m = migration()
    _until_openclaw(m)
    before = config.read_text()
    fake.refuse_dry_run = True
    r = m.run_step("openclaw", M.CONFIRM["openclaw"])
    assert r.status == "failed" and config.read_text() == before  # the plaintext stays until OpenClaw resolves
    assert any("refused the plan" in d and "exited with code 1" in d for d in r.details)
    fake.refuse_dry_run, fake.resolves = False, False
    r = m.run_step("openclaw", M.CONFIRM["openclaw"])
    assert r.status == "failed"
    assert any("NOT_FOUND" in d and "squad-console vault provider-config" in d for d in r.details), r.details
    fake.resolves = True
    r = m.run_step("openclaw", M.CONFIRM["openclaw"])  # fixed: the audit is clean for that path now
    assert r.status == "done", r
    no_value_anywhere(m, store, [r])


def test_check_and_the_vault_screen_show_which_refs_resolve(tmp_path: Path, monkeypatch) -> None:
    import io
    from types import SimpleNamespace

    from console.commands import check
    from console.screens.vault import VaultScreen
    from console.service import wiring

    config = tmp_path / "openclaw.json"
    ref = {"source": "exec", "provider": ALIAS}
    config.write_text(json.dumps({"models": {"providers": {"openai": {"apiKey": {**ref, "id": "openclaw/a"}}}},
                                  "channels": {"telegram": {"botToken": {**ref, "id": "openclaw/b"}}},
                                  "tools": {"custom": {"secret": {**ref, "id": "nowhere"}}}}))
    refs = O.refs_in(json.loads(config.read_text()), ALIAS)
    audit = O.parse_audit(2, json.dumps({"status": "unresolved", "findings": [
        {"code": "REF_UNRESOLVED", "jsonPath": "channels.telegram.botToken", "file": str(config),
         "message": f"Failed to resolve exec:{ALIAS}:openclaw/b (NOT_FOUND)."}]}), "")
    got = {r.path: r for r in O.ref_statuses(refs, ["openclaw/a", "openclaw/b"], audit)}
    assert got["models.providers.openai.apiKey"].state == "resolves"
    assert got["channels.telegram.botToken"].alert and "NOT_FOUND" in got["channels.telegram.botToken"].why
    assert got["tools.custom.secret"].alert and got["tools.custom.secret"].fix[0] == "squad-console vault put nowhere"
    text = str(VaultScreen._refs_text(list(got.values())))
    assert "OpenClaw reads 3 secret(s) from the vault · 2 NOT RESOLVED" in text and "fix: squad-console vault put nowhere" in text

    vault = Vault(tmp_path / "vault.json", key=generate_key())
    vault.put("openclaw/a", b"x")
    vault.put("openclaw/b", b"y")
    fake = FakeOpenClaw(config)
    fake.resolves = False
    monkeypatch.setattr(wiring, "open_openclaw_secrets",
                        lambda s, e=None: O.OpenClawSecrets(fake, config, alias=ALIAS, provider=lambda: PROVIDER))
    monkeypatch.setattr(wiring, "open_vault", lambda s, e=None, **kw: vault)
    err = io.StringIO()
    ctx = SimpleNamespace(settings=None, env={}, warn=lambda m: err.write(m))
    states = {r.path: r.state for r in check.vault_refs(ctx)}
    assert states == {"models.providers.openai.apiKey": "unresolved", "channels.telegram.botToken": "unresolved",
                      "tools.custom.secret": "unresolved"}
    assert ["--allow-exec" in c for c in fake.calls if c[2] == "audit"] == [True]

    # another exec provider in openclaw.json (a password manager): --allow-exec would run it too, so
    # check judges the refs by the vault's entries, says so, and runs no audit
    doc = json.loads(config.read_text())
    doc["secrets"] = {"providers": {"onepassword": {"source": "exec", "command": "/usr/bin/op"}}}
    config.write_text(json.dumps(doc))
    fake.calls.clear()
    states = {r.path: r.state for r in check.vault_refs(ctx)}
    assert states == {"models.providers.openai.apiKey": "stored", "channels.telegram.botToken": "stored",
                      "tools.custom.secret": "unresolved"}
    assert not [c for c in fake.calls if c[2] == "audit"] and "onepassword" in err.getvalue()


# The real CLI's answers to `openclaw secrets reload --json` (2026.9.6, captured against a running
# gateway in tests/test_vault_provider_real.py).
RELOADED = (0, '{\n  "ok": true,\n  "warningCount": 0\n}\n', "")
DEGRADED = (0, '{\n  "ok": true,\n  "warningCount": 2\n}\n', "")
FAILED = (1, '{\n  "ok": false,\n  "error": {\n    "type": "cli_error",\n    "message": "secrets.reload failed"\n  }\n}\n', "")
MISMATCH_MSG = "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)"
MISMATCH = (1, json.dumps({"ok": False, "error": {"type": "cli_error", "message": MISMATCH_MSG}}),
            f"gateway connect failed: GatewayClientRequestError: {MISMATCH_MSG}\n")


@pytest.mark.parametrize("answer, ok, words", [
    (RELOADED, True, ""),
    (DEGRADED, True, "2 warning(s)"),
    (FAILED, False, "keeps its last good secrets"),
    (MISMATCH, False, "openclaw gateway restart"),
    ((1, "", "Error: boom " + API_KEY + "\n"), False, "failed (exit 1): Error: boom"),
    ((0, json.dumps({"ok": False, "error": {"message": "odd"}}), ""), False, "odd"),
])
def test_reload_reads_the_real_answers(tmp_path: Path, answer, ok, words) -> None:
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    try:
        config = tmp_path / "openclaw.json"
        config.write_text(json.dumps({"gateway": {"mode": "local", "port": listener.getsockname()[1]}}))
        calls = []

        def runner(argv):
            calls.append(list(argv))
            return answer

        got_ok, why = O.OpenClawSecrets(runner, config, alias=ALIAS, provider=lambda: PROVIDER).reload(secrets=[API_KEY])
    finally:
        listener.close()
    assert calls == [["openclaw", "secrets", "reload", "--json"]]
    assert got_ok is ok and (words in why if words else why == "")
    assert API_KEY not in why


def test_reload_runs_nothing_when_no_gateway_listens(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "openclaw.json"
    config.write_text(json.dumps({"gateway": {"mode": "local", "port": port}}))
    ran = []
    ok, why = O.OpenClawSecrets(lambda argv: ran.append(argv) or RELOADED, config, alias=ALIAS,
                                provider=lambda: PROVIDER).reload()
    assert (ok, ran) == (False, []) and f"no gateway listens on 127.0.0.1:{port}" in why
    config.write_text(json.dumps({"gateway": {"mode": "remote", "port": port}}))  # remote: the CLI decides
    assert O.OpenClawSecrets(lambda argv: ran.append(argv) or RELOADED, config, alias=ALIAS,
                             provider=lambda: PROVIDER).reload() == (True, "") and len(ran) == 1


def test_reload_looks_for_the_gateway_where_openclaw_gateway_port_says(tmp_path: Path) -> None:
    """OPENCLAW_GATEWAY_PORT wins over gateway.port, as it does for the CLI: a gateway listening
    there is reloaded although openclaw.json names a port nothing listens on."""
    import socket

    with socket.socket() as idle:
        idle.bind(("127.0.0.1", 0))
        unused = idle.getsockname()[1]
    config = tmp_path / "openclaw.json"
    config.write_text(json.dumps({"gateway": {"mode": "local", "port": unused}}))
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        ran = []
        oc = O.OpenClawSecrets(lambda argv: ran.append(argv) or RELOADED, config, alias=ALIAS,
                               provider=lambda: PROVIDER, env={"OPENCLAW_GATEWAY_PORT": str(port)})
        assert oc.reload() == (True, "") and len(ran) == 1


def test_the_operators_own_provider_entry_is_kept(tmp_path: Path) -> None:
    """A `squadvault` entry openclaw.json already has, and that OpenClaw would run, is the one the
    migration's plan upserts (not replaced by the default one); an entry OpenClaw would refuse (a
    symlinked command) is not kept."""
    import os

    from console.config import load_settings
    from console.service.vault.provider import ProviderConfigError
    from console.service.wiring import open_openclaw_secrets

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "openclaw").write_text("#!/bin/sh\nexit 0\n")
    tool = tmp_path / "tools" / "squad-console"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\nexit 0\n")
    for f in (bin_dir / "openclaw", tool):
        f.chmod(0o755)
    mine = {"source": "exec", "command": str(tool), "args": ["vault", "provide", "--vault-file", "/srv/v.json"],
            "passEnv": ["CONVEX_VAULT_KEY"], "trustedDirs": [str(tool.parent)], "jsonOnly": True, "timeoutMs": 3000}
    state = tmp_path / "state"
    state.mkdir()
    config = state / "openclaw.json"
    config.write_text(json.dumps({"secrets": {"providers": {"squadvault": mine}}}))
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "OPENCLAW_STATE_DIR": str(state),
           "SQUAD_CONSOLE_DATA": str(tmp_path / "data"), "HOME": str(tmp_path)}
    settings = load_settings(None, env=env)
    oc = open_openclaw_secrets(settings, env)
    assert oc is not None and oc.provider_config() == mine
    link = tmp_path / "tools" / "linked"
    link.symlink_to(tool)
    config.write_text(json.dumps({"secrets": {"providers": {"squadvault": {**mine, "command": str(link)}}}}))
    try:
        refused = open_openclaw_secrets(settings, env).provider_config()
    except ProviderConfigError as exc:  # no console script to fall back to here: the default one is refused too
        refused = exc
    assert refused != {**mine, "command": str(link)}


def _until_openclaw(m: M.Migration) -> None:
    m.run_step("scan")
    for f in m.findings():
        if f.json_path == "channels.telegram.botToken":
            m.choose(f.id, False)
    for sid in ("key", "convex", "encrypt", "verify", "workflows", "remove"):
        m.run_step(sid, M.CONFIRM.get(sid))


def test_a_dry_run_that_would_change_another_file_is_refused(world) -> None:
    fake, config, migration, _store, _key = world
    m = migration()
    _until_openclaw(m)
    before = config.read_text()
    auth_store = str(config.parent / "agents" / "main" / "agent" / "openclaw-agent.sqlite")
    fake.also_changes = [auth_store]  # an auth profile of the same provider would lose its plaintext key
    r = m.run_step("openclaw", M.CONFIRM["openclaw"])
    assert r.status == "failed" and config.read_text() == before
    assert any("would change more than openclaw.json" in d and auth_store in d for d in r.details), r.details
    assert [("--dry-run" in c) for c in fake.calls if c[1:3] == ["secrets", "apply"]] == [True]  # no write
    fake.also_changes = []
    assert m.run_step("openclaw", M.CONFIRM["openclaw"]).status == "done"


def test_the_last_good_and_clobbered_copies_are_cleaned_and_a_dirty_one_is_kept_to_do(world) -> None:
    fake, config, migration, store, _key = world
    m = migration()
    _until_openclaw(m)
    state = config.parent
    last_good = state / "openclaw.json.last-good"  # the gateway's copy at start
    clobbered = state / "openclaw.json.clobbered.2026-11-30T10-00-00.000Z"
    last_good.write_text(config.read_text())
    clobbered.write_text(config.read_text())
    dirty = state / "openclaw.json.clobbered.2026-11-30T11-00-00.000Z"  # the value at another place too
    dirty.write_text(json.dumps({"models": {"providers": {"openai": {"apiKey": API_KEY}}}, "note": API_KEY}))
    lock = state / "openclaw.json.clobber.lock"
    lock.write_text("")
    r = m.run_step("openclaw", M.CONFIRM["openclaw"])
    assert r.status == "failed", r
    for copy in (last_good, clobbered, state / "openclaw.json.bak"):
        assert API_KEY not in copy.read_text(), copy
        assert O.value_at(json.loads(copy.read_text()), "models.providers.openai.apiKey")["provider"] == ALIAS
    assert API_KEY in dirty.read_text() and any(str(dirty) in d and "by hand" in d for d in r.details), r.details
    left = m.report().left
    assert any(str(dirty) in x and "still holds the value" in x for x in left), left
    # the rerun does not forget it: the step is still to do and cleans it once it can
    m = migration()
    assert m.next_step() is not None and m.next_step().id == "openclaw"
    dirty.write_text(json.dumps({"models": {"providers": {"openai": {"apiKey": API_KEY}}}}))
    r = m.run_step("openclaw", M.CONFIRM["openclaw"])
    assert r.status == "done", r
    assert API_KEY not in dirty.read_text()
    assert not any("still holds" in x for x in m.report().left)
    assert [("--dry-run" in c) for c in fake.calls if c[1:3] == ["secrets", "apply"]] == [True, False]  # applied once
    assert m.run_step("openclaw", M.CONFIRM["openclaw"]).status == "skipped"
    no_value_anywhere(m, store, [r])


def test_entry_names_never_collide() -> None:
    assert O.entry_name("models.providers.openai.apiKey") == "openclaw/models.providers.openai.apiKey"
    a, b = O.entry_name("models.providers.a b.apiKey"), O.entry_name("models.providers.a/b.apiKey")
    assert a != b and a.startswith("openclaw/models.providers.a-b.apiKey-")
    assert O.entry_name("models.providers.a-b.apiKey") not in (a, b)
    long1, long2 = O.entry_name("skills.entries." + "x" * 200 + ".apiKey"), O.entry_name("skills.entries." + "x" * 201 + ".apiKey")
    assert long1 != long2 and len(long1) == len(long2) == 128
    for name in (a, b, long1, long2):
        assert O.exec_ref(name, ALIAS)["id"] == name
