import type { CompiledStep } from "./workflow.ts";

/** One line for plans, progress and the journal: the action's own, and who runs it where (` (as root via sudo)`, ` (on this machine)`). */
export function describeStep(step: CompiledStep, rendered: unknown): string {
  const as = step.become ? ` (as ${step.become.user} via ${step.become.method})` : "";
  const where = step.delegate === "local" ? " (on this machine)" : "";
  return `${step.action.describe(rendered)}${as}${where}`;
}
