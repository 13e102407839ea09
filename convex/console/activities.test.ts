import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { internal } from "../_generated/api";
import schema from "../schema";

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
