import { convexTest } from "convex-test";
import { ConvexError } from "convex/values";
import { describe, expect, test } from "vitest";
import { internal } from "../_generated/api";
import schema from "../schema";

const modules = import.meta.glob("/convex/**/*.*s");

describe("messages:send", () => {
  test("posts a message with no attachments and logs message_sent", async () => {
    const t = convexTest(schema, modules);
    const { agent } = await t.mutation(internal.console.agents.upsert, { agentId: "veda", name: "Veda", role: "r" });
    const task = await t.mutation(internal.console.tasks.create, { title: "T", description: "d" });
    const msg = await t.mutation(internal.console.messages.send, {
      taskId: task._id,
      fromAgentId: agent._id,
      content: "hello",
    });
    expect(msg).toMatchObject({ taskId: task._id, fromAgentId: agent._id, content: "hello", attachments: [] });
    const last = await t.run((ctx) => ctx.db.query("activities").order("desc").first());
    expect(last).toMatchObject({
      type: "message_sent",
      agentId: agent._id,
      targetId: task._id,
      actor: "operator",
    });
  });

  test("a missing task is a NotFound ConvexError and writes nothing", async () => {
    const t = convexTest(schema, modules);
    const { agent } = await t.mutation(internal.console.agents.upsert, { agentId: "veda", name: "Veda", role: "r" });
    const task = await t.mutation(internal.console.tasks.create, { title: "T", description: "d" });
    await t.run((ctx) => ctx.db.delete(task._id));
    const err = await t
      .mutation(internal.console.messages.send, { taskId: task._id, fromAgentId: agent._id, content: "x" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConvexError);
    expect((err as ConvexError<{ code: string }>).data.code).toBe("NotFound");
    expect(await t.run((ctx) => ctx.db.query("messages").collect())).toEqual([]);
  });
});
