// Actions: one typed unit of work per file (exec, ssh, script, copy, http,
// probe, wait, notify) behind one contract, and the registry that maps a
// step's action key to its implementation.
import type { ActionKind } from "../config/index.ts";
import { copyAction } from "./copy.ts";
import { execAction } from "./exec.ts";
import { httpAction } from "./http.ts";
import { notifyAction } from "./notify.ts";
import { probeAction } from "./probe.ts";
import { scriptAction } from "./script.ts";
import { sshAction } from "./ssh.ts";
import type { Action } from "./types.ts";
import { waitAction } from "./wait.ts";

export const actions: Record<ActionKind, Action<any, any>> = {
  exec: execAction,
  ssh: sshAction,
  script: scriptAction,
  copy: copyAction,
  http: httpAction,
  probe: probeAction,
  wait: waitAction,
  notify: notifyAction,
};

/** Actions that need a connection to the target; the others run from this machine. */
export const remoteActions: ReadonlySet<ActionKind> = new Set(["ssh", "script", "copy"]);

export { spawnLocal, type LocalRun } from "./local.ts";
export { BASE_ENVIRONMENT, commandEnvironment, type EnvironmentBase } from "./environment.ts";
export { resultScope, resultVariables, scopeVariables } from "./variables.ts";
export type { Action, ActionContext, ActionResult, ActionTarget, CommandOutput, CompileContext, RemoteHost, Renderer, RunOptions } from "./types.ts";
