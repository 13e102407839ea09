"""`squad-console` as a user runs it: a real subprocess, real files, real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from console.cli import BUILT
from tests.conftest import ADMIN_KEY

SUBCOMMANDS = list(BUILT)


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "console", *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=60
    )


def no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stdout + p.stderr


def test_version() -> None:
    p = run("--version")
    assert p.returncode == 0 and p.stdout.strip() == "squad-console 0.1.0"


def test_the_command_skeleton() -> None:
    assert set(SUBCOMMANDS) >= {"agents", "heartbeat", "vault", "pipeline", "tasks", "audit", "service", "check", "serve"}
    top = run("--help")
    assert top.returncode == 0
    for flag in ("--version", "--config", "--store"):
        assert flag in top.stdout
    for name in SUBCOMMANDS:
        assert name in top.stdout
        p = run(name, "--help")
        assert p.returncode == 0 and p.stdout.startswith(f"usage: squad-console {name}"), (name, p.stderr)


def test_an_unknown_command_is_a_usage_error() -> None:
    p = run("frobnicate")
    assert p.returncode == 2 and "invalid choice" in p.stderr
    no_traceback(p)


def test_a_closed_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    from console.service.store.sqlite import LocalStore

    store = LocalStore(tmp_path / "squad.db")
    with store._write() as db:  # enough log to overflow the pipe after the reader has gone
        db.executemany("INSERT INTO activities (type, message, actor, created_at) VALUES ('note', ?, 'x', ?)",
                       [(f"entry {i} " + "x" * 200, 1e12 + i) for i in range(5000)])
    store.close()
    env = {**os.environ, "SQUAD_CONSOLE_DB": str(tmp_path / "squad.db")}
    p = subprocess.run(f"{sys.executable} -m console audit export | head -c 10", shell=True, env=env,
                       capture_output=True, text=True)
    assert p.stdout == '{"id": "e1'
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr


def test_python_dash_m_and_the_entry_point_agree() -> None:
    exe = Path(sys.executable).with_name("squad-console")
    p = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "squad-console 0.1.0"


def test_usage_errors_exit_2_without_traceback() -> None:
    p = run("--store", "postgres")
    assert p.returncode == 2 and "invalid choice" in p.stderr and "--help" in p.stderr
    no_traceback(p)


def test_default_run_prints_the_seed_squad_and_sync_registers_it() -> None:
    p = run()
    assert p.returncode == 0, p.stderr
    assert "store: local" in p.stdout and "Agents (0/3 registered)" in p.stdout
    for agent in ("cestra", "veda", "orin"):
        assert agent in p.stdout
    s1 = run("agents", "sync")
    assert s1.returncode == 0 and s1.stdout.count("registered") == 3
    s2 = run("agents", "sync")
    assert s2.stdout.count("unchanged") == 3
    p = run()
    assert "Agents (3/3 registered)" in p.stdout and "agent_registered" in p.stdout


def test_a_bad_config_is_reported_with_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "squad.toml"
    bad.write_text('[store]\nkind = "local"\n\n[[agents]]\nid = "veda"\nheartbeat = "*/15 * * *"\n')
    p = run("--config", str(bad))
    assert p.returncode == 2
    assert f"{bad}:6: agents[0].heartbeat: '*/15 * * *' is not a 5-field cron expression" in p.stderr
    no_traceback(p)


def test_an_unreachable_convex_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = run("--store", "convex", env={"CONVEX_URL": f"http://127.0.0.1:{port}", "CONVEX_DEPLOY_KEY": ADMIN_KEY})
    assert p.returncode == 1
    assert f"cannot connect to Convex at http://127.0.0.1:{port}: connection refused" in p.stderr
    assert "fix: check CONVEX_URL" in p.stderr and ADMIN_KEY not in p.stderr
    no_traceback(p)


def test_convex_without_url_or_key() -> None:
    p = run("--store", "convex")
    assert p.returncode == 1 and "needs the deployment URL" in p.stderr and "CONVEX_URL" in p.stderr
    p = run("--store", "convex", env={"CONVEX_URL": "https://happy-otter-123.convex.cloud"})
    assert p.returncode == 1 and "no Convex deploy key" in p.stderr and "CONVEX_DEPLOY_KEY" in p.stderr
    no_traceback(p)


def test_a_rejected_deploy_key(convex_server) -> None:
    wrong = "prod:happy-otter-123|eyJ2Ijoibm90LXRoZS1rZXkifQ=="
    p = run("--store", "convex", env={"CONVEX_URL": convex_server.url, "CONVEX_DEPLOY_KEY": wrong})
    assert p.returncode == 1
    assert "refused the deploy key (403 BadDeployKey" in p.stderr and "fix: set CONVEX_DEPLOY_KEY" in p.stderr
    assert wrong not in p.stderr + p.stdout and "eyJ2" not in p.stderr
    no_traceback(p)


def test_the_convex_store_end_to_end(convex_server) -> None:
    convex_server.reset()
    env = {"CONVEX_URL": convex_server.url, "CONVEX_DEPLOY_KEY": ADMIN_KEY}
    s = run("--store", "convex", "agents", "sync", env=env)
    assert s.returncode == 0, s.stderr
    p = run("--store", "convex", env=env)
    assert p.returncode == 0 and "Agents (3/3 registered)" in p.stdout and f"convex 127.0.0.1:{convex_server.port}" in p.stdout


def test_colour_environment_for_the_console() -> None:
    from console.cli import color_environment

    assert color_environment({"TERM": "xterm-256color"}, "auto") == {"COLORTERM": "truecolor"}
    assert color_environment({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "auto") == {}
    assert color_environment({"TERM": "screen"}, "auto") == {}
    assert color_environment({"TERM": "xterm-256color", "NO_COLOR": ""}, "auto") == {"NO_COLOR": "1"}
    assert color_environment({}, "256") == {"TEXTUAL_COLOR_SYSTEM": "256"}
    assert color_environment({}, "16") == {"TEXTUAL_COLOR_SYSTEM": "standard"}
