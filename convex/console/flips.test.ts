import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { internal } from "../_generated/api";
import schema from "../schema";

const modules = import.meta.glob("/convex/**/*.*s");

describe("flips:record", () => {
  test("records the flip and a heartbeat_<to> activity", async () => {
    const t = convexTest(schema, modules);
    const { agent } = await t.mutation(internal.console.agents.upsert, { agentId: "veda", name: "Veda", role: "r" });
    const flip = await t.mutation(internal.console.flips.record, {
      agentId: "veda",
      at: 1_750_000_000_000,
      from: "up",
      to: "down",
      reason: "missed 2 beats",
    });
    expect(flip).toMatchObject({ agentId: "veda", from: "up", to: "down", reason: "missed 2 beats" });
    const last = await t.run((ctx) => ctx.db.query("activities").order("desc").first());
    expect(last).toMatchObject({
      type: "heartbeat_down",
      message: "veda: up → down (missed 2 beats)",
      agentId: agent._id,
      targetId: flip._id,
      actor: "operator",
    });

    await t.mutation(internal.console.flips.record, { agentId: "veda", at: 1_750_000_100_000, from: "down", to: "up", actor: "watchdog" });
    const back = await t.run((ctx) => ctx.db.query("activities").order("desc").first());
    expect(back).toMatchObject({ type: "heartbeat_up", message: "veda: down → up", actor: "watchdog" });
    expect(await t.run((ctx) => ctx.db.query("flips").collect())).toHaveLength(2);
  });
});

describe("flips:list", () => {
  test("by backdated time, one agent or all, within [since, until)", async () => {
    const t = convexTest(schema, modules);
    for (const [agentId, at] of [["veda", 300], ["orin", 100], ["veda", 200]] as const) {
      await t.mutation(internal.console.flips.record, { agentId, at, from: "up", to: "down" });
    }
    const all = await t.query(internal.console.flips.list, { since: 0, limit: 10 });
    expect(all.map((f) => [f.agentId, f.at])).toEqual([["orin", 100], ["veda", 200], ["veda", 300]]);
    const veda = await t.query(internal.console.flips.list, { agentId: "veda", since: 150, until: 300, limit: 10 });
    expect(veda.map((f) => f.at)).toEqual([200]);
  });
});
