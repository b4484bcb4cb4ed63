import { ansibleSource } from "./ansible.ts";
import { hostListSource } from "./hostlist.ts";
import { sshConfigSource } from "./ssh-config.ts";
import type { InventorySource } from "./types.ts";

/** Every inventory source kind, by its key under inventory.sources. Adding one is a new file and a line here. */
export const inventorySources: Record<InventorySource["kind"], InventorySource> = {
  ssh_config: sshConfigSource,
  ansible: ansibleSource,
  hosts: hostListSource,
};
