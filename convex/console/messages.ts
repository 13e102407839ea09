import { v } from "convex/values";
import { internalMutation } from "../_generated/server";
import { messageSent } from "./activities";
import { notFound, writeActivity } from "./lib";

/** Posts a message on a task's thread. */
export const send = internalMutation({
  args: {
    taskId: v.id("tasks"),
    fromAgentId: v.id("agents"),
    content: v.string(),
    actor: v.optional(v.string()),
  },
  handler: async (ctx, args) => {
    const task = await ctx.db.get(args.taskId);
    if (task === null) throw notFound(`task ${args.taskId} not found`);
    if ((await ctx.db.get(args.fromAgentId)) === null) throw notFound(`agent ${args.fromAgentId} not found`);
    const id = await ctx.db.insert("messages", {
      taskId: args.taskId,
      fromAgentId: args.fromAgentId,
      content: args.content,
      attachments: [],
    });
    await writeActivity(ctx, {
      ...messageSent(task.title, id),
      agentId: args.fromAgentId,
      actor: args.actor,
      targetId: args.taskId,
    });
    return (await ctx.db.get(id))!;
  },
});
