import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { internal } from "../_generated/api";
import schema from "../schema";

const modules = import.meta.glob("/convex/**/*.*s");
const T0 = 1_750_000_000_000;

describe("heartbeats:record", () => {
  test("an ok beat is one row, idempotent by runId, with no activity", async () => {
    const t = convexTest(schema, modules);
    const beat = { agentId: "veda", at: T0, outcome: "ok" as const, source: "openclaw", runId: "run-1", durationMs: 1200 };
    const first = await t.mutation(internal.console.heartbeats.record, beat);
    expect(first.created).toBe(true);
    expect(first.heartbeat).toMatchObject(beat);
    const again = await t.mutation(internal.console.heartbeats.record, { ...beat, durationMs: 999 });
    expect(again.created).toBe(false);
    expect(again.heartbeat).toEqual(first.heartbeat);
    const rows = await t.run((ctx) => ctx.db.query("heartbeats").collect());
    expect(rows).toHaveLength(1);
    expect(await t.run((ctx) => ctx.db.query("activities").collect())).toEqual([]);
  });

  test("without a runId, the run is source:agentId:at", async () => {
    const t = convexTest(schema, modules);
    const beat = { agentId: "veda", at: T0, outcome: "ok" as const, source: "push" };
    const first = await t.mutation(internal.console.heartbeats.record, beat);
    expect(first.heartbeat.runId).toBe(`push:veda:${T0}`);
    const again = await t.mutation(internal.console.heartbeats.record, beat);
    expect(again).toMatchObject({ created: false, heartbeat: { _id: first.heartbeat._id } });
  });

  test("a new failed beat writes heartbeat_failed once, tied to the agent", async () => {
    const t = convexTest(schema, modules);
    // A Mission Control agent: only its session key names it.
    const agentDocId = await t.run((ctx) =>
      ctx.db.insert("agents", { name: "Veda", role: "r", status: "active", sessionKey: "agent:veda:main" }),
    );
    const beat = {
      agentId: "veda",
      at: T0,
      outcome: "error" as const,
      error: "timeout",
      source: "openclaw",
      runId: "run-9",
    };
    const r = await t.mutation(internal.console.heartbeats.record, beat);
    await t.mutation(internal.console.heartbeats.record, beat);
    const acts = await t.run((ctx) => ctx.db.query("activities").collect());
    expect(acts).toHaveLength(1);
    expect(acts[0]).toMatchObject({
      type: "heartbeat_failed",
      agentId: agentDocId,
      actor: "openclaw",
      targetId: r.heartbeat._id,
      detail: { agentId: "veda", runId: "run-9" },
    });
    expect(acts[0].message).toContain("veda heartbeat failed: timeout");
  });

  test("a failed beat of an unknown agent has no agentId, and takes the given actor", async () => {
    const t = convexTest(schema, modules);
    await t.mutation(internal.console.heartbeats.record, {
      agentId: "ghost",
      at: T0,
      outcome: "error",
      source: "manual",
      actor: "ops",
    });
    const [a] = await t.run((ctx) => ctx.db.query("activities").collect());
    expect(a.agentId).toBeUndefined();
    expect(a.actor).toBe("ops");
  });
});

describe("heartbeats:list", () => {
  test("by at ascending, since inclusive, until exclusive, per agent or all", async () => {
    const t = convexTest(schema, modules);
    // Recorded out of order: the list follows `at`, not insertion.
    for (const [agentId, dt] of [["veda", 30], ["veda", 10], ["kai", 20], ["veda", 20], ["kai", 0]] as const) {
      await t.mutation(internal.console.heartbeats.record, { agentId, at: T0 + dt, outcome: "ok", source: "push" });
    }
    const veda = await t.query(internal.console.heartbeats.list, { agentId: "veda", since: T0, limit: 10 });
    expect(veda.map((h) => h.at - T0)).toEqual([10, 20, 30]);
    const window = await t.query(internal.console.heartbeats.list, {
      agentId: "veda",
      since: T0 + 10,
      until: T0 + 30,
      limit: 10,
    });
    expect(window.map((h) => h.at - T0)).toEqual([10, 20]);
    const all = await t.query(internal.console.heartbeats.list, { since: T0 + 5, limit: 3 });
    expect(all.map((h) => [h.agentId, h.at - T0])).toEqual([
      ["veda", 10],
      ["kai", 20],
      ["veda", 20],
    ]);
    const allUntil = await t.query(internal.console.heartbeats.list, { since: T0, until: T0 + 20, limit: 10 });
    expect(allUntil.map((h) => h.at - T0)).toEqual([0, 10]);
  });
});
