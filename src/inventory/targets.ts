import { usageError } from "../errors.ts";
import { resolveInventory } from "./resolve.ts";
import { selectTargets } from "./selector.ts";
import type { InventoryInput, Target } from "./types.ts";

/** The `local` target: remote actions run on this machine. */
export const localTarget: Target = { name: "local", address: "127.0.0.1", port: 0, user: process.env.USER ?? "root", labels: {}, vars: {}, groups: [], keys: [], source: "local" };

/** A workflow's targets: its selector over the inventory, narrowed by a second selector (--limit, a rule's targets), or this machine for "local". */
export async function resolveTargets(loaded: InventoryInput, selector: string, limit: string | undefined, where: string): Promise<Target[]> {
  let targets: Target[];
  let among: number;
  if (selector === "local") {
    targets = [localTarget];
    among = 1;
  } else {
    const inventory = await resolveInventory(loaded);
    targets = selectTargets(inventory, selector);
    among = inventory.length;
  }
  if (limit) targets = selectTargets(targets, limit);
  if (targets.length === 0) {
    throw usageError(
      "E_NO_TARGETS",
      `no targets match ${JSON.stringify(selector)}${limit ? ` with ${JSON.stringify(limit)}` : ""} (${where})`,
      `opskit inventory '${selector}' lists what the selector matches among ${among} hosts`,
    );
  }
  return targets;
}
