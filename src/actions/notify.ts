import { resolveSecret, type SchemaKit } from "../schema/index.ts";
import { registerSecret } from "../observe/index.ts";
import { failedResult } from "./errors.ts";
import { compileRecord } from "./render.ts";
import { withTraceHeader } from "./trace-context.ts";
import type { Action, SpecOf } from "./types.ts";

const schema = ({ z, secretRef }: SchemaKit) =>
  z
    .object({
      url: z.union([z.string().url(), secretRef]).describe("webhook URL, or env:NAME / file:PATH holding it"),
      body: z.record(z.string(), z.unknown()).optional().describe("JSON body; default: run, workflow, target and step results"),
      headers: z.record(z.string(), z.string()).default({}),
    })
    .strict();
type NotifySpec = SpecOf<typeof schema>;
interface NotifyRendered {
  url: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** A webhook URL often carries its token: the origin only. */
function originOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.pathname === "/" && !parsed.search ? parsed.origin : `${parsed.origin}/…`;
  } catch {
    return "(unparsable URL)";
  }
}

/** POSTs JSON to a webhook (chat, pager, ticketing). The URL may be a secret reference (env:NAME). */
export const notifyAction: Action<NotifySpec, NotifyRendered> = {
  kind: "notify",
  schema,
  async compile(spec, context) {
    const body = spec.body ? await compileRecord(spec.body, "notify.body", "raw", context) : undefined;
    const headers = await compileRecord(spec.headers ?? {}, "notify.headers", "header", context);
    return (variables) => ({
      url: spec.url,
      headers: headers(variables),
      body: body ? body(variables) : { target: variables.target, vars: variables.vars, steps: variables.steps },
    });
  },
  // The URL is not printed: it often carries a token.
  describe: (rendered) => `notify: POST ${rendered.url.startsWith("env:") || rendered.url.startsWith("file:") ? rendered.url : new URL(rendered.url).origin}`,
  // Judged resolved, shown without its path; an unset secret fails the step on its own, before anything is sent.
  async subjects(rendered) {
    const reference = /^(env|file):/.test(rendered.url);
    const url = reference ? await resolveSecret(rendered.url, "notify.url").catch(() => undefined) : rendered.url;
    if (url === undefined) return [];
    return [{ category: "http", label: "notify URL", url, shown: reference ? `${rendered.url} (${originOf(url)})` : originOf(url) }];
  },
  async run(rendered, context) {
    const startedAt = performance.now();
    try {
      const url = await resolveSecret(rendered.url, "notify.url");
      // A webhook URL is a credential (Slack, PagerDuty): masked like one even when the config spells it out.
      registerSecret(url);
      const timeout = AbortSignal.timeout(context.timeoutMs);
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...withTraceHeader(rendered.headers, context) },
        body: JSON.stringify(rendered.body, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v)),
        signal: AbortSignal.any([context.signal, timeout]),
      });
      const text = await response.text();
      return {
        ok: response.ok,
        changed: false,
        exitCode: null,
        stdout: text.slice(-context.maxOutputBytes),
        stderr: "",
        durationMs: performance.now() - startedAt,
        data: { status: response.status },
        ...(response.ok ? {} : { error: { code: "E_NOTIFY_STATUS", message: `webhook answered ${response.status}` } }),
      };
    } catch (error) {
      return failedResult(error, startedAt);
    }
  },
};
