import { ansibleSource } from "./ansible.ts";
import { csvSource } from "./csv.ts";
import { hostListSource } from "./hostlist.ts";
import { kubeconfigSource } from "./kubeconfig.ts";
import { sshConfigSource } from "./ssh-config.ts";
import type { InventorySource } from "./types.ts";

/** Every inventory source kind, by its key under inventory.sources (the order `opskit schema` lists them in). Adding one is a new file and a line here. */
const registry = {
  ssh_config: sshConfigSource,
  ansible: ansibleSource,
  hosts: hostListSource,
  csv: csvSource,
  kubeconfig: kubeconfigSource,
};

export type SourceKind = keyof typeof registry;
export const inventorySources: Readonly<Record<SourceKind, InventorySource>> = registry;
