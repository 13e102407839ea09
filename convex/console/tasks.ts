import { v } from "convex/values";
import type { Doc } from "../_generated/dataModel";
import { internalMutation, internalQuery } from "../_generated/server";
import { taskCreated, taskRemoved, taskUpdated } from "./activities";
import { badValue, notFound, writeActivity } from "./lib";
import { taskStatus } from "./tables";

export const create = internalMutation({
  args: {
    title: v.string(),
    description: v.string(),
    status: v.optional(taskStatus),
    assigneeIds: v.optional(v.array(v.id("agents"))),
    actor: v.optional(v.string()),
  },
  handler: async (ctx, args) => {
    if (args.title.trim() === "") throw badValue("title", "a task needs a title");
    const id = await ctx.db.insert("tasks", {
      title: args.title,
      description: args.description,
      status: args.status ?? "inbox",
      assigneeIds: args.assigneeIds ?? [],
      updatedAt: Date.now(),
    });
    const task = (await ctx.db.get(id))!;
    await writeActivity(ctx, {
      ...taskCreated(task.title, task.status, task.assigneeIds),
      actor: args.actor,
      targetId: id,
    });
    return task;
  },
});

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Changes a task; its activity is worded by `taskUpdated` (activities.ts), with the new title.
 * Nothing changed: no write, no activity.
 */
export const update = internalMutation({
  args: {
    id: v.id("tasks"),
    status: v.optional(taskStatus),
    assigneeIds: v.optional(v.array(v.id("agents"))),
    title: v.optional(v.string()),
    description: v.optional(v.string()),
    actor: v.optional(v.string()),
  },
  handler: async (ctx, args) => {
    const task = await ctx.db.get(args.id);
    if (task === null) throw notFound(`task ${args.id} not found`);

    const changes: Record<string, { from: unknown; to: unknown }> = {};
    const patch: Partial<Doc<"tasks">> = {};
    if (args.status !== undefined && args.status !== task.status) {
      changes.status = { from: task.status, to: args.status };
      patch.status = args.status;
    }
    if (args.assigneeIds !== undefined && !sameIds(args.assigneeIds, task.assigneeIds)) {
      changes.assigneeIds = { from: task.assigneeIds, to: args.assigneeIds };
      patch.assigneeIds = args.assigneeIds;
    }
    if (args.title !== undefined && args.title !== task.title) {
      changes.title = { from: task.title, to: args.title };
      patch.title = args.title;
    }
    if (args.description !== undefined && args.description !== task.description) {
      changes.description = { from: task.description, to: args.description };
      patch.description = args.description;
    }
    if (Object.keys(changes).length === 0) return task;

    patch.updatedAt = Date.now();
    await ctx.db.patch(task._id, patch);
    const updated = (await ctx.db.get(task._id))!;

    await writeActivity(ctx, { ...taskUpdated(updated.title, changes), actor: args.actor, targetId: updated._id });
    return updated;
  },
});

/**
 * Removes a task (the operator's choice, audited; a task whose title broke an older console can
 * go). Its messages stay, as Mission Control's history. Returns the task as it was.
 */
export const remove = internalMutation({
  args: { id: v.id("tasks"), actor: v.optional(v.string()) },
  handler: async (ctx, args) => {
    const task = await ctx.db.get(args.id);
    if (task === null) throw notFound(`task ${args.id} not found`);
    await ctx.db.delete(task._id);
    await writeActivity(ctx, {
      ...taskRemoved(task.title, task.status, task.assigneeIds),
      actor: args.actor,
      targetId: task._id,
    });
    return task;
  },
});

/** All tasks, oldest first. */
export const list = internalQuery({
  args: {},
  handler: async (ctx) => ctx.db.query("tasks").collect(),
});
