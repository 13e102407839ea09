/**
 * No function of this project is public: every registered function exported by a module under
 * convex/ must be internal (callable only with a deploy key). convex-test does not tell public
 * from internal, so this is checked statically on the registration flags.
 */
import { expect, test } from "vitest";

const modules = import.meta.glob<Record<string, unknown>>(
  ["./**/*.ts", "!./_generated/**", "!./testing/**", "!./**/*.test.ts", "!./**/*.d.ts"],
  { eager: true },
);

type Registered = {
  isRegistered?: boolean;
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isHttp?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
};

function isRegistered(value: unknown): value is Registered {
  if (typeof value !== "function" && (typeof value !== "object" || value === null)) return false;
  const f = value as Registered;
  return Boolean(f.isRegistered || f.isQuery || f.isMutation || f.isAction || f.isHttp);
}

test("every registered function is internal", () => {
  const found: string[] = [];
  const exposed: string[] = [];
  for (const [file, mod] of Object.entries(modules)) {
    for (const [name, value] of Object.entries(mod)) {
      if (!isRegistered(value)) continue;
      const where = `${file.replace(/^\.\//, "").replace(/\.ts$/, "")}:${name}`;
      found.push(where);
      if (value.isInternal !== true || value.isPublic === true || value.isHttp === true) exposed.push(where);
    }
  }
  expect(exposed).toEqual([]);
  expect(found.sort()).toEqual([
    "console/activities:list",
    "console/activities:log",
    "console/agents:list",
    "console/agents:upsert",
    "console/flips:list",
    "console/flips:record",
    "console/heartbeats:list",
    "console/heartbeats:record",
    "console/history:get",
    "console/history:rebuild",
    "console/messages:send",
    "console/pipeline:addFeed",
    "console/pipeline:createOpportunity",
    "console/pipeline:getOpportunity",
    "console/pipeline:listFeeds",
    "console/pipeline:listOpportunities",
    "console/pipeline:listSignals",
    "console/pipeline:moveOpportunity",
    "console/pipeline:recordAnalysis",
    "console/pipeline:recordDecision",
    "console/pipeline:recordFetch",
    "console/pipeline:recordSurvey",
    "console/pipeline:removeFeed",
    "console/snapshot:get",
    "console/snapshot:start",
    "console/snapshot:tables",
    "console/tasks:create",
    "console/tasks:list",
    "console/tasks:remove",
    "console/tasks:update",
    "console/vault:get",
    "console/vault:kidCheck",
    "console/vault:list",
    "console/vault:put",
    "console/vault:remove",
  ]);
});

test("the check would catch a public function", async () => {
  const { query } = await import("./_generated/server");
  const pub = query({ args: {}, handler: async () => null }) as unknown;
  expect(isRegistered(pub)).toBe(true);
  expect((pub as Registered).isPublic).toBe(true);
});
