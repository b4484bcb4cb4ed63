import { configError } from "../errors.ts";

/** What both Ansible formats parse into: groups with members, children and vars; hosts with their own vars. */
export interface AnsibleInventory {
  groups: Map<string, AnsibleGroup>;
  /** Host vars merged across every line that lists the host, in file order; where it first appears. */
  hosts: Map<string, { vars: Record<string, unknown>; where: string }>;
  addHost(group: string, name: string, vars: Record<string, unknown>, where: string): void;
}

export interface AnsibleGroup {
  hosts: Set<string>;
  children: Set<string>;
  vars: Record<string, unknown>;
  where: string;
}

export function emptyInventory(): AnsibleInventory {
  const inventory: AnsibleInventory = {
    groups: new Map(),
    hosts: new Map(),
    addHost(group, name, vars, where) {
      groupIn(inventory, group, where).hosts.add(name);
      const host = inventory.hosts.get(name);
      if (host) Object.assign(host.vars, vars);
      else inventory.hosts.set(name, { vars: { ...vars }, where });
    },
  };
  return inventory;
}

export function groupIn(inventory: AnsibleInventory, name: string, where: string): AnsibleGroup {
  let group = inventory.groups.get(name);
  if (!group) {
    group = { hosts: new Set(), children: new Set(), vars: {}, where };
    inventory.groups.set(name, group);
  }
  return group;
}

const range = /\[([0-9]*|[a-zA-Z]):([0-9]+|[a-zA-Z])(?::([0-9]+))?\]/;

/**
 * Expands Ansible host patterns: `web[01:03].example.com` (leading zeros
 * keep their width), `db-[a:c]`, strides `[1:9:2]`; `host:2222` carries a port
 * and `[2001:db8::1]:2222` is an IPv6 address with one.
 */
export function expandHostPattern(pattern: string, where: string): { name: string; port?: number }[] {
  const ipv6 = /^\[([0-9A-Fa-f]*:[0-9A-Fa-f:.]*)\](?::(\d+))?$/.exec(pattern);
  if (ipv6) return [{ name: ipv6[1]!, ...(ipv6[2] ? { port: Number(ipv6[2]) } : {}) }];
  const portMatch = /^([^:]+):(\d+)$/.exec(pattern);
  const host = portMatch ? portMatch[1]! : pattern;
  const port = portMatch ? Number(portMatch[2]) : undefined;
  return expandRanges(host, where).map((name) => (port === undefined ? { name } : { name, port }));
}

function expandRanges(pattern: string, where: string): string[] {
  const match = range.exec(pattern);
  if (!match) return [pattern];
  const [whole, rawStart, end, rawStride] = match as unknown as [string, string, string, string | undefined];
  const before = pattern.slice(0, match.index);
  const after = pattern.slice(match.index + whole.length);
  const stride = rawStride === undefined ? 1 : Number(rawStride);
  const alpha = /^[a-zA-Z]$/.test(end);
  const start = rawStart === "" ? (alpha ? "a" : "0") : rawStart;
  if (stride < 1 || alpha !== /^[a-zA-Z]$/.test(start)) throw configError("E_ANSIBLE_INVENTORY", `${where}: invalid host range ${whole}`, "write a range as [01:20], [a:f] or [1:9:2]");
  const values: string[] = [];
  if (alpha) {
    for (let c = start.charCodeAt(0); c <= end.charCodeAt(0); c += stride) values.push(String.fromCharCode(c));
  } else {
    const width = start.length > 1 && start.startsWith("0") ? start.length : 0;
    for (let n = Number(start); n <= Number(end); n += stride) values.push(String(n).padStart(width, "0"));
  }
  if (values.length === 0) throw configError("E_ANSIBLE_INVENTORY", `${where}: host range ${whole} is empty`, "put the smaller bound first, e.g. [1:9]");
  return values.flatMap((value) => expandRanges(`${before}${value}${after}`, where));
}
