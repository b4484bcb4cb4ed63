import { hostname as localHostname } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { configError } from "../errors.ts";
import { compilePatternList, type Matcher } from "../glob/index.ts";
import type { HostRecord, InventorySource, SourceContext } from "./types.ts";

/*
 * OpenSSH client config, read as ssh(1) reads it (ssh_config(5)): every Host
 * line naming a concrete host (no *, ?, !) yields a target; its settings are
 * those of every block that matches it, in file order, the first value of
 * each keyword winning (IdentityFile accumulates). Include is followed
 * (globs, ~, relative paths against ~/.ssh as ssh does for a user's config;
 * a pattern that matches nothing is skipped) and, as in ssh, an Include
 * inside a block applies only where that block does. Of Match, only `all`,
 * `host` and `originalhost` can be judged without a connection; a Match
 * block using any other criterion is treated as not matching.
 *
 * UserKnownHostsFile is followed (several files, ~ and %-tokens expanded):
 * host keys are checked against those files instead of the default one. What
 * would turn checking off is not followed: `UserKnownHostsFile /dev/null`
 * (or none) and `StrictHostKeyChecking no`, `off` or `accept-new` are noted on
 * the host, host keys are still checked as opskit's own hostKeyChecking
 * says, and a refused key's error says why. A config written for interactive
 * use often carries these for lab hosts; refusing the whole import would
 * leave every other host unusable, and following them would let a man in the
 * middle take the session and its credentials.
 */

/** A Host line's or a Match host's patterns, read as ssh's match_pattern_list does. */
type Condition =
  | { kind: "host"; patterns: Matcher }
  | { kind: "match"; criteria: { name: "all" | "host" | "originalhost" | "unsupported"; negated: boolean; patterns: Matcher }[] };

interface Entry {
  conditions: Condition[];
  keyword: string;
  args: string[];
  where: string;
}

interface Parsed {
  entries: Entry[];
  hosts: Map<string, string>;
}

const maxIncludeDepth = 16;

export const sshConfigSource: InventorySource = {
  kind: "ssh_config",
  schema: ({ z }) => z.string().describe("an OpenSSH client config file (Host, HostName, Port, User, IdentityFile, ProxyJump)"),
  async load(text, context) {
    const parsed: Parsed = { entries: [], hosts: new Map() };
    await parseConfig(text, context.display, context, [], 0, parsed, join(context.homeDir, ".ssh"));
    return [...parsed.hosts].map(([name, where]) => resolveHost(name, where, parsed.entries, context));
  },
};

/**
 * What a client config says for any host name, as `ssh NAME` would apply it
 * (the name need not have a Host line of its own: `Host *.example.com` and
 * `Host *` blocks apply too): for ad-hoc hosts (`opskit exec -H`).
 */
export async function sshConfigResolver(text: string, context: SourceContext): Promise<(name: string) => HostRecord> {
  const parsed: Parsed = { entries: [], hosts: new Map() };
  await parseConfig(text, context.display, context, [], 0, parsed, join(context.homeDir, ".ssh"));
  return (name) => resolveHost(name, context.display, parsed.entries, context);
}

async function parseConfig(text: string, display: string, context: SourceContext, outer: Condition[], depth: number, out: Parsed, includeDir: string): Promise<void> {
  let conditions = outer;
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const where = `${display}:${index + 1}`;
    const line = splitLine(lines[index]!, where);
    if (!line) continue;
    const { keyword, args } = line;
    if (keyword === "host") {
      if (args.length === 0) throw configError("E_SSH_CONFIG", `${where}: Host needs at least one pattern`, "write e.g. Host web-1 web-2, or Host *.example.com");
      conditions = [...outer, { kind: "host", patterns: compilePatternList(args) }];
      for (const name of args) if (!/[*?!]/.test(name) && !out.hosts.has(name)) out.hosts.set(name, where);
    } else if (keyword === "match") {
      conditions = [...outer, parseMatch(args, where)];
    } else if (keyword === "include") {
      if (depth >= maxIncludeDepth) throw configError("E_SSH_CONFIG", `${where}: Include nested more than ${maxIncludeDepth} deep`, "look for a file that includes itself");
      for (const arg of args) {
        for (const file of await expandInclude(arg, includeDir, context.homeDir)) {
          const included = await context.readText(file).catch(() => undefined);
          if (included !== undefined) await parseConfig(included, file, context, conditions, depth + 1, out, includeDir);
        }
      }
    } else {
      out.entries.push({ conditions, keyword, args, where });
    }
  }
}

/** `Keyword value`, `Keyword=value`; values may be quoted; `#` starts a comment. */
function splitLine(raw: string, where: string): { keyword: string; args: string[] } | undefined {
  const match = /^\s*([A-Za-z][A-Za-z0-9]*)(?:\s*=\s*|\s+|$)(.*)$/.exec(raw);
  if (!match) {
    if (/^\s*(#.*)?$/.test(raw)) return undefined;
    throw configError("E_SSH_CONFIG", `${where}: cannot read "${raw.trim()}"`, "write Keyword value, e.g. HostName 10.0.0.5");
  }
  const args: string[] = [];
  let current = "";
  let quote: string | undefined;
  let inToken = false;
  for (const char of match[2]!) {
    if (quote) {
      if (char === quote) quote = undefined;
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inToken = true;
    } else if (/\s/.test(char)) {
      if (inToken) args.push(current);
      current = "";
      inToken = false;
    } else if (char === "#" && !inToken) {
      break;
    } else {
      current += char;
      inToken = true;
    }
  }
  if (quote) throw configError("E_SSH_CONFIG", `${where}: unterminated quote`, `close the ${quote} quote`);
  if (inToken) args.push(current);
  return { keyword: match[1]!.toLowerCase(), args };
}

function parseMatch(args: string[], where: string): Condition {
  const criteria: Extract<Condition, { kind: "match" }>["criteria"] = [];
  for (let i = 0; i < args.length; i++) {
    const negated = args[i]!.startsWith("!");
    const name = args[i]!.slice(negated ? 1 : 0).toLowerCase();
    if (name === "all" || name === "canonical" || name === "final") {
      criteria.push({ name: name === "all" ? "all" : "unsupported", negated, patterns: compilePatternList([]) });
      continue;
    }
    const value = args[++i];
    if (value === undefined) throw configError("E_SSH_CONFIG", `${where}: Match ${name} needs a value`, "write e.g. Match host *.example.com");
    const kind = name === "host" || name === "originalhost" ? name : "unsupported";
    criteria.push({ name: kind, negated, patterns: compilePatternList(value.split(",")) });
  }
  return { kind: "match", criteria };
}

/** The files an Include names; as in ssh (glob(3) with GLOB_NOCHECK off), a pattern that matches nothing, or a missing directory, names none. */
async function expandInclude(arg: string, dir: string, home: string): Promise<string[]> {
  const expanded = arg.replace(/^~(?=\/|$)/, home);
  const path = isAbsolute(expanded) ? expanded : join(dir, expanded);
  if (!/[*?[]/.test(path)) return [path];
  const base = dirname(path);
  const glob = new Bun.Glob(path.slice(base.length + 1));
  const found: string[] = [];
  try {
    for await (const name of glob.scan({ cwd: base, onlyFiles: true })) found.push(join(base, name));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
  }
  return found.sort();
}

/** Applies every matching entry in order: the first value of a keyword wins, IdentityFile accumulates. */
function resolveHost(name: string, where: string, entries: Entry[], context: SourceContext): HostRecord {
  const settings = new Map<string, { value: string; where: string }>();
  const identityFiles: string[] = [];
  const judged = new Map<Condition, boolean>();
  const holds = (condition: Condition): boolean => {
    let result = judged.get(condition);
    if (result === undefined) {
      // Judged once, at the first entry of its block, as ssh judges a Match line.
      result = condition.kind === "host" ? condition.patterns.test(name) : matchCriteria(condition, name, settings.get("hostname")?.value);
      judged.set(condition, result);
    }
    return result;
  };
  for (const entry of entries) {
    if (!entry.conditions.every(holds) || entry.args.length === 0) continue;
    if (entry.keyword === "identityfile") identityFiles.push(entry.args[0]!);
    else if (!settings.has(entry.keyword)) settings.set(entry.keyword, { value: entry.args.join(" "), where: entry.where });
  }
  const hostName = settings.get("hostname")?.value.replace(/%(%|h)/g, (_, t: string) => (t === "%" ? "%" : name));
  const user = settings.get("user")?.value;
  const port = parsePort(settings.get("port"));
  const proxyJump = settings.get("proxyjump")?.value;
  const tokens: Record<string, string> = {
    "%": "%",
    d: context.homeDir,
    h: hostName ?? name,
    n: name,
    p: String(port ?? 22),
    r: user ?? context.env.USER ?? "",
    u: context.env.USER ?? "",
    l: localHostname(),
    L: localHostname().split(".")[0]!,
    i: String(process.getuid?.() ?? ""),
  };
  const expand = (file: string) => file.replace(/%([%dhnprulLi])/g, (_, t: string) => tokens[t]!);
  const keys = [...new Set(identityFiles.map(expand))];
  const hostKeys = hostKeySettings(settings, expand);
  return {
    name,
    ...(hostName !== undefined && hostName !== name ? { address: hostName } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(keys.length > 0 ? { keys } : {}),
    ...(proxyJump !== undefined && proxyJump.toLowerCase() !== "none" ? { proxyJump } : {}),
    ...hostKeys,
    labels: {},
    vars: {},
    groups: [],
    source: where,
  };
}

/** Files that discard what is written to them or name no file: a known_hosts "file" that turns checking off. */
const discardingFiles = new Set(["/dev/null", "none"]);

/**
 * UserKnownHostsFile and StrictHostKeyChecking as far as opskit follows them:
 * the known_hosts files, and a note for each setting that would have turned
 * host key checking off (see the comment at the top).
 */
function hostKeySettings(settings: Map<string, { value: string; where: string }>, expand: (file: string) => string): Pick<HostRecord, "knownHostsFiles" | "hostKeyNotes"> {
  const notes: string[] = [];
  const files: string[] = [];
  const strict = settings.get("stricthostkeychecking");
  if (strict && ["no", "off", "accept-new"].includes(strict.value.toLowerCase())) {
    notes.push(`${strict.where}: StrictHostKeyChecking ${strict.value} is not followed (opskit's defaults.hostKeyChecking decides)`);
  }
  const known = settings.get("userknownhostsfile");
  if (known) {
    for (const file of known.value.split(/\s+/).filter(Boolean)) {
      if (discardingFiles.has(file.toLowerCase())) notes.push(`${known.where}: UserKnownHostsFile ${file} is not followed (it would accept any host key)`);
      else files.push(expand(file));
    }
  }
  return { ...(files.length > 0 ? { knownHostsFiles: [...new Set(files)] } : {}), ...(notes.length > 0 ? { hostKeyNotes: notes } : {}) };
}

function matchCriteria(condition: Extract<Condition, { kind: "match" }>, original: string, hostName: string | undefined): boolean {
  return condition.criteria.every((criterion) => {
    let result: boolean;
    if (criterion.name === "all") result = true;
    else if (criterion.name === "unsupported") return false;
    else result = criterion.patterns.test(criterion.name === "host" ? (hostName ?? original) : original);
    return criterion.negated ? !result : result;
  });
}

function parsePort(setting: { value: string; where: string } | undefined): number | undefined {
  if (!setting) return undefined;
  const port = Number(setting.value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw configError("E_SSH_CONFIG", `${setting.where}: Port "${setting.value}" is not a port number`, "use a port from 1 to 65535");
  return port;
}
