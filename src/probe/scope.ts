import { celDuration, celTimestamp, type VariableTypes } from "../expr/index.ts";
import { probers } from "./probers.ts";
import type { Observation, ProbePlan, ProbeResult, Prober, StepView, Timings } from "./types.ts";

/**
 * Names an expectation may use, with their types as expectationScope builds
 * them: compile-time checked, so a typo or `status == "200"` fails before
 * probing. Fields not listed are dyn (checked at run time). The shared names
 * come first, each protocol's part (its `scope`) in registry order.
 */
export const expectationVariables: VariableTypes = {
  status: "int",
  duration: "duration",
  timing: { map: "duration" },
  tls: { fields: { version: "string", cipher: "string", subject: "string", issuer: "string", altNames: { list: "string" }, notBefore: "timestamp", notAfter: "timestamp", expiresIn: "duration", fingerprint256: "string", chainError: "string" } },
  ...Object.assign({}, ...probers.map((prober) => prober.scope?.variables ?? {})),
  ip: "string",
  target: { fields: { url: "string", kind: "string", name: "string" } },
  labels: { map: "string" },
};

/** The CEL variables an expectation sees; durations are CEL durations. */
export function expectationScope(plan: ProbePlan, observation: Observation, timings: Timings): Record<string, unknown> {
  const timing: Record<string, unknown> = {};
  for (const [phase, ms] of Object.entries(timings)) if (ms !== undefined) timing[phase] = celDuration(ms);
  const tls = observation.tls;
  const scope: Record<string, unknown> = {
    status: observation.status === undefined ? undefined : BigInt(observation.status),
    duration: celDuration(timings.total),
    timing,
    tls: tls && {
      ...tls,
      expiresIn: celDuration(tls.expiresInMs),
      notAfter: tls.notAfter ? celTimestamp(new Date(tls.notAfter)) : undefined,
      notBefore: tls.notBefore ? celTimestamp(new Date(tls.notBefore)) : undefined,
    },
    ip: observation.ip ?? "",
    target: { url: plan.target.raw, kind: plan.target.prober.kind, name: plan.name },
    labels: plan.labels,
  };
  for (const prober of probers) if (prober.scope) Object.assign(scope, prober.scope.values(observation));
  return scope;
}

/** Fields a workflow step's result may carry from a probe (see StepView), in the order stepData writes them. */
export const stepVariables: readonly string[] = ["status", ...new Set(probers.flatMap((prober) => stepView(prober).names)), "tls"];

/** What a workflow step keeps of a probe result: its status, its protocol's step view, and TLS details. */
export function stepData(result: ProbeResult): Record<string, unknown> {
  const prober = proberOf(result.kind);
  return {
    ...(result.status !== undefined ? { status: result.status } : {}),
    ...(prober ? stepView(prober).data(result) : {}),
    ...(result.tls ? { tls: result.tls } : {}),
  };
}

/** The protocol's short answer for the terminal's status column (HTTP status, DNS rcode, ...), else "-". */
export function statusText(result: ProbeResult): string {
  return proberOf(result.kind)?.status?.(result) ?? "-";
}

function proberOf(kind: string): Prober | undefined {
  return probers.find((prober) => prober.kind === kind);
}

/** A prober's own step view, or the one its scope implies: the observation's fields named there. */
function stepView(prober: Prober): StepView {
  if (prober.step) return prober.step;
  const names = Object.keys(prober.scope?.variables ?? {});
  return {
    names,
    data(observation) {
      const fields = observation as Record<string, unknown>;
      const data: Record<string, unknown> = {};
      for (const name of names) if (fields[name] !== undefined) data[name] = fields[name];
      return data;
    },
  };
}
