"""The squad's heartbeat jobs as last seen, kept in the store, compared at every collection
(the operators' request after openclaw#90510 and #93031: jobs lost or blanked by an upgrade).

The snapshot maps each squad agent to its heartbeat job: `{agent: {"id", "name", "agentId"}}`.
It is kept in the store's audit log, the one facility both stores share (no new mutation): an
activity of type `heartbeat_jobs` whose detail is the snapshot, logged by the collector when the
snapshot changes (and once a day, so it stays among the recent activities `check` reads); its
key makes it idempotent. `compare` says which job vanished, lost its agentId or moved to another
agent; `merge` takes the jobs found now and keeps a lost one (so the alert stays until the job is
back, replaced, or the agent leaves squad.toml).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from console.service.models import Activity
from console.service.openclaw.cron import CronJob, heartbeat_jobs

SNAPSHOT_TYPE = "heartbeat_jobs"  # the activity holding the snapshot
LOST_TYPE = "heartbeat_job_lost"  # the activity the collector logs when a job is lost
Snapshot = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class JobLoss:
    agent_id: str
    job_id: str
    name: str
    kind: str  # "vanished" | "agent_lost" (its agentId is gone) | "agent_changed" (another agent's now)
    agent_now: str | None = None

    def words(self) -> str:
        what = f"{self.agent_id}'s heartbeat job {self.name} ({self.job_id})"
        if self.kind == "vanished":
            return f"{what} is gone from OpenClaw"
        if self.kind == "agent_lost":
            return f"{what} lost its agentId: it now runs on OpenClaw's default agent"
        return f"{what} now belongs to agent {self.agent_now!r}"


def take(jobs: Iterable[CronJob], agents: Sequence[tuple[str, str | None]]) -> Snapshot:
    """The heartbeat job of each squad agent (`agents`: (id, squad.toml's job name or None))."""
    jobs = list(jobs)
    out: Snapshot = {}
    for agent_id, job_name in agents:
        found = heartbeat_jobs(jobs, agent_id, job=job_name)
        if found:
            j = found[0]
            out[agent_id] = {"id": j.id, "name": j.name, "agentId": j.agent_id}
    return out


def compare(snapshot: Mapping[str, Mapping[str, Any]] | None, jobs: Iterable[CronJob],
            agents: Iterable[str] | None = None, current: Mapping[str, Any] | None = None) -> list[JobLoss]:
    """The squad's jobs of `snapshot` (only `agents`' when given) that vanished or lost their
    agent; an agent that has a heartbeat job now (`current`, from `take`) has lost nothing."""
    if not snapshot:
        return []
    current = current or {}
    by_id = {j.id: j for j in jobs}
    wanted = set(agents) if agents is not None else None
    out = []
    for agent_id, entry in snapshot.items():
        if wanted is not None and agent_id not in wanted or not isinstance(entry, Mapping):
            continue
        if agent_id in current:
            continue
        job_id, name = str(entry.get("id") or ""), str(entry.get("name") or entry.get("id") or "")
        if not job_id:
            continue
        now = by_id.get(job_id)
        if now is None:
            out.append(JobLoss(agent_id, job_id, name, "vanished"))
        elif not now.agent_id:
            out.append(JobLoss(agent_id, job_id, name, "agent_lost"))
        elif now.agent_id != agent_id:
            out.append(JobLoss(agent_id, job_id, name, "agent_changed", now.agent_id))
    return out


def merge(snapshot: Mapping[str, Mapping[str, Any]] | None, current: Snapshot, losses: Iterable[JobLoss]) -> Snapshot:
    """The next snapshot: the jobs found now; an agent whose job was lost (and has no other one
    now) keeps its old entry, so the loss is said until it is repaired."""
    out: Snapshot = {k: dict(v) for k, v in (snapshot or {}).items() if isinstance(v, Mapping)}
    lost = {loss.agent_id for loss in losses}
    for agent_id, entry in current.items():
        out[agent_id] = dict(entry)
    for agent_id in list(out):
        if agent_id not in current and agent_id not in lost:
            del out[agent_id]  # its job is neither here nor lost: nothing to remember
    return out


def digest(snapshot: Snapshot) -> str:
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True).encode()).hexdigest()[:16]


def from_activities(activities: Iterable[Activity]) -> Snapshot | None:
    """The newest snapshot in the audit log, or None."""
    found = [a for a in activities if a.type == SNAPSHOT_TYPE and isinstance(a.detail, dict)]
    if not found:
        return None
    detail = max(found, key=lambda a: a.created_at).detail or {}
    jobs = detail.get("jobs")
    return {k: dict(v) for k, v in jobs.items() if isinstance(v, dict)} if isinstance(jobs, dict) else None


def describe(snapshot: Snapshot) -> str:
    """The activity's message: each agent's job, in words."""
    if not snapshot:
        return "the squad's heartbeat jobs: none"
    return "the squad's heartbeat jobs: " + ", ".join(
        f"{agent} → {e.get('name')} ({e.get('id')})" for agent, e in sorted(snapshot.items()))
