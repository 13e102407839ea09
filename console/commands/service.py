"""`squad-console service`: the long-running collector daemon (see console/service/daemon.py)."""

from __future__ import annotations

import argparse

from console.commands import EXIT_OK, Context


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("service", help="the long-running collector daemon (systemd: assets/squad-console.service)",
                       description="Run the collector: OpenClaw runs → heartbeats, gateway and WhatsApp probes, "
                       "status flips, and delivery of the outbox. JSON logs on stderr; SIGTERM stops it cleanly.")
    p.add_argument("--once", action="store_true", help="run every job once, then exit (for cron or a check)")
    p.add_argument("--collect-every", metavar="S", type=float, default=60.0, help="seconds between collections (60)")
    p.add_argument("--probe-every", metavar="S", type=float, default=60.0, help="seconds between gateway probes (60)")
    p.add_argument("--evaluate-every", metavar="S", type=float, default=60.0, help="seconds between status evaluations (60)")
    p.add_argument("--flush-every", metavar="S", type=float, default=10.0, help="seconds between outbox deliveries (10)")
    p.add_argument("--verbose", action="store_true", help="log every job run too")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import logging

    from console.service.daemon import Daemon, Intervals, configure_logging
    from console.service.store.outbox import Outbox
    from console.service.wiring import open_store

    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    store = open_store(ctx.settings.store)
    outbox = Outbox(ctx.settings.store.outbox_path())
    daemon = Daemon(
        ctx.settings,
        store,
        outbox,
        intervals=Intervals(args.collect_every, args.probe_every, args.evaluate_every, args.flush_every),
        env=ctx.env,
    )
    try:
        if args.once:
            daemon.run_once()
            return EXIT_OK
        return daemon.run()
    finally:
        outbox.close()
        store.close()
