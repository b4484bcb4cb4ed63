import type { VariableTypes } from "../expr/index.ts";
import { probers } from "./probers.ts";
import type { ProbeResult, Prober, StepView } from "./types.ts";

/**
 * Names an expectation may use, with their types as expectationScope
 * (cel-scope.ts) builds them: compile-time checked, so a typo or `status == "200"` fails before
 * probing. Fields not listed are dyn (checked at run time). The shared names
 * come first, each protocol's part (its `scope`) in registry order.
 */
export const expectationVariables: VariableTypes = {
  status: "int",
  duration: "duration",
  timing: { map: "duration" },
  tls: { fields: { version: "string", cipher: "string", subject: "string", issuer: "string", altNames: { list: "string" }, notBefore: "timestamp", notAfter: "timestamp", expiresIn: "duration", chainNotAfter: "timestamp", chainExpiresIn: "duration", fingerprint256: "string", chainError: "string" } },
};
// Loops, not map/flatMap/find: these run when `opskit probe` starts, and the
// engine compiles each array builtin on its first call (0.1-0.3 ms apiece).
for (const prober of probers) Object.assign(expectationVariables, prober.scope?.variables);
Object.assign(expectationVariables, { ip: "string", target: { fields: { url: "string", kind: "string", name: "string" } }, labels: { map: "string" } });

/** Fields a workflow step's result may carry from a probe (see StepView), in the order stepData writes them. */
export const stepVariables: readonly string[] = (() => {
  const names = new Set<string>();
  for (const prober of probers) for (const name of stepView(prober).names) names.add(name);
  return ["status", ...names, "tls"];
})();

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
  for (const prober of probers) if (prober.kind === kind) return prober;
  return undefined;
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
