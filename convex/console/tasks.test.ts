import { convexTest } from "convex-test";
import { ConvexError } from "convex/values";
import { describe, expect, test } from "vitest";
import { internal } from "../_generated/api";
import schema from "../schema";

const modules = import.meta.glob("/convex/**/*.*s");

async function setup() {
  const t = convexTest(schema, modules);
  const { agent } = await t.mutation(internal.console.agents.upsert, { agentId: "veda", name: "Veda", role: "r" });
  const acts = () => t.run((ctx) => ctx.db.query("activities").collect());
  return { t, agentId: agent._id, acts };
}

describe("tasks:create", () => {
  test("defaults to inbox with no assignees and logs task_created", async () => {
    const { t, acts } = await setup();
    const task = await t.mutation(internal.console.tasks.create, { title: "Write", description: "d" });
    expect(task).toMatchObject({ title: "Write", description: "d", status: "inbox", assigneeIds: [] });
    expect(typeof task.updatedAt).toBe("number");
    const last = (await acts()).at(-1)!;
    expect(last).toMatchObject({ type: "task_created", targetId: task._id, actor: "operator" });
  });

  test("takes a status, assignees and an actor", async () => {
    const { t, agentId, acts } = await setup();
    const task = await t.mutation(internal.console.tasks.create, {
      title: "Write",
      description: "d",
      status: "assigned",
      assigneeIds: [agentId],
      actor: "lead",
    });
    expect(task).toMatchObject({ status: "assigned", assigneeIds: [agentId] });
    expect((await acts()).at(-1)).toMatchObject({ type: "task_created", actor: "lead" });
    expect(await t.query(internal.console.tasks.list, {})).toEqual([task]);
  });
});

describe("tasks:update", () => {
  test("picks the activity type from what changed", async () => {
    const { t, agentId, acts } = await setup();
    const task = await t.mutation(internal.console.tasks.create, { title: "T", description: "d" });
    const update = (args: Record<string, unknown>) =>
      t.mutation(internal.console.tasks.update, { id: task._id, ...args });

    await update({ assigneeIds: [agentId], status: "assigned" });
    await update({ status: "in_progress" });
    await update({ title: "T2", description: "d2" });
    const done = await update({ status: "done", assigneeIds: [] });
    expect(done).toMatchObject({ title: "T2", description: "d2", status: "done", assigneeIds: [] });

    const log = (await acts()).filter((a) => a.targetId === task._id);
    expect(log.map((a) => a.type)).toEqual([
      "task_created",
      "task_assigned",
      "task_moved",
      "task_updated",
      "task_completed",
    ]);
    expect(log[1].detail).toEqual({
      changes: { status: { from: "inbox", to: "assigned" }, assigneeIds: { from: [], to: [agentId] } },
    });
    expect(log[3].detail).toEqual({
      changes: { title: { from: "T", to: "T2" }, description: { from: "d", to: "d2" } },
    });
  });

  test("sets updatedAt; nothing changed writes nothing", async () => {
    const { t, acts } = await setup();
    const task = await t.mutation(internal.console.tasks.create, { title: "T", description: "d" });
    const before = (await acts()).length;
    const same = await t.mutation(internal.console.tasks.update, { id: task._id, status: "inbox", title: "T" });
    expect(same).toEqual(task);
    expect(await acts()).toHaveLength(before);
    const moved = await t.mutation(internal.console.tasks.update, { id: task._id, status: "review" });
    expect(moved.updatedAt!).toBeGreaterThanOrEqual(task.updatedAt!);
  });

  test("a missing task is a NotFound ConvexError", async () => {
    const { t } = await setup();
    const task = await t.mutation(internal.console.tasks.create, { title: "T", description: "d" });
    await t.run((ctx) => ctx.db.delete(task._id));
    const err = await t
      .mutation(internal.console.tasks.update, { id: task._id, status: "done" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConvexError);
    expect((err as ConvexError<{ code: string; message: string }>).data).toEqual({
      code: "NotFound",
      message: `task ${task._id} not found`,
    });
  });
});

describe("tasks:remove", () => {
  test("takes the task off the board, keeps its messages, logs task_removed", async () => {
    const { t, agentId, acts } = await setup();
    const task = await t.mutation(internal.console.tasks.create, {
      title: "Fix [/api/login] 500s",
      description: "",
      assigneeIds: [agentId],
    });
    await t.mutation(internal.console.messages.send, { taskId: task._id, fromAgentId: agentId, content: "on it" });
    const removed = await t.mutation(internal.console.tasks.remove, { id: task._id, actor: "operator" });
    expect(removed).toMatchObject({ title: "Fix [/api/login] 500s" });
    expect(await t.query(internal.console.tasks.list, {})).toEqual([]);
    expect(await t.run((ctx) => ctx.db.query("messages").collect())).toHaveLength(1);
    expect((await acts()).at(-1)).toMatchObject({
      type: "task_removed",
      message: "task removed: Fix [/api/login] 500s",
      targetId: task._id,
      actor: "operator",
    });
  });

  test("a task already gone is not found", async () => {
    const { t } = await setup();
    const task = await t.mutation(internal.console.tasks.create, { title: "x", description: "" });
    await t.mutation(internal.console.tasks.remove, { id: task._id });
    await expect(t.mutation(internal.console.tasks.remove, { id: task._id })).rejects.toThrow(ConvexError);
  });
});
