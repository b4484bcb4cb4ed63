import type { Target } from "../inventory/index.ts";
import type { RunTarget } from "./workflow.ts";

/** The part of an inventory target the engine runs with. */
export function toRunTarget(target: Target): RunTarget {
  return {
    name: target.name,
    address: target.address,
    port: target.port,
    user: target.user,
    labels: target.labels,
    vars: target.vars,
    groups: target.groups,
    ...(target.kube ? { kube: target.kube } : {}),
    ...(target.become ? { become: target.become } : {}),
  };
}
