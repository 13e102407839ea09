"""The OpenClaw gateway: where it listens, whether it answers, what its CLI says of it.

`gateway_url` is the one place that decides the URL the console probes; `probe_gateway` asks
its /healthz and /readyz over HTTP (the token only in the Authorization header, never in a
result). What the CLI says of the gateway (unreachable, token refused) comes from the calls the
console makes anyway (`cron list`, `channels status`): no extra `gateway status` call, which would
cost another second of Node start-up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from console.service.openclaw.config import DEFAULT_PORT, OpenClawConfig
from console.service.openclaw.runner import redact


def gateway_url(configured: str | None, config: OpenClawConfig | None) -> str:
    """The gateway's HTTP base URL, the one the console probes and names in its messages.

    squad.toml's `[openclaw] gateway` (ws:// read as http://, wss:// as https://; None means
    http://127.0.0.1:18789), with the port openclaw.json names (gateway.port, or
    OPENCLAW_GATEWAY_PORT) when that config could be read: the gateway listens where its own
    config says, so only the host is taken from squad.toml then."""
    url = _http_base(configured or f"http://127.0.0.1:{DEFAULT_PORT}")
    if config is None:
        return url
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    return urlunsplit((parts.scheme, f"{host}:{config.gateway_port}", parts.path, "", ""))


@dataclass(frozen=True)
class GatewayHealth:
    reachable: bool
    healthz: int | None = None
    readyz: int | None = None
    latency_ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.reachable and self.healthz == 200 and self.readyz in (200, None)

    def describe(self) -> str:
        if not self.reachable:
            return f"gateway unreachable: {self.error}"
        parts = [f"/healthz {self.healthz}", f"/readyz {self.readyz}"]
        if self.latency_ms is not None:
            parts.append(f"{self.latency_ms:.0f} ms")
        return "gateway " + ("up" if self.ok else "degraded") + " (" + ", ".join(parts) + ")" + (f": {self.error}" if self.error else "")


def _http_base(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme or "http")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def probe_gateway(
    base_url: str, token: str | None, timeout: float = 3.0, transport: httpx.BaseTransport | None = None
) -> GatewayHealth:
    """GET /healthz and /readyz. Sends `Authorization: Bearer` only when a token is set; the
    token never appears in the result."""
    base = _http_base(base_url)
    parts = urlsplit(base)
    host = parts.netloc or base
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return GatewayHealth(False, error=f"{base_url!r} is not a gateway URL like http://127.0.0.1:{DEFAULT_PORT}")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    try:
        with httpx.Client(base_url=base, timeout=timeout, headers=headers, transport=transport,
                          follow_redirects=False, trust_env=not loopback) as client:
            start = time.perf_counter()
            health = client.get("/healthz")
            latency = (time.perf_counter() - start) * 1000
            try:
                ready: int | None = client.get("/readyz").status_code
            except httpx.HTTPError:
                ready = None
    except httpx.TimeoutException:
        return GatewayHealth(False, error=f"no answer from {host} within {timeout:g}s")
    except httpx.ConnectError as exc:
        cause = str(exc).lower()
        if "refused" in cause:
            why = f"connection refused at {host}: the gateway is not running there"
        elif "name" in cause or "resolve" in cause or "nodename" in cause:
            why = f"cannot resolve the host of {host}"
        else:
            why = f"cannot connect to {host}"
        return GatewayHealth(False, error=why)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        return GatewayHealth(False, error=redact(f"{type(exc).__name__} talking to {host}", [token]))
    error = None
    if health.status_code in (401, 403):
        error = f"the gateway refused the console's token (HTTP {health.status_code})"
    elif health.status_code != 200:
        error = f"/healthz answered HTTP {health.status_code}"
    elif ready not in (200, None):
        error = f"/readyz answered HTTP {ready}: the gateway is up but not ready (channels not connected)"
    return GatewayHealth(True, health.status_code, ready, round(latency, 1), error)
