import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { internal } from "../_generated/api";
import schema from "../schema";

const modules = import.meta.glob("/convex/**/*.*s");

function setup() {
  const t = convexTest(schema, modules);
  const acts = () => t.run((ctx) => ctx.db.query("activities").collect());
  return { t, acts };
}

const URL = "https://acme.example/feed.xml";
const sig = (key: string, title = `t ${key}`) => ({ feedUrl: URL, entryKey: key, title, competitor: "acme" });

describe("feeds", () => {
  test("add, list, remove, each audited; a URL twice is a Conflict", async () => {
    const { t, acts } = setup();
    const feed = await t.mutation(internal.console.pipeline.addFeed, { url: URL, competitor: "acme" });
    expect(feed).toMatchObject({ url: URL, competitor: "acme", errorCount: 0 });
    await expect(t.mutation(internal.console.pipeline.addFeed, { url: URL, competitor: "x" })).rejects.toThrow(
      /already added/,
    );
    expect(await t.query(internal.console.pipeline.listFeeds, {})).toHaveLength(1);
    await t.mutation(internal.console.pipeline.removeFeed, { url: URL });
    expect(await t.query(internal.console.pipeline.listFeeds, {})).toEqual([]);
    await expect(t.mutation(internal.console.pipeline.removeFeed, { url: URL })).rejects.toThrow(/not found/);
    expect((await acts()).map((a) => a.type)).toEqual(["feed_added", "feed_removed"]);
  });

  test("recordFetch upserts signals idempotently, one activity per fetch", async () => {
    const { t, acts } = setup();
    await t.mutation(internal.console.pipeline.addFeed, { url: URL, competitor: "acme" });
    const state = { errorCount: 0, etag: '"v1"', outcome: "ok" as const, health: "ok", lastStatus: 200 };
    const first = await t.mutation(internal.console.pipeline.recordFetch, {
      url: URL,
      state,
      signals: [sig("a"), sig("b")],
    });
    expect(first).toMatchObject({ created: 2, updated: 0, unchanged: 0 });
    expect(first.feed).toMatchObject({ etag: '"v1"', outcome: "ok", lastStatus: 200 });
    const again = await t.mutation(internal.console.pipeline.recordFetch, {
      url: URL,
      state: { errorCount: 0, outcome: "not_modified" as const },
      signals: [sig("a"), sig("b", "changed")],
    });
    expect(again).toMatchObject({ created: 0, updated: 1, unchanged: 1 });
    expect(again.feed.etag).toBeUndefined(); // every field as given
    expect(await t.query(internal.console.pipeline.listSignals, { feedUrl: URL })).toHaveLength(2);
    const types = (await acts()).map((a) => a.type);
    expect(types).toEqual(["feed_added", "signals_ingested", "signals_ingested"]);
  });

  test("failed and recovered are audited on the transition only", async () => {
    const { t, acts } = setup();
    await t.mutation(internal.console.pipeline.addFeed, { url: URL, competitor: "acme" });
    const failed = { errorCount: 1, outcome: "failed" as const, health: "failed: too large" };
    await t.mutation(internal.console.pipeline.recordFetch, { url: URL, state: failed, signals: [] });
    await t.mutation(internal.console.pipeline.recordFetch, { url: URL, state: { ...failed, errorCount: 2 }, signals: [] });
    await t.mutation(internal.console.pipeline.recordFetch, { url: URL, state: { errorCount: 0, outcome: "ok" as const }, signals: [] });
    expect((await acts()).map((a) => a.type)).toEqual(["feed_added", "feed_failed", "feed_recovered"]);
  });
});

describe("opportunities", () => {
  test("create, move, analyse, survey (check-and-set), decide, override with a reason only", async () => {
    const { t, acts } = setup();
    const opp = await t.mutation(internal.console.pipeline.createOpportunity, { title: "Self-serve tier" });
    expect(opp).toMatchObject({ stage: "analysis", description: "" });
    const id = opp._id;
    await t.mutation(internal.console.pipeline.moveOpportunity, { id, stage: "validation" });
    await t.mutation(internal.console.pipeline.moveOpportunity, { id, stage: "validation" }); // no-op
    await t.mutation(internal.console.pipeline.recordAnalysis, { id, marketScore: 72.5, analysis: { signals: [1, 2] } });
    const survey = { responses: [{ respondent: "r1" }], score: 80 };
    await t.mutation(internal.console.pipeline.recordSurvey, { id, survey, expectedRespondents: 0 });
    await expect(
      t.mutation(internal.console.pipeline.recordSurvey, { id, survey, expectedRespondents: 0 }),
    ).rejects.toThrow(/holds 1 responses/);
    await t.mutation(internal.console.pipeline.recordDecision, {
      id,
      decision: { verdict: "go", computed: { verdict: "go" }, inputs: { criteria: { version: "v1" } } },
    });
    await expect(
      t.mutation(internal.console.pipeline.recordDecision, { id, decision: { verdict: "no_go", override: { reason: " " } } }),
    ).rejects.toThrow(/needs a reason/);
    await expect(
      t.mutation(internal.console.pipeline.recordDecision, { id, decision: { verdict: "maybe" } }),
    ).rejects.toThrow(/not one of/);
    const after = await t.mutation(internal.console.pipeline.recordDecision, {
      id,
      decision: { verdict: "no_go", computed: { verdict: "go" }, override: { reason: "budget cut" } },
      actor: "cestra",
    });
    expect(after).toMatchObject({ stage: "no_go", marketScore: 72.5 });
    const log = await acts();
    expect(log.map((a) => a.type)).toEqual([
      "opportunity_created",
      "opportunity_moved",
      "market_analysed",
      "survey_recorded",
      "decision_made",
      "decision_overridden",
    ]);
    expect(log.at(-1)).toMatchObject({
      actor: "cestra",
      message: "decision overridden to no_go: Self-serve tier (budget cut)",
      detail: { verdict: "no_go", previous: "go", computed: "go", reason: "budget cut" },
    });
    expect(log[3].message).toBe("survey: 1 respondent, validation 80: Self-serve tier");
    await expect(t.query(internal.console.pipeline.getOpportunity, { id: "nope" })).rejects.toThrow(/not found/);
  });
});
