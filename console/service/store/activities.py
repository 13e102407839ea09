"""The wording of every activity the stores write: its type, message and detail, once for Python.

LocalStore writes exactly what these functions return; ConvexStore's functions say the same in
TypeScript from their one module, `convex/console/activities.ts` (the same names, camelCased).
tests/test_store_parity.py runs one scripted session on both stores and compares every activity,
so a change here without the same change there fails.

The functions are pure: the store gathers the values (titles *after* the change, counts, the
stored row before it) and they only word them. Details hold plain JSON values with the field
names the Convex documents use (camelCase). Outside text (titles, names, errors, reasons) is
put in as it is: it is data, the screens render it without markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from console.service.models import Feed, FeedState


@dataclass(frozen=True, slots=True)
class Said:
    """One activity's words: what the store writes beside the change."""

    type: str
    message: str
    detail: dict[str, Any] | None = None


# ------------------------------------------------------------------ helpers
def number(x: float | int) -> str:
    """A number in words: its shortest round-trip digits (Python's `repr` and JavaScript's `String`
    give the same ones) rounded half up to 6 significant digits, in plain decimal notation (never
    an exponent), trailing zeros dropped: 0.00001 -> "0.00001", 0.72 -> "0.72", 3.0 -> "3",
    1234567 -> "1234570". Step by step the same as `number` in convex/console/activities.ts."""
    x = float(x)
    if x != x:
        return "NaN"  # as JavaScript words these
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + int(exp_text or "0")  # the value is 0.<digits> x 10^point
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if len(digits) > 6:
        up = digits[6] >= "5"
        digits = digits[:6]
        if up:
            bumped = str(int(digits) + 1)
            point += len(bumped) - len(digits)
            digits = bumped
        digits = digits.rstrip("0")
    if point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return ("-" if x < 0 else "") + text


def _field(obj: Any, *path: str) -> Any:
    """`obj.a.b` when every step is an object, else None (a stored decision is the caller's JSON)."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _count(value: Any) -> int:
    """How many items a JSON list holds; 0 for anything that is not a list."""
    return len(value) if isinstance(value, list) else 0


def _score(value: Any) -> float | int | None:
    """A JSON number, or None (a bool is not a score)."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------- agents
def agent_registered(name: str, agent_id: str, changed: list[str]) -> Said:
    """`changed`: the camelCase fields set on the new agent, sorted."""
    return Said("agent_registered", f"{name} registered", {"agentId": agent_id, "changed": changed})


def agent_updated(name: str, agent_id: str, changed: list[str]) -> Said:
    """`name` after the update; `changed`: the camelCase fields that changed, sorted."""
    return Said("agent_updated", f"{name} updated: {', '.join(changed)}", {"agentId": agent_id, "changed": changed})


# -------------------------------------------------------------------- tasks
def task_created(title: str, status: str, assignee_ids: list[str]) -> Said:
    return Said("task_created", f"task created: {title}", {"status": status, "assigneeIds": assignee_ids})


def task_removed(title: str, status: str, assignee_ids: list[str]) -> Said:
    """A task taken off the board (its messages stay: the history is not rewritten)."""
    return Said("task_removed", f"task removed: {title}", {"status": status, "assigneeIds": assignee_ids})


def task_updated(title: str, changes: dict[str, dict[str, Any]]) -> Said:
    """A task update, worded with the task's title *after* it: `task_completed` (status changed to
    done), else `task_assigned` (assignees changed), else `task_moved` (status changed), else
    `task_updated`. `changes` maps each changed field to {"from", "to"}."""
    status = changes.get("status")
    detail = {"changes": changes}
    if status and status["to"] == "done":
        return Said("task_completed", f"task completed: {title}", detail)
    if "assigneeIds" in changes:
        return Said("task_assigned", f"task assigned: {title}", detail)
    if status:
        return Said("task_moved", f"task moved to {status['to']}: {title}", detail)
    return Said("task_updated", f"task updated: {title}", detail)


def message_sent(task_title: str, message_id: str) -> Said:
    """A comment on a task's thread (who wrote it is the activity's agent and actor)."""
    return Said("message_sent", f'commented on "{task_title}"', {"messageId": message_id})


# --------------------------------------------------------------- heartbeats
def heartbeat_failed(agent_id: str, error: str | None, run_id: str) -> Said:
    """A new failed beat (an empty error reads as an unknown one)."""
    return Said("heartbeat_failed", f"{agent_id} heartbeat failed: {error or 'unknown error'}",
                {"agentId": agent_id, "runId": run_id})


def flip(agent_id: str, at: float, from_status: str, to_status: str, reason: str | None) -> Said:
    """An agent's status change, `heartbeat_<to>`; `at` is the flip's (backdated) time."""
    detail: dict[str, Any] = {"agentId": agent_id, "at": at, "from": from_status, "to": to_status}
    if reason is not None:
        detail["reason"] = reason
    return Said(f"heartbeat_{to_status}", f"{agent_id}: {from_status} → {to_status}" + (f" ({reason})" if reason else ""),
                detail)


# -------------------------------------------------------------------- vault
def vault_put(name: str, version: int, kid: str) -> Said:
    """Never a value: the entry's name, version and key id only."""
    return Said("vault_put", f"vault: stored {name} v{version}", {"name": name, "version": version, "kid": kid})


def vault_removed(name: str, versions: int) -> Said:
    return Said("vault_removed", f"vault: removed {name}", {"name": name, "versions": versions})


# ----------------------------------------------------------------- pipeline
def feed_added(url: str, competitor: str) -> Said:
    return Said("feed_added", f"feed added: {url} ({competitor})", {"url": url, "competitor": competitor})


def feed_removed(url: str, competitor: str) -> Said:
    return Said("feed_removed", f"feed removed: {url} ({competitor})", {"url": url, "competitor": competitor})


def fetch_recorded(before: Feed, state: FeedState, created: int, updated: int, new_keys: list[str]) -> list[Said]:
    """A fetch's activities: one `signals_ingested` when any signal is new or changed;
    `feed_failed` when the outcome turns to failed, `feed_recovered` when a failed feed answers."""
    out: list[Said] = []
    if created or updated:
        text = f"{before.competitor}: {_plural(created, 'new signal')} from {before.url}"
        if updated:
            text += f" ({updated} updated)"
        out.append(Said("signals_ingested", text, {"url": before.url, "competitor": before.competitor,
                                                   "created": created, "updated": updated,
                                                   "entryKeys": new_keys[:50]}))
    if state.outcome == "failed" and before.outcome != "failed":
        out.append(Said("feed_failed", f"feed {before.url} {state.health or 'failed'}",
                        {"url": before.url, "status": state.last_status, "errorCount": state.error_count}))
    elif before.outcome == "failed" and state.outcome not in (None, "failed"):
        out.append(Said("feed_recovered", f"feed {before.url} answers again ({state.outcome})",
                        {"url": before.url, "status": state.last_status}))
    return out


def opportunity_created(title: str) -> Said:
    return Said("opportunity_created", f"opportunity created: {title}", {"stage": "analysis"})


def opportunity_moved(title: str, from_stage: str, to_stage: str) -> Said:
    return Said("opportunity_moved", f"opportunity moved to {to_stage}: {title}", {"from": from_stage, "to": to_stage})


def market_analysed(title: str, before: float | None, score: float, analysis: Any) -> Said:
    """`before`: the market score stored until now (None: none)."""
    return Said("market_analysed", f"market score {number(score)}: {title}",
                {"from": before, "to": float(score), "signals": _count(_field(analysis, "signals"))})


def survey_recorded(title: str, stored: int, survey: Any) -> Said:
    """`stored`: how many responses the survey held before."""
    n = _count(_field(survey, "responses"))
    score = _score(_field(survey, "score"))
    text = f"survey: {_plural(n, 'respondent')}" + (f", validation {number(score)}" if score is not None else "")
    return Said("survey_recorded", f"{text}: {title}", {"respondents": n, "added": n - stored, "score": score})


def survey_responses(survey: Any) -> int:
    """How many responses a stored survey holds (for the check-and-set)."""
    return _count(_field(survey, "responses"))


def decision(title: str, decision: dict[str, Any], previous: Any) -> Said:
    """`decision_made`, or `decision_overridden` when it carries an override (already checked to
    have a reason). `previous`: the decision stored until now (None: none). `computed`, `inputs`
    and the previous decision may be anything JSON: a missing step reads as None."""
    verdict = decision["verdict"]
    detail: dict[str, Any] = {
        "verdict": verdict,
        "previous": _field(previous, "verdict"),
        "computed": _field(decision, "computed", "verdict"),
        "criteriaVersion": _field(decision, "inputs", "criteria", "version"),
    }
    override = decision.get("override")
    if override is not None:
        detail["reason"] = override["reason"]
        return Said("decision_overridden", f"decision overridden to {verdict}: {title} ({override['reason']})", detail)
    return Said("decision_made", f"decision: {verdict}: {title}", detail)
