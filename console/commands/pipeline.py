"""`squad-console pipeline`: the revenue pipeline from the shell (DESIGN §8).

    pipeline feeds add URL --competitor NAME | feeds list | feeds rm URL
    pipeline fetch [--due] [--feed URL]...       each feed's outcome on its own line
    pipeline opportunities add TITLE [--description TEXT]
    pipeline list                                 opportunities by stage, with their scores
    pipeline show ID                              signals, survey results, the criteria table
    pipeline analyse ID | advance ID | move ID STAGE
    pipeline survey import FILE --opportunity ID  CSV or JSON; all rows or none
    pipeline survey template                      the questions and the scale
    pipeline decide ID
    pipeline override ID --verdict go|no_go|more_data --reason TEXT

Every change is written to the audit log by the store, in the same transaction.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from console.commands import EXIT_FAIL, EXIT_OK, EXIT_USAGE, CommandError, Context, ago, table, when, with_store
from console.service.models import OPPORTUNITY_STAGES, VERDICTS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pipeline", help="feeds, signals, surveys and go/no-go decisions",
                       description="The revenue pipeline: competitors' feeds → signals → market score; "
                       "ORIN's survey → validation score; Cestra's criteria → go / no_go / more_data. "
                       "Rules and criteria are in squad.toml ([pipeline]).")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))

    feeds = actions.add_parser("feeds", help="the feeds watched: add, list, rm",
                               description="The competitors' RSS/Atom feeds the pipeline fetches.")
    fa = feeds.add_subparsers(dest="feeds_action", metavar="ACTION", parser_class=type(p))
    add = fa.add_parser("add", help="watch a feed", description="Watch a feed of a competitor.")
    add.add_argument("url")
    add.add_argument("--competitor", required=True, help="whose feed it is (the rules' `competitor`)")
    ls = fa.add_parser("list", help="the feeds and their health", description="The feeds, with each one's last outcome, errors and next fetch.")
    ls.add_argument("--json", action="store_true", help="one JSON document")
    rm = fa.add_parser("rm", help="stop watching a feed", description="Stop watching a feed (its signals stay).")
    rm.add_argument("url")

    fetch = actions.add_parser("fetch", help="fetch the feeds now",
                               description="Fetch the feeds (all of them, or the due ones) and store their new "
                               "signals. Each feed's outcome is printed on its own line. Exit 1 if any failed.")
    fetch.add_argument("--due", action="store_true", help="only the feeds whose next fetch is due (as the service does)")
    fetch.add_argument("--feed", metavar="URL", action="append", help="only this feed (repeatable)")
    fetch.add_argument("--json", action="store_true", help="one JSON document")

    opps = actions.add_parser("opportunities", help="add an opportunity", description="Opportunities: what the squad might build or sell.")
    oa = opps.add_subparsers(dest="opp_action", metavar="ACTION", parser_class=type(p))
    oadd = oa.add_parser("add", help="a new opportunity (stage analysis)", description="A new opportunity, at stage analysis.")
    oadd.add_argument("title")
    oadd.add_argument("--description", default="")

    lst = actions.add_parser("list", help="opportunities by stage, with scores", description="The opportunities by stage with their market and validation scores.")
    lst.add_argument("--json", action="store_true", help="one JSON document")
    show = actions.add_parser("show", help="one opportunity: signals, survey, criteria",
                              description="One opportunity: the signals behind its market score, its survey results and the criteria table.")
    show.add_argument("opportunity", metavar="ID")
    show.add_argument("--json", action="store_true", help="one JSON document")
    an = actions.add_parser("analyse", help="recompute the market score", description="Recompute an opportunity's market score from the stored signals and the [[pipeline.rules]].")
    an.add_argument("opportunity", metavar="ID")
    adv = actions.add_parser("advance", help="move to the next stage", description="analysis → validation → decision (→ decide); more_data → validation.")
    adv.add_argument("opportunity", metavar="ID")
    mv = actions.add_parser("move", help="move to a stage", description="Move an opportunity to a stage (verdicts come from decide or override).")
    mv.add_argument("opportunity", metavar="ID")
    mv.add_argument("stage", choices=[s for s in OPPORTUNITY_STAGES if s not in VERDICTS])

    survey = actions.add_parser("survey", help="ORIN's survey: import responses, show the template",
                                description="The survey template (assets/survey.template.json or [pipeline] survey_template) and its responses.")
    sa = survey.add_subparsers(dest="survey_action", metavar="ACTION", parser_class=type(p))
    imp = sa.add_parser("import", help="import responses from CSV or JSON",
                        description="Import survey responses. CSV: a header `respondent,<question ids>`, one row per "
                        "respondent. JSON: a list of {\"respondent\": ..., \"<question id>\": answer} (or \"answers\": {...}). "
                        "Every row is checked first: if any is bad, each bad row is reported with its line and NOTHING is "
                        "imported (fix the file and import it again).")
    imp.add_argument("file", type=Path)
    imp.add_argument("--opportunity", required=True, metavar="ID")
    sa.add_parser("template", help="the questions and the scale", description="Print the survey template in use.")

    dec = actions.add_parser("decide", help="apply the criteria: go / no_go / more_data",
                             description="Refresh the market score, apply [pipeline.criteria] and record the decision "
                             "with every input it used.")
    dec.add_argument("opportunity", metavar="ID")
    ov = actions.add_parser("override", help="set the verdict by hand (a reason is required)",
                            usage="%(prog)s ID --verdict {" + ",".join(VERDICTS) + "} --reason TEXT [--actor ACTOR]",
                            description="Set aside the computed verdict. A reason is required; it is audited.")
    ov.add_argument("opportunity", metavar="ID")
    ov.add_argument("--verdict", required=True, choices=VERDICTS)
    ov.add_argument("--reason", metavar="TEXT", help="why (required; refused when empty)")

    for a in (add, rm, fetch, oadd, an, adv, mv, imp, dec, ov):
        a.add_argument("--actor", default="operator", help="who did it, for the audit log (default: operator)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.action is None:
        raise CommandError("say what to do: feeds, fetch, opportunities, list, show, analyse, advance, move, survey, "
                           "decide or override", hint="squad-console pipeline --help", code=EXIT_USAGE)
    for sub, attr in (("feeds", "feeds_action"), ("opportunities", "opp_action"), ("survey", "survey_action")):
        if args.action == sub and getattr(args, attr) is None:
            raise CommandError(f"say what to do with {sub}", hint=f"squad-console pipeline {sub} --help", code=EXIT_USAGE)
    if args.action == "override" and not (args.reason or "").strip():
        raise CommandError("an override needs a reason: nothing was changed",
                           hint='add --reason "why the computed verdict is set aside"', code=EXIT_USAGE)
    from console.service.pipeline import Pipeline, PipelineError, SurveyImportError

    def go(store: Any) -> int:
        pipe = Pipeline(store, ctx.settings.pipeline)
        try:
            return _dispatch(args, ctx, pipe)
        except SurveyImportError as exc:
            for row in exc.rows:
                ctx.warn(f"  {exc.path}: {row}")
            raise CommandError(str(exc), hint=exc.hint) from None
        except PipelineError as exc:
            raise CommandError(str(exc), hint=exc.hint) from None

    return with_store(ctx, go)


def _dispatch(args: argparse.Namespace, ctx: Context, pipe: Any) -> int:
    a = args.action
    if a == "feeds":
        return {"add": _feeds_add, "list": _feeds_list, "rm": _feeds_rm}[args.feeds_action](args, ctx, pipe)
    if a == "opportunities":
        opp = pipe.create_opportunity(args.title, args.description, actor=args.actor)
        ctx.print(f"{opp.id}  {opp.stage}  {opp.title}")
        return EXIT_OK
    if a == "survey":
        return _survey_import(args, ctx, pipe) if args.survey_action == "import" else _survey_template(ctx, pipe)
    return {"fetch": _fetch, "list": _list, "show": _show, "analyse": _analyse, "advance": _advance,
            "move": _move, "decide": _decide, "override": _override}[a](args, ctx, pipe)


# ---------------------------------------------------------------- feeds
def _feeds_add(args, ctx: Context, pipe) -> int:
    feed = pipe.add_feed(args.url, args.competitor, actor=args.actor)
    ctx.print(f"{feed.id}  {feed.url}  ({feed.competitor}); fetch it with: squad-console pipeline fetch")
    return EXIT_OK


def _feeds_rm(args, ctx: Context, pipe) -> int:
    feed = pipe.remove_feed(args.url, actor=args.actor)
    ctx.print(f"removed {feed.url} ({feed.competitor}); its signals are kept")
    return EXIT_OK


def _feeds_list(args, ctx: Context, pipe) -> int:
    now = pipe.now_ms()
    health = pipe.feeds(now)
    if args.json:
        ctx.print(json.dumps([{"url": h.feed.url, "competitor": h.feed.competitor, "state": h.state,
                               "health": h.words, "errorCount": h.feed.error_count, "due": h.due,
                               "lastFetchedAt": h.feed.last_fetched_at, "nextFetchAt": h.feed.next_fetch_at,
                               "etag": h.feed.etag, "lastModified": h.feed.last_modified} for h in health], indent=2))
        return EXIT_OK
    rows = [["URL", "COMPETITOR", "STATE", "ERRORS", "FETCHED", "NEXT", "HEALTH"]]
    for h in health:
        nxt = "due" if h.due else f"in {_span(h.next_in_s or 0)}"
        rows.append([h.feed.url, h.feed.competitor, h.state, str(h.feed.error_count),
                     ago(h.feed.last_fetched_at, now), nxt, h.words[:70]])
    table(rows, ctx.out)
    if len(rows) == 1:
        ctx.print("  (no feeds yet: squad-console pipeline feeds add URL --competitor NAME)")
    return EXIT_OK


def _span(seconds: float) -> str:
    s = max(0.0, seconds)
    if s < 90:
        return f"{s:.0f}s"
    if s < 5400:
        return f"{s / 60:.0f}m"
    return f"{s / 3600:.1f}h"


def _fetch(args, ctx: Context, pipe) -> int:
    urls = args.feed
    if ctx.env.get("SQUAD_CONSOLE_DEMO") == "1":  # the demo's own feeds are stand-ins nothing answers
        from console.service.demo import STAND_IN_NOTE, without_stand_ins

        wanted = urls or [f.url for f in pipe.store.list_feeds()]
        urls = without_stand_ins(wanted)
        if len(urls) < len(wanted):
            ctx.warn(STAND_IN_NOTE)
        if not urls:
            return EXIT_OK
    report = pipe.fetch_sync(due_only=args.due, urls=urls, actor=args.actor)
    if args.json:
        ctx.print(json.dumps({"elapsedMs": round(report.elapsed_ms, 1), "parseCalls": report.parse_calls,
                              "feeds": [{"url": r.url, "outcome": r.outcome, "reason": r.reason, "status": r.status,
                                         "created": r.created, "updated": r.updated, "storeError": r.store_error,
                                         "errorCount": r.state.error_count, "nextFetchAt": r.state.next_fetch_at}
                                        for r in report.results]}, indent=2))
    else:
        for r in report.results:
            ctx.print("  " + r.line())
        ctx.print(report.summary())
    failed = [r for r in report.results if r.failed or r.store_error]
    return EXIT_FAIL if failed else EXIT_OK


# -------------------------------------------------------- opportunities
def _num(v: Any) -> str:
    return "-" if v is None else f"{v:g}"


def _list(args, ctx: Context, pipe) -> int:
    board = pipe.board()
    if args.json:
        ctx.print(json.dumps({stage: [{"id": r.id, "title": r.title, "marketScore": r.market_score,
                                       "validationScore": r.validation_score, "respondents": r.respondents,
                                       "verdict": r.verdict, "overridden": r.overridden} for r in rows]
                              for stage, rows in board}, indent=2))
        return EXIT_OK
    rows = [["ID", "STAGE", "TITLE", "MARKET", "VALIDATION", "RESPONDENTS", "VERDICT"]]
    for stage, items in board:
        for r in items:
            rows.append([r.id, stage, r.title[:50], _num(r.market_score), _num(r.validation_score),
                         str(r.respondents), (r.verdict or "-") + (" (override)" if r.overridden else "")])
    table(rows, ctx.out)
    if len(rows) == 1:
        ctx.print('  (no opportunities yet: squad-console pipeline opportunities add "...")')
    return EXIT_OK


def _show(args, ctx: Context, pipe) -> int:
    d = pipe.detail(args.opportunity)
    o = d.opportunity
    if args.json:
        ctx.print(json.dumps({"id": o.id, "title": o.title, "stage": o.stage, "description": o.description,
                              "marketScore": o.market_score, "signals": d.signals, "rules": d.rules,
                              "survey": d.survey, "criteria": d.criteria, "verdict": d.verdict, "why": d.why,
                              "decided": d.decided, "override": d.override,
                              "reproducible": list(d.reproducible) if d.reproducible else None}, indent=2))
        return EXIT_OK
    ctx.print(f"{o.id}  {o.title}  [{o.stage}]")
    if o.description:
        ctx.print(f"  {o.description}")
    from console.service.pipeline import capped, distinct_signals

    signals = distinct_signals(d.signals)
    ctx.print(f"\nMarket score: {_num(o.market_score)}" + (
        f" ({len(signals)} signal{'s' if len(signals) != 1 else ''} behind it)" if o.analysis else
        " (not analysed yet: squad-console pipeline analyse ID)"))
    if d.rules:
        rows = [["RULE", "COMPETITOR", "KEYWORDS", "WEIGHT", "MATCHED", "POINTS"]]
        for r in d.rules:
            rows.append([r["name"], r.get("competitor") or "any", ",".join(r.get("keywords") or []) or "(volume)",
                         _num(r.get("weight")), str(r.get("matched", 0)), _num(r.get("points")) + capped(r)])
        table(rows, ctx.out)
    if signals:
        ctx.print("\nSignals")
        rows = [["WHEN", "COMPETITOR", "RULES", "POINTS", "TITLE"]]
        for s in signals[:30]:
            rows.append([when(s.get("at")), s.get("competitor") or "", ",".join(s["rules"]), _num(s.get("points")),
                         (s.get("title") or "")[:60]])
        table(rows, ctx.out)
        if len(signals) > 30:
            ctx.print(f"  … and {len(signals) - 30} more (--json shows all)")
    ctx.print("\nSurvey: " + ("no responses yet (squad-console pipeline survey import FILE --opportunity ID)"
                              if not d.survey else
                              f"validation {_num(d.survey['score'])}, {d.survey['respondents']} respondents"))
    if d.survey:
        rows = [["QUESTION", "KIND", "WEIGHT", "MEAN", "ANSWERED"]]
        for q in d.survey["questions"]:
            rows.append([q["id"], q["kind"], _num(q["weight"]), _num(q["mean"]), str(q["answered"])])
        table(rows, ctx.out)
    ctx.print("\nCriteria" + ("" if d.decided else " (a preview on the current data: not decided yet)"))
    rows = [["CRITERION", "VALUE", "NEEDS", "RESULT"]]
    for c in d.criteria:
        rows.append([c["name"], _num(c["value"]), f"{c['op']} {_num(c['threshold'])}", "pass" if c["passed"] else "FAIL"])
    table(rows, ctx.out)
    ctx.print(f"\nVerdict: {d.verdict} ({d.why})" if d.decided else f"\nWould be: {d.verdict} ({d.why})")
    if d.override:
        ctx.print(f"  overridden to {d.override['verdict']} by {d.override.get('by')} at {when(d.override.get('at'))}: "
                  f"{d.override['reason']} (computed: {d.override.get('computedVerdict')})")
    if d.reproducible is not None:
        ctx.print(f"  {'reproducible' if d.reproducible[0] else 'NOT reproducible'}: {d.reproducible[1]}")
    return EXIT_OK


def _analyse(args, ctx: Context, pipe) -> int:
    from console.service.pipeline import distinct_signals

    o = pipe.analyse(args.opportunity, actor=args.actor)
    n = len(distinct_signals((o.analysis or {}).get("signals") or []))
    ctx.print(f"{o.id}  market score {_num(o.market_score)} from {n} signal{'s' if n != 1 else ''}  {o.title}")
    return EXIT_OK


def _advance(args, ctx: Context, pipe) -> int:
    o = pipe.advance(args.opportunity, actor=args.actor)
    ctx.print(f"{o.id}  {o.stage}  {o.title}")
    return EXIT_OK


def _move(args, ctx: Context, pipe) -> int:
    o = pipe.move(args.opportunity, args.stage, actor=args.actor)
    ctx.print(f"{o.id}  {o.stage}  {o.title}")
    return EXIT_OK


# ---------------------------------------------------------------- survey
def _survey_import(args, ctx: Context, pipe) -> int:
    result = pipe.import_survey(args.opportunity, args.file, actor=args.actor)
    o = result.opportunity
    ctx.print(f"{o.id}  imported {result.added} response{'s' if result.added != 1 else ''}: "
              f"{result.respondents} respondents, validation {_num(result.score)}  {o.title}")
    return EXIT_OK


def _survey_template(ctx: Context, pipe) -> int:
    t = pipe.template()
    ctx.print(f"{t.title} ({t.id} v{t.version}) · {pipe.settings.survey_template}")
    ctx.print(f"scale {t.scale_min:g} ({t.min_label or 'low'}) to {t.scale_max:g} ({t.max_label or 'high'})")
    rows = [["ID", "KIND", "WEIGHT", "REQUIRED", "QUESTION"]]
    for q in t.questions:
        rows.append([q.id, q.kind, f"{q.weight:g}", "yes" if q.required else "no", q.text])
    table(rows, ctx.out)
    ctx.print("CSV header: respondent," + ",".join(q.id for q in t.questions))
    return EXIT_OK


# -------------------------------------------------------------- decision
def _decide(args, ctx: Context, pipe) -> int:
    o = pipe.decide(args.opportunity, actor=args.actor)
    d = o.decision or {}
    computed = d.get("computed") or {}
    ctx.print(f"{o.id}  {d.get('verdict')}  {o.title}  ({computed.get('why')})")
    for c in computed.get("criteria") or []:
        ctx.print(f"  {'pass' if c['passed'] else 'FAIL'}  {c['name']}: {_num(c['value'])} {c['op']} {_num(c['threshold'])}")
    return EXIT_OK


def _override(args, ctx: Context, pipe) -> int:
    o = pipe.override(args.opportunity, args.verdict, args.reason, actor=args.actor)
    ov = (o.decision or {}).get("override") or {}
    ctx.print(f"{o.id}  {o.stage} (overridden; computed {ov.get('computedVerdict')})  {o.title}: {ov.get('reason')}")
    return EXIT_OK


