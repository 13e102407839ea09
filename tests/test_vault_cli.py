"""`squad-console vault ...` as a user runs it: init, put, get, list, rm, exec, restore,
convex-key set|verify, migrate; planted secrets searched in every output; the fixture workspace's
script reads its key through the vault after the migration."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from keyring.backend import KeyringBackend

from console import cli
from console.service import vault as V
from console.service.store.sqlite import LocalStore
from tests.conftest import ADMIN_KEY, ROOT
from tests.test_migration import AUTH_TOKEN, DEPLOY_KEY, ENV_SECRET, build_workspaces

KEY_HEX = "a1" * 32
OTHER_HEX = "b2" * 32
PUT_SECRET = "planted-put-secret-7c1e9d"
FILE_SECRET = "planted-file-secret-41aa0f"
BIN = Path(sys.executable).parent


class FileKeyring(KeyringBackend):
    """A stand-in for a real OS keyring (selected with PYTHON_KEYRING_BACKEND) keeping its
    passwords in the JSON file $TEST_KEYRING_FILE. Only the subprocess tests load it."""

    priority = 10  # type: ignore[assignment]

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError

    def _load(self) -> dict[str, str]:
        path = Path(os.environ["TEST_KEYRING_FILE"])
        return json.loads(path.read_text()) if path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        Path(os.environ["TEST_KEYRING_FILE"]).write_text(json.dumps(data))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    state = tmp_path / "state"
    fx = build_workspaces(state)
    values = {"OPENCLAW_STATE_DIR": str(state), "SQUAD_CONSOLE_DB": str(tmp_path / "data" / "squad.db"),
              "CONVEX_VAULT_KEY": KEY_HEX, "SQUAD_CONSOLE_KEYRING": "off"}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    return {**values, "_cestra": str(fx["workspaces"][0][1]), "_veda": str(fx["workspaces"][1][1])}


class Run:
    """Runs `squad-console` in this process and keeps every output for the planted-secret search."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.mp = monkeypatch
        self.outputs: list[tuple[tuple[str, ...], str, str]] = []

    def __call__(self, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        self.mp.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = cli.main(list(args), out=out, err=err)
        self.outputs.append((args, out.getvalue(), err.getvalue()))
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def sc(monkeypatch: pytest.MonkeyPatch) -> Run:
    return Run(monkeypatch)


def shell(env: dict[str, str], *args: str, cwd: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("_")}
    full.update({k: v for k, v in env.items() if not k.startswith("_")})
    full.update(extra)
    return subprocess.run(list(args), env=full, capture_output=True, text=True, timeout=60, cwd=cwd)


# ------------------------------------------------------------------------- basics
def test_put_get_list_rm_restore(env: dict[str, str], sc: Run, tmp_path: Path) -> None:
    code, out, err = sc("vault", "put", "api-token", stdin=PUT_SECRET.encode())
    assert code == 0 and "stored api-token v1" in out and "copied (ciphertext) to the store" in err
    src = tmp_path / "secret.txt"
    src.write_text(FILE_SECRET)
    assert sc("vault", "put", "api-token", "--from-file", str(src), "--expected-version", "1")[0] == 0
    code, out, err = sc("vault", "put", "api-token", "--expected-version", "1", stdin=b"x")
    assert code == 1 and "at version 2, not 1" in err
    code, out, _ = sc("vault", "list")
    assert code == 0 and "api-token" in out and "v2" in out and "1,2" in out and str(src) in out
    assert sc("vault", "get", "api-token")[1] == FILE_SECRET
    assert sc("vault", "get", "api-token", "--version", "1")[1] == PUT_SECRET
    target = tmp_path / "restored"
    code, out, _ = sc("vault", "restore", "api-token", "--to", str(target))
    assert code == 0 and target.read_text() == FILE_SECRET and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sc("vault", "restore", "api-token", "--to", str(target))[0] == 2
    assert sc("vault", "rm", "api-token")[0] == 0
    code, _, err = sc("vault", "get", "api-token")
    assert code == 1 and "was removed" in err
    assert "api-token (removed)" in sc("vault", "list", "--all")[1]
    code, _, err = sc("vault", "get", "nope")
    assert code == 1 and "no entry nope" in err and "Traceback" not in err
    store = LocalStore(tmp_path / "data" / "squad.db")
    assert [r.version for r in store.vault_list()] == [1, 2] and all(r.deleted for r in store.vault_list())
    store.close()


def test_no_key_names_both_ways_and_a_wrong_key_is_refused(env: dict[str, str], sc: Run,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert sc("vault", "put", "k", stdin=b"value-one")[0] == 0
    monkeypatch.delenv("CONVEX_VAULT_KEY")
    code, _, err = sc("vault", "get", "k")
    assert code == 1 and "export CONVEX_VAULT_KEY=" in err and "squad-console vault init" in err
    monkeypatch.setenv("CONVEX_VAULT_KEY", OTHER_HEX)
    vault_file = Path(env["SQUAD_CONSOLE_DB"]).parent / "vault.json"
    before = vault_file.read_bytes()
    code, _, err = sc("vault", "put", "k", stdin=b"value-two")
    assert code == 1 and "this vault was written with key" in err and V.parse_key(OTHER_HEX).kid in err
    monkeypatch.setenv("CONVEX_VAULT_KEY", "abc")
    code, _, err = sc("vault", "get", "k")
    assert code == 1 and "has 3 characters" in err and "abc" not in err.replace("abcdef", "")
    vault_file.chmod(0o640)
    monkeypatch.setenv("CONVEX_VAULT_KEY", KEY_HEX)
    code, _, err = sc("vault", "get", "k")
    assert code == 1 and f"chmod 600 {vault_file}" in err
    assert vault_file.read_bytes() == before


def test_init_prints_the_key_once_without_a_keyring_and_uses_a_real_one(tmp_path: Path) -> None:
    base = {"SQUAD_CONSOLE_DB": str(tmp_path / "data" / "squad.db"), "PATH": "/usr/bin:/bin",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    p = shell(base, sys.executable, "-m", "console", "vault", "init")
    assert p.returncode == 0, p.stderr
    lines = [line for line in p.stdout.splitlines() if line.startswith("export CONVEX_VAULT_KEY=")]
    assert len(lines) == 1 and p.stdout.count(lines[0].split("=")[1]) == 1
    key = V.parse_key(lines[0].split("=", 1)[1])
    assert "KEEP A COPY" in p.stderr and "null keyring" in p.stderr and key.hex() not in p.stderr
    again = shell({**base, "CONVEX_VAULT_KEY": key.hex()}, sys.executable, "-m", "console", "vault", "init")
    assert again.returncode == 1 and "already set" in again.stderr and key.hex() not in again.stdout + again.stderr

    ring = {**base, "SQUAD_CONSOLE_DB": str(tmp_path / "d2" / "squad.db"), "PYTHONPATH": str(ROOT),
            "PYTHON_KEYRING_BACKEND": "tests.test_vault_cli.FileKeyring", "TEST_KEYRING_FILE": str(tmp_path / "ring.json")}
    p = shell(ring, sys.executable, "-m", "console", "vault", "init")
    assert p.returncode == 0 and "kept in the OS keyring" in p.stdout and "export" not in p.stdout, p.stderr
    stored = json.loads((tmp_path / "ring.json").read_text())["squad-console/CONVEX_VAULT_KEY"]
    assert stored not in p.stdout + p.stderr
    put = subprocess.run([sys.executable, "-m", "console", "vault", "put", "k"], input="from-keyring",
                         env={**os.environ, **ring}, capture_output=True, text=True, timeout=60)
    assert put.returncode == 0 and f"key {V.parse_key(stored).kid}" in put.stdout, put.stderr


def test_exec_puts_secrets_in_the_child_environment_only(env: dict[str, str], sc: Run) -> None:
    sc("vault", "put", "convex-auth-token", stdin=AUTH_TOKEN.encode())
    sc("vault", "put", "convex-deploy-key", stdin=(DEPLOY_KEY + "\n").encode())
    p = shell(env, sys.executable, "-m", "console", "vault", "exec", "--env", "TOKEN=convex-auth-token", "--",
              "sh", "-c", 'printf "%s|%s" "$TOKEN" "${CONVEX_VAULT_KEY:-no-vault-key}"')
    assert p.returncode == 0 and p.stdout == f"{AUTH_TOKEN}|no-vault-key" and AUTH_TOKEN not in p.stderr
    p = shell(env, sys.executable, "-m", "console", "vault", "exec", "--env", "convex-deploy-key", "--",
              "sh", "-c", 'printf "%s|%s" "$CONVEX_DEPLOY_KEY" "${CONVEX_AUTH_TOKEN:-not-given}"')
    assert p.stdout == f"{DEPLOY_KEY}|not-given"  # only what was asked for; a key file's trailing newline dropped
    p = shell(env, sys.executable, "-m", "console", "vault", "exec", "--env", "K=convex-deploy-key", "--", "sh", "-c", "exit 7")
    assert p.returncode == 7
    code, _, err = sc("vault", "exec", "--env", "1X=convex-deploy-key", "--", "true")
    assert code == 2 and "not VAR=NAME" in err
    code, _, err = sc("vault", "exec", "--", "true")  # nothing asked for: nothing given, nothing run
    assert code == 2 and "say which entries" in err
    for var in ("PATH", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES", "PYTHONPATH", "NODE_OPTIONS", "BASH_ENV", "ENV",
                "IFS", "HOME", "SHELL", "path", "npm_config_script_shell", "GIT_SSH_COMMAND", "HTTPS_PROXY"):
        code, _, err = sc("vault", "exec", "--env", f"{var}=convex-deploy-key", "--", "true")
        assert code == 2 and f"never sets {var}" in err, (var, err)
    code, _, err = sc("vault", "exec", "--env", "K=convex-deploy-key", "--", "no-such-program-4f1c")
    assert code == 127 and "command not found" in err


def test_a_workspace_file_named_path_never_runs_an_agents_program(env: dict[str, str], tmp_path: Path) -> None:
    """Issue 12, point 3: `PATH~` holding `<agent dir>:prod:…|<key-shaped>` (and `LD_PRELOAD~`)
    in a workspace; after the migration, `vault exec -- npx` must not run the agent's `npx`."""
    cestra = Path(env["_cestra"])
    agent_bin, op_bin, marker = tmp_path / "agent-bin", tmp_path / "op-bin", tmp_path / "agent-ran"
    for folder, body in ((agent_bin, f'echo "agent $CONVEX_DEPLOY_KEY" > {marker}; echo agent'),
                         (op_bin, 'echo "operator key=$CONVEX_DEPLOY_KEY"')):
        folder.mkdir()
        (folder / "npx").write_text(f"#!/bin/sh\n{body}\n")
        (folder / "npx").chmod(0o755)
    key_shaped = "prod:evil-otter-123|QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo"
    (cestra / "PATH~").write_text(f"{agent_bin}:{key_shaped}\n")
    (cestra / "LD_PRELOAD~").write_text(f"{tmp_path / 'evil.so'}:{key_shaped}\n")
    run_env = {**env, "PATH": f"{op_bin}:{BIN}:/usr/bin:/bin"}
    p = shell(run_env, sys.executable, "-m", "console", "vault", "migrate", "--yes")
    assert p.returncode == 0 and "migration complete" in p.stdout, p.stdout + p.stderr
    names = [e.name for e in V.Vault(Path(env["SQUAD_CONSOLE_DB"]).parent / "vault.json",
                                     key=V.parse_key(KEY_HEX)).entries()]
    tries = [["--", "npx"], ["--env", "PATH=backup.PATH", "--", "npx"], ["--env", "LD_PRELOAD=backup.LD_PRELOAD", "--", "npx"]]
    tries += [["--env", n, "--", "npx"] for n in names]
    for args in tries:  # whatever the operator types, the agent's npx never runs
        p = shell(run_env, sys.executable, "-m", "console", "vault", "exec", *args)
        assert not marker.exists() and "agent" not in p.stdout, (args, p.stdout, p.stderr)
        assert p.returncode in (0, 2), (args, p.stderr)
    from console.service.vault.secrets import denied, env_var_for

    assert "PATH" not in names and "LD_PRELOAD" not in names and "backup.PATH" in names
    assert not any(denied(env_var_for(n)) for n in names), names
    p = shell(run_env, sys.executable, "-m", "console", "vault", "exec", "--env", "CONVEX_DEPLOY_KEY=convex-deploy-key",
              "--", "npx")
    assert p.returncode == 0 and p.stdout.strip() == f"operator key={DEPLOY_KEY}" and not marker.exists()


def test_put_reads_at_most_the_vault_limit(env: dict[str, str], sc: Run, tmp_path: Path) -> None:
    from console.service.vault.vault import MAX_VALUE_BYTES

    vault_file = Path(env["SQUAD_CONSOLE_DB"]).parent / "vault.json"
    code, out, err = sc("vault", "put", "zero", "--from-file", "/dev/zero")
    assert code == 2 and f"larger than the vault's limit of {MAX_VALUE_BYTES} bytes" in err and "nothing stored" in err
    code, out, err = sc("vault", "put", "big", stdin=b"x" * (MAX_VALUE_BYTES + 1))
    assert code == 2 and "the value on stdin is larger" in err
    assert not vault_file.exists()
    assert sc("vault", "put", "exact", stdin=b"y" * MAX_VALUE_BYTES)[0] == 0
    assert [e.name for e in V.Vault(vault_file).entries()] == ["exact"]


def test_a_world_writable_data_folder_is_refused_and_left_as_it_is(env: dict[str, str], sc: Run, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("SQUAD_CONSOLE_DB", str(shared / "squad.db"))
    code, out, err = sc("vault", "put", "x", stdin=b"value")
    assert code == 1 and "can be written by every user (mode 1777)" in err and "fix:" in err
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777 and list(shared.iterdir()) == []


def test_a_migration_with_something_left_is_not_complete(env: dict[str, str], sc: Run) -> None:
    veda = Path(env["_veda"])
    os.link(veda / "deploy.sh", veda / "deploy-copy.sh")  # a hard-linked script holding the key
    code, out, err = sc("vault", "migrate", "--yes")
    assert code == 1 and "migration complete" not in out
    assert "migration not complete: 2 plaintext credential(s) left" in out, out
    assert f"still in plaintext: {veda / 'deploy.sh'}: hard-linked (2 names" in out
    assert f"update by hand: {veda / 'deploy.sh'}:2:" in out
    assert 'line becomes: set -a; eval "$(squad-console vault get dotenv)"; set +a' in out  # the change to make
    assert DEPLOY_KEY not in out + err


# ----------------------------------------------------------------- the deployment key
class FakeDeployment(BaseHTTPRequestHandler):
    """Convex's env-var API and our kidCheck action, recording every request."""

    requests: list[dict[str, Any]] = []
    env: dict[str, str] = {}

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        FakeDeployment.requests.append({"path": self.path, "auth": self.headers.get("authorization"), "body": body})
        if self.path == "/api/v1/update_environment_variables":
            for change in json.loads(body)["changes"]:
                FakeDeployment.env[change["name"]] = change["value"]
            self.send_response(200)
            self.end_headers()
            return
        if self.path == "/api/action" and json.loads(body)["path"] == "console/vault:kidCheck":
            value = FakeDeployment.env.get("CONVEX_VAULT_KEY")
            answer = {"status": "success", "value": {"kid": V.parse_key(value).kid if value else None}}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_convex_key_set_sends_the_key_only_in_that_body_then_verify_by_kid(
        env: dict[str, str], sc: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeDeployment.requests, FakeDeployment.env = [], {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeDeployment)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    deploy_key = "prod:happy-otter-123|planted-deploy-key-for-env-api"
    monkeypatch.setenv("CONVEX_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("CONVEX_DEPLOY_KEY", deploy_key)
    try:
        code, out, err = sc("--store", "convex", "vault", "convex-key", "verify")
        assert code == 1 and "no CONVEX_VAULT_KEY" in out
        code, out, err = sc("--store", "convex", "vault", "convex-key", "set")
        assert code == 0 and "CONVEX_VAULT_KEY set" in out and "the deployment holds the same key" in out, err
        assert sc("--store", "convex", "vault", "convex-key", "verify")[0] == 0
        FakeDeployment.env["CONVEX_VAULT_KEY"] = OTHER_HEX
        code, out, _ = sc("--store", "convex", "vault", "convex-key", "verify")
        assert code == 1 and V.parse_key(OTHER_HEX).kid in out
    finally:
        server.shutdown()
    sets = [r for r in FakeDeployment.requests if r["path"] == "/api/v1/update_environment_variables"]
    assert len(sets) == 1 and sets[0]["auth"] == f"Convex {deploy_key}"
    assert json.loads(sets[0]["body"]) == {"changes": [{"name": "CONVEX_VAULT_KEY", "value": KEY_HEX}]}
    others = [r for r in FakeDeployment.requests if r is not sets[0]]
    assert others and all(KEY_HEX not in r["body"] and KEY_HEX not in (r["auth"] or "") for r in others)
    for _, out, err in sc.outputs:
        assert KEY_HEX not in out + err and deploy_key not in out + err


def test_convex_key_verify_through_the_real_function(env: dict[str, str], sc: Run, convex_server: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    convex_server.reset()
    monkeypatch.setenv("CONVEX_URL", convex_server.url)
    monkeypatch.setenv("CONVEX_DEPLOY_KEY", ADMIN_KEY)
    code, out, err = sc("--store", "convex", "vault", "convex-key", "verify")
    assert code == 1 and "no CONVEX_VAULT_KEY" in out and V.parse_key(KEY_HEX).kid in out, err


# --------------------------------------------------------------------- migration
def test_the_migrated_script_reads_the_key_through_the_vault(env: dict[str, str], tmp_path: Path) -> None:
    stub = tmp_path / "stub-bin"
    stub.mkdir()
    (stub / "npx").write_text('#!/bin/sh\necho "npx $* | key=$CONVEX_DEPLOY_KEY | openai=${OPENAI_API_KEY:-}"\n')
    (stub / "npx").chmod(0o755)
    run_env = {**env, "PATH": f"{stub}:{BIN}:/usr/bin:/bin"}
    cestra, veda = Path(env["_cestra"]), Path(env["_veda"])

    def scripts() -> tuple[str, str]:
        a = shell(run_env, "sh", str(cestra / "scripts" / "report.sh"), cwd=str(tmp_path))
        b = shell(run_env, "sh", "./deploy.sh", cwd=str(veda))
        assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
        return a.stdout, b.stdout

    before = scripts()
    assert f"key={DEPLOY_KEY}" in before[0] and f"openai={ENV_SECRET}" in before[1]
    p = shell(run_env, sys.executable, "-m", "console", "vault", "migrate", "--yes")
    assert p.returncode == 0 and "migration complete" in p.stdout, p.stdout + p.stderr
    assert not (cestra / ".convex-deploy-key").exists() and not (veda / ".env").exists()
    assert "squad-console vault exec --env CONVEX_DEPLOY_KEY=convex-deploy-key -- npx" in (cestra / "scripts" / "report.sh").read_text()
    assert scripts() == before
    for text in (p.stdout, p.stderr):
        for secret in (DEPLOY_KEY, AUTH_TOKEN, ENV_SECRET):
            assert secret not in text


def test_migrate_with_the_convex_store_replicates_and_records_why_the_key_step_was_skipped(
        env: dict[str, str], sc: Run, convex_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    convex_server.reset()
    monkeypatch.setenv("CONVEX_URL", convex_server.url)
    monkeypatch.setenv("CONVEX_DEPLOY_KEY", ADMIN_KEY)
    code, out, err = sc("--store", "convex", "vault", "migrate", "--yes")
    assert code == 0, out + err
    assert "convex: skipped: the deployment could not be given the key" in out and "404" in out
    from console.service.store.convex import ConvexStore

    store = ConvexStore(convex_server.url, ADMIN_KEY)
    assert {r.name for r in store.vault_list()} == {"convex-deploy-key", "convex-auth-token", "dotenv"}
    acts = store.list_activities(200)
    assert {"vault_put", "vault_migration", "vault_migrated"} <= {a.type for a in acts}
    blob = json.dumps([[a.type, a.message, a.detail] for a in acts]) + json.dumps(
        [store.vault_get(r.name).record for r in store.vault_list()])
    for secret in (DEPLOY_KEY, AUTH_TOKEN, ENV_SECRET, KEY_HEX):
        assert secret not in blob + out + err
    store.close()


def test_planted_secrets_appear_only_where_asked_for(env: dict[str, str], sc: Run, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    src = tmp_path / "f.txt"
    src.write_text(FILE_SECRET)
    allowed: list[str] = []
    sc("vault", "put", "p1", stdin=PUT_SECRET.encode())
    sc("vault", "put", "p2", "--from-file", str(src))
    sc("vault", "put", "p2", "--expected-version", "7", stdin=b"zzz")
    sc("vault", "list")
    sc("vault", "list", "--all")
    allowed.append(sc("vault", "get", "p1")[1])
    sc("vault", "migrate", "--dry-run")
    sc("vault", "migrate")  # stops before the destructive steps (no terminal, no --yes)
    sc("vault", "migrate", "--yes")
    sc("vault", "migrate", "--yes")  # again: nothing to do
    sc("vault", "list")
    sc("vault", "rm", "p1")
    sc("vault", "get", "p1")
    sc("vault", "get", "missing")
    sc("vault", "exec", "--env", "X=missing", "--", "true")
    sc("vault", "restore", "p2", "--to", str(tmp_path / "no-such-dir" / "x"))
    os.environ["CONVEX_VAULT_KEY"] = OTHER_HEX
    sc("vault", "get", "p2")
    sc("vault", "put", "p2", stdin=b"x")
    os.environ["CONVEX_VAULT_KEY"] = KEY_HEX
    secrets = [PUT_SECRET, FILE_SECRET, DEPLOY_KEY, AUTH_TOKEN, ENV_SECRET, KEY_HEX]
    searched = 0
    for args, out, err in sc.outputs:
        texts = [err] + ([] if args[:2] == ("vault", "get") else [out])
        for text in texts:
            searched += 1
            for secret in secrets:
                assert secret not in text, (args, secret)
    assert PUT_SECRET in allowed[0]
    logs = "\n".join(r.getMessage() for r in caplog.records)
    data = tmp_path / "data"
    raw = b"".join(p.read_bytes() for p in data.iterdir() if p.is_file())  # store, journal, vault, lock
    store = LocalStore(data / "squad.db")
    acts = json.dumps([[a.type, a.message, a.detail] for a in store.list_activities(1000)])
    store.close()
    assert any("vault_migration" in a for a in [acts])
    for secret in secrets:
        assert secret not in logs and secret not in acts and secret.encode() not in raw, secret
    assert searched > 30


def test_the_convex_store_takes_its_deploy_key_from_the_vault(tmp_path, convex_server, monkeypatch) -> None:
    """DESIGN §4: the deploy key comes from the vault (entry convex-deploy-key) when the
    environment does not give one."""
    import subprocess as sp
    import sys as _sys

    from console.service.vault import generate_key
    from tests.conftest import ADMIN_KEY

    convex_server.reset()
    key = generate_key().hex()
    env = {**os.environ, "SQUAD_CONSOLE_DB": str(tmp_path / "d" / "squad.db"), "CONVEX_VAULT_KEY": key,
           "SQUAD_CONSOLE_KEYRING": "off", "CONVEX_URL": convex_server.url}
    env.pop("CONVEX_DEPLOY_KEY", None)
    put = sp.run([_sys.executable, "-m", "console", "vault", "put", "convex-deploy-key"], input=ADMIN_KEY,
                 env=env, capture_output=True, text=True)
    assert put.returncode == 0, put.stderr
    p = sp.run([_sys.executable, "-m", "console", "--store", "convex", "agents", "sync"], env=env,
               capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert ADMIN_KEY not in p.stdout + p.stderr
    env.pop("CONVEX_VAULT_KEY")
    p = sp.run([_sys.executable, "-m", "console", "--store", "convex", "agents", "list"], env=env,
               capture_output=True, text=True)
    assert p.returncode == 1 and "vault put convex-deploy-key" in p.stderr
