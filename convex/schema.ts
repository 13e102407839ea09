/**
 * Mission Control's six tables (with its own field types), the console's optional fields spread
 * into agents, tasks and activities, and the console's own tables.
 */
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { agentStatus, consoleTables, missionControlFields, taskStatus } from "./console/tables";

export default defineSchema({
  agents: defineTable({
    name: v.string(),
    role: v.string(),
    status: agentStatus,
    currentTaskId: v.optional(v.id("tasks")),
    sessionKey: v.string(),
    level: v.optional(v.string()),
    ...missionControlFields.agents,
  }),

  tasks: defineTable({
    title: v.string(),
    description: v.string(),
    status: taskStatus,
    assigneeIds: v.array(v.id("agents")),
    ...missionControlFields.tasks,
  }),

  messages: defineTable({
    taskId: v.id("tasks"),
    fromAgentId: v.id("agents"),
    content: v.string(),
    attachments: v.optional(v.array(v.id("documents"))),
  }),

  activities: defineTable({
    type: v.string(),
    agentId: v.optional(v.id("agents")),
    message: v.string(),
    ...missionControlFields.activities,
  }),

  documents: defineTable({
    title: v.string(),
    content: v.string(),
    type: v.string(),
    taskId: v.optional(v.id("tasks")),
  }),

  notifications: defineTable({
    mentionedAgentId: v.id("agents"),
    content: v.string(),
    delivered: v.boolean(),
  }),

  ...consoleTables,
});
