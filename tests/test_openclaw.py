"""console/service/openclaw/: config (both agent forms), cron from files and from the CLI, the
gateway URL and probe, WhatsApp status, diagnosis and the fix commands. Fixtures: tests/fixtures/openclaw/."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from console.service.models import HeartbeatIn
from console.service.openclaw.channels import ChannelStatus, channel_status
from console.service.openclaw.config import OpenClawConfig, load_openclaw_config
from console.service.openclaw.cron import (
    CronDelivery,
    CronJob,
    CronRun,
    CronSchedule,
    CronState,
    heartbeat_jobs,
    load_cron,
    parse_run,
    run_to_heartbeat,
)
from console.service.openclaw.cron_commands import compare_job, cron_add_command, fires_at_top_of_hour, format_command
from console.service.openclaw.diagnose import diagnose
from console.service.openclaw.errors import OpenClawError
from console.service.openclaw.gateway import GatewayHealth, gateway_url, probe_gateway
from console.service.openclaw.runner import redact

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "openclaw"
FORMS = ["list-form", "entries-form"]
TOKEN = "fixture-gw-token-8c1f4e2a9b7d"  # the fixtures' gateway token
JOB = {
    "cestra": "0b7e3c52-9a41-4f0e-8c2d-6a5f1e9d3c01",
    "veda": "4d2a9f17-6e83-4b5c-a1f0-7c3e8b2d5a02",
    "orin": "9c5e1b84-2f7a-4d39-b6e2-1a8d4c7f0e03",
}
SCHEDULE = {"cestra": "*/15 * * * *", "veda": "2-59/15 * * * *", "orin": "4-59/15 * * * *"}
WINDOW = (1795168800000, 1795168800000 + 3600_000)  # 2026-11-20 10:00-11:00 UTC
HEALTHY = GatewayHealth(True, 200, 200, 1.0)


def config_of(form: str = "list-form", env: dict[str, str] | None = None) -> OpenClawConfig:
    state = FIXTURES / form
    return load_openclaw_config(state / "openclaw.json", state, env or {})


def write_config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "openclaw.json").write_text(text)
    return tmp_path / "openclaw.json"


def job(agent: str = "veda", *, expr: str = "2-59/15 * * * *", tz: str | None = "UTC", stagger: int | None = None,
        enabled: bool = True, name: str | None = None, job_id: str | None = None, channel: str = "whatsapp") -> CronJob:
    return CronJob(
        id=job_id or f"job-{agent}",
        agent_id=agent,
        name=name or f"{agent}-heartbeat",
        enabled=enabled,
        schedule=CronSchedule("cron", expr, tz, stagger),
        session_target="isolated",
        payload={"kind": "agentTurn", "message": "Read HEARTBEAT.md; reply HEARTBEAT_OK"},
        delivery=CronDelivery("announce", channel, "+15550100000"),
    )


def run(**fields: Any) -> CronRun:
    base = {"ts": WINDOW[0] + 20_000, "jobId": "job-veda", "action": "finished", "status": "ok", "runAtMs": WINDOW[0] + 120_000}
    parsed = parse_run({**base, **fields})
    assert parsed is not None
    return parsed


def state_of(*pairs: tuple[CronJob, list[CronRun]]) -> CronState:
    return CronState([j for j, _ in pairs], {j.id: r for j, r in pairs}, "files")


def codes(causes: Sequence[Any]) -> list[str]:
    return [c.code for c in causes]


# ---------------------------------------------------------------------------------------------
# config


@pytest.mark.parametrize("form", FORMS)
def test_both_forms_give_the_seed_squad(form: str) -> None:
    state = FIXTURES / form
    c = config_of(form)
    assert [a.id for a in c.agents] == ["cestra", "veda", "orin"]
    assert [a.name for a in c.agents] == ["Cestra", "VEDA", "ORIN"]
    assert [a.default for a in c.agents] == [True, False, False]
    assert c.default_agent is not None and c.default_agent.id == "cestra"
    # the default agent's workspace is <state>/workspace, the others <state>/workspace-<id>
    assert [a.workspace for a in c.agents] == [state / "workspace", state / "workspace-veda", state / "workspace-orin"]
    assert all((a.workspace / "HEARTBEAT.md").is_file() for a in c.agents)
    assert [a.model for a in c.agents] == ["anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5", "anthropic/claude-haiku-4-5"]
    assert all(a.heartbeat is None for a in c.agents)
    assert c.agents_form == form.removesuffix("-form")
    assert c.default_heartbeat == {"every": "30m", "target": "none"}
    assert c.gateway_port == 18790 and gateway_url(None, c) == "http://127.0.0.1:18790"
    assert c.auth_mode == "token" and c.token == TOKEN and c.token_source == "config" and not c.token_conflict
    assert c.agent_to_agent and c.agent_to_agent_allow == ["cestra", "veda", "orin"]
    assert c.channels == {"whatsapp": ["default"]}


def test_config_path_none_means_state_openclaw_json() -> None:
    c = load_openclaw_config(None, FIXTURES / "list-form", {})
    assert c.path == FIXTURES / "list-form" / "openclaw.json"


def test_explicit_workspace_expands_tilde_and_entries_win_over_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = write_config(tmp_path, """{
      agents: {
        defaults: { workspace: "~/.openclaw/workspace-cestra" },
        list: [ { id: "cestra", default: true }, { id: "veda", name: "old" } ],
        entries: { veda: { name: "VEDA", workspace: "~/ws/veda" } },
      },
    }""")
    c = load_openclaw_config(path, tmp_path, {})
    home = tmp_path / "home"
    assert c.agents_form == "both"
    assert {a.id: a.workspace for a in c.agents} == {"cestra": home / ".openclaw/workspace-cestra", "veda": home / "ws/veda"}
    assert c.agent("veda") is not None and c.agent("veda").name == "VEDA"  # type: ignore[union-attr]
    assert c.gateway_port == 18789 and c.token is None and c.auth_mode is None  # the defaults


def test_first_agent_is_default_when_none_is_marked(tmp_path: Path) -> None:
    c = load_openclaw_config(write_config(tmp_path, '{agents: {list: [{id: "a"}, {id: "b"}]}}'), tmp_path, {})
    assert [a.default for a in c.agents] == [True, False]
    assert c.agents[0].workspace == tmp_path / "workspace" and c.agents[1].workspace == tmp_path / "workspace-b"


def test_env_overrides(tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    # OPENCLAW_STATE_DIR beats the state_dir argument (and the config path derived from it)
    c = load_openclaw_config(nowhere / "openclaw.json", nowhere, {"OPENCLAW_STATE_DIR": str(FIXTURES / "entries-form")})
    assert c.state_dir == FIXTURES / "entries-form" and c.agents_form == "entries"
    assert c.agents[1].workspace == FIXTURES / "entries-form" / "workspace-veda"
    # OPENCLAW_CONFIG_PATH beats the config_path argument
    c = load_openclaw_config(nowhere / "x.json", nowhere, {"OPENCLAW_CONFIG_PATH": str(FIXTURES / "list-form" / "openclaw.json")})
    assert c.agents_form == "list" and c.state_dir == nowhere
    # port: env > gateway.port > 18789; token: env (and it differs from the config's)
    c = config_of(env={"OPENCLAW_GATEWAY_PORT": "19999", "OPENCLAW_GATEWAY_TOKEN": "env-token-0000"})
    assert c.gateway_port == 19999 and c.token == "env-token-0000" and c.token_source == "env" and c.token_conflict
    assert not config_of(env={"OPENCLAW_GATEWAY_TOKEN": TOKEN}).token_conflict
    with pytest.raises(OpenClawError, match="OPENCLAW_GATEWAY_PORT") as info:
        config_of(env={"OPENCLAW_GATEWAY_PORT": "http"})
    assert "fix: set OPENCLAW_GATEWAY_PORT" in info.value.describe()


def test_token_from_env_substitution_and_secretref(tmp_path: Path) -> None:
    path = write_config(tmp_path, '{gateway: {auth: {token: "${MY_GW_TOKEN}"}}}')
    assert load_openclaw_config(path, tmp_path, {"MY_GW_TOKEN": "from-env-1234"}).token == "from-env-1234"
    path = write_config(tmp_path, '{gateway: {auth: {token: {source: "env", provider: "default", id: "GW_T"}}}}')
    assert load_openclaw_config(path, tmp_path, {"GW_T": "ref-5678"}).token == "ref-5678"


def test_json5_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, '// config\n{\n  gateway: { port: 18789, },\n  agents: { list: [ { id: "a" } ] ,, },\n}\n')
    with pytest.raises(OpenClawError) as info:
        load_openclaw_config(path, tmp_path, {})
    assert info.value.line == 4 and info.value.path == path
    assert str(info.value).startswith(f"{path}:4: not valid JSON5")


def test_missing_file_says_how_to_point_elsewhere(tmp_path: Path) -> None:
    with pytest.raises(OpenClawError) as info:
        load_openclaw_config(None, tmp_path / "nope", {})
    text = str(info.value)
    assert str(tmp_path / "nope" / "openclaw.json") in text
    assert "OPENCLAW_CONFIG_PATH" in text and "[openclaw] config_path" in text


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{agents: {list: {id: "a"}}}', "agents.list"),
        ('{agents: {list: [{id: "a"}, {name: "no id"}]}}', "agents.list[1].id"),
        ('{agents: {list: [{id: 7}]}}', "agents.list[0].id"),
        ('{agents: {list: ["a"]}}', "agents.list[0]"),
        ('{agents: {list: [{id: "a"}, {id: "a"}]}}', "agents.list[1].id"),
        ('{agents: {entries: [{id: "a"}]}}', "agents.entries"),
        ('{agents: {entries: {a: "x"}}}', "agents.entries.a"),
        ('{agents: {list: [{id: "a", heartbeat: "30m"}]}}', "agents.list[0].heartbeat"),
        ('{agents: {list: [{id: "a", workspace: 3}]}}', "agents.list[0].workspace"),
        ('{agents: []}', "agents"),
        ('{gateway: {port: "18789"}}', "gateway.port"),
        ('{gateway: {auth: {token: 12}}}', "gateway.auth.token"),
        ('{tools: {agentToAgent: {allow: "all"}}}', "tools.agentToAgent.allow"),
        ('[1, 2]', "(top level)"),
    ],
)
def test_wrong_shapes_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(OpenClawError) as info:
        load_openclaw_config(write_config(tmp_path, text), tmp_path, {})
    assert info.value.key == key and f": {key}: " in str(info.value)


def test_the_token_never_shows(tmp_path: Path) -> None:
    c = config_of()
    assert c.token == TOKEN
    assert TOKEN not in repr(c) and TOKEN not in str(c)
    # errors in a file holding the token
    for text in (
        f'{{gateway: {{auth: {{token: "{TOKEN}"}}}}, agents: {{list: 5}}}}',
        f'{{gateway: {{auth: {{token: "{TOKEN}" "x"}}}}}}',
        f'{{gateway: {{auth: {{token: {TOKEN}}}}}}}',
    ):
        with pytest.raises(OpenClawError) as info:
            load_openclaw_config(write_config(tmp_path, text), tmp_path, {})
        assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    # the token in the environment differing from the config's is no mismatch by itself (the CLI
    # uses openclaw.json's: tests/test_openclaw_real.py), and is never quoted
    c = config_of(env={"OPENCLAW_GATEWAY_TOKEN": "env-token-0000-stale"})
    assert c.token_conflict
    causes = diagnose("cestra", config=c, cron=None, gateway=None, channels=None, schedule_cron=None)
    assert codes(causes) == []
    shown = repr(causes) + repr(c)
    assert "env-token-0000-stale" not in shown and TOKEN not in shown


def test_redact() -> None:
    text = (
        f"401 Authorization: Bearer {TOKEN} for ws://127.0.0.1:18789/?token={TOKEN}; "
        'key prod:happy-otter-123|eyJ2MiI6ImFiYyJ9 "token": "abc123" OPENCLAW_GATEWAY_TOKEN=s3cr3t sk-ant-api03-abcdefghijklmnop'
    )
    out = redact(text)
    for secret in (TOKEN, "happy-otter-123|eyJ2", "abc123", "s3cr3t", "sk-ant-api03"):
        assert secret not in out
    assert out.startswith("401 Authorization: Bearer [redacted]")
    assert redact("gateway/device token mismatch (1008 unauthorized)") == "gateway/device token mismatch (1008 unauthorized)"
    assert redact("abc mysecretvalue xyz", ["mysecretvalue"]) == "abc [redacted] xyz"


# ---------------------------------------------------------------------------------------------
# cron


@pytest.mark.parametrize("form", FORMS)
def test_jobs_and_runs_from_files(form: str) -> None:
    cron = load_cron(FIXTURES / form, runner=None)
    assert cron.source == "files" and cron.cli_error is None
    assert [(j.agent_id, j.id) for j in cron.jobs] == [(a, JOB[a]) for a in ("cestra", "veda", "orin")]
    cestra, veda, orin = cron.jobs
    assert cestra.schedule == CronSchedule("cron", "*/15 * * * *", "UTC", 0) and cestra.schedule.exact
    assert veda.schedule.expr == "2-59/15 * * * *" and veda.schedule.stagger_ms is None and not veda.schedule.exact
    assert orin.schedule.expr == "4-59/15 * * * *"
    assert veda.enabled and veda.session_target == "isolated" and veda.wake_mode == "now"
    assert veda.payload["kind"] == "agentTurn" and "HEARTBEAT.md" in veda.message and "HEARTBEAT_OK" in veda.message
    assert veda.delivery == CronDelivery("announce", "whatsapp", "+15550100000", None)
    assert veda.state.last_status == "ok" and veda.state.last_delivery_status == "not-delivered"
    assert veda.state.consecutive_errors == 0 and veda.state.next_run_at_ms and veda.state.last_duration_ms
    assert {k: len(v) for k, v in cron.runs.items()} == {JOB["cestra"]: 4, JOB["veda"]: 4, JOB["orin"]: 4}
    assert cron.corrupt_lines == 1 and "1 corrupt line skipped" in cron.notes[0]
    for runs in cron.runs.values():
        assert all(WINDOW[0] <= r.at < WINDOW[1] for r in runs)
        assert [r.at for r in runs] == sorted(r.at for r in runs)
    first = cron.runs[JOB["cestra"]][0]
    assert (first.model, first.provider, first.input_tokens, first.output_tokens, first.tokens) == (
        "claude-sonnet-4-5", "anthropic", 2100, 160, 2260)
    assert first.cost_usd == pytest.approx(0.0087)
    assert first.session_key == f"agent:cestra:cron:{JOB['cestra']}" and first.duration_ms == 14000


def test_nothing_to_read_is_said_never_no_jobs(tmp_path: Path) -> None:
    with pytest.raises(OpenClawError) as info:
        load_cron(tmp_path, runner=None)
    text = str(info.value)
    assert "not on PATH" in text and "no state database" in text and "jobs.json" in text
    assert "openclaw cron list --all --json" in (info.value.hint or "")
    causes = diagnose("veda", config=None, cron=None, gateway=HEALTHY, channels=None, schedule_cron=None, errors=[text])
    assert codes(causes) == ["cron_unreadable"]  # not "no heartbeat job"


def test_migrated_only_without_cli_says_so(tmp_path: Path) -> None:
    (tmp_path / "cron" / "runs").mkdir(parents=True)
    (tmp_path / "cron" / "jobs.json.migrated").write_text('{"version":1,"jobs":[]}')
    (tmp_path / "cron" / "runs" / "abc.jsonl.migrated").write_text("")
    with pytest.raises(OpenClawError) as info:
        load_cron(tmp_path, runner=None)
    text = str(info.value)
    assert "SQLite" in text and "install the openclaw CLI on PATH" in (info.value.hint or "") and "jobs.json.migrated" in text


def test_jobs_json_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "cron").mkdir()
    (tmp_path / "cron" / "jobs.json").write_text('{\n  "version": 1,\n  "jobs": [,]\n}')
    with pytest.raises(OpenClawError) as info:
        load_cron(tmp_path, runner=None)
    assert info.value.line == 3 and "jobs.json:3" in str(info.value)


def _cli_answers() -> dict[str, Any]:
    jobs = json.loads((FIXTURES / "list-form" / "cron" / "jobs.json").read_text())["jobs"]
    for j in jobs:
        j["somethingNew"] = {"ignored": True}
    runs = {a: [json.loads(line) for line in (FIXTURES / "list-form" / "cron" / "runs" / f"{JOB[a]}.jsonl").read_text().splitlines()
                if line.endswith("}")] for a in JOB}
    for r in runs["cestra"]:
        cost = r["usage"].pop("cost")["total"]
        r["costUsd"] = cost  # the CLI may put the cost elsewhere
    return {
        "cron list --all": {"ok": True, "jobs": jobs, "total": 3},
        f"cron runs --id {JOB['cestra']}": {"entries": runs["cestra"], "nextCursor": None},
        f"cron runs --id {JOB['veda']}": runs["veda"],
        f"cron runs --id {JOB['orin']}": {"runs": runs["orin"]},
    }


@pytest.fixture
def fake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable `openclaw` on PATH that answers from answers.json next to it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "answers.json").write_text(json.dumps(_cli_answers()))
    script = bin_dir / "openclaw"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib, sys\n"
        "answers = json.loads((pathlib.Path(__file__).parent / 'answers.json').read_text())\n"
        "args = [a for a in sys.argv[1:] if a != '--json']\n"
        "for flag in ('--limit', '--offset'):\n"
        "    if flag in args:\n"
        "        i = args.index(flag); del args[i:i + 2]\n"
        "key = ' '.join(args)\n"
        "if key not in answers:\n"
        "    print(f'error: unknown command {key!r}', file=sys.stderr); sys.exit(1)\n"
        "print('[openclaw] 2026.11.2')\n"  # a log line before the JSON
        "print(json.dumps(answers[key]))\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert shutil.which("openclaw") == str(script)
    return script


def test_jobs_and_runs_from_the_cli_on_path(fake_cli: Path, tmp_path: Path) -> None:
    cron = load_cron(tmp_path / "empty-state")  # runner="auto" finds the fake CLI
    files = load_cron(FIXTURES / "list-form", runner=None)
    assert cron.source == "cli" and cron.notes == []
    assert cron.jobs == files.jobs
    assert {k: [run_to_heartbeat(cron.job(k), r) for r in v] for k, v in cron.runs.items()} == {  # type: ignore[arg-type]
        k: [run_to_heartbeat(files.job(k), r) for r in v] for k, v in files.runs.items()  # type: ignore[arg-type]
    }


def test_cli_runner_injected_with_fallbacks() -> None:
    answers = _cli_answers()
    calls: list[list[str]] = []

    def old_cli(argv: Sequence[str]) -> tuple[int, str, str]:  # an older CLI without `--all`
        calls.append(list(argv))
        if "--all" in argv:
            return 1, "", "error: unknown option '--all'"
        key = " ".join(a for a in argv[1:] if a != "--json").split(" --limit")[0]
        key = "cron list --all" if key == "cron list" else key
        if key.endswith(JOB["orin"]):
            return 1, "", f"gateway closed (1008): unauthorized Authorization: Bearer {TOKEN}"
        return 0, json.dumps(answers[key]), ""

    cron = load_cron(FIXTURES / "list-form", runner=old_cli)
    assert cron.source == "cli" and calls[:2] == [["openclaw", "cron", "list", "--all", "--json"], ["openclaw", "cron", "list", "--json"]]
    assert len(cron.runs[JOB["veda"]]) == 4 and cron.runs[JOB["orin"]] == []
    assert len(cron.notes) == 1 and "1008" in cron.notes[0] and TOKEN not in cron.notes[0]

    def broken(argv: Sequence[str]) -> tuple[int, str, str]:
        return 1, "", f"Error: gateway closed (1008): unauthorized: gateway/device token mismatch token={TOKEN}"

    cron = load_cron(FIXTURES / "list-form", runner=broken)  # falls back to the legacy files
    assert cron.source == "files" and len(cron.jobs) == 3 and cron.cli_error and TOKEN not in cron.cli_error
    assert "read the legacy files instead" in cron.notes[0]
    with pytest.raises(OpenClawError, match="token mismatch") as info:
        load_cron(Path("/nonexistent-state"), runner=broken)
    assert TOKEN not in str(info.value)


def test_heartbeat_jobs() -> None:
    jobs = load_cron(FIXTURES / "list-form", runner=None).jobs
    assert [j.id for j in heartbeat_jobs(jobs, "veda")] == [JOB["veda"]]
    assert heartbeat_jobs(jobs, "nobody") == []
    report = job("veda", name="weekly-report", job_id="r")
    report = dataclasses.replace(report, payload={"kind": "agentTurn", "message": "write the report"})
    assert heartbeat_jobs([report], "veda") == [report]  # its only job
    check = job("veda", name="mission-control-check", job_id="c")
    assert heartbeat_jobs([report, check], "veda") == [check]
    orphan = CronJob(id="o", agent_id=None, name="heartbeat")
    assert heartbeat_jobs([orphan], "cestra", is_default=True) == [orphan] and heartbeat_jobs([orphan], "veda") == []


# ---------------------------------------------------------------------------------------------
# runs → heartbeats


def test_run_to_heartbeat_ok_with_telemetry() -> None:
    cron = load_cron(FIXTURES / "list-form", runner=None)
    j = cron.job(JOB["cestra"])
    assert j is not None
    r = cron.runs[j.id][0]
    hb = run_to_heartbeat(j, r)
    assert hb == HeartbeatIn(
        agent_id="cestra", at=r.run_at_ms, outcome="ok", source="openclaw",  # type: ignore[arg-type]
        run_id=f"openclaw:{JOB['cestra']}:{int(r.run_at_ms)}", duration_ms=14000.0,  # type: ignore[arg-type]
        error=None, delivery="delivered", model="claude-sonnet-4-5", tokens=2260.0, cost_usd=pytest.approx(0.0087),
    )
    assert hb.effective_run_id() == hb.run_id


def test_run_to_heartbeat_whatsapp_401_delivery_failure() -> None:
    cron = load_cron(FIXTURES / "list-form", runner=None)
    j = cron.job(JOB["veda"])
    assert j is not None
    first, *failing = (run_to_heartbeat(j, r) for r in cron.runs[j.id])
    assert first.outcome == "ok" and first.delivery == "delivered" and first.cost_usd is None
    for hb in failing:
        assert hb.outcome == "error" and hb.delivery == "not-delivered" and hb.agent_id == "veda"
        assert hb.error == 'delivery failed: {"reason":"401","location":"odn"} Connection Failure'
        assert hb.tokens and hb.model == "claude-haiku-4-5"


def test_run_to_heartbeat_other_outcomes() -> None:
    j = job()
    hb = run_to_heartbeat(j, run(status="error", error=f"model call failed: Authorization: Bearer {TOKEN}"))
    assert hb.outcome == "error" and hb.error == "model call failed: Authorization: Bearer [redacted]"
    assert run_to_heartbeat(j, run(status="skipped", summary="empty-heartbeat-file")).outcome == "ok"
    hb = run_to_heartbeat(j, parse_run({"ts": 1000, "status": "ok", "usage": {"input_tokens": 5, "output_tokens": 7}}))  # type: ignore[arg-type]
    assert (hb.at, hb.tokens, hb.cost_usd, hb.run_id) == (1000, 12, None, "openclaw:job-veda:1000")
    hb = run_to_heartbeat(j, run(delivered=False, deliveryStatus="not-requested"))
    assert hb.outcome == "ok"
    hb = run_to_heartbeat(j, run(delivered=False, deliveryError="Forbidden"))
    assert hb.outcome == "error" and hb.error == "delivery failed: Forbidden"
    hb = run_to_heartbeat(j, run(deliveryError={"reason": "401"}, deliveryStatus="not-delivered", cost_usd=0.5))
    assert hb.error == 'delivery failed: {"reason":"401"}' and hb.cost_usd == 0.5
    hb = run_to_heartbeat(j, run(deliveryError="Connection Failure"))  # an error alone says it failed
    assert hb.outcome == "error" and hb.error == "delivery failed: Connection Failure"
    hb = run_to_heartbeat(j, run(error="x", deliveryStatus="delivered", deliveryError="y", usage={"cost": 0.25}))
    assert hb.outcome == "ok" and hb.error is None and hb.cost_usd == 0.25  # run ok and delivered


# ---------------------------------------------------------------------------------------------
# gateway


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802
        _Handler.seen.append(self.headers.get("Authorization"))
        code = {"/healthz": 200, "/readyz": 503}.get(self.path, 404)
        body = json.dumps({"ok": code == 200}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_gateway_url_host_from_squad_toml_port_from_openclaw_json() -> None:
    c = config_of()  # gateway.port 18790
    assert gateway_url("http://127.0.0.1:18789", None) == "http://127.0.0.1:18789"
    assert gateway_url("ws://gw.lan:18789/", None) == "http://gw.lan:18789"
    assert gateway_url("wss://gw.lan/base/", None) == "https://gw.lan/base"
    assert gateway_url(None, None) == "http://127.0.0.1:18789"
    # openclaw.json read: its port wins, squad.toml keeps the host, scheme and path
    assert gateway_url("http://127.0.0.1:18789", c) == "http://127.0.0.1:18790"
    assert gateway_url("wss://gw.lan/base/", c) == "https://gw.lan:18790/base"
    assert gateway_url("http://[::1]:18789", c) == "http://[::1]:18790"
    assert gateway_url(None, c) == "http://127.0.0.1:18790"


def test_probe_gateway_healthz_and_readyz(gateway_server: str) -> None:
    health = probe_gateway(gateway_server + "/", TOKEN)
    assert health.reachable and health.healthz == 200 and health.readyz == 503 and not health.ok
    assert health.latency_ms is not None and health.latency_ms >= 0
    assert "not ready" in (health.error or "") and TOKEN not in repr(health) + health.describe()
    assert _Handler.seen == [f"Bearer {TOKEN}", f"Bearer {TOKEN}"]
    _Handler.seen = []
    probe_gateway(gateway_server.replace("http:", "ws:"), None)
    assert _Handler.seen == [None, None]  # no Authorization header without a token


def test_unreachable_gateway_is_diagnosed_first() -> None:
    port = closed_port()
    health = probe_gateway(f"http://127.0.0.1:{port}", TOKEN, timeout=1.0)
    assert not health.reachable and health.healthz is None and health.readyz is None
    assert "refused" in (health.error or "") and f"127.0.0.1:{port}" in (health.error or "")
    cron = load_cron(FIXTURES / "list-form", runner=None)
    causes = diagnose("veda", config=config_of(), cron=cron, gateway=health, channels=[], schedule_cron=SCHEDULE["veda"])
    assert codes(causes) == ["gateway_unreachable", "whatsapp_logged_out"]
    assert causes[0].title == "Gateway unreachable"
    assert causes[0].fix == ["openclaw gateway status", "openclaw gateway restart", "openclaw logs --follow"]


# ---------------------------------------------------------------------------------------------
# WhatsApp


def test_channel_status_from_files(tmp_path: Path) -> None:
    c = config_of()
    assert channel_status(FIXTURES / "list-form", c, runner=None) == [
        ChannelStatus("whatsapp", "default", True, None, channel_status(FIXTURES / "list-form", c, None)[0].detail)
    ]
    unlinked = channel_status(tmp_path, c, runner=None)
    assert [(s.account, s.linked) for s in unlinked] == [("default", False)] and "channels login" in unlinked[0].detail
    causes = diagnose("veda", config=c, cron=None, gateway=HEALTHY, channels=unlinked, schedule_cron=None)
    assert codes(causes) == ["whatsapp_not_linked"]  # never linked is not a logout
    assert causes[0].fix == ["openclaw channels login --channel whatsapp", "openclaw channels status --probe"]


def test_channel_status_from_the_cli() -> None:
    answer = {"ok": True, "channels": {"whatsapp": {"accounts": {
        "default": {"linked": True, "connected": True, "status": "connected"},
        "work": {"linked": True, "connected": False, "loggedOut": True, "lastError": '{"reason":"401"} Connection Failure'},
    }}, "telegram": {"configured": True, "running": True}}}
    got = channel_status(Path("/nonexistent"), None, runner=lambda argv: (0, json.dumps(answer), ""))
    assert got == [
        ChannelStatus("whatsapp", "default", True, True, "connected", state="connected"),
        ChannelStatus("whatsapp", "work", False, False, '{"reason":"401"} Connection Failure', logged_out=True),
        ChannelStatus("telegram", "default", True, True, ""),
    ]
    causes = diagnose("veda", config=None, cron=None, gateway=HEALTHY, channels=got, schedule_cron=None)
    assert codes(causes) == ["whatsapp_logged_out"]
    assert causes[0].fix[:2] == ["openclaw channels logout --channel whatsapp --account work",
                                 "openclaw channels login --channel whatsapp --account work"]


# ---------------------------------------------------------------------------------------------
# diagnosis


@pytest.mark.parametrize("form", FORMS)
def test_veda_401_is_whatsapp_logged_out(form: str) -> None:
    state = FIXTURES / form
    c = config_of(form)
    cron = load_cron(state, runner=None)
    channels = channel_status(state, c, runner=None)
    causes = diagnose("veda", config=c, cron=cron, gateway=HEALTHY, channels=channels, schedule_cron=SCHEDULE["veda"])
    assert codes(causes) == ["whatsapp_logged_out"]
    cause = causes[0]
    assert cause.title == "WhatsApp logged out" and "401" in cause.detail and "can't link new devices" in cause.detail
    assert cause.fix == [
        "openclaw channels logout --channel whatsapp",
        "openclaw channels login --channel whatsapp",
        "openclaw channels status --probe",
    ]
    # the lead is healthy: nothing to say
    assert diagnose("cestra", config=c, cron=cron, gateway=HEALTHY, channels=channels, schedule_cron=SCHEDULE["cestra"]) == []


@pytest.mark.parametrize(
    "text",
    ["gateway closed (1008): unauthorized: gateway/device token mismatch", "Unauthorized (token mismatch)"],
)
def test_token_mismatch(text: str) -> None:
    j = job()
    causes = diagnose("veda", config=None, cron=state_of((j, [run(status="error", error=text)])), gateway=HEALTHY,
                      channels=[], schedule_cron=None)
    assert codes(causes) == ["gateway_token_mismatch"]  # not mistaken for WhatsApp's 401
    assert "OPENCLAW_GATEWAY_TOKEN" in causes[0].detail and "systemd" in causes[0].detail
    assert causes[0].fix == ["openclaw gateway auth-token --show", "openclaw config get gateway.auth.token",
                             "openclaw gateway restart", "openclaw doctor"]
    # the CLI's own error (a failed `cron list`, handed over as `errors`) says the same
    assert codes(diagnose("veda", config=None, cron=None, gateway=HEALTHY, channels=None, schedule_cron=None, errors=[text])) == [
        "gateway_token_mismatch", "cron_unreadable"]


def test_connection_replaced_440() -> None:
    j = job()
    r = run(delivered=False, deliveryStatus="not-delivered", deliveryError='{"reason":"440"} Stream Errored (conflict): connection replaced')
    causes = diagnose("veda", config=None, cron=state_of((j, [r])), gateway=HEALTHY, channels=[], schedule_cron=None)
    assert codes(causes) == ["whatsapp_replaced"]
    assert "another gateway" in causes[0].detail and causes[0].fix[-1] == "openclaw channels status --probe"


def test_no_heartbeat_job() -> None:
    cron = load_cron(FIXTURES / "list-form", runner=None)
    causes = diagnose("quill", config=config_of(), cron=cron, gateway=HEALTHY, channels=[], schedule_cron="6-59/15 * * * *")
    assert codes(causes) == ["no_heartbeat_job"]
    assert causes[0].fix == [format_command(cron_add_command("quill", "quill-heartbeat", "6-59/15 * * * *", "UTC"))]
    assert causes[0].fix[0].startswith("openclaw cron add --name quill-heartbeat --cron '6-59/15 * * * *' --tz UTC")
    # cron unknown (could not be read): no claim about the job
    assert diagnose("quill", config=None, cron=None, gateway=HEALTHY, channels=[], schedule_cron=None) == []


def test_job_disabled() -> None:
    j = job(enabled=False)
    causes = diagnose("veda", config=None, cron=state_of((j, [])), gateway=HEALTHY, channels=[], schedule_cron="2-59/15 * * * *")
    assert codes(causes) == ["job_disabled"] and causes[0].fix == ["openclaw cron enable job-veda"]


def test_top_of_hour_without_exact_is_staggered() -> None:
    """OpenClaw's rule (checked against the real gateway in test_openclaw_real.py): minute `0` with
    a wildcard hour is staggered unless --exact; a stored staggerMs > 0 is staggered whatever the
    expression; `*/15` and `0,15,30,45` are not."""
    for expr, stagger in (("0 * * * *", None), ("0,15,30,45 * * * *", 300000)):
        j = job("cestra", expr=expr, stagger=stagger)
        causes = diagnose("cestra", config=None, cron=state_of((j, [])), gateway=HEALTHY, channels=[], schedule_cron=expr)
        assert codes(causes) == ["staggered_top_of_hour"]
        assert causes[0].fix == ["openclaw cron edit job-cestra --exact"] and causes[0].severity == "warning"
    exact = job("cestra", expr="*/15 * * * *", stagger=0)
    assert diagnose("cestra", config=None, cron=state_of((exact, [])), gateway=HEALTHY, channels=[], schedule_cron="*/15 * * * *") == []
    assert fires_at_top_of_hour("0 * * * *") and fires_at_top_of_hour("0 */2 * * *")
    assert not fires_at_top_of_hour("*/15 * * * *") and not fires_at_top_of_hour("0,15,30,45 * * * *")
    assert not fires_at_top_of_hour("0 3 * * *") and not fires_at_top_of_hour("2-59/15 * * * *")
    for expr in ("*/15 * * * *", "0,15,30,45 * * * *"):
        unstaggered = job("cestra", expr=expr, stagger=None)
        assert diagnose("cestra", config=None, cron=state_of((unstaggered, [])), gateway=HEALTHY, channels=[],
                        schedule_cron="*/15 * * * *") == []


def test_heartbeat_block_footgun(tmp_path: Path) -> None:
    path = write_config(tmp_path, """{
      agents: {
        defaults: { heartbeat: { every: "30m" } },
        list: [
          { id: "cestra", default: true, heartbeat: { every: "15m", target: "whatsapp" } },
          { id: "veda" },
        ],
      },
    }""")
    c = load_openclaw_config(path, tmp_path, {})
    causes = diagnose("veda", config=c, cron=None, gateway=HEALTHY, channels=[], schedule_cron=None)
    assert codes(causes) == ["heartbeat_block_footgun"]
    assert "#46101" in causes[0].detail and "cestra" in causes[0].detail and causes[0].fix[-1] == "openclaw doctor"
    assert diagnose("cestra", config=c, cron=None, gateway=HEALTHY, channels=[], schedule_cron=None) == []


def test_schedule_differs() -> None:
    cron = load_cron(FIXTURES / "list-form", runner=None)
    causes = diagnose("orin", config=None, cron=cron, gateway=HEALTHY, channels=[], schedule_cron="6-59/15 * * * *", tz="Europe/Paris")
    assert codes(causes) == ["whatsapp_logged_out", "schedule_differs"]
    assert "'4-59/15 * * * *'" in causes[1].detail and "Europe/Paris" in causes[1].detail
    assert causes[1].fix == [f"openclaw cron edit {JOB['orin']} --cron '6-59/15 * * * *' --tz Europe/Paris"]
    # the same schedule written differently is not a difference
    same = job("cestra", expr="0,15,30,45 * * * *", stagger=0)
    assert diagnose("cestra", config=None, cron=state_of((same, [])), gateway=HEALTHY, channels=[], schedule_cron="*/15 * * * *") == []


def test_causes_are_ordered_by_severity(tmp_path: Path) -> None:
    path = write_config(tmp_path, '{agents: {list: [{id: "cestra", heartbeat: {}}, {id: "veda"}]}}')
    j = job("veda", expr="0 * * * *")
    r = run(status="error", error="gateway closed (1008): unauthorized", deliveryError='{"reason":"401"} Connection Failure',
            delivered=False)
    causes = diagnose("veda", config=load_openclaw_config(path, tmp_path, {}), cron=state_of((j, [r])),
                      gateway=GatewayHealth(False, error="connection refused"), channels=[], schedule_cron="2-59/15 * * * *")
    assert codes(causes) == ["gateway_unreachable", "gateway_token_mismatch", "whatsapp_logged_out",
                             "heartbeat_block_footgun", "staggered_top_of_hour", "schedule_differs"]


# ---------------------------------------------------------------------------------------------
# commands


def test_cron_add_command_for_the_seed_squad() -> None:
    for agent, expr in SCHEDULE.items():
        argv = cron_add_command(agent, f"{agent}-heartbeat", expr, "UTC")
        assert argv[:13] == ["openclaw", "cron", "add", "--name", f"{agent}-heartbeat", "--cron", expr, "--tz", "UTC",
                             "--session", "isolated", "--agent", agent]
        # 2026.9 no longer reads HEARTBEAT.md; delivery explicit; */15 is never staggered: no --exact
        assert argv[13] == "--message" and "HEARTBEAT.md" not in argv[14] and "HEARTBEAT_OK" in argv[14]
        assert argv[15:] == ["--no-deliver"]
    assert cron_add_command("quill", None, "0 * * * *", "UTC")[-2:] == ["--no-deliver", "--exact"]
    assert cron_add_command("veda", None, "2-59/15 * * * *", "UTC", channel="whatsapp", to="+15550100000")[-5:] == [
        "--announce", "--channel", "whatsapp", "--to", "+15550100000"]
    line = format_command(cron_add_command("veda", None, "2-59/15 * * * *", "UTC", message="Check in; reply HEARTBEAT_OK"))
    assert line == ("openclaw cron add --name veda-heartbeat --cron '2-59/15 * * * *' --tz UTC --session isolated "
                    "--agent veda --message 'Check in; reply HEARTBEAT_OK' --no-deliver")


def test_compare_job() -> None:
    cron = load_cron(FIXTURES / "list-form", runner=None)
    for j in cron.jobs:
        assert compare_job(j, SCHEDULE[j.agent_id], "UTC") == []  # type: ignore[index]
    diffs = compare_job(job(expr="0 * * * *", tz=None, enabled=False), "2-59/15 * * * *", "UTC")
    assert [d.split(":")[0].strip() for d in diffs] == ["expression", "timezone", "disabled", "staggered"]
    assert "'0 * * * *'" in diffs[0] and "gateway host's local time" in diffs[1]
    assert compare_job(job(tz="Europe/Paris"), "2-59/15 * * * *", "UTC") == [
        "timezone: the job has 'Europe/Paris', the console expects 'UTC'"]
