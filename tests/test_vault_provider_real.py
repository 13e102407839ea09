"""The real OpenClaw 2026.9.6 reads its secrets from the console's vault through `squad-console
vault provide` (its `exec` provider protocol v1). One gateway of this module's own (the session's
`real_openclaw` cannot be restarted under the other tests), lean: no plugins, no squad, no jobs.

1. The gateway's auth token and a model provider's API key (a dummy) go into the vault; the
   provider entry is what `vault provider-config` prints; the SecretRefs are applied with
   OpenClaw's own `secrets apply --allow-exec` (its preflight resolves them); the audit is clean with
   the exec refs resolved; the gateway starts on the token it read from the vault, and the CLI
   authenticates with it.
2. `openclaw secrets reload` against the running gateway, through the console's own
   `OpenClawSecrets.reload()`: a new version of the API key re-resolves (`{"ok": true,
   "warningCount": 0}`); a gateway token rotated in the vault is refused by the gateway until a
   reload given the old token swaps it (then only the new one admits); a vault the gateway's key
   no longer opens fails the reload (`secrets.reload failed`, SECRETS_PROVIDER_DEGRADED in its
   log) and the gateway keeps its last good secrets.
3. The wrong vault key: the gateway refuses to start naming the unresolved ref, even with the
   old token in OPENCLAW_GATEWAY_TOKEN (no plaintext fallback), and the audit reports
   REF_UNRESOLVED (exit 2).
No secret value appears in any captured output or log.

These tests FAIL (never skip) when the tooling is missing: `make test` installs it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.service.vault import Vault, parse_key
from console.service.vault import provider as P
from tests.conftest import ROOT
from tests.waiting import wait_until

pytestmark = [pytest.mark.openclaw, pytest.mark.timeout(600)]

KEY_HEX = secrets.token_hex(32)
WRONG_HEX = secrets.token_hex(32)
TOKEN = "vault-gw-token-" + secrets.token_hex(12)
API_KEY = "sk-vault-dummy-" + secrets.token_hex(12)
API_KEY2 = "sk-vault-dummy2-" + secrets.token_hex(12)
TOKEN2 = "vault-gw-token2-" + secrets.token_hex(12)
SECRET_VALUES = (TOKEN, TOKEN2, API_KEY, API_KEY2, KEY_HEX, WRONG_HEX)
TOKEN_ID = "openclaw/gateway-token"
API_KEY_ID = "openclaw/models#openai/apiKey"


class Vaulted:
    """The module's gateway, its vault and everything captured (searched for secrets at the end)."""

    def __init__(self, gw, base: Path) -> None:
        self.gw = gw
        self.base = base
        self.captured: list[str] = []
        self.provider: dict = {}
        self.vault_file = base / "data" / "vault.json"

    def env(self, key: str = KEY_HEX, **extra: str) -> dict[str, str]:
        return self.gw.env(CONVEX_VAULT_KEY=key, SQUAD_CONSOLE_KEYRING="off", **extra)

    def cli(self, *args: str, key: str = KEY_HEX, **kw) -> subprocess.CompletedProcess:
        p = self.gw.cli(*args, check=False, env=self.env(key), **kw)
        self.captured += [p.stdout, p.stderr]
        return p

    def start(self, key: str = KEY_HEX, **extra: str) -> subprocess.Popen:
        out = open(self.base / "gateway.out", "a")  # noqa: SIM115 - closed with the process
        self.gw.proc = subprocess.Popen(
            [str(self.gw.tools.openclaw), "gateway", "run", "--port", str(self.gw.port), "--bind", "loopback"],
            env=self.env(key, **extra), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)  # no --token: the gateway takes gateway.auth.token from its config
        out.close()
        return self.gw.proc

    def logs(self) -> str:
        files = [self.base / "gateway.out", self.base / "openclaw.log", *sorted((self.gw.state_dir / "logs").rglob("*"))]
        return "\n".join(f.read_text(errors="replace") for f in files if f.is_file() and f.suffix != ".zip")


def provider_script(folder: Path) -> Path:
    """This tree's `squad-console`, as pip writes a console script: a regular file of the user's,
    0755, its `#!` the venv's python (itself a symlink, as in every venv)."""
    folder.mkdir(parents=True)
    path = folder / "squad-console"
    path.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                    "from console.cli import main\nsys.exit(main())\n")
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def vaulted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vaulted]:
    from tests.real_openclaw import RealGateway, ToolingMissing, free_port, tooling

    try:
        tools = tooling()
    except ToolingMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    base = tmp_path_factory.mktemp("vault-provider")
    (base / "home").mkdir()
    gw = RealGateway(tools, base, token="unused")
    gw.port = free_port()
    v = Vaulted(gw, base)
    # the vault: the token (as a key file would hold it, with its newline) and a JSON entry
    (base / "data").mkdir(mode=0o700)
    vault_file = base / "data" / "vault.json"
    vault = Vault(vault_file, key=parse_key(KEY_HEX))
    vault.put("openclaw/gateway-token", (TOKEN + "\n").encode())
    vault.put("openclaw/models", json.dumps({"openai": {"apiKey": API_KEY}}).encode())
    # OpenClaw as an operator has it before: plaintext in openclaw.json
    config = {
        "gateway": {"mode": "local", "port": gw.port, "bind": "loopback", "auth": {"mode": "token", "token": TOKEN}},
        "models": {"providers": {"openai": {"baseUrl": "https://api.openai.com/v1",
                                            "models": [{"id": "gpt-5", "name": "gpt-5"}], "apiKey": API_KEY}}},
        "logging": {"file": str(base / "openclaw.log")},
        "update": {"checkOnStart": False},
        "cron": {"enabled": False},
    }
    p = v.cli("config", "patch", "--stdin", stdin=json.dumps(config))
    assert p.returncode == 0, p.stderr[-2000:]
    v.provider = P.provider_config(vault_file, command=provider_script(base / "bin"), keyring=False)
    v.vault_file = vault_file
    try:
        yield v
    finally:
        gw.stop()


def test_openclaw_starts_on_secrets_from_the_vault(vaulted: Vaulted) -> None:
    v = vaulted
    # the provider entry is what `vault provider-config` prints (OpenClaw's own path checks pass)
    assert v.provider["command"].endswith("/bin/squad-console") and not os.path.islink(v.provider["command"])
    assert v.provider["passEnv"] == ["CONVEX_VAULT_KEY", "SQUAD_CONSOLE_KEYRING"]

    before = v.cli("secrets", "audit", "--check", "--json")
    assert before.returncode == 1
    found = {(f["code"], f["jsonPath"]) for f in json.loads(before.stdout)["findings"]}
    assert found == {("PLAINTEXT_FOUND", "gateway.auth.token"), ("PLAINTEXT_FOUND", "models.providers.openai.apiKey")}

    plan = {"version": 1, "protocolVersion": 1, "providerUpserts": {P.PROVIDER_ALIAS: v.provider}, "targets": [
        {"type": "gateway.auth.token", "path": "gateway.auth.token", "pathSegments": ["gateway", "auth", "token"],
         "ref": P.secret_ref("openclaw/gateway-token")},
        {"type": "models.providers.apiKey", "path": "models.providers.openai.apiKey", "providerId": "openai",
         "pathSegments": ["models", "providers", "openai", "apiKey"], "ref": P.secret_ref("openclaw/models", "openai/apiKey")},
    ]}
    plan_file = v.base / "plan.json"
    plan_file.write_text(json.dumps(plan))
    p = v.cli("secrets", "apply", "--from", str(plan_file), "--allow-exec", "--json")  # preflight resolves through the vault
    assert p.returncode == 0, p.stderr[-2000:]
    doc = json.loads(p.stdout)
    assert doc["refsChecked"] == 2 and doc["skippedExecRefs"] == 0 and doc["checks"]["resolvability"] is True
    config = (v.gw.state_dir / "openclaw.json").read_text()
    assert TOKEN not in config and API_KEY not in config
    assert json.loads(config)["gateway"]["auth"]["token"] == {"source": "exec", "provider": "squadvault", "id": TOKEN_ID}

    audit = v.cli("secrets", "audit", "--check", "--allow-exec", "--json")
    assert audit.returncode == 0, audit.stdout[-2000:]
    doc = json.loads(audit.stdout)
    assert doc["status"] == "clean" and doc["findings"] == []
    assert doc["resolution"] == {"refsChecked": 2, "skippedExecRefs": 0, "resolvabilityComplete": True}

    v.start()
    v.gw.wait_ready(180)
    # the CLI resolves gateway.auth.token through the vault too, and the gateway accepts it
    health = v.cli("gateway", "call", "health", "--json", timeout=120)
    assert health.returncode == 0 and json.loads(health.stdout)["ok"] is True, health.stderr[-2000:]
    # the gateway's token is the vault's value: given by hand it works, any other is refused
    assert v.cli("gateway", "call", "health", "--json", "--token", TOKEN, timeout=120).returncode == 0
    wrong = v.cli("gateway", "call", "health", "--json", "--token", "not-" + TOKEN[:6], timeout=120)
    assert wrong.returncode != 0 and "AUTH_TOKEN_MISMATCH" in wrong.stdout + wrong.stderr
    assert "SECRETS_GATEWAY_AUTH_SURFACE" in v.logs()

    no_secret_anywhere(v)


def vault_put(v: Vaulted, name: str, value: str, key: str = KEY_HEX) -> None:
    """`squad-console vault put NAME` (a new version), as an operator runs it."""
    p = subprocess.run([v.provider["command"], "vault", "put", name], check=False, capture_output=True, text=True, input=value,
                       timeout=60, env=v.env(key, SQUAD_CONSOLE_DB=str(v.base / "data" / "squad.db")))
    v.captured += [p.stdout, p.stderr]
    assert p.returncode == 0 and f"stored {name} v" in p.stdout, p.stderr[-2000:]


def console_secrets(v: Vaulted, key: str = KEY_HEX):
    """The console's own `openclaw secrets` driver (what the migration's `openclaw` step uses)."""
    from console.service.vault.openclaw_secrets import OpenClawSecrets, cli_runner

    run = cli_runner(str(v.gw.tools.openclaw), v.env(key), timeout=120)

    def runner(argv):
        code, out, err = run(argv)
        v.captured.extend([out, err])
        return code, out, err

    return OpenClawSecrets(runner, v.gw.state_dir / "openclaw.json", alias=P.PROVIDER_ALIAS, provider=lambda: v.provider)


def health(v: Vaulted, token: str, key: str = KEY_HEX) -> subprocess.CompletedProcess:
    return v.cli("gateway", "call", "health", "--json", "--token", token, key=key, timeout=120)


def test_secrets_reload_re_resolves_from_the_vault(vaulted: Vaulted) -> None:
    """`openclaw secrets reload` against the RUNNING gateway: it re-reads the vault (a new API key
    version, a rotated gateway token), and with a vault its key no longer opens it refuses the
    reload and keeps its last good secrets."""
    v = vaulted
    if v.gw.proc is None or v.gw.proc.poll() is not None:
        pytest.fail("needs the gateway started by test_openclaw_starts_on_secrets_from_the_vault (run the module)")
    oc = console_secrets(v)
    reloads = lambda: v.logs().count("res \u2713 secrets.reload")  # the gateway's own log line

    # 1. a new version of the model provider's key: the console's reload path, the gateway re-resolves
    vault_put(v, "openclaw/models", json.dumps({"openai": {"apiKey": API_KEY2}}))
    before = reloads()
    assert oc.reload() == (True, "")  # the real answer: {"ok": true, "warningCount": 0}, exit 0
    wait_until(lambda: reloads() > before, "the gateway to log its secrets.reload", timeout=60, every=0.1)

    # 2. a rotated gateway token: the CLI resolves the new one and the gateway, holding the old,
    # refuses it; the console says to restart. Given the old token, the reload swaps the gateway
    # onto the new one (the old is refused from then on): the gateway really re-read the vault.
    vault_put(v, "openclaw/gateway-token", TOKEN2 + "\n")
    ok, why = oc.reload()
    assert not ok and "gateway token mismatch" in why and "openclaw gateway restart" in why
    p = v.cli("secrets", "reload", "--json", "--token", TOKEN)
    assert p.returncode == 0 and json.loads(p.stdout) == {"ok": True, "warningCount": 0}, p.stdout + p.stderr
    assert health(v, TOKEN2).returncode == 0
    old = health(v, TOKEN)
    assert old.returncode != 0 and "token mismatch" in old.stderr
    assert oc.reload() == (True, "")  # in step again: the CLI and the gateway hold the same token

    # 3. the vault no longer opens with the gateway's key (rewritten with another): the reload
    # fails clearly, the gateway keeps its last good snapshot (the token it had still works)
    good = v.vault_file.read_bytes()
    v.vault_file.unlink()
    other = Vault(v.vault_file, key=parse_key(WRONG_HEX))
    other.put("openclaw/gateway-token", (TOKEN2 + "\n").encode())
    other.put("openclaw/models", json.dumps({"openai": {"apiKey": API_KEY2}}).encode())
    mark = len(v.logs())
    ok, why = console_secrets(v, WRONG_HEX).reload()  # the console has the vault's new key, the gateway the old
    assert not ok and "secrets.reload failed" in why and "keeps its last good secrets" in why
    log = v.logs()[mark:]
    assert "[SECRETS_PROVIDER_DEGRADED] exec:squadvault: secret provider failed." in log
    assert 'secrets.reload failed: Exec provider \\"squadvault\\" exited with code 1.' in log
    assert health(v, TOKEN2, key=WRONG_HEX).returncode == 0  # the last good token still admits
    assert v.gw.proc.poll() is None and ready(v)

    v.vault_file.write_bytes(good)  # the vault back: the next reload is clean again
    assert oc.reload() == (True, "")
    no_secret_anywhere(v)


def test_a_wrong_vault_key_leaves_the_ref_unresolved(vaulted: Vaulted) -> None:
    v = vaulted
    if (v.gw.state_dir / "openclaw.json").read_text().count('"squadvault"') < 2:
        pytest.fail("needs the refs applied by test_openclaw_starts_on_secrets_from_the_vault (run the module)")
    v.gw.stop()
    vault_put(v, "openclaw/gateway-token", TOKEN + "\n")  # the token the gateway had (test_secrets_reload rotated it)
    audit = v.cli("secrets", "audit", "--check", "--allow-exec", "--json", key=WRONG_HEX)
    assert audit.returncode == 2
    doc = json.loads(audit.stdout)
    assert doc["status"] == "unresolved" and doc["summary"]["unresolvedRefCount"] == 2
    found = {f["jsonPath"]: f["message"] for f in doc["findings"] if f["code"] == "REF_UNRESOLVED"}
    assert set(found) == {"gateway.auth.token", "models.providers.openai.apiKey"}
    assert f"exec:squadvault:{TOKEN_ID}" in found["gateway.auth.token"]
    assert f"exec:squadvault:{API_KEY_ID}" in found["models.providers.openai.apiKey"]

    # the old token offered as OPENCLAW_GATEWAY_TOKEN is not a way around the vault
    mark = len((v.base / "gateway.out").read_text(errors="replace"))
    proc = v.start(WRONG_HEX, OPENCLAW_GATEWAY_TOKEN=TOKEN)
    try:
        said = wait_until(lambda: "Gateway failed to start" in (v.base / "gateway.out").read_text(errors="replace")[mark:]
                          or proc.poll() is not None, "the gateway to refuse to start", timeout=180,
                          every=0.1, detail=lambda: (v.base / "gateway.out").read_text(errors="replace")[mark:][-3000:])
        out = (v.base / "gateway.out").read_text(errors="replace")[mark:]
        assert said and "required secrets are unavailable" in out, out[-3000:]
        assert "exec:squadvault" in out and "gateway:ingress-auth" in out
        assert proc.poll() is not None or not ready(v)
    finally:
        if proc.poll() is None:  # skip OpenClaw's automatic triage after the failure
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)

    # what the provider itself said: the reason, never a value
    p = subprocess.run([v.provider["command"], *v.provider["args"]], check=False, capture_output=True, timeout=60,
                       input=json.dumps({"protocolVersion": 1, "provider": "squadvault", "ids": [TOKEN_ID]}).encode(),
                       env={"CONVEX_VAULT_KEY": WRONG_HEX, "SQUAD_CONSOLE_KEYRING": "off"}, cwd=Path(v.provider["command"]).parent)
    v.captured += [p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")]
    assert (p.returncode, p.stdout) == (1, b"") and b"written with key" in p.stderr

    no_secret_anywhere(v)


def ready(v: Vaulted) -> bool:
    import httpx

    try:
        return httpx.get(f"{v.gw.url}/readyz", timeout=2.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def no_secret_anywhere(v: Vaulted) -> None:
    text = "\n".join([*v.captured, v.logs()])
    for secret in SECRET_VALUES:
        assert secret not in text, "a secret value appears in OpenClaw's or the provider's output"
    assert not re.search(r"Traceback \(most recent call last\)", text)


def test_provider_id_grammar_is_openclaws() -> None:
    """The patterns the provider checks are OpenClaw's own (read from the installed package)."""
    from tests.real_openclaw import tooling

    dist = tooling().openclaw_bin.parent / "openclaw" / "dist"
    source = "\n".join(f.read_text() for f in dist.glob("ref-contract-*.mjs"))
    assert "SECRET_PROVIDER_ALIAS_PATTERN = /^" + P.ALIAS_RE.pattern + "$/" in source
    assert "EXEC_SECRET_REF_ID_PATTERN = /^" + P.EXEC_ID_RE.pattern + "$/" in source
    resolver = "\n".join(f.read_text() for f in dist.glob("resolve-*.mjs"))
    assert f"DEFAULT_MAX_BATCH_BYTES = {P.MAX_REQUEST_BYTES};" in resolver
    assert f"DEFAULT_MAX_REFS_PER_PROVIDER = {P.MAX_IDS};" in resolver
