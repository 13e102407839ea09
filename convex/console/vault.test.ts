import { convexTest } from "convex-test";
import { afterEach, describe, expect, test, vi } from "vitest";
import vectors from "../../assets/vault-test-vectors.json";
import { internal } from "../_generated/api";
import schema from "../schema";
import { KID_LABEL, kidOf } from "./vault";

const modules = import.meta.glob("/convex/**/*.*s");

const fromHex = (hex: string): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
};
const fromB64 = (b64: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** The AAD rule of docs/VAULT.md: canonical JSON of {fmt, kid, name, v} (sorted keys, no spaces). */
const aad = (fmt: string, kid: string, name: string, v: number): Uint8Array<ArrayBuffer> =>
  new TextEncoder().encode(
    `{"fmt":${JSON.stringify(fmt)},"kid":${JSON.stringify(kid)},"name":${JSON.stringify(name)},"v":${JSON.stringify(v)}}`,
  );

type Rec = { fmt: string; name: string; v: number; kid: string; nonce: string; ct: string };

async function decrypt(keyHex: string, rec: Rec, name: string, v: number, fmt = rec.fmt): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", fromHex(keyHex), { name: "AES-GCM" }, false, ["decrypt"]);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromB64(rec.nonce), additionalData: aad(fmt, rec.kid, name, v), tagLength: 128 },
    key,
    fromB64(rec.ct),
  );
  return new Uint8Array(plain);
}

describe("the shared test vectors, through WebCrypto", () => {
  test("the kid is HMAC-SHA256(key, label), first 16 hex characters", async () => {
    expect(KID_LABEL).toBe(vectors.kidLabel);
    expect(await kidOf(vectors.keyHex)).toBe(vectors.kid);
    expect(await kidOf("nothex")).toBeNull();
  });

  test("every vector decrypts to its plaintext with its AAD", async () => {
    expect(vectors.vectors.length).toBeGreaterThanOrEqual(5);
    for (const vec of vectors.vectors) {
      expect(new TextDecoder().decode(aad(vectors.fmt, vectors.kid, vec.name, vec.v))).toBe(vec.aad);
      expect(toHex(fromB64(vec.record.nonce))).toBe(vec.nonceHex);
      const plain = await decrypt(vectors.keyHex, vec.record, vec.name, vec.v);
      expect(toHex(plain)).toBe(vec.plaintextHex);
    }
  });

  test("moved, relabelled, flipped or re-formatted records fail authentication", async () => {
    expect(vectors.mustFail.length).toBeGreaterThanOrEqual(4);
    for (const bad of vectors.mustFail) {
      const fmt = (bad as { fmt?: string }).fmt;
      await expect(decrypt(vectors.keyHex, bad.record, bad.name, bad.v, fmt), bad.why).rejects.toThrow();
    }
    // and another key fails too
    const other = "00".repeat(32);
    await expect(decrypt(other, vectors.vectors[0].record, vectors.vectors[0].name, vectors.vectors[0].v)).rejects.toThrow();
  });
});

describe("console/vault functions", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  test("put is check-and-set, writes an activity without the record, and is idempotent", async () => {
    const t = convexTest(schema, modules);
    const rec = JSON.stringify(vectors.vectors[0].record);
    const row = await t.mutation(internal.console.vault.put, {
      name: "convex-deploy-key", version: 1, record: rec, kid: vectors.kid, expectedVersion: 0,
    });
    expect(row).toMatchObject({ name: "convex-deploy-key", version: 1, kid: vectors.kid, deleted: false });
    const again = await t.mutation(internal.console.vault.put, { name: "convex-deploy-key", version: 1, record: rec, kid: vectors.kid });
    expect(again._id).toBe(row._id);
    await expect(
      t.mutation(internal.console.vault.put, { name: "convex-deploy-key", version: 2, record: "x", kid: vectors.kid, expectedVersion: 0 }),
    ).rejects.toThrow(/conflicts/);
    await expect(
      t.mutation(internal.console.vault.put, { name: "convex-deploy-key", version: 1, record: "other", kid: vectors.kid }),
    ).rejects.toThrow(/conflicts/);
    const acts = await t.run((ctx) => ctx.db.query("activities").collect());
    expect(acts).toHaveLength(1);
    expect(acts[0]).toMatchObject({ type: "vault_put", targetId: row._id, detail: { name: "convex-deploy-key", version: 1, kid: vectors.kid } });
    expect(JSON.stringify(acts)).not.toContain(vectors.vectors[0].record.ct);
  });

  test("list has no record bodies; get returns one; remove soft-deletes", async () => {
    const t = convexTest(schema, modules);
    for (const [i, vec] of vectors.vectors.slice(0, 2).entries()) {
      await t.mutation(internal.console.vault.put, { name: "a", version: i + 1, record: JSON.stringify(vec.record), kid: vectors.kid });
    }
    const listed = await t.query(internal.console.vault.list, {});
    expect(listed.map((r) => [r.name, r.version])).toEqual([["a", 1], ["a", 2]]);
    expect(listed.every((r) => !("record" in r))).toBe(true);
    expect((await t.query(internal.console.vault.get, { name: "a" })).version).toBe(2);
    expect((await t.query(internal.console.vault.get, { name: "a", version: 1 })).record).toBe(JSON.stringify(vectors.vectors[0].record));
    expect(await t.mutation(internal.console.vault.remove, { name: "a" })).toBe(2);
    await expect(t.query(internal.console.vault.get, { name: "a" })).rejects.toThrow(/not found/);
    await expect(t.mutation(internal.console.vault.remove, { name: "zz" })).rejects.toThrow(/not found/);
    const types = (await t.run((ctx) => ctx.db.query("activities").collect())).map((a) => a.type);
    expect(types).toEqual(["vault_put", "vault_put", "vault_removed"]);
  });

  test("kidCheck returns the kid of the deployment's key, never the key", async () => {
    const t = convexTest(schema, modules);
    vi.stubEnv("CONVEX_VAULT_KEY", "");
    expect(await t.action(internal.console.vault.kidCheck, {})).toEqual({ kid: null });
    vi.stubEnv("CONVEX_VAULT_KEY", vectors.keyHex);
    const out = await t.action(internal.console.vault.kidCheck, {});
    expect(out).toEqual({ kid: vectors.kid });
    expect(JSON.stringify(out)).not.toContain(vectors.keyHex);
    vi.stubEnv("CONVEX_VAULT_KEY", "short");
    const bad = await t.action(internal.console.vault.kidCheck, {});
    expect(bad.kid).toBeNull();
    expect(bad.problem).toMatch(/not 64 hex/);
  });
});
