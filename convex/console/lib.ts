/** Helpers shared by the console's functions. Not a Convex function module (exports no functions). */
import { ConvexError, v } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";

/** The actor of an activity when the caller names none. */
export const OPERATOR = "operator";

export type ActivityInput = {
  type: string;
  message: string;
  agentId?: Id<"agents">;
  actor?: string;
  targetId?: string;
  detail?: unknown;
};

/** Writes one activity row (inside the caller's mutation) and returns it. */
export async function writeActivity(ctx: MutationCtx, a: ActivityInput): Promise<Doc<"activities">> {
  const row: Omit<Doc<"activities">, "_id" | "_creationTime"> = {
    type: a.type,
    message: a.message,
    actor: a.actor ?? OPERATOR,
  };
  if (a.agentId !== undefined) row.agentId = a.agentId;
  if (a.targetId !== undefined) row.targetId = a.targetId;
  if (a.detail !== undefined) row.detail = a.detail;
  const id = await ctx.db.insert("activities", row);
  return (await ctx.db.get(id))!;
}

/** `agent:veda:main` -> `veda` (Mission Control's agents carry only the session key). */
export function agentIdFromSessionKey(sessionKey: string | undefined): string | undefined {
  if (!sessionKey) return undefined;
  const parts = sessionKey.split(":");
  return parts.length >= 2 && parts[0] === "agent" && parts[1] ? parts[1] : undefined;
}

export function sessionKeyFor(agentId: string): string {
  return `agent:${agentId}:main`;
}

/** The agents doc for an OpenClaw id: by its `agentId` field, or by `sessionKey` when it has none. */
export async function findAgentByOpenClawId(
  ctx: QueryCtx,
  agentId: string,
): Promise<Doc<"agents"> | null> {
  // The agents table is small (a squad); a scan keeps Mission Control's schema free of extra indexes.
  const agents = await ctx.db.query("agents").collect();
  const key = sessionKeyFor(agentId);
  return (
    agents.find((a) => a.agentId === agentId) ??
    agents.find((a) => a.agentId === undefined && a.sessionKey === key) ??
    null
  );
}

/** A value the contract refuses (data code `BadValue`, as the SQLite store raises). */
export function badValue(field: string, message: string): ConvexError<{ code: string; message: string; field: string }> {
  return new ConvexError({ code: "BadValue", message, field });
}

export function notFound(message: string): ConvexError<{ code: string; message: string }> {
  return new ConvexError({ code: "NotFound", message });
}

/** A list limit as a non-negative integer. */
export function clampLimit(limit: number): number {
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 0;
}

/** Strips undefined values, so an object can be stored as a Convex value. */
export function defined<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(o)) if (val !== undefined) out[k] = val;
  return out as T;
}

/** The arguments of a list by event time: one agent (its OpenClaw id) or all, `since <= at < until`. */
export const byTimeArgs = {
  agentId: v.optional(v.string()),
  since: v.number(),
  until: v.optional(v.number()),
  limit: v.number(),
};

/** Rows of a console table with `by_agent_at` and `by_at` indexes, by `at` ascending. */
export async function listByTime<T extends "heartbeats" | "flips">(
  ctx: QueryCtx,
  table: T,
  { agentId, since, until, limit }: { agentId?: string; since: number; until?: number; limit: number },
): Promise<Doc<T>[]> {
  const n = clampLimit(limit);
  // both tables have the same two indexes; the query builder's types cannot see that through T
  const query = ctx.db.query(table as "heartbeats");
  const rows =
    agentId !== undefined
      ? query.withIndex("by_agent_at", (q) => {
          const lower = q.eq("agentId", agentId).gte("at", since);
          return until === undefined ? lower : lower.lt("at", until);
        })
      : query.withIndex("by_at", (q) => {
          const lower = q.gte("at", since);
          return until === undefined ? lower : lower.lt("at", until);
        });
  return (await rows.take(n)) as unknown as Doc<T>[];
}
