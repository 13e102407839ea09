"""The agent registry's one import path from OpenClaw (used by `agents import` and the Agents
screen's `i`): openclaw.json's agents with their workspaces, and each one's heartbeat schedule
from its cron job when it has one, else from squad.toml. No Textual here."""

from __future__ import annotations

from collections.abc import Mapping

from console.config import Settings
from console.service.models import AgentSpec
from console.service.openclaw.config import OpenClawConfig, load_openclaw_config
from console.service.openclaw.cron import heartbeat_jobs, load_cron
from console.service.openclaw.errors import OpenClawError


def openclaw_agent_specs(
    settings: Settings, env: Mapping[str, str], *, runner: object = "auto"
) -> tuple[OpenClawConfig, list[AgentSpec], str | None]:
    """(the config read, one spec per agent, a note when the cron jobs could not be read).
    Raises OpenClawError when openclaw.json cannot be read."""
    oc = settings.openclaw
    config = load_openclaw_config(oc.openclaw_json(), oc.state_dir, env)
    note = None
    try:
        cron = load_cron(config.state_dir, runner=runner)
    except OpenClawError as exc:
        cron, note = None, f"cron jobs not read ({exc}); importing without their schedules"
    configured = {a.id: a for a in settings.agents}
    specs = []
    for agent in config.agents:
        jobs = heartbeat_jobs(cron.jobs, agent.id) if cron else []
        job = jobs[0] if jobs else None
        cfg = configured.get(agent.id)
        specs.append(AgentSpec(
            agent.id,
            agent.name or (cfg.name if cfg else agent.id),
            cfg.role if cfg else "",
            workspace=str(agent.workspace) if agent.workspace else None,
            heartbeat=job.schedule.expr if job and job.schedule.expr else (cfg.heartbeat if cfg else None),
            tz=job.schedule.tz if job and job.schedule.tz else (cfg.tz if cfg else None),
            grace_seconds=cfg.grace if cfg else None,
        ))
    return config, specs, note
