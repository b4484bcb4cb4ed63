import { readdir, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { configError, usageError } from "../errors.ts";
import { effectiveDefaults, type EffectiveDefaults } from "./defaults.ts";
import type { Config } from "./schema.ts";
import { createSchemaKit, readYamlDocument, validateYaml, type ConfigPath, type YamlDocument } from "../schema/index.ts";

export interface LoadOptions {
  /** `-c PATH`: a file, or a directory holding opskit.yaml or opskit.d/. */
  path?: string;
  cwd: string;
  /** `--env NAME`: the environment overlay to apply. */
  env?: string;
}

export interface LoadedConfig {
  /** The validated config, after the environment overlay. */
  config: Config;
  /** `config.defaults` with what it leaves unset filled in: read these, not config.defaults with a fallback. */
  defaults: EffectiveDefaults;
  /** Absolute paths of the files read, in merge order. */
  files: string[];
  /** Directory that relative paths in the config are resolved against. */
  baseDir: string;
  /** "file:line:col" of a key, in whichever file (or environment) defined it. */
  where(path: ConfigPath): string;
  environment?: string;
}

/** The sections opskit agent reads. */
export type AgentSections = Pick<Config, "agent" | "observability">;

/** The config as opskit agent loads it: its own sections validated, the rest of each file parsed only. */
export interface LoadedAgentConfig extends Omit<LoadedConfig, "config" | "defaults"> {
  config: AgentSections;
  /** Each file's YAML as written (parsed, not validated): secret references anywhere in it are registered all the same. */
  written: unknown[];
}

const createHint = "create opskit.yaml (examples/opskit.yaml is a complete one), or pass -c PATH";

const display = (cwd: string, file: string) => {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
};

/** Finds and reads the config's files, each parsed with positions and validated by `validate`. */
async function readConfigFiles<C extends Partial<Config>>(options: LoadOptions, validate: (value: unknown, where: YamlDocument["where"]) => C) {
  const { files, baseDir } = await findConfigFiles(options);
  const docs: YamlDocument[] = [];
  const fragments: C[] = [];
  for (const file of files) {
    const text = await Bun.file(file).text().catch((error: Error) => {
      throw configError("E_CONFIG_READ", `cannot read ${display(options.cwd, file)}: ${error.message}`, "check the path and its permissions");
    });
    const doc = readYamlDocument(text, display(options.cwd, file));
    // An empty file (or one holding only comments) is an empty config.
    const value = doc.value === null ? {} : doc.value;
    // zod hands out its default values by reference; a clone keeps one
    // config's mutations out of every other config's defaults.
    fragments.push(structuredClone(validate(value, doc.where)));
    docs.push({ ...doc, value });
  }
  return { files, baseDir, docs, fragments };
}

/** Finds, reads, validates and merges the config, then applies `--env`. */
export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const { configSchema } = await import("./schema.ts");
  const { files, baseDir, docs, fragments } = await readConfigFiles(options, (value, where) => validateYaml(value, configSchema, where));
  const merged = mergeFragments(fragments, docs) as { config: Config; sourceOrigins: SourceOrigin[]; listOrigins: Record<ListKey, SourceOrigin[]> };
  const base = { files, baseDir };
  if (options.env === undefined) return { ...base, config: merged.config, defaults: effectiveDefaults(merged.config.defaults), where: wherein(docs, merged.sourceOrigins, merged.listOrigins) };
  const overlaid = applyEnvironment(merged.config, options.env, display(options.cwd, files[0]!));
  const origins = [...merged.sourceOrigins, ...overlaid.addedSources.map((_, i) => ({ doc: -1, path: ["environments", options.env!, "inventory", "sources", i] }))];
  return {
    ...base,
    config: overlaid.config,
    defaults: effectiveDefaults(overlaid.config.defaults),
    environment: options.env,
    where: wherein(docs, origins, merged.listOrigins, overlaid.config.environments[options.env], options.env),
  };
}

/**
 * Loads what opskit agent reads: agent: and observability:, validated and
 * merged as loadConfig does, errors at file:line:col. The rest of each file is
 * parsed (a YAML error anywhere still stops it) but not validated, so the
 * schemas of every workflow, action and inventory source are never built: on
 * the small machines the agent runs on they cost it several MB of memory.
 * opskit validate checks the whole file, agent: included.
 */
export async function loadAgentConfig(options: LoadOptions): Promise<LoadedAgentConfig> {
  const [{ z }, { agentPart }, { observabilityPart }] = await Promise.all([import("zod"), import("./agent-schema.ts"), import("./observability-schema.ts")]);
  const kit = createSchemaKit(z);
  // Not strict: the other top-level keys are left out, not refused.
  const sections = z.object({ agent: kit.schemaOf(agentPart).optional(), observability: kit.schemaOf(observabilityPart).default({}) });
  const { files, baseDir, docs, fragments } = await readConfigFiles(options, (value, where) => validateYaml(value, sections, where));
  const merged = mergeFragments(fragments, docs);
  if (options.env !== undefined) {
    // environments: changes vars, inventory and defaults, none of which the agent reads; the name must still be one of them.
    const defined = [...new Set(docs.flatMap((doc) => Object.keys(((doc.value as { environments?: unknown }).environments as object | null | undefined) ?? {})))];
    if (!defined.includes(options.env)) throw unknownEnvironment(options.env, defined, display(options.cwd, files[0]!));
  }
  return {
    files,
    baseDir,
    config: { agent: merged.config.agent, observability: merged.config.observability ?? {} },
    where: wherein(docs, merged.sourceOrigins, merged.listOrigins),
    written: docs.map((doc) => doc.value),
    ...(options.env !== undefined ? { environment: options.env } : {}),
  };
}

async function kindOf(path: string): Promise<"file" | "dir" | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info === undefined ? undefined : info.isDirectory() ? "dir" : "file";
}

/** `-c PATH`, else ./opskit.yaml, else ./opskit.d/*.yaml in name order. */
async function findConfigFiles({ path, cwd }: LoadOptions): Promise<{ files: string[]; baseDir: string }> {
  if (path !== undefined) {
    const target = resolve(cwd, path);
    const kind = await kindOf(target);
    if (kind === "file") return { files: [target], baseDir: dirname(target) };
    if (kind === undefined) throw configError("E_CONFIG_NOT_FOUND", `config not found: ${path}`, "pass -c an existing opskit.yaml, or a directory holding opskit.yaml or opskit.d/");
    const found = await findInDirectory(target);
    if (found) return found;
    throw configError("E_CONFIG_NOT_FOUND", `no opskit.yaml or opskit.d/*.yaml in ${path}`, createHint);
  }
  const found = await findInDirectory(resolve(cwd));
  if (found) return found;
  throw configError("E_CONFIG_NOT_FOUND", `no opskit config in ${cwd} (looked for opskit.yaml and opskit.d/*.yaml)`, createHint);
}

async function findInDirectory(dir: string): Promise<{ files: string[]; baseDir: string } | undefined> {
  for (const name of ["opskit.yaml", "opskit.yml"]) {
    if ((await kindOf(join(dir, name))) === "file") return { files: [join(dir, name)], baseDir: dir };
  }
  const split = join(dir, "opskit.d");
  if ((await kindOf(split)) !== "dir") return undefined;
  const names = (await readdir(split)).filter((n) => /\.ya?ml$/.test(n)).sort();
  if (names.length === 0) throw configError("E_CONFIG_NOT_FOUND", `${relative(process.cwd(), split) || split}/ holds no *.yaml files`, "add at least one .yaml file to opskit.d/, or create opskit.yaml instead");
  // Relative paths stay relative to the project directory, so that splitting
  // opskit.yaml into opskit.d/ does not change what they mean.
  return { files: names.map((n) => join(split, n)), baseDir: dir };
}

interface SourceOrigin {
  /** Index of the file, or -1 for a source added by the environment overlay. */
  doc: number;
  path: (string | number)[];
}

const mergedMaps = [
  { path: ["vars"], what: "var" },
  { path: ["defaults"], what: "default" },
  { path: ["inventory", "hosts"], what: "host" },
  { path: ["inventory", "groups"], what: "group" },
  { path: ["environments"], what: "environment" },
  { path: ["workflows"], what: "workflow" },
  { path: ["server"], what: "server setting" },
  { path: ["observability"], what: "observability setting" },
  { path: ["probeModules"], what: "probe module" },
] as const;

/** Lists whose entries are named: appended across files, each name once. */
const mergedLists = [
  { key: "checks", what: "check" },
  { key: "rules", what: "rule" },
] as const;
type ListKey = (typeof mergedLists)[number]["key"];

/**
 * Merges opskit.d/ files. Every named entry (a var, a default, a host, a
 * group, an environment, a workflow) may be defined in one file only: a
 * silent override across files is how a fleet ends up with the wrong user.
 * Inventory sources are appended in file order.
 */
function mergeFragments(fragments: Partial<Config>[], docs: YamlDocument[]): { config: Partial<Config> & Pick<Config, "inventory" | "checks" | "rules">; sourceOrigins: SourceOrigin[]; listOrigins: Record<ListKey, SourceOrigin[]> } {
  const config = { vars: {}, inventory: { hosts: {}, groups: {}, sources: [] }, defaults: {}, environments: {}, workflows: {}, server: {}, observability: {}, probeModules: {}, checks: [], rules: [] } as unknown as Config;
  const sourceOrigins: SourceOrigin[] = [];
  const listOrigins: Record<ListKey, SourceOrigin[]> = { checks: [], rules: [] };
  fragments.forEach((fragment, index) => {
    for (const { path, what } of mergedMaps) {
      const into = getIn(config, path) as Record<string, unknown>;
      // A section the fragment does not hold (loadAgentConfig validates two) merges as empty.
      for (const [name, value] of Object.entries((getIn(fragment, path) as Record<string, unknown> | undefined) ?? {})) {
        if (name in into) {
          const first = docs.findIndex((doc) => doc.depth([...path, name]) === path.length + 1);
          throw configError(
            "E_CONFIG_DUPLICATE",
            `${docs[index]!.where([...path, name], "key")}: ${what} "${name}" is already defined at ${docs[first]!.where([...path, name], "key")}`,
            `each ${what} is defined in one file only: rename one of them or delete one definition`,
          );
        }
        into[name] = value;
      }
    }
    (fragment.inventory?.sources ?? []).forEach((source, i) => {
      config.inventory.sources.push(source);
      sourceOrigins.push({ doc: index, path: ["inventory", "sources", i] });
    });
    for (const { key, what } of mergedLists) {
      (fragment[key] ?? []).forEach((entry, i) => {
        const first = listOrigins[key].find((origin) => (getIn(fragments[origin.doc], origin.path.map(String)) as { name: string }).name === entry.name);
        if (first) {
          throw configError(
            "E_CONFIG_DUPLICATE",
            `${docs[index]!.where([key, i, "name"])}: ${what} "${entry.name}" is already defined at ${docs[first.doc]!.where([...first.path, "name"])}`,
            `each ${what} name is used once: rename one of them or delete one definition`,
          );
        }
        (config[key] as unknown[]).push(entry);
        listOrigins[key].push({ doc: index, path: [key, i] });
      });
    }
    if (fragment.policy !== undefined) {
      if (config.policy !== undefined) {
        throw configError("E_CONFIG_DUPLICATE", `${docs[index]!.where(["policy"], "key")}: policy is already set in another file`, "set policy: in one file only");
      }
      config.policy = fragment.policy;
    }
    if (fragment.agent !== undefined) {
      if (config.agent !== undefined) {
        throw configError("E_CONFIG_DUPLICATE", `${docs[index]!.where(["agent"], "key")}: agent is already set in another file`, "set agent: in one file only");
      }
      config.agent = fragment.agent;
    }
    if (fragment.journal !== undefined) {
      if (config.journal !== undefined) {
        throw configError("E_CONFIG_DUPLICATE", `${docs[index]!.where(["journal"], "key")}: journal is already set in another file`, "set journal: in one file only");
      }
      config.journal = fragment.journal;
    }
  });
  return { config, sourceOrigins, listOrigins };
}

function getIn(value: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value);
}

/**
 * Applies environments.NAME: vars and defaults shallow-merged over the base,
 * inventory hosts and groups merged by name (an environment's entry replaces
 * the base one whole), inventory sources appended.
 */
function applyEnvironment(config: Config, name: string, file: string): { config: Config; addedSources: Config["inventory"]["sources"] } {
  const overlay = config.environments[name];
  if (!overlay) throw unknownEnvironment(name, Object.keys(config.environments), file);
  const inventory = overlay.inventory ?? {};
  const addedSources = inventory.sources ?? [];
  return {
    addedSources,
    config: {
      ...config,
      vars: { ...config.vars, ...overlay.vars },
      defaults: { ...config.defaults, ...overlay.defaults },
      inventory: {
        hosts: { ...config.inventory.hosts, ...inventory.hosts },
        groups: { ...config.inventory.groups, ...inventory.groups },
        sources: [...config.inventory.sources, ...addedSources],
      },
    },
  };
}

function unknownEnvironment(name: string, defined: readonly string[], file: string) {
  return usageError(
    "E_USAGE_ENV",
    `unknown environment "${name}"`,
    defined.length > 0 ? `use one of: ${defined.join(", ")}` : `${file} defines no environments; add environments: { ${name}: { vars: {...} } } or drop --env`,
  );
}

/**
 * Builds `where` for the merged config: a path is looked up in the file that
 * defines it (the one holding the most of it), after redirecting what the
 * environment overlay replaced and what merging renumbered (sources).
 */
function wherein(docs: YamlDocument[], sourceOrigins: SourceOrigin[], listOrigins: Record<ListKey, SourceOrigin[]>, overlay?: Config["environments"][string], env?: string): (path: ConfigPath) => string {
  const inEnv = (path: ConfigPath) => ["environments", env!, ...path];
  const redirect = (path: ConfigPath): { path: ConfigPath; doc?: number } => {
    const [top, second, third] = path;
    if ((top === "checks" || top === "rules") && typeof second === "number" && listOrigins[top][second]) {
      const origin = listOrigins[top][second];
      return { path: [...origin.path, ...path.slice(2)], doc: origin.doc };
    }
    if (top === "inventory" && second === "sources" && typeof third === "number" && sourceOrigins[third]) {
      const origin = sourceOrigins[third];
      return origin.doc >= 0 ? { path: [...origin.path, ...path.slice(3)], doc: origin.doc } : { path: [...origin.path, ...path.slice(3)] };
    }
    if (!overlay || second === undefined) return { path };
    if ((top === "vars" || top === "defaults") && overlay[top] && String(second) in overlay[top]) return { path: inEnv(path) };
    if (top === "inventory" && (second === "hosts" || second === "groups") && third !== undefined && String(third) in (overlay.inventory?.[second] ?? {})) {
      return { path: inEnv(path) };
    }
    return { path };
  };
  return (original) => {
    const { path, doc } = redirect(original);
    if (doc !== undefined) return docs[doc]!.where(path);
    let best = docs[0]!;
    for (const candidate of docs) if (candidate.depth(path) > best.depth(path)) best = candidate;
    return best.where(path);
  };
}
