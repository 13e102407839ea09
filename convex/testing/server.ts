/**
 * A stand-in Convex deployment for tests: one convex-test backend running this project's
 * functions (convex/), behind Convex's HTTP API wire format.
 *
 *   node --import tsx convex/testing/server.ts --port 0 --key <admin key> [--host 127.0.0.1] [--meter]
 *
 * The key may also come from CONVEX_TEST_ADMIN_KEY. The first line on stdout is
 * `listening <port>`; keep draining stdout afterwards (console.log in functions goes there).
 *
 * Routes (all POST):
 *   /api/query, /api/mutation, /api/action   {"path","args","format"} as Convex's HTTP API.
 *       Internal functions are callable only with `Authorization: Convex <key>`: with no
 *       admin key the answer is a real deployment's "Could not find public function"; a wrong
 *       key is 403 BadDeployKey.
 *   /_test/reset                       a fresh, empty backend          -> {"ok": true}
 *   /_test/insert {"table","doc"}      a raw ctx.db.insert             -> {"id": "..."}
 *   /_test/patch  {"id","fields"}      a raw ctx.db.patch (no updatedAt, as Mission Control's
 *                                      own functions write)            -> {"ok": true}
 *   /_test/insertMany {"table","docs"} raw inserts in one transaction (seeding) -> {"ids": [...]}
 *   /_test/meter  {"reset"?: bool}     with --meter: what each function cost (meter.ts): per
 *                                      path, calls, cached calls, documents and KiB read and
 *                                      written, clock reads; the last calls    -> {"byPath", "recent"}
 *                                      (a call sent with `x-meter-tag: <who>` counts as "<who> <path>")
 *
 * --meter (or CONVEX_TEST_METER=1) counts, per call, the documents each function reads and writes
 * (each rounded up to 1 KiB, as Convex bills database bandwidth) and models Convex's query cache:
 * a query called again with the same arguments is answered from the cache, reading nothing,
 * unless its earlier run read the clock or a write since touched what it read. Raw writes
 * (/_test/insert, /_test/patch, /_test/insertMany) invalidate the cache like any write.
 *
 * This file lives in convex/ but is not a Convex function module: it registers no functions,
 * loads Node's modules only dynamically and starts only when run as a program, so bundling it
 * for a deployment neither fails nor starts a server.
 */

import type { IncomingMessage, ServerResponse } from "node:http";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function parseArgs(argv: string[]): { port: number; host: string; key: string | undefined; meter: boolean } {
  let port = 0;
  let host = "127.0.0.1";
  let key = process.env.CONVEX_TEST_ADMIN_KEY || undefined;
  let meter = process.env.CONVEX_TEST_METER === "1";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    if (flag === "--port") port = Number(value());
    else if (flag === "--host") host = value();
    else if (flag === "--key") key = value();
    else if (flag === "--meter") meter = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${port}`);
  return { port, host, key, meter };
}

async function main(): Promise<void> {
  // Node's modules and convex-test, loaded only here (see the note at the top).
  const nodeHttp = "node:http";
  const nodeFs = "node:fs";
  const nodePath = "node:path";
  const nodeUrl = "node:url";
  const http: typeof import("node:http") = await import(nodeHttp);
  const fs: typeof import("node:fs") = await import(nodeFs);
  const path: typeof import("node:path") = await import(nodePath);
  const url: typeof import("node:url") = await import(nodeUrl);
  const convexTestModule = "convex-test";
  const { convexTest }: typeof import("convex-test") = await import(convexTestModule);
  const { makeFunctionReference } = await import("convex/server");
  const { convexToJson, jsonToConvex } = await import("convex/values");
  const { argsKey: argsKeyOf } = await import("./meter");
  const schema = (await import("../schema")).default;
  const nodeAsyncHooks = "node:async_hooks";
  const { AsyncLocalStorage }: typeof import("node:async_hooks") = await import(nodeAsyncHooks);
  const { Meter } = await import("./meter");

  const { port, host, key, meter: metering } = parseArgs(process.argv.slice(2));
  if (!key) {
    process.stderr.write("convex test server: an admin key is needed (--key or CONVEX_TEST_ADMIN_KEY)\n");
    process.exit(2);
  }

  // The function modules: every .ts under convex/ but tests, declarations and testing/, plus
  // _generated (convex-test finds the functions' root from a path containing "_generated").
  const root = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), "..");
  const modules: Record<string, () => Promise<unknown>> = {};
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(root, full).split(path.sep).join("/");
      if (entry.isDirectory()) {
        if (rel === "testing" || rel === "node_modules" || entry.name.startsWith(".")) continue;
        walk(full);
        continue;
      }
      const generated = rel.startsWith("_generated/");
      const wanted = generated
        ? /\.js$/.test(entry.name)
        : /\.ts$/.test(entry.name) && !/\.d\.ts$/.test(entry.name) && !/\.(test|spec)\.ts$/.test(entry.name);
      if (!wanted) continue;
      const fileUrl = url.pathToFileURL(full).href;
      modules[`./${rel}`] = () => import(fileUrl);
    }
  };
  walk(root);
  if (!Object.keys(modules).some((k) => k.includes("_generated"))) {
    throw new Error("convex/_generated is missing: run `npm run codegen`");
  }

  const fresh = () => convexTest(schema, modules);
  let t = fresh();

  // The cost meter (meter.ts): the current call's record lives in an async context, and
  // convex-test's syscalls are wrapped once (its global proxy is installed by the first backend).
  type Live = ReturnType<InstanceType<typeof Meter>["newCall"]>;
  const callStorage = new AsyncLocalStorage<Live>();
  const indexFields = (table: string, index: string): string[] => {
    const def = (schema.tables as unknown as Record<string, { export(): { indexes: { indexDescriptor: string; fields: string[] }[] } }>)[table];
    const found = def?.export().indexes.find((i) => i.indexDescriptor === index);
    if (found === undefined) throw new Error(`meter: no index ${table}.${index}`);
    return found.fields;
  };
  const meter = metering ? new Meter(() => callStorage.getStore(), indexFields) : null;
  if (meter !== null) {
    const g = globalThis as unknown as { Convex: ReturnType<InstanceType<typeof Meter>["wrap"]> };
    const inner = g.Convex;
    g.Convex = meter.wrap(() => inner);
    // A query that reads the clock is not cached: note every read of it during a call.
    const RealDate = Date;
    const realNow = RealDate.now.bind(RealDate);
    const sawTime = (): void => {
      const call = callStorage.getStore();
      if (call) call.readTime = true;
    };
    const MeteredDate: DateConstructor = new Proxy(RealDate, {
      construct(target, argArray, newTarget): object {
        if (argArray.length === 0) sawTime();
        return Reflect.construct(target, argArray, newTarget === MeteredDate ? target : newTarget);
      },
      apply(target, thisArg, argArray) {
        sawTime();
        return Reflect.apply(target, thisArg, argArray);
      },
      get(target, prop, receiver) {
        if (prop === "now") {
          return () => {
            sawTime();
            return realNow();
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    (globalThis as { Date: DateConstructor }).Date = MeteredDate;
  }

  /** Runs `fn` as one metered call (when metering): its reads, writes and clock reads counted. */
  const metered = async <T>(
    what: string,
    kind: string,
    fn: () => Promise<T>,
    cacheKey?: string,
    tag?: string,
  ): Promise<T> => {
    if (meter === null) return fn();
    const path = tag ? `${tag} ${what}` : what; // who called, for the benchmark's attribution
    if (cacheKey !== undefined) {
      const hit = meter.cached(cacheKey);
      if (hit !== undefined) {
        const call = meter.newCall(path, kind);
        call.cached = true;
        meter.record(call);
        return hit.value as T;
      }
    }
    const call = meter.newCall(path, kind);
    try {
      const value = await callStorage.run(call, fn);
      if (cacheKey !== undefined) meter.remember(cacheKey, call, value);
      meter.invalidate(call.writes);
      return value;
    } finally {
      meter.record(call);
    }
  };

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  };

  const readBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    try {
      body = text.trim() === "" ? {} : JSON.parse(text);
    } catch (e) {
      throw new HttpError(400, "BadJsonBody", `Failed to parse JSON body: ${(e as Error).message}`);
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new HttpError(400, "BadJsonBody", "The request body must be a JSON object");
    }
    return body as Record<string, unknown>;
  };

  /** "admin": the right key; "anonymous": no admin key at all; throws 403 on a wrong key. */
  const authenticate = (req: IncomingMessage): "admin" | "anonymous" => {
    const header = req.headers.authorization;
    if (header === undefined || header === "") return "anonymous";
    const m = /^convex\s+(.*)$/is.exec(header);
    if (m === null) return "anonymous"; // e.g. a Bearer user token: not an admin
    const given = m[1].trim();
    // An admin may append `:<base64 identity>` to act as a user; the key itself is what counts.
    if (given !== key && !given.startsWith(`${key}:`)) {
      throw new HttpError(
        403,
        "BadDeployKey",
        "The provided deploy key was invalid for deployment 'test'. Double check that the environment this key was generated for matches the desired deployment.",
      );
    }
    return "admin";
  };

  const requireAdmin = (req: IncomingMessage): void => {
    if (authenticate(req) !== "admin") {
      throw new HttpError(401, "Unauthenticated", "This route needs `Authorization: Convex <admin key>`");
    }
  };

  /** Convex's "json" output format: clean and lossy (int64 as a decimal string, bytes as base64). */
  const cleanJson = (value: unknown): Json => {
    if (value === undefined || value === null) return null;
    if (typeof value === "bigint") return value.toString();
    if (typeof value === "number") {
      if (Number.isNaN(value)) return "NaN";
      if (value === Infinity) return "Infinity";
      if (value === -Infinity) return "-Infinity";
      return value;
    }
    if (typeof value === "boolean" || typeof value === "string") return value;
    if (value instanceof ArrayBuffer) return Buffer.from(value).toString("base64");
    if (Array.isArray(value)) return value.map(cleanJson);
    if (typeof value === "object") {
      const out: Record<string, Json> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (v !== undefined) out[k] = cleanJson(v);
      }
      return out;
    }
    return String(value);
  };

  const encode = (value: unknown, format: unknown): Json =>
    format === "convex_encoded_json" || format === "convex_json"
      ? (convexToJson((value ?? null) as never) as Json)
      : cleanJson(value);

  const callFunction = async (
    kind: "query" | "mutation" | "action",
    req: IncomingMessage,
    body: Record<string, unknown>,
  ): Promise<{ status: number; body: unknown }> => {
    const fnPath = body.path;
    if (typeof fnPath !== "string" || fnPath === "") {
      throw new HttpError(400, "MissingIdentifier", "The request body needs a function `path`");
    }
    const caller = authenticate(req);
    if (caller !== "admin") {
      // Every function here is internal: a real deployment knows no public function by this name.
      return {
        status: 200,
        body: {
          status: "error",
          errorMessage: `Could not find public function for '${fnPath}'. Did you forget to run \`npx convex dev\` or \`npx convex deploy\`?`,
        },
      };
    }
    let rawArgs = body.args ?? {};
    if (Array.isArray(rawArgs)) rawArgs = rawArgs[0] ?? {};
    try {
      const args = jsonToConvex(rawArgs as never) as Record<string, unknown>;
      const ref = makeFunctionReference(fnPath);
      type Call = (fn: unknown, args: unknown) => Promise<unknown>;
      const call = (kind === "query" ? t.query : kind === "mutation" ? t.mutation : t.action) as Call;
      const cacheKey = kind === "query" && meter !== null ? argsKeyOf(fnPath, args) : undefined;
      const tagHeader = req.headers["x-meter-tag"];
      const tag = typeof tagHeader === "string" ? tagHeader : undefined;
      const value = await metered(fnPath, kind, () => call(ref, args), cacheKey, tag);
      return { status: 200, body: { status: "success", value: encode(value, body.format) } };
    } catch (e) {
      const err = e as { message?: unknown; data?: unknown; name?: unknown };
      const answer: Record<string, unknown> = {
        status: "error",
        errorMessage: typeof err?.message === "string" ? err.message : String(e),
      };
      if (err && typeof err === "object" && err.name === "ConvexError" && err.data !== undefined) {
        answer.errorData = encode(err.data, body.format);
      }
      return { status: 200, body: answer };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const route = new URL(req.url ?? "/", "http://localhost").pathname.replace(/\/+$/, "");
    const fnKind = ({ "/api/query": "query", "/api/mutation": "mutation", "/api/action": "action" } as const)[
      route as "/api/query"
    ];
    const testRoute = ["/_test/reset", "/_test/insert", "/_test/patch", "/_test/insertMany", "/_test/meter"].includes(route);
    if (req.method !== "POST" || (fnKind === undefined && !testRoute)) {
      throw new HttpError(404, "NotFound", `No route for ${req.method} ${route || "/"}`);
    }
    const body = await readBody(req);
    if (fnKind !== undefined) {
      const answer = await callFunction(fnKind, req, body);
      send(res, answer.status, answer.body);
      return;
    }
    requireAdmin(req);
    if (route === "/_test/reset") {
      t = fresh();
      meter?.clear();
      send(res, 200, { ok: true });
    } else if (route === "/_test/meter") {
      if (meter === null) throw new HttpError(400, "NoMeter", "Start the server with --meter to measure costs");
      send(res, 200, meter.report(body.reset === true));
    } else if (route === "/_test/insertMany") {
      const { table, docs } = body;
      if (typeof table !== "string" || !Array.isArray(docs)) {
        throw new HttpError(400, "BadInsert", "The body needs {\"table\": string, \"docs\": [object]}");
      }
      try {
        const values = docs.map((d) => jsonToConvex(d as never) as never);
        const ids = await metered("_test/insertMany", "raw", () =>
          t.run(async (ctx) => {
            const out: string[] = [];
            for (const v of values) out.push(await ctx.db.insert(table as never, v));
            return out;
          }),
        );
        send(res, 200, { ids });
      } catch (e) {
        throw new HttpError(400, "BadInsert", (e as Error).message ?? String(e));
      }
    } else if (route === "/_test/insert") {
      const { table, doc } = body;
      if (typeof table !== "string" || doc === null || typeof doc !== "object") {
        throw new HttpError(400, "BadInsert", "The body needs {\"table\": string, \"doc\": object}");
      }
      try {
        const value = jsonToConvex(doc as never) as never;
        const id = await metered("_test/insert", "raw", () => t.run(async (ctx) => ctx.db.insert(table as never, value)));
        send(res, 200, { id });
      } catch (e) {
        throw new HttpError(400, "BadInsert", (e as Error).message ?? String(e));
      }
    } else {
      const { id, fields } = body;
      if (typeof id !== "string" || fields === null || typeof fields !== "object") {
        throw new HttpError(400, "BadPatch", "The body needs {\"id\": string, \"fields\": object}");
      }
      try {
        const value = jsonToConvex(fields as never) as never;
        await metered("_test/patch", "raw", () => t.run(async (ctx) => ctx.db.patch(id as never, value)));
        send(res, 200, { ok: true });
      } catch (e) {
        throw new HttpError(400, "BadPatch", (e as Error).message ?? String(e));
      }
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof HttpError) send(res, e.status, { code: e.code, message: e.message });
      else send(res, 500, { code: "InternalServerError", message: (e as Error)?.message ?? String(e) });
    });
  });
  server.keepAliveTimeout = 60_000;

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  server.listen(port, host, () => {
    const address = server.address();
    const actual = typeof address === "object" && address !== null ? address.port : port;
    process.stdout.write(`listening ${actual}\n`);
  });
}

/** True when this file is the program being run (not imported, not analysed by a bundler). */
function isMain(): boolean {
  try {
    const entry = typeof process !== "undefined" ? process.argv?.[1] : undefined;
    if (!entry) return false;
    const here = new URL(import.meta.url).pathname;
    return decodeURIComponent(here) === entry || decodeURIComponent(here) === `${entry}.ts`;
  } catch {
    return false;
  }
}

if (isMain()) {
  main().catch((e: unknown) => {
    process.stderr.write(`convex test server: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  });
}
