"""One look at OpenClaw for `check`, the TUI and the collector: config, gateway, cron, channels.

`probe_openclaw` reads openclaw.json, asks the gateway's /healthz and /readyz (milliseconds),
then, at the same time, the cron jobs (one read of the local state database, read-only, when
there is one; else one `openclaw cron list --all --json`: each job's `state` holds its last run,
so no per-job call) and the channels (one `channels status --json`, which also tells a token the
gateway refuses; skipped when the gateway is down: it would wait about 60 s; and when the collector's report of the
channels is fresh: `squad-console service` asks every minute). Each CLI call costs 1-4 s of Node
start-up, so there is at most one on the way of `check` (`check` runs one more beside this probe,
`openclaw secrets audit --allow-exec`, when openclaw.json takes secrets from the vault), none beside a
running collector. `causes` diagnoses every agent of the squad from it. Whatever could not be
read is kept with the reason, and handed to the diagnosis: it is never taken for "no job".
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from console.config import AgentSettings, OpenClawSettings
from console.service.openclaw.channels import ChannelReport, channel_report
from console.service.openclaw.config import OpenClawConfig, load_openclaw_config
from console.service.openclaw.cron import CronState, load_cron
from console.service.openclaw.diagnose import Cause, diagnose
from console.service.openclaw.errors import OpenClawError
from console.service.openclaw.gateway import GatewayHealth, gateway_url, probe_gateway
from console.service.openclaw.job_snapshot import JobLoss, Snapshot, compare, take
from console.service.health.outages import AgentHistory
from console.service.openclaw.runner import RunnerArg, resolve_runner


@dataclass
class OpenClawProbe:
    config: OpenClawConfig | None = None
    config_error: str | None = None
    gateway: GatewayHealth | None = None
    cron: CronState | None = None
    cron_error: str | None = None
    channels: ChannelReport | None = None
    ms: dict[str, float] = field(default_factory=dict)  # what each read cost
    channels_source: str | None = None  # "collector": the collector's fresh report, no CLI call

    def causes(
        self,
        agents: Sequence[AgentSettings],
        *,
        history: Mapping[str, AgentHistory] | None = None,
        snapshot: Snapshot | None = None,
    ) -> dict[str, list[Cause]]:
        """Each agent's causes (the squad's agents only). `history`: per agent, the gateway's
        outages and the slots skipped in them; `snapshot`: the squad's jobs as last collected
        (job_snapshot), to say which vanished or lost their agent."""
        if self.config is None and self.cron is None and self.cron_error is None:
            return {}
        losses: dict[str, list[JobLoss]] = {}
        if self.cron is not None and snapshot:
            current = take(self.cron.jobs, [(a.id, a.job) for a in agents])
            for loss in compare(snapshot, self.cron.jobs, [a.id for a in agents], current):
                losses.setdefault(loss.agent_id, []).append(loss)
        return {
            a.id: diagnose(a.id, config=self.config, cron=self.cron, gateway=self.gateway, channels=self.channels,
                           schedule_cron=a.heartbeat, tz=a.tz, errors=[self.cron_error] if self.cron_error else [],
                           job_name=a.job, history=(history or {}).get(a.id), lost=losses.get(a.id, []))
            for a in agents
        }


def probe_openclaw(
    settings: OpenClawSettings,
    env: Mapping[str, str],
    *,
    runner: RunnerArg = "auto",
    gateway: bool = True,
    channels: bool = True,
    gateway_timeout: float = 3.0,
    channels_report: ChannelReport | None = None,
) -> OpenClawProbe:
    """`channels_report`: a fresh report of the channels (the collector's, at most a couple of
    minutes old): used instead of `openclaw channels status`, the one CLI call on the way, whose
    Node start-up costs 1-4 s on a loaded machine."""
    out = OpenClawProbe()
    t = time.perf_counter()
    try:
        out.config = load_openclaw_config(settings.openclaw_json(), settings.state_dir, env)
    except OpenClawError as exc:
        out.config_error = str(exc)
    state_dir = out.config.state_dir if out.config else settings.state_dir
    run = resolve_runner(runner)

    def read_cron() -> None:
        started = time.perf_counter()
        try:
            # with the CLI: the jobs only (their state holds the last run); from files: the last run of each
            out.cron = load_cron(state_dir, runner=run, runs_for=set(), prefer_state_db=True) if run is not None else load_cron(
                state_dir, runner=None, run_limit=1)
        except OpenClawError as exc:
            out.cron_error = str(exc)
        out.ms["cron"] = round((time.perf_counter() - started) * 1000, 1)

    def read_channels() -> None:
        started = time.perf_counter()
        if channels_report is not None and (out.gateway is None or out.gateway.reachable):
            out.channels = channels_report
            out.ms["channels"] = 0.0
            out.channels_source = "collector"
            return
        try:
            out.channels = channel_report(state_dir, out.config, run, probe=False,
                                          gateway_reachable=out.gateway.reachable if out.gateway else None)
        except OpenClawError:
            out.channels = None
        out.ms["channels"] = round((time.perf_counter() - started) * 1000, 1)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(read_cron)]  # the jobs while the gateway is asked
        if gateway:
            out.gateway = probe_gateway(gateway_url(settings.gateway, out.config), out.config.token if out.config else None,
                                        timeout=gateway_timeout)
            out.ms["gateway"] = round((time.perf_counter() - t) * 1000, 1)
            if channels:  # after the gateway: down, the CLI's channel probe would wait about 60 s
                futures.append(pool.submit(read_channels))
        for f in futures:
            f.result()
    out.ms["total"] = round((time.perf_counter() - t) * 1000, 1)
    return out
