import { becomeOn, type Become } from "./become.ts";
import type { CompiledStep, RunTarget } from "./workflow.ts";

/** Who a step's commands run as on a target: the step's become, what the target's inventory settings fill in (not when delegated to this machine). */
export function stepBecome(step: CompiledStep, target: Pick<RunTarget, "become">): Become | undefined {
  if (!step.become) return undefined;
  return becomeOn(step.become, step.delegate === "local" ? undefined : target.become);
}

/** One line for plans, progress and the journal: the action's own, and who runs it where (` (as root via sudo)`, ` (on this machine)`). */
export function describeStep(step: CompiledStep, rendered: unknown, target: Pick<RunTarget, "become">): string {
  const become = stepBecome(step, target);
  const as = become ? ` (as ${become.user} via ${become.method})` : "";
  const where = step.delegate === "local" ? " (on this machine)" : "";
  return `${step.action.describe(rendered)}${as}${where}`;
}
