import { v } from "convex/values";
import { internalMutation, internalQuery } from "../_generated/server";
import { flip as flipSaid } from "./activities";
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
    await writeActivity(ctx, {
      ...flipSaid(args.agentId, args.at, args.from, args.to, args.reason),
      agentId: agent?._id,
      actor,
      targetId: id,
    });
    return flip;
  },
});

/** Flips by their (backdated) time `at`, ascending: `since <= at < until`, one agent or all. */
export const list = internalQuery({
  args: byTimeArgs,
  handler: async (ctx, args) => listByTime(ctx, "flips", args),
});
