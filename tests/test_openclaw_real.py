"""The adapter against the real OpenClaw 2026.9.6: one gateway for the session (conftest's
`real_openclaw`, tests/real_openclaw.py), the seed's squad, real forced runs. Nothing recorded by
hand: every expectation here is what the real CLI and gateway did.

These tests FAIL (never skip) when the tooling is missing: `make test` installs it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from console.service.openclaw.channels import channel_report
from console.service.openclaw.config import load_openclaw_config
from console.service.openclaw.cron import heartbeat_jobs, load_cron, native_heartbeat_jobs, openclaw_staggers
from console.service.openclaw.cron_commands import compare_job, cron_add_command
from console.service.openclaw.diagnose import diagnose
from console.service.openclaw.errors import OpenClawError
from console.service.openclaw.gateway import probe_gateway
from console.service.openclaw.state_db import read_cron_state, state_db_path

pytestmark = [pytest.mark.openclaw, pytest.mark.timeout(600)]

SEED = {"cestra": "*/15 * * * *", "veda": "2-59/15 * * * *", "orin": "4-59/15 * * * *"}
ROOT = Path(__file__).resolve().parent.parent


def runner(gw, env: dict[str, str] | None = None, timeout: float = 60.0):
    """A runner calling the real CLI in the gateway's environment (or `env`)."""
    env = env or gw.env()

    def run(argv: Sequence[str]) -> tuple[int, str, str]:
        p = subprocess.run([str(gw.tools.openclaw), *argv[1:]], capture_output=True, text=True, env=env,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout, p.stderr

    return run


def console(gw, *args: str, env: dict[str, str] | None = None, tmp: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """`squad-console ARGS` in a subprocess with the real openclaw on PATH, a store of its own."""
    base = env or gw.env()
    full = {**base, "PYTHONPATH": str(ROOT), "SQUAD_CONSOLE_DB": str(tmp / "squad.db"),
            "XDG_CONFIG_HOME": str(tmp / "xdg"), "XDG_DATA_HOME": str(tmp / "xdg-data"),
            "OPENCLAW_GATEWAY_PORT": str(gw.port)}
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True, text=True, env=full,
                          timeout=timeout, cwd=tmp, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------------------
# jobs and runs


def test_jobs_from_the_real_cli(real_openclaw) -> None:
    gw = real_openclaw
    cron = load_cron(gw.state_dir, runner=runner(gw), runs_for=set())
    assert cron.source == "cli" and cron.cli_error is None and cron.notes == []
    by_name = {j.name: j for j in cron.jobs}
    for agent, expr in SEED.items():
        job = by_name[f"{agent}-heartbeat"]
        assert (job.id, job.agent_id, job.schedule.expr, job.schedule.tz) == (gw.jobs[agent], agent, expr, "UTC")
        assert not job.system and job.delivery and job.delivery.mode == "none"
        assert heartbeat_jobs(cron.jobs, agent) == [job]
    assert by_name["cestra-heartbeat"].payload_kind == "command"
    assert by_name["veda-heartbeat"].payload_kind == "agentTurn"
    # the job's state holds its last run: enough for a diagnosis without any `cron runs`
    veda = by_name["veda-heartbeat"].state
    assert (veda.last_status, veda.last_error_reason, veda.consecutive_errors) == ("error", "auth", 2)
    assert "authentication source" in (veda.last_error or "")
    # OpenClaw's own jobs are there, and none is anyone's heartbeat
    system = [j for j in cron.jobs if j.system]
    names = {j.name for j in system}
    assert "heartbeat-main" in names and {f"skill-collection-review-{a}" for a in ("main", *SEED)} <= names
    # ("Memory Dreaming Promotion", a third system job, is only converged while the scheduler runs:
    # the session's gateway has it off so that no real slot fires mid-test)
    main_hb = by_name["heartbeat-main"]
    assert main_hb.native_heartbeat and main_hb.declaration_key == "heartbeat:main" and main_hb.display_name == "Heartbeat (main)"
    assert native_heartbeat_jobs(cron.jobs, "main") == [main_hb]
    assert heartbeat_jobs(cron.jobs, "main") == []  # only system jobs: main has no squad heartbeat


def test_runs_are_paged_until_has_more_is_false(real_openclaw) -> None:
    gw = real_openclaw
    calls: list[list[str]] = []
    real = runner(gw)

    def counting(argv: Sequence[str]) -> tuple[int, str, str]:
        calls.append(list(argv))
        return real(argv)

    everything = load_cron(gw.state_dir, runner=counting)
    cestra = gw.jobs["cestra"]
    runs = everything.runs[cestra]
    assert len(runs) == 3 and all(r.status == "ok" and r.completion_status == "succeeded" and r.manual for r in runs)
    assert [r.at for r in runs] == sorted(r.at for r in runs)
    # one run a page: the CLI is asked three times, --offset 0, 1, 2, until hasMore is false
    import console.service.openclaw.cron as cron_mod

    calls.clear()
    old = cron_mod.RUNS_PAGE
    cron_mod.RUNS_PAGE = 1
    try:
        paged = load_cron(gw.state_dir, runner=counting, runs_for={cestra})
    finally:
        cron_mod.RUNS_PAGE = old
    offsets = [c[c.index("--offset") + 1] for c in calls if c[1:3] == ["cron", "runs"]]
    assert offsets == ["0", "1", "2"]
    assert [r.run_id for r in paged.runs[cestra]] == [r.run_id for r in runs]
    # since the last collected run: only newer ones, and the pages stop there
    calls.clear()
    cron_mod.RUNS_PAGE = 1
    try:
        newer = load_cron(gw.state_dir, runner=counting, runs_for={cestra}, since={cestra: runs[1].at})
    finally:
        cron_mod.RUNS_PAGE = old
    assert [r.run_id for r in newer.runs[cestra]] == [runs[2].run_id]
    assert len([c for c in calls if c[1:3] == ["cron", "runs"]]) == 2  # the second page reached the old run
    veda = everything.runs[gw.jobs["veda"]]
    assert len(veda) == 2 and {(r.status, r.completion_status, r.error_reason, r.provider) for r in veda} == {
        ("error", "failed", "auth", "openai")}


def test_the_state_database_read_only_gives_the_same_jobs_and_runs(real_openclaw) -> None:
    gw = real_openclaw
    db = state_db_path(gw.state_dir)
    before = db.stat().st_mtime_ns, db.stat().st_size
    cli = load_cron(gw.state_dir, runner=runner(gw))
    direct = read_cron_state(db)
    assert direct.source == "sqlite"
    assert {j.id: (j.name, j.agent_id, j.schedule, j.payload_kind, j.system) for j in direct.jobs} == {
        j.id: (j.name, j.agent_id, j.schedule, j.payload_kind, j.system) for j in cli.jobs}
    for agent, job_id in gw.jobs.items():
        a = [(r.run_id, r.status, r.completion_status, r.error_reason, r.at) for r in direct.runs[job_id]]
        b = [(r.run_id, r.status, r.completion_status, r.error_reason, r.at) for r in cli.runs[job_id]]
        assert a == b, agent
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before  # never written
    # a database of another shape is refused by name, not misread
    odd = gw.base / "odd.sqlite"
    sqlite3.connect(odd).execute("CREATE TABLE cron_jobs (job_id TEXT)").connection.commit()
    with pytest.raises(OpenClawError, match="cron_jobs lacks"):
        read_cron_state(odd)


def test_without_the_cli_on_path_the_state_database_is_read(real_openclaw, tmp_path: Path) -> None:
    gw = real_openclaw
    cron = load_cron(gw.state_dir, runner=None)
    assert cron.source == "sqlite" and "not on PATH" in cron.notes[0] and "read-only" in cron.notes[0]
    for agent in SEED:
        assert [j.id for j in heartbeat_jobs(cron.jobs, agent)] == [gw.jobs[agent]]
    # the whole console, openclaw not on PATH: no agent is told to add a job that exists
    env = gw.env(PATH=os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                     if not (Path(p) / "openclaw").exists()) or "/usr/bin:/bin")
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    p = console(gw, "check", "--json", env=env, tmp=tmp_path)
    doc = json.loads(p.stdout)
    assert doc["openclaw"]["cron"]["source"] == "sqlite"
    codes = {a["id"]: [c["code"] for c in a["causes"]] for a in doc["agents"]}
    assert all("no_heartbeat_job" not in c for c in codes.values()), codes
    assert "model_auth" in codes["veda"] and "model_auth" in codes["orin"]


def test_a_stopped_gateway_and_a_missing_database_are_said_not_no_job(real_openclaw, tmp_path: Path) -> None:
    gw = real_openclaw
    dead = str(gw.port + 1 if gw.port < 65000 else gw.port - 1)
    env = gw.env(OPENCLAW_GATEWAY_PORT=dead)
    # the CLI fails fast (ECONNREFUSED); the state database is read instead
    cron = load_cron(gw.state_dir, runner=runner(gw, env))
    assert cron.source == "sqlite" and cron.cli_error_kind == "unreachable" and "not reachable" in (cron.cli_error or "")
    assert [j.id for j in heartbeat_jobs(cron.jobs, "veda")] == [gw.jobs["veda"]]
    # the channels' probe is not even tried: it would wait about 60 s
    started = time.perf_counter()
    report = channel_report(gw.state_dir, None, runner(gw, env), gateway_reachable=False)
    assert time.perf_counter() - started < 1 and report.error_kind == "unreachable"
    assert all(s.linked is None for s in report.statuses)
    # neither the CLI nor a database: an error that says so, never "no job"
    empty = tmp_path / "empty-state"
    empty.mkdir()
    with pytest.raises(OpenClawError) as info:
        load_cron(empty, runner=runner(gw, env))
    assert "not reachable" in str(info.value) and "no state database" in str(info.value)
    causes = diagnose("veda", config=None, cron=None, gateway=probe_gateway(f"http://127.0.0.1:{dead}", None, timeout=1),
                      channels=report, schedule_cron=SEED["veda"], errors=[str(info.value)])
    assert [c.code for c in causes] == ["gateway_unreachable", "cron_unreadable"]


# ---------------------------------------------------------------------------------------------
# the gateway, the token, the channels


def test_health_endpoints(real_openclaw) -> None:
    gw = real_openclaw
    health = probe_gateway(gw.url, None)
    assert health.ok and health.healthz == 200 and health.readyz == 200
    assert not probe_gateway(f"http://127.0.0.1:{gw.port + 1 if gw.port < 65000 else gw.port - 1}", None, timeout=1).reachable


def _mismatch_env(gw, *, config_token: str | None, env_token: str | None) -> dict[str, str]:
    """A client of the real gateway whose openclaw.json holds `config_token` (None: no token)."""
    other = gw.base / f"client-{bool(config_token)}-{bool(env_token)}"
    other.mkdir(exist_ok=True)
    auth = {"mode": "token", **({"token": config_token} if config_token else {})}
    (other / "openclaw.json").write_text(json.dumps({"gateway": {"mode": "local", "port": gw.port, "bind": "loopback", "auth": auth}}))
    env = gw.env(OPENCLAW_STATE_DIR=str(other))
    if env_token:
        env["OPENCLAW_GATEWAY_TOKEN"] = env_token
    return env


def test_a_token_mismatch_is_named(real_openclaw) -> None:
    gw = real_openclaw
    for env in (_mismatch_env(gw, config_token="not-this-gateways-token", env_token=None),
                _mismatch_env(gw, config_token=None, env_token="not-this-gateways-token")):
        state = Path(env["OPENCLAW_STATE_DIR"])
        with pytest.raises(OpenClawError) as info:
            load_cron(state, runner=runner(gw, env))
        assert "token mismatch" in str(info.value) and "not-this-gateways-token" not in str(info.value)
        report = channel_report(state, None, runner(gw, env), gateway_reachable=True)
        assert report.error_kind == "token_mismatch" and all(s.channel != "config" for s in report.statuses)
        causes = diagnose("veda", config=None, cron=None, gateway=probe_gateway(gw.url, None), channels=report,
                          schedule_cron=SEED["veda"], errors=[str(info.value)])
        assert [c.code for c in causes][:1] == ["gateway_token_mismatch"]
        assert "openclaw gateway auth-token --show" in causes[0].fix


def test_another_token_in_the_environment_with_the_cli_working_is_no_alarm(real_openclaw) -> None:
    gw = real_openclaw
    env = gw.env(OPENCLAW_GATEWAY_TOKEN="a-stale-token-from-a-systemd-unit")
    cron = load_cron(gw.state_dir, runner=runner(gw, env), runs_for=set())  # openclaw.json's token wins
    assert cron.source == "cli" and cron.cli_error is None
    config = load_openclaw_config(None, gw.state_dir, env)
    assert config.token_conflict  # the console sees the two differ ...
    causes = diagnose("veda", config=config, cron=cron, gateway=probe_gateway(gw.url, None), channels=[],
                      schedule_cron=SEED["veda"])
    assert "gateway_token_mismatch" not in [c.code for c in causes]  # ... and does not cry wolf


def test_channels_whatsapp_installed_and_not_linked(real_openclaw) -> None:
    gw = real_openclaw
    report = channel_report(gw.state_dir, None, runner(gw), gateway_reachable=True)
    assert report.error is None and report.source == "cli"
    [wa] = [s for s in report.statuses if s.channel == "whatsapp"]
    assert (wa.account, wa.linked, wa.logged_out, wa.state) == ("default", False, False, "not-linked")
    assert "Not linked" in wa.detail and wa.fix and "channels login" in wa.fix


def _shape(doc: object, at: str = "") -> set[str]:
    """Each key path of a JSON document with its type (numbers one type: OpenClaw prints ints)."""
    kind = ("bool" if isinstance(doc, bool) else "number" if isinstance(doc, (int, float))
            else "null" if doc is None else type(doc).__name__)
    out = {f"{at}:{kind}"}
    if isinstance(doc, dict):
        for k, v in doc.items():
            out |= _shape(v, f"{at}.{k}")
    return out


def test_the_unit_tests_golden_objects_are_what_the_real_cli_prints(real_openclaw) -> None:
    """tests/test_openclaw_requests.py keeps jobs and a channel report the real CLI printed, for fast
    unit tests: every field (and its type) they hold is one the real CLI prints today, so an
    OpenClaw upgrade that renames a field fails here rather than leaving the unit tests stale."""
    from tests.test_openclaw_requests import CESTRA_JOB, CHANNELS, VEDA_JOB

    gw = real_openclaw
    probe = gw.cli_json("cron", "add", "--name", "veda-golden-probe", "--cron", "0 0 1 1 *", "--tz", "UTC",
                        "--session", "isolated", "--agent", "veda", "--message", "golden probe", "--no-deliver",
                        "--json")
    try:
        gw.cli("cron", "edit", probe["id"], "--failure-alert-channel", "whatsapp", "--failure-alert-to",
               "+15550100000", "--failure-alert-after", "1")
        real_jobs = gw.cli_json("cron", "list", "--all", "--json")["jobs"]
    finally:
        gw.cli("cron", "rm", probe["id"], check=False)
    printed = set().union(*(_shape(j) for j in real_jobs))
    for golden in (VEDA_JOB, CESTRA_JOB):
        assert _shape(golden) - printed == set(), golden["name"]
    channels = gw.cli_json("channels", "status", "--json")
    assert _shape(CHANNELS) - _shape(channels) == set()


# ---------------------------------------------------------------------------------------------
# the console against the real squad


def test_check_names_model_credentials_and_not_main(real_openclaw, tmp_path: Path) -> None:
    gw = real_openclaw
    started = time.perf_counter()
    p = console(gw, "check", "--json", tmp=tmp_path)
    elapsed = time.perf_counter() - started
    doc = json.loads(p.stdout)
    agents = {a["id"]: a for a in doc["agents"]}
    assert set(agents) == set(SEED)  # OpenClaw's `main` is not the squad
    for agent in ("veda", "orin"):
        [cause] = [c for c in agents[agent]["causes"] if c["code"] == "model_auth"]
        assert "openai" in cause["title"] and f"--provider openai --agent {agent}" in cause["fix"][0]
        assert not any(c["code"].startswith("whatsapp") for c in agents[agent]["causes"])  # their jobs deliver nowhere
    assert agents["cestra"]["causes"] == []  # no stagger warning for */15, no false cause
    assert doc["openclaw"]["cron"]["source"] == "sqlite"  # one read of the state database, no `cron` call
    print(f"check --json against the real squad: {elapsed:.2f} s, probe {doc['openclaw']['ms']}")


def test_fix_commands_exist_in_the_real_cli(real_openclaw) -> None:
    """Every command a cause proposes: its subcommand and each --flag are in the real CLI's --help."""
    gw = real_openclaw
    cron = load_cron(gw.state_dir, runner=runner(gw))
    commands: set[str] = set()
    from console.service.openclaw.channels import ChannelStatus
    from console.service.openclaw.diagnose import _RANK  # every cause the diagnosis knows

    wa_logged_out = [ChannelStatus("whatsapp", "work", False, False, '{"reason":"401"}', logged_out=True)]
    for agent in SEED:
        for causes in (diagnose(agent, config=None, cron=cron, gateway=probe_gateway(gw.url, None), channels=None,
                                schedule_cron="0 * * * *", tz="Europe/Paris", errors=["unauthorized: gateway token mismatch"]),
                       diagnose(agent, config=None, cron=None, gateway=probe_gateway("http://127.0.0.1:1", None, timeout=1),
                                channels=wa_logged_out, schedule_cron=None, errors=["x"])):
            for c in causes:
                commands.update(f for f in c.fix if f.startswith("openclaw "))
    # the operators' requests: skipped ticks (the gateway still down), a lost job, a failure alert to a
    # failing channel, an "ok" under 50 ms, heartbeat.every "0m"
    from console.service.health.outages import AgentHistory
    from console.service.openclaw.channels import ChannelReport
    from console.service.openclaw.config import OpenClawAgent, OpenClawConfig
    from console.service.openclaw.job_snapshot import JobLoss

    veda = cron.job(gw.jobs["veda"])
    assert veda is not None
    import dataclasses as dc

    alerting = dc.replace(veda, failure_alert={"channel": "whatsapp", "to": "+15550100000"},
                          state=dc.replace(veda.state, last_status="ok", last_duration_ms=9, last_run_at_ms=1000.0))
    zero = OpenClawConfig(gw.state_dir / "openclaw.json", gw.state_dir,
                          [OpenClawAgent("orin", "orin", gw.state_dir, heartbeat={"every": "0m"}, key="agents.entries.orin")])
    for lost in ([JobLoss("veda", veda.id, veda.name, "vanished")], [JobLoss("veda", veda.id, veda.name, "agent_lost")]):
        new = diagnose("veda", config=zero, cron=dc.replace(cron, jobs=[alerting], runs={}), gateway=probe_gateway("http://127.0.0.1:1", None, timeout=1),
                       channels=ChannelReport([ChannelStatus("whatsapp", "default", False)], "cli"), schedule_cron=None,
                       history=AgentHistory(((0.0, None),), (500.0,)), lost=lost)
        assert {"skipped_while_gateway_down", "heartbeat_job_lost", "failure_alert_to_failing_channel",
                "ok_while_gateway_down", "heartbeat_every_zero"} <= {c.code for c in new}, [c.code for c in new]
        commands.update(f for c in new for f in c.fix if f.startswith("openclaw "))
    commands.add(" ".join(shlex.quote(a) for a in cron_add_command("quill", None, "0 * * * *", "UTC", channel="whatsapp", to="+15550100000")))
    commands.update(["openclaw cron enable x", "openclaw plugins install npm:@openclaw/whatsapp", "openclaw plugins enable whatsapp",
                     "openclaw gateway stop", "openclaw cron edit x --exact", "openclaw channels logout --channel whatsapp --account work"])
    assert len(commands) >= 12, commands
    helps: dict[tuple[str, ...], str] = {}
    for command in sorted(commands):
        words = [w for w in shlex.split(command.split("  #")[0])[1:]]
        path = tuple(w for w in words[:3] if re.fullmatch(r"[a-z][a-z-]*", w))
        # the longest subcommand path the CLI knows
        while path and path not in helps:
            p = gw.cli(*path, "--help", check=False)
            if p.returncode == 0 and "Usage: openclaw " + " ".join(path) in p.stdout.replace("|", " "):
                helps[path] = p.stdout
                break
            usage = re.search(r"Usage: openclaw ([a-z -]+?)(?: \[|$| <)", p.stdout, re.M)
            if p.returncode == 0 and usage and tuple(usage.group(1).split()) == path:
                helps[path] = p.stdout
                break
            path = path[:-1]
        assert path, f"{command}: no such openclaw command"
        for flag in re.findall(r"(?<!\S)(--[a-z][a-z-]*)", command):
            assert flag in helps[path], f"{command}: `openclaw {' '.join(path)}` has no {flag}"
    assert set(_RANK)  # the table of causes exists


def test_the_stagger_rule_is_openclaws(real_openclaw) -> None:
    """Add jobs with the real CLI and read back the staggerMs OpenClaw stores."""
    gw = real_openclaw
    cases = {"0 * * * *": True, "*/15 * * * *": False, "0,15,30,45 * * * *": False, "2-59/15 * * * *": False,
             "0 3 * * *": False}
    ids = []
    try:
        for expr, staggered in cases.items():
            job = gw.cli_json("cron", "add", "--name", f"stagger-probe-{len(ids)}", "--cron", expr, "--tz", "UTC",
                              "--session", "isolated", "--agent", "cestra", "--command", "true", "--no-deliver",
                              "--disabled", "--json")
            ids.append(job["id"])
            stored = job["schedule"].get("staggerMs")
            assert (bool(stored) if stored is not None else False) == staggered, (expr, job["schedule"])
            assert openclaw_staggers(expr) == staggered, expr
        cron = load_cron(gw.state_dir, runner=runner(gw), runs_for=set())
        for job_id, (expr, staggered) in zip(ids, cases.items()):
            assert cron.job(job_id).schedule.staggered == staggered, expr  # type: ignore[union-attr]
    finally:
        for job_id in ids:
            gw.cli("cron", "remove", job_id, "--json", check=False)


def test_heartbeat_crons_exits_0_and_proposes_nothing_for_system_jobs(real_openclaw, tmp_path: Path) -> None:
    gw = real_openclaw
    p = console(gw, "heartbeat", "crons", tmp=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    for agent in SEED:
        assert f"# {agent}: job {gw.jobs[agent]} ({agent}-heartbeat) matches" in p.stdout
    assert "openclaw cron" not in p.stdout  # nothing to add, nothing to edit
    assert "skill-collection-review" not in p.stdout and "heartbeat-main" not in p.stdout
    assert "the openclaw CLI" in p.stderr


def test_the_proposed_cron_add_makes_good_runs(real_openclaw) -> None:
    """The command `heartbeat crons` proposes, run for real: the job OpenClaw stores is what the
    console compares against (no difference), and a forced run fails only for the model's
    credentials (the fixture has none), never for delivery."""
    gw = real_openclaw
    argv = cron_add_command("veda", "veda-heartbeat-probe", "0 * * * *", "UTC")
    job = gw.cli_json(*argv[1:], "--json")
    try:
        assert job["schedule"].get("staggerMs") == 0 and job["delivery"]["mode"] == "none"  # --exact, --no-deliver
        cron = load_cron(gw.state_dir, runner=runner(gw), runs_for=set())
        stored = cron.job(job["id"])
        assert stored is not None and not stored.system and compare_job(stored, "0 * * * *", "UTC") == []
        p = gw.cli("cron", "run", job["id"], "--wait", "--json", check=False)
        result = json.loads(p.stdout)["run"]
        assert (result["status"], result.get("errorReason"), result["deliveryStatus"]) == ("error", "auth", "not-requested")
    finally:
        gw.cli("cron", "remove", job["id"], "--json", check=False)


def test_system_jobs_cannot_be_edited_and_are_never_proposed(real_openclaw) -> None:
    gw = real_openclaw
    cron = load_cron(gw.state_dir, runner=runner(gw), runs_for=set())
    main_hb = next(j for j in cron.jobs if j.name == "heartbeat-main")
    p = gw.cli("cron", "edit", main_hb.id, "--exact", check=False)
    assert p.returncode != 0  # OpenClaw refuses: the console must never propose this
    for agent in ("main", *SEED):
        for c in diagnose(agent, config=None, cron=cron, gateway=probe_gateway(gw.url, None), channels=None,
                          schedule_cron="*/15 * * * *"):
            for fix in c.fix:
                assert not any(j.id in fix for j in cron.jobs if j.system), fix


def test_agents_import_takes_the_squad_not_main(real_openclaw, tmp_path: Path) -> None:
    gw = real_openclaw
    p = console(gw, "agents", "import", tmp=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("registered") == 3 and "main" not in p.stdout
    assert "not imported: main" in p.stderr
    p = console(gw, "agents", "import", "--agent", "main", "--dry-run", tmp=tmp_path)
    assert p.returncode == 0 and "main: would register" in p.stdout


def test_the_collector_pages_runs_and_leaves_manual_runs_out(real_openclaw, tmp_path: Path) -> None:
    from console.config import load_settings
    from console.service.daemon import Daemon
    from console.service.store.outbox import Outbox
    from console.service.store.sqlite import LocalStore

    gw = real_openclaw
    settings = load_settings(None, env={"OPENCLAW_STATE_DIR": str(gw.state_dir)})
    store = LocalStore(tmp_path / "squad.db")
    outbox = Outbox(tmp_path / "outbox.db")
    calls: list[list[str]] = []
    real = runner(gw)

    def counting(argv: Sequence[str]) -> tuple[int, str, str]:
        calls.append(list(argv))
        return real(argv)

    try:
        daemon = Daemon(settings, store, outbox, env=gw.env(), runner=counting, prefer_state_db=False)
        daemon.collect()
        # one `cron list`, then the runs of the three heartbeat jobs only (never the system jobs')
        runs_of = sorted(c[c.index("--id") + 1] for c in calls if c[1:3] == ["cron", "runs"])
        assert sorted(gw.jobs.values()) == runs_of
        assert [a.agent_id for a in store.list_agents()] == [] and store.list_heartbeats("cestra", since=0) == []
        cursors = outbox.get("openclaw_cursors")
        assert set(cursors) == set(gw.jobs.values())
        # the next collection asks for runs since the cursor: one page each, nothing new
        calls.clear()
        daemon.collect()
        assert len([c for c in calls if c[1:3] == ["cron", "runs"]]) == 3
        daemon.probe()
        assert outbox.get("channel_state:whatsapp:default") == "not linked"
        # from the state database (the default on the gateway host): the same, without a `cron` call
        calls.clear()
        fresh = Outbox(tmp_path / "outbox2.db")
        try:
            Daemon(settings, store, fresh, env=gw.env(), runner=counting).collect()
            # the real gateway keeps its schedules: a slot may have fired since (a newer cursor)
            fresh_cursors = fresh.get("openclaw_cursors")
            assert set(fresh_cursors) == set(cursors) and all(fresh_cursors[j] >= cursors[j] for j in cursors)
            assert not [c for c in calls if c[1] == "cron"]
        finally:
            fresh.close()
    finally:
        outbox.close()
        store.close()


def test_check_names_a_token_mismatch(real_openclaw, tmp_path: Path) -> None:
    gw = real_openclaw
    env = _mismatch_env(gw, config_token="not-this-gateways-token", env_token=None)
    # the console and the CLI read the client's openclaw.json; the jobs come from the gateway's database
    p = console(gw, "check", "--json", env=env, tmp=tmp_path)
    doc = json.loads(p.stdout)
    assert doc["exit"] >= 1
    codes = {a["id"]: [c["code"] for c in a["causes"]] for a in doc["agents"]}
    assert all(c and c[0] == "gateway_token_mismatch" for c in codes.values()), codes
    assert "not-this-gateways-token" not in p.stdout + p.stderr


# ---------------------------------------------------------------------------------------------
# what no dashboard tells (the operators' requests)


def test_a_failure_alert_routed_to_the_unlinked_whatsapp_is_named(real_openclaw) -> None:
    """A job whose failure alerts go to WhatsApp (set with the real `cron edit --failure-alert-*`),
    WhatsApp installed and never linked: the alerts would be lost with the heartbeat."""
    gw = real_openclaw
    job = gw.cli_json("cron", "add", "--name", "veda-alert-probe", "--cron", "0 0 1 1 *", "--tz", "UTC", "--session",
                      "isolated", "--agent", "veda", "--command", "true", "--no-deliver", "--json")
    try:
        gw.cli("cron", "edit", job["id"], "--failure-alert-channel", "whatsapp", "--failure-alert-to", "+15550100000")
        cron = load_cron(gw.state_dir, runner=runner(gw), runs_for=set())
        [mine] = [j for j in cron.jobs if j.id == job["id"]]
        assert mine.failure_alert == {"channel": "whatsapp", "to": "+15550100000"} or (
            isinstance(mine.failure_alert, dict) and mine.failure_alert.get("channel") == "whatsapp")
        report = channel_report(gw.state_dir, None, runner(gw), probe=False)
        causes = diagnose("veda", config=None, cron=cron, gateway=probe_gateway(gw.url, None), channels=report,
                          schedule_cron=None, job_name="veda-alert-probe")
        [c] = [c for c in causes if c.code == "failure_alert_to_failing_channel"]
        assert "whatsapp is not linked (account default)" in c.detail
    finally:
        gw.cli("cron", "rm", job["id"], check=False)


def test_every_0m_is_named_and_its_fix_works(real_openclaw) -> None:
    """`heartbeat.every: "0m"` on ORIN: the real gateway disables the native heartbeat
    (openclaw#119005); the console names it and its fix (`config unset`) restores OpenClaw's."""
    from tests.waiting import wait_until

    gw = real_openclaw

    def native() -> dict[str, bool]:
        jobs = gw.cli_json("cron", "list", "--all", "--json")["jobs"]
        return {j["name"]: j["enabled"] for j in jobs if (j.get("payload") or {}).get("kind") == "heartbeat"}

    before = native()
    gw.cli("config", "patch", "--stdin", stdin=json.dumps({"agents": {"entries": {"orin": {"heartbeat": {"every": "0m"}}}}}))
    try:
        silenced = wait_until(lambda: (n := native()) != before and n, "the native heartbeat to change", timeout=60)
        assert not any(silenced.values()), silenced  # no native heartbeat runs any more
        config = load_openclaw_config(gw.state_dir / "openclaw.json", gw.state_dir, {})
        causes = diagnose("veda", config=config, cron=load_cron(gw.state_dir, runner=None, runs_for=set()),
                          gateway=probe_gateway(gw.url, None), channels=[], schedule_cron=None)
        [c] = [c for c in causes if c.code == "heartbeat_every_zero"]
        assert c.fix[0] == "openclaw config unset agents.entries.orin.heartbeat"
        gw.cli(*shlex.split(c.fix[0])[1:])  # the fix, as proposed
        wait_until(lambda: native() == before, "OpenClaw's native heartbeat back", timeout=60)
    finally:
        gw.cli("config", "unset", "agents.entries.orin.heartbeat", check=False)
