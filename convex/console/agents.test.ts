import { convexTest } from "convex-test";
import { describe, expect, test } from "vitest";
import { internal } from "../_generated/api";
import schema from "../schema";

const modules = import.meta.glob("/convex/**/*.*s");

const activities = (t: ReturnType<typeof convexTest>) =>
  t.run((ctx) => ctx.db.query("activities").collect());

describe("agents:upsert", () => {
  test("inserts with a session key, default status and an agent_registered activity", async () => {
    const t = convexTest(schema, modules);
    const r = await t.mutation(internal.console.agents.upsert, {
      agentId: "veda",
      name: "Veda",
      role: "research",
      tz: "Europe/Paris",
    });
    expect(r.created).toBe(true);
    expect(r.changed).toBe(true);
    expect(r.agent).toMatchObject({
      agentId: "veda",
      name: "Veda",
      role: "research",
      status: "idle",
      sessionKey: "agent:veda:main",
      tz: "Europe/Paris",
    });
    expect(typeof r.agent.updatedAt).toBe("number");
    const acts = await activities(t);
    expect(acts).toHaveLength(1);
    expect(acts[0]).toMatchObject({
      type: "agent_registered",
      actor: "operator",
      agentId: r.agent._id,
      targetId: r.agent._id,
      detail: { agentId: "veda" },
    });
  });

  test("is idempotent: the same spec again writes nothing", async () => {
    const t = convexTest(schema, modules);
    const spec = { agentId: "veda", name: "Veda", role: "research", status: "active" as const };
    const first = await t.mutation(internal.console.agents.upsert, spec);
    const again = await t.mutation(internal.console.agents.upsert, { ...spec, actor: "someone" });
    expect(again.created).toBe(false);
    expect(again.changed).toBe(false);
    expect(again.agent).toEqual(first.agent);
    expect(await activities(t)).toHaveLength(1);
  });

  test("a change is patched, reported by field, and leaves unspecified fields alone", async () => {
    const t = convexTest(schema, modules);
    const first = await t.mutation(internal.console.agents.upsert, {
      agentId: "veda",
      name: "Veda",
      role: "research",
      workspace: "/w/veda",
      graceSeconds: 60,
    });
    const r = await t.mutation(internal.console.agents.upsert, {
      agentId: "veda",
      name: "Veda",
      role: "writer",
      graceSeconds: 120,
      actor: "ci",
    });
    expect(r).toMatchObject({ created: false, changed: true });
    expect(r.agent._id).toBe(first.agent._id);
    expect(r.agent).toMatchObject({ role: "writer", graceSeconds: 120, workspace: "/w/veda" });
    expect(r.agent.updatedAt!).toBeGreaterThanOrEqual(first.agent.updatedAt!);
    const acts = await activities(t);
    expect(acts.map((a) => a.type)).toEqual(["agent_registered", "agent_updated"]);
    expect(acts[1]).toMatchObject({
      actor: "ci",
      agentId: first.agent._id,
      targetId: first.agent._id,
      detail: { agentId: "veda", changed: ["graceSeconds", "role"] },
    });
  });

  test("adopts an agent written by Mission Control (no agentId field) by its session key", async () => {
    const t = convexTest(schema, modules);
    const mcId = await t.run((ctx) =>
      ctx.db.insert("agents", {
        name: "Veda",
        role: "research",
        status: "active",
        sessionKey: "agent:veda:main",
        level: "lead",
      }),
    );
    const r = await t.mutation(internal.console.agents.upsert, {
      agentId: "veda",
      name: "Veda",
      role: "research",
    });
    expect(r).toMatchObject({ created: false, changed: true });
    expect(r.agent._id).toBe(mcId);
    expect(r.agent).toMatchObject({ agentId: "veda", status: "active", level: "lead" });
    const all = await t.query(internal.console.agents.list, {});
    expect(all).toHaveLength(1);
    const acts = await activities(t);
    expect(acts).toHaveLength(1);
    expect(acts[0]).toMatchObject({ type: "agent_updated", detail: { changed: ["agentId"] } });
    // Now it carries the agentId: a second upsert is a no-op.
    const again = await t.mutation(internal.console.agents.upsert, {
      agentId: "veda",
      name: "Veda",
      role: "research",
    });
    expect(again.changed).toBe(false);
  });

  test("rejects a status outside Mission Control's", async () => {
    const t = convexTest(schema, modules);
    await expect(
      t.mutation(internal.console.agents.upsert, {
        agentId: "veda",
        name: "Veda",
        role: "r",
        status: "sleeping" as never,
      }),
    ).rejects.toThrow();
  });
});

describe("agents:list", () => {
  test("lists all agents, oldest first", async () => {
    const t = convexTest(schema, modules);
    for (const id of ["a", "b", "c"]) {
      await t.mutation(internal.console.agents.upsert, { agentId: id, name: id.toUpperCase(), role: "r" });
    }
    const all = await t.query(internal.console.agents.list, {});
    expect(all.map((a) => a.agentId)).toEqual(["a", "b", "c"]);
  });
});
