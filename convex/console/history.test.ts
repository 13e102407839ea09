import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { internal } from "../_generated/api";
import schema from "../schema";
import { DAY_MS } from "./history";

const modules = import.meta.glob("/convex/**/*.*s");
const D0 = 1_767_225_600_000; // a UTC midnight

describe("history", () => {
  test("recorded beats come back compact, by agent, with the newest error and every flip", async () => {
    const t = convexTest(schema, modules);
    const beat = (agentId: string, at: number, outcome: "ok" | "error", extra = {}) =>
      t.mutation(internal.console.heartbeats.record, { agentId, at, outcome, source: "openclaw", ...extra });
    await beat("veda", D0 + 900_000, "ok", { tokens: 1500, costUsd: 0.0021 });
    await beat("veda", D0 + 60_000, "error", { error: "WhatsApp 401" }); // recorded late
    await beat("veda", D0 + DAY_MS + 5, "ok");
    await beat("orin", D0 + 1_800_000.4, "ok");
    await beat("veda", D0 + 900_000, "ok", { tokens: 1500, costUsd: 0.0021 }); // the same run again
    await t.mutation(internal.console.flips.record, { agentId: "veda", at: D0 + 120_000, from: "up", to: "failing" });
    const h = await t.query(internal.console.history.get, { since: D0, until: D0 + 2 * DAY_MS });
    expect(h.stale).toBe(false);
    expect(h.next).toBeNull();
    expect(h.flips).toHaveLength(1);
    const veda = h.agents.find((a) => a.agentId === "veda")!;
    expect(veda.days.map((d) => d.day)).toEqual([D0, D0 + DAY_MS]);
    expect(veda.days[0].runs).toBe(
      (60_000).toString(36).padStart(6, "0") + "e" + (900_000).toString(36).padStart(6, "0") + "o",
    );
    expect(veda.days[0].tokens).toBe("," + (1500).toString(36));
    expect(veda.days[0].cost).toBe("," + (2100).toString(36));
    expect(veda.days[0].lastError).toBe("WhatsApp 401");
  });

  test("beats from before the table: stale until rebuilt, and a rebuild twice is one", async () => {
    const t = convexTest(schema, modules);
    await t.run(async (ctx) => {
      for (let i = 0; i < 5; i++) {
        await ctx.db.insert("heartbeats", { agentId: "cestra", at: D0 + i * 900_000, outcome: "ok", source: "openclaw", runId: `r${i}` });
      }
    });
    const before = await t.query(internal.console.history.get, { since: D0, until: D0 + DAY_MS });
    expect(before.stale).toBe(true);
    for (let k = 0; k < 2; k++) {
      let after: number | undefined;
      for (;;) {
        const r = await t.mutation(internal.console.history.rebuild, { after, limit: 2 });
        if (r.next === null) break;
        after = r.next;
      }
    }
    const h = await t.query(internal.console.history.get, { since: D0, until: D0 + DAY_MS });
    expect(h.stale).toBe(false);
    expect(h.agents[0].days[0].runs.length).toBe(5 * 7);
  });
});
