import { v } from "convex/values";
import type { Doc } from "../_generated/dataModel";
import { internalMutation, internalQuery, type MutationCtx } from "../_generated/server";

/** The compact history of heartbeats (the `heartbeatDays` table, convex/console/tables.ts). */

export const DAY_MS = 86_400_000;
const RUN_WIDTH = 7;
/** A page of history stops past about this many bytes of documents (under Convex's 16 MiB a read):
 * eight days of 1,000 agents beating every 15 minutes, tokens and cost included, is about 13.5 MB. */
const PAGE_BYTES = 15_000_000;
const DOC_OVERHEAD = 64;
const PAGE_DOCS = 16_000;
const MAX_ERROR = 500;
const MAX_FLIPS = 10_000;

type Beat = Pick<Doc<"heartbeats">, "agentId" | "at" | "outcome" | "tokens" | "costUsd" | "error">;

function encodeRun(offset: number, ok: boolean): string {
  return offset.toString(36).padStart(6, "0") + (ok ? "o" : "e");
}

function intOrEmpty(value: number | undefined, scale: number): string {
  return value === undefined || !Number.isFinite(value) ? "" : Math.round(value * scale).toString(36);
}

/**
 * Folds one beat into its day's document (inside the caller's mutation): one read, one write. A run
 * already there (same ms, same outcome) is not added twice, so a rebuild may run again safely.
 */
export async function foldBeat(ctx: MutationCtx, beat: Beat): Promise<void> {
  const at = Math.round(beat.at);
  const day = Math.floor(at / DAY_MS) * DAY_MS;
  const run = encodeRun(at - day, beat.outcome === "ok");
  const doc = await ctx.db
    .query("heartbeatDays")
    .withIndex("by_day_agent", (q) => q.eq("day", day).eq("agentId", beat.agentId))
    .unique();
  const error = beat.outcome === "ok" ? undefined : (beat.error ?? "error").slice(0, MAX_ERROR);
  if (doc === null) {
    await ctx.db.insert("heartbeatDays", {
      agentId: beat.agentId,
      day,
      runs: run,
      tokens: intOrEmpty(beat.tokens, 1),
      cost: intOrEmpty(beat.costUsd, 1e6),
      ...(error === undefined ? {} : { lastError: error }),
    });
    return;
  }
  const n = doc.runs.length / RUN_WIDTH;
  let i = 0;
  while (i < n && doc.runs.slice(i * RUN_WIDTH, i * RUN_WIDTH + 6) < run.slice(0, 6)) i++;
  for (let j = i; j < n && doc.runs.slice(j * RUN_WIDTH, j * RUN_WIDTH + 6) === run.slice(0, 6); j++) {
    if (doc.runs.slice(j * RUN_WIDTH, (j + 1) * RUN_WIDTH) === run) return; // already folded
  }
  const tokens = doc.tokens.split(",");
  const cost = doc.cost.split(",");
  tokens.splice(i, 0, intOrEmpty(beat.tokens, 1));
  cost.splice(i, 0, intOrEmpty(beat.costUsd, 1e6));
  const newest = i === n;
  await ctx.db.patch(doc._id, {
    runs: doc.runs.slice(0, i * RUN_WIDTH) + run + doc.runs.slice(i * RUN_WIDTH),
    tokens: tokens.join(","),
    cost: cost.join(","),
    ...(error !== undefined && (newest || doc.lastError === undefined) ? { lastError: error } : {}),
  });
}

/**
 * Eight days (or any span) of every agent's runs, compact, for the health book at start: the day
 * documents of `since`..`until` (ms) by day then agent, grouped by agent, in pages bounded by
 * size (`next` resumes; null at the end), and on the first page every flip. `stale` is true when
 * the newest heartbeat is not in its day's document (beats recorded before this table existed):
 * run history:rebuild, then read again.
 */
export const get = internalQuery({
  args: {
    since: v.number(),
    until: v.number(),
    after: v.optional(v.object({ day: v.number(), agentId: v.string() })),
  },
  handler: async (ctx, { since, until, after }) => {
    const from = Math.floor(since / DAY_MS) * DAY_MS;
    const stream = ctx.db.query("heartbeatDays").withIndex("by_day_agent", (q) => {
      const lower = after === undefined ? q.gte("day", from) : q.gte("day", after.day);
      return lower.lte("day", until);
    });
    const agents = new Map<string, { day: number; runs: string; tokens: string; cost: string; lastError?: string }[]>();
    let chars = 0;
    let docs = 0;
    let next: { day: number; agentId: string } | null = null;
    let lastTaken: { day: number; agentId: string } | null = null;
    for await (const d of stream) {
      if (after !== undefined && d.day === after.day && d.agentId <= after.agentId) continue;
      if (docs >= PAGE_DOCS || chars >= PAGE_BYTES) {
        next = lastTaken; // resume after the last document taken
        break;
      }
      lastTaken = { day: d.day, agentId: d.agentId };
      const rows = agents.get(d.agentId) ?? [];
      rows.push({ day: d.day, runs: d.runs, tokens: d.tokens, cost: d.cost, ...(d.lastError ? { lastError: d.lastError } : {}) });
      agents.set(d.agentId, rows);
      chars += d.runs.length + d.tokens.length + d.cost.length + (d.lastError?.length ?? 0) + DOC_OVERHEAD;
      docs += 1;
    }
    const flips = after === undefined ? await ctx.db.query("flips").withIndex("by_at").take(MAX_FLIPS) : [];
    let stale = false;
    if (after === undefined) {
      const newest = await ctx.db.query("heartbeats").withIndex("by_creation_time").order("desc").first();
      if (newest !== null) {
        const at = Math.round(newest.at);
        const day = Math.floor(at / DAY_MS) * DAY_MS;
        const doc = await ctx.db
          .query("heartbeatDays")
          .withIndex("by_day_agent", (q) => q.eq("day", day).eq("agentId", newest.agentId))
          .unique();
        stale = doc === null || !doc.runs.includes(encodeRun(at - day, newest.outcome === "ok"));
      }
    }
    return {
      agents: [...agents.entries()].map(([agentId, days]) => ({ agentId, days })),
      flips,
      next,
      stale,
    };
  },
});

/**
 * Folds heartbeats recorded before `heartbeatDays` existed into it: `limit` beats by creation
 * after `after` (a `_creationTime`) per call; returns where to resume (null when done). Safe to run
 * again: a run already folded is not added twice.
 */
export const rebuild = internalMutation({
  args: { after: v.optional(v.number()), limit: v.optional(v.number()) },
  handler: async (ctx, { after, limit }) => {
    const n = Math.max(1, Math.min(2000, Math.floor(limit ?? 1000)));
    const beats = await ctx.db
      .query("heartbeats")
      .withIndex("by_creation_time", (q) => (after === undefined ? q : q.gt("_creationTime", after)))
      .take(n);
    for (const b of beats) await foldBeat(ctx, b);
    return { next: beats.length === n ? beats[beats.length - 1]._creationTime : null, folded: beats.length };
  },
});
