"""50 feeds at 200 ms latency each (DESIGN §9): fetched and stored in ≤ 1 s in all; a second run,
where every feed answers 304 Not Modified, parses nothing.

A threaded loopback HTTP server serves N feeds; each answer (200 or 304) comes after the given
latency. The fetch is the real one (`Pipeline.fetch`: httpx, the concurrency limit from
[pipeline] concurrency, the size cap, feedparser, the LocalStore writes). Parser calls are counted.

Why the default concurrency is 64: the fetch takes about ceil(feeds / concurrency) × latency, so
50 feeds at 200 ms need every feed in flight at once to stay near 200 ms: 10 would take ≥ 1 s
(5 rounds), 25 ≥ 400 ms, 50 or more ~200 ms plus overhead. 64 keeps headroom above the squad's
50 feeds while still bounding sockets and memory (64 × the 5 MiB body cap at worst).

    .venv/bin/python benchmarks/feeds.py [--feeds 50] [--latency 0.2] [--concurrency 64] [--no-compare]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.config import PipelineSettings  # noqa: E402
from console.service.pipeline.feeds import FetchOptions, Fetcher, feedparser_parse  # noqa: E402
from console.service.store.sqlite import LocalStore  # noqa: E402
from console.service.pipeline import Pipeline  # noqa: E402


def feed_body(i: int) -> bytes:
    items = "".join(
        f'<item><title>Competitor {i} news {j}: pricing and plans</title><guid isPermaLink="false">c{i}-{j}</guid>'
        f"<link>https://c{i}.example/{j}</link><pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate>"
        f"<description>Entry {j} of competitor {i}.</description></item>"
        for j in range(20)
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Competitor {i}</title>'
            f"<link>https://c{i}.example/</link><description>feed {i}</description>{items}</channel></rss>").encode()


def serve(feeds: int, latency: float) -> tuple[ThreadingHTTPServer, str]:
    bodies = {f"/c{i}.xml": feed_body(i) for i in range(feeds)}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(latency)
            body = bodies.get(self.path)
            etag = f'"{self.path}-v1"'
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 512  # the default 5 would make simultaneous connects wait for SYN retries

    httpd = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


class Counting:
    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self.calls = 0

    def parse(self, body: bytes, headers: dict[str, str]) -> Any:
        self.calls += 1
        return feedparser_parse(body, headers)

    def factory(self) -> Fetcher:
        return Fetcher(FetchOptions.from_settings(self.settings), parse=self.parse)


def run(base: str, feeds: int, settings: PipelineSettings, tmp: Path, name: str) -> dict[str, Any]:
    store = LocalStore(tmp / f"{name}.db")
    try:
        counting = Counting(settings)
        pipe = Pipeline(store, settings, fetcher_factory=counting.factory)
        for i in range(feeds):
            pipe.add_feed(f"{base}/c{i}.xml", f"competitor-{i}")
        out: dict[str, Any] = {}
        for label in ("first", "second"):
            before = counting.calls
            started = time.perf_counter()
            report = pipe.fetch_sync()
            out[label] = {
                "seconds": time.perf_counter() - started,
                "fetch_s": report.fetch_ms / 1000,
                "parses": counting.calls - before,
                "outcomes": {o: report.count(o) for o in ("ok", "not_modified", "degraded", "failed")},
                "created": report.created,
            }
        out["signals"] = len(store.list_signals(limit=100_000))
        return out
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before each answer")
    parser.add_argument("--concurrency", type=int, default=PipelineSettings().concurrency)
    parser.add_argument("--target", type=float, default=1.0, help="seconds for the whole first fetch")
    parser.add_argument("--no-compare", action="store_true", help="skip the informational run at concurrency 10")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON (for make bench)")
    args = parser.parse_args()

    settings = dataclasses.replace(PipelineSettings(), concurrency=args.concurrency)
    httpd, base = serve(args.feeds, args.latency)
    tmp = Path(tempfile.mkdtemp(prefix="squad-feeds-bench-"))
    try:
        main_run = run(base, args.feeds, settings, tmp, "main")
        compare = None
        if not args.no_compare:
            compare = run(base, args.feeds, dataclasses.replace(settings, concurrency=10), tmp, "c10")
    finally:
        httpd.shutdown()
        httpd.server_close()

    first, second = main_run["first"], main_run["second"]
    entries = args.feeds * 20
    print(f"{args.feeds} feeds × 20 entries on a loopback server answering after {args.latency * 1000:.0f} ms; "
          f"concurrency {args.concurrency}; LocalStore")
    print(f"first fetch: {first['outcomes']}, {first['created']} new signals, {first['parses']} parser calls; "
          f"{first['fetch_s']:.2f} s fetching and parsing, {first['seconds'] - first['fetch_s']:.2f} s storing")
    print(f"second fetch: {second['outcomes']}, {second['created']} new signals, {second['parses']} parser calls; "
          f"{second['seconds']:.2f} s in all")
    if compare:
        print(f"(for comparison, concurrency 10: first fetch {compare['first']['seconds']:.2f} s — "
              f"{-(-args.feeds // 10)} rounds of {args.latency * 1000:.0f} ms)")
    rows: list[tuple[str, str, str, bool]] = [
        (f"{args.feeds} feeds at {args.latency * 1000:.0f} ms, first fetch (fetch + parse + store)",
         f"{first['seconds']:.2f} s", f"<= {args.target:g} s", first["seconds"] <= args.target),
        ("first fetch: every feed ok, every entry stored", f"{first['outcomes']['ok']} ok, {main_run['signals']} signals",
         f"{args.feeds} ok, {entries}", first["outcomes"]["ok"] == args.feeds and main_run["signals"] == entries),
        ("second fetch: answered 304", f"{second['outcomes']['not_modified']}", f"{args.feeds}",
         second["outcomes"]["not_modified"] == args.feeds),
        ("second fetch: parser calls", f"{second['parses']}", "0", second["parses"] == 0),
    ]
    if args.json:
        import json

        print(json.dumps([{"what": w, "measured": m, "target": t, "ok": ok} for w, m, t, ok in rows]))
        return 0 if all(r[3] for r in rows) else 1
    width = max(len(r[0]) for r in rows)
    print(f"\n{'what'.ljust(width)}  {'measured':<22} {'target':<12} result")
    for what, measured, target, ok in rows:
        print(f"{what.ljust(width)}  {measured:<22} {target:<12} {'PASS' if ok else 'FAIL'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
