import { readYamlDocument, type ConfigPath } from "../schema/index.ts";
import { describeError } from "../errors.ts";
import type { SourceFile } from "./types.ts";

/*
 * An opskit config read for the audit: the plain YAML value (not validated,
 * so that a config with one mistake is still audited) with the line and
 * column of every key, and the steps of its workflows.
 */

export interface WorkflowFile {
  value: Record<string, unknown>;
  /** 1-based line and column of the node at a path (its key with at: "key"). */
  position(path: ConfigPath, at?: "key" | "value"): { line: number; column: number };
}

export type Parsed = { ok: true; file: WorkflowFile } | { ok: false; line: number; column: number; message: string };

const cache = new WeakMap<SourceFile, Parsed>();

/** Parses once per file: the workflow rules and the policy rules read the same document. */
export function readWorkflowFile(source: SourceFile): Parsed {
  const cached = cache.get(source);
  if (cached) return cached;
  let parsed: Parsed;
  try {
    const doc = readYamlDocument(source.text, "");
    const value = doc.value !== null && typeof doc.value === "object" && !Array.isArray(doc.value) ? (doc.value as Record<string, unknown>) : {};
    parsed = {
      ok: true,
      file: {
        value,
        position: (path, at = "value") => {
          const [, line, column] = /:(\d+):(\d+)$/.exec(doc.where(path, at)) ?? [];
          return { line: Number(line ?? 1), column: Number(column ?? 1) };
        },
      },
    };
  } catch (error) {
    const message = describeError(error).split("\n")[0]!;
    const [, line, column, rest] = /^:(\d+):(\d+): (.*)$/.exec(message) ?? [];
    parsed = { ok: false, line: Number(line ?? 1), column: Number(column ?? 1), message: rest ?? message };
  }
  cache.set(source, parsed);
  return parsed;
}

export type Step = Record<string, unknown>;

export interface StepAt {
  step: Step;
  path: ConfigPath;
  /** "deploy.steps[2]", "deploy.hooks.rollback[0]"; with the step's name when it has one. */
  label: string;
}

const hookNames = ["pre", "post", "on_failure", "rollback"] as const;

export function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The workflows of a config: name, value and path. */
export function workflowsOf(file: WorkflowFile): { name: string; workflow: Record<string, unknown>; path: ConfigPath }[] {
  const workflows = file.value.workflows;
  if (!isMap(workflows)) return [];
  return Object.entries(workflows)
    .filter((entry): entry is [string, Record<string, unknown>] => isMap(entry[1]))
    .map(([name, workflow]) => ({ name, workflow, path: ["workflows", name] }));
}

/** Every step of a workflow: steps, then each hook's. */
export function stepsOf(name: string, workflow: Record<string, unknown>): StepAt[] {
  const found: StepAt[] = [];
  const add = (list: unknown, path: ConfigPath, where: string) => {
    if (!Array.isArray(list)) return;
    list.forEach((step, i) => {
      if (!isMap(step)) return;
      const named = typeof step.name === "string" ? ` (${step.name})` : "";
      found.push({ step, path: [...path, i], label: `${name}.${where}[${i}]${named}` });
    });
  };
  add(workflow.steps, ["workflows", name, "steps"], "steps");
  const hooks = workflow.hooks;
  if (isMap(hooks)) for (const hook of hookNames) add(hooks[hook], ["workflows", name, "hooks", hook], `hooks.${hook}`);
  return found;
}

/** The command a step runs (ssh, exec, script, or what a wait polls), with the path of its value. */
export function commandOf(step: Step, path: ConfigPath): { command: string; path: ConfigPath } | undefined {
  for (const kind of ["ssh", "exec"] as const) {
    const action = step[kind];
    if (typeof action === "string") return { command: action, path: [...path, kind] };
    if (isMap(action) && typeof action.command === "string") return { command: action.command, path: [...path, kind, "command"] };
  }
  const script = step.script;
  if (typeof script === "string") return { command: script, path: [...path, "script"] };
  if (isMap(script) && typeof script.path === "string") {
    const args = Array.isArray(script.args) ? script.args.map(String) : [];
    return { command: [script.path, ...args].join(" "), path: [...path, "script", "path"] };
  }
  const wait = step.wait;
  if (isMap(wait)) return commandOf(wait, [...path, "wait"]);
  return undefined;
}

/** The URLs a step requests (http, probe, notify, or what a wait polls). */
export function urlsOf(step: Step, path: ConfigPath): { url: string; path: ConfigPath }[] {
  const found: { url: string; path: ConfigPath }[] = [];
  for (const kind of ["http", "probe", "notify"] as const) {
    const action = step[kind];
    if (typeof action === "string") found.push({ url: action, path: [...path, kind] });
    else if (isMap(action) && typeof action.url === "string") found.push({ url: action.url, path: [...path, kind, "url"] });
  }
  const wait = step.wait;
  if (isMap(wait)) found.push(...urlsOf(wait, [...path, "wait"]));
  return found;
}

/** A kube step as the audit reads it: its verb and what it names, unrendered. */
export interface KubeStepAt {
  verb: string;
  /** TYPE/NAME as written (templates kept); an apply's from its inline object, else a glob for any object. */
  ref: string;
  namespace?: string;
  path: ConfigPath;
}

const kubeVerbs = ["restart", "scale", "patch", "apply", "delete", "get", "wait"] as const;

/** The Kubernetes operation a step does, if it is a kube step. */
export function kubeOf(step: Step, path: ConfigPath): KubeStepAt | undefined {
  const kube = step.kube;
  if (!isMap(kube)) return undefined;
  const verb = kubeVerbs.find((v) => kube[v] !== undefined);
  if (!verb) return undefined;
  const value = kube[verb];
  const namespace = typeof kube.namespace === "string" ? { namespace: kube.namespace } : {};
  let ref: string | undefined;
  if (typeof value === "string") ref = value;
  else if (verb === "scale" && isMap(value)) ref = Object.keys(value)[0];
  else if ((verb === "patch" || verb === "wait") && isMap(value) && typeof value.object === "string") ref = value.object;
  else if (verb === "apply" && isMap(value)) {
    const object = value.object;
    const metadata = isMap(object) && isMap(object.metadata) ? object.metadata : undefined;
    ref = isMap(object) && typeof object.kind === "string" && typeof metadata?.name === "string" ? `${object.kind.toLowerCase()}/${metadata.name}` : "*/*";
    if (typeof metadata?.namespace === "string") return { verb, ref, namespace: metadata.namespace, path: [...path, "kube", verb] };
  }
  return ref === undefined ? undefined : { verb, ref, ...namespace, path: [...path, "kube", verb] };
}
