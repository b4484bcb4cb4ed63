import { configError } from "../errors.ts";
import { parseAnsibleIni } from "./ansible-ini.ts";
import type { AnsibleInventory } from "./ansible-model.ts";
import { parseAnsibleYaml } from "./ansible-yaml.ts";
import { BECOME_METHODS, BECOME_USER, type BecomeMethod } from "../schema/index.ts";
import type { HostBecome, HostRecord, InventorySource } from "./types.ts";

/*
 * An Ansible inventory, INI or YAML, flattened the way Ansible flattens it:
 * group vars apply from the least specific group to the most (all, then
 * parents before children, groups of the same depth in name order), host
 * vars last. The connection variables become Target fields, and
 * ansible_become_user and ansible_become_method the host's become settings;
 * every other variable stays in vars.
 */
export const ansibleSource: InventorySource = {
  kind: "ansible",
  schema: ({ z }) => z.string().describe("an Ansible inventory, INI or YAML (groups, children, host vars)"),
  async load(text, { file, display }) {
    const inventory = looksLikeYaml(file, text) ? parseAnsibleYaml(text, display) : parseAnsibleIni(text, display);
    return flatten(inventory);
  },
};

function looksLikeYaml(file: string, text: string): boolean {
  if (/\.(ya?ml|json)$/i.test(file)) return true;
  if (/\.(ini|cfg)$/i.test(file)) return false;
  const first = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l && !l.startsWith("#") && !l.startsWith(";"));
  return first !== undefined && (first === "---" || first.startsWith("{") || /^[\w.-]+:\s*(#.*)?$/.test(first));
}

const connection = {
  address: ["ansible_host", "ansible_ssh_host"],
  port: ["ansible_port", "ansible_ssh_port"],
  user: ["ansible_user", "ansible_ssh_user"],
  key: ["ansible_ssh_private_key_file", "ansible_private_key_file"],
} as const;
const becomeVars = { user: "ansible_become_user", method: "ansible_become_method" } as const;
const connectionVars = new Set<string>([...Object.values(connection).flat(), ...Object.values(becomeVars)]);
/** Implicit groups every host is in; they say nothing a selector could use. */
const implicitGroups = new Set(["all", "ungrouped"]);

function flatten(inventory: AnsibleInventory): HostRecord[] {
  const parents = new Map<string, Set<string>>();
  for (const [name, group] of inventory.groups) {
    for (const child of group.children) {
      if (!parents.has(child)) parents.set(child, new Set());
      parents.get(child)!.add(name);
    }
  }
  const depths = new Map<string, number>();
  const depthOf = (name: string, path: string[]): number => {
    const known = depths.get(name);
    if (known !== undefined) return known;
    if (path.includes(name)) {
      throw configError("E_ANSIBLE_INVENTORY", `${inventory.groups.get(name)!.where}: group "${name}" contains itself (${[...path, name].join(" > ")})`, "remove one of the children entries that form the loop");
    }
    const above = [...(parents.get(name) ?? [])].map((p) => depthOf(p, [...path, name]));
    const depth = name === "all" ? 0 : 1 + Math.max(0, ...above);
    depths.set(name, depth);
    return depth;
  };
  for (const name of inventory.groups.keys()) depthOf(name, []);

  const ancestors = (name: string, into: Set<string>): Set<string> => {
    if (into.has(name)) return into;
    into.add(name);
    for (const parent of parents.get(name) ?? []) ancestors(parent, into);
    return into;
  };
  const hostGroups = new Map<string, Set<string>>();
  for (const [name, group] of inventory.groups) {
    for (const host of group.hosts) {
      if (!hostGroups.has(host)) hostGroups.set(host, new Set(["all"]));
      ancestors(name, hostGroups.get(host)!);
    }
  }

  return [...inventory.hosts].map(([name, host]) => {
    const groups = [...(hostGroups.get(name) ?? ["all"])].sort((a, b) => (depths.get(a) ?? 1) - (depths.get(b) ?? 1) || a.localeCompare(b));
    const vars: Record<string, unknown> = {};
    for (const group of groups) Object.assign(vars, inventory.groups.get(group)?.vars);
    Object.assign(vars, host.vars);
    return toRecord(name, vars, groups.filter((g) => !implicitGroups.has(g)).sort(), host.where);
  });
}

function toRecord(name: string, all: Record<string, unknown>, groups: string[], where: string): HostRecord {
  const pick = (names: readonly string[]) => names.map((n) => all[n]).find((v) => v !== undefined && v !== null && v !== "");
  const vars = Object.fromEntries(Object.entries(all).filter(([key]) => !connectionVars.has(key)));
  const address = pick(connection.address);
  const rawPort = pick(connection.port);
  const user = pick(connection.user);
  const key = pick(connection.key);
  let port: number | undefined;
  if (rawPort !== undefined) {
    port = Number(rawPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw configError("E_ANSIBLE_INVENTORY", `${where}: ansible_port "${String(rawPort)}" of ${name} is not a port number`, "use a port from 1 to 65535");
  }
  const sshArgs = [all.ansible_ssh_common_args, all.ansible_ssh_extra_args].filter((a) => typeof a === "string").join(" ");
  const jump = /(?:-o\s*ProxyJump[=\s]\s*|-J\s*)["']?([^\s"']+)/i.exec(sshArgs)?.[1];
  return {
    name,
    ...(address !== undefined ? { address: String(address) } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(user !== undefined ? { user: String(user) } : {}),
    ...(key !== undefined ? { keys: [String(key)] } : {}),
    ...(jump ? { proxyJump: jump } : {}),
    ...becomeOf(name, all, where),
    labels: {},
    vars,
    groups,
    source: where,
  };
}

/** ansible_become_user and ansible_become_method, checked as opskit.yaml's becomeUser and becomeMethod are. */
function becomeOf(name: string, all: Record<string, unknown>, where: string): { become?: HostBecome } {
  const user = all[becomeVars.user];
  const method = all[becomeVars.method];
  if (user !== undefined && !(typeof user === "string" && BECOME_USER.test(user))) {
    throw configError("E_ANSIBLE_INVENTORY", `${where}: ansible_become_user "${String(user)}" of ${name} is not a user name`, "a user name such as root, postgres or www-data");
  }
  if (method !== undefined && !BECOME_METHODS.includes(method as BecomeMethod)) {
    throw configError("E_ANSIBLE_INVENTORY", `${where}: ansible_become_method "${String(method)}" of ${name} is not one opskit runs`, `use ${BECOME_METHODS.join(", ")}, or drop it for the default (defaults.becomeMethod, else sudo)`);
  }
  if (user === undefined && method === undefined) return {};
  return { become: { ...(user !== undefined ? { user: user as string } : {}), ...(method !== undefined ? { method: method as BecomeMethod } : {}) } };
}
