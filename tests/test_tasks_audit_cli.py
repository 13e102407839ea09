"""`squad-console tasks` and `audit` as a user runs them: create → assign → complete, each audited."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {"SQUAD_CONSOLE_DB": str(tmp_path / "data" / "squad.db"), "OPENCLAW_STATE_DIR": str(tmp_path / "oc")}
    assert cli(e, "agents", "sync").returncode == 0
    return e


def test_create_assign_complete_each_audited(env: dict[str, str]) -> None:
    p = cli(env, "tasks", "add", "Compare competitor pricing pages", "--description", "3 competitors")
    assert p.returncode == 0, p.stderr
    task_id = p.stdout.split()[0]
    assert "inbox" in p.stdout
    p = cli(env, "tasks", "assign", task_id, "veda", "orin")
    assert p.returncode == 0 and "assigned to veda, orin" in p.stdout
    p = cli(env, "tasks", "move", task_id, "in_progress", "--actor", "veda")
    assert p.returncode == 0
    p = cli(env, "tasks", "done", task_id)
    assert p.returncode == 0 and "done" in p.stdout
    listing = json.loads(cli(env, "tasks", "list", "--json").stdout)
    assert listing == [{"id": task_id, "title": "Compare competitor pricing pages", "status": "done",
                        "assignees": ["veda", "orin"], "updatedAt": listing[0]["updatedAt"]}]
    log = [json.loads(line) for line in cli(env, "audit", "export").stdout.splitlines()]
    kinds = [e["type"] for e in log if e["targetId"] == task_id]
    assert kinds == ["task_created", "task_assigned", "task_moved", "task_completed"]
    assert [e["actor"] for e in log if e["targetId"] == task_id] == ["operator", "operator", "veda", "operator"]


def test_bad_references_are_clear(env: dict[str, str]) -> None:
    p = cli(env, "tasks", "add", "x", "--assign", "nova")
    assert p.returncode == 2 and "unknown agent(s) nova" in p.stderr and "agents sync" in p.stderr
    p = cli(env, "tasks", "done", "t999")
    assert p.returncode == 2 and "no single task matches" in p.stderr
    p = cli(env, "tasks", "move", "t1", "shipped")
    assert p.returncode == 2 and "invalid choice" in p.stderr
    assert "Traceback" not in p.stderr


def test_audit_export_csv_and_since(env: dict[str, str]) -> None:
    cli(env, "tasks", "add", "one")
    rows = list(csv.reader(io.StringIO(cli(env, "audit", "export", "--format", "csv").stdout)))
    assert rows[0][:4] == ["id", "at", "time", "type"]
    assert [r[3] for r in rows[1:]] == ["agent_registered"] * 3 + ["task_created"]
    assert cli(env, "audit", "export", "--since", "2999-01-01T00:00Z").stdout == ""
    assert len(cli(env, "audit", "export", "--since", "1h").stdout.splitlines()) == 4
    p = cli(env, "audit", "export", "--since", "last tuesday")
    assert p.returncode == 2 and "neither an ISO 8601 time nor an age" in p.stderr


def test_audit_list_filters(env: dict[str, str]) -> None:
    cli(env, "tasks", "add", "one", "--actor", "cestra")
    out = cli(env, "audit", "list", "--actor", "cestra").stdout
    assert "task_created" in out and "agent_registered" not in out
    out = cli(env, "audit", "list", "--kind", "agent_registered", "--limit", "2").stdout
    assert out.count("agent_registered") == 2


def test_rm_takes_a_task_off_the_board_and_audits_it(env: dict[str, str]) -> None:
    p = cli(env, "tasks", "add", "Fix [/api/login] 500s")
    task_id = p.stdout.split()[0]
    p = cli(env, "tasks", "rm", task_id)
    assert p.returncode == 0 and "removed  Fix [/api/login] 500s" in p.stdout
    assert json.loads(cli(env, "tasks", "list", "--json").stdout) == []
    audit = cli(env, "audit", "list")
    assert "task_removed" in audit.stdout and "task removed: Fix [/api/login] 500s" in audit.stdout
    again = cli(env, "tasks", "rm", task_id)
    assert again.returncode == 2 and "no single task matches" in again.stderr
