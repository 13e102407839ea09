"""Outside text in the CLI's output is shown, never obeyed (console/text.py): no escape byte
reaches the terminal, and an exported spreadsheet cell is never a formula."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from console.text import csv_cell, json_line, visible

OSC52 = "x \x1b]52;c;UFdORUQ=\x1b\\"  # a clipboard write
OSC0 = "\x1b]0;owned\x07"  # a window title
CSI_C1 = "\x9b31m"  # an 8-bit CSI
BIDI = "evil\u202egnp.exe"  # a right-to-left override


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def raw_controls(text: str) -> list[str]:
    """Characters that a terminal would act on (C0 but newline, DEL, C1, bidi overrides)."""
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0 or 0x202A <= ord(c) <= 0x202E]


def test_visible_shows_every_control_and_keeps_text() -> None:
    assert visible(OSC52) == "x ␛]52;c;UFdORUQ=␛\\"
    assert visible(OSC0) == "␛]0;owned␇"
    assert visible(CSI_C1) == "\\u009b31m"
    assert visible(BIDI) == "evil\\u202egnp.exe"
    assert visible("line\nnext\t.") == "line␊next␉."
    assert visible("line\nnext\t.", multiline=True) == "line\nnext\t."
    assert visible("Fix [/api/login] 500s — 修正 🚀") == "Fix [/api/login] 500s — 修正 🚀"


@given(st.text())
def test_visible_never_leaves_a_control(s: str) -> None:
    assert raw_controls(visible(s)) == []
    assert "\n" not in visible(s)


@given(st.text())
def test_json_line_is_the_same_value_without_raw_controls(s: str) -> None:
    line = json_line({"m": s})
    assert json.loads(line) == {"m": s}
    assert raw_controls(line) == []


@pytest.mark.parametrize("cell, shown", [("=1+2", "'=1+2"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
                                          ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
                                          ("plain", "plain"), ("", "")])
def test_csv_cells_are_never_formulas(cell: str, shown: str) -> None:
    assert csv_cell(cell) == shown


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {"SQUAD_CONSOLE_DB": str(tmp_path / "data" / "squad.db"), "OPENCLAW_STATE_DIR": str(tmp_path / "oc")}
    assert cli(e, "agents", "sync").returncode == 0
    return e


def test_hostile_text_through_the_cli_outputs(env: dict[str, str]) -> None:
    for title in (OSC52, OSC0, CSI_C1, BIDI, "=1+2", "Fix [/api/login] 500s"):
        assert cli(env, "tasks", "add", title).returncode == 0
    p = cli(env, "heartbeat", "beat", "veda", "--error", OSC52)
    assert p.returncode == 0, p.stderr
    outputs = {
        "tasks list": cli(env, "tasks", "list"),
        "tasks list --json": cli(env, "tasks", "list", "--json"),
        "audit list": cli(env, "audit", "list"),
        "audit export": cli(env, "audit", "export"),
        "audit export csv": cli(env, "audit", "export", "--format", "csv"),
        "--text": cli(env, "--text"),
    }
    for name, p in outputs.items():
        assert p.returncode == 0, (name, p.stderr)
        assert raw_controls(p.stdout) == [] and raw_controls(p.stderr) == [], name
    assert "␛]52;c;UFdORUQ=␛\\" in outputs["tasks list"].stdout
    assert "Fix [/api/login] 500s" in outputs["tasks list"].stdout
    # the JSON still carries the exact title
    titles = {t["title"] for t in json.loads(outputs["tasks list --json"].stdout)}
    assert {OSC52, OSC0, CSI_C1, BIDI} <= titles
    rows = list(csv.DictReader(io.StringIO(outputs["audit export csv"].stdout)))
    messages = [r["message"] for r in rows]
    assert not [m for m in messages if m.startswith(("=", "+", "-", "@"))]
    assert any("=1+2" in m for m in messages)


def test_hostile_text_in_agents_feeds_opportunities_and_workspace_file_names(tmp_path: Path) -> None:
    """Agent names and roles (squad.toml), feed competitors, opportunity titles and a workspace
    file name carrying escapes: `agents list`, `check`, `pipeline feeds list / list / show` and
    `vault migrate --dry-run` print them visibly, never raw."""
    ws = tmp_path / "ws-veda"
    ws.mkdir()
    (ws / f"deploy{OSC0}.key").write_text("prod:happy-otter-123|c2VjcmV0LWRlcGxveS1rZXk=\n")
    (tmp_path / "squad.toml").write_text(
        '[[agents]]\nid = "veda"\nname = "V\\u001b]0;owned\\u0007"\nrole = "[bold]analysis[/] \\u009b31m"\n'
        f'workspace = "{ws}"\nheartbeat = "2-59/15 * * * *"\n')
    env = {"SQUAD_CONSOLE_CONFIG": str(tmp_path / "squad.toml"), "SQUAD_CONSOLE_DB": str(tmp_path / "d" / "squad.db"),
           "OPENCLAW_STATE_DIR": str(tmp_path / "oc"), "SQUAD_CONSOLE_KEYRING": "off"}
    assert cli(env, "agents", "sync").returncode == 0
    assert cli(env, "pipeline", "feeds", "add", "http://127.0.0.1:9/rss", "--competitor", OSC52).returncode == 0
    p = cli(env, "pipeline", "opportunities", "add", f"Churn {OSC0} [/x]")
    assert p.returncode == 0, p.stderr
    opp = next(w for w in p.stdout.split() if w.startswith("o"))
    outputs = {
        "agents list": cli(env, "agents", "list"),
        "check": cli(env, "check", "--no-gateway"),
        "check --json": cli(env, "check", "--json", "--no-gateway"),
        "pipeline feeds list": cli(env, "pipeline", "feeds", "list"),
        "pipeline list": cli(env, "pipeline", "list"),
        "pipeline show": cli(env, "pipeline", "show", opp),
        "vault migrate --dry-run": cli(env, "vault", "migrate", "--dry-run"),
    }
    for name, p in outputs.items():
        assert "Traceback" not in p.stderr, (name, p.stderr)
        assert raw_controls(p.stdout) == [] and raw_controls(p.stderr) == [], name
    assert "V␛]0;owned␇" in outputs["agents list"].stdout
    assert "␛]52;c;UFdORUQ=␛\\" in outputs["pipeline feeds list"].stdout
    assert "[/x]" in outputs["pipeline show"].stdout
    assert "deploy␛]0;owned␇.key" in outputs["vault migrate --dry-run"].stdout
    assert "c2VjcmV0" not in "".join(p.stdout + p.stderr for p in outputs.values())
