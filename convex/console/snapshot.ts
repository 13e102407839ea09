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

/** The tables a snapshot returns whole when they changed (small: a squad, its work, the pipeline). */
type WholeTable = "agents" | "tasks" | "feeds" | "opportunities";
const WHOLE: readonly WholeTable[] = ["agents", "tasks", "feeds", "opportunities"];

/** A range of a whole table by `_creationTime`: `after < _creationTime <= upTo` (either bound optional). */
const part = v.object({
  table: v.union(v.literal("agents"), v.literal("tasks"), v.literal("feeds"), v.literal("opportunities")),
  after: v.optional(v.number()),
  upTo: v.optional(v.number()),
});
type Part = { table: WholeTable; after?: number; upTo?: number };

async function readPart(ctx: QueryCtx, p: Part): Promise<Doc<WholeTable>[]> {
  return (await ctx.db
    .query(p.table)
    .withIndex("by_creation_time", (q) => {
      const lower = p.after === undefined ? q : q.gt("_creationTime", p.after as never);
      return p.upTo === undefined ? lower : lower.lte("_creationTime", p.upTo as never);
    })
    .collect()) as Doc<WholeTable>[];
}

/** The mark of a group of parts: the digest of their documents, part by part. */
function groupMark(docs: readonly (readonly unknown[])[]): string {
  return digest(docs.map((d) => digest(d)));
}

/** Tasks live in two groups (docs/cost.md): the hot one, the newest tasks and every task not done
 * (at least `HOT_MIN`, at most `HOT_MAX` tasks), polled every time, and the cold one, the older
 * done tasks, polled now and then. `split` returns the boundary (`_creationTime` of the newest cold
 * task) or undefined when every task is hot. Tasks come in `_creationTime` order. */
export const HOT_MIN = 32;
export const HOT_MAX = 128;
export function split(tasks: readonly Doc<"tasks">[]): number | undefined {
  const n = tasks.length;
  let firstOpen = tasks.findIndex((t) => t.status !== "done");
  if (firstOpen < 0) firstOpen = n;
  const hotStart = Math.max(n - HOT_MAX, Math.min(n - HOT_MIN, firstOpen));
  return hotStart > 0 ? tasks[hotStart - 1]._creationTime : undefined;
}

/** The parts of each group, for a boundary: [hot, cold?, pipeline]. */
function groups(boundary: number | undefined): { hot: Part[]; cold: Part[] | null; pipeline: Part[] } {
  return {
    hot: [{ table: "agents" }, boundary === undefined ? { table: "tasks" } : { table: "tasks", after: boundary }],
    cold: boundary === undefined ? null : [{ table: "tasks", upTo: boundary }],
    pipeline: [{ table: "feeds" }, { table: "opportunities" }],
  };
}

const appendSince = v.object({
  messages: v.optional(v.number()),
  activities: v.optional(v.number()),
  heartbeats: v.optional(v.number()),
  flips: v.optional(v.number()),
});

async function appendAll(
  ctx: QueryCtx,
  since: { messages?: number; activities?: number; heartbeats?: number; flips?: number },
  limit: number,
) {
  const n = Number.isFinite(limit) ? Math.max(1, Math.floor(limit)) : 1;
  const messages = await appended(ctx, "messages", since.messages, n);
  const activities = await appended(ctx, "activities", since.activities, n);
  const heartbeats = await appended(ctx, "heartbeats", since.heartbeats, n);
  const flips = await appended(ctx, "flips", since.flips, n);
  return {
    messages: messages.rows,
    activities: activities.rows,
    heartbeats: heartbeats.rows,
    flips: flips.rows,
    marks: { messages: messages.mark, activities: activities.mark, heartbeats: heartbeats.mark, flips: flips.mark },
    hasMore: messages.more || activities.more || heartbeats.more || flips.more,
  };
}

/**
 * One poll's rows: what was inserted in the append tables after the caller's marks. Index ranges
 * only and no clock, so a poll that finds nothing new is answered from Convex's query cache and
 * reads nothing (docs/cost.md). See docs/store-contract.md, "One poll".
 */
export const get = internalQuery({
  args: { since: appendSince, limit: v.number() },
  handler: async (ctx, { since, limit }) => appendAll(ctx, since, limit),
});

/**
 * A group of whole-table ranges (`parts`) and its mark; the documents only when the mark differs
 * from `since`. Its arguments stay the same while nothing changes, so it is answered from the
 * cache until a write touches one of its ranges (Mission Control's own writes included: they set
 * no `updatedAt`, the cache sees them all the same).
 */
export const tables = internalQuery({
  args: { parts: v.array(part), since: v.optional(v.string()) },
  handler: async (ctx, { parts, since }) => {
    const docs = [];
    for (const p of parts) docs.push(await readPart(ctx, p));
    const mark = groupMark(docs);
    return { docs: mark === since ? null : docs, mark };
  },
});

/**
 * The first poll, in one call: the tail of the append tables, every whole table, and the groups
 * the next polls ask for (`tables`), with their marks.
 */
export const start = internalQuery({
  args: { limit: v.number() },
  handler: async (ctx, { limit }) => {
    const rows = await appendAll(ctx, {}, limit);
    const whole: Record<WholeTable, Doc<WholeTable>[]> = { agents: [], tasks: [], feeds: [], opportunities: [] };
    for (const table of WHOLE) whole[table] = await readPart(ctx, { table });
    const boundary = split(whole.tasks as Doc<"tasks">[]);
    const g = groups(boundary);
    const inPart = (p: Part) =>
      (whole[p.table] as { _creationTime: number }[]).filter(
        (d) => (p.after === undefined || d._creationTime > p.after) && (p.upTo === undefined || d._creationTime <= p.upTo),
      );
    const markOf = (parts: Part[]) => groupMark(parts.map(inPart));
    return {
      ...rows,
      ...whole,
      groups: {
        hot: { parts: g.hot, mark: markOf(g.hot) },
        cold: g.cold === null ? null : { parts: g.cold, mark: markOf(g.cold) },
        pipeline: { parts: g.pipeline, mark: markOf(g.pipeline) },
      },
    };
  },
});
