import { v } from "convex/values";
import { internalMutation, internalQuery } from "../_generated/server";
import { clampLimit, defined, findAgentByOpenClawId, writeActivity } from "./lib";

/** Records an agent's status change (`up` -> `down`, ...) and its `heartbeat_<to>` activity. */
export const record = internalMutation({
  args: {
    agentId: v.string(),
    at: v.number(),
    from: v.string(),
    to: v.string(),
    reason: v.optional(v.string()),
    actor: v.optional(v.string()),
  },
  handler: async (ctx, args) => {
    const { actor, ...fields } = args;
    const id = await ctx.db.insert("flips", defined(fields));
    const flip = (await ctx.db.get(id))!;
    const agent = await findAgentByOpenClawId(ctx, args.agentId);
    const why = args.reason ? ` (${args.reason})` : "";
    await writeActivity(ctx, {
      type: `heartbeat_${args.to}`,
      message: `${args.agentId}: ${args.from} → ${args.to}${why}`,
      agentId: agent?._id,
      actor,
      targetId: id,
      detail: defined({ agentId: args.agentId, at: args.at, from: args.from, to: args.to, reason: args.reason }),
    });
    return flip;
  },
});

/** Flips by their (backdated) time `at`, ascending: `since <= at < until`, one agent or all. */
export const list = internalQuery({
  args: {
    agentId: v.optional(v.string()),
    since: v.number(),
    until: v.optional(v.number()),
    limit: v.number(),
  },
  handler: async (ctx, { agentId, since, until, limit }) => {
    const n = clampLimit(limit);
    if (agentId !== undefined) {
      return ctx.db
        .query("flips")
        .withIndex("by_agent_at", (q) => {
          const lower = q.eq("agentId", agentId).gte("at", since);
          return until === undefined ? lower : lower.lt("at", until);
        })
        .take(n);
    }
    return ctx.db
      .query("flips")
      .withIndex("by_at", (q) => {
        const lower = q.gte("at", since);
        return until === undefined ? lower : lower.lt("at", until);
      })
      .take(n);
  },
});
