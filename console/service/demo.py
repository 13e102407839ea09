"""Demo data: a generated week of the seed's squad, for `squad-console --demo` and `make demo`.

`build_demo(root, now_ms)` writes, under `root` (which must be empty or absent):

    root/DEMO.md               what this folder is
    root/squad.toml            the seed squad (Cestra */15, VEDA 2-59/15, ORIN 4-59/15, UTC, grace 5m)
    root/squad.db              a LocalStore holding the week (agents, heartbeats, flips, tasks,
                               messages, activities)
    root/state/                an OpenClaw state folder: openclaw.json, cron/jobs.json,
                               cron/runs/<jobId>.jsonl (the last day), credentials/whatsapp/,
                               and the agents' workspaces with plaintext (fake) credentials

The story, from seed/PHASE2.md: three agents registered a week ago and beating every 15 minutes.
Cestra is healthy (two missed slots and one late beat over the week). About 36 hours ago the
WhatsApp session of the gateway was logged out (Baileys 401): VEDA's and ORIN's heartbeat turns
still run but their delivery to WhatsApp fails, so every run since is a failed heartbeat. Cestra's
job announces nowhere (delivery mode "none"), so it is unaffected. Credentials sit in plain text in
the workspaces (Phase 2 step 1), tasks move across Mission Control's columns, the agents talk on
them, and the revenue pipeline holds VEDA's competitor feeds and their signals, ORIN's survey
responses and Cestra's decisions (a NO-GO, a MORE DATA and a GO, made by the pipeline's own
`decide` on that data, one opportunity still in validation). Left open, the story goes on:
`continue_story` records the beats due since (Cestra's ok, VEDA's and ORIN's failing on the same
WhatsApp 401), so the screens stay as they were, an hour later as well as at start.

Everything is deterministic for a given `(now_ms, seed)`; every key, token and phone number is
fake and says so.

The gateway is `http://127.0.0.1:9` in squad.toml and port 9 in openclaw.json (the console takes
the port from openclaw.json, see `openclaw.gateway.gateway_url`, so both must be closed). Port 0
would be the only port nothing can listen on, but openclaw.json only accepts 1-65535. Port 9 is TCP "discard":
nearly never served today, so the connection is refused at once; where a discard service does run
it reads and never answers, so the probe times out. Either way the demo gateway shows unreachable,
and the fake token is never sent to anything that could be a real OpenClaw gateway.

The store is written the way the store itself writes: agents, tasks, messages and the pipeline
decisions through the LocalStore's public methods under a simulated clock (so `created_at`,
`updated_at`, the activities and the `versions` triggers are the store's own); heartbeats and flips,
thousands of rows, through `LocalStore.import_history` (the rows `record_heartbeat` /
`record_flip` write, backdated), in a few transactions. Rows of every table are inserted in the
order of their `created_at`, so `seq` (ids, snapshot marks) is the insertion order it would be.

No Textual here: the app imports this module, not the other way round.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import random
import shlex
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.config import AgentSettings, PipelineRule, PipelineSettings, seed_agents
from console.service.openclaw.cron import parse_job, parse_run, run_to_heartbeat
from console.service.openclaw.cron_commands import heartbeat_message
from console.service.health.slots import MINUTE, Run, Schedule, flips, next_slot, slots_between
from console.service.store.sqlite import LocalStore, PastBeat, PastFlip
from console.service.models import OPERATOR, AgentSpec, FeedState, HeartbeatIn, SignalIn

HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY

DEMO_GATEWAY_PORT = 9  # TCP discard: see the module docstring
DEMO_GATEWAY = f"http://127.0.0.1:{DEMO_GATEWAY_PORT}"
DEMO_GATEWAY_TOKEN = "demo-gateway-token"
DEMO_DEPLOYMENT = "demo-squad-123"
DEMO_PHONE = "+15550100000"  # the 555-01xx range is reserved for fiction
MODEL = "claude-haiku-4-5"
PROVIDER = "anthropic"
OUTAGE_AGO = 36 * HOUR  # the WhatsApp 401 began about this long before now
WHATSAPP_401 = '{"reason":"401","location":"odn"} Connection Failure'
FAILED_ACTIVITY_EVERY = 6 * HOUR
COLLECT_LAG = (2_000.0, 60_000.0)  # the daemon collects runs every 60 s
EVALUATE_LAG = (1_000.0, 60_000.0)  # and evaluates every 60 s
ENV_KEYS = ("SQUAD_CONSOLE_CONFIG", "SQUAD_CONSOLE_DB", "OPENCLAW_STATE_DIR")
# The revenue pipeline of the story: VEDA's competitor feeds (fake addresses on the discard port:
# a fetch from the demo fails at once, the signals below were stored by earlier fetches), the
# rules that score them, and three decisions of Cestra's plus one opportunity still in validation.
DEMO_FEEDS = (("retainly", "http://127.0.0.1:9/feeds/retainly.xml"),
              ("churnbuster", "http://127.0.0.1:9/feeds/churnbuster.xml"),
              ("pricewatch", "http://127.0.0.1:9/feeds/pricewatch.xml"))
STAND_IN_NOTE = ("the demo's own feeds are stand-ins on no network (their signals are stored already): not "
                 "fetched; a feed you add is fetched for real")


def without_stand_ins(urls: list[str]) -> list[str]:
    """The feeds a fetch in the demo may try: the demo's own are stand-ins that nothing answers."""
    stand_ins = {url for _competitor, url in DEMO_FEEDS}
    return [u for u in urls if u not in stand_ins]


DEMO_RULES = (
    PipelineRule("churn demand", ("churn", "retention", "cancellations"), None, 2.0, 30 * 86400.0, "churn", 5.0),
    PipelineRule("price tracking demand", ("price", "pricing"), "pricewatch", 1.0, 30 * 86400.0, "price", 3.0),
    PipelineRule("competitor activity", (), None, 0.5, 14 * 86400.0, None, 2.0),
)
DEMO_PIPELINE = PipelineSettings(rules=DEMO_RULES)
# (competitor, days ago, title): what the feeds said over the fortnight
DEMO_SIGNALS = (
    ("retainly", 12.0, "Retainly raises $4M to predict Shopify churn"),
    ("retainly", 6.5, "Retainly: churn alerts now in the Shopify admin"),
    ("churnbuster", 9.0, "Churnbuster adds failed-payment retention emails"),
    ("churnbuster", 4.0, "Why cancellations spike after a price rise (Churnbuster blog)"),
    ("churnbuster", 1.5, "Churnbuster pricing: new plan for small stores"),
    ("pricewatch", 8.0, "Pricewatch pauses its free tier"),
    ("pricewatch", 3.0, "Pricewatch: price history exports"),
)


def _answers(pain: int, freq: int, urgency: int, pay: int, budget: str) -> dict[str, Any]:
    return {"pain": pain, "frequency": freq, "urgency": urgency, "would_pay": pay, "has_budget": budget}


NOTICE = "DEMO DATA generated by `squad-console --demo`: not a real squad; every key and token here is fake."


@dataclass(frozen=True)
class Demo:
    root: Path
    config_path: Path  # the squad.toml written
    db_path: Path  # the LocalStore
    state_dir: Path  # the OpenClaw state folder written
    env: dict[str, str]  # SQUAD_CONSOLE_CONFIG, SQUAD_CONSOLE_DB, OPENCLAW_STATE_DIR


# ------------------------------------------------------------------------------------ helpers


class _Clock:
    """The simulated clock the demo store writes under."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _rng(seed: int, stream: str) -> random.Random:
    """One independent, deterministic random stream per purpose."""
    return random.Random(f"squad-demo:{seed}:{stream}")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _toml_str(value: str | Path) -> str:
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def fake_deploy_key() -> str:
    """Shaped like a Convex production deploy key (`prod:<deployment>|<base64>`); the base64 part
    decodes to a notice that it is fake."""
    secret = base64.b64encode(b"squad-console demo: NOT a real Convex deploy key!").decode()
    return f"prod:{DEMO_DEPLOYMENT}|{secret}"


def fake_auth_token() -> str:
    """Shaped like a JWT; its payload says it is demo data."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")

    return ".".join([
        part({"alg": "none", "typ": "JWT"}),
        part({"sub": "demo", "note": "squad-console demo data, not a real token"}),
        "ZGVtby1ub3QtYS1zaWduYXR1cmU",
    ])


# ------------------------------------------------------------------------------------ runs


@dataclass
class _AgentPlan:
    settings: AgentSettings
    job_id: str
    created: float  # registered in the store
    records: list[dict[str, Any]]  # cron run-log records, oldest first
    beats: list[tuple[HeartbeatIn, float]]  # (beat, created_at in the store)


def _run_records(
    agent: AgentSettings, job_id: str, created: float, now: float, rng: random.Random, *,
    misses: set[float], late: set[float], outage_start: float | None, announce: bool,
) -> list[dict[str, Any]]:
    """One finished cron run (reference §5 run-log record) per slot since `created`, except the
    missed ones; runs that have not finished by `now` are not there yet."""
    schedule = Schedule(agent.heartbeat, agent.tz)
    out: list[dict[str, Any]] = []
    for slot in slots_between(schedule, created, now):
        jitter = rng.uniform(150_000, 240_000) if slot in late else rng.uniform(10_000, 50_000)
        duration = rng.randint(20_000, 70_000)
        input_tokens = rng.randint(1_380, 2_700)  # with the output: 1.5k-3k tokens
        output_tokens = rng.randint(120, 300)
        if slot in misses:
            continue  # no run at all: the gateway was restarting
        run_at = int(slot + jitter)
        ts = run_at + duration
        if ts > now:
            continue  # still running
        cost = round(input_tokens * 1e-6 + output_tokens * 5e-6, 6)  # Haiku 4.5: $1 / $5 per MTok
        record: dict[str, Any] = {
            "ts": ts,
            "jobId": job_id,
            "action": "finished",
            "status": "ok",
            "summary": "HEARTBEAT_OK",
            "sessionId": _uuid(rng),
            "sessionKey": f"agent:{agent.id}:cron:{job_id}",
            "runAtMs": run_at,
            "durationMs": duration,
            "nextRunAtMs": int(next_slot(schedule, slot)),
            "model": MODEL,
            "provider": PROVIDER,
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
                "cost": {"total": cost},
            },
        }
        if not announce:
            record["deliveryStatus"] = "not-requested"
        elif outage_start is not None and run_at >= outage_start:
            record.update(delivered=False, deliveryStatus="not-delivered", deliveryError=WHATSAPP_401)
        else:
            record.update(delivered=True, deliveryStatus="delivered")
        out.append(record)
    return out


def _plan(now: float, seed: int, state_dir: Path) -> tuple[list[_AgentPlan], float]:
    agents = seed_agents(state_dir)
    ids = _rng(seed, "ids")
    created0 = now - WEEK - _rng(seed, "created").uniform(15 * MINUTE, 45 * MINUTE)
    outage_start = now - OUTAGE_AGO - _rng(seed, "outage").uniform(0, 20 * MINUTE)
    collect = _rng(seed, "collect")
    plans = []
    for i, agent in enumerate(agents):
        job_id = _uuid(ids)
        created = created0 + i * 7_000  # `agents sync` registers them a few seconds apart
        schedule = Schedule(agent.heartbeat, agent.tz)
        misses: set[float] = set()
        late: set[float] = set()
        if agent.id == "cestra":
            pick = _rng(seed, "cestra")

            def slot_near(ago: float, spread: float) -> float:
                slots = slots_between(schedule, now - ago - spread, now - ago + spread)
                return pick.choice(slots)

            misses = {slot_near(5.5 * DAY, 8 * HOUR), slot_near(2.5 * DAY, 8 * HOUR)}
            late = {slot_near(8 * HOUR, 2 * HOUR)}
        records = _run_records(
            agent, job_id, created, now, _rng(seed, f"runs:{agent.id}"),
            misses=misses, late=late,
            outage_start=None if agent.id == "cestra" else outage_start,
            announce=agent.id != "cestra",
        )
        job = parse_job(_job(agent, job_id, created, records, now))
        assert job is not None
        beats = []
        for record in records:
            run = parse_run(record, job_id)
            assert run is not None
            # exactly the beat the daemon's `collect` records for this run, collected a little later
            beat = run_to_heartbeat(job, run)
            beats.append((beat, min(now, record["ts"] + collect.uniform(*COLLECT_LAG))))
        plans.append(_AgentPlan(agent, job_id, created, records, beats))
    return plans, outage_start


def _job(
    agent: AgentSettings, job_id: str, created: float, records: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    last = records[-1] if records else None
    announce = agent.id != "cestra"
    exact = agent.id == "cestra"  # fires at :00, so it was added with --exact (no stagger)
    return {
        "id": job_id,
        "agentId": agent.id,
        "name": f"{agent.id}-heartbeat",
        "enabled": True,
        "createdAtMs": int(created + 4 * MINUTE),
        "updatedAtMs": int(created + 4 * MINUTE),
        "schedule": {"kind": "cron", "expr": agent.heartbeat, "tz": agent.tz, **({"staggerMs": 0} if exact else {})},
        "sessionTarget": "isolated",
        "wakeMode": "now",
        "payload": {
            "kind": "agentTurn",
            "message": f"You are {agent.name}. " + heartbeat_message(agent.id),
            "timeoutSeconds": 300,
        },
        "delivery": {"mode": "announce", "channel": "whatsapp", "to": DEMO_PHONE} if announce else {"mode": "none"},
        "state": {
            "nextRunAtMs": int(next_slot(Schedule(agent.heartbeat, agent.tz), now)),
            "lastRunAtMs": last["runAtMs"] if last else None,
            "lastStatus": last["status"] if last else None,
            "lastDurationMs": last["durationMs"] if last else None,
            "consecutiveErrors": 0,
            "lastDeliveryStatus": last.get("deliveryStatus") if last else None,
        },
    }


# ------------------------------------------------------------------------------------ files


def _write_config(root: Path, db_path: Path, state_dir: Path, agents: tuple[AgentSettings, ...]) -> Path:
    lines = [
        f"# {NOTICE}",
        "# Written by console/service/demo.py; the folder is throwaway.",
        "",
        "[store]",
        'kind = "local"',
        f"path = {_toml_str(db_path)}",
        "",
        "[openclaw]",
        f"state_dir = {_toml_str(state_dir)}",
        "# port 9 (discard): nothing answers, so the demo gateway shows as unreachable",
        f"gateway = {_toml_str(DEMO_GATEWAY)}",
    ]
    for a in agents:
        lines += [
            "",
            "[[agents]]",
            f"id = {_toml_str(a.id)}",
            f"name = {_toml_str(a.name)}",
            f"role = {_toml_str(a.role)}",
            f"workspace = {_toml_str(a.workspace or '')}",
            f"heartbeat = {_toml_str(a.heartbeat)}",
            f"tz = {_toml_str(a.tz)}",
            'grace = "5m"',
        ]
    lines += ["", "[pipeline]", "# the demo's rules: `squad-console pipeline show ID` lists what each one scored"]
    for r in DEMO_RULES:
        lines += ["", "[[pipeline.rules]]", f"name = {_toml_str(r.name)}",
                  "keywords = [" + ", ".join(_toml_str(k) for k in r.keywords) + "]",
                  f"weight = {r.weight}", f'window = "{r.window / 86400:.0f}d"']
        if r.competitor:
            lines.append(f"competitor = {_toml_str(r.competitor)}")
        if r.opportunity:
            lines.append(f"opportunity = {_toml_str(r.opportunity)}")
        if r.cap is not None:
            lines.append(f"cap = {r.cap}")
    path = root / "squad.toml"
    _write(path, "\n".join(lines) + "\n")
    return path


def _write_openclaw(state_dir: Path, plans: list[_AgentPlan], now: float) -> None:
    agents = "\n".join(
        f"      {{ id: {json.dumps(p.settings.id)}, {'default: true, ' if i == 0 else ''}"
        f"name: {json.dumps(p.settings.name)}, workspace: {json.dumps(p.settings.workspace)}, "
        f"model: \"{PROVIDER}/{MODEL}\" }},"
        for i, p in enumerate(plans)
    )
    ids = json.dumps([p.settings.id for p in plans])
    text = f"""// {NOTICE}
// openclaw.json (JSON5) of the demo squad. The gateway port is 9 (discard): nothing answers there,
// so the console shows the demo gateway as unreachable. The token is fake.
{{
  gateway: {{
    port: {DEMO_GATEWAY_PORT},
    mode: "local",
    bind: "loopback",
    auth: {{ mode: "token", token: "{DEMO_GATEWAY_TOKEN}" }},
  }},
  agents: {{
    defaults: {{ model: {{ primary: "{PROVIDER}/{MODEL}" }} }},
    list: [
{agents}
    ],
  }},
  bindings: [
    {{ agentId: "cestra", match: {{ channel: "whatsapp", accountId: "default" }} }},
  ],
  tools: {{
    agentToAgent: {{ enabled: true, allow: {ids} }},
  }},
  channels: {{
    whatsapp: {{
      dmPolicy: "allowlist",
      allowFrom: ["{DEMO_PHONE}"],
      accounts: {{ default: {{}} }},
    }},
  }},
  cron: {{ enabled: true, maxConcurrentRuns: 1 }},
}}
"""
    _write(state_dir / "openclaw.json", text, 0o600)
    jobs = {"version": 1, "jobs": [_job(p.settings, p.job_id, p.created, p.records, now) for p in plans]}
    _write(state_dir / "cron" / "jobs.json", json.dumps(jobs, indent=2) + "\n", 0o600)
    for p in plans:
        day = [r for r in p.records if r["ts"] > now - DAY]
        _write(state_dir / "cron" / "runs" / f"{p.job_id}.jsonl",
               "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in day), 0o600)
    # Linked once: the file is still there; the 401 says the session behind it was logged out.
    creds = {"_demo": NOTICE, "me": {"id": "15550100000:7@s.whatsapp.net", "name": "Demo Squad"}, "registered": True}
    _write(state_dir / "credentials" / "whatsapp" / "default" / "creds.json", json.dumps(creds, indent=2) + "\n", 0o600)


HEARTBEAT_MD = """# Heartbeat ({name})

<!-- {notice} -->

- Check Mission Control for @mentions and tasks assigned to you.
- {duty}
- If nothing needs attention, reply HEARTBEAT_OK.
"""

TOOLS_MD = """# Tools (Cestra)

<!-- {notice} -->

- Mission Control (Convex deployment `{deployment}`): the deploy key is in `.convex-deploy-key`,
  the auth token in `.convex-auth-token` (plain text, both in this workspace: Phase 2 step 1 moves
  them to the vault and deletes these files).
- `scripts/report.sh`: the daily squad report (reads `.convex-deploy-key`).
"""

REPORT_SH = """#!/bin/sh
# {notice}
# The daily squad report. It reads the deploy key from a plain-text file in the workspace:
# the pattern Phase 2 step 1 (credential migration) removes.
set -eu
cd "$(dirname "$0")/.."
CONVEX_DEPLOY_KEY=$(cat .convex-deploy-key) npx convex run reports:daily '{{"squad":"demo"}}'
"""

DUTIES = {
    "cestra": "Review the pipeline's scored opportunities and record a go/no-go decision.",
    "veda": "Poll the competitor RSS feeds and score new items for market signal.",
    "orin": "Collect survey responses and update the validation score.",
}


def _write_workspaces(agents: tuple[AgentSettings, ...]) -> None:
    for a in agents:
        ws = Path(a.workspace or "")
        _write(ws / "HEARTBEAT.md", HEARTBEAT_MD.format(name=a.name, notice=NOTICE, duty=DUTIES.get(a.id, "")))
    cestra = Path(agents[0].workspace or "")
    # Plain-text credentials, readable by anyone on the box, as the seed found them (all fake).
    _write(cestra / ".convex-deploy-key", fake_deploy_key() + "\n")
    _write(cestra / ".convex-auth-token", fake_auth_token() + "\n")
    _write(cestra / "TOOLS.md", TOOLS_MD.format(notice=NOTICE, deployment=DEMO_DEPLOYMENT))
    _write(cestra / "scripts" / "report.sh", REPORT_SH.format(notice=NOTICE), 0o755)
    veda = Path(agents[1].workspace or "")
    _write(veda / ".env", f"# {NOTICE}\nCONVEX_URL=https://{DEMO_DEPLOYMENT}.convex.cloud\n"
                          f"CONVEX_DEPLOY_KEY={fake_deploy_key()}\n")


# ------------------------------------------------------------------------------------ store

_Event = tuple[float, int, str, Any]  # (time, order, "bulk" | "call", PastBeat | PastFlip or a call)


def _heartbeat_events(plans: list[_AgentPlan], now: float, seed: int, add: Callable[..., None]) -> None:
    lag = _rng(seed, "evaluate")
    for p in plans:
        a = p.settings
        # heartbeat_failed activities: the store writes one per failed run, which for an outage of
        # 36 h is ~145 per agent and would bury everything else in the audit feed. The demo keeps
        # the first failed run of each outage and then one per agent every 6 h while it lasts.
        last_logged: float | None = None
        previous_ok = True
        for beat, created_at in p.beats:
            failed = beat.outcome == "error"
            log_it = failed and (previous_ok or last_logged is None or beat.at - last_logged >= FAILED_ACTIVITY_EVERY)
            if log_it:
                last_logged = beat.at
            previous_ok = not failed
            add(created_at, "bulk", PastBeat(beat, created_at, audited=log_it))
        # the flips the daemon's `evaluate` records: the status engine's transitions over the week
        schedule = Schedule(a.heartbeat, a.tz, grace=a.grace * 1000.0, created_at=p.created)
        runs = [Run(at=b.at, ok=b.outcome == "ok", error=b.error, run_id=b.effective_run_id()) for b, _ in p.beats]
        seen_at = {b.at: c for b, c in p.beats}
        for f in flips(schedule, runs, p.created, now, initial="new"):
            trigger = seen_at.get(f.at, f.at)  # a run flips once collected; a miss at its deadline
            at = min(now, trigger + lag.uniform(*EVALUATE_LAG))
            add(at, "bulk", PastFlip(a.id, f.at, f.from_status, f.to_status, at, reason=f.reason, actor="service"))


def _mission_control_events(plans: list[_AgentPlan], now: float, outage_start: float, add: Callable[..., None]) -> None:
    """Agents, tasks, messages and decisions: through the store's own methods."""
    specs = {
        p.settings.id: AgentSpec(
            p.settings.id, p.settings.name, p.settings.role, workspace=p.settings.workspace,
            heartbeat=p.settings.heartbeat, tz=p.settings.tz, grace_seconds=p.settings.grace,
        )
        for p in plans
    }
    doc: dict[str, str] = {}  # OpenClaw id -> agent document id
    task: dict[str, str] = {}  # key -> task id

    for p in plans:
        def register(store: LocalStore, spec: AgentSpec = specs[p.settings.id]) -> None:
            agent, _, _ = store.upsert_agent(spec, actor=OPERATOR)
            doc[spec.agent_id] = agent.id
        add(p.created, "call", register)

    def status(agent_id: str, value: str, ago: float) -> None:
        def run(store: LocalStore) -> None:
            store.upsert_agent(dataclasses.replace(specs[agent_id], status=value), actor=agent_id)
        add(now - ago, "call", run)

    def create(key: str, ago: float, title: str, description: str, actor: str = OPERATOR) -> None:
        def run(store: LocalStore) -> None:
            task[key] = store.create_task(title, description, actor=actor).id
        add(now - ago, "call", run)

    def update(key: str, ago: float, actor: str = OPERATOR, *, to: str | None = None,
               assignees: tuple[str, ...] | None = None) -> None:
        def run(store: LocalStore) -> None:
            store.update_task(task[key], status=to,
                              assignee_ids=[doc[a] for a in assignees] if assignees is not None else None, actor=actor)
        add(now - ago, "call", run)

    def say(key: str, ago: float, who: str, content: str) -> None:
        def run(store: LocalStore) -> None:
            store.send_message(task[key], doc[who], content, actor=who)
        add(now - ago, "call", run)

    from console.service.pipeline import Pipeline

    opp: dict[str, str] = {}  # key -> opportunity id

    def pipeline(store: LocalStore) -> Pipeline:
        return Pipeline(store, DEMO_PIPELINE, clock=lambda: store._clock() / 1000)

    def fetched(ago: float, competitor: str, url: str, signals: list[tuple[float, str]]) -> None:
        def run(store: LocalStore) -> None:
            if not any(f.url == url for f in store.list_feeds()):
                store.add_feed(url, competitor, actor="veda")
            at = now - ago
            store.record_fetch(url, FeedState(last_fetched_at=at, last_status=200, next_fetch_at=at + 30 * MINUTE,
                                              outcome="ok", health=f"ok: {len(signals)} new"),
                               [SignalIn(url, f"{competitor}-{int(t)}", title, competitor,
                                         link=f"{url.rsplit('/', 1)[0]}/{int(t)}", published_at=t)
                                for t, title in signals], actor="veda")
        add(now - ago, "call", run)

    def opportunity(key: str, ago: float, title: str, description: str) -> None:
        def run(store: LocalStore) -> None:
            opp[key] = pipeline(store).create_opportunity(title, description, actor="cestra").id
        add(now - ago, "call", run)

    def surveyed(key: str, ago: float, answers: list[dict[str, Any]]) -> None:
        def run(store: LocalStore) -> None:
            rows = [(i + 1, {"respondent": f"pilot-{key}-{i + 1}", "answers": a}) for i, a in enumerate(answers)]
            pipeline(store).add_responses(opp[key], rows, source="import:orin-survey.csv", actor="orin")
        add(now - ago, "call", run)

    def advanced(key: str, ago: float, actor: str) -> None:
        add(now - ago, "call", lambda store: pipeline(store).advance(opp[key], actor=actor))

    def decide(key: str, ago: float) -> None:
        add(now - ago, "call", lambda store: pipeline(store).decide(opp[key], actor="cestra"))

    d, h = DAY, HOUR
    outage_ago = now - outage_start

    # Quick wins of PHASE2.md: the task workflow and the dashboard, done in the first days.
    create("workflow", 6.8 * d, "Test task workflow: create → assign → complete",
           "Quick win: exercise Mission Control's task lifecycle end to end.")
    update("workflow", 6.8 * d - 3 * MINUTE, assignees=("cestra",), to="assigned")
    status("cestra", "active", 6.8 * d - 5 * MINUTE)
    update("workflow", 6.8 * d - 20 * MINUTE, "cestra", to="in_progress")
    update("workflow", 6.7 * d, "cestra", to="done")
    create("dashboard", 6.6 * d, "Verify dashboard real-time updates",
           "Quick win: a change in Convex shows on the dashboard within seconds.")
    update("dashboard", 6.6 * d - 10 * MINUTE, assignees=("veda",), to="assigned")
    status("veda", "active", 6.6 * d - 12 * MINUTE)
    update("dashboard", 6.5 * d, "veda", to="in_progress")
    update("dashboard", 6.4 * d, "veda", to="review")
    update("dashboard", 6.3 * d, "cestra", to="done")

    # Step 3: the revenue task prototype (product intelligence pipeline).
    create("criteria", 5.5 * d, "Cestra: define go/no-go decision criteria",
           "Market score (VEDA) and validation score (ORIN) thresholds for a GO; MORE DATA below n=20.", "cestra")
    update("criteria", 5.5 * d - 2 * MINUTE, "cestra", assignees=("cestra",), to="assigned")
    update("criteria", 5.4 * d, "cestra", to="in_progress")
    create("monitor", 5.0 * d, "VEDA: build competitor monitoring (RSS → Convex)",
           "Poll competitor feeds, dedupe, store items in Convex, score market signal per opportunity.", "cestra")
    update("monitor", 5.0 * d - 2 * MINUTE, "cestra", assignees=("veda",), to="assigned")
    update("monitor", 4.8 * d, "veda", to="in_progress")
    create("survey", 5.0 * d - 30 * MINUTE, "ORIN: build survey template for validation",
           "Six questions, willingness to pay included; responses feed the validation score.", "cestra")
    update("survey", 5.0 * d - 32 * MINUTE, "cestra", assignees=("orin",), to="assigned")
    status("orin", "active", 4.7 * d)
    update("survey", 4.7 * d, "orin", to="in_progress")
    update("criteria", 4.5 * d, "cestra", to="review")
    update("criteria", 4.2 * d, OPERATOR, to="done")
    # VEDA's feeds: the signals the market scores are made of
    for competitor, url in DEMO_FEEDS:
        items = [(now - ago * d, title) for c, ago, title in DEMO_SIGNALS if c == competitor]
        fetched(4.8 * d, competitor, url, [(t, title) for t, title in items if t <= now - 4.8 * d])
        fetched(1.0 * d, competitor, url, [(t, title) for t, title in items if t > now - 4.8 * d])
    fetched(1.0 * d - MINUTE, "retainly", DEMO_FEEDS[0][1], [])  # (re-fetched: nothing new)
    # the opportunities: one NO-GO, one MORE DATA, one GO, one still in validation
    opportunity("tracker", 4.0 * d, "Competitor price tracker", "Alert a store when a competitor changes a price.")
    surveyed("tracker", 3.95 * d, [_answers(2, 2, 2, 2, "no"), _answers(3, 2, 2, 2, "no"), _answers(2, 3, 1, 1, "no"),
                                   _answers(3, 3, 2, 2, "yes"), _answers(2, 2, 2, 1, "no"), _answers(3, 2, 3, 2, "no")])
    advanced("tracker", 3.92 * d, "cestra")
    advanced("tracker", 3.91 * d, "cestra")
    decide("tracker", 3.9 * d)
    opportunity("digest", 2.5 * d, "Supplier lead-time digest", "A weekly digest of suppliers' lead times.")
    surveyed("digest", 2.2 * d, [_answers(4, 4, 3, 4, "yes"), _answers(4, 3, 4, 4, "yes"), _answers(5, 4, 4, 3, "no")])
    advanced("digest", 2.15 * d, "cestra")
    advanced("digest", 2.12 * d, "cestra")
    decide("digest", 2.1 * d)
    opportunity("churn", 3.0 * d, "Shopify churn-risk alerts", "Warn a store owner when a customer is likely to churn.")

    # Step 1: credentials still in plain text.
    create("vault", 2.0 * d, "Migrate workspace credentials to the vault (CONVEX_VAULT_KEY)",
           "Generate CONVEX_VAULT_KEY, store the deploy key and auth token, delete the plain-text files "
           "in workspace-cestra and VEDA's .env.")
    update("vault", 2.0 * d - 5 * MINUTE, assignees=("cestra",), to="assigned")
    update("vault", 1.6 * d, "cestra", to="in_progress")

    # Step 2: the WhatsApp 401 that broke VEDA's and ORIN's heartbeats.
    create("whatsapp", outage_ago - 2 * h, "Relink WhatsApp: heartbeat deliveries fail with 401",
           f"Since the WhatsApp session was logged out, VEDA's and ORIN's heartbeat deliveries fail with "
           f"`{WHATSAPP_401}`. Needs Dominic's phone to scan the QR code (openclaw channels login).", "cestra")
    update("whatsapp", outage_ago - 2 * h - 2 * MINUTE, "cestra", assignees=("cestra",), to="assigned")
    update("whatsapp", outage_ago - 3 * h, "cestra", to="blocked")

    # The last 24 hours: inter-agent comms on the open tasks.
    say("whatsapp", 23 * h, "cestra",
        "@veda @orin your heartbeat deliveries to WhatsApp fail with 401 since yesterday; the turns still run. "
        "Keep working, I escalated the relink to Dominic.")
    say("monitor", 22 * h, "veda",
        "RSS collector live for 14 competitor feeds, writing to Convex; dedup on URL + content hash.")
    say("monitor", 21 * h, "cestra", "@veda good. I need a market score per opportunity, not per item.")
    say("survey", 20 * h, "orin", "Survey template v1 ready for review: 9 questions, 3 on willingness to pay.")
    update("survey", 20 * h - 5 * MINUTE, "orin", to="review")
    status("orin", "idle", 20 * h - 6 * MINUTE)
    say("survey", 18 * h, "cestra", "@orin cut it to 6 questions and keep the price ladder; then it's a go.")
    say("whatsapp", 12 * h, "orin",
        "Confirmed on my side: runs ok, delivery not-delivered ({\"reason\":\"401\",\"location\":\"odn\"}).")
    surveyed("churn", 11.5 * h, [_answers(5, 4, 4, 4, "yes"), _answers(4, 4, 4, 4, "yes"), _answers(5, 5, 4, 4, "yes"),
                                 _answers(4, 3, 4, 3, "no"), _answers(4, 4, 3, 4, "yes"), _answers(5, 4, 5, 4, "yes"),
                                 _answers(3, 3, 3, 3, "no"), _answers(4, 4, 4, 4, "yes"), _answers(4, 5, 4, 4, "yes")])
    advanced("churn", 11.2 * h, "cestra")
    advanced("churn", 11.1 * h, "cestra")
    decide("churn", 11 * h)
    opportunity("agency", 4 * h, "Agency reporting add-on", "White-label churn reports for Shopify agencies.")
    advanced("agency", 3.5 * h, "cestra")
    create("e2e", 10 * h, "End-to-end test of the product intelligence pipeline",
           "VEDA scores the market, ORIN validates with the survey, Cestra decides go/no-go.", "cestra")
    update("e2e", 10 * h - 2 * MINUTE, "cestra", assignees=("veda", "orin", "cestra"), to="assigned")
    say("e2e", 9 * h, "cestra", "@veda @orin E2E run on 'Shopify churn-risk alerts' once ORIN's v2 survey is in.")
    say("e2e", 8.5 * h, "veda", "Ack. Market score pipeline is ready; I'll rerun it on a fresh crawl first.")
    say("monitor", 6 * h, "veda",
        "Market score v1: per opportunity, weighted by feed reliability. 0.72 for churn alerts.")
    say("survey", 3 * h, "orin", "v2 is in: 6 questions, price ladder kept. 9 responses so far, target 20.")
    say("e2e", 2 * h, "orin", "Survey link shared with the pilot list; I'll post the validation score here.")
    create("runbook", 5 * h, "Write RUNBOOK.md: how to add a new agent",
           "Phase 2 step 4: squad.toml, openclaw.json, the heartbeat cron job, the workspace.")


def _fill_store(db_path: Path, plans: list[_AgentPlan], now: float, seed: int, outage_start: float) -> None:
    events: list[_Event] = []

    def add(t: float, kind: str, fn: Any) -> None:
        events.append((t, len(events), kind, fn))

    _mission_control_events(plans, now, outage_start, add)
    _heartbeat_events(plans, now, seed, add)
    events.sort(key=lambda e: (e[0], e[1]))

    clock = _Clock(events[0][0] if events else now)
    store = LocalStore(db_path, clock=clock)
    try:
        i = 0
        while i < len(events):
            t, _, kind, fn = events[i]
            clock.t = t
            if kind == "call":
                fn(store)
                i += 1
                continue
            run = []  # a run of bulk rows between two method calls: one transaction
            while i < len(events) and events[i][2] == "bulk":
                run.append(events[i][3])
                i += 1
            store.import_history(run)
    finally:
        store.close()


# ------------------------------------------------------------------------------------ build


def continue_story(store: Any, now_ms: float, agents: tuple[AgentSettings, ...] | None = None) -> int:
    """The demo squad beats on while the console is open: every slot due since each agent's last
    recorded beat up to `now_ms` gets its run, as the story goes (Cestra ok; VEDA and ORIN run but
    their WhatsApp delivery fails with the 401). Idempotent (run ids per slot); the beats written."""
    written = 0
    for a in agents or seed_agents(Path("/")):
        last = store.list_heartbeats(a.id, since=now_ms - DAY, until=now_ms + 1, limit=200)
        start = max(b.at for b in last) + 1 if last else now_ms - HOUR
        for slot in slots_between(Schedule(a.heartbeat, a.tz), start - 20_000.0, now_ms - 20_000.0):
            ok = a.id == "cestra"
            store.record_heartbeat(HeartbeatIn(
                a.id, slot + 20_000.0, outcome="ok" if ok else "error",
                error=None if ok else f"delivery failed: {WHATSAPP_401}", duration_ms=35_000.0,
                delivery="not-requested" if ok else "not-delivered", source="openclaw", model=MODEL,
                run_id=f"demo-{a.id}-{int(slot)}", tokens=2200, cost_usd=0.0031))
            written += 1
    return written


def build_demo(root: Path, now_ms: float, *, seed: int = 7) -> Demo:
    """Write a demo squad under `root` (empty or absent) as it would look at `now_ms`."""
    root = Path(root).expanduser().resolve()
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty: the demo is built in a folder of its own")
    root.mkdir(parents=True, exist_ok=True)
    now = float(now_ms)
    state_dir = root / "state"
    db_path = root / "squad.db"
    plans, outage_start = _plan(now, seed, state_dir)
    agents = tuple(p.settings for p in plans)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now / 1000))
    _write(root / "DEMO.md", f"# squad-console demo\n\n{NOTICE}\n\nThe squad as of {when} (seed {seed}). "
                             "Delete this folder when done.\n")
    config_path = _write_config(root, db_path, state_dir, agents)
    _write_openclaw(state_dir, plans, now)
    _write_workspaces(agents)
    _fill_store(db_path, plans, now, seed, outage_start)
    env = dict(zip(ENV_KEYS, (str(config_path), str(db_path), str(state_dir)), strict=True))
    return Demo(root=root, config_path=config_path, db_path=db_path, state_dir=state_dir, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m console.service.demo",
        description="Build a demo squad (a generated week) and print the environment to run the console on it.",
    )
    parser.add_argument("root", nargs="?", help="an empty or new folder (default: a new temporary folder)")
    parser.add_argument("--now", type=float, default=None,
                        help="the demo's present, in ms since the epoch (default: now)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="squad-demo-"))
    try:
        demo = build_demo(root, args.now if args.now is not None else time.time() * 1000, seed=args.seed)
    except FileExistsError as exc:
        print(f"squad-console demo: {exc}", file=sys.stderr)
        return 2
    for key in ENV_KEYS:
        print(f"export {key}={shlex.quote(demo.env[key])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
