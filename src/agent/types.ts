import type { z } from "zod";
import type { SchemaKit } from "../schema/index.ts";

/** One thing a source saw: a kernel event or a log record, flat enough for CEL and the windows. */
export interface AgentEvent {
  /** The configured source's name (e.g. "kernel", "nginx-log"). */
  source: string;
  /** "exec" | "exit" | "open" | "oom" | "tcp_retransmit" | "tcp_reset" | "log" */
  kind: string;
  /** Epoch ms when it happened (kernel time converted, or read time for logs). */
  time: number;
  // kernel events: pid, ppid?, comm, filename?, fd?, ret?, uid?, saddr/daddr/sport/dport? (all but pid and comm in fields)
  pid?: number;
  comm?: string;
  /** Everything else, flat. */
  fields: Record<string, string | number | boolean>;
  /** Log events: the whole record (multi-line joined with \n); file, unit (journald) and parsed fields sit in fields. */
  message?: string;
}

/** What the agent hands a running source. */
export interface SourceContext {
  name: string;
  /** Where a source keeps its offsets (files) across restarts. */
  stateDir: string;
  /**
   * true: the event is queued. false: the queue is full and the event was NOT
   * taken: the source keeps it, pauses reading, awaits drained() and emits it
   * again (backpressure, never a silent drop).
   */
  emit(event: AgentEvent): boolean;
  /** Resolves when the queue has room again. */
  drained(): Promise<void>;
  signal: AbortSignal;
  /** Said once, clearly (e.g. "eBPF unavailable: not root; kernel events off"). */
  warn(message: string): void;
  /** Exported on /metrics as opskit_agent_<name>_total{source=...}. */
  counters: { inc(name: string, n?: number): void };
}

/** One kind of source: one file in sources/ and one line in its registry. */
export interface AgentSource<Spec = unknown> {
  /** Its key under agent.sources[] (e.g. "files", "journald", "kernel"). */
  readonly kind: string;
  /** Its config, like actions' schemas. */
  readonly schema: (kit: SchemaKit) => z.ZodType<Spec>;
  start(spec: Spec, context: SourceContext): Promise<{ stop(): Promise<void> }>;
  /** --once: read what is there now and return (files: from the saved offset to EOF; kernel: a short sample or nothing). */
  once?(spec: Spec, context: SourceContext): Promise<void>;
}
