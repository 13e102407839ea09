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
from console.screens.tasks import TaskForm
from widgets.tables import SyncedTable
from widgets.format import safe

VERDICT_STYLE = {"go": "bold green", "no_go": "bold red", "more_data": "bold yellow"}


def _score(x) -> str:
    return "-" if x is None else f"{x:.0f}"


class OpportunityDetail(ModalScreen):
    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="opportunity.close")]

    def __init__(self, detail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        d = self.detail
        o = d.opportunity
        t = Text()
        t.append(f"{o.title}  ", style="bold")
        t.append(f"({o.stage}, {o.id})\n")
        if d.verdict:
            t.append("verdict: ")
            t.append(d.verdict.upper(), style=VERDICT_STYLE.get(d.verdict, ""))
            t.append(f"  {'recorded' if d.decided else 'preview on the current data'} — {d.why}\n")
        if d.override:
            t.append(f"override by {d.override.get('by')}: {d.override.get('reason')} "
                     f"(computed: {d.override.get('computedVerdict')})\n", style="yellow")
        if d.reproducible is not None:
            ok, words = d.reproducible
            t.append(("✓ " if ok else "✗ ") + words + "\n", style="green" if ok else "red")
        t.append("\nCriteria\n", style="bold")
        for row in d.criteria:
            mark = ("✓", "green") if row.get("passed") else ("✗", "red")
            value = row.get("value")
            t.append(f"  {mark[0]} ", style=mark[1])
            t.append(f"{row['name']}: {'-' if value is None else f'{value:g}'} {row.get('op', '')} {row.get('threshold')}\n")
        t.append(f"\nMarket score {_score(o.market_score)}", style="bold")
        t.append(f" from {len(d.signals)} signal(s)\n")
        for r in d.rules[:8]:
            t.append(f"  rule {r.get('competitor') or r.get('name') or ''}: {r}\n", style="dim")
        for s in d.signals[:12]:
            t.append(f"  · {s.get('competitor', '')}: {s.get('title', '')}\n")
        if d.survey:
            t.append(f"\nSurvey: score {_score(d.survey.get('score'))}, {d.survey.get('respondents')} respondent(s)\n",
                     style="bold")
            for q in d.survey.get("questions") or []:
                mean = q.get("mean")
                t.append(f"  {q.get('id')}: mean {'-' if mean is None else f'{mean:.2f}'} ({q.get('answers', '')} answers)\n")
        else:
            t.append("\nSurvey: no response yet (s on the Pipeline screen, or `pipeline survey import`)\n", style="dim")
        t.append("\nesc to close", style="dim")
        with VerticalScroll(id="detail"):
            yield Static(safe(t, multiline=True))


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
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("Opportunities", classes="section-title")
        yield SyncedTable(id="opportunities")
        yield Static("Feeds", classes="section-title")
        yield SyncedTable(id="feeds")

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
        def go() -> str:
            return self.pipeline().fetch_sync(actor="operator").summary()

        self.app.notify("fetching the feeds…", timeout=2)
        self._act("Fetch", go)

    def action_new(self) -> None:
        def created(values) -> None:
            if values:
                self._act("New opportunity", lambda: f"created: {self.pipeline().create_opportunity(values['title'], values.get('description', '')).title}")

        self.app.push_screen(TaskForm("New opportunity", [("title", "Title", ""), ("description", "Description", "")]),
                             created)

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
        key = self._selected()
        if not key:
            return

        def given(values) -> None:
            if values is None:
                return
            verdict, reason = values.get("verdict", "").strip().lower(), values.get("reason", "").strip()
            self._act("Override", lambda: (lambda o: f"{o.title}: {verdict} (override)")(
                self.pipeline().override(key, verdict, reason)))

        self.app.push_screen(TaskForm("Override the verdict (a reason is required)",
                                      [("verdict", "Verdict: go, no_go or more_data", ""),
                                       ("reason", "Reason (audited)", "")]), given)

    def action_survey(self) -> None:
        key = self._selected()
        if not key:
            return
        try:
            template = self.pipeline().template()
        except Exception as exc:  # a bad template file: say so, never crash the screen
            self.app.notify(str(exc), title="Survey", severity="error", timeout=8)
            return
        fields = [("respondent", "Respondent (a name or id)", "")]
        for q in template.questions:
            hint = f"{template.scale_min:g}-{template.scale_max:g}" if q.kind == "scale" else q.kind.replace("_", "/")
            fields.append((q.id, f"{q.text} ({hint}{'' if q.required else ', optional'})", ""))

        def given(values) -> None:
            if values is None:
                return
            respondent = values.pop("respondent", "")
            answers = {k: v for k, v in values.items() if v != ""}
            self._act("Survey", lambda: (lambda r: f"{r.respondents} respondent(s), score {_score(r.score)}")(
                self.pipeline().add_response(key, respondent, answers)))

        self.app.push_screen(TaskForm(f"Survey answer: {template.title}", fields), given)

    def action_detail(self) -> None:
        key = self.query_one("#opportunities", SyncedTable).selected_key()
        if key:
            self._open_detail(key)

    @work(thread=True, exclusive=True, group="pipeline-detail", exit_on_error=False)
    def _open_detail(self, key: str) -> None:
        try:
            detail = self.pipeline().detail(key)
        except Exception as exc:  # noqa: BLE001 - shown, not raised
            self.app.call_from_thread(self.app.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self.app.push_screen, OpportunityDetail(detail))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "opportunities":
            self.action_detail()
