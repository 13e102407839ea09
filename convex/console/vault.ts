/**
 * The vault table: ciphertext records replicated from the console's vault file (docs/VAULT.md).
 *
 * No secret ever reaches these functions in plaintext: `record` is an AES-256-GCM record, and
 * the activities written here name the entry, its version and the key id only. `kidCheck`
 * computes the key id of the deployment's CONVEX_VAULT_KEY and returns only that id, so the
 * console can check the deployment holds the same key without the key ever coming back.
 */
import { ConvexError, v } from "convex/values";
import type { Doc } from "../_generated/dataModel";
import { internalAction, internalMutation, internalQuery } from "../_generated/server";
import { vaultPut, vaultRemoved } from "./activities";
import { notFound, writeActivity } from "./lib";

/** The label HMAC-SHA256'd with the key to give its id (the same as console/service/vault/__init__.py). */
export const KID_LABEL = "squad-console vault kid";

type Listed = Omit<Doc<"vault">, "record">;

function withoutRecord(d: Doc<"vault">): Listed {
  const { record: _record, ...rest } = d;
  return rest;
}

/**
 * Stores one version (check-and-set): `version` must be above every stored version of `name`,
 * and when `expectedVersion` is given the latest stored version (0: none) must equal it.
 * The same (name, version, record) written again is returned as it is (a retried replication).
 */
export const put = internalMutation({
  args: {
    name: v.string(),
    version: v.number(),
    record: v.string(),
    kid: v.string(),
    expectedVersion: v.optional(v.number()),
    actor: v.optional(v.string()),
  },
  handler: async (ctx, { name, version, record, kid, expectedVersion, actor }) => {
    const rows = await ctx.db
      .query("vault")
      .withIndex("by_name_version", (q) => q.eq("name", name))
      .collect();
    const same = rows.find((r) => r.version === version);
    if (same !== undefined && same.record === record && same.kid === kid) return same;
    const latest = rows.reduce((m, r) => Math.max(m, r.version), 0);
    if ((expectedVersion !== undefined && latest !== expectedVersion) || version <= latest) {
      throw new ConvexError({
        code: "Conflict",
        message: `vault entry ${name}: version ${version} conflicts with the stored version ${latest}`,
        name,
        latest,
      });
    }
    const id = await ctx.db.insert("vault", { name, version, record, kid, createdAt: Date.now(), deleted: false });
    await writeActivity(ctx, { ...vaultPut(name, version, kid), actor, targetId: id });
    return (await ctx.db.get(id))!;
  },
});

/** Every stored version (deleted ones too) by name then version, without record bodies. */
export const list = internalQuery({
  args: {},
  handler: async (ctx) => {
    const rows = await ctx.db.query("vault").withIndex("by_name_version").collect();
    return rows.map(withoutRecord);
  },
});

/** One version with its record: the latest not deleted one when `version` is absent. */
export const get = internalQuery({
  args: { name: v.string(), version: v.optional(v.number()) },
  handler: async (ctx, { name, version }) => {
    if (version !== undefined) {
      const row = await ctx.db
        .query("vault")
        .withIndex("by_name_version", (q) => q.eq("name", name).eq("version", version))
        .unique();
      if (row === null) throw notFound(`vault entry ${name} version ${version} not found`);
      return row;
    }
    const rows = await ctx.db
      .query("vault")
      .withIndex("by_name_version", (q) => q.eq("name", name))
      .order("desc")
      .collect();
    const row = rows.find((r) => !r.deleted);
    if (row === undefined) throw notFound(`vault entry ${name} not found`);
    return row;
  },
});

/** Soft-deletes every version of `name` (one `vault_removed` activity); returns how many. */
export const remove = internalMutation({
  args: { name: v.string(), actor: v.optional(v.string()) },
  handler: async (ctx, { name, actor }) => {
    const rows = await ctx.db
      .query("vault")
      .withIndex("by_name_version", (q) => q.eq("name", name))
      .collect();
    if (rows.length === 0) throw notFound(`vault entry ${name} not found`);
    let marked = 0;
    for (const r of rows) {
      if (r.deleted) continue;
      await ctx.db.patch(r._id, { deleted: true });
      marked++;
    }
    if (marked > 0) {
      await writeActivity(ctx, { ...vaultRemoved(name, marked), actor, targetId: name });
    }
    return marked;
  },
});

/** The key id of a 64-hex-character key: the first 16 hex characters of HMAC-SHA256(key, label). */
export async function kidOf(hexKey: string): Promise<string | null> {
  if (!/^[0-9a-fA-F]{64}$/.test(hexKey)) return null;
  const raw = new Uint8Array(32);
  for (let i = 0; i < 32; i++) raw[i] = parseInt(hexKey.slice(2 * i, 2 * i + 2), 16);
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(KID_LABEL)));
  return Array.from(mac.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The kid of the deployment's CONVEX_VAULT_KEY: `{kid}` (null when unset), or `{kid: null,
 * problem}` when it is set but not 64 hex characters. The key itself is never returned.
 */
export const kidCheck = internalAction({
  args: {},
  handler: async (): Promise<{ kid: string | null; problem?: string }> => {
    const value = (process.env.CONVEX_VAULT_KEY ?? "").trim();
    if (value === "") return { kid: null };
    const kid = await kidOf(value);
    if (kid === null) return { kid: null, problem: "CONVEX_VAULT_KEY is set but is not 64 hex characters" };
    return { kid };
  },
});
