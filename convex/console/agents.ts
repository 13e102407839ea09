import { v } from "convex/values";
import type { Doc } from "../_generated/dataModel";
import { internalMutation, internalQuery } from "../_generated/server";
import { agentRegistered, agentUpdated } from "./activities";
import { defined, findAgentByOpenClawId, sessionKeyFor, writeActivity } from "./lib";
import { agentStatus } from "./tables";

/** The spec fields that an upsert may change, in the order they are reported. */
const FIELDS = ["name", "role", "status", "level", "workspace", "heartbeat", "tz", "graceSeconds"] as const;

/**
 * Registers an agent, or brings an existing one up to date. An existing agent is found by its
 * `agentId` field, or (agents written by Mission Control have none) by `sessionKey`
 * `agent:<agentId>:main`, in which case `agentId` is set on it. Optional fields left out are
 * left as they are. Nothing changed: no write, no activity.
 */
export const upsert = internalMutation({
  args: {
    agentId: v.string(),
    name: v.string(),
    role: v.string(),
    status: v.optional(agentStatus),
    level: v.optional(v.string()),
    workspace: v.optional(v.string()),
    heartbeat: v.optional(v.string()),
    tz: v.optional(v.string()),
    graceSeconds: v.optional(v.number()),
    actor: v.optional(v.string()),
  },
  handler: async (ctx, args) => {
    const { actor, agentId, ...spec } = args;
    const sessionKey = sessionKeyFor(agentId);
    const existing = await findAgentByOpenClawId(ctx, agentId);

    if (existing === null) {
      const id = await ctx.db.insert(
        "agents",
        defined({
          ...spec,
          agentId,
          sessionKey,
          status: spec.status ?? "idle",
          updatedAt: Date.now(),
        }),
      );
      const agent = (await ctx.db.get(id))!;
      const changed = ["agentId", ...FIELDS.filter((f) => agent[f] !== undefined)].sort();
      await writeActivity(ctx, { ...agentRegistered(agent.name, agentId, changed), agentId: id, actor, targetId: id });
      return { agent, created: true, changed: true };
    }

    const patch: Partial<Doc<"agents">> = {};
    const changed: string[] = [];
    if (existing.agentId !== agentId) {
      patch.agentId = agentId;
      changed.push("agentId");
    }
    for (const f of FIELDS) {
      const want = spec[f];
      if (want !== undefined && want !== existing[f]) {
        (patch as Record<string, unknown>)[f] = want;
        changed.push(f);
      }
    }
    changed.sort(); // reported in name order, as the SQLite store does
    if (changed.length === 0) {
      return { agent: existing, created: false, changed: false };
    }
    patch.updatedAt = Date.now();
    await ctx.db.patch(existing._id, patch);
    const agent = (await ctx.db.get(existing._id))!;
    await writeActivity(ctx, { ...agentUpdated(agent.name, agentId, changed), agentId: agent._id, actor, targetId: agent._id });
    return { agent, created: false, changed: true };
  },
});

/** All agents, oldest first. */
export const list = internalQuery({
  args: {},
  handler: async (ctx) => ctx.db.query("agents").collect(),
});
