import type { SchemaKit } from "../schema/index.ts";
import { compileExpectations } from "../expr/index.ts";
import { expectationVariables, parseTarget, runProbe, stepData, type ProbeResult } from "../probe/index.ts";
import { bodyEscape, compileRecord, compileTargetUrl, compileText } from "./render.ts";
import { withTraceHeader } from "./trace-context.ts";
import type { Action, ActionContext, ActionResult, SpecOf } from "./types.ts";

const schema = ({ z }: SchemaKit) =>
  z
    .object({
      url: z.string().min(1),
      method: z.string().default("GET"),
      headers: z.record(z.string(), z.string()).default({}),
      body: z.string().optional(),
      expect: z.union([z.string(), z.array(z.string())]).optional().describe("CEL over the response, as in opskit probe"),
    })
    .strict();
type HttpSpec = SpecOf<typeof schema>;
interface HttpRendered {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  expect: string[];
}

/** The probe engine's result as an action result: ok when healthy, protocol fields in data. */
export function probeActionResult(result: ProbeResult): ActionResult {
  return {
    ok: result.verdict === "healthy",
    changed: false,
    exitCode: null,
    stdout: result.body?.text ?? "",
    stderr: "",
    durationMs: result.timings.total,
    ...(result.error || result.reason ? { error: result.error ?? { code: "E_UNHEALTHY", message: result.reason ?? result.verdict } } : {}),
    // What the result carries besides its verdict and timings is the protocol's to say (stepData).
    data: { verdict: result.verdict, ...stepData(result), timings: result.timings },
  };
}

/** Probes `url` once through the probe engine (fresh connection, phase timings, CEL expectations). */
export async function probeOnce(rendered: HttpRendered, context: ActionContext): Promise<ActionResult> {
  // The step's span as a traceparent header (HTTP, and gRPC metadata); other probers send no headers.
  const target = parseTarget(rendered.url, "url", { method: rendered.method, headers: withTraceHeader(rendered.headers, context), body: rendered.body });
  const expectations = await compileExpectations(rendered.expect, (i) => `expect #${i + 1}`, expectationVariables);
  const result = await runProbe(
    { target, name: context.target.name, labels: context.target.labels, expectations },
    { timeoutMs: context.timeoutMs, retries: 0, retryDelayMs: 0, insecure: false, ca: undefined, maxBodyBytes: 1 << 20 },
    context.signal,
  );
  return probeActionResult(result);
}

const list = (value: string | string[] | undefined) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** An HTTP request with CEL assertions, e.g. to a deploy API or a load balancer. */
export const httpAction: Action<HttpSpec, HttpRendered> = {
  kind: "http",
  schema,
  pollable: true,
  async compile(spec, context) {
    const url = await compileTargetUrl(spec.url, "http.url", context);
    const headers = await compileRecord(spec.headers ?? {}, "http.headers", "header", context);
    const body = spec.body === undefined ? undefined : await compileText(spec.body, "http.body", bodyEscape(spec.body, spec.headers), context);
    const expect = list(spec.expect);
    await compileExpectations(expect, (i) => `${context.where}.http.expect[${i}]`, expectationVariables);
    return (variables) => ({
      url: url(variables),
      method: spec.method ?? "GET",
      headers: headers(variables),
      ...(body ? { body: body(variables) } : {}),
      expect,
    });
  },
  describe: (rendered) => `http: ${rendered.method} ${rendered.url}`,
  subjects: (rendered) => [{ category: "http", label: "http URL", url: rendered.url }],
  run: probeOnce,
};
