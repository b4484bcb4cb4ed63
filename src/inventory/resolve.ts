import { homedir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { configError } from "../errors.ts";
import { expandHostPattern } from "./host-pattern.ts";
import { inventorySources, type SourceKind } from "./registry.ts";
import type { HostEntry } from "./schema.ts";
import type { HostBecome, HostRecord, InventoryInput, Target } from "./types.ts";

export interface ResolveOptions {
  /** Environment for $USER and ~ (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Directory that source paths in messages are shown relative to (default: process.cwd()). */
  cwd?: string;
}

type Groups = InventoryInput["config"]["inventory"]["groups"];

/**
 * Turns the config's inventory into targets, sorted by name.
 *
 * A host defined more than once (in several sources, or in a source and
 * under inventory.hosts) is one target. As in Ansible, where a host listed in
 * several inventories keeps the union of its groups and the later inventory's
 * variables win, later definitions merge over earlier ones field by field:
 * sources in the order listed, then inventory.hosts last, because what is
 * written in opskit.yaml is the most specific.
 */
export async function resolveInventory(loaded: InventoryInput, options: ResolveOptions = {}): Promise<Target[]> {
  const { config, baseDir, where } = loaded;
  const env = options.env ?? process.env;
  const home = env.HOME || homedir();
  const cwd = options.cwd ?? process.cwd();
  const records = new Map<string, HostRecord>();
  const add = (record: HostRecord) => {
    const earlier = records.get(record.name);
    records.set(record.name, earlier ? mergeRecords(earlier, record) : record);
  };
  for (const record of await readSources(loaded, { env, home, cwd })) add(record);
  for (const [name, host] of Object.entries(config.inventory.hosts)) add(hostRecord(name, host, where(["inventory", "hosts", name])));

  const memberships = resolveGroups(config.inventory.groups, records, where);
  const defaults = config.defaults;
  const targets = [...records.values()].map((record): Target => {
    const groups = memberships.get(record.name) ?? [];
    const labels: Record<string, string> = {};
    const vars: Record<string, unknown> = {};
    const become: HostBecome = {};
    for (const group of groups) {
      const entry = config.inventory.groups[group]!;
      Object.assign(labels, entry.labels);
      Object.assign(vars, entry.vars);
      Object.assign(become, becomeOf(entry));
    }
    Object.assign(become, record.become);
    const keys = record.keys && record.keys.length > 0 ? record.keys : list(defaults.key);
    return {
      name: record.name,
      address: record.address ?? record.name,
      port: record.port ?? defaults.port ?? 22,
      user: record.user ?? defaults.user ?? (env.USER || "root"),
      labels: { ...labels, ...record.labels },
      vars: { ...vars, ...record.vars },
      groups: [...new Set([...record.groups, ...groups])].sort(),
      keys: keys.map((key) => expandPath(key, baseDir, home)),
      ...(record.proxyJump !== undefined ? { proxyJump: record.proxyJump } : {}),
      ...(record.knownHostsFiles ? { knownHostsFiles: record.knownHostsFiles.map((file) => expandPath(file, baseDir, home)) } : {}),
      ...(record.hostKeyNotes ? { hostKeyNotes: record.hostKeyNotes } : {}),
      ...(record.kube ? { kube: record.kube } : {}),
      ...(become.user !== undefined || become.method !== undefined ? { become } : {}),
      source: record.source,
    };
  });
  return targets.sort((a, b) => compareNames(a.name, b.name));
}

/** Every host every source yields, in the order the sources are listed, with each source's labels. */
async function readSources(loaded: InventoryInput, { env, home, cwd }: { env: Record<string, string | undefined>; home: string; cwd: string }): Promise<HostRecord[]> {
  const records: HostRecord[] = [];
  for (const [index, entry] of loaded.config.inventory.sources.entries()) {
    const kind = (Object.keys(inventorySources) as SourceKind[]).find((k) => entry[k] !== undefined)!;
    const file = expandPath(entry[kind]!, loaded.baseDir, home);
    const display = displayPath(file, cwd);
    const text = await Bun.file(file).text().catch((error: Error) => {
      throw configError(
        "E_INVENTORY_SOURCE",
        `${loaded.where(["inventory", "sources", index, kind])}: cannot read ${kind} source ${display}: ${error.message}`,
        "check the path (relative paths are read from the config's directory; ~ is your home)",
      );
    });
    const context = { file, display, homeDir: home, env, readText: (path: string) => Bun.file(path).text() };
    for (const record of await inventorySources[kind].load(text, context)) records.push({ ...record, labels: { ...entry.labels, ...record.labels } });
  }
  return records;
}

function hostRecord(name: string, host: HostEntry, source: string): HostRecord {
  return {
    name,
    ...(host.address !== undefined ? { address: host.address } : {}),
    ...(host.port !== undefined ? { port: host.port } : {}),
    ...(host.user !== undefined ? { user: host.user } : {}),
    ...(host.key !== undefined ? { keys: list(host.key) } : {}),
    ...(host.proxyJump !== undefined ? { proxyJump: host.proxyJump } : {}),
    labels: host.labels,
    vars: host.vars,
    groups: [],
    ...(host.becomeUser !== undefined || host.becomeMethod !== undefined ? { become: becomeOf(host) } : {}),
    source,
  };
}

/** A host's or group's becomeUser and becomeMethod, those it sets. */
function becomeOf(entry: { becomeUser?: string | undefined; becomeMethod?: HostBecome["method"] | undefined }): HostBecome {
  return { ...(entry.becomeUser !== undefined ? { user: entry.becomeUser } : {}), ...(entry.becomeMethod !== undefined ? { method: entry.becomeMethod } : {}) };
}

const collator = new Intl.Collator("en", { numeric: true });
/** web-2 before web-10. */
export const compareNames = (a: string, b: string) => collator.compare(a, b);

function mergeRecords(earlier: HostRecord, later: HostRecord): HostRecord {
  const defined = Object.fromEntries(Object.entries(later).filter(([, value]) => value !== undefined));
  return {
    ...earlier,
    ...defined,
    keys: later.keys && later.keys.length > 0 ? later.keys : earlier.keys,
    labels: { ...earlier.labels, ...later.labels },
    vars: { ...earlier.vars, ...later.vars },
    groups: [...new Set([...earlier.groups, ...later.groups])],
    ...(earlier.become || later.become ? { become: { ...earlier.become, ...later.become } } : {}),
    source: `${earlier.source}, ${later.source}`,
  };
}

/**
 * Each host's opskit groups, least specific first: a group's vars and labels
 * apply before those of the groups nested in it (as Ansible orders parent and
 * child groups), groups of the same depth in name order. `children` may also
 * name a group that a source defined (an Ansible group): its members are the
 * hosts that source put in it.
 */
function resolveGroups(groups: Groups, records: Map<string, HostRecord>, where: InventoryInput["where"]): Map<string, string[]> {
  const sourceGroups = new Set([...records.values()].flatMap((r) => r.groups));
  const depth = new Map<string, number>();
  const members = new Map<string, Set<string>>();

  const visit = (name: string, level: number, path: string[]): Set<string> => {
    depth.set(name, Math.max(depth.get(name) ?? 0, level));
    const cached = members.get(name);
    if (cached && !path.includes(name)) {
      for (const child of groups[name]!.children) visit(child, level + 1, [...path, name]);
      return cached;
    }
    const group = groups[name]!;
    const found = new Set<string>();
    group.hosts.forEach((entry, i) => {
      const at = where(["inventory", "groups", name, "hosts", i]);
      // A member may be a host pattern (web[01-40]): each host it names must be defined.
      for (const host of /[[,]/.test(entry) ? expandHostPattern(entry, { where: at, fail: configError }) : [entry]) {
        if (!records.has(host)) {
          throw configError("E_INVENTORY_MEMBER", `${at}: group "${name}" lists unknown host "${host}"`, hintFor(host, [...records.keys()], "host", "define it under inventory.hosts or in a source"));
        }
        found.add(host);
      }
    });
    group.children.forEach((child, i) => {
      const at = where(["inventory", "groups", name, "children", i]);
      if (path.includes(child) || child === name) {
        throw configError("E_INVENTORY_CYCLE", `${at}: group "${child}" contains itself (${[...path, name, child].join(" > ")})`, "remove one of the children entries that form the loop");
      }
      if (groups[child]) {
        for (const host of visit(child, level + 1, [...path, name])) found.add(host);
      } else if (sourceGroups.has(child)) {
        for (const record of records.values()) if (record.groups.includes(child)) found.add(record.name);
      } else {
        throw configError("E_INVENTORY_MEMBER", `${at}: group "${name}" lists unknown child group "${child}"`, hintFor(child, [...Object.keys(groups), ...sourceGroups], "group", "define it under inventory.groups"));
      }
    });
    members.set(name, found);
    return found;
  };
  for (const name of Object.keys(groups)) visit(name, 0, []);

  const byHost = new Map<string, string[]>();
  const ordered = Object.keys(groups).sort((a, b) => depth.get(a)! - depth.get(b)! || a.localeCompare(b));
  for (const name of ordered) {
    for (const host of members.get(name)!) {
      if (!byHost.has(host)) byHost.set(host, []);
      byHost.get(host)!.push(name);
    }
  }
  return byHost;
}

function hintFor(name: string, known: string[], what: string, fix: string): string {
  const near = known.filter((k) => k.toLowerCase().includes(name.toLowerCase()) || name.toLowerCase().includes(k.toLowerCase())).slice(0, 3);
  const shown = known.slice(0, 8).join(", ");
  return `${near.length > 0 ? `did you mean ${near.map((n) => `"${n}"`).join(" or ")}? ` : ""}${fix}; known ${what}s: ${shown || "none"}${known.length > 8 ? ", ..." : ""}`;
}

const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** `~` is the home directory; relative paths are read from the config's directory. */
export function expandPath(path: string, baseDir: string, home: string): string {
  const expanded = path.replace(/^~(?=\/|$)/, home);
  return isAbsolute(expanded) ? expanded : join(baseDir, expanded);
}

function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}
