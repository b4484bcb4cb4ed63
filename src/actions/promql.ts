import type { SchemaKit } from "../schema/index.ts";
import { compileExpectations } from "../expr/index.ts";
import { expectationVariables, parseTarget, promqlTargetUrl, runProbe, type PromqlTarget } from "../probe/index.ts";
import { parseDuration } from "../time/index.ts";
import { probeActionResult } from "./http.ts";
import { compileText } from "./render.ts";
import { withTraceHeader } from "./trace-context.ts";
import type { Action, ActionContext, ActionResult, SpecOf } from "./types.ts";

function promqlFields(kit: SchemaKit) {
  const { z, duration, secretRef } = kit;
  return {
    url: z.string().min(1).describe("Prometheus's base URL, e.g. http://prometheus:9090 (with its path prefix, if it has one)"),
    query: z.string().min(1).describe('PromQL; a {{ }} value only inside a string literal, e.g. {service="{{ alert.labels.service }}"}, where it is escaped for it'),
    range: duration.optional().describe("a range query over the last this long, e.g. 5m: each series' values holds its points"),
    step: duration.optional().describe("a range query's resolution (default: the range / 60, at least 1s)"),
    start: z.string().optional().describe("a range query from this time (RFC 3339 or Unix seconds), with end and step"),
    end: z.string().optional().describe("a range query up to this time, with start and step"),
    time: z.string().optional().describe("an instant query at this time instead of now"),
    bearer: secretRef.optional().describe("bearer token, e.g. env:PROM_TOKEN"),
    basic: z.object({ username: z.string().min(1), password: secretRef }).strict().optional().describe("basic authentication, the password as a reference"),
    ca: z.string().optional().describe("PEM file of CA certificates to trust for https"),
    insecure: z.boolean().optional().describe("do not verify Prometheus's certificate"),
    timeout: duration.optional().describe("per query (default: the step's or check's timeout; 10s for a rule's query)"),
  };
}

const oneCredential = (target: { bearer?: string; basic?: unknown }) => !(target.bearer && target.basic);

/**
 * A PromQL query against Prometheus's HTTP API, as a check's, a rule's and a
 * verification's `promql:` writes it (a step's adds `expect`). Credentials
 * are secret references; a {{ }} in the query must sit inside a string literal.
 */
export const promqlTargetSchema = (kit: SchemaKit) => kit.z.object(promqlFields(kit)).strict().refine(oneCredential, "give bearer or basic, not both");
export type PromqlTargetSpec = SpecOf<typeof promqlTargetSchema>;

const schema = (kit: SchemaKit) =>
  kit.z
    .object({
      ...promqlFields(kit),
      expect: kit.z.union([kit.z.string(), kit.z.array(kit.z.string())]).optional().describe("CEL over the result, e.g. result.all(s, s.value < 0.01); without it the step succeeds when the query does"),
    })
    .strict()
    .refine(oneCredential, "give bearer or basic, not both");
type PromqlStepSpec = SpecOf<typeof schema>;

interface PromqlRendered {
  target: PromqlTarget;
  expect: string[];
  timeoutMs?: number;
}

/** The structured spec without the fields that are not the query's own (expect, timeout). */
export function promqlTargetOf(spec: PromqlTargetSpec, url: string, query: string): PromqlTarget {
  const { timeout: _timeout, expect: _expect, ...rest } = spec as PromqlTargetSpec & { expect?: unknown };
  return { ...rest, url, query };
}

/** The API endpoint a query goes to: what permissions and the org policy judge (the query and credentials are not part of it). */
function endpointOf(target: PromqlTarget): string {
  const base = target.url.endsWith("/") ? target.url.slice(0, -1) : target.url;
  return `${base}/api/v1/${target.range || target.start ? "query_range" : "query"}`;
}

async function runQuery(rendered: PromqlRendered, context: ActionContext): Promise<ActionResult> {
  const parsed = parseTarget(promqlTargetUrl(rendered.target), "promql", { headers: withTraceHeader({}, context) });
  // A step's query succeeds when Prometheus answers it: whether the answer is good is its expect's to say.
  const target = { ...parsed, prober: { ...parsed.prober, judge: undefined } };
  const expectations = await compileExpectations(rendered.expect, (i) => `expect #${i + 1}`, expectationVariables);
  const result = await runProbe(
    { target, name: context.target.name, labels: context.target.labels, expectations },
    { timeoutMs: Math.min(context.timeoutMs, rendered.timeoutMs ?? Number.POSITIVE_INFINITY), retries: 0, retryDelayMs: 0, insecure: false, ca: undefined, maxBodyBytes: 1 << 20 },
    context.signal,
  );
  return probeActionResult(result);
}

/** A PromQL query as a step: its series in the result (steps.<name>.result), pollable by wait. */
export const promqlAction: Action<PromqlStepSpec, PromqlRendered> = {
  kind: "promql",
  schema,
  pollable: true,
  async compile(spec, context) {
    const url = await compileText(spec.url, "promql.url", "url", context);
    const query = await compileText(spec.query, "promql.query", "promql", context);
    const expect = spec.expect === undefined ? [] : Array.isArray(spec.expect) ? spec.expect : [spec.expect];
    await compileExpectations(expect, (i) => `${context.where}.promql.expect[${i}]`, expectationVariables);
    const timeoutMs = spec.timeout === undefined ? undefined : parseDuration(spec.timeout, `${context.where}.promql.timeout`);
    // The URL form is checked now, with the values as written, so a bad url or range fails before anything runs.
    parseTarget(promqlTargetUrl(promqlTargetOf(spec, spec.url.includes("{{") ? "http://127.0.0.1" : spec.url, "vector(1)")), `${context.where}.promql`);
    return (variables) => ({ target: promqlTargetOf(spec, url(variables), query(variables)), expect, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  },
  describe: (rendered) => `promql: ${rendered.target.query} (${rendered.target.url}${rendered.target.range ? `, last ${rendered.target.range}` : ""})`,
  subjects: (rendered) => [{ category: "http", label: "promql URL", url: endpointOf(rendered.target) }],
  run: runQuery,
};
