import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { configError, usageError } from "../errors.ts";
import { parseHostPattern, parseHostPatternLines, type HostPatternEntry } from "./host-pattern.ts";
import { expandPath } from "./resolve.ts";
import { sshConfigResolver } from "./ssh-config.ts";
import type { HostRecord, InventoryInput, Target } from "./types.ts";

export interface AdHocOptions {
  /** Environment for $USER and ~ (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Where `@file` is read from (default: process.cwd()). */
  cwd?: string;
}

/**
 * Targets named on the command line (`opskit exec -H PATTERN`, or `-H @file`
 * with a pattern a line), as pssh and ClusterShell users name hosts: no
 * inventory needed. Each is set up as a configured host would be: what
 * ~/.ssh/config says for its name (HostName, User, Port, IdentityFile,
 * ProxyJump, UserKnownHostsFile, as `ssh NAME` would apply them), then
 * opskit.yaml's defaults (user, port, key) when there is one; a `user@` or
 * `:port` in the pattern wins over both. Host keys are checked as for every
 * host (defaults.knownHosts and hostKeyChecking, strict unless set).
 */
export async function adHocTargets(loaded: InventoryInput, pattern: string, options: AdHocOptions = {}): Promise<Target[]> {
  const env = options.env ?? process.env;
  const home = env.HOME || homedir();
  const entries = await readPatterns(pattern, options.cwd ?? process.cwd(), home);
  const fromSshConfig = await userSshConfig(home, env);
  const { defaults } = loaded.config;
  const defaultKeys = defaults.key === undefined ? [] : Array.isArray(defaults.key) ? defaults.key : [defaults.key];
  return entries.map(({ entry, source }): Target => {
    const configured: Partial<HostRecord> = fromSshConfig?.config(entry.host) ?? {};
    const applied = (["address", "port", "user", "keys", "proxyJump", "knownHostsFiles", "hostKeyNotes"] as const).some((field) => configured[field] !== undefined);
    const keys = configured.keys && configured.keys.length > 0 ? configured.keys : defaultKeys;
    return {
      name: entry.name,
      address: configured.address ?? entry.host,
      port: entry.port ?? configured.port ?? defaults.port ?? 22,
      user: entry.user ?? configured.user ?? defaults.user ?? (env.USER || "root"),
      labels: {},
      vars: {},
      groups: [],
      keys: keys.map((key) => expandPath(key, loaded.baseDir, home)),
      ...(configured.proxyJump !== undefined ? { proxyJump: configured.proxyJump } : {}),
      ...(configured.knownHostsFiles ? { knownHostsFiles: configured.knownHostsFiles.map((file) => expandPath(file, loaded.baseDir, home)) } : {}),
      ...(configured.hostKeyNotes ? { hostKeyNotes: configured.hostKeyNotes } : {}),
      // -v tells where a host's settings come from: the pattern, and ~/.ssh/config when it said something for the host.
      source: applied ? `${source}, ${fromSshConfig!.file}` : source,
    };
  });
}

/** `-H PATTERN`, or `-H @file`: a file of patterns, relative to the current directory. */
async function readPatterns(pattern: string, cwd: string, home: string): Promise<Array<{ entry: HostPatternEntry; source: string }>> {
  if (!pattern.startsWith("@")) return parseHostPattern(pattern, { where: "-H", fail: usageError }).map((entry) => ({ entry, source: "-H" }));
  const given = pattern.slice(1);
  if (!given) throw usageError("E_HOST_PATTERN", "-H @ names no file", "write -H @hosts.txt: a file with one host pattern a line");
  const expanded = given.replace(/^~(?=\/|$)/, home);
  const file = isAbsolute(expanded) ? expanded : resolve(cwd, expanded);
  const text = await Bun.file(file)
    .text()
    .catch((error: Error) => {
      throw usageError("E_HOST_PATTERN", `-H @${given}: cannot read ${file}: ${error.message}`, "give a readable file with one host pattern a line, e.g. -H @hosts.txt");
    });
  const entries = parseHostPatternLines(text, given, configError);
  if (entries.length === 0) throw configError("E_HOST_PATTERN", `-H @${given}: ${file} names no hosts`, "write one host pattern a line, e.g. web[01-40].example.com; # starts a comment");
  return entries.map(({ where, ...entry }) => ({ entry, source: where }));
}

/** What ~/.ssh/config says for a host name; undefined when there is no such file. */
async function userSshConfig(home: string, env: Record<string, string | undefined>): Promise<{ file: string; config: (name: string) => HostRecord } | undefined> {
  const file = join(home, ".ssh", "config");
  const text = await Bun.file(file)
    .text()
    .catch(() => undefined);
  if (text === undefined) return undefined;
  return { file, config: await sshConfigResolver(text, { file, display: file, homeDir: home, env, readText: (path) => Bun.file(path).text() }) };
}
