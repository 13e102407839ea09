import { v } from "convex/values";
import type { Doc } from "../_generated/dataModel";
import { internalQuery, type QueryCtx } from "../_generated/server";

/** JSON with object keys sorted, so a digest does not depend on field order. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    return typeof value === "bigint" ? `"${value}n"` : (JSON.stringify(value) ?? "null");
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value instanceof ArrayBuffer) return JSON.stringify(Array.from(new Uint8Array(value)));
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** cyrb53 (a small public-domain 53-bit string hash). */
function cyrb53(str: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * The digest of a whole table: its row count and two cyrb53 hashes (106 bits) of the canonical
 * JSON of its documents in `_creationTime` order. Any change to any field of any row changes it,
 * whoever made it (Mission Control's own functions set no `updatedAt`).
 */
export function digest(docs: readonly unknown[]): string {
  const text = canonicalJson(docs);
  const a = cyrb53(text, 0x5eed).toString(16).padStart(14, "0");
  const b = cyrb53(text, 0xc0ffee).toString(16).padStart(14, "0");
  return `${docs.length}-${a}${b}`;
}

type AppendTable = "messages" | "activities" | "heartbeats" | "flips";

/**
 * The rows inserted after `since` (a `_creationTime`), oldest first, at most `limit`; without
 * `since`, the newest `limit` rows (a tail). A page is never cut between two rows sharing one
 * `_creationTime` (unless that would leave it empty), so the mark never skips a row.
 */
async function appended<T extends AppendTable>(
  ctx: QueryCtx,
  table: T,
  since: number | undefined,
  limit: number,
): Promise<{ rows: Doc<T>[]; mark: number; more: boolean }> {
  if (since === undefined) {
    const newest = await ctx.db.query(table).withIndex("by_creation_time").order("desc").take(limit);
    // A tail is not "new rows": polling again does not fetch the older ones, so no hasMore.
    const rows = (newest as Doc<T>[]).reverse();
    return { rows, mark: rows.length ? rows[rows.length - 1]._creationTime : 0, more: false };
  }
  const page = (await ctx.db
    .query(table)
    .withIndex("by_creation_time", (q) => q.gt("_creationTime", since as never))
    .take(limit + 1)) as Doc<T>[];
  const { rows, more } = trimPage(page as (Doc<T> & { _creationTime: number })[], limit);
  return { rows, mark: rows.length ? rows[rows.length - 1]._creationTime : since, more };
}

/**
 * The first `limit` rows of an ascending page fetched with `limit + 1`, and whether there were
 * more. If the cut would fall between rows sharing one `_creationTime`, the trailing rows with that
 * `_creationTime` are dropped too (unless that drops them all), so that a mark taken from the last
 * row returned never skips its twins.
 */
export function trimPage<R extends { _creationTime: number }>(
  page: readonly R[],
  limit: number,
): { rows: R[]; more: boolean } {
  if (page.length <= limit) return { rows: [...page], more: false };
  const rows = page.slice(0, limit);
  const cut = page[limit]._creationTime;
  if (rows.length && rows[rows.length - 1]._creationTime === cut) {
    const kept = rows.filter((r) => r._creationTime !== cut);
    if (kept.length) return { rows: kept, more: true };
  }
  return { rows, more: true };
}

/** The tables a snapshot returns whole when they changed (small: a squad, its open work). */
type WholeTable = "agents" | "tasks" | "feeds" | "opportunities";

async function wholeTable<T extends WholeTable>(
  ctx: QueryCtx,
  table: T,
  since: string | undefined,
): Promise<{ docs: Doc<T>[] | null; mark: string }> {
  const docs = (await ctx.db.query(table).collect()) as Doc<T>[];
  const mark = digest(docs);
  return { docs: mark === since ? null : docs, mark };
}

/** One poll, one call: see docs/store-contract.md, "One poll, one call". */
export const get = internalQuery({
  args: {
    since: v.object({
      agents: v.optional(v.string()),
      tasks: v.optional(v.string()),
      feeds: v.optional(v.string()),
      opportunities: v.optional(v.string()),
      messages: v.optional(v.number()),
      activities: v.optional(v.number()),
      heartbeats: v.optional(v.number()),
      flips: v.optional(v.number()),
    }),
    limit: v.number(),
  },
  handler: async (ctx, { since, limit }) => {
    const n = Number.isFinite(limit) ? Math.max(1, Math.floor(limit)) : 1;
    const agents = await wholeTable(ctx, "agents", since.agents);
    const tasks = await wholeTable(ctx, "tasks", since.tasks);
    const feeds = await wholeTable(ctx, "feeds", since.feeds);
    const opportunities = await wholeTable(ctx, "opportunities", since.opportunities);
    const messages = await appended(ctx, "messages", since.messages, n);
    const activities = await appended(ctx, "activities", since.activities, n);
    const heartbeats = await appended(ctx, "heartbeats", since.heartbeats, n);
    const flips = await appended(ctx, "flips", since.flips, n);
    return {
      agents: agents.docs,
      tasks: tasks.docs,
      feeds: feeds.docs,
      opportunities: opportunities.docs,
      messages: messages.rows,
      activities: activities.rows,
      heartbeats: heartbeats.rows,
      flips: flips.rows,
      marks: {
        agents: agents.mark,
        tasks: tasks.mark,
        feeds: feeds.mark,
        opportunities: opportunities.mark,
        messages: messages.mark,
        activities: activities.mark,
        heartbeats: heartbeats.mark,
        flips: flips.mark,
      },
      hasMore: messages.more || activities.more || heartbeats.more || flips.more,
      serverTime: Date.now(),
    };
  },
});

