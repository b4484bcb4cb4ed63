import * as registry from "./registry.ts";
import type { Prober } from "./types.ts";

/** The registered probers, in the order of their export names (a module namespace is sorted by name). */
export const probers: readonly Prober[] = Object.values(registry);
