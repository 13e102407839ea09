import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { internal } from "../_generated/api";
import schema from "../schema";
import { decision, flip, number, taskUpdated } from "./activities";

const modules = import.meta.glob("/convex/**/*.*s");

describe("activities", () => {
  test("log writes one activity, actor defaulting to operator", async () => {
    const t = convexTest(schema, modules);
    const a = await t.mutation(internal.console.activities.log, {
      type: "note",
      message: "hello",
      targetId: "x",
      detail: { n: 1, nested: { ok: true } },
    });
    expect(a).toMatchObject({ type: "note", message: "hello", actor: "operator", targetId: "x" });
    expect(a.detail).toEqual({ n: 1, nested: { ok: true } });
    const b = await t.mutation(internal.console.activities.log, { type: "note", message: "m", actor: "ci" });
    expect(b.actor).toBe("ci");
    expect(b.detail).toBeUndefined();
  });

  test("list is newest first, limited, with an exclusive `before`", async () => {
    const t = convexTest(schema, modules);
    const rows = [];
    for (let i = 0; i < 5; i++) {
      rows.push(await t.mutation(internal.console.activities.log, { type: "n", message: `m${i}` }));
    }
    const top = await t.query(internal.console.activities.list, { limit: 3 });
    expect(top.map((a) => a.message)).toEqual(["m4", "m3", "m2"]);
    const older = await t.query(internal.console.activities.list, {
      limit: 10,
      before: top[2]._creationTime,
    });
    expect(older.map((a) => a.message)).toEqual(["m1", "m0"]);
    expect(await t.query(internal.console.activities.list, { limit: 0 })).toEqual([]);
  });
});

describe("activities:log with a key", () => {
  test("the same key logged twice is one activity", async () => {
    const t = convexTest(schema, modules);
    const a = await t.mutation(internal.console.activities.log, { type: "gateway_down", message: "m", key: "k1" });
    const b = await t.mutation(internal.console.activities.log, { type: "gateway_down", message: "m", key: "k1" });
    const c = await t.mutation(internal.console.activities.log, { type: "gateway_down", message: "m", key: "k2" });
    expect(b._id).toBe(a._id);
    expect(c._id).not.toBe(a._id);
    const all = await t.run((ctx) => ctx.db.query("activities").collect());
    expect(all).toHaveLength(2);
  });
});

describe("the wording (the same as console/service/store/activities.py)", () => {
  test("number: 6 significant digits, plain decimal notation, never an exponent", () => {
    const cases: [number, string][] = [
      [0.00001, "0.00001"],
      [1e-7, "0.0000001"],
      [0.72, "0.72"],
      [3, "3"],
      [-0.5, "-0.5"],
      [0.1 + 0.2, "0.3"],
      [2 / 3, "0.666667"],
      [1234567, "1234570"],
      [999999.5, "1000000"],
      [123456.5, "123457"],
      [1e21, "1000000000000000000000"],
      [1.23e-18, "0.00000000000000000123"],
      [0, "0"],
    ];
    for (const [x, words] of cases) expect(number(x)).toBe(words);
  });

  test("a task update is worded with the title after it", () => {
    const said = taskUpdated("new", { status: { from: "review", to: "done" }, title: { from: "old", to: "new" } });
    expect(said).toMatchObject({ type: "task_completed", message: "task completed: new" });
  });

  test("a flip's detail names both statuses and the reason when there is one", () => {
    expect(flip("veda", 5, "up", "down", undefined).detail).toEqual({ agentId: "veda", at: 5, from: "up", to: "down" });
    expect(flip("veda", 5, "up", "down", "").message).toBe("veda: up → down");
    expect(flip("veda", 5, "up", "down", "late").detail.reason).toBe("late");
  });

  test("a decision whose computed part or inputs are not objects reads them as null", () => {
    const said = decision("T", { verdict: "go", computed: null, inputs: "x" } as never, { verdict: "no_go" });
    expect(said.detail).toEqual({ verdict: "go", previous: "no_go", computed: null, criteriaVersion: null });
  });

  test("the functions write it: completed with the new title, messages, a blank task title refused", async () => {
    const t = convexTest(schema, modules);
    const { agent } = await t.mutation(internal.console.agents.upsert, { agentId: "veda", name: "Veda", role: "r" });
    const task = await t.mutation(internal.console.tasks.create, { title: "old", description: "" });
    await t.mutation(internal.console.tasks.update, { id: task._id, title: "new", status: "done" });
    await t.mutation(internal.console.messages.send, { taskId: task._id, fromAgentId: agent._id, content: "c" });
    const [sent, done] = await t.query(internal.console.activities.list, { limit: 2 });
    expect(done.message).toBe("task completed: new");
    expect(sent).toMatchObject({ type: "message_sent", message: 'commented on "new"', agentId: agent._id });
    await expect(t.mutation(internal.console.tasks.create, { title: "  ", description: "" })).rejects.toThrow(
      /a task needs a title/,
    );
  });
});
