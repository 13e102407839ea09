import { v } from "convex/values";
import { internalMutation, internalQuery } from "../_generated/server";
import { byTimeArgs, defined, findAgentByOpenClawId, listByTime, writeActivity } from "./lib";

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
  args: byTimeArgs,
  handler: async (ctx, args) => listByTime(ctx, "flips", args),
});
