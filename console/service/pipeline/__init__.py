"""The revenue pipeline (DESIGN §8): feeds → signals → market score; a survey → validation
score; criteria → go / no_go / more_data. No Textual here: the CLI, the daemon and the Pipeline
screen all call `Pipeline`.

The pure parts take their inputs and a clock value and return plain JSON-able dicts, which the
store keeps as they are on the opportunity:

analysis (market_analysis):
    {"score": 0-100, "points", "scale", "at": ms (the window's anchor),
     "rules": [{"name", "competitor", "keywords", "weight", "window", "opportunity", "cap",
                "matched", "points"}],
     "signals": [{"id", "feedUrl", "entryKey", "competitor", "title", "summary", "link", "at",
                  "rule", "matched": [keywords], "points"}],   # the signals behind the score
     "truncated": bool}
survey (survey_record):
    {"template": {...the template used...}, "responses": [{"respondent", "answers":
     [{"question", "value"}], "source"}], "score": 0-100 | None, "respondents",
     "questions": [{"id", "text", "kind", "weight", "mean", "answered"}]}
decision (decide / override):
    {"verdict", "computed": {"verdict", "score", "criteria": [criterion rows], "why"},
     "override": None | {"verdict", "reason", "by", "at", "computedVerdict"},
     "inputs": {"marketScore", "analysis", "survey": {"template", "responses"},
                "criteria": {"version", "hash", ...values}},
     "decidedBy", "at"}
    criterion row: {"name", "value", "op", "threshold", "passed", "kind": data|threshold|must_have}

A decision is reproducible from its stored inputs alone: `verify_decision` recomputes the market
score from the stored signals and rules, the validation score from the stored responses and
template, and the verdict from the stored criteria, and compares them with what was recorded.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from console.errors import ConsoleError
from console.config import PipelineCriteria, PipelineRule, PipelineSettings
from console.service.models import OPERATOR, OPPORTUNITY_STAGES, VERDICTS, Feed, Opportunity, Signal
from console.service.store import Store, StoreError

MAX_HITS = 300  # signals kept behind one market score (Convex documents are at most 1 MiB)
ADVANCE = {"analysis": "validation", "validation": "decision", "more_data": "validation"}


class PipelineError(ConsoleError):
    """A pipeline operation refused in words (bad input, a missing reason, a bad template)."""

    kind = "pipeline"


# ============================================================ market analysis
def _matcher(keywords: Sequence[str]) -> Callable[[str], list[str]]:
    patterns = [(k, re.compile(rf"(?<!\w){re.escape(k)}(?!\w)", re.I)) for k in keywords]
    return lambda text: [k for k, p in patterns if p.search(text)]


def rule_applies(rule: PipelineRule | dict[str, Any], title: str) -> bool:
    target = rule.opportunity if isinstance(rule, PipelineRule) else rule.get("opportunity")
    return not target or target.lower() in title.lower()


def _rule_dict(rule: PipelineRule) -> dict[str, Any]:
    return {"name": rule.name, "competitor": rule.competitor, "keywords": list(rule.keywords),
            "weight": rule.weight, "window": rule.window, "opportunity": rule.opportunity, "cap": rule.cap}


def _signal_dict(s: Signal | dict[str, Any]) -> dict[str, Any]:
    if isinstance(s, dict):
        return {k: s.get(k) for k in ("id", "feedUrl", "entryKey", "competitor", "title", "summary", "link", "at")}
    return {"id": s.id, "feedUrl": s.feed_url, "entryKey": s.entry_key, "competitor": s.competitor,
            "title": s.title, "summary": s.summary, "link": s.link, "at": s.when()}


def market_analysis(
    title: str,
    signals: Iterable[Signal | dict[str, Any]],
    rules: Sequence[PipelineRule | dict[str, Any]],
    *,
    now_ms: float,
    scale: float,
) -> dict[str, Any]:
    """The market score (0-100) of an opportunity titled `title`, and the signals behind it.

    Each rule that applies to the title (its `opportunity` text, if any, is in the title) counts
    the signals of its competitor (any when unset) within its window before `now_ms` whose title
    or summary holds one of its keywords as a whole word (every signal when it has none): each adds
    the rule's weight, newest first, until the rule's cap. score = clamp(100 × points / scale)."""
    rows, seen = [], set()
    for s in signals:  # a stored analysis lists a signal once per rule it scored for
        row = _signal_dict(s)
        key = (row["feedUrl"], row["entryKey"])
        if key not in seen:
            seen.add(key)
            rows.append(row)
    rows.sort(key=lambda r: (-(r["at"] or 0.0), str(r["id"])))
    rule_dicts = [_rule_dict(r) if isinstance(r, PipelineRule) else dict(r) for r in rules]
    applied, hits = [], []
    total = 0.0
    for rule in rule_dicts:
        if not rule_applies(rule, title):
            continue
        match = _matcher(rule.get("keywords") or [])
        since = now_ms - float(rule.get("window") or 0.0) * 1000
        cap = rule.get("cap")
        weight = float(rule.get("weight") or 0.0)
        points, matched = 0.0, 0
        for row in rows:
            if rule.get("competitor") and row["competitor"] != rule["competitor"]:
                continue
            if row["at"] is None or not since <= row["at"] <= now_ms:
                continue
            words = match(f"{row['title'] or ''} {row['summary'] or ''}") if rule.get("keywords") else []
            if rule.get("keywords") and not words:
                continue
            matched += 1
            add = weight
            if cap is not None:
                room = float(cap) - abs(points)
                add = math.copysign(max(0.0, min(abs(weight), room)), weight)
            if add == 0:
                continue
            points += add
            hits.append({**row, "rule": rule["name"], "matched": words, "points": round(add, 6)})
        total += points
        applied.append({**rule, "matched": matched, "points": round(points, 6)})
    score = round(min(100.0, max(0.0, 100.0 * total / scale)), 1) if scale > 0 else 0.0
    return {"score": score, "points": round(total, 6), "scale": scale, "at": now_ms, "rules": applied,
            "signals": hits[:MAX_HITS], "truncated": len(hits) > MAX_HITS}


def capped(rule: dict[str, Any]) -> str:
    """" (cap N)" when a rule's cap held its points below what its matched signals would give, so
    MATCHED (every signal the rule matched) and the signals behind the score (only those that
    scored) add up for a reader; else ""."""
    cap, weight = rule.get("cap"), float(rule.get("weight") or 0.0)
    if cap is None or abs(weight) * int(rule.get("matched") or 0) <= abs(float(rule.get("points") or 0.0)) + 1e-9:
        return ""
    return f" (cap {float(cap):g})"


def distinct_signals(hits: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stored analysis lists a signal once per rule it scored for: here each signal once, with
    the rules it scored for and its points summed, newest first (what the screens and `pipeline
    show` list and count)."""
    out: dict[tuple, dict[str, Any]] = {}
    for h in hits:
        key = (h.get("feedUrl"), h.get("entryKey"), h.get("title"))
        row = out.get(key)
        if row is None:
            out[key] = {**h, "rules": [h["rule"]] if h.get("rule") else [], "points": float(h.get("points") or 0.0)}
        else:
            if h.get("rule") and h["rule"] not in row["rules"]:
                row["rules"].append(h["rule"])
            row["points"] = round(row["points"] + float(h.get("points") or 0.0), 6)
    return sorted(out.values(), key=lambda r: -(r.get("at") or 0.0))


def replay_analysis(analysis: dict[str, Any], title: str) -> dict[str, Any]:
    """The analysis recomputed from what it stored (its signals, rules, anchor and scale)."""
    return market_analysis(title, analysis.get("signals") or [], analysis.get("rules") or [],
                           now_ms=float(analysis.get("at") or 0.0), scale=float(analysis.get("scale") or 0.0))


# ===================================================================== survey
QUESTION_KINDS = ("scale", "yes_no", "text")
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    kind: str = "scale"
    weight: float = 1.0
    required: bool = True


@dataclass(frozen=True)
class SurveyTemplate:
    id: str
    version: int | str
    title: str
    scale_min: float
    scale_max: float
    questions: tuple[Question, ...]
    min_label: str = ""
    max_label: str = ""

    def question(self, qid: str) -> Question | None:
        return next((q for q in self.questions if q.id == qid), None)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "title": self.title,
                "scale": {"min": self.scale_min, "max": self.scale_max, "minLabel": self.min_label,
                          "maxLabel": self.max_label},
                "questions": [asdict(q) for q in self.questions]}


def template_from_dict(d: Any, where: str = "the survey template") -> SurveyTemplate:
    try:
        return _template_from_dict(d, where)
    except OverflowError:
        raise PipelineError(f"{where}: a number is out of range") from None


def _template_from_dict(d: Any, where: str) -> SurveyTemplate:
    def bad(what: str) -> PipelineError:
        return PipelineError(f"{where}: {what}", hint="see assets/survey.template.json for the format")

    if not isinstance(d, dict):
        raise bad("must be a JSON object")
    scale = d.get("scale")
    if not isinstance(scale, dict) or not all(isinstance(scale.get(k), (int, float)) for k in ("min", "max")):
        raise bad("scale needs numbers min and max")
    if scale["max"] <= scale["min"]:
        raise bad("scale.max must be above scale.min")
    raw_qs = d.get("questions")
    if not isinstance(raw_qs, list) or not raw_qs:
        raise bad("questions must be a non-empty list")
    questions, seen = [], set()
    for i, q in enumerate(raw_qs):
        if not isinstance(q, dict):
            raise bad(f"questions[{i}] must be an object")
        qid = q.get("id")
        if not isinstance(qid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", qid):
            raise bad(f"questions[{i}].id must be lowercase letters, digits and _ (got {qid!r})")
        if qid in seen or qid in ("respondent", "answers", "source"):
            raise bad(f"questions[{i}].id {qid!r} is used twice or reserved")
        seen.add(qid)
        kind = q.get("kind", "scale")
        if kind not in QUESTION_KINDS:
            raise bad(f"questions[{i}].kind must be one of {', '.join(QUESTION_KINDS)}")
        weight = q.get("weight", 1.0 if kind != "text" else 0.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise bad(f"questions[{i}].weight must be a number, 0 or more")
        questions.append(Question(qid, str(q.get("text", qid)), kind, float(weight), bool(q.get("required", kind != "text"))))
    if not any(q.weight > 0 and q.kind != "text" for q in questions):
        raise bad("no question is scored (give a scale or yes_no question a weight above 0)")
    ident = d.get("id", "survey")
    return SurveyTemplate(str(ident), d.get("version", 1), str(d.get("title", ident)), float(scale["min"]),
                          float(scale["max"]), tuple(questions), str(scale.get("minLabel", "")),
                          str(scale.get("maxLabel", "")))


def load_template(path: Path) -> SurveyTemplate:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PipelineError(f"cannot read the survey template {path}: {exc.strerror}",
                            hint="set [pipeline] survey_template in squad.toml") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PipelineError(f"the survey template {path} is not valid JSON: {exc}") from None
    return template_from_dict(data, str(path))


def check_response(template: SurveyTemplate, raw: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """One respondent's answers → (the response to store, problems). `raw` is a mapping of
    `respondent` and question ids to answers (CSV cells or JSON values), or {"respondent",
    "answers": {...}}. Problems name the question and what is wrong."""
    if not isinstance(raw, dict):
        return None, ["a response must be an object of respondent and answers"]
    values = dict(raw.get("answers")) if isinstance(raw.get("answers"), dict) else {
        k: v for k, v in raw.items() if k not in ("respondent", "source")}
    problems: list[str] = []
    respondent = raw.get("respondent")
    if isinstance(respondent, (int, float)) and not isinstance(respondent, bool):
        respondent = str(respondent)
    if not isinstance(respondent, str) or not respondent.strip():
        problems.append("respondent is missing (every response needs an id, e.g. an e-mail hash or r12)")
    unknown = [k for k in values if template.question(k) is None]
    if unknown:
        problems.append(f"unknown question{'s' if len(unknown) > 1 else ''} {', '.join(map(str, unknown))} "
                        f"(the template has {', '.join(q.id for q in template.questions)})")
    answers = []
    for q in template.questions:
        value = values.get(q.id)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if q.required:
                problems.append(f"{q.id}: missing (required)")
            continue
        if q.kind == "text":
            answers.append({"question": q.id, "value": str(value)[:2000]})
        elif q.kind == "yes_no":
            text = str(value).lower() if not isinstance(value, bool) else ("yes" if value else "no")
            if text in YES:
                answers.append({"question": q.id, "value": 1})
            elif text in NO:
                answers.append({"question": q.id, "value": 0})
            else:
                problems.append(f"{q.id}: {value!r} is not yes or no")
        else:
            try:
                number = float(value) if not isinstance(value, bool) else math.nan
            except (TypeError, ValueError, OverflowError):
                number = math.nan
            if math.isnan(number) or not template.scale_min <= number <= template.scale_max:
                shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
                problems.append(f"{q.id}: {shown} is not a number from {template.scale_min:g} to {template.scale_max:g}")
            else:
                answers.append({"question": q.id, "value": int(number) if number.is_integer() else number})
    if problems:
        return None, problems
    return {"respondent": respondent.strip(), "answers": answers, "source": str(raw.get("source") or "entered")}, []


def survey_scores(template: SurveyTemplate, responses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The validation score (0-100: the weighted mean of the scored questions' mean answers, each
    put on 0-1 by the scale, or yes = 1 / no = 0), the number of respondents and each question's mean."""
    span = template.scale_max - template.scale_min
    rows, weighted, weights = [], 0.0, 0.0
    for q in template.questions:
        values = [a["value"] for r in responses for a in r.get("answers", []) if a.get("question") == q.id]
        mean = None
        if q.kind != "text" and values:
            mean = sum(float(v) for v in values) / len(values)
            norm = mean if q.kind == "yes_no" else (mean - template.scale_min) / span
            if q.weight > 0:
                weighted += q.weight * norm
                weights += q.weight
        rows.append({"id": q.id, "text": q.text, "kind": q.kind, "weight": q.weight,
                     "mean": round(mean, 3) if mean is not None else None, "answered": len(values)})
    score = round(100.0 * weighted / weights, 1) if weights else None
    return {"score": score, "respondents": len(responses), "questions": rows}


def survey_record(template: SurveyTemplate, responses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"template": template.to_dict(), "responses": list(responses), **survey_scores(template, responses)}


@dataclass(frozen=True)
class RowProblem:
    line: int
    respondent: str | None
    problems: tuple[str, ...]

    def __str__(self) -> str:
        who = f" ({self.respondent})" if self.respondent else ""
        return f"line {self.line}{who}: {'; '.join(self.problems)}"


class SurveyImportError(PipelineError):
    """Some rows were bad: nothing was stored. `rows` names every bad row with its line."""

    def __init__(self, path: str, rows: list[RowProblem], total: int) -> None:
        super().__init__(f"{path}: {len(rows)} of {total} row{'s' if total != 1 else ''} are bad; nothing was imported",
                         hint="fix those rows and import the file again (a file is imported whole or not at all)")
        self.path = path
        self.rows = rows
        self.total = total


MAX_IMPORT_BYTES = 8 * 1024 * 1024  # a survey import larger than this is refused, not read on


def read_rows(path: Path) -> list[tuple[int, Any]]:
    """The rows of a CSV (header: respondent, then question ids) or JSON (a list of objects) file,
    each with its line number. Raises PipelineError for a file that cannot be read as either, or
    that is larger than MAX_IMPORT_BYTES (read no further: `/dev/zero` never ends)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise PipelineError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_IMPORT_BYTES:
        raise PipelineError(f"{path} is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB: not imported",
                            hint="split the responses into several files") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PipelineError(f"{path} is not UTF-8 text") from None
    if Path(path).suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        return _json_rows(text, str(path))
    return _csv_rows(text, str(path))


def _json_rows(text: str, where: str) -> list[tuple[int, Any]]:
    decoder = json.JSONDecoder()

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    i = len(text) - len(text.lstrip())
    if i >= len(text) or text[i] != "[":
        raise PipelineError(f"{where}:{line_of(i)}: a JSON survey import is a list of responses: [{{...}}, ...]")
    i += 1
    rows: list[tuple[int, Any]] = []
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i < len(text) and text[i] == "]":
            rest = text[i + 1:].strip()
            if rest:
                raise PipelineError(f"{where}:{line_of(i + 1 + text[i + 1:].find(rest[0]))}: text after the list")
            return rows
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise PipelineError(f"{where}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
        except RecursionError:
            raise PipelineError(f"{where}:{line_of(i)}: not valid JSON: nested too deeply") from None
        except ValueError as exc:  # e.g. an integer longer than Python converts
            raise PipelineError(f"{where}:{line_of(i)}: not valid JSON: {str(exc)[:120]}") from None
        rows.append((line_of(i), value))
        i = end
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i < len(text) and text[i] == ",":
            i += 1
        elif i >= len(text) or text[i] != "]":
            raise PipelineError(f"{where}:{line_of(i)}: expected , or ] after a response")


def _csv_rows(text: str, where: str) -> list[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise PipelineError(f"{where}: the file is empty (expected a header: respondent,<question ids>)") from None
    except csv.Error as exc:
        raise PipelineError(f"{where}:1: not valid CSV: {exc}") from None
    header = [h.strip() for h in header]
    if "respondent" not in header:
        raise PipelineError(f"{where}:1: the header needs a respondent column (then one column per question id)")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise PipelineError(f"{where}:1: column {', '.join(dupes)} appears twice")
    rows: list[tuple[int, Any]] = []
    start = reader.line_num + 1  # the header may span lines (a quoted newline)
    try:
        for cells in reader:
            line = start
            start = reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                rows.append((line, ValueError(f"{len(cells)} cells, the header has {len(header)}")))
                continue
            rows.append((line, dict(zip(header, cells))))
    except csv.Error as exc:
        raise PipelineError(f"{where}:{reader.line_num}: not valid CSV: {exc}") from None
    return rows


# =================================================================== decision
def criteria_dict(c: PipelineCriteria) -> dict[str, Any]:
    values = {"version": c.version, "min_market_score": c.min_market_score,
              "min_validation_score": c.min_validation_score, "min_respondents": c.min_respondents,
              "more_data_margin": c.more_data_margin,
              "must_have": [{"question": q, "min": low} for q, low in c.must_have]}
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
    return {**values, "hash": digest}


def evaluate(market_score: float | None, survey: dict[str, Any] | None, criteria: dict[str, Any]) -> dict[str, Any]:
    """go / no_go / more_data from the inputs and the criteria, with each criterion's row.

    more_data when data is missing (no market score, no survey, fewer respondents than the
    minimum); else no_go when a must-have fails; else go when every threshold passes; else
    more_data when every failing score is within `more_data_margin` of its threshold; else no_go."""
    respondents = int((survey or {}).get("respondents") or 0)
    validation = (survey or {}).get("score")
    means = {q["id"]: q.get("mean") for q in (survey or {}).get("questions", [])}
    rows: list[dict[str, Any]] = [
        {"name": "respondents", "kind": "data", "value": respondents, "op": ">=",
         "threshold": criteria["min_respondents"], "passed": respondents >= criteria["min_respondents"]},
        {"name": "market score", "kind": "threshold", "value": market_score, "op": ">=",
         "threshold": criteria["min_market_score"],
         "passed": market_score is not None and market_score >= criteria["min_market_score"]},
        {"name": "validation score", "kind": "threshold", "value": validation, "op": ">=",
         "threshold": criteria["min_validation_score"],
         "passed": validation is not None and validation >= criteria["min_validation_score"]},
    ]
    for must in criteria.get("must_have") or []:
        mean = means.get(must["question"])
        rows.append({"name": f"must have: {must['question']}", "kind": "must_have", "value": mean, "op": ">=",
                     "threshold": must["min"], "passed": mean is not None and mean >= must["min"]})
    missing = [r["name"] for r in rows if r["value"] is None and r["kind"] != "must_have"]
    if rows[0]["passed"] is False or missing:
        verdict = "more_data"
        why = "not enough data: " + ", ".join(
            ([f"{respondents} respondent{'s' if respondents != 1 else ''} of {criteria['min_respondents']} needed"]
             if not rows[0]["passed"] else []) + [f"no {m}" for m in missing])
    elif any(not r["passed"] for r in rows if r["kind"] == "must_have"):
        verdict = "no_go"
        why = "a must-have fails: " + ", ".join(r["name"].removeprefix("must have: ") for r in rows
                                                if r["kind"] == "must_have" and not r["passed"])
    elif all(r["passed"] for r in rows):
        verdict, why = "go", "every criterion passes"
    else:
        failing = [r for r in rows if r["kind"] == "threshold" and not r["passed"]]
        margin = float(criteria.get("more_data_margin") or 0.0)
        if all(r["threshold"] - r["value"] < margin for r in failing):
            verdict = "more_data"
            why = "close to the line: " + ", ".join(f"{r['name']} {r['value']:g} < {r['threshold']:g}" for r in failing)
        else:
            verdict = "no_go"
            why = "below the line: " + ", ".join(f"{r['name']} {r['value']:g} < {r['threshold']:g}" for r in failing)
    scores = [s for s in (market_score, validation) if s is not None]
    score = round(sum(scores) / len(scores), 1) if scores else None
    return {"verdict": verdict, "score": score, "criteria": rows, "why": why}


def decision_inputs(opp: Opportunity, criteria: dict[str, Any]) -> dict[str, Any]:
    survey = opp.survey or None
    return {
        "marketScore": opp.market_score,
        "analysis": opp.analysis,
        "survey": {"template": survey["template"], "responses": survey["responses"]} if survey else None,
        "criteria": criteria,
    }


def compute_from_inputs(inputs: dict[str, Any], title: str) -> dict[str, Any]:
    """The computed decision from stored inputs alone (the replay `verify_decision` does)."""
    analysis = inputs.get("analysis")
    market = replay_analysis(analysis, title)["score"] if analysis else None
    survey = None
    if inputs.get("survey"):
        template = template_from_dict(inputs["survey"]["template"])
        survey = survey_scores(template, inputs["survey"]["responses"])
    return evaluate(market, survey, inputs["criteria"])


def verify_decision(opp: Opportunity) -> tuple[bool, str]:
    """Recompute the opportunity's decision from its stored inputs: (same?, in words)."""
    d = opp.decision
    if not d:
        return False, "no decision yet"
    inputs = d.get("inputs") or {}
    if (inputs.get("analysis") or {}).get("truncated"):
        return False, f"the analysis kept only {MAX_HITS} signals: it cannot be replayed exactly"
    try:
        again = compute_from_inputs(inputs, opp.title)
    except (PipelineError, KeyError, TypeError, ValueError) as exc:
        return False, f"the stored inputs cannot be replayed: {exc}"
    stored = d.get("computed") or {}
    if (again["verdict"], again["score"], again["criteria"]) == (stored.get("verdict"), stored.get("score"),
                                                                  stored.get("criteria")):
        return True, f"reproduced from the stored inputs: {again['verdict']} ({again['why']})"
    return False, f"the stored inputs give {again['verdict']} ({again['why']}), the record says {stored.get('verdict')}"


# ============================================================ the service API
@dataclass(frozen=True)
class FeedHealth:
    """One feed as the Pipeline screen shows it."""

    feed: Feed
    state: str  # "new" | ok | not_modified | degraded | failed
    words: str  # the last outcome in words
    due: bool
    next_in_s: float | None  # seconds until due (negative: overdue), None: never fetched
    backing_off: bool


@dataclass(frozen=True)
class BoardRow:
    id: str
    title: str
    stage: str
    market_score: float | None
    validation_score: float | None
    respondents: int
    verdict: str | None
    overridden: bool
    updated_at: float | None


@dataclass(frozen=True)
class Detail:
    opportunity: Opportunity
    signals: list[dict[str, Any]]  # the signals behind the market score (analysis["signals"])
    rules: list[dict[str, Any]]  # the rules that applied, with their matches and points
    survey: dict[str, Any] | None  # {"score", "respondents", "questions", "template"}
    criteria: list[dict[str, Any]]  # the criteria table: the decision's, else a preview on the current data
    verdict: str | None  # the recorded verdict, or the preview's
    why: str
    decided: bool
    override: dict[str, Any] | None
    reproducible: tuple[bool, str] | None  # None: not decided yet


def feed_health(feeds: Iterable[Feed], now: float) -> list[FeedHealth]:
    """Each feed's state as the Pipeline screen shows it, as of `now` (ms)."""
    out = []
    for f in feeds:
        out.append(FeedHealth(
            feed=f,
            state=f.outcome or "new",
            words=f.health or "not fetched yet",
            due=f.next_fetch_at is None or f.next_fetch_at <= now,
            next_in_s=None if f.next_fetch_at is None else (f.next_fetch_at - now) / 1000,
            backing_off=f.error_count > 0,
        ))
    return out


def board_rows(opportunities: Iterable[Opportunity]) -> list[tuple[str, list[BoardRow]]]:
    """Every stage (in pipeline order) with its opportunities (in the order given) and their scores."""
    rows: dict[str, list[BoardRow]] = {s: [] for s in OPPORTUNITY_STAGES}
    for o in opportunities:
        survey = o.survey or {}
        decision = o.decision or {}
        rows.setdefault(o.stage, []).append(BoardRow(
            o.id, o.title, o.stage, o.market_score, survey.get("score"), int(survey.get("respondents") or 0),
            decision.get("verdict"), bool(decision.get("override")), o.updated_at))
    return list(rows.items())


@dataclass
class ImportResult:
    added: int
    respondents: int
    score: float | None
    opportunity: Opportunity


class Pipeline:
    """The pipeline over a store. Synchronous except `fetch` (async); `fetch_sync` wraps it."""

    def __init__(
        self,
        store: Store,
        settings: PipelineSettings = PipelineSettings(),
        *,
        clock: Callable[[], float] = time.time,
        fetcher_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self._fetcher_factory = fetcher_factory
        self._template: SurveyTemplate | None = None

    def now_ms(self) -> float:
        return self.clock() * 1000.0

    # ------------------------------------------------------------- feeds
    def add_feed(self, url: str, competitor: str, *, actor: str = OPERATOR) -> Feed:
        url = url.strip()
        if not re.match(r"^https?://[^/\s]+", url):
            raise PipelineError(f"{url!r} is not an http(s) URL", hint="e.g. https://acme.example/blog/rss.xml")
        if not competitor.strip():
            raise PipelineError("a feed needs a competitor name", hint="--competitor acme")
        return self.store.add_feed(url, competitor.strip(), actor=actor)

    def remove_feed(self, url: str, *, actor: str = OPERATOR) -> Feed:
        return self.store.remove_feed(url.strip(), actor=actor)

    def feeds(self, now_ms: float | None = None) -> list[FeedHealth]:
        return feed_health(self.store.list_feeds(), self.now_ms() if now_ms is None else now_ms)

    def _fetcher(self) -> Any:
        if self._fetcher_factory is not None:
            return self._fetcher_factory()
        from console.service.pipeline.feeds import FetchOptions, Fetcher

        return Fetcher(FetchOptions.from_settings(self.settings), clock=self.clock)

    async def fetch(self, *, due_only: bool = False, urls: Sequence[str] | None = None,
                    actor: str = "service") -> Any:
        """Fetch the feeds (all, the due ones, or those named) and record each result: its state,
        its signals and the activities. Returns a feeds.FetchReport; every feed has its own result,
        and one feed's failure (or a store error recording it) never stops the others."""
        from console.service.pipeline.feeds import FetchReport

        started = time.perf_counter()
        now = self.now_ms()
        feeds = await asyncio.to_thread(self.store.list_feeds)
        if urls is not None:
            wanted = set(urls)
            unknown = wanted - {f.url for f in feeds}
            if unknown:
                raise PipelineError(f"no such feed: {', '.join(sorted(unknown))}",
                                    hint="squad-console pipeline feeds list")
            feeds = [f for f in feeds if f.url in wanted]
        if due_only:
            feeds = [f for f in feeds if f.next_fetch_at is None or f.next_fetch_at <= now]
        fetcher = self._fetcher()
        fetch_started = time.perf_counter()
        results = await fetcher.fetch(feeds) if feeds else []
        fetch_ms = (time.perf_counter() - fetch_started) * 1000
        recorded = []
        for r in results:
            try:
                out = await asyncio.to_thread(self.store.record_fetch, r.url, r.state, r.signals, actor=actor)
                recorded.append(replace(r, created=out.created, updated=out.updated))
            except StoreError as exc:
                recorded.append(replace(r, store_error=exc.message))
        return FetchReport(recorded, (time.perf_counter() - started) * 1000, getattr(fetcher, "parse_calls", 0),
                           fetch_ms)

    def fetch_sync(self, **kwargs: Any) -> Any:
        return asyncio.run(self.fetch(**kwargs))

    # ----------------------------------------------------- opportunities
    def create_opportunity(self, title: str, description: str = "", *, actor: str = OPERATOR) -> Opportunity:
        if not title.strip():
            raise PipelineError("an opportunity needs a title")
        return self.store.create_opportunity(title.strip(), description, actor=actor)

    def resolve(self, ref: str) -> Opportunity:
        """An opportunity by id, by the end of its id, or by its exact title (case-insensitive)."""
        opps = self.store.list_opportunities()
        exact = [o for o in opps if o.id == ref]
        if exact:
            return exact[0]
        matches = [o for o in opps if o.id.endswith(ref) or o.title.lower() == ref.lower()]
        if len(matches) == 1:
            return matches[0]
        raise PipelineError(f"no single opportunity matches {ref!r}" + (f" ({len(matches)} do)" if matches else ""),
                            hint="use the id shown by `squad-console pipeline list`")

    def board(self) -> list[tuple[str, list[BoardRow]]]:
        """Every stage (in pipeline order) with its opportunities and their scores."""
        return board_rows(self.store.list_opportunities())

    def analyse(self, ref: str, *, actor: str = OPERATOR) -> Opportunity:
        """Recompute the market score from the signals in the store and the configured rules."""
        opp = self.resolve(ref)
        analysis = market_analysis(opp.title, self.store.list_signals(limit=5000), self.settings.rules,
                                   now_ms=self.now_ms(), scale=self.settings.score_scale)
        return self.store.record_analysis(opp.id, analysis["score"], analysis, actor=actor)

    def move(self, ref: str, stage: str, *, actor: str = OPERATOR) -> Opportunity:
        if stage not in OPPORTUNITY_STAGES:
            raise PipelineError(f"{stage!r} is not a stage ({', '.join(OPPORTUNITY_STAGES)})")
        if stage in VERDICTS:
            raise PipelineError(f"{stage} is a verdict: use decide (or override with a reason)")
        return self.store.move_opportunity(self.resolve(ref).id, stage, actor=actor)

    def advance(self, ref: str, *, actor: str = OPERATOR) -> Opportunity:
        """analysis → validation → decision (the market score is computed on leaving analysis);
        from decision it decides; more_data goes back to validation."""
        opp = self.resolve(ref)
        if opp.stage == "decision":
            return self.decide(opp.id, actor=actor)
        nxt = ADVANCE.get(opp.stage)
        if nxt is None:
            raise PipelineError(f"{opp.title} is decided ({opp.stage}); override it with a reason to change that")
        if opp.stage == "analysis":
            self.analyse(opp.id, actor=actor)
        return self.store.move_opportunity(opp.id, nxt, actor=actor)

    # ------------------------------------------------------------ survey
    def template(self) -> SurveyTemplate:
        if self._template is None:
            self._template = load_template(self.settings.survey_template)
        return self._template

    def add_responses(self, ref: str, raw_rows: Sequence[tuple[int, Any]], *, source: str = "entered",
                      actor: str = OPERATOR, where: str = "input") -> ImportResult:
        """Check every row against the template, then store them all, or none: any bad row (or a
        respondent already recorded, or twice in the rows) raises SurveyImportError naming each bad
        row with its line. The store write is check-and-set on the number of responses."""
        opp = self.resolve(ref)
        template = self.template()
        existing = list((opp.survey or {}).get("responses") or [])
        if opp.survey and (opp.survey.get("template") or {}).get("id") not in (None, template.id):
            raise PipelineError(f"{opp.title} was surveyed with template {opp.survey['template']['id']!r}, "
                                f"not {template.id!r}")
        seen = {r["respondent"] for r in existing}
        good, bad = [], []
        for line, raw in raw_rows:
            if isinstance(raw, Exception):
                bad.append(RowProblem(line, None, (str(raw),)))
                continue
            response, problems = check_response(template, {**raw, "source": raw.get("source", source)}
                                                if isinstance(raw, dict) else raw)
            who = raw.get("respondent") if isinstance(raw, dict) else None
            if response is not None:
                if response["respondent"] in seen:
                    problems = [f"respondent {response['respondent']} already answered this survey"]
                else:
                    seen.add(response["respondent"])
                    good.append(response)
            if problems:
                bad.append(RowProblem(line, str(who) if who not in (None, "") else None, tuple(problems)))
        if bad:
            raise SurveyImportError(where, bad, len(raw_rows))
        if not good:
            raise PipelineError(f"{where}: no responses to add")
        survey = survey_record(template, existing + good)
        stored = self.store.record_survey(opp.id, survey, expected_respondents=len(existing), actor=actor)
        return ImportResult(len(good), survey["respondents"], survey["score"], stored)

    def add_response(self, ref: str, respondent: str, answers: dict[str, Any], *, actor: str = OPERATOR) -> ImportResult:
        """One response entered by hand (the Pipeline screen's form)."""
        return self.add_responses(ref, [(1, {"respondent": respondent, "answers": answers})], actor=actor)

    def import_survey(self, ref: str, path: Path, *, actor: str = OPERATOR) -> ImportResult:
        rows = read_rows(path)
        if not rows:
            raise PipelineError(f"{path}: no responses in the file")
        return self.add_responses(ref, rows, source=f"import:{Path(path).name}", actor=actor, where=str(path))

    # ---------------------------------------------------------- decision
    def preview(self, opp: Opportunity) -> dict[str, Any]:
        """The decision the current data would give (nothing stored)."""
        return evaluate(opp.market_score, opp.survey, criteria_dict(self.settings.criteria))

    def decide(self, ref: str, *, refresh: bool = True, actor: str = OPERATOR) -> Opportunity:
        """Compute and record the decision (refreshing the market score first unless told not
        to), with every input it used, so it can be replayed."""
        opp = self.resolve(ref)
        self._check_must_haves()
        if refresh or opp.analysis is None:
            opp = self.analyse(opp.id, actor=actor)
        criteria = criteria_dict(self.settings.criteria)
        inputs = decision_inputs(opp, criteria)
        computed = compute_from_inputs(inputs, opp.title)
        decision = {"verdict": computed["verdict"], "computed": computed, "override": None, "inputs": inputs,
                    "decidedBy": actor, "at": self.now_ms()}
        return self.store.record_decision(opp.id, decision, actor=actor)

    def _check_must_haves(self) -> None:
        template = self.template()
        for question, _ in self.settings.criteria.must_have:
            q = template.question(question)
            if q is None or q.kind == "text":
                raise PipelineError(
                    f"[pipeline.criteria.must_have] names {question!r}, which is not a scored question of the "
                    f"survey template {template.id!r} ({', '.join(x.id for x in template.questions if x.kind != 'text')})",
                    hint="fix squad.toml or [pipeline] survey_template")

    def override(self, ref: str, verdict: str, reason: str | None, *, actor: str = OPERATOR) -> Opportunity:
        """Set the verdict by hand. Refused without a reason; the computed decision (made now if
        there is none) stays beside it, and the activity `decision_overridden` carries the reason."""
        if verdict not in VERDICTS:
            raise PipelineError(f"{verdict!r} is not a verdict ({', '.join(VERDICTS)})")
        if not reason or not reason.strip():
            raise PipelineError("an override needs a reason", hint='--reason "why the computed verdict is set aside"')
        opp = self.resolve(ref)
        base = opp.decision
        if not base:
            criteria = criteria_dict(self.settings.criteria)
            inputs = decision_inputs(opp if opp.analysis else self.analyse(opp.id, actor=actor), criteria)
            computed = compute_from_inputs(inputs, opp.title)
            base = {"computed": computed, "inputs": inputs, "decidedBy": actor, "at": self.now_ms()}
        decision = {**base, "verdict": verdict,
                    "override": {"verdict": verdict, "reason": reason.strip(), "by": actor, "at": self.now_ms(),
                                 "computedVerdict": base["computed"]["verdict"]}}
        return self.store.record_decision(opp.id, decision, actor=actor)

    # ------------------------------------------------------------ detail
    def detail(self, ref: str) -> Detail:
        opp = self.resolve(ref)
        analysis = opp.analysis or {}
        survey = None
        if opp.survey:
            survey = {k: opp.survey.get(k) for k in ("score", "respondents", "questions", "template")}
        d = opp.decision
        if d:
            computed = d.get("computed") or {}
            return Detail(opp, list(analysis.get("signals") or []), list(analysis.get("rules") or []), survey,
                          list(computed.get("criteria") or []), d.get("verdict"), computed.get("why", ""), True,
                          d.get("override"), verify_decision(opp))
        preview = self.preview(opp)
        return Detail(opp, list(analysis.get("signals") or []), list(analysis.get("rules") or []), survey,
                      preview["criteria"], preview["verdict"], preview["why"], False, None, None)


def pipeline_for(store: Store, settings: Any) -> Pipeline:
    """A Pipeline from the console's Settings (or PipelineSettings)."""
    return Pipeline(store, getattr(settings, "pipeline", settings))


__all__ = [
    "BoardRow", "Detail", "FeedHealth", "ImportResult", "Pipeline", "PipelineError", "RowProblem", "SurveyImportError",
    "SurveyTemplate", "board_rows", "check_response", "criteria_dict", "distinct_signals", "evaluate", "feed_health", "load_template", "market_analysis",
    "pipeline_for", "read_rows", "replay_analysis", "survey_record", "survey_scores", "template_from_dict",
    "verify_decision",
]
