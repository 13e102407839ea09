/**
 * The console's own tables, and the console's optional fields on Mission Control's tables.
 *
 * An existing Mission Control project adds the console to its schema with:
 *
 *   defineSchema({
 *     agents: defineTable({ ...itsAgentFields, ...missionControlFields.agents }),
 *     tasks: defineTable({ ...itsTaskFields, ...missionControlFields.tasks }),
 *     activities: defineTable({ ...itsActivityFields, ...missionControlFields.activities }),
 *     ...consoleTables,
 *   })
 *
 * In these console tables `agentId` is the OpenClaw id (`veda`), a plain string.
 */
import { defineTable } from "convex/server";
import { v } from "convex/values";

/** Mission Control's agent statuses. */
export const agentStatus = v.union(v.literal("idle"), v.literal("active"), v.literal("blocked"));

/** Mission Control's task statuses. */
export const taskStatus = v.union(
  v.literal("inbox"),
  v.literal("assigned"),
  v.literal("in_progress"),
  v.literal("review"),
  v.literal("done"),
  v.literal("blocked"),
);

/** The pipeline's stages (DESIGN §8); the last three are the verdicts. */
export const opportunityStage = v.union(
  v.literal("analysis"),
  v.literal("validation"),
  v.literal("decision"),
  v.literal("go"),
  v.literal("no_go"),
  v.literal("more_data"),
);

export const feedOutcome = v.union(
  v.literal("ok"),
  v.literal("not_modified"),
  v.literal("degraded"),
  v.literal("failed"),
);

export const heartbeatOutcome = v.union(v.literal("ok"), v.literal("error"));

/** Optional fields the console adds to Mission Control's `agents`, `tasks`, `activities`. */
export const missionControlFields = {
  agents: {
    /** The OpenClaw id; absent on agents written by Mission Control (derive it from sessionKey). */
    agentId: v.optional(v.string()),
    workspace: v.optional(v.string()),
    /** The heartbeat cron expression. */
    heartbeat: v.optional(v.string()),
    tz: v.optional(v.string()),
    graceSeconds: v.optional(v.number()),
    updatedAt: v.optional(v.number()),
  },
  tasks: {
    updatedAt: v.optional(v.number()),
  },
  activities: {
    /** Who acted: `operator` when a person did. */
    actor: v.optional(v.string()),
    targetId: v.optional(v.string()),
    detail: v.optional(v.any()),
  },
};

export const consoleTables = {
  /** Idempotency keys of activities sent from an outbox (see activities:log). */
  activityKeys: defineTable({
    key: v.string(),
    activityId: v.id("activities"),
  }).index("by_key", ["key"]),

  heartbeats: defineTable({
    agentId: v.string(),
    at: v.number(),
    outcome: heartbeatOutcome,
    durationMs: v.optional(v.number()),
    error: v.optional(v.string()),
    delivery: v.optional(v.string()),
    source: v.string(),
    runId: v.string(),
    model: v.optional(v.string()),
    tokens: v.optional(v.number()),
    costUsd: v.optional(v.number()),
  })
    .index("by_runId", ["runId"])
    .index("by_agent_at", ["agentId", "at"])
    .index("by_at", ["at"]),

  /**
   * Each agent's runs of one UTC day, compact (docs/cost.md): what the console's health screens
   * need of eight days of history comes in one read of about nine documents per agent, not one
   * document per beat. Kept by heartbeats:record (and history:rebuild for beats recorded before).
   * `runs`: 7 characters a run, by time: the ms of the day in base 36 (6), then `o` (ok) or `e`
   * (error). `tokens`, `cost`: one base-36 integer a run (tokens; micro-USD), comma-separated, in
   * the same order, empty when the run had none. `lastError`: the newest failed run's error.
   */
  heartbeatDays: defineTable({
    agentId: v.string(),
    day: v.number(),
    runs: v.string(),
    tokens: v.string(),
    cost: v.string(),
    lastError: v.optional(v.string()),
  }).index("by_day_agent", ["day", "agentId"]),

  flips: defineTable({
    agentId: v.string(),
    at: v.number(),
    from: v.string(),
    to: v.string(),
    reason: v.optional(v.string()),
  })
    .index("by_agent_at", ["agentId", "at"])
    .index("by_at", ["at"]),

  vault: defineTable({
    name: v.string(),
    version: v.number(),
    /** Ciphertext only. */
    record: v.string(),
    kid: v.string(),
    createdAt: v.number(),
    deleted: v.boolean(),
  }).index("by_name_version", ["name", "version"]),

  feeds: defineTable({
    url: v.string(),
    competitor: v.string(),
    etag: v.optional(v.string()),
    lastModified: v.optional(v.string()),
    lastFetchedAt: v.optional(v.number()),
    lastStatus: v.optional(v.number()),
    errorCount: v.number(),
    nextFetchAt: v.optional(v.number()),
    /** The last fetch: ok | not_modified | degraded | failed, and that in words. */
    outcome: v.optional(v.string()),
    health: v.optional(v.string()),
  }).index("by_url", ["url"]),

  signals: defineTable({
    feedUrl: v.string(),
    entryKey: v.string(),
    title: v.string(),
    link: v.optional(v.string()),
    publishedAt: v.optional(v.number()),
    competitor: v.string(),
    summary: v.optional(v.string()),
  })
    .index("by_feed_entry", ["feedUrl", "entryKey"])
    .index("by_competitor", ["competitor"]),

  /** `analysis`, `survey` and `decision` are the objects console/service/pipeline/__init__.py documents. */
  opportunities: defineTable({
    title: v.string(),
    description: v.optional(v.string()),
    stage: v.string(),
    marketScore: v.optional(v.number()),
    analysis: v.optional(v.any()),
    survey: v.optional(v.any()),
    decision: v.optional(v.any()),
    updatedAt: v.number(),
  }),
};
