/**
 * The audit log: `log` (an activity written by hand or from an outbox) and `list`; and below
 * them, the wording of every activity the console's functions write, once for TypeScript.
 *
 * Each wording function returns an activity's type, message and detail; the function modules
 * (agents, tasks, messages, heartbeats, flips, vault, pipeline) write exactly what it returns.
 * Python says the same from console/service/store/activities.py (the same names, snake_cased);
 * tests/test_store_parity.py runs one scripted session on both stores and compares every
 * activity, so a change here without the same change there fails.
 */
import { v } from "convex/values";
import { internalMutation, internalQuery } from "../_generated/server";
import { clampLimit, writeActivity } from "./lib";

/** Writes one activity (the audit log entry of something done outside the other functions). */
export const log = internalMutation({
  args: {
    type: v.string(),
    message: v.string(),
    agentId: v.optional(v.id("agents")),
    actor: v.optional(v.string()),
    targetId: v.optional(v.string()),
    detail: v.optional(v.any()),
    /** Idempotency: the same key logged twice is one activity (an outbox may send it again after
     * a reply was lost). */
    key: v.optional(v.string()),
  },
  handler: async (ctx, { key, ...args }) => {
    if (key !== undefined) {
      const seen = await ctx.db
        .query("activityKeys")
        .withIndex("by_key", (q) => q.eq("key", key))
        .first();
      if (seen !== null) {
        const earlier = await ctx.db.get(seen.activityId);
        if (earlier !== null) return earlier;
      }
    }
    const activity = await writeActivity(ctx, args);
    if (key !== undefined) await ctx.db.insert("activityKeys", { key, activityId: activity._id });
    return activity;
  },
});

/** Newest first by insertion; `before` (a `_creationTime`) is exclusive. */
export const list = internalQuery({
  args: { limit: v.number(), before: v.optional(v.number()) },
  handler: async (ctx, { limit, before }) =>
    ctx.db
      .query("activities")
      .withIndex("by_creation_time", (q) => (before === undefined ? q : q.lt("_creationTime", before)))
      .order("desc")
      .take(clampLimit(limit)),
});

// ------------------------------------------------------------------------------ the wording

/** One activity's words: what a function writes beside its change. */
export type Said = { type: string; message: string; detail: Record<string, unknown> };

/**
 * A number in words: its shortest round-trip digits (JavaScript's `String` and Python's `repr`
 * give the same ones) rounded half up to 6 significant digits, in plain decimal notation (never
 * an exponent), trailing zeros dropped: 0.00001 -> "0.00001", 0.72 -> "0.72", 3 -> "3",
 * 1234567 -> "1234570". Step by step the same as `number` in console/service/store/activities.py.
 */
export function number(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "Infinity" : "-Infinity";
  if (x === 0) return "0";
  const [mantissa, expText] = String(Math.abs(x)).split("e");
  const [whole, frac = ""] = mantissa.split(".");
  let digits = whole + frac;
  let point = whole.length + Number(expText ?? "0"); // the value is 0.<digits> x 10^point
  const stripped = digits.replace(/^0+/, "");
  point -= digits.length - stripped.length;
  digits = stripped.replace(/0+$/, "");
  if (digits.length > 6) {
    const up = digits[6] >= "5";
    digits = digits.slice(0, 6);
    if (up) {
      const bumped = String(Number(digits) + 1);
      point += bumped.length - digits.length;
      digits = bumped;
    }
    digits = digits.replace(/0+$/, "");
  }
  let text: string;
  if (point <= 0) text = "0." + "0".repeat(-point) + digits;
  else if (point >= digits.length) text = digits + "0".repeat(point - digits.length);
  else text = digits.slice(0, point) + "." + digits.slice(point);
  return (x < 0 ? "-" : "") + text;
}

/** `obj.a.b` when every step is an object, else null (stored decisions are the caller's JSON). */
function field(obj: unknown, ...path: string[]): unknown {
  let at: unknown = obj;
  for (const key of path) {
    if (at === null || typeof at !== "object" || Array.isArray(at)) return null;
    at = (at as Record<string, unknown>)[key];
  }
  return at === undefined ? null : at;
}

/** How many items a JSON list holds; 0 for anything that is not a list. */
function count(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

/** A JSON number, or null. */
function score(value: unknown): number | null {
  return typeof value === "number" ? value : null;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// agents
/** `changed`: the fields set on the new agent, sorted. */
export function agentRegistered(name: string, agentId: string, changed: string[]): Said {
  return { type: "agent_registered", message: `${name} registered`, detail: { agentId, changed } };
}

/** `name` after the update; `changed`: the fields that changed, sorted. */
export function agentUpdated(name: string, agentId: string, changed: string[]): Said {
  return { type: "agent_updated", message: `${name} updated: ${changed.join(", ")}`, detail: { agentId, changed } };
}

// tasks
export function taskCreated(title: string, status: string, assigneeIds: readonly string[]): Said {
  return { type: "task_created", message: `task created: ${title}`, detail: { status, assigneeIds } };
}

/** A task taken off the board (its messages stay: the history is not rewritten). */
export function taskRemoved(title: string, status: string, assigneeIds: readonly string[]): Said {
  return { type: "task_removed", message: `task removed: ${title}`, detail: { status, assigneeIds } };
}

/**
 * A task update, worded with the task's title *after* it: `task_completed` (status changed to
 * done), else `task_assigned` (assignees changed), else `task_moved` (status changed), else
 * `task_updated`. `changes` maps each changed field to {from, to}.
 */
export function taskUpdated(title: string, changes: Record<string, { from: unknown; to: unknown }>): Said {
  const detail = { changes };
  const status = changes.status;
  if (status && status.to === "done") return { type: "task_completed", message: `task completed: ${title}`, detail };
  if (changes.assigneeIds) return { type: "task_assigned", message: `task assigned: ${title}`, detail };
  if (status) return { type: "task_moved", message: `task moved to ${String(status.to)}: ${title}`, detail };
  return { type: "task_updated", message: `task updated: ${title}`, detail };
}

/** A comment on a task's thread (who wrote it is the activity's agent and actor). */
export function messageSent(taskTitle: string, messageId: string): Said {
  return { type: "message_sent", message: `commented on "${taskTitle}"`, detail: { messageId } };
}

// heartbeats
/** A new failed beat (an empty error reads as an unknown one). */
export function heartbeatFailed(agentId: string, error: string | undefined, runId: string): Said {
  return {
    type: "heartbeat_failed",
    message: `${agentId} heartbeat failed: ${error || "unknown error"}`,
    detail: { agentId, runId },
  };
}

/** An agent's status change, `heartbeat_<to>`; `at` is the flip's (backdated) time. */
export function flip(agentId: string, at: number, from: string, to: string, reason: string | undefined): Said {
  const detail: Record<string, unknown> = { agentId, at, from, to };
  if (reason !== undefined) detail.reason = reason;
  return { type: `heartbeat_${to}`, message: `${agentId}: ${from} → ${to}${reason ? ` (${reason})` : ""}`, detail };
}

// vault
/** Never a value: the entry's name, version and key id only. */
export function vaultPut(name: string, version: number, kid: string): Said {
  return { type: "vault_put", message: `vault: stored ${name} v${version}`, detail: { name, version, kid } };
}

export function vaultRemoved(name: string, versions: number): Said {
  return { type: "vault_removed", message: `vault: removed ${name}`, detail: { name, versions } };
}

// pipeline
export function feedAdded(url: string, competitor: string): Said {
  return { type: "feed_added", message: `feed added: ${url} (${competitor})`, detail: { url, competitor } };
}

export function feedRemoved(url: string, competitor: string): Said {
  return { type: "feed_removed", message: `feed removed: ${url} (${competitor})`, detail: { url, competitor } };
}

/**
 * A fetch's activities: one `signals_ingested` when any signal is new or changed; `feed_failed`
 * when the outcome turns to failed, `feed_recovered` when a failed feed answers again.
 */
export function fetchRecorded(
  before: { url: string; competitor: string; outcome?: string },
  state: { outcome?: string; health?: string; lastStatus?: number; errorCount: number },
  created: number,
  updated: number,
  newKeys: string[],
): Said[] {
  const out: Said[] = [];
  const { url, competitor } = before;
  if (created > 0 || updated > 0) {
    out.push({
      type: "signals_ingested",
      message: `${competitor}: ${plural(created, "new signal")} from ${url}` + (updated > 0 ? ` (${updated} updated)` : ""),
      detail: { url, competitor, created, updated, entryKeys: newKeys.slice(0, 50) },
    });
  }
  if (state.outcome === "failed" && before.outcome !== "failed") {
    out.push({
      type: "feed_failed",
      message: `feed ${url} ${state.health || "failed"}`,
      detail: { url, status: state.lastStatus ?? null, errorCount: state.errorCount },
    });
  } else if (before.outcome === "failed" && state.outcome !== undefined && state.outcome !== "failed") {
    out.push({
      type: "feed_recovered",
      message: `feed ${url} answers again (${state.outcome})`,
      detail: { url, status: state.lastStatus ?? null },
    });
  }
  return out;
}

export function opportunityCreated(title: string): Said {
  return { type: "opportunity_created", message: `opportunity created: ${title}`, detail: { stage: "analysis" } };
}

export function opportunityMoved(title: string, from: string, to: string): Said {
  return { type: "opportunity_moved", message: `opportunity moved to ${to}: ${title}`, detail: { from, to } };
}

/** `before`: the market score stored until now (undefined: none). */
export function marketAnalysed(title: string, before: number | undefined, marketScore: number, analysis: unknown): Said {
  return {
    type: "market_analysed",
    message: `market score ${number(marketScore)}: ${title}`,
    detail: { from: before ?? null, to: marketScore, signals: count(field(analysis, "signals")) },
  };
}

/** `stored`: how many responses the survey held before. */
export function surveyRecorded(title: string, stored: number, survey: unknown): Said {
  const n = count(field(survey, "responses"));
  const s = score(field(survey, "score"));
  return {
    type: "survey_recorded",
    message: `survey: ${plural(n, "respondent")}${s !== null ? `, validation ${number(s)}` : ""}: ${title}`,
    detail: { respondents: n, added: n - stored, score: s },
  };
}

/** How many responses a stored survey holds (for the check-and-set). */
export function surveyResponses(survey: unknown): number {
  return count(field(survey, "responses"));
}

/**
 * `decision_made`, or `decision_overridden` when the decision carries an override (already
 * checked to have a reason). `previous`: the decision stored until now. `computed`, `inputs` and
 * the previous decision may be anything JSON: a missing step reads as null.
 */
export function decision(title: string, d: { verdict: string; override?: unknown }, previous: unknown): Said {
  const detail: Record<string, unknown> = {
    verdict: d.verdict,
    previous: field(previous, "verdict"),
    computed: field(d, "computed", "verdict"),
    criteriaVersion: field(d, "inputs", "criteria", "version"),
  };
  const override = d.override ?? null;
  if (override !== null) {
    const reason = field(override, "reason");
    detail.reason = reason;
    return {
      type: "decision_overridden",
      message: `decision overridden to ${d.verdict}: ${title} (${String(reason)})`,
      detail,
    };
  }
  return { type: "decision_made", message: `decision: ${d.verdict}: ${title}`, detail };
}
