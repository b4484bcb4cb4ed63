// Inventory: turns opskit.yaml's hosts, groups and sources (ssh_config,
// Ansible INI/YAML, host lists) into Targets, and selects among them with
// Kubernetes-style label selectors (role=web,zone in (a,b),name=web-*);
// hosts named on the command line by ClusterShell-style patterns (web[01-40]).
export { resolveInventory, expandPath, compareNames, type ResolveOptions } from "./resolve.ts";
export { parseSelector, matches, selectTargets, selectorHint, type Selector, type Requirement, type SelectorOperator } from "./selector.ts";
export { inventorySources, type SourceKind } from "./registry.ts";
export type { Target, HostBecome, HostRecord, InventorySource, SourceContext, InventoryInput } from "./types.ts";
export { inventorySchema, type InventoryConfig, type HostEntry } from "./schema.ts";
export { localTarget, resolveTargets } from "./targets.ts";
export { adHocTargets, type AdHocOptions } from "./ad-hoc.ts";
export { expandHostPattern, parseHostPattern, MAX_EXPANDED_HOSTS, type HostPatternEntry, type PatternOrigin } from "./host-pattern.ts";
