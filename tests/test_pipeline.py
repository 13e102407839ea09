"""The pipeline's pure parts (market score, survey scoring, the go/no-go criteria), the survey
import (every bad row with its line, nothing stored), decisions replayed from their stored inputs,
overrides (refused without a reason, audited), and the `pipeline` CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from console.cli import main
from console.config import PipelineCriteria, PipelineRule, PipelineSettings, load_settings
from console.service.store.sqlite import LocalStore
from console.service.models import FeedState, Signal, SignalIn
from console.service.pipeline import (
    Pipeline,
    PipelineError,
    SurveyImportError,
    check_response,
    criteria_dict,
    evaluate,
    load_template,
    market_analysis,
    read_rows,
    replay_analysis,
    survey_scores,
    template_from_dict,
    verify_decision,
)
from console.service.store import StoreFunctionError

ROOT = Path(__file__).resolve().parent.parent
DAY = 86_400_000.0
NOW = 1_760_000_000_000.0


def signal(i: int, title: str, competitor: str = "acme", days_ago: float = 1, summary: str | None = None) -> Signal:
    return Signal(id=f"s{i}", feed_url=f"https://{competitor}.example/rss", entry_key=f"k{i}", title=title,
                  competitor=competitor, summary=summary, published_at=NOW - days_ago * DAY)


SIGNALS = [
    signal(1, "Acme changes its pricing"),
    signal(2, "New PRICE plans at Acme", days_ago=2),
    signal(3, "Acme pricing-page redesign", days_ago=40),  # outside a 30-day window
    signal(4, "Acme hires a CFO", summary="also a new plan for enterprise"),
    signal(5, "Beta pricing update", competitor="beta"),
    signal(6, "Acme priceless moments"),  # "price" is not a whole word here
]


# ------------------------------------------------------------ market analysis
def test_market_score_with_the_signals_behind_it() -> None:
    rules = [PipelineRule("pricing", ("pricing", "price", "plan"), competitor="acme", weight=2.0, window=30 * 86400)]
    a = market_analysis("Self-serve tier", SIGNALS, rules, now_ms=NOW, scale=10)
    assert [s["entryKey"] for s in a["signals"]] == ["k1", "k4", "k2"]  # newest first; k3 too old, k5 beta, k6 no word
    assert a["signals"][1]["matched"] == ["plan"] and a["signals"][2]["matched"] == ["price"]  # "plans" is not the word "plan"
    assert a["points"] == 6.0 and a["score"] == 60.0
    assert a["rules"][0]["matched"] == 3 and a["rules"][0]["points"] == 6.0
    assert replay_analysis(a, "Self-serve tier")["score"] == a["score"]


def test_caps_volume_rules_negative_weights_and_opportunity_filters() -> None:
    rules = [
        PipelineRule("volume", (), weight=0.5, window=30 * 86400, cap=1.0),  # every signal, at most 1 point
        PipelineRule("beta moves", ("pricing",), competitor="beta", weight=-3.0, window=30 * 86400),
        PipelineRule("only enterprise", ("plan",), weight=5.0, window=30 * 86400, opportunity="enterprise"),
    ]
    a = market_analysis("Self-serve tier", SIGNALS, rules, now_ms=NOW, scale=10)
    assert [r["name"] for r in a["rules"]] == ["volume", "beta moves"]  # the third does not apply to this title
    assert a["rules"][0]["points"] == 1.0 and a["rules"][0]["matched"] == 5
    assert a["points"] == -2.0 and a["score"] == 0.0  # clamped to 0-100
    assert len([s for s in a["signals"] if s["rule"] == "volume"]) == 2  # only the ones that scored are kept
    b = market_analysis("Enterprise plan", SIGNALS, rules, now_ms=NOW, scale=1)
    assert b["score"] == 100.0
    for title in ("Self-serve tier", "Enterprise plan"):
        again = replay_analysis(market_analysis(title, SIGNALS, rules, now_ms=NOW, scale=10), title)
        assert again["score"] == market_analysis(title, SIGNALS, rules, now_ms=NOW, scale=10)["score"]


# --------------------------------------------------------------------- survey
TEMPLATE = load_template(ROOT / "assets" / "survey.template.json")


def response(who: str, pain=5, frequency=4, urgency=4, would_pay=4, **kw) -> dict:
    return {"respondent": who, "pain": pain, "frequency": frequency, "urgency": urgency, "would_pay": would_pay, **kw}


def test_the_bundled_template_and_scoring() -> None:
    assert [q.id for q in TEMPLATE.questions] == ["pain", "frequency", "urgency", "would_pay", "has_budget", "comments"]
    r1, p1 = check_response(TEMPLATE, response("r1", has_budget="yes", comments="love it"))
    r2, p2 = check_response(TEMPLATE, response("r2", pain=1, frequency=1, urgency=1, would_pay=1, has_budget="no"))
    assert p1 == p2 == []
    s = survey_scores(TEMPLATE, [r1, r2])
    # pain (5,1)→0.5 w3; frequency (4,1)→0.375 w1; urgency (4,1)→0.375 w2; would_pay (4,1)→0.375 w3; budget 0.5 w1
    assert s["score"] == round(100 * (3 * 0.5 + 0.375 + 2 * 0.375 + 3 * 0.375 + 0.5) / 10, 1)
    assert s["respondents"] == 2
    assert {q["id"]: q["mean"] for q in s["questions"]}["would_pay"] == 2.5


def test_a_bad_response_says_what_is_wrong() -> None:
    _, problems = check_response(TEMPLATE, {"respondent": "", "pain": "7", "frequency": "often", "urgency": 3,
                                            "has_budget": "maybe", "colour": "blue"})
    text = "; ".join(problems)
    for words in ("respondent is missing", "unknown question colour", "pain: '7' is not a number from 1 to 5",
                  "frequency: 'often'", "would_pay: missing (required)", "has_budget: 'maybe' is not yes or no"):
        assert words in text
    with pytest.raises(PipelineError, match="no question is scored"):
        template_from_dict({"scale": {"min": 1, "max": 5}, "questions": [{"id": "c", "kind": "text"}]})


def test_csv_and_json_rows_carry_their_lines(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text('respondent,pain,frequency,urgency,would_pay,comments\nr1,5,4,4,4,"multi\nline"\n\nr2,3,3,3\n')
    rows = read_rows(f)
    assert [(line, type(v).__name__) for line, v in rows] == [(2, "dict"), (5, "ValueError")]
    j = tmp_path / "r.json"
    j.write_text('[\n  {"respondent": "r1", "pain": 5},\n\n  {"respondent": "r2",\n   "pain": 4}\n]\n')
    assert [line for line, _ in read_rows(j)] == [2, 4]
    j.write_text('[\n {"respondent": "r1"},\n {"respondent": oops}\n]')
    with pytest.raises(PipelineError, match=r"r.json:3: not valid JSON"):
        read_rows(j)
    j.write_text('{"respondent": "r1"}')
    with pytest.raises(PipelineError, match="a list of responses"):
        read_rows(j)
    e = tmp_path / "e.csv"
    e.write_text("name,pain\n")
    with pytest.raises(PipelineError, match="needs a respondent column"):
        read_rows(e)


# ------------------------------------------------------------------- criteria
CRIT = criteria_dict(PipelineCriteria(version="v7", min_market_score=60, min_validation_score=60, min_respondents=3,
                                      more_data_margin=10, must_have=(("would_pay", 3.5),)))


def survey(score: float | None, n: int, would_pay: float | None = 4.0) -> dict:
    return {"score": score, "respondents": n, "questions": [{"id": "would_pay", "mean": would_pay}]}


@pytest.mark.parametrize("market,surv,verdict,why", [
    (70, survey(75, 5), "go", "every criterion passes"),
    (70, survey(75, 2), "more_data", "2 respondents of 3 needed"),
    (70, None, "more_data", "no validation score"),
    (None, survey(75, 5), "more_data", "no market score"),
    (55, survey(75, 5), "more_data", "close to the line: market score 55 < 60"),
    (30, survey(75, 5), "no_go", "below the line: market score 30 < 60"),
    (70, survey(75, 5, would_pay=2.0), "no_go", "a must-have fails: would_pay"),
    (70, survey(75, 5, would_pay=None), "no_go", "a must-have fails: would_pay"),
])
def test_criteria_give_a_verdict_with_every_row(market, surv, verdict, why) -> None:
    out = evaluate(market, surv, CRIT)
    assert out["verdict"] == verdict and why in out["why"]
    assert [r["name"] for r in out["criteria"]] == ["respondents", "market score", "validation score",
                                                    "must have: would_pay"]
    assert all({"value", "threshold", "op", "passed"} <= set(r) for r in out["criteria"])


def test_the_criteria_hash_changes_with_any_value() -> None:
    a = criteria_dict(PipelineCriteria())
    assert a["hash"] == criteria_dict(PipelineCriteria())["hash"]
    assert a["hash"] != criteria_dict(PipelineCriteria(min_respondents=6))["hash"]


# ------------------------------------------------------- the service, stored
SETTINGS = PipelineSettings(
    rules=(PipelineRule("pricing", ("pricing", "price"), competitor="acme", weight=2.0, window=30 * 86400),),
    score_scale=4,
    criteria=PipelineCriteria(version="v1", min_market_score=60, min_validation_score=60, min_respondents=3,
                              must_have=(("would_pay", 3.5),)),
)


@pytest.fixture
def pipe(tmp_path: Path) -> Pipeline:
    store = LocalStore(tmp_path / "p.db", clock=lambda: NOW)
    store.add_feed("https://acme.example/rss", "acme")
    store.record_fetch("https://acme.example/rss", FeedState(outcome="ok"), [
        SignalIn("https://acme.example/rss", f"k{i}", t, "acme", published_at=NOW - DAY)
        for i, t in enumerate(["Acme pricing change", "Acme price cut", "Acme hires"])])
    p = Pipeline(store, SETTINGS, clock=lambda: NOW / 1000)
    yield p
    store.close()


def test_decide_records_its_inputs_and_replays(pipe: Pipeline, tmp_path: Path) -> None:
    opp = pipe.create_opportunity("Self-serve tier")
    assert pipe.advance(opp.id).stage == "validation"  # leaving analysis computes the market score
    assert pipe.store.get_opportunity(opp.id).market_score == 100.0
    f = tmp_path / "answers.csv"
    f.write_text("respondent,pain,frequency,urgency,would_pay\n" + "".join(f"r{i},5,4,4,4\n" for i in range(3)))
    result = pipe.import_survey(opp.id, f)
    assert (result.added, result.respondents) == (3, 3)
    assert pipe.advance(opp.id).stage == "decision"
    decided = pipe.advance(opp.id)  # from decision, advancing decides
    d = decided.decision
    assert decided.stage == d["verdict"] == "go"
    assert d["inputs"]["criteria"]["version"] == "v1" and d["inputs"]["criteria"]["hash"]
    assert [s["entryKey"] for s in d["inputs"]["analysis"]["signals"]] == ["k0", "k1"]
    assert len(d["inputs"]["survey"]["responses"]) == 3 and d["decidedBy"] == "operator"
    assert verify_decision(decided)[0]
    # the replay uses the stored criteria, not today's configuration
    pipe.settings = PipelineSettings(criteria=PipelineCriteria(min_respondents=50))
    assert verify_decision(pipe.store.get_opportunity(opp.id))[0]
    # a record that does not match its inputs is caught
    tampered = json.loads(json.dumps(d))
    tampered["computed"]["verdict"] = "no_go"
    pipe.store.record_decision(opp.id, {**tampered, "verdict": "no_go"})
    ok, words = verify_decision(pipe.store.get_opportunity(opp.id))
    assert not ok and "give go" in words
    detail = pipe.detail(opp.id)
    assert detail.decided and len(detail.signals) == 2 and detail.survey["respondents"] == 3
    assert [c["name"] for c in detail.criteria][:3] == ["respondents", "market score", "validation score"]


def test_override_needs_a_reason_and_is_audited(pipe: Pipeline) -> None:
    opp = pipe.create_opportunity("Self-serve tier")
    for reason in (None, "", "   "):
        with pytest.raises(PipelineError, match="needs a reason"):
            pipe.override(opp.id, "go", reason)
    with pytest.raises(StoreFunctionError, match="needs a reason"):  # the store refuses it too
        pipe.store.record_decision(opp.id, {"verdict": "go", "override": {"verdict": "go"}})
    assert pipe.store.get_opportunity(opp.id).decision is None
    o = pipe.override(opp.id, "go", "the CEO signed a letter of intent", actor="cestra")
    d = o.decision
    assert o.stage == "go" and d["computed"]["verdict"] == "more_data"  # no survey yet: the computed verdict stays
    assert d["override"] == {"verdict": "go", "reason": "the CEO signed a letter of intent", "by": "cestra",
                             "at": NOW, "computedVerdict": "more_data"}
    act = pipe.store.list_activities(1)[0]
    assert act.type == "decision_overridden" and act.actor == "cestra"
    assert act.detail["reason"] == "the CEO signed a letter of intent"
    assert verify_decision(o)[0]  # the computed part still replays


def test_an_import_with_bad_rows_stores_nothing(pipe: Pipeline, tmp_path: Path) -> None:
    opp = pipe.create_opportunity("Self-serve tier")
    f = tmp_path / "answers.csv"
    f.write_text("respondent,pain,frequency,urgency,would_pay\n"
                 "r1,5,4,4,4\n"
                 "r2,9,4,4,4\n"
                 "r3,5,4,4,4\n"
                 ",5,4,4,4\n"
                 "r1,5,4,4,4\n"
                 "r4,5,4\n")
    before = len(pipe.store.list_activities())
    with pytest.raises(SurveyImportError) as err:
        pipe.import_survey(opp.id, f)
    assert [r.line for r in err.value.rows] == [3, 5, 6, 7]
    assert "pain: '9'" in str(err.value.rows[0]) and "already answered" in str(err.value.rows[2])
    assert "nothing was imported" in str(err.value)
    assert pipe.store.get_opportunity(opp.id).survey is None and len(pipe.store.list_activities()) == before
    # responses entered one at a time (the screen's form) add up, checked the same way
    pipe.add_response(opp.id, "r1", {"pain": 4, "frequency": 3, "urgency": 3, "would_pay": 4})
    res = pipe.add_response(opp.id, "r2", {"pain": 2, "frequency": 3, "urgency": 3, "would_pay": 2})
    assert res.respondents == 2
    with pytest.raises(SurveyImportError, match="1 of 1 row"):
        pipe.add_response(opp.id, "r2", {"pain": 2, "frequency": 3, "urgency": 3, "would_pay": 2})


def test_board_feeds_and_stages(pipe: Pipeline) -> None:
    a = pipe.create_opportunity("A")
    pipe.create_opportunity("B")
    pipe.move(a.id, "decision")
    with pytest.raises(PipelineError, match="is a verdict"):
        pipe.move(a.id, "go")
    board = dict(pipe.board())
    assert list(board) == ["analysis", "validation", "decision", "go", "no_go", "more_data"]
    assert [r.title for r in board["analysis"]] == ["B"] and [r.title for r in board["decision"]] == ["A"]
    [h] = pipe.feeds()
    assert (h.state, h.due, h.backing_off) == ("ok", True, False)
    with pytest.raises(PipelineError, match="not an http"):
        pipe.add_feed("ftp://x", "acme")
    with pytest.raises(PipelineError, match="no single opportunity"):
        pipe.resolve("nope")


def test_a_must_have_must_name_a_scored_question(pipe: Pipeline) -> None:
    pipe.settings = PipelineSettings(criteria=PipelineCriteria(must_have=(("comments", 1.0),)))
    opp = pipe.create_opportunity("X")
    with pytest.raises(PipelineError, match="not a scored question"):
        pipe.decide(opp.id)


# ------------------------------------------------------------------------ CLI
CONFIG = """
[pipeline]
score_scale = 4
[[pipeline.rules]]
name = "pricing"
competitor = "acme"
keywords = ["pricing", "price"]
weight = 2.0
[pipeline.criteria]
version = "cli-1"
min_respondents = 2
[pipeline.criteria.must_have]
would_pay = 3.5
"""


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--config", "squad.toml", *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SQUAD_CONSOLE_DB", str(tmp_path / "data" / "squad.db"))
    (tmp_path / "squad.toml").write_text(CONFIG)
    assert load_settings(tmp_path / "squad.toml").pipeline.criteria.version == "cli-1"
    return tmp_path


def test_cli_feeds_opportunities_survey_decide_override(cfg: Path) -> None:
    code, out, err = cli("pipeline", "feeds", "add", "https://acme.example/rss", "--competitor", "acme")
    assert code == 0, err
    code, out, _ = cli("pipeline", "feeds", "add", "https://acme.example/rss", "--competitor", "acme")
    assert code == 1
    code, out, _ = cli("pipeline", "feeds", "list", "--json")
    assert json.loads(out)[0]["state"] == "new"
    code, out, err = cli("pipeline", "opportunities", "add", "Self-serve tier")
    assert code == 0, err
    opp = out.split()[0]
    (cfg / "bad.json").write_text('[\n {"respondent": "r1", "pain": 5, "frequency": 4, "urgency": 4, "would_pay": 4},\n'
                                  ' {"respondent": "r2", "pain": 0}\n]\n')
    code, out, err = cli("pipeline", "survey", "import", "bad.json", "--opportunity", opp)
    assert code == 1 and "bad.json: line 3 (r2): pain: 0 is not a number from 1 to 5" in err
    assert "nothing was imported" in err and "Traceback" not in err
    (cfg / "good.csv").write_text("respondent,pain,frequency,urgency,would_pay\nr1,5,4,4,4\nr2,4,4,4,5\n")
    code, out, err = cli("pipeline", "survey", "import", "good.csv", "--opportunity", opp)
    assert code == 0 and "2 respondents" in out, err
    code, out, err = cli("pipeline", "decide", opp)
    assert code == 0, err
    assert "FAIL  market score: 0 >= 60" in out  # no signals fetched: the market criterion fails
    code, out, err = cli("pipeline", "override", opp, "--verdict", "go")
    assert code == 2 and "needs a reason" in err and "nothing was changed" in err
    code, out, err = cli("pipeline", "override", opp, "--verdict", "go", "--reason", "pilot customer signed")
    assert code == 0 and "pilot customer signed" in out, err
    code, out, err = cli("pipeline", "show", opp)
    assert code == 0, err
    for words in ("Survey: validation", "Criteria", "must have: would_pay", "overridden to go", "reproducible"):
        assert words in out, out
    code, out, _ = cli("pipeline", "list")
    assert "go (override)" in out
    code, out, _ = cli("audit", "export")
    kinds = [json.loads(line)["type"] for line in out.splitlines()]
    for kind in ("feed_added", "opportunity_created", "survey_recorded", "market_analysed", "decision_made",
                 "decision_overridden"):
        assert kind in kinds
    code, out, err = cli("pipeline", "feeds", "rm", "https://acme.example/rss")
    assert code == 0 and "signals are kept" in out
    code, out, err = cli("pipeline", "show", "nope")
    assert code == 1 and "no single opportunity" in err
    code, out, err = cli("pipeline")
    assert code == 2
    code, out, err = cli("pipeline", "survey", "template")
    assert code == 0 and "CSV header: respondent,pain,frequency" in out
