import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { internal } from "../_generated/api";
import schema from "../schema";
import { digest, HOT_MAX, HOT_MIN, split, trimPage } from "./snapshot";

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

type Part = { table: "agents" | "tasks" | "feeds" | "opportunities"; after?: number; upTo?: number };

describe("snapshot:start and snapshot:tables", () => {
  test("an empty store: empty tables, zero marks, groups to poll", async () => {
    const t = convexTest(schema, modules);
    const s = await t.query(internal.console.snapshot.start, { limit: 10 });
    expect(s).toMatchObject({
      agents: [],
      tasks: [],
      feeds: [],
      opportunities: [],
      messages: [],
      activities: [],
      hasMore: false,
      marks: { messages: 0, activities: 0, heartbeats: 0, flips: 0 },
    });
    expect(s.groups.cold).toBeNull(); // every task is hot while there are few
    const hot = await t.query(internal.console.snapshot.tables, { parts: s.groups.hot.parts, since: s.groups.hot.mark });
    expect(hot).toEqual({ docs: null, mark: s.groups.hot.mark });
  });

  test("a group comes back only when changed, including a raw patch without updatedAt", async () => {
    const t = convexTest(schema, modules);
    const { agent } = await t.mutation(internal.console.agents.upsert, { agentId: "veda", name: "Veda", role: "r" });
    await t.mutation(internal.console.tasks.create, { title: "T", description: "d" });
    const s = await t.query(internal.console.snapshot.start, { limit: 10 });
    expect(s.agents).toHaveLength(1);
    expect(s.tasks).toHaveLength(1);
    const parts = s.groups.hot.parts as Part[];
    const again = await t.query(internal.console.snapshot.tables, { parts, since: s.groups.hot.mark });
    expect(again.docs).toBeNull();

    // Mission Control's own functions patch without updatedAt: the mark still sees it.
    await t.run((ctx) => ctx.db.patch(agent._id, { status: "active" }));
    const changed = await t.query(internal.console.snapshot.tables, { parts, since: s.groups.hot.mark });
    expect(changed.docs![0]).toEqual([expect.objectContaining({ _id: agent._id, status: "active" })]);
    expect(changed.mark).not.toBe(s.groups.hot.mark);

    // A row inserted by Mission Control changes it too.
    await t.run((ctx) => ctx.db.insert("tasks", { title: "MC", description: "", status: "inbox", assigneeIds: [] }));
    const more = await t.query(internal.console.snapshot.tables, { parts, since: changed.mark });
    expect(more.docs![1]).toHaveLength(2);
  });

  test("feeds and opportunities are their own group", async () => {
    const t = convexTest(schema, modules);
    const s = await t.query(internal.console.snapshot.start, { limit: 10 });
    const pipe = s.groups.pipeline;
    await t.mutation(internal.console.pipeline.addFeed, { url: "https://x/rss", competitor: "X" });
    const hot = await t.query(internal.console.snapshot.tables, { parts: s.groups.hot.parts, since: s.groups.hot.mark });
    expect(hot.docs).toBeNull();
    const p = await t.query(internal.console.snapshot.tables, { parts: pipe.parts, since: pipe.mark });
    expect(p.docs![0]).toEqual([expect.objectContaining({ url: "https://x/rss" })]);
    expect(p.docs![1]).toEqual([]);
  });

  test("many done tasks: the old ones are cold, the newest and the open ones hot", async () => {
    const t = convexTest(schema, modules);
    await t.run(async (ctx) => {
      for (let i = 0; i < 200; i++) {
        await ctx.db.insert("tasks", { title: `t${i}`, description: "", status: i === 120 ? "review" : "done", assigneeIds: [] });
      }
    });
    const s = await t.query(internal.console.snapshot.start, { limit: 10 });
    const cold = s.groups.cold!;
    const hotParts = s.groups.hot.parts as Part[];
    const coldDocs = await t.query(internal.console.snapshot.tables, { parts: cold.parts as Part[] });
    const hotDocs = await t.query(internal.console.snapshot.tables, { parts: hotParts });
    expect(coldDocs.docs![0]).toHaveLength(120); // t0..t119: done and older than every open task
    expect(hotDocs.docs![1]).toHaveLength(80);
    expect(coldDocs.mark).toBe(cold.mark);
    expect(hotDocs.mark).toBe(s.groups.hot.mark);
  });
});

describe("snapshot:get", () => {
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

describe("split", () => {
  const tasks = (statuses: string[]) => statuses.map((status, i) => ({ _creationTime: i + 1, status }) as never);

  test("few tasks: all hot", () => {
    expect(split(tasks(Array(HOT_MIN).fill("done")))).toBeUndefined();
  });

  test("done tasks beyond the newest HOT_MIN are cold", () => {
    expect(split(tasks(Array(100).fill("done")))).toBe(100 - HOT_MIN);
  });

  test("an old open task keeps what follows it hot, up to HOT_MAX", () => {
    const s = Array(300).fill("done");
    s[250] = "inbox";
    expect(split(tasks(s))).toBe(250);
    s[10] = "review";
    expect(split(tasks(s))).toBe(300 - HOT_MAX);
  });
});
