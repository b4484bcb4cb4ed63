import type { ActionContext } from "./types.ts";

// How a step's span reaches what the step calls (W3C Trace Context): a
// command reads TRACEPARENT from its environment, a request carries a
// traceparent header. The value is opskit's own (00-<32 hex>-<16 hex>-01)
// and travels as a variable or a header, never inside the command's text.
// What the step declares itself (env: TRACEPARENT, headers: traceparent) wins.

/** TRACEPARENT for a command's environment, while the run exports traces; else nothing. */
export function traceEnvironment(context: Pick<ActionContext, "traceparent">): Record<string, string> {
  return context.traceparent ? { TRACEPARENT: context.traceparent } : {};
}

/** The request's headers with a traceparent header added, unless the step set one (in any case). */
export function withTraceHeader(headers: Record<string, string>, context: Pick<ActionContext, "traceparent">): Record<string, string> {
  if (!context.traceparent || Object.keys(headers).some((name) => name.toLowerCase() === "traceparent")) return headers;
  return { traceparent: context.traceparent, ...headers };
}
