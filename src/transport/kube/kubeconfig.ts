import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { configError } from "../../errors.ts";
import { readYamlDocument, type ConfigPath } from "../../schema/index.ts";

/*
 * kubeconfig files as kubectl reads them (client-go's clientcmd): clusters,
 * users and contexts by name, current-context, files named relative to the
 * kubeconfig that names them, and KUBECONFIG's list of files merged with the
 * first file to define a name (or current-context) winning. Nothing here
 * reads a certificate or runs a plugin: that happens when a client is made
 * (credentials.ts, client.ts), so listing contexts needs none of them.
 */

/** One context as opskit shows and targets it. */
export interface KubeconfigContext {
  name: string;
  cluster: string;
  user: string;
  namespace?: string;
  /** The cluster's API server URL. */
  server: string;
  /** The context's `extensions`, by name (e.g. `opskit: { labels: {...} }`). */
  extensions: Record<string, unknown>;
}

export interface Kubeconfig {
  /** The path (or KUBECONFIG-style list) it was read from. */
  file: string;
  currentContext?: string;
  contexts: KubeconfigContext[];
}

/** "file:line:col" of a key of an entry, for errors that say where to fix it. */
type Where = (path: ConfigPath) => string;

/** A certificate, key or token given as a file (absolute, resolved against its kubeconfig) or inline. */
export type Material = { file: string; where: string } | { data: string; where: string };

export interface ClusterEntry {
  name: string;
  server: string;
  ca?: Material;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  extensions: Record<string, unknown>;
  where: Where;
}

export interface ExecConfig {
  apiVersion: "client.authentication.k8s.io/v1" | "client.authentication.k8s.io/v1beta1";
  /** As written, or resolved against the kubeconfig's directory when it names a path (holds a /). */
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  installHint?: string;
  provideClusterInfo: boolean;
  interactiveMode: "Never" | "IfAvailable" | "Always";
  where: string;
}

export interface UserEntry {
  name: string;
  clientCertificate?: Material;
  clientKey?: Material;
  token?: string;
  tokenFile?: { file: string; where: string };
  basic?: { username: string; password: string };
  exec?: ExecConfig;
  where: Where;
}

export interface ContextEntry extends KubeconfigContext {
  where: Where;
}

/** A kubeconfig with what a client needs besides its contexts. */
export interface LoadedKubeconfig extends Kubeconfig {
  clusters: Map<string, ClusterEntry>;
  users: Map<string, UserEntry>;
  contextEntries: Map<string, ContextEntry>;
  /** Where current-context is set, for errors about it. */
  currentContextWhere?: string;
}

export interface ReadOptions {
  env?: Record<string, string | undefined>;
  homeDir?: string;
}

const EXEC_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"] as const;
const fixHint = "fix the kubeconfig (kubectl config view shows how kubectl reads it)";

/** The kubeconfig kubectl would use: $KUBECONFIG (a list), else ~/.kube/config. */
export function defaultKubeconfig(options: ReadOptions = {}): string {
  const env = options.env ?? process.env;
  return env.KUBECONFIG || join(options.homeDir ?? (env.HOME || homedir()), ".kube", "config");
}

/**
 * Reads a kubeconfig: one file, or a KUBECONFIG-style list of files
 * (separated by ":"), merged as kubectl merges them. In a list, files that
 * do not exist are skipped, as kubectl skips them; a single path must exist.
 */
export async function readKubeconfig(path: string, options: ReadOptions = {}): Promise<LoadedKubeconfig> {
  const home = options.homeDir ?? ((options.env ?? process.env).HOME || homedir());
  const files = path
    .split(delimiter)
    .filter(Boolean)
    .map((file) => resolve(file.replace(/^~(?=\/|$)/, home)));
  if (files.length === 0) throw configError("E_KUBECONFIG_READ", "no kubeconfig file given", "name a kubeconfig file, or set KUBECONFIG");
  const texts: { file: string; text: string }[] = [];
  for (const file of files) {
    const text = await Bun.file(file)
      .text()
      .catch((error: Error) => {
        if (files.length > 1 && (error as { code?: string }).code === "ENOENT") return undefined;
        throw configError("E_KUBECONFIG_READ", `cannot read kubeconfig ${file}: ${error.message}`, "check the path (KUBECONFIG, --kubeconfig, or kube.kubeconfig in the step)");
      });
    if (text !== undefined) texts.push({ file, text });
  }
  if (texts.length === 0) throw configError("E_KUBECONFIG_READ", `none of the kubeconfig files exist: ${files.join(", ")}`, "check KUBECONFIG");
  return mergeKubeconfigs(
    texts.map(({ file, text }) => parseKubeconfig(text, file)),
    path,
  );
}

/** One parsed file, before merging. */
export interface KubeconfigFile {
  file: string;
  clusters: ClusterEntry[];
  users: UserEntry[];
  contexts: ContextEntry[];
  currentContext?: string;
  currentContextWhere?: string;
}

/**
 * Merges files as client-go's loading rules do: a cluster, user or context
 * name is taken from the first file that defines it, and current-context
 * from the first file that sets one. A context must name a cluster and a user
 * that some file defines.
 */
export function mergeKubeconfigs(parsed: KubeconfigFile[], file: string): LoadedKubeconfig {
  const clusters = new Map<string, ClusterEntry>();
  const users = new Map<string, UserEntry>();
  const contextEntries = new Map<string, ContextEntry>();
  let currentContext: string | undefined;
  let currentContextWhere: string | undefined;
  for (const one of parsed) {
    for (const cluster of one.clusters) if (!clusters.has(cluster.name)) clusters.set(cluster.name, cluster);
    for (const user of one.users) if (!users.has(user.name)) users.set(user.name, user);
    for (const context of one.contexts) if (!contextEntries.has(context.name)) contextEntries.set(context.name, context);
    if (currentContext === undefined && one.currentContext) {
      currentContext = one.currentContext;
      currentContextWhere = one.currentContextWhere;
    }
  }
  for (const context of contextEntries.values()) {
    const cluster = clusters.get(context.cluster);
    if (!cluster) {
      throw configError("E_KUBECONFIG", `${context.where(["context", "cluster"])}: context "${context.name}" names cluster "${context.cluster}", which no clusters entry defines`, `add the cluster under clusters:, or point the context at one of: ${[...clusters.keys()].join(", ") || "none"}`);
    }
    if (!users.has(context.user)) {
      throw configError("E_KUBECONFIG", `${context.where(["context", "user"])}: context "${context.name}" names user "${context.user}", which no users entry defines`, `add the user under users:, or point the context at one of: ${[...users.keys()].join(", ") || "none"}`);
    }
    context.server = cluster.server;
  }
  const contexts = [...contextEntries.values()].map(({ where: _, ...context }) => context);
  return { file, ...(currentContext ? { currentContext } : {}), ...(currentContextWhere ? { currentContextWhere } : {}), contexts, clusters, users, contextEntries };
}

type Fields = Record<string, unknown>;
const isMap = (value: unknown): value is Fields => value !== null && typeof value === "object" && !Array.isArray(value);

/** Reads one kubeconfig file's text; paths in it are resolved against its directory; errors show it as `display`. */
export function parseKubeconfig(text: string, file: string, display = file): KubeconfigFile {
  const doc = readYamlDocument(text, display);
  const root = doc.value ?? {};
  const read = new Reader(root, (path) => doc.where(path));
  if (!isMap(root)) read.fail([], "a kubeconfig is a map (apiVersion, kind: Config, clusters, users, contexts)");
  const dir = dirname(file);
  const clusters = read.named("clusters", "cluster", (base) => clusterEntry(read, base, dir));
  const users = read.named("users", "user", (base) => userEntry(read, base, dir));
  const contexts = read.named("contexts", "context", (base) => contextEntry(read, base));
  const currentContext = read.string(["current-context"]);
  return { file, clusters, users, contexts, ...(currentContext ? { currentContext, currentContextWhere: read.where(["current-context"]) } : {}) };
}

/** Typed reads of the plain YAML value by path from its root, each error at the key's file:line:col. */
class Reader {
  constructor(
    readonly root: unknown,
    readonly where: Where,
  ) {}

  fail(path: ConfigPath, message: string, hint = fixHint): never {
    throw configError("E_KUBECONFIG", `${this.where(path)}: ${path.length > 0 ? `${dotted(path)}: ` : ""}${message}`, hint);
  }

  at(path: ConfigPath): unknown {
    let value: unknown = this.root;
    for (const key of path) value = isMap(value) || Array.isArray(value) ? (value as Record<string | number, unknown>)[key] : undefined;
    return value;
  }

  string(path: ConfigPath): string | undefined {
    const value = this.at(path);
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") this.fail(path, `is ${describe(value)}, not text`);
    return value;
  }

  boolean(path: ConfigPath): boolean {
    const value = this.at(path);
    if (value === undefined || value === null) return false;
    if (typeof value !== "boolean") this.fail(path, `is ${describe(value)}, not true or false`);
    return value;
  }

  /** `extensions: [{ name, extension }]` as a record by name. */
  extensions(path: ConfigPath): Record<string, unknown> {
    const list = this.at(path);
    if (list === undefined || list === null) return {};
    if (!Array.isArray(list)) this.fail(path, `is ${describe(list)}, not a list of { name, extension }`);
    const out: Record<string, unknown> = {};
    list.forEach((entry, i) => {
      const name = isMap(entry) ? entry.name : undefined;
      if (typeof name !== "string" || !name) this.fail([...path, i], "needs a name", "write each extension as { name: NAME, extension: {...} }");
      if (!(name in out)) out[name] = (entry as Fields).extension;
    });
    return out;
  }

  /** A list of `{ name, <key>: {...} }` entries, each read by `make` from its path; a name given twice in one file is an error. */
  named<T>(list: string, key: string, make: (base: ConfigPath) => T): T[] {
    const entries = this.at([list]);
    if (entries === undefined || entries === null) return [];
    if (!Array.isArray(entries)) this.fail([list], `is ${describe(entries)}, not a list`, `write ${list}: as a list of { name, ${key}: {...} }`);
    const seen = new Set<string>();
    return entries.map((entry, i) => {
      if (!isMap(entry)) this.fail([list, i], `is ${describe(entry)}, not { name, ${key} }`);
      const name = entry.name;
      if (typeof name !== "string" || !name) this.fail([list, i, "name"], "is missing", `give every entry of ${list} a name`);
      if (seen.has(name)) this.fail([list, i, "name"], `names "${name}" a second time in this file`, `rename or remove one of the ${list} entries named "${name}"`);
      seen.add(name);
      const fields = entry[key] ?? {};
      if (!isMap(fields)) this.fail([list, i, key], `is ${describe(fields)}, not a map`);
      return make([list, i]);
    });
  }
}

function clusterEntry(read: Reader, base: ConfigPath, dir: string): ClusterEntry {
  const key = (...path: string[]): ConfigPath => [...base, "cluster", ...path];
  const name = read.at([...base, "name"]) as string;
  const server = read.string(key("server"));
  if (!server) read.fail(key("server"), `cluster "${name}" has no server`, "set server: to the API server's URL, e.g. https://10.0.0.1:6443");
  let url: URL | undefined;
  try {
    url = new URL(server);
  } catch {}
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) read.fail(key("server"), `"${server}" is not an https:// URL`, "write the API server's URL, e.g. https://10.0.0.1:6443");
  if (read.string(key("proxy-url"))) read.fail(key("proxy-url"), "proxies are not supported", "reach the API server directly, or remove proxy-url");
  const ca = material(read, key("certificate-authority"), key("certificate-authority-data"), dir);
  const insecureSkipTlsVerify = read.boolean(key("insecure-skip-tls-verify"));
  if (insecureSkipTlsVerify && ca) {
    // As kubectl: trusting a CA and skipping verification contradict each other.
    read.fail(key("insecure-skip-tls-verify"), "is true, and the cluster also names a certificate authority", "remove insecure-skip-tls-verify (verification with the CA is what you want)");
  }
  const tlsServerName = read.string(key("tls-server-name"));
  return {
    name,
    server: server.replace(/\/+$/, ""),
    ...(ca ? { ca } : {}),
    insecureSkipTlsVerify,
    ...(tlsServerName ? { tlsServerName } : {}),
    extensions: read.extensions(key("extensions")),
    where: (path) => read.where([...base, ...path]),
  };
}

/** A file key and its `-data` twin: the data wins, as in client-go; a relative file is read from the kubeconfig's directory. */
function material(read: Reader, fileKey: ConfigPath, dataKey: ConfigPath, dir: string): Material | undefined {
  const data = read.string(dataKey);
  if (data) {
    const decoded = /^[A-Za-z0-9+/=\s]+$/.test(data) ? Buffer.from(data, "base64") : Buffer.alloc(0);
    if (decoded.length === 0) read.fail(dataKey, "is not base64", `${dataKey.at(-1)} holds the PEM file's content in base64 (base64 -w0 FILE)`);
    return { data: decoded.toString("utf8"), where: read.where(dataKey) };
  }
  const file = read.string(fileKey);
  return file ? { file: isAbsolute(file) ? file : join(dir, file), where: read.where(fileKey) } : undefined;
}

function userEntry(read: Reader, base: ConfigPath, dir: string): UserEntry {
  const key = (...path: string[]): ConfigPath => [...base, "user", ...path];
  const name = read.at([...base, "name"]) as string;
  if (read.at(key("auth-provider")) !== undefined) {
    read.fail(key("auth-provider"), "auth-provider plugins were removed from kubectl (1.26); opskit does not run them", "use the exec credential plugin your provider ships (gke-gcloud-auth-plugin, kubelogin)");
  }
  const clientCertificate = material(read, key("client-certificate"), key("client-certificate-data"), dir);
  const clientKey = material(read, key("client-key"), key("client-key-data"), dir);
  if (Boolean(clientCertificate) !== Boolean(clientKey)) {
    const [has, lacks] = clientCertificate ? ["client-certificate", "client-key"] : ["client-key", "client-certificate"];
    const hasKey = read.at(key(has)) !== undefined ? key(has) : key(`${has}-data`);
    read.fail(hasKey, `user "${name}" has a ${has} and no ${lacks}`, "give both (files or -data): a client certificate needs its key");
  }
  const token = read.string(key("token"));
  const tokenFile = read.string(key("tokenFile"));
  const username = read.string(key("username"));
  const password = read.string(key("password"));
  const exec = read.at(key("exec")) !== undefined ? execConfig(read, key("exec"), dir) : undefined;
  return {
    name,
    ...(clientCertificate ? { clientCertificate } : {}),
    ...(clientKey ? { clientKey } : {}),
    ...(token ? { token } : {}),
    ...(tokenFile ? { tokenFile: { file: isAbsolute(tokenFile) ? tokenFile : join(dir, tokenFile), where: read.where(key("tokenFile")) } } : {}),
    ...(username !== undefined || password !== undefined ? { basic: { username: username ?? "", password: password ?? "" } } : {}),
    ...(exec ? { exec } : {}),
    where: (path) => read.where([...base, ...path]),
  };
}

function execConfig(read: Reader, base: ConfigPath, dir: string): ExecConfig {
  const key = (name: string): ConfigPath => [...base, name];
  const exec = read.at(base);
  if (!isMap(exec)) read.fail(base, `is ${describe(exec)}, not a map`, "write exec: { apiVersion, command, args, env, interactiveMode }");
  const apiVersion = read.string(key("apiVersion"));
  if (!apiVersion || !(EXEC_VERSIONS as readonly string[]).includes(apiVersion)) {
    read.fail(apiVersion ? key("apiVersion") : base, apiVersion ? `"${apiVersion}" is not an ExecCredential version opskit speaks` : "apiVersion is missing", `use ${EXEC_VERSIONS.join(" or ")} (v1alpha1 was removed from Kubernetes in 1.24)`);
  }
  const command = read.string(key("command"));
  if (!command) read.fail(base, "command is missing", "name the credential plugin to run, e.g. aws, gke-gcloud-auth-plugin or kubelogin");
  const args = read.at(key("args")) ?? [];
  if (!Array.isArray(args) || args.some((arg) => typeof arg !== "string")) read.fail(key("args"), "is not a list of text", "write args: as a list of strings");
  const env = read.at(key("env")) ?? [];
  if (!Array.isArray(env) || env.some((item) => !isMap(item) || typeof item.name !== "string" || typeof item.value !== "string")) {
    read.fail(key("env"), "is not a list of { name, value }", "write env: as a list of { name: NAME, value: TEXT }");
  }
  const mode = read.string(key("interactiveMode"));
  if (mode !== undefined && !["Never", "IfAvailable", "Always"].includes(mode)) read.fail(key("interactiveMode"), `"${mode}" is not Never, IfAvailable or Always`);
  // client-go requires it from v1 on; v1beta1 defaults to IfAvailable.
  if (mode === undefined && apiVersion === "client.authentication.k8s.io/v1") read.fail(base, "interactiveMode is missing (client.authentication.k8s.io/v1 requires it)", "add interactiveMode: Never (opskit never runs a plugin interactively)");
  if (mode === "Always") read.fail(key("interactiveMode"), "is Always, and opskit runs plugins without a terminal", "log in once interactively (the plugin caches its token), and set interactiveMode: IfAvailable or Never");
  const installHint = read.string(key("installHint"));
  return {
    apiVersion: apiVersion as ExecConfig["apiVersion"],
    // As client-go: a command naming a path (it holds a /) is relative to the kubeconfig; a bare name is looked up on PATH.
    command: command.includes("/") && !isAbsolute(command) ? join(dir, command) : command,
    args: args as string[],
    env: (env as { name: string; value: string }[]).map(({ name, value }) => ({ name, value })),
    ...(installHint ? { installHint } : {}),
    provideClusterInfo: read.boolean(key("provideClusterInfo")),
    interactiveMode: (mode ?? "IfAvailable") as ExecConfig["interactiveMode"],
    where: read.where(key("command")),
  };
}

function contextEntry(read: Reader, base: ConfigPath): ContextEntry {
  const key = (...path: string[]): ConfigPath => [...base, "context", ...path];
  const name = read.at([...base, "name"]) as string;
  const cluster = read.string(key("cluster"));
  if (!cluster) read.fail(key("cluster"), `context "${name}" names no cluster`, "set context.cluster to the name of a clusters entry");
  const user = read.string(key("user"));
  if (!user) read.fail(key("user"), `context "${name}" names no user`, "set context.user to the name of a users entry");
  const namespace = read.string(key("namespace"));
  return {
    name,
    cluster,
    user,
    ...(namespace ? { namespace } : {}),
    server: "",
    extensions: read.extensions(key("extensions")),
    where: (path) => read.where([...base, ...path]),
  };
}

function dotted(path: ConfigPath): string {
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${part}`)).join("");
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "empty";
  return typeof value === "object" ? "a map" : `${typeof value} ${JSON.stringify(value)}`;
}
