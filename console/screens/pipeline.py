"""Pipeline: VEDA's feeds → signals → opportunities by stage with their scores, ORIN's survey,
Cestra's go/no-go with each criterion's pass or fail. Keys to fetch, advance, decide and override
(an override needs a reason), enter a survey response, and per-feed health. The board and the feeds
come with each poll (the view); the actions call the pipeline service, then ask for a poll."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from console.screens.base import ConsoleScreen
from console.screens.form import Field, FieldError, Form
from widgets.tables import SyncedTable
from widgets.format import columns, reflow, safe

VERDICT_STYLE = {"go": "bold green", "no_go": "bold red", "more_data": "bold yellow"}


def _score(x) -> str:
    return "-" if x is None else f"{x:.0f}"


def _num(x) -> str:
    return "-" if x is None else f"{x:g}"


_columns = columns  # as `pipeline show` prints its tables (widgets/format)


def detail_text(d, width: int | None = None) -> Text:
    """One opportunity as `squad-console pipeline show` prints it: market score and the rules, the
    signals behind it (each once), the survey, the criteria table, the verdict. With a `width` (the
    modal's), tables too wide become one record per row and long lines wrap with a hanging indent."""
    from console.service.pipeline import capped, distinct_signals

    o = d.opportunity
    t = Text()
    t.append(f"{o.title}", style="bold")
    t.append(f"  ({o.stage}, {o.id})\n")
    if o.description:
        t.append(f"{o.description}\n", style="dim")
    signals = distinct_signals(d.signals)
    t.append(f"\nMarket score {_score(o.market_score)}", style="bold")
    t.append(f" from {len(signals)} signal{'s' if len(signals) != 1 else ''}\n" if o.analysis else
             " (not analysed yet: it is, when the feeds are fetched or at decide)\n")
    if d.rules:
        rows = [["RULE", "COMPETITOR", "KEYWORDS", "WEIGHT", "MATCHED", "POINTS"]]
        for r in d.rules:
            rows.append([str(r.get("name") or ""), r.get("competitor") or "any",
                         ",".join(r.get("keywords") or []) or "(volume)", _num(r.get("weight")),
                         str(r.get("matched", 0)), _num(r.get("points")) + capped(r)])
        lines = _columns(rows, width=width)
        for i, line in enumerate(lines):
            t.append(line + "\n", style="dim" if i == 0 and len(lines) == len(rows) else "")
    elif o.analysis:
        t.append("  no [[pipeline.rules]] in squad.toml: the market score stays 0 (docs/PIPELINE.md)\n", style="yellow")
    for s in signals[:12]:
        t.append(f"  · {s.get('competitor') or '-'}: {s.get('title') or ''}", style="")
        t.append(f"  ({', '.join(s['rules'])}, {_num(s.get('points'))} {'point' if s.get('points') == 1 else 'points'})\n", style="dim")
    if len(signals) > 12:
        t.append(f"  … and {len(signals) - 12} more (squad-console pipeline show {o.id})\n", style="dim")
    if d.survey:
        t.append(f"\nSurvey: validation {_score(d.survey.get('score'))}, {d.survey.get('respondents')} "
                 f"respondent{'s' if d.survey.get('respondents') != 1 else ''}\n", style="bold")
        rows = [["QUESTION", "KIND", "WEIGHT", "MEAN", "ANSWERED"]]
        for q in d.survey.get("questions") or []:
            mean = q.get("mean")
            rows.append([str(q.get("id")), str(q.get("kind") or ""), _num(q.get("weight")),
                         "-" if mean is None else f"{mean:.2f}", str(q.get("answered", 0))])
        lines = _columns(rows, width=width)
        for i, line in enumerate(lines):
            t.append(line + "\n", style="dim" if i == 0 and len(lines) == len(rows) else "")
    else:
        t.append("\nSurvey: no response yet (s on the Pipeline screen, or `pipeline survey import`)\n", style="dim")
    t.append("\nCriteria" + ("" if d.decided else " (a preview on the current data: not decided yet)") + "\n",
             style="bold")
    rows = [["CRITERION", "VALUE", "NEEDS", "RESULT"]]
    for c in d.criteria:
        rows.append([str(c.get("name")), _num(c.get("value")), f"{c.get('op', '')} {_num(c.get('threshold'))}",
                     "pass" if c.get("passed") else "FAIL"])
    lines = _columns(rows, width=width)
    for i, line in enumerate(lines):
        style = "dim" if i == 0 and len(lines) == len(rows) else ("green" if line.rstrip().endswith("pass") else "red")
        t.append(line + "\n", style=style)
    if d.verdict:
        t.append("\nVerdict: " if d.decided else "\nWould be: ")
        t.append(d.verdict.upper(), style=VERDICT_STYLE.get(d.verdict, ""))
        t.append(f" ({d.why})\n")
    if d.override:
        t.append(f"  overridden to {d.override.get('verdict')} by {d.override.get('by')}: {d.override.get('reason')} "
                 f"(computed: {d.override.get('computedVerdict')})\n", style="yellow")
    if d.reproducible is not None:
        ok, words = d.reproducible
        t.append(f"  {'reproducible' if ok else 'NOT reproducible'}: {words}\n", style="green" if ok else "red")
    t.append("\nesc to close", style="dim")
    return reflow(t, width)


class OpportunityDetail(ModalScreen):
    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="opportunity.close")]

    def __init__(self, detail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(safe(detail_text(self.detail), multiline=True), id="opportunity-text")

    def on_resize(self, event) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Drawn again for the width the modal has (60 or 80 columns), tables kept whole."""
        text = self.query_one("#opportunity-text", Static)
        width = self.query_one("#detail").scrollable_content_region.width - 2  # room for the scrollbar
        if width > 0 and width != getattr(self, "_width", None):
            self._width = width
            text.update(safe(detail_text(self.detail, width), multiline=True))


OPPORTUNITY_ACTIONS = {"detail", "new", "advance", "decide", "override", "survey"}
FEED_ACTIONS = {"feed_add", "feed_remove"}


class PipelineScreen(ConsoleScreen):
    TITLE = "Pipeline"
    BINDINGS = [
        Binding("enter", "detail", "Detail", id="pipeline.detail"),
        Binding("f", "fetch", "Fetch feeds", id="pipeline.fetch"),
        Binding("n", "new", "New", id="pipeline.new"),
        Binding("a", "advance", "Advance", id="pipeline.advance"),
        Binding("d", "decide", "Decide", id="pipeline.decide"),
        Binding("o", "override", "Override", id="pipeline.override"),
        Binding("s", "survey", "Survey answer", id="pipeline.survey"),
        Binding("n", "feed_add", "Add feed", id="pipeline.feed_add"),
        Binding("x", "feed_remove", "Remove feed", id="pipeline.feed_remove"),
        Binding("tab", "switch", "Opportunities/feeds", id="pipeline.switch", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("Opportunities", classes="section-title")
        yield SyncedTable(id="opportunities", flex="title", minimum={"stage": 8, "title": 16, "verdict": 5})
        yield Static("Feeds (tab: here; n adds, x removes, f fetches)", classes="section-title", id="feeds-title")
        yield SyncedTable(id="feeds", flex="url", minimum={"competitor": 8, "state": 6, "words": 12, "url": 16})
        yield Static("", id="pipeline-note")

    def on_mount(self) -> None:
        o = self.query_one("#opportunities", SyncedTable)
        for label, key in (("stage", "stage"), ("opportunity", "title"), ("market", "market"),
                           ("validation", "validation"), ("verdict", "verdict")):
            o.add_column(label, key=key)
        f = self.query_one("#feeds", SyncedTable)
        for label, key in (("competitor", "competitor"), ("state", "state"), ("last outcome", "words"),
                           ("next", "next"), ("feed", "url")):
            f.add_column(label, key=key)
        super().on_mount()
        o.focus()

    def _feeds_focused(self) -> bool:
        return self.focused is not None and self.focused.id == "feeds"

    def check_action(self, action: str, parameters) -> bool | None:
        """The opportunities' keys while they have focus, the feeds' keys while the feeds have it
        (n adds an opportunity or a feed)."""
        if action == self.forced_action:
            return True
        if action in FEED_ACTIONS:
            return self._feeds_focused()
        if action in OPPORTUNITY_ACTIONS:
            return not self._feeds_focused()
        return True

    def on_descendant_focus(self, event) -> None:
        self.refresh_bindings()

    def action_switch(self) -> None:
        target = "#opportunities" if self._feeds_focused() else "#feeds"
        self.query_one(target, SyncedTable).focus()

    def pipeline(self):
        from console.service.pipeline import pipeline_for

        return pipeline_for(self.app.store, self.app.settings)

    def draw(self, view) -> None:
        rows = {}
        for stage, items in view.board:
            for r in items:
                if not self.matches(r.title, stage, r.verdict or ""):
                    continue
                verdict = Text(r.verdict.upper() if r.verdict else "-", style=VERDICT_STYLE.get(r.verdict or "", "dim"))
                if r.overridden:
                    verdict.append(" (override)", style="yellow")
                rows[r.id] = (stage, r.title, _score(r.market_score),
                              f"{_score(r.validation_score)} ({r.respondents})", verdict)
        self.query_one("#opportunities", SyncedTable).sync(rows)
        feeds = {}
        for h in view.feeds:
            style = {"ok": "green", "not_modified": "green", "degraded": "yellow", "failed": "red"}.get(h.state, "dim")
            nxt = "-" if h.next_in_s is None else ("due" if h.next_in_s <= 0 else f"in {h.next_in_s / 60:.0f} min")
            if h.backing_off:
                nxt += " (backing off)"
            if self.matches(h.feed.competitor, h.feed.url, h.state, h.words):
                feeds[h.feed.url] = (h.feed.competitor, Text(h.state, style=style), h.words, nxt, h.feed.url)
        self.query_one("#feeds", SyncedTable).sync(feeds)
        note = self.query_one("#pipeline-note", Static)
        if not rows and not feeds and not self.filter_text:
            note.update(Text("Nothing in the pipeline yet: tab then n watches a competitor's feed, n here adds an "
                             "opportunity. docs/PIPELINE.md walks through feeds → signals → survey → decision.",
                             style="dim"))
            note.display = True
        else:
            note.display = False

    # ----------------------------------------------------------------- actions
    def _selected(self) -> str | None:
        key = self.query_one("#opportunities", SyncedTable).selected_key()
        if key is None:
            self.app.notify("no opportunity selected (n creates one)", severity="warning", timeout=3)
        return key

    @work(thread=True, exclusive=False, group="pipeline-act", exit_on_error=False)
    def _act(self, what: str, fn) -> None:
        from console.service.pipeline import PipelineError
        from console.service.store import StoreError

        try:
            words = fn()
        except (StoreError, PipelineError) as exc:
            self.app.call_from_thread(self.app.notify, exc.describe(), title=f"{what}: not done", severity="error",
                                      timeout=8)
            return
        self.app.call_from_thread(self.app.notify, words, title=what, timeout=4)
        self.app.call_from_thread(self.app.poll_now)

    def action_fetch(self) -> None:
        if getattr(self.app, "_demo_story", None) is not None:  # the demo: its own feeds are stand-ins
            from console.service.demo import STAND_IN_NOTE, without_stand_ins

            urls = without_stand_ins([h.feed.url for h in (self.view.feeds if self.view else ())])
            if not urls:
                self.app.notify(STAND_IN_NOTE[0].upper() + STAND_IN_NOTE[1:] + " (tab, then n).", title="Fetch",
                                timeout=8)
                return

            def go() -> str:
                return self.pipeline().fetch_sync(actor="operator", urls=urls).summary() + " (the demo's own feeds skipped)"
        else:
            def go() -> str:
                return self.pipeline().fetch_sync(actor="operator").summary()

        self.app.notify("fetching the feeds…", timeout=2)
        self._act("Fetch", go)

    def action_new(self) -> None:
        def submit(values) -> str:
            o = self.pipeline().create_opportunity(values["title"], values.get("description", ""))
            return f"created: {o.title} (stage analysis)"

        self.app.push_screen(Form("New opportunity", [Field("title", "Title", required="an opportunity needs a title"),
                                                      Field("description", "Description")], submit=submit))

    def action_advance(self) -> None:
        key = self._selected()
        if key:
            self._act("Advance", lambda: (lambda o: f"{o.title} → {o.stage}")(self.pipeline().advance(key)))

    def action_decide(self) -> None:
        key = self._selected()
        if key:
            self._act("Decide", lambda: (lambda o: f"{o.title}: {(o.decision or {}).get('verdict', o.stage)}")(
                self.pipeline().decide(key)))

    def action_override(self) -> None:
        from console.service.models import VERDICTS

        key = self._selected()
        if not key:
            return

        def submit(values) -> str:
            verdict = values["verdict"]
            if not verdict:
                raise FieldError("verdict", "pick a verdict (space ticks one)")
            if len(verdict) > 1:
                raise FieldError("verdict", "pick one verdict, not " + " and ".join(verdict))
            if not values["reason"]:
                raise FieldError("reason", "an override needs a reason (it is audited)")
            o = self.pipeline().override(key, verdict[0], values["reason"])
            return f"{o.title}: {verdict[0]} (override)"

        self.app.push_screen(Form("Override the verdict", [
            Field("verdict", "Verdict", choices=[(v, v) for v in VERDICTS]),
            Field("reason", "Reason (required, audited)"),
        ], submit=submit))

    def action_survey(self) -> None:
        key = self._selected()
        if not key:
            return
        try:
            template = self.pipeline().template()
        except Exception as exc:  # a bad template file: say so, never crash the screen
            self.app.notify(getattr(exc, "message", None) or str(exc), title="Survey", severity="error", timeout=8)
            return
        fields = [Field("respondent", "Respondent (a name or id)", required="say who answered")]
        for q in template.questions:
            hint = f"{template.scale_min:g}-{template.scale_max:g}" if q.kind == "scale" else q.kind.replace("_", "/")
            fields.append(Field(q.id, f"{q.text} ({hint}{'' if q.required else ', optional'})"))

        def submit(values) -> str:
            respondent = values.pop("respondent", "")
            answers = {k: v for k, v in values.items() if v != ""}
            r = self.pipeline().add_response(key, respondent, answers)
            return f"{r.respondents} respondent(s), score {_score(r.score)}"

        self.app.push_screen(Form(f"Survey answer: {template.title}", fields, submit=submit))

    def action_feed_add(self) -> None:
        self.query_one("#feeds", SyncedTable).focus()

        def submit(values) -> str:
            feed = self.pipeline().add_feed(values["url"], values["competitor"])
            return f"watching {feed.url} ({feed.competitor}): f fetches it now"

        self.app.push_screen(Form("Watch a feed", [
            Field("url", "Feed URL (RSS or Atom)", required="a feed needs its URL", placeholder="https://…/feed.xml"),
            Field("competitor", "Competitor (whose feed it is; the rules' `competitor`)",
                  required="say whose feed it is"),
        ], submit=submit))

    def action_feed_remove(self) -> None:
        url = self.query_one("#feeds", SyncedTable).selected_key()
        if url is None:
            self.app.notify("no feed selected (tab to the feeds, n adds one)", severity="warning", timeout=3)
            return

        def submit(values) -> str:
            if values.get("confirm", "").lower() != "yes":
                raise FieldError("confirm", "type yes to stop watching it (esc keeps it)")
            feed = self.pipeline().remove_feed(url)
            return f"stopped watching {feed.url} (its signals stay)"

        self.app.push_screen(Form(f"Stop watching {url}", [
            Field("confirm", 'Type "yes" to stop watching it (audited; its signals stay)')], submit=submit))

    def action_detail(self) -> None:
        key = self.query_one("#opportunities", SyncedTable).selected_key()
        if key:
            self._open_detail(key)

    @work(thread=True, exclusive=True, group="pipeline-detail", exit_on_error=False)
    def _open_detail(self, key: str) -> None:
        try:
            detail = self.pipeline().detail(key)
        except Exception as exc:  # noqa: BLE001 - shown, not raised
            self.app.call_from_thread(self.app.notify, getattr(exc, "message", None) or str(exc), severity="error")
            return
        self.app.call_from_thread(self.app.push_screen, OpportunityDetail(detail))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "opportunities":
            self.action_detail()
