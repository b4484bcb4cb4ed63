import type { z } from "zod";
import type { SchemaKit } from "../schema/index.ts";

// `agent:` on its own, built from the kit like a kind's part: opskit agent
// validates this section (and observability:) without building the schema of
// every workflow, action and inventory source it never reads.

/** One rule of opskit agent: CEL over an event or the windows, raising and resolving an alert. */
export function agentRulePart({ z, duration, labels }: SchemaKit) {
  return z
    .object({
      name: z.string().regex(/^[\w.-]+$/, "letters, digits, ., - and _"),
      when: z.string().min(1).describe('CEL over one event (event.kind == "oom", log.message.contains("Out of memory")) or over the windows (window("sshd", "1m") > 20, rate("app", "error", "1m") > 5)'),
      labels: labels.default({}).describe('the alert\'s labels, templated from the event ({{ event.comm }}) as data; alertname defaults to the rule\'s name, instance to the host name'),
      annotations: labels.default({}).describe("the alert's annotations, templated like its labels"),
      resolveAfter: duration.optional().describe("resolved when the rule has not matched for this long (default: 5m for a rule over events, at once for a rule over windows)"),
    })
    .strict();
}

/**
 * `agent:` (opskit agent). A source here is its name and one kind key: each
 * source kind declares its own part beside its code in the agent's registry,
 * which sits above config, so the agent checks those parts (at file:line:col)
 * when it compiles and `opskit schema` adds them.
 */
export function agentPart(kit: SchemaKit) {
  const { z, duration, secretRef } = kit;
  /** A size in bytes: a number, or text such as "64MiB", "512KiB", "1GiB", "10MB". */
  const byteSize = z.union([z.number().int().min(1), z.string().regex(/^\d+(\.\d+)?\s*([KMGT]i?B|B)?$/, 'a size such as "64MiB", "512KiB" or 1048576 (bytes)')]);
  return z
    .object({
      server: z
        .object({
          url: z.string().url().refine((u) => /^https?:\/\//i.test(u), "an http:// or https:// URL").describe("opskit serve's base URL; alerts go to <url>/api/v1/alerts"),
          token: secretRef.optional().describe("the server's webhook token (server.webhookToken, else its API token), e.g. env:OPSKIT_WEBHOOK_TOKEN"),
          timeout: duration.default("10s").describe("per request"),
        })
        .strict()
        .optional()
        .describe("where alerts are delivered (required unless opskit agent --once prints them only)"),
      stateDir: z.string().min(1).optional().describe("where sources keep their offsets and the spool lives (relative to the config); default ~/.local/state/opskit/agent"),
      listen: z.string().optional().describe("host:port for /metrics (Prometheus text) and /healthz; none when unset"),
      batch: z
        .object({
          max: z.number().int().min(1).max(1000).default(500).describe("alerts per request at most"),
          interval: duration.default("0s").describe("how long an alert waits for others to share its request (0s: it leaves as soon as the previous request is answered)"),
        })
        .strict()
        .default({ max: 500, interval: "0s" }),
      queue: z.number().int().min(1).default(10000).describe("events held in memory between the sources and the rules; a source pauses while it is full"),
      spool: z
        .object({ maxBytes: byteSize.default("64MiB").describe("alerts kept on disk while the server is unreachable; the oldest are dropped (and counted) only past this") })
        .strict()
        .default({ maxBytes: "64MiB" }),
      windows: duration.default("5m").describe("how much per-second history window() and rate() can look back over"),
      sources: z
        .array(z.object({ name: z.string().regex(/^[\w.-]+$/, "letters, digits, ., - and _") }).catchall(z.unknown()))
        .default([])
        .describe("what the agent reads: each a name and one kind (files, journald, kernel, ...) with its settings"),
      rules: z.array(kit.schemaOf(agentRulePart)).default([]),
    })
    .strict();
}
