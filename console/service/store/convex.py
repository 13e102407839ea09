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

import json
import random
import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any
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
    Marks,
    Message,
    Opportunity,
    Signal,
    SignalIn,
    Snapshot,
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

KEY_HINT = (
    "set CONVEX_DEPLOY_KEY to a deploy key of this deployment (dashboard: Settings → Deploy keys); "
    "the console's functions are internal, so only a deploy key can call them"
)
NOT_DEPLOYED = "Could not find public function"


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

    def describe(self) -> str:
        return f"convex {self.host}"

    def close(self) -> None:
        self._client.close()

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
        out = self.query("console/snapshot:get", {"since": _drop_none(dict(since or {})), "limit": limit})
        agents, tasks = out.get("agents"), out.get("tasks")
        feeds, opportunities = out.get("feeds"), out.get("opportunities")
        return Snapshot(
            agents=None if agents is None else tuple(agent_from_doc(d) for d in agents),
            tasks=None if tasks is None else tuple(task_from_doc(d) for d in tasks),
            messages=tuple(message_from_doc(d) for d in out.get("messages", ())),
            activities=tuple(activity_from_doc(d) for d in out.get("activities", ())),
            heartbeats=tuple(heartbeat_from_doc(d) for d in out.get("heartbeats", ())),
            flips=tuple(flip_from_doc(d) for d in out.get("flips", ())),
            marks=dict(out.get("marks") or {}),
            has_more=bool(out.get("hasMore")),
            server_time=float(out.get("serverTime") or 0.0),
            feeds=None if feeds is None else tuple(feed_from_doc(d) for d in feeds),
            opportunities=None if opportunities is None else tuple(opportunity_from_doc(d) for d in opportunities),
        )

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


def http_failure_reason(exc: Exception) -> str:
    """An httpx failure in words (shared with the feed fetcher)."""
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text or "Temporary failure in name resolution" in text:
        return "the host name does not resolve"
    return text[:200]
