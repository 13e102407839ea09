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
