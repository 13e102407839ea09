import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { internal } from "../_generated/api";
import schema from "../schema";
import { digest, trimPage } from "./snapshot";

const modules = import.meta.glob("/convex/**/*.*s");

type Since = {
  agents?: string;
  tasks?: string;
  feeds?: string;
  opportunities?: string;
  messages?: number;
  activities?: number;
  heartbeats?: number;
  flips?: number;
};

describe("snapshot:get", () => {
  test("feeds and opportunities come whole when changed, else null", async () => {
    const t = convexTest(schema, modules);
    const s1 = await t.query(internal.console.snapshot.get, { since: {}, limit: 10 });
    expect(s1.feeds).toEqual([]);
    expect(s1.opportunities).toEqual([]);
    const s2 = await t.query(internal.console.snapshot.get, { since: s1.marks, limit: 10 });
    expect([s2.feeds, s2.opportunities]).toEqual([null, null]);
    await t.mutation(internal.console.pipeline.addFeed, { url: "https://x/rss", competitor: "X" });
    const s3 = await t.query(internal.console.snapshot.get, { since: s2.marks, limit: 10 });
    expect(s3.feeds).toEqual([expect.objectContaining({ url: "https://x/rss" })]);
    expect(s3.opportunities).toBeNull();
    const opp = await t.mutation(internal.console.pipeline.createOpportunity, { title: "O" });
    await t.run((ctx) => ctx.db.patch(opp._id, { stage: "validation" })); // a raw patch is seen too
    const s4 = await t.query(internal.console.snapshot.get, { since: s3.marks, limit: 10 });
    expect(s4.feeds).toBeNull();
    expect(s4.opportunities).toEqual([expect.objectContaining({ title: "O", stage: "validation" })]);
  });

  test("an empty store: empty tables, zero marks, then nothing", async () => {
    const t = convexTest(schema, modules);
    const s = await t.query(internal.console.snapshot.get, { since: {}, limit: 10 });
    expect(s).toMatchObject({
      agents: [],
      tasks: [],
      messages: [],
      activities: [],
      heartbeats: [],
      flips: [],
      hasMore: false,
      marks: { messages: 0, activities: 0, heartbeats: 0, flips: 0 },
    });
    expect(typeof s.marks.agents).toBe("string");
    expect(typeof s.serverTime).toBe("number");
    const again = await t.query(internal.console.snapshot.get, { since: s.marks, limit: 10 });
    expect(again).toMatchObject({ agents: null, tasks: null, messages: [], activities: [], hasMore: false });
    expect(again.marks).toEqual(s.marks);
  });

  test("whole tables come back only when changed, including a raw patch without updatedAt", async () => {
    const t = convexTest(schema, modules);
    const { agent } = await t.mutation(internal.console.agents.upsert, { agentId: "veda", name: "Veda", role: "r" });
    await t.mutation(internal.console.tasks.create, { title: "T", description: "d" });
    const s1 = await t.query(internal.console.snapshot.get, { since: {}, limit: 10 });
    expect(s1.agents).toHaveLength(1);
    expect(s1.tasks).toHaveLength(1);

    const s2 = await t.query(internal.console.snapshot.get, { since: s1.marks, limit: 10 });
    expect(s2.agents).toBeNull();
    expect(s2.tasks).toBeNull();

    // Mission Control's own functions patch without updatedAt: the digest still sees it.
    await t.run((ctx) => ctx.db.patch(agent._id, { status: "active" }));
    const s3 = await t.query(internal.console.snapshot.get, { since: s2.marks, limit: 10 });
    expect(s3.agents).toEqual([expect.objectContaining({ _id: agent._id, status: "active", updatedAt: agent.updatedAt })]);
    expect(s3.tasks).toBeNull();
    expect(s3.marks.agents).not.toBe(s2.marks.agents);
    expect(s3.activities).toEqual([]);

    // A row inserted by Mission Control changes it too.
    await t.run((ctx) =>
      ctx.db.insert("tasks", { title: "MC", description: "", status: "inbox", assigneeIds: [] }),
    );
    const s4 = await t.query(internal.console.snapshot.get, { since: s3.marks, limit: 10 });
    expect(s4.agents).toBeNull();
    expect(s4.tasks).toHaveLength(2);
  });

  test("without a mark, the newest rows (a tail), oldest first, and no hasMore", async () => {
    const t = convexTest(schema, modules);
    for (let i = 0; i < 5; i++) {
      await t.mutation(internal.console.activities.log, { type: "n", message: `m${i}` });
    }
    const s = await t.query(internal.console.snapshot.get, { since: {}, limit: 3 });
    expect(s.activities.map((a) => a.message)).toEqual(["m2", "m3", "m4"]);
    expect(s.marks.activities).toBe(s.activities[2]._creationTime);
    expect(s.hasMore).toBe(false);
  });

  test("with marks, only rows inserted since, in pages with hasMore", async () => {
    const t = convexTest(schema, modules);
    const s0 = await t.query(internal.console.snapshot.get, { since: {}, limit: 2 });
    const { agent } = await t.mutation(internal.console.agents.upsert, { agentId: "veda", name: "Veda", role: "r" });
    const task = await t.mutation(internal.console.tasks.create, { title: "T", description: "d" });
    for (let i = 0; i < 3; i++) {
      await t.mutation(internal.console.messages.send, { taskId: task._id, fromAgentId: agent._id, content: `c${i}` });
    }
    // Recorded late: `at` is in the past, but it is a new row all the same.
    await t.mutation(internal.console.heartbeats.record, { agentId: "veda", at: 1, outcome: "ok", source: "push" });
    await t.mutation(internal.console.flips.record, { agentId: "veda", at: 2, from: "up", to: "down" });

    let since: Since = s0.marks;
    const seen = { messages: [] as string[], activities: [] as string[], heartbeats: 0, flips: 0 };
    let polls = 0;
    for (;;) {
      const s = await t.query(internal.console.snapshot.get, { since, limit: 2 });
      polls++;
      seen.messages.push(...s.messages.map((m) => m.content));
      seen.activities.push(...s.activities.map((a) => a.type));
      seen.heartbeats += s.heartbeats.length;
      seen.flips += s.flips.length;
      since = s.marks;
      if (!s.hasMore) break;
      expect(polls).toBeLessThan(10);
    }
    expect(polls).toBe(3);
    expect(seen.messages).toEqual(["c0", "c1", "c2"]);
    expect(seen.activities).toEqual([
      "agent_registered",
      "task_created",
      "message_sent",
      "message_sent",
      "message_sent",
      "heartbeat_down",
    ]);
    expect(seen.heartbeats).toBe(1);
    expect(seen.flips).toBe(1);

    const idle = await t.query(internal.console.snapshot.get, { since, limit: 2 });
    expect(idle).toMatchObject({ messages: [], activities: [], heartbeats: [], flips: [], hasMore: false });
    expect(idle.marks).toEqual(since);
  });

  test("rejects an unknown mark", async () => {
    const t = convexTest(schema, modules);
    await expect(
      t.query(internal.console.snapshot.get, { since: { nope: 1 } as never, limit: 5 }),
    ).rejects.toThrow();
  });
});

describe("trimPage", () => {
  const rows = (...times: number[]) => times.map((c, i) => ({ _creationTime: c, i }));

  test("a short page is whole", () => {
    expect(trimPage(rows(1, 2), 2)).toEqual({ rows: rows(1, 2), more: false });
  });

  test("a long page is cut to limit", () => {
    expect(trimPage(rows(1, 2, 3), 2)).toEqual({ rows: rows(1, 2), more: true });
  });

  test("never cuts between rows sharing a _creationTime", () => {
    const page = rows(1, 2, 2, 2);
    expect(trimPage(page, 3)).toEqual({ rows: [page[0]], more: true });
  });

  test("unless that would drop every row", () => {
    const page = rows(5, 5, 5);
    expect(trimPage(page, 2)).toEqual({ rows: page.slice(0, 2), more: true });
  });
});

describe("digest", () => {
  test("depends on content and count, not on field order", () => {
    const a = { _id: "1", _creationTime: 1, x: 1, y: "a" };
    expect(digest([a])).toBe(digest([{ y: "a", x: 1, _creationTime: 1, _id: "1" }]));
    expect(digest([a])).not.toBe(digest([{ ...a, y: "b" }]));
    expect(digest([])).not.toBe(digest([a]));
    expect(digest([a])).toMatch(/^1-[0-9a-f]{28}$/);
  });
});
