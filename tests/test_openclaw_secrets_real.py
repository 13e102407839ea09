"""The migration moves a plaintext API key out of the REAL OpenClaw's openclaw.json (issue 14):
`openclaw secrets audit` finds it, the value goes into the vault, `secrets apply` (dry run first)
points the config at the vault's exec provider (`squad-console vault provide`, run by OpenClaw
itself), `secrets audit --check --allow-exec` is clean, and the value is in no output, log,
journal, activity, plan or OpenClaw backup. CLI only: no gateway is needed (`secrets reload`
says so, and that is no failure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.service.store.sqlite import LocalStore
from console.service.vault import migration as M
from console.service.vault.keys import generate_key
from console.service.vault import openclaw_secrets as O
from console.service.vault.openclaw_secrets import OpenClawSecrets, cli_runner
from console.service.vault.provider import PROVIDER_ALIAS, provider_config
from console.service.vault.vault import Vault

pytestmark = pytest.mark.openclaw

ROOT = Path(__file__).resolve().parent.parent
DUMMY = "sk-dummy-squadtest-" + "5e3f" * 8  # a dummy model provider API key


def provider_script(folder: Path) -> Path:
    """A `squad-console` console script for this worktree (what pip installs, with the path of
    this checkout): OpenClaw runs it as the exec provider. Owned by us, mode 0755, no symlink."""
    folder.mkdir(mode=0o700)
    script = folder / "squad-console"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                      "from console.cli import main\nsys.exit(main())\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def _plaintext_state(tmp_path: Path):
    """A private OpenClaw state folder whose openclaw.json holds a plaintext (dummy) model API key,
    a fresh vault key, and the environment the real CLI runs in. The tooling missing fails the test
    (`make test` installs it), as in tests/test_openclaw_real.py."""
    from tests.real_openclaw import tooling

    tools = tooling()
    state, home, data = tmp_path / "state", tmp_path / "home", tmp_path / "data"
    for d in (state, home, data):
        d.mkdir(mode=0o700)
    config = state / "openclaw.json"
    config.write_text(json.dumps({
        "gateway": {"mode": "local"}, "update": {"checkOnStart": False},
        "models": {"providers": {"openai": {"baseUrl": "https://api.openai.com/v1",
                                            "models": [{"id": "gpt-5", "name": "gpt-5"}], "apiKey": DUMMY}}},
    }, indent=2))
    config.chmod(0o600)
    key = generate_key()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCLAW_", "CONVEX_VAULT"))}
    env.update(PATH=tools.path_env(os.environ.get("PATH", "")), HOME=str(home), OPENCLAW_STATE_DIR=str(state),
               OPENCLAW_CONFIG_PATH=str(config), OPENCLAW_NO_AUTO_UPDATE="1", NO_COLOR="1",
               CONVEX_VAULT_KEY=key.hex())
    return tools, state, home, data, config, key, env


def test_the_migration_moves_a_plaintext_api_key_out_of_openclaw_json(tmp_path: Path) -> None:
    tools, state, _home, data, config, key, env = _plaintext_state(tmp_path)
    outputs: list[str] = []
    base = cli_runner(str(tools.openclaw), env, timeout=120)

    def runner(argv):  # every word OpenClaw says, kept to look for the value afterwards
        code, out, err = base(argv)
        outputs.extend([" ".join(argv), out, err])
        return code, out, err

    vault_file = data / "vault.json"
    command = provider_script(tmp_path / "bin")
    oc = OpenClawSecrets(runner, config, alias=PROVIDER_ALIAS,
                         provider=lambda: provider_config(vault_file, command=command, env=env))
    store = LocalStore(data / "console.db")
    m = M.Migration([], store, Vault(vault_file, key=key), openclaw=oc)

    scan = m.run_step("scan")  # OpenClaw's audit beside the workspaces' files
    found = [f for f in m.findings() if f.kind == "openclaw"]
    assert [(f.json_path, f.code, f.action, f.entry) for f in found] == [
        ("models.providers.openai.apiKey", "PLAINTEXT_FOUND", "openclaw", "openclaw/models.providers.openai.apiKey")]
    openclaw_step = next(s for s in m.steps() if s.id == "openclaw")
    assert openclaw_step.destructive and openclaw_step.confirm == M.CONFIRM["openclaw"]

    results = [scan] + m.run_all(lambda step: step.confirm)
    assert [(r.id, r.status) for r in results] == [

        ("scan", "done"), ("key", "done"), ("convex", "skipped"), ("encrypt", "done"), ("verify", "done"),
        ("workflows", "done"), ("remove", "done"), ("openclaw", "done")], results
    last = results[-1]
    assert any("resolves it from the vault" in d for d in last.details), last.details
    # the value is in the vault; openclaw.json holds the SecretRef to the exec provider
    assert Vault(vault_file, key=key).get("openclaw/models.providers.openai.apiKey") == DUMMY.encode()
    cfg = json.loads(config.read_text())
    assert cfg["models"]["providers"]["openai"]["apiKey"] == {
        "source": "exec", "provider": PROVIDER_ALIAS, "id": "openclaw/models.providers.openai.apiKey"}
    assert cfg["secrets"]["providers"][PROVIDER_ALIAS]["command"] == str(command)
    report = m.report()
    assert report.done and not report.left, report.left
    # OpenClaw's own gate: clean, with the exec provider run (the vault answers it)
    p = subprocess.run([str(tools.openclaw), "secrets", "audit", "--check", "--allow-exec", "--json"],
                       capture_output=True, text=True, env=env, timeout=120)
    audit = json.loads(p.stdout)
    assert p.returncode == 0 and audit["status"] == "clean" and audit["resolution"]["refsChecked"] == 1, p.stdout
    outputs += [p.stdout, p.stderr]
    # no value in any output, the journal, an activity, openclaw.json or OpenClaw's backups
    for text in outputs:
        assert DUMMY not in text
    assert DUMMY not in m.journal_path.read_text()
    activities = json.dumps([(a.type, a.message, a.detail) for a in store.list_activities(1000)])
    assert "openclaw/models.providers.openai.apiKey" in activities and DUMMY not in activities
    leftovers = [str(p) for p in state.rglob("*") if p.is_file() and DUMMY.encode() in p.read_bytes()]
    assert leftovers == [], leftovers
    for r in results:
        assert DUMMY not in r.summary + "".join(r.details)
    # a second run finds nothing more to move
    assert M.Migration([], store, Vault(vault_file, key=key), openclaw=oc).next_step() is None
    # the vault screen and `check`: the ref resolves (the audit above) ...
    entries = [e.name for e in Vault(vault_file, key=key).entries()]
    ok = O.ref_statuses(oc.refs(), entries, O.parse_audit(p.returncode, p.stdout, p.stderr))
    assert [(r.path, r.state) for r in ok] == [("models.providers.openai.apiKey", "resolves")]
    # ... and when the vault cannot answer it (the entry removed), OpenClaw's REF_UNRESOLVED, with the fix
    Vault(vault_file, key=key).remove("openclaw/models.providers.openai.apiKey")
    audit = oc.audit(allow_exec=True)
    assert audit.status == "unresolved" and audit.exit_code == 2
    bad = O.ref_statuses(oc.refs(), ["openclaw/models.providers.openai.apiKey"], audit)  # as if still listed
    assert bad[0].alert and "NOT_FOUND" in bad[0].why and "squad-console vault provider-config" in bad[0].fix
    assert DUMMY not in "".join(outputs)


def test_the_apply_changes_openclaw_json_only(tmp_path: Path) -> None:
    """OpenClaw's defaults would scrub a migrated value from .env files and the auth profiles of
    the same provider (values the vault never got): the plan turns that off, and a plan without
    those options is refused on the real dry run's `changedFiles` before anything is written."""
    tools, state, _home, data, config, key, env = _plaintext_state(tmp_path)
    dotenv = state / ".env"  # the person's own .env, holding the same key for other tools
    dotenv.write_text(f"OPENAI_API_KEY={DUMMY}\n")
    vault_file = data / "vault.json"
    entry = O.entry_name("models.providers.openai.apiKey")
    Vault(vault_file, key=key).put(entry, DUMMY.encode())
    command = provider_script(tmp_path / "bin")
    oc = OpenClawSecrets(cli_runner(str(tools.openclaw), env, timeout=120), config, alias=PROVIDER_ALIAS,
                         provider=lambda: provider_config(vault_file, command=command, env=env))
    plan = O.plan_for([("models.providers.openai.apiKey", entry)], PROVIDER_ALIAS, oc.provider_config())
    defaults = {k: v for k, v in plan.items() if k != "options"}  # OpenClaw's defaults: .env scrubbed too
    with pytest.raises(O.OpenClawSecretsError) as refused:
        oc.apply(defaults, dry_run=True, secrets=[DUMMY])
    assert "would change more than openclaw.json" in refused.value.message and str(dotenv) in refused.value.message
    report = oc.apply(plan, dry_run=True, secrets=[DUMMY])
    assert report["changedFiles"] == [str(config)], report
    oc.apply(plan, dry_run=False, secrets=[DUMMY])
    assert O.is_ref(O.value_at(oc.config(), "models.providers.openai.apiKey"), PROVIDER_ALIAS, entry)
    assert dotenv.read_text() == f"OPENAI_API_KEY={DUMMY}\n"  # not the migration's to delete
