import type { z } from "zod";
import type { SchemaKit } from "../schema/index.ts";
import { agentSources } from "./sources/index.ts";

/** The event fields a source's windows can count by. */
export const KEY_FIELD = /^(comm|pid|kind|message|fields\.[\w.-]+)$/;

/**
 * One entry of agent.sources: its name, the field its per-key windows count
 * by, and one source kind's own part from the registry (like a step's
 * action), so `opskit schema` and errors at file:line:col come from each
 * kind's schema.
 */
export function sourceEntrySchema(kit: SchemaKit): z.ZodType<{ name: string; key?: string } & Record<string, unknown>> {
  const { z } = kit;
  const kinds = Object.keys(agentSources);
  const parts = Object.fromEntries(kinds.map((kind) => [kind, kit.schemaOf(agentSources[kind]!.schema).optional()]));
  const entry = z
    .object({
      name: z.string().regex(/^[\w.-]+$/, "letters, digits, ., - and _").describe("names the source in window(), metrics and events"),
      key: z.string().regex(KEY_FIELD, "comm, pid, kind, message or fields.NAME").optional().describe("the event field per-key windows count by (default comm, the process name), e.g. fields.level"),
      ...parts,
    })
    .strict();
  if (kinds.length === 0) return entry.refine(() => false, "this opskit has no agent source kinds") as never;
  return kit.exactlyOneOf(entry, kinds, "a source takes") as never;
}
