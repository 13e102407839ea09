"""What no dashboard tells (the operators' requests, issue 13): ticks skipped while the gateway was
stopped (openclaw#104412), "ok" runs under 50 ms while it was down (#63106), heartbeat jobs lost
or blanked by an upgrade (#90510, #93031), `heartbeat.every: "0m"` (#119005), a failure alert
routed to the channel that is failing; and OpenClaw's `main` stored by an older import.

The job and channel objects below are what the real OpenClaw 2026.9.6 printed (`cron list --all
--json`, `channels status --json` against the test gateway), trimmed to the fields read;
tests/test_openclaw_real.py checks the real CLI still prints them."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from console.service.health.outages import (
    AgentHistory,
    outage_spans,
    short_ok,
    skipped_slots,
)
from console.service.health.slots import Run, Schedule, slots_between
from console.service.health.squad import is_reported, reported_ids
from console.service.models import Activity, Agent
from console.service.openclaw import job_snapshot
from console.service.openclaw.channels import (
    ChannelReport,
    _channels_from_cli,
    report_from_json,
    report_to_json,
)
from console.service.openclaw.config import load_openclaw_config
from console.service.openclaw.cron import CronState, parse_job
from console.service.openclaw.diagnose import diagnose, failure_route
from console.service.openclaw.gateway import GatewayHealth

T0 = 1_795_168_800_000  # 2026-11-20 10:00 UTC
MIN = 60_000
HEALTHY = GatewayHealth(True, 200, 200, 1.0)
DOWN = GatewayHealth(False, error="connection refused at 127.0.0.1:18789: the gateway is not running there")

# `openclaw cron list --all --json`, veda's job after `cron edit <id> --failure-alert-channel whatsapp
# --failure-alert-to +15550100000 --failure-alert-after 1` (OpenClaw 2026.9.6)
VEDA_JOB = {
    "id": "d87b1767-bd16-4df7-bf69-62b8c6f7e249", "agentId": "veda", "name": "veda-heartbeat", "enabled": True,
    "schedule": {"kind": "cron", "expr": "2-59/15 * * * *", "tz": "UTC"}, "sessionTarget": "isolated",
    "wakeMode": "now", "payload": {"kind": "agentTurn", "message": "Heartbeat for veda"},
    "delivery": {"mode": "none", "channel": "last"},
    "failureAlert": {"after": 1, "channel": "whatsapp", "to": "+15550100000"},
    "state": {"nextRunAtMs": T0 + 2 * MIN, "lastRunAtMs": T0 - 13 * MIN, "lastRunStatus": "error", "lastStatus": "error",
              "lastDurationMs": 1224, "lastErrorReason": "auth", "lastDeliveryStatus": "not-requested",
              "lastFailureNotificationDeliveryStatus": "not-requested", "consecutiveErrors": 2,
              "lastError": "No route-compatible authentication source is configured for openai."},
    "effectiveAgentId": "veda", "status": "error",
}
CESTRA_JOB = {
    "id": "814276f3-235b-48ae-a9d2-2e2b97e882f2", "agentId": "cestra", "name": "cestra-heartbeat", "enabled": True,
    "schedule": {"kind": "cron", "expr": "*/15 * * * *", "tz": "UTC"}, "sessionTarget": "isolated",
    "payload": {"kind": "command", "argv": ["sh", "-lc", "echo HEARTBEAT_OK"]}, "delivery": {"mode": "none", "channel": "last"},
    "state": {"lastRunAtMs": T0 - 15 * MIN, "lastStatus": "ok", "lastDurationMs": 273, "consecutiveErrors": 0},
}
# `openclaw channels status --json`: the WhatsApp plugin installed, never linked
CHANNELS = {
    "channels": {"whatsapp": {"configured": True, "statusState": "not-linked", "linked": False, "running": False,
                              "connected": False, "lastError": None, "healthState": "stopped"}},
    "channelAccounts": {"whatsapp": [{"accountId": "default", "enabled": True, "healthState": "stopped"}]},
}


def jobs(*docs: dict) -> CronState:
    parsed = [parse_job(d) for d in docs]
    return CronState([j for j in parsed if j], {}, "cli", runs_read=False)


def activity(type: str, at: float, detail: dict | None = None) -> Activity:
    return Activity(id=f"{type}-{at}", type=type, message=type, actor="service", detail=detail, created_at=at)


def codes(causes) -> list[str]:
    return [c.code for c in causes]


# ---------------------------------------------------------------------------------------------
# the gateway's outages, and the ticks skipped in them (openclaw#104412)


def test_outage_spans_from_the_collectors_audit_log() -> None:
    log = [activity("gateway_up", T0 + 60 * MIN), activity("gateway_down", T0 + 2 * MIN, {"lastUpAt": T0 + MIN}),
           activity("task_created", T0 + 5 * MIN), activity("gateway_down", T0 + 3 * MIN),  # still down: one span
           activity("gateway_down", T0 + 90 * MIN)]
    assert outage_spans(log, T0 + 100 * MIN) == [(T0 + MIN, T0 + 60 * MIN), (T0 + 90 * MIN, None)]
    # answering again before the collector logged it: the open span ends now
    assert outage_spans(log, T0 + 100 * MIN, down_now=False)[-1] == (T0 + 90 * MIN, T0 + 100 * MIN)
    assert outage_spans([], T0) == []


def test_the_slots_skipped_while_the_gateway_was_stopped() -> None:
    sched = Schedule("2-59/15 * * * *", created_at=T0 - 24 * 60 * MIN)
    now = T0 + 3 * 60 * MIN
    # a beat at every slot but between 11:00 and 12:00 (the gateway stopped); one failed run in it
    runs = [Run(s + 20_000, True) for s in slots_between(sched, T0 - 60 * MIN, now) if not T0 + 60 * MIN <= s < T0 + 120 * MIN]
    runs.append(Run(T0 + 62 * MIN + 5_000, False, "gateway closed"))
    spans = [(T0 + 60 * MIN, T0 + 120 * MIN)]
    skipped = skipped_slots(sched, runs, spans, now)
    # 11:02 had an error (a run): not skipped; 11:17, 11:32 and 11:47 had nothing
    assert skipped == [T0 + 77 * MIN, T0 + 92 * MIN, T0 + 107 * MIN]
    assert skipped_slots(sched, runs, [], now) == []


def test_diagnose_names_skipped_ticks_with_the_real_fix() -> None:
    cron = jobs(VEDA_JOB)
    history = AgentHistory(((T0 - 60 * MIN, T0),), (T0 - 43 * MIN, T0 - 28 * MIN, T0 - 13 * MIN))
    causes = diagnose("veda", config=None, cron=cron, gateway=HEALTHY, channels=[], schedule_cron="2-59/15 * * * *",
                      history=history)
    [c] = [c for c in causes if c.code == "skipped_while_gateway_down"]
    assert c.title == "Heartbeats skipped while the gateway was stopped"
    assert "3 slots of veda (2026-11-20 09:17 UTC to 2026-11-20 09:47 UTC)" in c.detail and "openclaw#104412" in c.detail
    assert c.fix == [f"openclaw cron run {VEDA_JOB['id']}", "openclaw config get cron.skipMissedJobs"]
    # still down: start it first
    down = diagnose("veda", config=None, cron=cron, gateway=DOWN, channels=[], schedule_cron=None,
                    history=AgentHistory(((T0 - 60 * MIN, None),), (T0 - 13 * MIN,)))
    [c] = [c for c in down if c.code == "skipped_while_gateway_down"]
    assert c.fix[:2] == ["openclaw gateway start", "openclaw gateway status"] and "1 slot of veda" in c.detail
    assert codes(down)[:2] == ["gateway_unreachable", "skipped_while_gateway_down"]
    assert "skipped_while_gateway_down" not in codes(diagnose("veda", config=None, cron=cron, gateway=HEALTHY, channels=[],
                                                              schedule_cron=None, history=AgentHistory(((T0, T0 + 1),), ())))


# ---------------------------------------------------------------------------------------------
# "ok" in under 50 ms while the gateway was down (openclaw#63106)


def test_an_ok_run_under_50_ms_while_the_gateway_was_down_is_no_beat() -> None:
    spans = [(T0, T0 + 30 * MIN)]
    assert short_ok(T0 + MIN, True, 12, spans)
    assert not short_ok(T0 + MIN, True, 273, spans)  # the real command job takes 71-273 ms
    assert not short_ok(T0 + 40 * MIN, True, 12, spans)  # the gateway was up then
    assert not short_ok(T0 + MIN, False, 12, spans)
    fake = copy.deepcopy(CESTRA_JOB)
    fake["state"].update(lastRunAtMs=T0 + 2 * MIN, lastDurationMs=9)
    causes = diagnose("cestra", config=None, cron=jobs(fake), gateway=HEALTHY, channels=[], schedule_cron=None,
                      history=AgentHistory(tuple(spans), ()))
    [c] = [c for c in causes if c.code == "ok_while_gateway_down"]
    assert "9 ms" in c.detail and "openclaw#63106" in c.detail and "does not count" in c.detail
    assert c.fix == ["openclaw gateway status", f"openclaw cron run {CESTRA_JOB['id']} --wait",
                     f"openclaw cron runs --id {CESTRA_JOB['id']} --limit 5"]
    assert diagnose("cestra", config=None, cron=jobs(CESTRA_JOB), gateway=HEALTHY, channels=[], schedule_cron=None,
                    history=AgentHistory(tuple(spans), ())) == []


def test_the_collector_records_such_a_run_as_an_error(tmp_path: Path) -> None:
    import json

    from console.config import load_settings
    from console.service.daemon import Daemon
    from console.service.store.outbox import Outbox
    from console.service.store.sqlite import LocalStore

    state = tmp_path / "state"
    (state / "cron" / "runs").mkdir(parents=True)
    (state / "cron" / "jobs.json").write_text(json.dumps({"version": 1, "jobs": [CESTRA_JOB]}))
    runs = [{"ts": T0 + 20, "jobId": CESTRA_JOB["id"], "action": "finished", "status": "ok", "runAtMs": T0 + 8, "durationMs": 12},
            {"ts": T0 + 15 * MIN + 300, "jobId": CESTRA_JOB["id"], "action": "finished", "status": "ok",
             "runAtMs": T0 + 15 * MIN + 27, "durationMs": 273}]
    (state / "cron" / "runs" / f"{CESTRA_JOB['id']}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    settings = load_settings(None, env={"OPENCLAW_STATE_DIR": str(state)})
    store, outbox = LocalStore(tmp_path / "squad.db"), Outbox(tmp_path / "outbox.db")
    try:
        outbox.set("gateway_down_spans", [[T0 - MIN, T0 + 5 * MIN]])
        Daemon(settings, store, outbox, runner=lambda argv: (127, "", "not found"), prefer_state_db=False).collect()
        beats = sorted(store.list_heartbeats("cestra", since=0), key=lambda b: b.at)
        assert [b.outcome for b in beats] == ["error", "ok"]
        assert "while the gateway was down: not a heartbeat (openclaw#63106)" in (beats[0].error or "")
    finally:
        outbox.close()
        store.close()


def test_the_collector_keeps_the_gateways_outages(tmp_path: Path) -> None:
    from console.config import load_settings
    from console.service.daemon import Daemon
    from console.service.store.outbox import Outbox
    from console.service.store.sqlite import LocalStore

    clock = [T0 / 1000]
    settings = load_settings(None, env={"OPENCLAW_STATE_DIR": str(tmp_path / "none")})
    store, outbox = LocalStore(tmp_path / "squad.db"), Outbox(tmp_path / "outbox.db")
    try:
        d = Daemon(settings, store, outbox, clock=lambda: clock[0], runner=lambda argv: (127, "", "no"))
        d._outage("up", T0, None)
        outbox.set("gateway_last_up", T0)
        d._outage("down", T0 + MIN, T0)
        d._outage("down", T0 + 2 * MIN, T0)  # still down: one span
        d._outage("up", T0 + 30 * MIN, T0)
        assert outbox.get("gateway_down_spans") == [[T0, T0 + 30 * MIN]]
    finally:
        outbox.close()
        store.close()


# ---------------------------------------------------------------------------------------------
# jobs lost or blanked by an upgrade (openclaw#90510, #93031)


def test_the_snapshot_tells_a_vanished_job_and_a_lost_agent_id() -> None:
    squad = [("cestra", None), ("veda", None)]
    before = job_snapshot.take(jobs(CESTRA_JOB, VEDA_JOB).jobs, squad)
    assert before == {"cestra": {"id": CESTRA_JOB["id"], "name": "cestra-heartbeat", "agentId": "cestra"},
                      "veda": {"id": VEDA_JOB["id"], "name": "veda-heartbeat", "agentId": "veda"}}
    blanked = {k: v for k, v in VEDA_JOB.items() if k not in ("agentId", "effectiveAgentId")}
    after = jobs(blanked).jobs  # cestra's job is gone, veda's lost its agentId
    current = job_snapshot.take(after, squad)
    losses = job_snapshot.compare(before, after, ["cestra", "veda"], current)
    assert [(x.agent_id, x.kind) for x in losses] == [("cestra", "vanished"), ("veda", "agent_lost")]
    assert losses[1].words() == (f"veda's heartbeat job veda-heartbeat ({VEDA_JOB['id']}) lost its agentId: it now runs "
                                 "on OpenClaw's default agent")
    # the lost entries are kept (the alert stays until the job is back)
    kept = job_snapshot.merge(before, current, losses)
    assert kept == before
    # moved to another agent
    moved = jobs({**VEDA_JOB, "agentId": "orin"}).jobs
    assert [(x.kind, x.agent_now) for x in job_snapshot.compare(before, moved, ["veda"])] == [("agent_changed", "orin")]
    # re-added under a new id: covered, nothing lost; the snapshot follows
    readded = jobs({**VEDA_JOB, "id": "new-id"}, CESTRA_JOB).jobs
    now = job_snapshot.take(readded, squad)
    assert job_snapshot.compare(before, readded, ["cestra", "veda"], now) == []
    assert job_snapshot.merge(before, now, [])["veda"]["id"] == "new-id"
    # the snapshot travels in an activity's detail
    log = [activity("heartbeat_jobs", T0, {"jobs": before}), activity("heartbeat_jobs", T0 - MIN, {"jobs": {}})]
    assert job_snapshot.from_activities(log) == before and job_snapshot.from_activities([]) is None


def test_diagnose_says_how_to_repair_a_lost_job() -> None:
    blanked = {k: v for k, v in VEDA_JOB.items() if k != "agentId"}
    loss = job_snapshot.JobLoss("veda", VEDA_JOB["id"], "veda-heartbeat", "agent_lost")
    causes = diagnose("veda", config=None, cron=jobs(blanked), gateway=HEALTHY, channels=[],
                      schedule_cron="2-59/15 * * * *", lost=[loss])
    assert codes(causes)[:2] == ["heartbeat_job_lost", "no_heartbeat_job"]
    assert causes[0].title == "Heartbeat job lost its agent" and "openclaw#90510" in causes[0].detail
    assert causes[0].fix == [f"openclaw cron edit {VEDA_JOB['id']} --agent veda", "openclaw cron list --all --json"]
    gone = job_snapshot.JobLoss("veda", VEDA_JOB["id"], "veda-heartbeat", "vanished")
    [c] = [c for c in diagnose("veda", config=None, cron=jobs(), gateway=HEALTHY, channels=[],
                               schedule_cron="2-59/15 * * * *", lost=[gone]) if c.code == "heartbeat_job_lost"]
    assert c.title == "Heartbeat job lost" and c.fix[0].startswith("openclaw cron add --name veda-heartbeat --cron")


def test_the_collector_snapshots_the_jobs_and_alerts_once(tmp_path: Path) -> None:
    import json

    from console.config import load_settings
    from console.service.daemon import Daemon
    from console.service.store.outbox import Outbox
    from console.service.store.sqlite import LocalStore

    state = tmp_path / "state"
    (state / "cron").mkdir(parents=True)

    def write(*docs: dict) -> None:
        (state / "cron" / "jobs.json").write_text(json.dumps({"version": 1, "jobs": list(docs)}))

    settings = load_settings(None, env={"OPENCLAW_STATE_DIR": str(state)})
    store, outbox = LocalStore(tmp_path / "squad.db"), Outbox(tmp_path / "outbox.db")
    clock = [T0 / 1000]
    try:
        def collect() -> None:
            Daemon(settings, store, outbox, clock=lambda: clock[0], runner=lambda argv: (127, "", "no"),
                   prefer_state_db=False).collect()

        def of(type: str) -> list[Activity]:
            return [a for a in store.list_activities(100) if a.type == type]

        write(CESTRA_JOB, VEDA_JOB)
        collect()
        collect()
        [snap] = of("heartbeat_jobs")  # logged once: nothing changed
        assert snap.detail == {"jobs": {"cestra": {"id": CESTRA_JOB["id"], "name": "cestra-heartbeat", "agentId": "cestra"},
                                        "veda": {"id": VEDA_JOB["id"], "name": "veda-heartbeat", "agentId": "veda"}}}
        write(CESTRA_JOB)  # an upgrade dropped veda's job
        collect()
        collect()
        [lost] = of("heartbeat_job_lost")  # said once
        assert lost.agent_id == "veda" and "is gone from OpenClaw" in lost.message
        # a collector with a fresh outbox finds the snapshot in the store
        outbox.close()
        outbox = Outbox(tmp_path / "outbox2.db")
        collect()
        assert len(of("heartbeat_job_lost")) == 2  # the new collector says it too
        write(CESTRA_JOB, VEDA_JOB)  # repaired
        collect()
        assert job_snapshot.from_activities(store.list_activities(100))["veda"]["id"] == VEDA_JOB["id"]
    finally:
        outbox.close()
        store.close()


# ---------------------------------------------------------------------------------------------
# heartbeat.every "0m" (openclaw#119005)


@pytest.mark.parametrize(("form", "key"), [("entries", "agents.entries.orin.heartbeat"), ("list", "'agents.list[2].heartbeat'")])
def test_every_0m_on_one_agent_silences_the_native_heartbeat(tmp_path: Path, form: str, key: str) -> None:
    agents = [{"id": "cestra", "default": True}, {"id": "veda"}, {"id": "orin", "heartbeat": {"every": "0m"}}]
    body = ("{agents: {entries: {" + ", ".join(f"{a['id']}: {_json5(a)}" for a in agents) + "}}}" if form == "entries"
            else "{agents: {list: [" + ", ".join(_json5(a) for a in agents) + "]}}")
    (tmp_path / "openclaw.json").write_text(body)
    config = load_openclaw_config(tmp_path / "openclaw.json", tmp_path, {})
    cron = jobs(VEDA_JOB)
    [c] = [c for c in diagnose("veda", config=config, cron=cron, gateway=HEALTHY, channels=[], schedule_cron=None)
           if c.code == "heartbeat_every_zero"]
    assert "agent orin has heartbeat.every '0m'" in c.detail and "openclaw#119005" in c.detail
    assert c.fix[0] == f"openclaw config unset {key}" and c.severity == "degraded"  # veda still has its cron job
    [c] = [c for c in diagnose("cestra", config=config, cron=jobs(), gateway=HEALTHY, channels=[], schedule_cron=None)
           if c.code == "heartbeat_every_zero"]
    assert c.severity == "blocking" and "nothing wakes it" in c.detail
    # another key in the block: only `every` goes
    (tmp_path / "openclaw.json").write_text('{agents: {entries: {orin: {heartbeat: {every: "0", target: "none"}}}}}')
    config = load_openclaw_config(tmp_path / "openclaw.json", tmp_path, {})
    [c] = [c for c in diagnose("orin", config=config, cron=None, gateway=HEALTHY, channels=[], schedule_cron=None)
           if c.code == "heartbeat_every_zero"]
    assert c.fix[0] == "openclaw config unset agents.entries.orin.heartbeat.every"
    (tmp_path / "openclaw.json").write_text('{agents: {entries: {orin: {heartbeat: {every: "30m"}}}}}')
    config = load_openclaw_config(tmp_path / "openclaw.json", tmp_path, {})
    assert "heartbeat_every_zero" not in codes(diagnose("orin", config=config, cron=None, gateway=HEALTHY, channels=[],
                                                        schedule_cron=None))


def _json5(agent: dict) -> str:
    import json

    return json.dumps(agent)


# ---------------------------------------------------------------------------------------------
# a failure alert routed to the channel that is failing


def test_a_failure_alert_to_an_unlinked_whatsapp_is_named() -> None:
    cron = jobs(VEDA_JOB)
    job = cron.jobs[0]
    assert failure_route(job, None) == ("whatsapp", "+15550100000", None, "the job's failureAlert")
    report = ChannelReport(_channels_from_cli(CHANNELS, []), "cli")
    causes = diagnose("veda", config=None, cron=cron, gateway=HEALTHY, channels=report, schedule_cron=None)
    assert codes(causes) == ["model_auth", "failure_alert_to_failing_channel"]
    c = causes[1]
    assert c.title == "Failure alerts go to whatsapp, which is failing"
    assert "whatsapp (+15550100000), and whatsapp is not linked (account default)" in c.detail
    assert c.fix == [f"openclaw cron edit {job.id} --failure-alert-channel '<channel>' --failure-alert-to '<destination>'",
                     "openclaw channels login --channel whatsapp", "openclaw channels status --probe"]
    # WhatsApp linked: nothing to say; alerts switched off: nothing either
    linked = copy.deepcopy(CHANNELS)
    linked["channels"]["whatsapp"].update(statusState="linked", linked=True, connected=True)
    assert "failure_alert_to_failing_channel" not in codes(diagnose(
        "veda", config=None, cron=cron, gateway=HEALTHY, channels=ChannelReport(_channels_from_cli(linked, []), "cli"),
        schedule_cron=None))
    off = jobs({**VEDA_JOB, "failureAlert": False})
    assert failure_route(off.jobs[0], None) is None
    # the route names no account: OpenClaw sends through the default one; a second, unlinked
    # account of the channel is no reason to say the alerts are lost
    from console.service.openclaw.channels import ChannelStatus

    two = ChannelReport([ChannelStatus("whatsapp", "default", linked=True, connected=True, state="linked"),
                         ChannelStatus("whatsapp", "backup", linked=False, state="not-linked")], "cli")
    assert "failure_alert_to_failing_channel" not in codes(diagnose(
        "veda", config=None, cron=cron, gateway=HEALTHY, channels=two, schedule_cron=None))


def test_the_failure_route_follows_openclaws_precedence(tmp_path: Path) -> None:
    (tmp_path / "openclaw.json").write_text('{cron: {failureAlert: {channel: "whatsapp", to: "+15550100001"}}}')
    config = load_openclaw_config(tmp_path / "openclaw.json", tmp_path, {})
    plain = parse_job({k: v for k, v in VEDA_JOB.items() if k != "failureAlert"})
    assert plain is not None and failure_route(plain, config) == ("whatsapp", "+15550100001", None, "cron.failureAlert")
    dest = parse_job({**VEDA_JOB, "failureAlert": None,
                      "delivery": {"mode": "announce", "channel": "telegram", "failureDestination": {"channel": "slack", "to": "C1"}}})
    assert dest is not None and failure_route(dest, config) == ("slack", "C1", None, "delivery.failureDestination")
    assert failure_route(dest, None) == ("slack", "C1", None, "delivery.failureDestination")
    webhook = parse_job({**VEDA_JOB, "failureAlert": {"mode": "webhook", "to": "https://example.invalid/hook"}})
    assert webhook is not None and failure_route(webhook, config) is None
    last = parse_job({**VEDA_JOB, "failureAlert": {"channel": "last"}})
    assert last is not None and failure_route(last, None) is None
    (tmp_path / "openclaw.json").write_text('{cron: {failureAlert: {enabled: false, channel: "whatsapp"}}}')
    assert failure_route(plain, load_openclaw_config(tmp_path / "openclaw.json", tmp_path, {})) is None


# ---------------------------------------------------------------------------------------------
# the collector's channel report, for check


def test_the_channel_report_survives_json() -> None:
    report = ChannelReport(_channels_from_cli(CHANNELS, []), "cli", None, None, ["telegram"])
    again = report_from_json(report_to_json(report))
    assert again == report
    assert report_from_json({"statuses": "x"}) is None and report_from_json(None) is None


# ---------------------------------------------------------------------------------------------
# OpenClaw's main, stored by an older import


def _agent(agent_id: str, role: str = "") -> Agent:
    return Agent(id=agent_id, agent_id=agent_id, name=agent_id, role=role, status="idle", session_key=f"agent:{agent_id}:main")


def test_main_from_an_older_import_is_not_the_squad() -> None:
    stored = [_agent("main"), _agent("cestra"), _agent("quill")]
    assert reported_ids(["cestra", "veda"], stored) == ["cestra", "veda", "quill"]
    assert not is_reported("main", ["cestra"], _agent("main"))
    assert is_reported("main", ["main"], _agent("main"))  # squad.toml names it
    assert is_reported("main", [], _agent("main", "OpenClaw's main agent (chosen at import)"))  # the operator chose it


def test_skipped_slots_are_said_for_a_day() -> None:
    sched = Schedule("*/15 * * * *", created_at=T0 - 10 * 24 * 60 * MIN)
    spans = [(T0 - 3 * 24 * 60 * MIN, T0 - 3 * 24 * 60 * MIN + 60 * MIN)]
    assert len(skipped_slots(sched, [], spans, T0 - 3 * 24 * 60 * MIN + 2 * 60 * MIN)) == 4
    assert skipped_slots(sched, [], spans, T0) == []  # three days later: the uptime figures keep them
