// The values an expectation sees. Apart from scope.ts, which declares their
// names and types, because it needs CEL's value types: runProbe loads this
// file only for a target with expectations, and CEL is loaded by then.
import { celDuration, celTimestamp } from "../expr/index.ts";
import { probers } from "./probers.ts";
import type { Observation, ProbePlan, Timings } from "./types.ts";

const cel = { duration: celDuration };

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
      chainExpiresIn: celDuration(tls.chainExpiresInMs),
      chainNotAfter: tls.chainNotAfter ? celTimestamp(new Date(tls.chainNotAfter)) : undefined,
    },
    ip: observation.ip ?? "",
    target: { url: plan.target.raw, kind: plan.target.prober.kind, name: plan.name },
    labels: plan.labels,
  };
  for (const prober of probers) if (prober.scope) Object.assign(scope, prober.scope.values(observation, cel));
  if (plan.scope) Object.assign(scope, plan.scope);
  return scope;
}
