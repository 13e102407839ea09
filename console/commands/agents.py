"""`squad-console agents`: the registry (list, sync from squad.toml, import from openclaw.json)."""

from __future__ import annotations

import argparse

from console.commands import EXIT_OK, CommandError, Context, table, with_store


def register(sub: argparse._SubParsersAction) -> None:
    agents = sub.add_parser("agents", help="the agent registry", description="The agent registry.")
    actions = agents.add_subparsers(dest="action", metavar="ACTION", parser_class=type(agents))
    actions.add_parser("list", help="list the agents in the store and in squad.toml",
                       description="List the agents the store holds, beside the ones squad.toml names.")
    sync = actions.add_parser("sync", help="register the agents of squad.toml in the store (idempotent)",
                              description="Register or update every agent of squad.toml in the store. "
                              "Running it twice changes nothing the second time.")
    sync.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    imp = actions.add_parser("import", help="import the squad's agents from openclaw.json into the store (idempotent)",
                             description="Register the squad's agents of OpenClaw's openclaw.json in the store, with "
                             "their workspace and, when they have a heartbeat cron job, that job's schedule. The squad "
                             "is the agents of squad.toml (OpenClaw's own `main` agent is not imported unless chosen); "
                             "--agent or --all choose others. Running it twice changes nothing the second time.")
    imp.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    imp.add_argument("--agent", metavar="ID", action="append", default=[],
                     help="import this agent of openclaw.json (repeatable), instead of squad.toml's")
    imp.add_argument("--all", action="store_true", help="import every agent of openclaw.json, `main` included")


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.action == "sync":
        return with_store(ctx, lambda store: _sync(args, ctx, store))
    if args.action == "import":
        return _import(args, ctx)
    return with_store(ctx, lambda store: _list(ctx, store))


def _list(ctx: Context, store) -> int:
    stored = {a.agent_id: a for a in store.list_agents()}
    rows = [["ID", "NAME", "ROLE", "STATUS", "HEARTBEAT", "IN"]]
    for a in ctx.settings.agents:
        s = stored.pop(a.id, None)
        rows.append([a.id, a.name, a.role, s.status if s else "-", a.heartbeat, "store+config" if s else "config"])
    for s in stored.values():
        rows.append([s.agent_id, s.name, s.role, s.status, s.heartbeat or "-", "store"])
    table(rows, ctx.out)
    return EXIT_OK


def _upsert_all(ctx: Context, store, specs, dry_run: bool) -> None:
    from console.service.agents import upsert

    for line in upsert(store, specs, dry_run=dry_run):
        ctx.print(f"  {line.words()}")


def _sync(args: argparse.Namespace, ctx: Context, store) -> int:
    from console.service.agents import squad_specs

    _upsert_all(ctx, store, squad_specs(ctx.settings), args.dry_run)
    return EXIT_OK


def _import(args: argparse.Namespace, ctx: Context) -> int:
    from console.service.openclaw.errors import OpenClawError
    from console.service.openclaw.registry import openclaw_agent_specs

    try:
        config, specs, note = openclaw_agent_specs(ctx.settings, ctx.env, only=args.agent, include_all=args.all)
    except OpenClawError as exc:
        raise CommandError(str(exc), hint=getattr(exc, "hint", None)) from None
    if note:
        ctx.warn(f"squad-console: {note}")
    ctx.print(f"{len(specs)} agents in {config.path}:")
    return with_store(ctx, lambda store: (_upsert_all(ctx, store, specs, args.dry_run), EXIT_OK)[1])
