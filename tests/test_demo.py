"""The demo squad (`console/service/demo.py`): a generated week that reads back like the store's own."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from console.config import load_settings, seed_agents
from console.service.demo import DEMO_GATEWAY_TOKEN, WHATSAPP_401, Demo, build_demo, main
from console.service.openclaw.channels import channel_status
from console.service.openclaw.config import load_openclaw_config
from console.service.openclaw.cron import load_cron, run_to_heartbeat
from console.service.openclaw.cron_commands import compare_job
from console.service.openclaw.diagnose import diagnose
from console.service.openclaw.gateway import gateway_url, probe_gateway
from console.service.openclaw.runner import redact
from console.service.store.sqlite import LocalStore
from console.service.models import TASK_STATUSES, HeartbeatIn
from console.service.health.squad import squad_health

NOW = 1_795_200_123_456.0  # a fixed present, not on a slot
HOUR = 3_600_000.0
DAY = 24 * HOUR
WEEK = 7 * DAY


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return build_demo(tmp_path_factory.mktemp("demo") / "squad", NOW)


@pytest.fixture()
def store(demo: Demo):
    s = LocalStore(demo.db_path, clock=lambda: NOW)
    yield s
    s.close()


def test_env_names_the_three_files(demo: Demo) -> None:
    assert demo.env == {
        "SQUAD_CONSOLE_CONFIG": str(demo.config_path),
        "SQUAD_CONSOLE_DB": str(demo.db_path),
        "OPENCLAW_STATE_DIR": str(demo.state_dir),
    }
    assert demo.config_path.is_file() and demo.db_path.is_file() and demo.state_dir.is_dir()
    for path in (demo.config_path, demo.state_dir / "openclaw.json", demo.root / "DEMO.md"):
        assert "DEMO DATA" in path.read_text()


def test_config_is_the_seed_squad(demo: Demo) -> None:
    settings = load_settings(demo.config_path, env=demo.env)
    assert settings.source == demo.config_path
    assert settings.agents == seed_agents(demo.state_dir)
    assert [(a.id, a.heartbeat, a.tz, a.grace) for a in settings.agents] == [
        ("cestra", "*/15 * * * *", "UTC", 300.0),
        ("veda", "2-59/15 * * * *", "UTC", 300.0),
        ("orin", "4-59/15 * * * *", "UTC", 300.0),
    ]
    assert settings.store.kind == "local" and settings.store.local_path() == demo.db_path
    assert settings.openclaw.state_dir == demo.state_dir
    # the same through the environment alone, as `squad-console --demo` runs it
    assert load_settings(env=demo.env).agents == settings.agents


def test_health_cestra_up_veda_and_orin_failing_since_the_401(demo: Demo, store: LocalStore) -> None:
    settings = load_settings(demo.config_path, env=demo.env)
    health = {h.agent_id: h for h in squad_health(store, settings.agents, NOW)}
    assert list(health) == ["cestra", "veda", "orin"]
    cestra = health["cestra"]
    assert cestra.registered and cestra.status.status in ("up", "late")
    assert cestra.uptime_7d.time_based is not None and cestra.uptime_7d.time_based > 0.97
    assert cestra.uptime_7d.run_based is not None and 0.97 < cestra.uptime_7d.run_based < 1.0  # two misses
    assert cestra.last_flip == "up"
    for agent_id in ("veda", "orin"):
        h = health[agent_id]
        assert h.status.status == "failing", h.status
        assert h.last_flip == "failing"  # the stored flips agree: the daemon would record nothing new
        assert h.last_beat is not None and h.last_beat.outcome == "error"
        assert h.last_beat.error == f"delivery failed: {WHATSAPP_401}"
        assert h.last_beat.source == "openclaw" and h.last_beat.run_id.startswith("openclaw:")
        assert h.status.since is not None and 35 * HOUR < NOW - h.status.since < 37 * HOUR
        assert h.uptime_24h.time_based == 0.0
        assert 0.7 < (h.uptime_7d.time_based or 0) < 0.85
    for h in health.values():
        assert 90 <= h.beats_24h <= 97
        assert 1500 * h.beats_24h <= h.tokens_24h <= 3000 * h.beats_24h
        assert 0.002 * h.beats_24h <= h.cost_24h <= 0.0045 * h.beats_24h


def test_a_week_of_beats_at_every_slot(demo: Demo, store: LocalStore) -> None:
    agents = {a.agent_id: a for a in store.list_agents()}
    assert set(agents) == {"cestra", "veda", "orin"}
    for a in agents.values():
        assert WEEK < NOW - a.created_at < WEEK + HOUR  # registered a week ago
        assert a.updated_at is not None and a.created_at <= a.updated_at <= NOW
    beats = store.list_heartbeats(limit=100_000)
    by_agent: dict[str, list] = {}
    for b in beats:
        by_agent.setdefault(b.agent_id, []).append(b)
        assert b.model == "claude-haiku-4-5" and 1500 <= (b.tokens or 0) <= 3000
        assert 0.0019 <= (b.cost_usd or 0) <= 0.0043 and 20_000 <= (b.duration_ms or 0) <= 70_000
        assert b.at <= b.created_at <= NOW
    assert len(by_agent["veda"]) == len(by_agent["orin"]) == pytest.approx(7 * 96, abs=4)
    assert len(by_agent["cestra"]) == len(by_agent["veda"]) - 2  # two missed slots
    outage = [b for b in by_agent["veda"] if b.outcome == "error"]
    assert 35 * HOUR < NOW - outage[0].at < 37 * HOUR and all(b.outcome == "ok" for b in by_agent["cestra"])
    # each beat jittered 10-50 s after its slot, except Cestra's late one
    offsets = [(b.at - 0) % 900_000 - {"cestra": 0, "veda": 120_000, "orin": 240_000}[b.agent_id] for b in beats]
    assert sum(1 for o in offsets if not 10_000 <= o <= 50_000) == 1
    flips = store.list_flips()
    assert [(f.agent_id, f.to_status) for f in flips if f.agent_id == "cestra"] == [
        ("cestra", "up"), ("cestra", "down"), ("cestra", "up"), ("cestra", "down"), ("cestra", "up")]
    assert [f.to_status for f in flips if f.agent_id == "veda"] == ["up", "failing"]


def test_rows_are_the_stores_own(demo: Demo, store: LocalStore, tmp_path: Path) -> None:
    """Every heartbeat and flip replayed through the store's public methods, at the demo's insertion
    times, gives the same rows; the activities point at the right rows."""
    db = sqlite3.connect(demo.db_path)
    db.row_factory = sqlite3.Row
    clock = [0.0]
    replay = LocalStore(tmp_path / "replay.db", clock=lambda: clock[0])
    rows = db.execute("SELECT * FROM heartbeats ORDER BY seq").fetchall()
    assert [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)
    for r in rows:
        clock[0] = r["created_at"]
        replay.record_heartbeat(HeartbeatIn(
            r["agent_id"], r["at"], r["outcome"], r["source"], r["run_id"], r["duration_ms"], r["error"],
            r["delivery"], r["model"], r["tokens"], r["cost_usd"]))
    for f in db.execute("SELECT * FROM flips ORDER BY seq").fetchall():
        clock[0] = f["created_at"]
        replay.record_flip(f["agent_id"], f["at"], f["from_status"], f["to_status"], f["reason"], actor="service")
    theirs = sqlite3.connect(replay.path)
    for table in ("heartbeats", "flips"):
        assert [tuple(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY seq").fetchall()] == [
            tuple(r) for r in theirs.execute(f"SELECT * FROM {table} ORDER BY seq").fetchall()]
    replay.close()

    acts = db.execute("SELECT * FROM activities ORDER BY seq").fetchall()
    assert [a["created_at"] for a in acts] == sorted(a["created_at"] for a in acts)
    agents = {f"a{r['seq']}": r["agent_id"] for r in db.execute("SELECT seq, agent_id FROM agents")}
    beats = {f"h{r['seq']}": r for r in rows}
    failed = [a for a in acts if a["type"] == "heartbeat_failed"]
    for a in failed:
        beat = beats[a["target_id"]]
        assert beat["outcome"] == "error" and agents[a["agent_id"]] == beat["agent_id"]
        assert a["created_at"] == beat["created_at"] and a["actor"] == "openclaw"
        assert json.loads(a["detail"]) == {"agentId": beat["agent_id"], "runId": beat["run_id"]}
    # the first failed run of the outage, then one every 6 h: 1 + 36/6 per agent at most
    per_agent = {x: sum(1 for a in failed if agents[a["agent_id"]] == x) for x in ("veda", "orin")}
    assert all(5 <= n <= 7 for n in per_agent.values()), per_agent
    flip_acts = [a for a in acts if a["type"].startswith("heartbeat_") and a["type"] != "heartbeat_failed"]
    assert len(flip_acts) == db.execute("SELECT count(*) FROM flips").fetchone()[0]
    # the change counters are what the triggers counted: one per insert or update
    versions = dict(db.execute("SELECT name, version FROM versions").fetchall())
    n_agent_writes = sum(1 for a in acts if a["type"] in ("agent_registered", "agent_updated"))
    n_task_writes = sum(1 for a in acts if a["type"].startswith("task_"))
    assert {k: versions[k] for k in ("agents", "tasks")} == {"agents": n_agent_writes, "tasks": n_task_writes}
    assert versions["feeds"] > 0 and versions["opportunities"] > 0  # the pipeline's own tables hold the story
    db.close()


def test_tasks_messages_and_decisions(demo: Demo, store: LocalStore) -> None:
    tasks = store.list_tasks()
    assert 7 <= len(tasks) <= 10
    statuses = {t.status for t in tasks}
    assert len(statuses) >= 5 and statuses <= set(TASK_STATUSES)
    agent_ids = {a.id for a in store.list_agents()}
    assert all(set(t.assignee_ids) <= agent_ids for t in tasks)
    assert any(t.assignee_ids for t in tasks if t.status != "inbox")
    snap = store.snapshot(limit=10_000)
    assert snap.agents is not None and len(snap.agents) == 3 and snap.tasks is not None
    recent = [m for m in snap.messages if m.created_at > NOW - DAY]
    assert len(recent) >= 5 and len({m.from_agent_id for m in recent}) == 3  # inter-agent comms
    assert all(m.from_agent_id in agent_ids for m in snap.messages)
    kinds = {a.type for a in store.list_activities(limit=10_000)}
    assert {"agent_registered", "task_created", "task_assigned", "task_moved", "task_completed",
            "message_sent", "decision_made", "heartbeat_failed", "heartbeat_failing", "heartbeat_up"} <= kinds
    decisions = [a for a in store.list_activities(limit=10_000) if a.type == "decision_made"]
    assert {a.actor for a in decisions} == {"cestra"} and len(decisions) == 3
    # one story: the decisions the overview counts are the Pipeline screen's opportunities (issue 15)
    verdicts = {o.title: o.stage for o in store.list_opportunities()}
    assert verdicts == {"Competitor price tracker": "no_go", "Supplier lead-time digest": "more_data",
                        "Shopify churn-risk alerts": "go", "Agency reporting add-on": "validation"}
    assert len(store.list_feeds()) == 3 and len(store.list_signals()) == 7


def test_openclaw_folder_loads_and_diagnoses_the_whatsapp_logout(demo: Demo) -> None:
    settings = load_settings(demo.config_path, env=demo.env)
    config = load_openclaw_config(settings.openclaw.openclaw_json(), settings.openclaw.state_dir, demo.env)
    assert [a.id for a in config.agents] == ["cestra", "veda", "orin"]
    assert [a.workspace for a in config.agents] == [Path(a.workspace or "") for a in settings.agents]
    assert config.token == DEMO_GATEWAY_TOKEN and config.agent_to_agent and "whatsapp" in config.channels
    cron = load_cron(demo.state_dir, runner=None)
    assert {j.agent_id for j in cron.jobs} == {"cestra", "veda", "orin"} and not cron.notes
    for job in cron.jobs:
        runs = cron.runs[job.id]
        assert 90 <= len(runs) <= 97 and all(NOW - DAY < r.ts <= NOW for r in runs)
        assert compare_job(job, next(a.heartbeat for a in settings.agents if a.id == job.agent_id)) == []
    cestra = next(j for j in cron.jobs if j.agent_id == "cestra")
    assert cestra.schedule.exact
    assert all(r.model and r.tokens and r.cost_usd and not r.delivery_failed for r in cron.runs[cestra.id])
    veda = next(j for j in cron.jobs if j.agent_id == "veda")
    assert cron.runs[veda.id][-1].delivery_failed and cron.runs[veda.id][-1].delivery_error == WHATSAPP_401
    assert all(r.delivery_failed for r in cron.runs[veda.id])  # the 401 began ~36 h ago
    # the runs are the store's beats: collecting them again would only find duplicates
    with closing(LocalStore(demo.db_path)) as store:
        stored = {b.run_id: b for b in store.list_heartbeats(limit=100_000)}
        for job in cron.jobs:
            for run in cron.runs[job.id]:
                beat = run_to_heartbeat(job, run)
                got = stored[beat.effective_run_id()]
                assert (got.at, got.outcome, got.error, got.tokens, got.cost_usd, got.delivery) == (
                    beat.at, beat.outcome, beat.error, beat.tokens, beat.cost_usd, beat.delivery)

    url = gateway_url(settings.openclaw.gateway, config)
    assert url == "http://127.0.0.1:9"
    gateway = probe_gateway(url, config.token, timeout=1.0)
    assert not gateway.reachable
    channels = channel_status(demo.state_dir, config, runner=None)
    causes = diagnose("veda", config=config, cron=cron, gateway=gateway, channels=channels,
                      schedule_cron="2-59/15 * * * *", tz="UTC")
    codes = [c.code for c in causes]
    assert "whatsapp_logged_out" in codes
    fix = next(c for c in causes if c.code == "whatsapp_logged_out").fix
    assert "openclaw channels login --channel whatsapp" in fix
    assert DEMO_GATEWAY_TOKEN not in json.dumps([c.detail for c in causes])
    cestra_causes = diagnose("cestra", config=config, cron=cron, gateway=gateway, channels=channels,
                             schedule_cron="*/15 * * * *", tz="UTC")
    assert "whatsapp_logged_out" not in [c.code for c in cestra_causes]


def test_plaintext_credentials_are_there_and_fake(demo: Demo) -> None:
    ws = demo.state_dir / "workspace-cestra"
    key = (ws / ".convex-deploy-key").read_text().strip()
    name, _, secret = key.partition("|")
    assert name == "prod:demo-squad-123" and len(secret) >= 40
    assert b"NOT a real" in base64.b64decode(secret)
    token = (ws / ".convex-auth-token").read_text().strip()
    assert token.count(".") == 2
    assert "demo" in base64.urlsafe_b64decode(token.split(".")[1] + "==").decode()
    report = (ws / "scripts" / "report.sh").read_text()
    assert "CONVEX_DEPLOY_KEY=$(cat .convex-deploy-key) npx convex run" in report and "DEMO DATA" in report
    assert (ws / "scripts" / "report.sh").stat().st_mode & 0o111
    for name in ("HEARTBEAT.md", "TOOLS.md"):
        assert "DEMO DATA" in (ws / name).read_text()
    for agent in ("veda", "orin"):
        assert "DEMO DATA" in (demo.state_dir / f"workspace-{agent}" / "HEARTBEAT.md").read_text()
    env = (demo.state_dir / "workspace-veda" / ".env").read_text()
    assert "DEMO DATA" in env and f"CONVEX_DEPLOY_KEY={key}" in env
    # and the redaction the console applies to OpenClaw's texts catches the fake key's shape
    assert key not in redact(f"deploy failed with {key}")


def _contents(root: Path) -> dict[str, object]:
    """Every table of the store and every file, with the root's path taken out."""
    db = sqlite3.connect(root / "squad.db")
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    out: dict[str, object] = {t: db.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
    db.close()
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("squad.db"):
            out[str(path.relative_to(root))] = (path.read_text(), path.stat().st_mode)
    return json.loads(json.dumps(out).replace(str(root), "<root>"))


def test_deterministic_and_fast(tmp_path: Path) -> None:
    start = time.process_time()  # CPU time: a machine busy with other work does not count
    a = build_demo(tmp_path / "a", NOW, seed=3)
    elapsed = time.process_time() - start
    b = build_demo(tmp_path / "b", NOW, seed=3)
    assert _contents(a.root) == _contents(b.root)
    c = build_demo(tmp_path / "c", NOW, seed=4)
    assert _contents(a.root) != _contents(c.root)
    assert elapsed < 2.0, f"build_demo took {elapsed:.2f} s"


def test_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        build_demo(tmp_path / "x", NOW)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_main_prints_the_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "m"), "--now", str(NOW)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("=")[0] for line in lines] == [
        "export SQUAD_CONSOLE_CONFIG", "export SQUAD_CONSOLE_DB", "export OPENCLAW_STATE_DIR"]
    assert (tmp_path / "m" / "squad.db").is_file()
    assert main([str(tmp_path / "m")]) == 2  # not again into the same folder


def test_no_textual_import() -> None:
    """The app imports the demo, not the other way round (DESIGN §2)."""
    import subprocess
    import sys

    code = "import sys, console.service.demo\nprint(any(m == 'textual' or m.startswith('textual.') for m in sys.modules))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "False"


def test_a_demo_killed_without_cleaning_up_leaves_nothing_behind(tmp_path: Path) -> None:
    """A demo ended by a closed terminal (SIGHUP) or a killed tmux cannot remove its folder; the
    next demo removes it, and only it: a live demo's folder, a folder without a pid and other
    files stay."""
    import os
    import subprocess
    import sys

    from console.cli import DEMO_PREFIX, sweep_demo_folders

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    dead, live, unknown = (tmp_path / f"{DEMO_PREFIX}{n}" for n in ("dead", "live", "unknown"))
    for folder, pid in ((dead, gone), (live, str(os.getpid())), (unknown, None)):
        (folder / "demo").mkdir(parents=True)
        if pid:
            (folder / "pid").write_text(pid, encoding="ascii")
    other = tmp_path / "squad-console-other"
    other.mkdir()
    assert sweep_demo_folders(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and unknown.exists() and other.exists()
