// Actions: one typed unit of work per file (exec, ssh, script, copy, http,
// probe, wait, notify) behind one contract, and the registry that maps a
// step's action key to its implementation. Each action carries its part of
// the config schema: a new action is its file and a line here.
import { copyAction } from "./copy.ts";
import { etcdAction } from "./etcd.ts";
import { execAction } from "./exec.ts";
import { httpAction } from "./http.ts";
import { kubeAction } from "./kube.ts";
import { notifyAction } from "./notify.ts";
import { probeAction } from "./probe.ts";
import { promqlAction } from "./promql.ts";
import { scriptAction } from "./script.ts";
import { sshAction } from "./ssh.ts";
import { systemdAction } from "./systemd.ts";
import { terraformAction } from "./terraform.ts";
import type { Action, SpecOf } from "./types.ts";
import { waitAction } from "./wait.ts";

/** Every action a step can take, by its key in the step; the order is the one `opskit schema` and messages list them in. */
const registry = {
  exec: execAction,
  ssh: sshAction,
  script: scriptAction,
  copy: copyAction,
  http: httpAction,
  probe: probeAction,
  promql: promqlAction,
  wait: waitAction((): Readonly<Record<string, Action<any, any>>> => actions),
  notify: notifyAction,
  systemd: systemdAction,
  kube: kubeAction,
  etcd: etcdAction,
  terraform: terraformAction,
};

export type ActionKind = keyof typeof registry;
export const actions: Readonly<Record<ActionKind, Action<any, any>>> = registry;

type Specs = { [K in ActionKind]: SpecOf<(typeof registry)[K]["schema"]> };
/** Each action's spec as a step holds it; a wait's names the polled action's spec under its key (the schema admits the pollable ones). */
export type ActionSpecs = Omit<Specs, "wait"> & { wait: Specs["wait"] & Partial<Omit<Specs, "wait">> };

export { spawnLocal, type LocalRun } from "./local.ts";
export { promqlTargetOf, promqlTargetSchema, type PromqlTargetSpec } from "./promql.ts";
export { BASE_ENVIRONMENT, commandEnvironment, type EnvironmentBase } from "./environment.ts";
export { resultScope, resultVariables, scopeVariables } from "./variables.ts";
export type { Action, ActionContext, ActionPreview, ActionResult, ActionSchema, ApprovalRequest, ActionTarget, CommandOutput, CompileContext, PermissionSubject, SubjectContext, RemoteHost, Renderer, RunOptions, SpecOf } from "./types.ts";
