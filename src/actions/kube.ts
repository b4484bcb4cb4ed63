import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { SchemaKit } from "../schema/index.ts";
import { ExitCode, OpsError } from "../errors.ts";
import { compileExpression, type Expression } from "../expr/index.ts";
import { parseDuration } from "../time/index.ts";
import { pathSegment } from "../transport/kube/index.ts";
import { failedResult } from "./errors.ts";
import { compileRecord, compileText } from "./render.ts";
import type { Action, ActionContext, ActionResult, PermissionSubject, Renderer, SpecOf } from "./types.ts";
import { scopeVariables } from "./variables.ts";

/*
 * The Kubernetes API as a step: restart, scale, patch, apply (server-side),
 * delete, get and wait, on the step's target's context (a kubeconfig
 * inventory source's target) or a kubeconfig the step names. Object
 * references are written as kubectl takes them (deployment/api, deploy/api,
 * deployments.apps/api), rendered from templates, and travel only as
 * encoded path segments; what each verb sends is what kubectl sends for it.
 * The client and the verbs load on first run (kube-operations.ts).
 */

export const KUBE_VERBS = ["restart", "scale", "patch", "apply", "delete", "get", "wait"] as const;
export type KubeVerb = (typeof KUBE_VERBS)[number];

const schema = (kit: SchemaKit) => {
  const { z, duration, exactlyOneOf } = kit;
  const ref = z.string().min(1);
  return exactlyOneOf(
    z
      .object({
        restart: ref.optional().describe("TYPE/NAME of a deployment, statefulset or daemonset: what kubectl rollout restart does (its pod template's restartedAt annotation)"),
        scale: z.record(z.string(), z.union([z.number().int().min(0), z.string()])).optional().describe("{ TYPE/NAME: REPLICAS } through the scale subresource, e.g. { deployment/api: 5 }"),
        patch: z
          .object({
            object: ref.describe("TYPE/NAME"),
            type: z.enum(["strategic", "merge", "json"]).default("strategic").describe("strategic merge (kubectl's default), JSON merge (RFC 7386) or JSON patch (RFC 6902)"),
            body: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]).describe("the patch: a map (strategic, merge) or a list of operations (json); strings are templates"),
          })
          .strict()
          .optional(),
        apply: z
          .object({
            object: z.record(z.string(), z.unknown()).optional().describe("the manifest inline (apiVersion, kind, metadata.name, ...); strings are templates"),
            file: z.string().optional().describe("a YAML or JSON manifest of one object, relative to the config"),
            force: z.boolean().default(false).describe("take over fields another field manager owns (server-side apply's force)"),
          })
          .strict()
          .refine((apply) => (apply.object === undefined) !== (apply.file === undefined), "apply takes one of object or file")
          .optional()
          .describe("server-side apply with field manager opskit"),
        delete: ref.optional().describe("TYPE/NAME"),
        get: ref.optional().describe("TYPE/NAME: the object becomes the step's data.object"),
        wait: z
          .object({
            object: ref.describe("TYPE/NAME"),
            until: z.string().min(1).optional().describe("CEL over object (and vars, target, steps), e.g. object.status.readyReplicas == 3"),
            rolloutComplete: z.boolean().optional().describe("until its rollout is complete, as kubectl rollout status judges it (deployments, statefulsets, daemonsets)"),
            interval: duration.default("2s").describe("between reads when the server cannot watch"),
          })
          .strict()
          .refine((wait) => (wait.until !== undefined) !== (wait.rolloutComplete === true), "wait takes one of until or rolloutComplete: true")
          .optional(),
        ignoreNotFound: z.boolean().default(false).describe("delete: an object already gone is success"),
        namespace: z.string().min(1).optional().describe("default: the context's namespace, else default"),
        timeout: duration.optional().describe("the whole operation's deadline (a wait's too); default: the step's timeout"),
        kubeconfig: z.string().min(1).optional().describe("a kubeconfig (relative to the config) instead of the target's; default $KUBECONFIG, else ~/.kube/config"),
        context: z.string().min(1).optional().describe("a context of that kubeconfig instead of the target's (default its current-context)"),
      })
      .strict(),
    KUBE_VERBS,
    "kube takes",
  );
};
type KubeSpec = SpecOf<typeof schema>;

/** TYPE/NAME as written: the type is matched against the server's discovery, the name becomes one encoded path segment. */
export interface ObjectRef {
  type: string;
  name: string;
}

export interface KubeRendered {
  verb: KubeVerb;
  /** restart, scale, patch, delete, get, wait. */
  object?: ObjectRef;
  replicas?: number;
  patch?: { type: "strategic" | "merge" | "json"; body: unknown };
  /** apply's manifest. */
  manifest?: Record<string, unknown>;
  force: boolean;
  ignoreNotFound: boolean;
  wait?: { until?: Expression; rolloutComplete: boolean; intervalMs: number; scope: Record<string, unknown> };
  /** As the step (or the target's context) names it; else resolved from the context at run time. */
  namespace?: string;
  timeoutMs?: number;
  /** The kubeconfig (absolute, or a KUBECONFIG-style list) and context; undefined: $KUBECONFIG or ~/.kube/config, its current-context. */
  kubeconfig?: string;
  context?: string;
}

const specError = (message: string, hint: string) => new OpsError({ code: "E_KUBE_SPEC", message, hint, exitCode: ExitCode.check });

/** The request path's own check (pathSegment), made when the step renders: a name that cannot be one never reaches a request. */
function checkSegment(value: string, what: string, where: string): string {
  try {
    pathSegment(value, what);
  } catch (error) {
    const { code, message, hint } = error as OpsError;
    throw new OpsError({ code, message: `${where}: ${message}`, ...(hint ? { hint } : {}), exitCode: ExitCode.check });
  }
  return value;
}

async function compileRef(text: string, field: string, context: Parameters<Action["compile"]>[1]): Promise<Renderer<ObjectRef>> {
  const render = await compileText(text, field, "raw", context);
  const where = `${context.where}.${field}`;
  return (variables) => {
    const rendered = render(variables);
    const slash = rendered.indexOf("/");
    if (slash <= 0) throw specError(`${where}: ${JSON.stringify(rendered.slice(0, 80))} is not TYPE/NAME`, "write the object as kubectl takes it, e.g. deployment/api or statefulsets.apps/db");
    return { type: rendered.slice(0, slash), name: checkSegment(rendered.slice(slash + 1), "name", where) };
  };
}

/** A value of any shape whose strings are templates (a patch body, a manifest). */
async function compileData(value: unknown, field: string, context: Parameters<Action["compile"]>[1]): Promise<Renderer<unknown>> {
  const render = await compileRecord({ value }, field, "raw", context);
  return (variables) => render(variables).value;
}

async function compileReplicas(value: number | string, field: string, context: Parameters<Action["compile"]>[1]): Promise<Renderer<number>> {
  if (typeof value === "number") return () => value;
  const render = await compileText(value, field, "raw", context);
  return (variables) => {
    const text = render(variables).trim();
    const replicas = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(replicas)) throw specError(`${context.where}.${field}: ${JSON.stringify(text.slice(0, 40))} is not a number of replicas`, "replicas are a whole number, 0 or more");
    return replicas;
  };
}

/** A manifest file of one object, read when the workflow compiles. */
async function readManifest(file: string, baseDir: string, where: string): Promise<Record<string, unknown>> {
  const path = isAbsolute(file) ? file : join(baseDir, file);
  let text: string;
  try {
    text = await Bun.file(path).text();
  } catch (error) {
    throw new OpsError({ code: "E_KUBE_MANIFEST", message: `${where}: cannot read ${path}: ${(error as Error).message}`, hint: "the path is relative to the config's directory", exitCode: ExitCode.config });
  }
  const { parseAllDocuments } = await import("yaml");
  const docs = parseAllDocuments(text).filter((doc) => doc.contents !== null);
  const failed = docs.find((doc) => doc.errors.length > 0);
  if (failed) throw new OpsError({ code: "E_KUBE_MANIFEST", message: `${where}: ${path}: ${failed.errors[0]!.message.split("\n")[0]}`, hint: "fix the manifest's YAML", exitCode: ExitCode.config });
  const value = docs.length === 1 ? docs[0]!.toJS() : undefined;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new OpsError({ code: "E_KUBE_MANIFEST", message: `${where}: ${path} holds ${docs.length} documents`, hint: "apply one object per step: split the file, or write one step per object", exitCode: ExitCode.config });
  }
  return value as Record<string, unknown>;
}

const expandHome = (path: string, baseDir: string) => {
  const expanded = path.replace(/^~(?=\/|$)/, process.env.HOME || homedir());
  return isAbsolute(expanded) ? expanded : join(baseDir, expanded);
};

/** The part of the step scope's target that names its context. */
function targetKube(variables: Record<string, unknown>): { kubeconfig: string; context: string; namespace?: string } | undefined {
  const target = variables.target as { kube?: { kubeconfig: string; context: string; namespace?: string } } | undefined;
  return target?.kube;
}

function describeKube(rendered: KubeRendered): string {
  const what = rendered.object ? `${rendered.object.type}/${rendered.object.name}` : manifestName(rendered.manifest);
  const detail =
    rendered.verb === "scale"
      ? ` --replicas=${rendered.replicas}`
      : rendered.verb === "patch"
        ? ` (${rendered.patch!.type})`
        : rendered.verb === "wait"
          ? ` until ${rendered.wait!.rolloutComplete ? "rolloutComplete" : rendered.wait!.until!.source}`
          : rendered.verb === "apply" && rendered.force
            ? " --force-conflicts"
            : "";
  return `kube ${rendered.verb} ${what}${detail}${rendered.namespace ? ` -n ${rendered.namespace}` : ""}${rendered.context ? ` @${rendered.context}` : ""}`;
}

export function manifestName(manifest: Record<string, unknown> | undefined): string {
  const kind = typeof manifest?.kind === "string" ? manifest.kind.toLowerCase() : "?";
  const metadata = manifest?.metadata as { name?: unknown } | undefined;
  return `${kind}/${typeof metadata?.name === "string" ? metadata.name : "?"}`;
}

type CompileContext = Parameters<Action["compile"]>[1];
type Operation = Pick<KubeRendered, "object" | "replicas" | "patch" | "manifest" | "wait">;

/** The verb's own part of the step: its object, and its replicas, patch, manifest or condition. */
async function compileOperation(spec: KubeSpec, verb: KubeVerb, context: CompileContext): Promise<Renderer<Operation>> {
  const at = (field: string) => `kube.${field}`;
  if (verb === "scale") {
    const entries = Object.entries(spec.scale!);
    if (entries.length !== 1) throw specError(`${context.where}.kube.scale: names ${entries.length} objects`, "scale one object per step: { deployment/api: 5 }");
    const [ref, count] = entries[0]!;
    const object = await compileRef(ref, at("scale"), context);
    const replicas = await compileReplicas(count, at(`scale.${ref}`), context);
    return (variables) => ({ object: object(variables), replicas: replicas(variables) });
  }
  if (verb === "patch") {
    const { type = "strategic", body: value } = spec.patch!;
    if (type === "json" ? !Array.isArray(value) : Array.isArray(value)) {
      throw specError(`${context.where}.kube.patch.body: a ${type} patch is ${type === "json" ? "a list of operations" : "a map"}`, "json patches are lists of { op, path, value }; strategic and merge patches are maps");
    }
    const object = await compileRef(spec.patch!.object, at("patch.object"), context);
    const body = await compileData(value, at("patch.body"), context);
    return (variables) => ({ object: object(variables), patch: { type, body: body(variables) } });
  }
  if (verb === "apply") {
    const value = spec.apply!.object ?? (await readManifest(spec.apply!.file!, context.baseDir, `${context.where}.kube.apply.file`));
    const manifest = await compileData(value, at("apply.object"), context);
    return (variables) => ({ manifest: manifest(variables) as Record<string, unknown> });
  }
  if (verb === "wait") {
    const wait = spec.wait!;
    const object = await compileRef(wait.object, at("wait.object"), context);
    const until = wait.until ? await compileExpression(wait.until, `${context.where}.kube.wait.until`, [...scopeVariables, "object"]) : undefined;
    const intervalMs = parseDuration(wait.interval ?? "2s", `${context.where}.kube.wait.interval`);
    return (variables) => ({ object: object(variables), wait: { ...(until ? { until } : {}), rolloutComplete: wait.rolloutComplete === true, intervalMs, scope: variables } });
  }
  const object = await compileRef(spec[verb] as string, at(verb), context);
  return (variables) => ({ object: object(variables) });
}

type Connection = Pick<KubeRendered, "kubeconfig" | "context" | "namespace">;

/**
 * Where the step acts: its own kubeconfig or context, else its target's
 * context (and that context's namespace); on a target without one and a step
 * that names neither, kubectl's default ($KUBECONFIG, ~/.kube/config).
 */
async function compileConnection(spec: KubeSpec, context: CompileContext): Promise<Renderer<Connection>> {
  const namespace = spec.namespace ? await compileText(spec.namespace, "kube.namespace", "raw", context) : undefined;
  const contextName = spec.context ? await compileText(spec.context, "kube.context", "raw", context) : undefined;
  const kubeconfig = spec.kubeconfig ? expandHome(spec.kubeconfig, context.baseDir) : undefined;
  return (variables) => {
    const own = targetKube(variables);
    const useTarget = own && !kubeconfig;
    const chosen = contextName?.(variables) ?? (useTarget ? own.context : undefined);
    const ns = namespace ? checkSegment(namespace(variables), "namespace", `${context.where}.kube.namespace`) : useTarget && chosen === own.context ? own.namespace : undefined;
    return {
      ...(kubeconfig ? { kubeconfig } : useTarget ? { kubeconfig: own.kubeconfig } : {}),
      ...(chosen ? { context: chosen } : {}),
      ...(ns ? { namespace: ns } : {}),
    };
  };
}

export const kubeAction: Action<KubeSpec, KubeRendered> = {
  kind: "kube",
  schema,
  async compile(spec, context) {
    const verb = KUBE_VERBS.find((v) => spec[v] !== undefined)!;
    const operation = await compileOperation(spec, verb, context);
    const connection = await compileConnection(spec, context);
    const timeoutMs = spec.timeout ? parseDuration(spec.timeout, `${context.where}.kube.timeout`) : undefined;
    return (variables): KubeRendered => ({
      verb,
      ...operation(variables),
      force: spec.apply?.force ?? false,
      ignoreNotFound: spec.ignoreNotFound ?? false,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...connection(variables),
    });
  },
  describe: describeKube,
  // VERB TYPE/NAME and VERB NAMESPACE/TYPE/NAME, the type in every spelling the server knows it by (discovery).
  async subjects(rendered) {
    const { kubeSubjects } = await import("./kube-operations.ts");
    return kubeSubjects(rendered) satisfies Promise<PermissionSubject[]>;
  },
  async run(rendered, context: ActionContext): Promise<ActionResult> {
    const startedAt = performance.now();
    try {
      const { runKube } = await import("./kube-operations.ts");
      return await runKube(rendered, context);
    } catch (error) {
      const unreachable = error instanceof OpsError && ["E_KUBE_CONNECT", "E_KUBE_TLS"].includes(error.code);
      return failedResult(error, startedAt, unreachable);
    }
  },
};
