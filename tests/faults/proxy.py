"""A loopback fault proxy in front of the convex-test server.

`FaultProxy(upstream)` listens on 127.0.0.1 only. In mode "healthy" it forwards every call to the
upstream (the project's real Convex functions run by convex-test), so the good path is the real
one; in any other mode it fails the way a deployment, or what stands in front of it, fails:

    refuse       nothing listens on the port (the listener and its open connections are closed)
    hang         the request is read, then no answer until the client gives up
    500, 503     a platform error with {code, message}
    429          rate limited, with Retry-After
    403          the deploy key refused (rotated, or the wrong deployment)
    garbage      200 with something that is not JSON (a login page)
    error        200 with {"status": "error"} (a function error)
    cut          forwarded (so a mutation IS applied), then the reply is cut mid-body
    hang_after   forwarded (applied), then no answer until the client gives up

`only` narrows a fault to some function paths (the others are forwarded). The client's deploy key
is checked and swapped for the upstream's, so the client can carry a planted secret.

Everything is bounded: a hang lasts at most `hang_max` seconds (less when the mode changes or the
proxy stops), and the proxy shuts itself down after `lifetime` seconds whatever happens.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections import Counter
from typing import Any

import httpx

MODES = ("healthy", "refuse", "hang", "500", "503", "429", "403", "garbage", "error", "cut", "hang_after")


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        *,
        client_key: str,
        upstream_key: str,
        retry_after: str = "1",
        hang_max: float = 5.0,
        lifetime: float = 180.0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.client_key = client_key
        self.upstream_key = upstream_key
        self.retry_after = retry_after
        self.hang_max = hang_max
        self._mode = "healthy"
        self.only: set[str] | None = None
        self.hits: Counter[str] = Counter()  # (mode) -> requests answered in that mode
        self.paths: Counter[str] = Counter()  # function path -> requests seen
        self.bad_auth = 0
        self.applied_unanswered: Counter[str] = Counter()  # function path -> applied, reply cut or never sent
        self._lock = threading.Lock()
        self._changed = threading.Event()  # set (then cleared) whenever the mode changes
        self._conns: set[socket.socket] = set()
        self._client = httpx.Client(base_url=self.upstream, timeout=15.0)
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._closed = False
        self.port = 0
        self._start()
        self.url = f"http://127.0.0.1:{self.port}"
        self._deadline = threading.Timer(lifetime, self.close)
        self._deadline.daemon = True
        self._deadline.start()

    # ------------------------------------------------------------------ control
    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str, *, only: set[str] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            previous = self._mode
            self._mode = mode
            self.only = set(only) if only else None
            woken, self._changed = self._changed, threading.Event()
        woken.set()  # hanging handlers give up their connection now
        if mode == "refuse" and previous != "refuse":
            self._stop_listening()
        elif mode != "refuse" and previous == "refuse":
            self._start()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._deadline.cancel()
        self._changed.set()
        self._stop_listening()
        self._client.close()

    # ------------------------------------------------------------------ listener
    def _start(self) -> None:
        if self._closed:
            return
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30  # an idle keep-alive connection is dropped after this

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with outer._lock:
                    outer._conns.add(self.connection)

            def finish(self) -> None:
                with outer._lock:
                    outer._conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_POST(self) -> None:
                outer._handle(self)

        server_class = type("Server", (http.server.ThreadingHTTPServer,), {"allow_reuse_address": True})
        self._httpd = server_class(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def _stop_listening(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # a stopped server drops its keep-alive connections too
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ------------------------------------------------------------------ answers
    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length", 0))
        raw = h.rfile.read(length) if length else b""
        try:
            fn = str(json.loads(raw or b"{}").get("path", ""))
        except ValueError:
            fn = ""
        with self._lock:
            mode = self._mode
            if self.only is not None and fn not in self.only:
                mode = "healthy"
            self.hits[mode] += 1
            self.paths[fn] += 1
            changed = self._changed
        auth = h.headers.get("Authorization", "")
        if auth != f"Convex {self.client_key}":
            self.bad_auth += 1
            self._send(h, 403, {"code": "BadDeployKey", "message": "The provided deploy key was invalid."})
            return
        if mode == "refuse":  # a request that slipped in while the listener was closing
            self._cut(h, b"")
        elif mode == "hang":
            changed.wait(self.hang_max)
            h.close_connection = True
        elif mode == "500":
            self._send(h, 500, {"code": "InternalServerError", "message": "Your request couldn't be completed."})
        elif mode == "503":
            self._send(h, 503, {"code": "ServiceUnavailable", "message": "Service temporarily unavailable."})
        elif mode == "429":
            self._send(h, 429, {"code": "TooManyRequests", "message": "Rate limit exceeded."},
                       {"Retry-After": self.retry_after})
        elif mode == "403":
            self._send(h, 403, {"code": "BadDeployKey", "message": "The provided deploy key was invalid."})
        elif mode == "garbage":
            self._send(h, 200, b"<html><body>Sign in to continue</body></html>", content_type="text/html")
        elif mode == "error":
            self._send(h, 200, {"status": "error", "errorMessage": "[Request ID: 0f3c] Server Error\nUncaught Error: the deployment is overloaded",
                                "logLines": []})
        else:
            status, body, ctype = self._forward(h.path, raw)
            if mode != "healthy" and h.path.endswith("/mutation") and status == 200 and b'"success"' in body:
                with self._lock:
                    self.applied_unanswered[fn] += 1
            if mode == "cut":
                self._cut(h, body, status=status, content_type=ctype)
            elif mode == "hang_after":
                changed.wait(self.hang_max)
                h.close_connection = True
            else:
                self._send(h, status, body, content_type=ctype)

    def _forward(self, path: str, raw: bytes) -> tuple[int, bytes, str]:
        try:
            r = self._client.post(path, content=raw, headers={
                "Authorization": f"Convex {self.upstream_key}", "Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            return 502, json.dumps({"code": "BadGateway", "message": type(exc).__name__}).encode(), "application/json"
        return r.status_code, r.content, r.headers.get("content-type", "application/json")

    @staticmethod
    def _send(h, status: int, payload: Any, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            h.send_response(status)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            h.close_connection = True

    @staticmethod
    def _cut(h, body: bytes, *, status: int = 200, content_type: str = "application/json") -> None:
        """Headers promising the whole body, half of it, then the connection is cut."""
        try:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(max(len(body), 64)))
            h.end_headers()
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        h.close_connection = True
