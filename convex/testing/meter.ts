/**
 * The cost meter of the test server (`server.ts --meter`): what Convex would bill for each call of
 * this project's functions, as convex-test runs them. Not a Convex function module (it registers
 * nothing and imports no Node module): server.ts wires it in.
 *
 * The model (docs/cost.md):
 * - Database bandwidth: every document a function reads or writes, each rounded up to 1 KiB
 *   (`kib(doc)`): a document returned by a query stream or a `db.get`, a document written by an
 *   insert, a patch, a replace (a delete bills 1 KiB). A `.filter()` is refused: its scanned rows
 *   would not be seen here, so the meter would under-count them.
 * - The query cache: a query call re-reads nothing when the same function was called before with
 *   the same arguments, that run read no clock (`Date.now()`, `new Date()`), and no write since
 *   touched what it read (its index ranges, up to the last row it read when it stopped early, and
 *   the ids it got). Such a call is answered from the cache and bills no bandwidth; it is still a
 *   function call.
 */

import { compareValues, getDocumentSize, jsonToConvex } from "convex/values";

type Value = unknown;
type Doc = Record<string, Value> & { _id: string; _creationTime: number };

type RangeExpr = { type: "Eq" | "Gt" | "Gte" | "Lt" | "Lte"; fieldPath: string; value: unknown };

/** One index range a function read. */
type ReadRange = {
  table: string;
  fields: string[]; // the index key: its fields, then _creationTime and _id
  range: RangeExpr[];
  order: "asc" | "desc";
  limit: number | null;
  returned: number;
  done: boolean;
  last: Doc | null;
  /** A paginated read: the whole range counts as read (a conservative choice). */
  whole: boolean;
};

type Write = { table: string; before: Doc | null; after: Doc | null };

/** What one call did. */
export type CallRecord = {
  path: string;
  kind: string; // query | mutation | action | raw
  cached: boolean;
  docsRead: number;
  bytesRead: number;
  kibRead: number;
  docsWritten: number;
  kibWritten: number;
  readTime: boolean;
  ranges: number;
};

type Live = CallRecord & {
  reads: ReadRange[];
  gets: Set<string>;
  writes: Write[];
  byQueryId: Map<number, ReadRange>;
};

type CacheEntry = { value: unknown; reads: ReadRange[]; gets: Set<string> };

type Totals = Omit<CallRecord, "path" | "kind" | "readTime" | "ranges" | "cached"> & {
  calls: number;
  cached: number;
  readTime: number;
};

export const KIB = 1024;

/** A document's billed size in KiB: its size rounded up to whole KiB, at least 1. */
export function kib(doc: unknown): number {
  const bytes = docBytes(doc);
  return Math.max(1, Math.ceil(bytes / KIB));
}

function docBytes(doc: unknown): number {
  try {
    return getDocumentSize(doc as never);
  } catch {
    return JSON.stringify(doc ?? null).length;
  }
}

/** The table of a convex-test id (`10001;agents` style: digits, then the table). */
export function tableOfId(id: string): string | null {
  const m = /^[0-9]+/.exec(id);
  if (!m || m[0].length === id.length) return null;
  return id.slice(m[0].length).replace(/^;/, "");
}

function fieldValue(doc: Doc, path: string): unknown {
  let v: unknown = doc;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function cmp(a: unknown, b: unknown): number {
  // a missing field sorts first, as in Convex's indexes
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  return compareValues(a as never, b as never);
}

function inRange(doc: Doc, r: ReadRange): boolean {
  for (const e of r.range) {
    const c = cmp(fieldValue(doc, e.fieldPath), e.value);
    if (e.type === "Eq" && c !== 0) return false;
    if (e.type === "Gt" && !(c > 0)) return false;
    if (e.type === "Gte" && !(c >= 0)) return false;
    if (e.type === "Lt" && !(c < 0)) return false;
    if (e.type === "Lte" && !(c <= 0)) return false;
  }
  if (r.whole || r.last === null) return true;
  const exhausted = r.done && (r.limit === null || r.returned < r.limit);
  if (exhausted) return true;
  // stopped early: the read interval ends at the last row read
  for (const f of r.fields) {
    const c = cmp(fieldValue(doc, f), fieldValue(r.last, f));
    if (c !== 0) return r.order === "asc" ? c < 0 : c > 0;
  }
  return true;
}

function touches(w: Write, reads: ReadRange[], gets: Set<string>): boolean {
  const id = (w.after ?? w.before)?._id;
  if (id !== undefined && gets.has(id)) return true;
  for (const r of reads) {
    if (r.table !== w.table) continue;
    if ((w.before && inRange(w.before, r)) || (w.after && inRange(w.after, r))) return true;
  }
  return false;
}

/** Arguments as a cache key: JSON with sorted keys. */
export function argsKey(path: string, args: unknown): string {
  const canon = (v: unknown): string => {
    if (v === null || typeof v !== "object") return JSON.stringify(v ?? null);
    if (Array.isArray(v)) return `[${v.map(canon).join(",")}]`;
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon(o[k])}`)
      .join(",")}}`;
  };
  return `${path}\u0000${canon(args)}`;
}

type Syscalls = {
  syscall: (op: string, args: string) => string;
  asyncSyscall: (op: string, args: string) => Promise<string>;
  jsSyscall: (op: string, args: Record<string, unknown>) => unknown;
};

export class Meter {
  private cache = new Map<string, CacheEntry>();
  private byPath = new Map<string, Totals>();
  private recent: CallRecord[] = [];
  readonly maxCache = 5000;

  constructor(
    private readonly current: () => Live | undefined,
    private readonly indexFields: (table: string, index: string) => string[],
  ) {}

  newCall(path: string, kind: string): Live {
    return {
      path,
      kind,
      cached: false,
      docsRead: 0,
      bytesRead: 0,
      kibRead: 0,
      docsWritten: 0,
      kibWritten: 0,
      readTime: false,
      ranges: 0,
      reads: [],
      gets: new Set(),
      writes: [],
      byQueryId: new Map(),
    };
  }

  /** The cached answer of a query, if Convex would serve it from its cache. */
  cached(key: string): { value: unknown } | undefined {
    const hit = this.cache.get(key);
    if (hit === undefined) return undefined;
    this.cache.delete(key); // most recently used last
    this.cache.set(key, hit);
    return { value: hit.value };
  }

  /** After a query ran: keep its answer unless it read the clock. */
  remember(key: string, call: Live, value: unknown): void {
    if (call.readTime) return;
    this.cache.set(key, { value, reads: call.reads, gets: call.gets });
    while (this.cache.size > this.maxCache) this.cache.delete(this.cache.keys().next().value as string);
  }

  /** After a write committed: every cached answer whose reads it touched is dropped. */
  invalidate(writes: Write[]): void {
    if (writes.length === 0) return;
    for (const [key, entry] of this.cache) {
      if (writes.some((w) => touches(w, entry.reads, entry.gets))) this.cache.delete(key);
    }
  }

  record(call: Live): CallRecord {
    const rec: CallRecord = {
      path: call.path,
      kind: call.kind,
      cached: call.cached,
      docsRead: call.docsRead,
      bytesRead: call.bytesRead,
      kibRead: call.kibRead,
      docsWritten: call.docsWritten,
      kibWritten: call.kibWritten,
      readTime: call.readTime,
      ranges: call.ranges,
    };
    const t = this.byPath.get(rec.path) ?? {
      calls: 0,
      cached: 0,
      docsRead: 0,
      bytesRead: 0,
      kibRead: 0,
      docsWritten: 0,
      kibWritten: 0,
      readTime: 0,
    };
    t.calls += 1;
    t.cached += rec.cached ? 1 : 0;
    t.docsRead += rec.docsRead;
    t.bytesRead += rec.bytesRead;
    t.kibRead += rec.kibRead;
    t.docsWritten += rec.docsWritten;
    t.kibWritten += rec.kibWritten;
    t.readTime += rec.readTime ? 1 : 0;
    this.byPath.set(rec.path, t);
    this.recent.push(rec);
    if (this.recent.length > 200) this.recent.shift();
    return rec;
  }

  report(reset: boolean): { byPath: Record<string, Totals>; recent: CallRecord[]; cacheEntries: number } {
    const out = { byPath: Object.fromEntries(this.byPath), recent: [...this.recent], cacheEntries: this.cache.size };
    if (reset) {
      this.byPath = new Map();
      this.recent = [];
    }
    return out;
  }

  /** A fresh backend: nothing cached any more. */
  clear(): void {
    this.cache.clear();
  }

  private read(call: Live, doc: Doc): void {
    call.docsRead += 1;
    call.bytesRead += docBytes(doc);
    call.kibRead += kib(doc);
  }

  private wrote(call: Live, doc: Doc | null): void {
    call.docsWritten += 1;
    call.kibWritten += doc === null ? 1 : kib(doc);
  }

  /** Syscalls that count what the current call reads and writes, then do what convex-test does. */
  wrap(inner: () => Syscalls): Syscalls {
    const self = this;
    const decode = (json: string): Doc | null => {
      const v = jsonToConvex(JSON.parse(json) as never) as unknown;
      return v === null ? null : (v as Doc);
    };
    const getRaw = async (table: string | undefined, id: string): Promise<Doc | null> =>
      decode(await inner().asyncSyscall("1.0/get", JSON.stringify({ table, id })));
    return {
      syscall(op: string, jsonArgs: string): string {
        const result = inner().syscall(op, jsonArgs);
        const call = self.current();
        if (call && op === "1.0/queryStream") {
          const { query } = JSON.parse(jsonArgs) as { query: QueryJson };
          const { queryId } = JSON.parse(result) as { queryId: number };
          call.byQueryId.set(queryId, self.rangeOf(query, false));
          call.reads.push(call.byQueryId.get(queryId)!);
          call.ranges += 1;
        }
        return result;
      },
      async asyncSyscall(op: string, jsonArgs: string): Promise<string> {
        const call = self.current();
        if (!call) return inner().asyncSyscall(op, jsonArgs);
        const args = JSON.parse(jsonArgs) as Record<string, unknown>;
        if (op === "1.0/insert") {
          const result = await inner().asyncSyscall(op, jsonArgs);
          const { _id } = JSON.parse(result) as { _id: string };
          const after = await getRaw(args.table as string, _id);
          call.writes.push({ table: args.table as string, before: null, after });
          self.wrote(call, after);
          return result;
        }
        if (op === "1.0/shallowMerge" || op === "1.0/replace" || op === "1.0/remove") {
          const id = args.id as string;
          const table = (args.table as string | undefined) ?? tableOfId(id) ?? "";
          const before = await getRaw(args.table as string | undefined, id);
          if (before !== null) self.read(call, before); // a write reads the document first
          const result = await inner().asyncSyscall(op, jsonArgs);
          const after = op === "1.0/remove" ? null : await getRaw(args.table as string | undefined, id);
          call.writes.push({ table, before, after });
          self.wrote(call, after);
          return result;
        }
        const result = await inner().asyncSyscall(op, jsonArgs);
        if (op === "1.0/get") {
          call.gets.add(args.id as string);
          call.ranges += 1;
          const doc = decode(result);
          if (doc !== null) self.read(call, doc);
        } else if (op === "1.0/queryStreamNext") {
          const r = call.byQueryId.get(args.queryId as number);
          const { value, done } = JSON.parse(result) as { value: unknown; done: boolean };
          if (r !== undefined) {
            if (done) r.done = true;
            if (!done && value !== null) {
              const doc = jsonToConvex(value as never) as Doc;
              r.returned += 1;
              r.last = doc;
              self.read(call, doc);
            }
          }
        } else if (op === "1.0/queryPage") {
          const { query } = args as { query: QueryJson };
          const r = self.rangeOf(query, true);
          call.reads.push(r);
          call.ranges += 1;
          const { page } = jsonToConvex(JSON.parse(result) as never) as { page: Doc[] };
          for (const doc of page) self.read(call, doc);
        } else if (op === "1.0/count") {
          throw new Error("meter: db count is not modelled");
        }
        return result;
      },
      jsSyscall(op: string, args: Record<string, unknown>): unknown {
        return inner().jsSyscall(op, args);
      },
    };
  }

  private rangeOf(query: QueryJson, whole: boolean): ReadRange {
    if (query.operators.some((o) => "filter" in o)) {
      throw new Error("meter: a .filter() scans rows the meter cannot see; read an index range instead");
    }
    const limitOp = query.operators.find((o) => "limit" in o) as { limit: number } | undefined;
    const source = query.source;
    let table: string;
    let fields: string[];
    let range: RangeExpr[] = [];
    if (source.type === "FullTableScan") {
      table = source.tableName as string;
      fields = ["_creationTime", "_id"];
    } else if (source.type === "IndexRange") {
      const [t, index] = (source.indexName as string).split(".");
      table = t;
      fields =
        index === "by_creation_time"
          ? ["_creationTime", "_id"]
          : index === "by_id"
            ? ["_id"]
            : [...this.indexFields(t, index), "_creationTime", "_id"];
      range = ((source.range as RangeExpr[]) ?? []).map((e) => ({
        ...e,
        value: e.value === undefined ? undefined : jsonToConvex(e.value as never),
      }));
    } else {
      throw new Error(`meter: a ${String(source.type)} query is not modelled`);
    }
    return {
      table,
      fields,
      range,
      order: (source.order as "asc" | "desc" | undefined) ?? "asc",
      limit: limitOp?.limit ?? null,
      returned: 0,
      done: false,
      last: null,
      whole,
    };
  }
}

type QueryJson = { source: Record<string, unknown> & { type: string }; operators: Record<string, unknown>[] };
