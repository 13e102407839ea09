"""`squad-console audit`: the activity log (Convex's `activities`), listed or exported."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta, timezone

from console.text import visible
from console.commands import EXIT_OK, EXIT_USAGE, CommandError, Context, when, with_store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="the activity log: list and export",
                       description="The audit log: every change the console and the agents made, newest first.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    ls = actions.add_parser("list", help="the latest activities", description="The latest activities, newest first.")
    ls.add_argument("--limit", type=positive_limit, default=30, help="how many (1 to 100000; default 30)")
    ls.add_argument("--kind", help="only this type (e.g. task_created, heartbeat_down)")
    ls.add_argument("--actor", help="only this actor (e.g. operator, service, veda)")
    exp = actions.add_parser("export", help="export the log as JSON lines or CSV",
                             description="Export the activity log, oldest first, to standard output.")
    exp.add_argument("--since", metavar="T", help="from this time: ISO 8601 (2026-11-20T00:00Z) or an age (24h, 7d)")
    exp.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")


MAX_AGE_S = 100 * 365 * 86400


def positive_limit(text: str) -> int:
    """`--limit`: a whole number from 1 to 100,000."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and 100000")
    return value


def parse_since(text: str | None, now: datetime) -> float | None:
    if not text:
        return None
    t = text.strip()
    units = {"m": 60, "h": 3600, "d": 86400}
    age = re.fullmatch(r"([0-9]{1,9})([mhd])", t)  # ASCII digits only: "²d" is not an age
    if age:
        seconds = int(age.group(1)) * units[age.group(2)]
        if seconds > MAX_AGE_S:
            raise CommandError(f"--since {text!r} reaches back more than 100 years",
                               hint="e.g. --since 30d, or --since with a date", code=EXIT_USAGE)
        return (now - timedelta(seconds=seconds)).timestamp() * 1000
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"--since {text!r} is neither an ISO 8601 time nor an age like 24h or 7d",
                           hint="e.g. --since 2026-11-20T00:00Z or --since 7d", code=EXIT_USAGE) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp() * 1000


def _all_since(store, since: float | None, page: int = 500):
    from console.service.audit import activities_since

    return activities_since(store, since, page)


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.action is None:
        raise CommandError("say what to do: list or export", hint="squad-console audit --help", code=EXIT_USAGE)
    if args.action == "list":
        def show(store) -> int:
            shown = 0
            for a in _all_since(store, None):
                if (args.kind and a.type != args.kind) or (args.actor and a.actor != args.actor):
                    continue
                ctx.print(f"{when(a.created_at)}  {visible(a.type):<20} {visible(a.actor or '-'):<10} {visible(a.message)}")
                shown += 1
                if shown >= args.limit:
                    break
            if not shown:
                ctx.print("(no activity" + (" matches" if args.kind or args.actor else " yet") + ")")
            return EXIT_OK
        return with_store(ctx, show)

    since = parse_since(args.since, datetime.now(timezone.utc))

    def export(store) -> int:
        from console.service.audit import write

        write(store, ctx.out, args.format, since)
        return EXIT_OK

    return with_store(ctx, export)
