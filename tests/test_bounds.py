"""Bad input is refused with a clear message saying where, exit code 2 and nothing stored
(issue 12, point 10): each of these used to be accepted, or to end in a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.service.store.sqlite import LocalStore


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {"SQUAD_CONSOLE_DB": str(tmp_path / "data" / "squad.db"), "OPENCLAW_STATE_DIR": str(tmp_path / "oc")}
    assert cli(e, "agents", "sync").returncode == 0
    return e


def refused(p: subprocess.CompletedProcess[str], *words: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and all(w in p.stderr for w in words), p.stderr


@pytest.mark.parametrize("since", ["99999999999d", "²d", "1000000000d", "9999999999999h", "yesterday"])
def test_audit_export_since_out_of_range_or_not_an_age(env: dict[str, str], since: str) -> None:
    refused(cli(env, "audit", "export", "--since", since), "--since")


@pytest.mark.parametrize("limit", ["0", "-3", "1e9", "x"])
def test_audit_list_limit(env: dict[str, str], limit: str) -> None:
    refused(cli(env, "audit", "list", "--limit", limit), "--limit")


@pytest.mark.parametrize("duration", ["-5", "1e999", "nan", "inf", "86400001"])
def test_heartbeat_duration(env: dict[str, str], duration: str) -> None:
    refused(cli(env, "heartbeat", "beat", "veda", "--duration", duration), "--duration")
    assert LocalStore(Path(env["SQUAD_CONSOLE_DB"])).list_heartbeats("veda") == []


def write_config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "squad.toml"
    path.write_text(text)
    return {"SQUAD_CONSOLE_CONFIG": str(path), "SQUAD_CONSOLE_DB": str(tmp_path / "d" / "squad.db")}


def test_a_grace_longer_than_a_day(tmp_path: Path) -> None:
    e = write_config(tmp_path, '[[agents]]\nid = "veda"\ngrace = "1000000d"\n')
    refused(cli(e, "agents", "list"), "grace", "longer than a day", "squad.toml:3")


def test_a_cron_that_never_fires(tmp_path: Path) -> None:
    e = write_config(tmp_path, '[[agents]]\nid = "veda"\nheartbeat = "59 23 31 2 *"\n')
    refused(cli(e, "agents", "list"), "never fires", "squad.toml:3")


@pytest.mark.parametrize("url, words", [
    ("http://happy-otter-123.convex.cloud", ("must use https",)),
    ("https://admin:hunter2@happy-otter-123.convex.cloud", ("user name or password",)),
    ("ftp://happy-otter-123.convex.cloud", ("http(s) URL",)),
])
def test_the_convex_url_must_be_https_and_carry_no_password(tmp_path: Path, url: str, words: tuple[str, ...]) -> None:
    p = cli({"CONVEX_URL": url, "CONVEX_DEPLOY_KEY": "prod:abc|secret", "SQUAD_CONSOLE_DB": str(tmp_path / "s.db")},
            "--store", "convex", "agents", "list")
    refused(p, "CONVEX_URL", *words)
    assert "hunter2" not in p.stderr + p.stdout and "secret" not in p.stderr + p.stdout


def test_a_loopback_convex_url_may_be_http(tmp_path: Path) -> None:
    from console.config import convex_url_problem

    assert convex_url_problem("http://127.0.0.1:3210") is None and convex_url_problem("https://x.convex.cloud") is None


def test_survey_import_from_an_endless_file(env: dict[str, str]) -> None:
    p = cli(env, "pipeline", "survey", "import", "/dev/zero", "--opportunity", "o1", timeout=30)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert "larger than 8 MiB" in p.stderr, p.stderr


def test_server_words_never_carry_the_deploy_key_or_a_password(tmp_path: Path) -> None:
    """A server that echoes the deploy key in its error, reached through a URL with a password:
    neither reaches `check --json`, which still prints JSON (exit 3, UNKNOWN)."""
    import http.server
    import json
    import threading

    key = "prod:happy-otter-123|c2VjcmV0LWRlcGxveS1rZXktdmFsdWU="

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"code": "BadAdminKey",
                               "message": f"the key {self.headers['Authorization']} is not valid"}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from console.service.store.convex import ConvexStore
        from console.service.store import StoreAuthError

        store = ConvexStore(f"http://admin:hunter2@127.0.0.1:{server.server_address[1]}", key, max_retries=0)
        with pytest.raises(StoreAuthError) as err:
            store.list_agents()
        shown = err.value.describe() + json.dumps(err.value.data) + repr(store) + store.describe()
        assert "c2VjcmV0" not in shown and "hunter2" not in shown and "refused the deploy key" in shown
        p = cli({"CONVEX_URL": f"http://127.0.0.1:{server.server_address[1]}", "CONVEX_DEPLOY_KEY": key,
                 "SQUAD_CONSOLE_DB": str(tmp_path / "s.db")}, "--store", "convex", "check", "--json", "--no-gateway")
        assert p.returncode == 3
        doc = json.loads(p.stdout)
        assert doc["status"] == "unknown" and doc["error"]["kind"] == "auth"
        assert "c2VjcmV0" not in p.stdout + p.stderr
    finally:
        server.shutdown()
