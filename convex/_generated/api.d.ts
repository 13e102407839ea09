/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as console_activities from "../console/activities.js";
import type * as console_agents from "../console/agents.js";
import type * as console_flips from "../console/flips.js";
import type * as console_heartbeats from "../console/heartbeats.js";
import type * as console_history from "../console/history.js";
import type * as console_lib from "../console/lib.js";
import type * as console_messages from "../console/messages.js";
import type * as console_pipeline from "../console/pipeline.js";
import type * as console_snapshot from "../console/snapshot.js";
import type * as console_tables from "../console/tables.js";
import type * as console_tasks from "../console/tasks.js";
import type * as console_vault from "../console/vault.js";
import type * as testing_meter from "../testing/meter.js";
import type * as testing_server from "../testing/server.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  "console/activities": typeof console_activities;
  "console/agents": typeof console_agents;
  "console/flips": typeof console_flips;
  "console/heartbeats": typeof console_heartbeats;
  "console/history": typeof console_history;
  "console/lib": typeof console_lib;
  "console/messages": typeof console_messages;
  "console/pipeline": typeof console_pipeline;
  "console/snapshot": typeof console_snapshot;
  "console/tables": typeof console_tables;
  "console/tasks": typeof console_tasks;
  "console/vault": typeof console_vault;
  "testing/meter": typeof testing_meter;
  "testing/server": typeof testing_server;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
