"""The agent registry's one import path from OpenClaw (used by `agents import` and the Agents
screen's `i`): openclaw.json's agents with their workspaces, and each one's heartbeat schedule
from its cron job when it has one, else from squad.toml. Only the squad is imported: the agents
of squad.toml, or those chosen (`only`, or `include_all`); OpenClaw's own `main` agent is not
one by default (chosen, it is stored with a role saying so: a `main` stored without one, by an
older import, is not reported as the squad's). The jobs come from one read (the state database, else one `cron list`).
No Textual here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from console.config import Settings
from console.service.models import AgentSpec
from console.service.openclaw.config import OpenClawConfig, load_openclaw_config
from console.service.openclaw.cron import heartbeat_jobs, load_cron
from console.service.openclaw.errors import OpenClawError


def openclaw_agent_specs(
    settings: Settings, env: Mapping[str, str], *, runner: object = "auto",
    only: Sequence[str] = (), include_all: bool = False,
) -> tuple[OpenClawConfig, list[AgentSpec], str | None]:
    """(the config read, one spec per agent of the squad, a note: the agents left out, or the
    cron jobs that could not be read). The squad: `only` when given, every agent with
    `include_all`, else the agents of squad.toml. Raises OpenClawError when openclaw.json cannot
    be read or an agent of `only` is not in it."""
    oc = settings.openclaw
    config = load_openclaw_config(oc.openclaw_json(), oc.state_dir, env)
    configured = {a.id: a for a in settings.agents}
    known = [a.id for a in config.agents]
    unknown = [a for a in only if a not in known]
    if unknown:
        raise OpenClawError(f"no agent {', '.join(map(repr, unknown))} in openclaw.json (it has {', '.join(known) or 'none'})",
                            path=config.path)
    if only:
        chosen = [a for a in config.agents if a.id in only]
    elif include_all:
        chosen = list(config.agents)
    else:
        chosen = [a for a in config.agents if a.id in configured]
    notes = []
    left = [a.id for a in config.agents if a not in chosen]
    if left:
        notes.append(f"not imported: {', '.join(left)} (not in squad.toml; choose with --agent ID or --all)")
    try:
        cron = load_cron(config.state_dir, runner=runner, runs_for=set(), prefer_state_db=True)  # type: ignore[arg-type]
    except OpenClawError as exc:
        cron = None
        notes.append(f"cron jobs not read ({exc}); importing without their schedules")
    specs = []
    for agent in chosen:
        cfg = configured.get(agent.id)
        jobs = heartbeat_jobs(cron.jobs, agent.id, job=cfg.job if cfg else None) if cron else []
        job = jobs[0] if jobs else None
        specs.append(AgentSpec(
            agent.id,
            agent.name or (cfg.name if cfg else agent.id),
            cfg.role if cfg else ("OpenClaw's main agent (chosen at import)" if agent.id == "main" else ""),
            workspace=str(agent.workspace) if agent.workspace else None,
            heartbeat=job.schedule.expr if job and job.schedule.expr else (cfg.heartbeat if cfg else None),
            tz=job.schedule.tz if job and job.schedule.tz else (cfg.tz if cfg else None),
            grace_seconds=cfg.grace if cfg else None,
        ))
    return config, specs, "; ".join(notes) or None
