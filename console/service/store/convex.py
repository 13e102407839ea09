"""ConvexStore: the store contract over Convex's HTTP API (httpx, synchronous).

Wire format (shared/reference/convex-http-api.md §1):
- `POST {url}/api/query|mutation` with `{"path", "args", "format": "json"}` and
  `Authorization: Convex <deploy key>`; the console's functions are all internal.
- A function's own result or error comes back on 200 (older backends: 560) as
  `{"status": "success", "value"}` or `{"status": "error", "errorMessage", "errorData"?}`.
- Platform errors are `{"code", "message"}` with 4xx/5xx.

Retries: capped exponential backoff with full jitter, honouring Retry-After, on 429 and 5xx and
on connection failures. A query is retried on any of these; a mutation only when it surely did
not run (connection refused, 429, 503), so a retry never applies a change twice.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from console.text import redact, shown_url
from console.service.models import (
    AGENT_STATUSES,
    FEED_OUTCOMES,
    HEARTBEAT_OUTCOMES,
    OPERATOR,
    OPPORTUNITY_STAGES,
    TASK_STATUSES,
    Activity,
    Agent,
    AgentSpec,
    Feed,
    FeedState,
    FetchRecorded,
    Flip,
    Heartbeat,
    HeartbeatIn,
    History,
    Marks,
    Message,
    Opportunity,
    Signal,
    SignalIn,
    Snapshot,
    RunsBuilder,
    Task,
    agent_id_from_session_key,
)
from console.service.store.contract import (
    DEFAULT_SNAPSHOT_LIMIT,
    NotFoundError,
    StoreAuthError,
    StoreError,
    StoreFunctionError,
    StoreUnavailable,
    VaultRow,
    check_choice,
)

if TYPE_CHECKING:  # the counter's module loads sqlite3, which this store never needs
    from console.service.store.calls import CallCounter

KEY_HINT = (
    "set CONVEX_DEPLOY_KEY to a deploy key of this deployment (dashboard: Settings → Deploy keys); "
    "the console's functions are internal, so only a deploy key can call them"
)
NOT_DEPLOYED = "Could not find public function"
APPEND = ("messages", "activities", "heartbeats", "flips")
WHOLE = ("agents", "tasks", "feeds", "opportunities")
COLD_EVERY = 600.0  # seconds between checks of the cold tasks and the pipeline when nothing else says so
HOT_MIN, HOT_MAX = 32, 128  # as convex/console/snapshot.ts `split`
RUN_WIDTH = 7


def agent_from_doc(d: dict[str, Any]) -> Agent:
    return Agent(
        id=d["_id"],
        agent_id=d.get("agentId") or agent_id_from_session_key(d.get("sessionKey")) or "",
        name=d.get("name", ""),
        role=d.get("role", ""),
        status=d.get("status", "idle"),
        session_key=d.get("sessionKey", ""),
        current_task_id=d.get("currentTaskId"),
        level=d.get("level"),
        workspace=d.get("workspace"),
        heartbeat=d.get("heartbeat"),
        tz=d.get("tz"),
        grace_seconds=d.get("graceSeconds"),
        updated_at=d.get("updatedAt"),
        created_at=d.get("_creationTime", 0.0),
    )


def task_from_doc(d: dict[str, Any]) -> Task:
    return Task(
        id=d["_id"],
        title=d.get("title", ""),
        description=d.get("description", ""),
        status=d.get("status", "inbox"),
        assignee_ids=tuple(d.get("assigneeIds") or ()),
        updated_at=d.get("updatedAt"),
        created_at=d.get("_creationTime", 0.0),
    )


def message_from_doc(d: dict[str, Any]) -> Message:
    return Message(
        id=d["_id"],
        task_id=d.get("taskId", ""),
        from_agent_id=d.get("fromAgentId", ""),
        content=d.get("content", ""),
        attachments=tuple(d.get("attachments") or ()),
        created_at=d.get("_creationTime", 0.0),
    )


def activity_from_doc(d: dict[str, Any]) -> Activity:
    detail = d.get("detail")
    return Activity(
        id=d["_id"],
        type=d.get("type", ""),
        message=d.get("message", ""),
        agent_id=d.get("agentId"),
        actor=d.get("actor"),
        target_id=d.get("targetId"),
        detail=detail if isinstance(detail, dict) else ({"value": detail} if detail is not None else None),
        created_at=d.get("_creationTime", 0.0),
    )


def heartbeat_from_doc(d: dict[str, Any]) -> Heartbeat:
    return Heartbeat(
        id=d["_id"],
        agent_id=d["agentId"],
        at=d["at"],
        outcome=d["outcome"],
        source=d.get("source", ""),
        run_id=d.get("runId", ""),
        duration_ms=d.get("durationMs"),
        error=d.get("error"),
        delivery=d.get("delivery"),
        model=d.get("model"),
        tokens=d.get("tokens"),
        cost_usd=d.get("costUsd"),
        created_at=d.get("_creationTime", 0.0),
    )


def flip_from_doc(d: dict[str, Any]) -> Flip:
    return Flip(
        id=d["_id"],
        agent_id=d["agentId"],
        at=d["at"],
        from_status=d["from"],
        to_status=d["to"],
        reason=d.get("reason"),
        created_at=d.get("_creationTime", 0.0),
    )


def vault_row_from_doc(d: dict[str, Any]) -> VaultRow:
    return VaultRow(
        id=d["_id"],
        name=d["name"],
        version=int(d["version"]),
        kid=d.get("kid", ""),
        created_at=d.get("createdAt", d.get("_creationTime", 0.0)),
        deleted=bool(d.get("deleted")),
        record=d.get("record"),
    )


def feed_from_doc(d: dict[str, Any]) -> Feed:
    status = d.get("lastStatus")
    return Feed(
        id=d["_id"],
        url=d["url"],
        competitor=d.get("competitor", ""),
        etag=d.get("etag"),
        last_modified=d.get("lastModified"),
        last_fetched_at=d.get("lastFetchedAt"),
        last_status=int(status) if status is not None else None,
        error_count=int(d.get("errorCount") or 0),
        next_fetch_at=d.get("nextFetchAt"),
        outcome=d.get("outcome"),
        health=d.get("health"),
        created_at=d.get("_creationTime", 0.0),
    )


def signal_from_doc(d: dict[str, Any]) -> Signal:
    return Signal(
        id=d["_id"],
        feed_url=d["feedUrl"],
        entry_key=d["entryKey"],
        title=d.get("title", ""),
        competitor=d.get("competitor", ""),
        link=d.get("link"),
        published_at=d.get("publishedAt"),
        summary=d.get("summary"),
        created_at=d.get("_creationTime", 0.0),
    )


def opportunity_from_doc(d: dict[str, Any]) -> Opportunity:
    def obj(value: Any) -> dict[str, Any] | None:
        return value if isinstance(value, dict) else None

    return Opportunity(
        id=d["_id"],
        title=d.get("title", ""),
        stage=d.get("stage", "analysis"),
        description=d.get("description") or "",
        market_score=d.get("marketScore"),
        analysis=obj(d.get("analysis")),
        survey=obj(d.get("survey")),
        decision=obj(d.get("decision")),
        updated_at=d.get("updatedAt"),
        created_at=d.get("_creationTime", 0.0),
    )


def _drop_none(args: dict[str, Any]) -> dict[str, Any]:
    """Convex validators reject `null` for optional fields: leave them out instead."""
    return {k: v for k, v in args.items() if v is not None}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


class ConvexStore:
    """The store contract on a Convex deployment. Never logs or repeats the deploy key."""

    def __init__(
        self,
        url: str,
        deploy_key: str | None,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff_base: float = 0.25,
        backoff_cap: float = 4.0,
        max_retry_after: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        cold_every: float = COLD_EVERY,
        counter: CallCounter | None = None,
    ) -> None:
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise StoreError(
                f"the Convex URL {shown_url(url or '')!r} is not an http(s) URL",
                hint="set CONVEX_URL (or [store] url) to the deployment URL, e.g. https://happy-otter-123.convex.cloud",
            )
        self.url = url.rstrip("/")
        self.shown_url = shown_url(self.url)  # what messages say: never a user name or password
        self.host = parts.netloc.rsplit("@", 1)[-1]  # without a user name or password
        self._key = deploy_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            headers={"Content-Type": "application/json", "Convex-Client": "squad-console"},
        )
        self.calls = 0  # HTTP requests sent, retries included (every one is billed)
        self.counter = counter  # kept by the minute for `check` and the overview (calls.py)
        self._clock = clock
        self.cold_every = cold_every
        self._tables: _Tables | None = None  # the whole tables as the last snapshot left them
        # groups polled only by the first snapshot (the collector needs agents, not the tasks or the pipeline)
        self.skip_groups: frozenset[str] = frozenset()

    def describe(self) -> str:
        return f"convex {self.host}"

    def close(self) -> None:
        self._client.close()
        if self.counter is not None:
            self.counter.flush()

    def __repr__(self) -> str:  # never show the key
        return f"ConvexStore({self.shown_url!r})"

    # ------------------------------------------------------------- the wire
    def _call(self, kind: str, path: str, args: dict[str, Any]) -> Any:
        if not self._key:
            raise StoreAuthError("no Convex deploy key is configured", hint=KEY_HINT)
        body = json.dumps({"path": path, "args": args, "format": "json"})
        headers = {"Authorization": f"Convex {self._key}"}
        attempt = 0
        while True:
            error, retry_ok = self._attempt(kind, path, body, headers)
            if not isinstance(error, StoreError):
                return error  # the value
            self._scrub(error)
            if not retry_ok or attempt >= self.max_retries:
                raise error
            delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                if retry_after > self.max_retry_after:
                    raise error  # too long to wait here: the poller waits instead
                delay = max(delay, retry_after)
            attempt += 1
            self._sleep(delay)

    def _scrub(self, error: StoreError) -> None:
        """A server's words may echo the deploy key or carry a URL with a password: the error keeps
        neither (its message, hint and data are shown by `check --json`, the header and the logs)."""
        secrets = [self._key, *(self._key.split("|", 1)[1:] if self._key else [])]
        error.message = redact(error.message, secrets)
        error.args = (error.message, *error.args[1:])
        if error.hint:
            error.hint = redact(error.hint, secrets)
        if error.data is not None:
            try:
                error.data = json.loads(redact(json.dumps(error.data), secrets))
            except ValueError:
                error.data = None

    def _attempt(self, kind: str, path: str, body: str, headers: dict[str, str]) -> tuple[Any, bool]:
        """One request. Returns (value, _) on success, else (StoreError, may_retry)."""
        is_query = kind == "query"
        where = f"Convex at {self.shown_url}"
        self.calls += 1
        if self.counter is not None:
            self.counter.add()
        try:
            response = self._client.post(f"/api/{kind}", content=body, headers=headers)
        except httpx.ConnectError as exc:
            return StoreUnavailable(
                f"cannot connect to {where}: {http_failure_reason(exc)}",
                hint="check CONVEX_URL and the network; the console keeps the last data and retries",
            ), True
        except httpx.TimeoutException:
            return StoreUnavailable(
                f"{where} did not answer within {self.timeout:g} s",
                hint="the deployment or the network is slow; the console retries by itself",
            ), is_query
        except httpx.HTTPError as exc:
            return StoreUnavailable(
                f"the connection to {where} broke: {http_failure_reason(exc)}",
                hint="the console retries by itself",
            ), is_query

        status = response.status_code
        if status in (200, 560):
            try:
                payload = response.json()
            except ValueError:
                return self._garbage(where, status), is_query
            if not isinstance(payload, dict) or payload.get("status") not in ("success", "error"):
                return self._garbage(where, status), is_query
            if payload["status"] == "success":
                return payload.get("value"), False
            return self._function_error(path, payload), False

        code, message = self._platform_error(response)
        if status == 401 or status == 403:
            return StoreAuthError(
                f"{where} refused the deploy key ({status} {code}: {message})", hint=KEY_HINT
            ), False
        if status == 429:
            return StoreUnavailable(
                f"{where} is rate-limiting the console (429 {code})",
                hint="poll less often ([store] poll_interval) or wait; the console backs off",
                retry_after=_retry_after(response),
            ), True
        if status >= 500:
            return StoreUnavailable(
                f"{where} failed with {status} {code}: {message}",
                hint="a problem on Convex's side; the console retries by itself",
                retry_after=_retry_after(response),
            ), is_query or status == 503
        if status == 404:
            return StoreError(
                f"{where} has no HTTP API at this address (404 {code})",
                hint="check CONVEX_URL: it is the deployment URL ending in .convex.cloud, not the dashboard's",
            ), False
        return StoreFunctionError(
            f"{where} rejected the call to {path} ({status} {code}: {message})",
            data={"code": code},
        ), False

    def _garbage(self, where: str, status: int) -> StoreUnavailable:
        return StoreUnavailable(
            f"{where} answered {status} with something that is not a Convex reply",
            hint="check that CONVEX_URL points at a Convex deployment, not a proxy or login page",
        )

    @staticmethod
    def _platform_error(response: httpx.Response) -> tuple[str, str]:
        try:
            data = response.json()
            return str(data.get("code", "Error")), str(data.get("message", ""))[:300]
        except (ValueError, AttributeError):
            return "Error", response.text[:120].strip() or response.reason_phrase

    def _function_error(self, path: str, payload: dict[str, Any]) -> StoreError:
        message = str(payload.get("errorMessage") or "the function failed")
        data = payload.get("errorData")
        if NOT_DEPLOYED in message:
            return StoreAuthError(
                f"Convex did not run {path} as an admin call: {message.splitlines()[0][:200]}",
                hint="deploy convex/ to this deployment (npx convex deploy) and set CONVEX_DEPLOY_KEY; "
                "without a deploy key the console's internal functions look absent",
            )
        if isinstance(data, dict) and data.get("code") == "NotFound":
            return NotFoundError(str(data.get("message") or message), data=data)
        text = data.get("message") if isinstance(data, dict) and data.get("message") else message
        return StoreFunctionError(f"{path} failed: {text}", data=data)

    def query(self, path: str, args: dict[str, Any] | None = None) -> Any:
        return self._call("query", path, _drop_none(args or {}))

    def mutation(self, path: str, args: dict[str, Any] | None = None) -> Any:
        return self._call("mutation", path, _drop_none(args or {}))

    def action(self, path: str, args: dict[str, Any] | None = None) -> Any:
        return self._call("action", path, _drop_none(args or {}))

    # ------------------------------------------------------------- contract
    def upsert_agent(self, spec: AgentSpec, *, actor: str = OPERATOR) -> tuple[Agent, bool, bool]:
        if spec.status is not None:
            check_choice(spec.status, AGENT_STATUSES, "status")
        out = self.mutation(
            "console/agents:upsert",
            {
                "agentId": spec.agent_id,
                "name": spec.name,
                "role": spec.role,
                "status": spec.status,
                "level": spec.level,
                "workspace": spec.workspace,
                "heartbeat": spec.heartbeat,
                "tz": spec.tz,
                "graceSeconds": spec.grace_seconds,
                "actor": actor,
            },
        )
        return agent_from_doc(out["agent"]), bool(out["created"]), bool(out["changed"])

    def list_agents(self) -> list[Agent]:
        return [agent_from_doc(d) for d in self.query("console/agents:list")]

    def create_task(
        self,
        title: str,
        description: str = "",
        *,
        status: str = "inbox",
        assignee_ids: tuple[str, ...] | list[str] = (),
        actor: str = OPERATOR,
    ) -> Task:
        check_choice(status, TASK_STATUSES, "status")
        doc = self.mutation(
            "console/tasks:create",
            {
                "title": title,
                "description": description,
                "status": status,
                "assigneeIds": list(assignee_ids),
                "actor": actor,
            },
        )
        return task_from_doc(doc)

    def update_task(
        self,
        task_id: str,
        *,
        status: str | None = None,
        assignee_ids: tuple[str, ...] | list[str] | None = None,
        title: str | None = None,
        description: str | None = None,
        actor: str = OPERATOR,
    ) -> Task:
        if status is not None:
            check_choice(status, TASK_STATUSES, "status")
        doc = self.mutation(
            "console/tasks:update",
            {
                "id": task_id,
                "status": status,
                "assigneeIds": list(assignee_ids) if assignee_ids is not None else None,
                "title": title,
                "description": description,
                "actor": actor,
            },
        )
        return task_from_doc(doc)

    def remove_task(self, task_id: str, *, actor: str = OPERATOR) -> Task:
        return task_from_doc(self.mutation("console/tasks:remove", {"id": task_id, "actor": actor}))

    def list_tasks(self) -> list[Task]:
        return [task_from_doc(d) for d in self.query("console/tasks:list")]

    def send_message(
        self, task_id: str, from_agent_id: str, content: str, *, actor: str = OPERATOR
    ) -> Message:
        doc = self.mutation(
            "console/messages:send",
            {"taskId": task_id, "fromAgentId": from_agent_id, "content": content, "actor": actor},
        )
        return message_from_doc(doc)

    def log_activity(
        self,
        type: str,
        message: str,
        *,
        agent_id: str | None = None,
        actor: str = OPERATOR,
        target_id: str | None = None,
        detail: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> Activity:
        doc = self.mutation(
            "console/activities:log",
            {
                "type": type,
                "message": message,
                "agentId": agent_id,
                "actor": actor,
                "targetId": target_id,
                "detail": detail,
                "key": key,
            },
        )
        return activity_from_doc(doc)

    def list_activities(self, limit: int = 100, before: float | None = None) -> list[Activity]:
        docs = self.query("console/activities:list", {"limit": limit, "before": before})
        return [activity_from_doc(d) for d in docs]

    def record_heartbeat(self, beat: HeartbeatIn, *, actor: str | None = None) -> tuple[Heartbeat, bool]:
        check_choice(beat.outcome, HEARTBEAT_OUTCOMES, "outcome")
        out = self.mutation(
            "console/heartbeats:record",
            {
                "agentId": beat.agent_id,
                "at": beat.at,
                "outcome": beat.outcome,
                "source": beat.source,
                "runId": beat.effective_run_id(),
                "durationMs": beat.duration_ms,
                "error": beat.error,
                "delivery": beat.delivery,
                "model": beat.model,
                "tokens": beat.tokens,
                "costUsd": beat.cost_usd,
                "actor": actor,
            },
        )
        return heartbeat_from_doc(out["heartbeat"]), bool(out["created"])

    def list_heartbeats(
        self,
        agent_id: str | None = None,
        *,
        since: float = 0.0,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[Heartbeat]:
        docs = self.query(
            "console/heartbeats:list", {"agentId": agent_id, "since": since, "until": until, "limit": limit}
        )
        return [heartbeat_from_doc(d) for d in docs]

    def record_flip(
        self,
        agent_id: str,
        at: float,
        from_status: str,
        to_status: str,
        reason: str | None = None,
        *,
        actor: str = OPERATOR,
    ) -> Flip:
        doc = self.mutation(
            "console/flips:record",
            {"agentId": agent_id, "at": at, "from": from_status, "to": to_status, "reason": reason, "actor": actor},
        )
        return flip_from_doc(doc)

    def list_flips(
        self,
        agent_id: str | None = None,
        *,
        since: float = 0.0,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[Flip]:
        docs = self.query(
            "console/flips:list", {"agentId": agent_id, "since": since, "until": until, "limit": limit}
        )
        return [flip_from_doc(d) for d in docs]

    def snapshot(self, since: Marks | None = None, limit: int = DEFAULT_SNAPSHOT_LIMIT) -> Snapshot:
        """One poll (docs/cost.md): `snapshot:get` for the rows inserted since the marks (index
        ranges, cached by Convex while nothing is new) and `snapshot:tables` for the hot group
        (agents, the newest and open tasks), cached until one of them is written; the cold tasks
        and the pipeline's tables (feeds, opportunities) every `cold_every` seconds and whenever
        activities or messages arrived. The first poll is one call, `snapshot:start`."""
        since = dict(since or {})
        append_since = {k: since[k] for k in APPEND if since.get(k) is not None}
        state = self._tables
        if state is None or any(since.get(t) != state.token() for t in WHOLE):
            return self._first(append_since, limit)
        out = self.query("console/snapshot:get", {"since": append_since, "limit": limit})
        rows = _rows(out)
        now = self._clock()
        busy = bool(rows["activities"] or rows["messages"])
        for name in ("hot", "cold", "pipeline"):
            group = state.groups.get(name)
            if group is None or name in self.skip_groups:
                continue
            if name != "hot" and not busy and now - group.checked < self.cold_every:
                continue
            got = self.query("console/snapshot:tables", {"parts": group.parts, "since": group.mark})
            group.checked = now
            if got.get("docs") is not None or got.get("mark") != group.mark:
                group.docs = got.get("docs") or group.docs
                group.mark = got.get("mark")
        tables = state.changed()
        if tables.get("tasks") is not None and state.needs_split():
            self._tables = None  # the boundary moved: the next poll starts the groups again
        token = state.token() if self._tables else "resplit"
        marks = {**dict(out.get("marks") or {}), **{t: token for t in WHOLE}}
        return self._snapshot(rows, tables, marks, bool(out.get("hasMore")))

    def _first(self, append_since: dict[str, Any], limit: int) -> Snapshot:
        """The first poll: everything in one call (two when the caller already has append marks)."""
        out = self.query("console/snapshot:start", {"limit": limit})
        now = self._clock()
        groups = {name: _Group(list(g["parts"]), g["mark"], None, now)
                  for name, g in (out.get("groups") or {}).items() if g is not None}
        state = _Tables(groups, {t: out.get(t) or [] for t in WHOLE})
        for group in groups.values():
            group.docs = [state.part_docs(p) for p in group.parts]
        state.changed()  # what the caller gets now is the baseline
        self._tables = state
        if append_since:  # a poller that already has its rows: only what is newer
            out = {**out, **self.query("console/snapshot:get", {"since": append_since, "limit": limit})}
        tables = {t: state.returned[t] for t in WHOLE}
        marks = {**dict(out.get("marks") or {}), **{t: state.token() for t in WHOLE}}
        return self._snapshot(_rows(out), tables, marks, bool(out.get("hasMore")))

    def _snapshot(self, rows: dict[str, list], tables: dict[str, Any], marks: dict[str, Any], more: bool) -> Snapshot:
        def docs(table: str, convert: Callable[[dict[str, Any]], Any]) -> tuple | None:
            found = tables.get(table)
            return None if found is None else tuple(convert(d) for d in found)

        return Snapshot(
            agents=docs("agents", agent_from_doc),
            tasks=docs("tasks", task_from_doc),
            messages=tuple(message_from_doc(d) for d in rows["messages"]),
            activities=tuple(activity_from_doc(d) for d in rows["activities"]),
            heartbeats=tuple(heartbeat_from_doc(d) for d in rows["heartbeats"]),
            flips=tuple(flip_from_doc(d) for d in rows["flips"]),
            marks=marks,
            has_more=more,
            server_time=self._clock() * 1000,  # the functions read no clock (they would not be cached)
            feeds=docs("feeds", feed_from_doc),
            opportunities=docs("opportunities", opportunity_from_doc),
        )

    def history(self, since: float, until: float) -> History:
        """`history:get` pages (one for ~1,000 agents' eight days); a deployment whose beats predate
        the compact table is folded into it first (`history:rebuild`, once in its life)."""
        days: dict[str, list[dict[str, Any]]] = {}
        flips: list[Flip] = []
        after = None
        rebuilt = False
        while True:
            out = self.query("console/history:get", {"since": since, "until": until, "after": after})
            if out.get("stale") and not rebuilt:
                self.rebuild_history()
                rebuilt = True
                continue
            for entry in out.get("agents") or ():
                days.setdefault(entry["agentId"], []).extend(entry["days"])
            flips += [flip_from_doc(d) for d in out.get("flips") or ()]
            after = out.get("next")
            if after is None:
                break
        runs = []
        for agent_id in sorted(days):
            builder = RunsBuilder(agent_id)
            newest_error = None
            for day in sorted(days[agent_id], key=lambda d: d["day"]):
                failed = _decode_day(day, since, until, builder)
                if failed and day.get("lastError"):
                    newest_error = day["lastError"]
            built = builder.build()
            if newest_error is not None and built.last_error is not None:
                built = dataclasses.replace(built, last_error=newest_error[:500])
            runs.append(built)
        return History(tuple(runs), tuple(flips))

    def rebuild_history(self) -> int:
        """Folds every stored heartbeat into the compact history (safe to run again). Returns the beats read."""
        after, total = None, 0
        while True:
            out = self.mutation("console/history:rebuild", {"after": after, "limit": 1000})
            total += int(out.get("folded") or 0)
            after = out.get("next")
            if after is None:
                return total

    # ------------------------------------------------------------------ vault
    def vault_put(
        self,
        name: str,
        version: int,
        record: str,
        kid: str,
        *,
        expected_version: int | None = None,
        actor: str = OPERATOR,
    ) -> VaultRow:
        doc = self.mutation(
            "console/vault:put",
            {"name": name, "version": version, "record": record, "kid": kid,
             "expectedVersion": expected_version, "actor": actor},
        )
        return vault_row_from_doc(doc)

    def vault_list(self) -> list[VaultRow]:
        return [vault_row_from_doc(d) for d in self.query("console/vault:list")]

    def vault_get(self, name: str, version: int | None = None) -> VaultRow:
        return vault_row_from_doc(self.query("console/vault:get", {"name": name, "version": version}))

    def vault_remove(self, name: str, *, actor: str = OPERATOR) -> int:
        return int(self.mutation("console/vault:remove", {"name": name, "actor": actor}))

    def vault_kid_check(self) -> dict[str, Any]:
        """{"kid": ... or None, "problem"?}: the kid of the deployment's CONVEX_VAULT_KEY (never the key)."""
        out = self.action("console/vault:kidCheck")
        return out if isinstance(out, dict) else {"kid": out}

    # --------------------------------------------------------------- pipeline
    def add_feed(self, url: str, competitor: str, *, actor: str = OPERATOR) -> Feed:
        return feed_from_doc(self.mutation("console/pipeline:addFeed", {"url": url, "competitor": competitor,
                                                                         "actor": actor}))

    def list_feeds(self) -> list[Feed]:
        return [feed_from_doc(d) for d in self.query("console/pipeline:listFeeds")]

    def remove_feed(self, url: str, *, actor: str = OPERATOR) -> Feed:
        return feed_from_doc(self.mutation("console/pipeline:removeFeed", {"url": url, "actor": actor}))

    def record_fetch(
        self, url: str, state: FeedState, signals: Sequence[SignalIn] = (), *, actor: str = "service"
    ) -> FetchRecorded:
        if state.outcome is not None:
            check_choice(state.outcome, FEED_OUTCOMES, "outcome")
        out = self.mutation(
            "console/pipeline:recordFetch",
            {
                "url": url,
                "state": _drop_none({
                    "etag": state.etag, "lastModified": state.last_modified, "lastFetchedAt": state.last_fetched_at,
                    "lastStatus": state.last_status, "errorCount": int(state.error_count),
                    "nextFetchAt": state.next_fetch_at, "outcome": state.outcome, "health": state.health,
                }),
                "signals": [
                    _drop_none({"feedUrl": s.feed_url, "entryKey": s.entry_key, "title": s.title,
                                "competitor": s.competitor, "link": s.link, "publishedAt": s.published_at,
                                "summary": s.summary})
                    for s in signals
                ],
                "actor": actor,
            },
        )
        return FetchRecorded(feed_from_doc(out["feed"]), int(out["created"]), int(out["updated"]),
                             int(out["unchanged"]))

    def list_signals(
        self, *, feed_url: str | None = None, competitor: str | None = None, limit: int = 1000
    ) -> list[Signal]:
        docs = self.query("console/pipeline:listSignals", {"feedUrl": feed_url, "competitor": competitor,
                                                            "limit": limit})
        return [signal_from_doc(d) for d in docs]

    def create_opportunity(self, title: str, description: str = "", *, actor: str = OPERATOR) -> Opportunity:
        return opportunity_from_doc(self.mutation("console/pipeline:createOpportunity",
                                                  {"title": title, "description": description, "actor": actor}))

    def list_opportunities(self) -> list[Opportunity]:
        return [opportunity_from_doc(d) for d in self.query("console/pipeline:listOpportunities")]

    def get_opportunity(self, opportunity_id: str) -> Opportunity:
        return opportunity_from_doc(self.query("console/pipeline:getOpportunity", {"id": opportunity_id}))

    def move_opportunity(self, opportunity_id: str, stage: str, *, actor: str = OPERATOR) -> Opportunity:
        check_choice(stage, OPPORTUNITY_STAGES, "stage")
        return opportunity_from_doc(self.mutation("console/pipeline:moveOpportunity",
                                                  {"id": opportunity_id, "stage": stage, "actor": actor}))

    def record_analysis(
        self, opportunity_id: str, market_score: float, analysis: dict[str, Any], *, actor: str = OPERATOR
    ) -> Opportunity:
        return opportunity_from_doc(self.mutation(
            "console/pipeline:recordAnalysis",
            {"id": opportunity_id, "marketScore": float(market_score), "analysis": analysis, "actor": actor}))

    def record_survey(
        self,
        opportunity_id: str,
        survey: dict[str, Any],
        *,
        expected_respondents: int | None = None,
        actor: str = OPERATOR,
    ) -> Opportunity:
        return opportunity_from_doc(self.mutation(
            "console/pipeline:recordSurvey",
            {"id": opportunity_id, "survey": survey, "expectedRespondents": expected_respondents, "actor": actor}))

    def record_decision(self, opportunity_id: str, decision: dict[str, Any], *, actor: str = OPERATOR) -> Opportunity:
        return opportunity_from_doc(self.mutation("console/pipeline:recordDecision",
                                                  {"id": opportunity_id, "decision": decision, "actor": actor}))




def _rows(out: dict[str, Any]) -> dict[str, list]:
    return {t: list(out.get(t) or ()) for t in APPEND}


def split_boundary(tasks: Sequence[dict[str, Any]]) -> float | None:
    """The boundary between cold and hot tasks (convex/console/snapshot.ts `split`, the same rule)."""
    n = len(tasks)
    first_open = next((i for i, t in enumerate(tasks) if t.get("status") != "done"), n)
    hot_start = max(n - HOT_MAX, min(n - HOT_MIN, first_open))
    return tasks[hot_start - 1]["_creationTime"] if hot_start > 0 else None


@dataclass
class _Group:
    parts: list[dict[str, Any]]
    mark: str | None
    docs: list[list[dict[str, Any]]] | None
    checked: float


@dataclass
class _Tables:
    """The console's copy of the whole tables, by group (hot, cold, pipeline), and what the last
    snapshot returned of each table."""

    groups: dict[str, _Group]
    whole: dict[str, list[dict[str, Any]]]
    returned: dict[str, list[dict[str, Any]] | None] = field(default_factory=dict)

    def part_docs(self, part: dict[str, Any]) -> list[dict[str, Any]]:
        after, up_to = part.get("after"), part.get("upTo")
        return [d for d in self.whole[part["table"]]
                if (after is None or d["_creationTime"] > after) and (up_to is None or d["_creationTime"] <= up_to)]

    def token(self) -> str:
        return "|".join(f"{name}:{g.mark}" for name, g in sorted(self.groups.items()))

    def changed(self) -> dict[str, list[dict[str, Any]] | None]:
        """Each table as the groups now have it, or None where it is what was last returned."""
        current: dict[str, list[dict[str, Any]]] = {t: [] for t in WHOLE}
        for g in self.groups.values():
            for part, docs in zip(g.parts, g.docs or ()):
                current[part["table"]].extend(docs)
        current["tasks"].sort(key=lambda d: d["_creationTime"])
        out: dict[str, list[dict[str, Any]] | None] = {}
        for t in WHOLE:
            out[t] = None if self.returned.get(t) == current[t] else current[t]
            self.returned[t] = current[t]
        self.whole = current
        return out

    def needs_split(self) -> bool:
        """The hot group outgrew its bounds, or a task in the cold group is open again."""
        hot = self.groups.get("hot")
        cold = self.groups.get("cold")
        hot_tasks = len(hot.docs[1]) if hot and hot.docs and len(hot.docs) > 1 else 0
        reopened = bool(cold and cold.docs and any(t.get("status") != "done" for t in cold.docs[0]))
        return hot_tasks > HOT_MAX + HOT_MIN or reopened


def _decode_day(day: dict[str, Any], since: float, until: float, into: RunsBuilder) -> bool:
    """Adds a `heartbeatDays` document's runs within [since, until) to `into`; True if one failed."""
    runs, start = day["runs"], float(day["day"])
    tokens = day.get("tokens", "").split(",")
    cost = day.get("cost", "").split(",")
    failed = False
    for i in range(len(runs) // RUN_WIDTH):
        at = start + int(runs[i * RUN_WIDTH:i * RUN_WIDTH + 6], 36)
        if not since <= at < until:
            continue
        ok = runs[i * RUN_WIDTH + 6] == "o"
        failed = failed or not ok
        tok = tokens[i] if i < len(tokens) else ""
        usd = cost[i] if i < len(cost) else ""
        into.add(at, ok, float(int(tok, 36)) if tok else None, int(usd, 36) / 1e6 if usd else None, None)
    return failed


def http_failure_reason(exc: Exception) -> str:
    """An httpx failure in words (shared with the feed fetcher)."""
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text or "Temporary failure in name resolution" in text:
        return "the host name does not resolve"
    return text[:200]
