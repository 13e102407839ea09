import { v } from "convex/values";
import { internalMutation, internalQuery } from "../_generated/server";
import { heartbeatFailed } from "./activities";
import { foldBeat } from "./history";
import { byTimeArgs, defined, findAgentByOpenClawId, listByTime, writeActivity } from "./lib";
import { heartbeatOutcome } from "./tables";

/**
 * Records one heartbeat run, idempotent by `runId` (default `source:agentId:at`, `at` in whole
 * ms). A run already recorded is returned as it is with `created: false`. An `ok` beat writes no
 * activity (the table is its own log); a new failed beat writes `heartbeat_failed`.
 */
export const record = internalMutation({
  args: {
    agentId: v.string(),
    at: v.number(),
    outcome: heartbeatOutcome,
    durationMs: v.optional(v.number()),
    error: v.optional(v.string()),
    delivery: v.optional(v.string()),
    source: v.string(),
    runId: v.optional(v.string()),
    model: v.optional(v.string()),
    tokens: v.optional(v.number()),
    costUsd: v.optional(v.number()),
    actor: v.optional(v.string()),
  },
  handler: async (ctx, args) => {
    const { actor, ...fields } = args;
    const runId = args.runId ?? `${args.source}:${args.agentId}:${Math.trunc(args.at)}`;
    const existing = await ctx.db
      .query("heartbeats")
      .withIndex("by_runId", (q) => q.eq("runId", runId))
      .first();
    if (existing !== null) return { heartbeat: existing, created: false };

    const id = await ctx.db.insert("heartbeats", defined({ ...fields, runId }));
    const heartbeat = (await ctx.db.get(id))!;
    await foldBeat(ctx, heartbeat); // the compact history the console starts from (history.ts)
    if (heartbeat.outcome === "error") {
      const agent = await findAgentByOpenClawId(ctx, args.agentId);
      await writeActivity(ctx, {
        ...heartbeatFailed(args.agentId, args.error, runId),
        agentId: agent?._id,
        actor: actor ?? args.source,
        targetId: id,
      });
    }
    return { heartbeat, created: true };
  },
});

/** Heartbeats by `at` ascending, `since <= at < until`, of one agent or all. */
export const list = internalQuery({
  args: byTimeArgs,
  handler: async (ctx, args) => listByTime(ctx, "heartbeats", args),
});
