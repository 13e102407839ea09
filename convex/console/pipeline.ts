/**
 * The pipeline (DESIGN §8): feeds, the signals read from them, and opportunities with their
 * market analysis, survey and decision. The same contract as console/service/store/sqlite/; every
 * change writes its activity in the same mutation.
 *
 * `analysis`, `survey` and `decision` are objects computed by console/service/pipeline/__init__.py; these
 * functions store them as they are and check only what the contract promises (a verdict among
 * go | no_go | more_data, a reason on every override, the survey's check-and-set).
 */
import { ConvexError, v } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { internalMutation, internalQuery } from "../_generated/server";
import {
  decision as decisionSaid,
  feedAdded,
  feedRemoved,
  fetchRecorded,
  marketAnalysed,
  opportunityCreated,
  opportunityMoved,
  surveyRecorded,
  surveyResponses,
} from "./activities";
import { badValue, clampLimit, defined, notFound, writeActivity } from "./lib";
import { feedOutcome, opportunityStage } from "./tables";

const VERDICTS = ["go", "no_go", "more_data"];

async function feedByUrl(ctx: QueryCtx, url: string): Promise<Doc<"feeds"> | null> {
  return ctx.db
    .query("feeds")
    .withIndex("by_url", (q) => q.eq("url", url))
    .unique();
}

async function opportunity(ctx: QueryCtx, id: string): Promise<Doc<"opportunities">> {
  const normal = ctx.db.normalizeId("opportunities", id);
  const doc = normal === null ? null : await ctx.db.get(normal);
  if (doc === null) throw notFound(`opportunity ${id} not found`);
  return doc;
}

// ------------------------------------------------------------------ feeds

/** A new feed (`feed_added`); a URL already added is a Conflict. */
export const addFeed = internalMutation({
  args: { url: v.string(), competitor: v.string(), actor: v.optional(v.string()) },
  handler: async (ctx, { url, competitor, actor }) => {
    if (url.trim() === "") throw badValue("url", "a feed needs a URL");
    if (competitor.trim() === "") throw badValue("competitor", "a feed needs a competitor");
    if ((await feedByUrl(ctx, url)) !== null) {
      throw new ConvexError({ code: "Conflict", message: `feed ${url} is already added`, url });
    }
    const id = await ctx.db.insert("feeds", { url, competitor, errorCount: 0 });
    await writeActivity(ctx, { ...feedAdded(url, competitor), actor, targetId: id });
    return (await ctx.db.get(id))!;
  },
});

/** Every feed, in the order they were added. */
export const listFeeds = internalQuery({
  args: {},
  handler: async (ctx) => ctx.db.query("feeds").collect(),
});

/** Removes a feed (`feed_removed`) and returns it; its signals stay. */
export const removeFeed = internalMutation({
  args: { url: v.string(), actor: v.optional(v.string()) },
  handler: async (ctx, { url, actor }) => {
    const feed = await feedByUrl(ctx, url);
    if (feed === null) throw notFound(`feed ${url} not found`);
    await ctx.db.delete(feed._id);
    await writeActivity(ctx, { ...feedRemoved(url, feed.competitor), actor, targetId: feed._id });
    return feed;
  },
});

const feedState = v.object({
  etag: v.optional(v.string()),
  lastModified: v.optional(v.string()),
  lastFetchedAt: v.optional(v.number()),
  lastStatus: v.optional(v.number()),
  errorCount: v.number(),
  nextFetchAt: v.optional(v.number()),
  outcome: v.optional(feedOutcome),
  health: v.optional(v.string()),
});

const signalIn = v.object({
  feedUrl: v.string(),
  entryKey: v.string(),
  title: v.string(),
  competitor: v.string(),
  link: v.optional(v.string()),
  publishedAt: v.optional(v.number()),
  summary: v.optional(v.string()),
});

/**
 * One fetch's result: the feed's state (every field as given: an absent one is cleared) and its
 * signals upserted by (feedUrl, entryKey). One `signals_ingested` activity when any signal is new
 * or changed; `feed_failed` when the outcome turns to failed, `feed_recovered` when it leaves it.
 */
export const recordFetch = internalMutation({
  args: { url: v.string(), state: feedState, signals: v.array(signalIn), actor: v.optional(v.string()) },
  handler: async (ctx, { url, state, signals, actor }) => {
    const before = await feedByUrl(ctx, url);
    if (before === null) throw notFound(`feed ${url} not found`);
    await ctx.db.patch(before._id, {
      etag: state.etag,
      lastModified: state.lastModified,
      lastFetchedAt: state.lastFetchedAt,
      lastStatus: state.lastStatus,
      errorCount: state.errorCount,
      nextFetchAt: state.nextFetchAt,
      outcome: state.outcome,
      health: state.health,
    });
    let created = 0;
    let updated = 0;
    let unchanged = 0;
    const newKeys: string[] = [];
    for (const s of signals) {
      if (s.feedUrl !== url) throw badValue("feedUrl", `signal ${s.entryKey} belongs to ${s.feedUrl}, not ${url}`);
      const row = await ctx.db
        .query("signals")
        .withIndex("by_feed_entry", (q) => q.eq("feedUrl", url).eq("entryKey", s.entryKey))
        .unique();
      if (row === null) {
        await ctx.db.insert("signals", defined({ ...s }));
        created++;
        newKeys.push(s.entryKey);
      } else if (
        row.title !== s.title ||
        row.link !== s.link ||
        row.publishedAt !== s.publishedAt ||
        row.competitor !== s.competitor ||
        row.summary !== s.summary
      ) {
        await ctx.db.patch(row._id, {
          title: s.title,
          link: s.link,
          publishedAt: s.publishedAt,
          competitor: s.competitor,
          summary: s.summary,
        });
        updated++;
      } else {
        unchanged++;
      }
    }
    for (const said of fetchRecorded(before, state, created, updated, newKeys)) {
      await writeActivity(ctx, { ...said, actor: actor ?? "service", targetId: before._id });
    }
    const feed = (await ctx.db.get(before._id))!;
    return { feed, created, updated, unchanged };
  },
});

/** The latest `limit` signals (of one feed or one competitor), oldest first. */
export const listSignals = internalQuery({
  args: { feedUrl: v.optional(v.string()), competitor: v.optional(v.string()), limit: v.optional(v.number()) },
  handler: async (ctx, { feedUrl, competitor, limit }) => {
    const n = clampLimit(limit ?? 1000);
    let rows: Doc<"signals">[];
    if (feedUrl !== undefined) {
      rows = await ctx.db
        .query("signals")
        .withIndex("by_feed_entry", (q) => q.eq("feedUrl", feedUrl))
        .collect();
      if (competitor !== undefined) rows = rows.filter((r) => r.competitor === competitor);
      rows.sort((a, b) => a._creationTime - b._creationTime);
      return rows.slice(Math.max(0, rows.length - n));
    }
    const q =
      competitor !== undefined
        ? ctx.db.query("signals").withIndex("by_competitor", (q) => q.eq("competitor", competitor))
        : ctx.db.query("signals");
    rows = await q.order("desc").take(n);
    return rows.reverse();
  },
});

// ---------------------------------------------------------- opportunities

/** A new opportunity at stage `analysis` (`opportunity_created`). */
export const createOpportunity = internalMutation({
  args: { title: v.string(), description: v.optional(v.string()), actor: v.optional(v.string()) },
  handler: async (ctx, { title, description, actor }) => {
    if (title.trim() === "") throw badValue("title", "an opportunity needs a title");
    const id = await ctx.db.insert("opportunities", {
      title,
      description: description ?? "",
      stage: "analysis",
      updatedAt: Date.now(),
    });
    await writeActivity(ctx, { ...opportunityCreated(title), actor, targetId: id });
    return (await ctx.db.get(id))!;
  },
});

/** All opportunities, oldest first. */
export const listOpportunities = internalQuery({
  args: {},
  handler: async (ctx) => ctx.db.query("opportunities").collect(),
});

export const getOpportunity = internalQuery({
  args: { id: v.string() },
  handler: async (ctx, { id }) => opportunity(ctx, id),
});

async function patched(
  ctx: MutationCtx,
  id: Id<"opportunities">,
  patch: Partial<Doc<"opportunities">>,
): Promise<Doc<"opportunities">> {
  await ctx.db.patch(id, { ...patch, updatedAt: Date.now() });
  return (await ctx.db.get(id))!;
}

/** Moves an opportunity to a stage (`opportunity_moved`); the same stage writes nothing. */
export const moveOpportunity = internalMutation({
  args: { id: v.string(), stage: opportunityStage, actor: v.optional(v.string()) },
  handler: async (ctx, { id, stage, actor }) => {
    const before = await opportunity(ctx, id);
    if (before.stage === stage) return before;
    const opp = await patched(ctx, before._id, { stage });
    await writeActivity(ctx, { ...opportunityMoved(opp.title, before.stage, stage), actor, targetId: opp._id });
    return opp;
  },
});

/** The market score and the analysis behind it (`market_analysed`). */
export const recordAnalysis = internalMutation({
  args: { id: v.string(), marketScore: v.number(), analysis: v.any(), actor: v.optional(v.string()) },
  handler: async (ctx, { id, marketScore, analysis, actor }) => {
    const before = await opportunity(ctx, id);
    const opp = await patched(ctx, before._id, { marketScore, analysis });
    await writeActivity(ctx, {
      ...marketAnalysed(opp.title, before.marketScore, marketScore, analysis),
      actor,
      targetId: opp._id,
    });
    return opp;
  },
});

/**
 * Replaces the survey (`survey_recorded`). With `expectedRespondents`, the stored survey must
 * hold that many responses, else a Conflict (another writer added responses meanwhile).
 */
export const recordSurvey = internalMutation({
  args: { id: v.string(), survey: v.any(), expectedRespondents: v.optional(v.number()), actor: v.optional(v.string()) },
  handler: async (ctx, { id, survey, expectedRespondents, actor }) => {
    const before = await opportunity(ctx, id);
    const stored = surveyResponses(before.survey);
    if (expectedRespondents !== undefined && stored !== expectedRespondents) {
      throw new ConvexError({
        code: "Conflict",
        message: `opportunity ${id}: the survey holds ${stored} responses, not ${expectedRespondents}`,
        id,
        stored,
      });
    }
    const opp = await patched(ctx, before._id, { survey });
    await writeActivity(ctx, { ...surveyRecorded(opp.title, stored, survey), actor, targetId: opp._id });
    return opp;
  },
});

/**
 * Stores a decision and moves the opportunity to its verdict (`decision_made`, or
 * `decision_overridden` when `decision.override` is set: that needs a non-empty reason).
 */
export const recordDecision = internalMutation({
  args: { id: v.string(), decision: v.any(), actor: v.optional(v.string()) },
  handler: async (ctx, { id, decision, actor }) => {
    const verdict = decision?.verdict;
    if (!VERDICTS.includes(verdict)) {
      throw badValue("verdict", `verdict ${JSON.stringify(verdict ?? null)} is not one of ${VERDICTS.join(", ")}`);
    }
    const override = decision.override ?? null;
    if (override !== null) {
      const reason = override?.reason;
      if (typeof reason !== "string" || reason.trim() === "") throw badValue("reason", "an override needs a reason");
    }
    const before = await opportunity(ctx, id);
    const opp = await patched(ctx, before._id, { decision, stage: verdict });
    await writeActivity(ctx, { ...decisionSaid(opp.title, decision, before.decision), actor, targetId: opp._id });
    return opp;
  },
});
