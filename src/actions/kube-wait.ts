import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { ExitCode, OpsError } from "../errors.ts";
import type { Expression } from "../expr/index.ts";
import { sleep } from "../time/index.ts";
import { KubeStatusError, pathOf } from "../transport/kube/index.ts";
import type { KubeRendered } from "./kube.ts";
import { ok, resultObject, statusFailure, type KubeObject, type Place } from "./kube-objects.ts";
import type { ActionContext, ActionResult } from "./types.ts";

/*
 * Waiting on an object until a condition holds: read it, then watch it
 * (?watch=true&fieldSelector=metadata.name=NAME from the resourceVersion
 * read), judging every version the server sends; read it again when a watch
 * ends, and poll every `interval` when the server cannot watch. The deadline
 * is the step's (or kube.timeout).
 */

type Verdict = { done: true } | { done: false; why: string; failed?: boolean };

/** A field selector's value escaped as the apiserver reads it (fields.EscapeValue): \ , and = would end or split the term. */
export function escapeFieldValue(value: string): string {
  return value.replace(/[\\,=]/g, (char) => `\\${char}`);
}

/**
 * Whether a rollout is complete, as `kubectl rollout status` judges it; its
 * status fields are omitted by the server when zero, so absent reads as 0.
 */
export function rolloutState(object: KubeObject): Verdict {
  const generation = object.metadata?.generation ?? 0;
  const status = (object.status ?? {}) as Record<string, unknown>;
  const observed = Number(status.observedGeneration ?? 0);
  if (observed < generation) return { done: false, why: `generation ${generation} not yet observed (observedGeneration ${observed})` };
  const count = (value: unknown) => Number(value ?? 0);
  if (object.kind === "Deployment") {
    const deployment = object as IDeployment;
    const progressing = deployment.status?.conditions?.find((c) => c.type === "Progressing");
    if (progressing?.reason === "ProgressDeadlineExceeded") return { done: false, failed: true, why: `rollout exceeded its progress deadline: ${progressing.message ?? ""}`.trim() };
    const desired = deployment.spec?.replicas ?? 1;
    const updated = count(deployment.status?.updatedReplicas);
    if (updated < desired) return { done: false, why: `${updated} of ${desired} replicas updated` };
    const replicas = count(deployment.status?.replicas);
    if (replicas > updated) return { done: false, why: `${replicas - updated} old replicas pending termination` };
    const available = count(deployment.status?.availableReplicas);
    if (available < updated) return { done: false, why: `${available} of ${updated} updated replicas available` };
    return { done: true };
  }
  if (object.kind === "StatefulSet") {
    const set = object as IStatefulSet;
    const desired = set.spec?.replicas ?? 1;
    const ready = count(set.status?.readyReplicas);
    if (ready < desired) return { done: false, why: `${ready} of ${desired} pods ready` };
    const partition = set.spec?.updateStrategy?.rollingUpdate?.partition;
    if (partition !== undefined && partition > 0) {
      const updated = count(set.status?.updatedReplicas);
      return updated < desired - partition ? { done: false, why: `${updated} of ${desired - partition} pods updated (partition ${partition})` } : { done: true };
    }
    if (set.status?.updateRevision !== set.status?.currentRevision) return { done: false, why: `${count(set.status?.updatedReplicas)} of ${desired} pods at revision ${set.status?.updateRevision ?? "?"}` };
    return { done: true };
  }
  if (object.kind === "DaemonSet") {
    const set = object as IDaemonSet;
    const desired = count(set.status?.desiredNumberScheduled);
    const updated = count(set.status?.updatedNumberScheduled);
    if (updated < desired) return { done: false, why: `${updated} of ${desired} pods updated` };
    const available = count(set.status?.numberAvailable);
    if (available < desired) return { done: false, why: `${available} of ${desired} updated pods available` };
    return { done: true };
  }
  throw new OpsError({ code: "E_KUBE_ROLLOUT", message: `rolloutComplete judges deployments, statefulsets and daemonsets, not ${object.kind ?? "this object"}`, hint: "write wait.until: a CEL condition over object", exitCode: ExitCode.check });
}

/** JSON as CEL reads it: whole numbers are ints, as `object.spec.replicas == 3` expects. */
function celJson(value: unknown): unknown {
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(celJson);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, celJson(inner)]));
  return value;
}

function judge(object: KubeObject, wait: NonNullable<KubeRendered["wait"]>): Verdict {
  if (wait.rolloutComplete) return rolloutState(object);
  const until = wait.until as Expression;
  const verdict = until.evaluate({ ...wait.scope, object: celJson(object) });
  if (verdict.ok && verdict.value === true) return { done: true };
  return { done: false, why: verdict.ok ? `${until.source} was ${String(verdict.value)}` : verdict.error };
}

/** One wait's progress: the object last seen, why it is not there yet, and how it was read. */
class Progress {
  last: KubeObject | undefined;
  why = "not read yet";
  reads = 0;
  events = 0;

  constructor(private readonly wait: NonNullable<KubeRendered["wait"]>) {}

  /** Judges a version of the object (undefined: it does not exist); a verdict that ends the wait, else undefined. */
  consider(object: KubeObject | undefined): Verdict | undefined {
    this.last = object;
    if (!object) {
      this.why = "the object does not exist";
      return undefined;
    }
    const verdict = judge(object, this.wait);
    if (!verdict.done) this.why = verdict.why;
    return verdict.done || verdict.failed ? verdict : undefined;
  }
}

/**
 * Watches the object from the version last read until a verdict ends the
 * wait or the watch ends; throws KubeStatusError when the server cannot
 * watch.
 */
async function watchOnce(place: Place, progress: Progress, remaining: () => number, signal: AbortSignal): Promise<Verdict | undefined> {
  let result: Verdict | undefined;
  const query: Record<string, string> = {
    fieldSelector: `metadata.name=${escapeFieldValue(place.name)}`,
    timeoutSeconds: String(Math.max(1, Math.ceil(remaining() / 1000))),
    ...(progress.last?.metadata?.resourceVersion ? { resourceVersion: progress.last.metadata.resourceVersion } : {}),
  };
  await place.client.watch(
    pathOf(place.resource, { namespace: place.namespace }),
    query,
    (event) => {
      progress.events++;
      if (event.type === "ERROR") return true; // an expired resourceVersion (410): read again
      if (event.type === "BOOKMARK") return false;
      result = progress.consider(event.type === "DELETED" ? undefined : (event.object as KubeObject));
      return result !== undefined;
    },
    { timeoutMs: remaining(), signal },
  );
  return result;
}

function waitResult(place: Place, progress: Progress, verdict: Verdict | undefined, context: ActionContext, startedAt: number): ActionResult {
  const data = { verb: "wait", context: place.client.context.name, namespace: place.namespace, object: resultObject(progress.last ?? null), reads: progress.reads, events: progress.events };
  const durationMs = performance.now() - startedAt;
  if (verdict?.done) return { ok: true, changed: false, exitCode: null, stdout: `${place.shown}: condition met\n`, stderr: "", durationMs, data };
  const error = context.signal.aborted
    ? new OpsError({ code: "E_INTERRUPTED", message: "interrupted", exitCode: ExitCode.interrupted })
    : verdict?.failed
      ? new OpsError({ code: "E_KUBE_ROLLOUT_FAILED", message: `wait ${place.shown}: ${progress.why}`, hint: "the rollout will not finish by itself: look at the new pods (kubectl describe), then fix or roll back", exitCode: ExitCode.check })
      : new OpsError({ code: "E_KUBE_WAIT_TIMEOUT", message: `wait ${place.shown}: not met after ${Math.round(durationMs / 100) / 10}s: ${progress.why}`, hint: "raise kube.timeout (or the step's timeout), or check the condition against kubectl get -o yaml", exitCode: ExitCode.check });
  return { ok: false, changed: false, exitCode: null, stdout: "", stderr: "", durationMs, error: error.toJSON(), data };
}

export async function waitForObject(place: Place, wait: NonNullable<KubeRendered["wait"]>, deadline: number, context: ActionContext, startedAt: number): Promise<ActionResult> {
  const remaining = () => Math.max(1, deadline - performance.now());
  const progress = new Progress(wait);
  let canWatch = true;
  while (!context.signal.aborted && performance.now() < deadline) {
    progress.reads++;
    const { status, body } = await place.client.request<KubeObject>({ method: "GET", path: place.path, timeoutMs: remaining(), signal: context.signal });
    if (!ok(status) && status !== 404) throw statusFailure(status, body, "wait", place.shown);
    const settled = progress.consider(status === 404 ? undefined : body);
    if (settled) return waitResult(place, progress, settled, context, startedAt);
    if (canWatch && performance.now() < deadline) {
      const watchedFrom = performance.now();
      try {
        const verdict = await watchOnce(place, progress, remaining, context.signal);
        if (verdict) return waitResult(place, progress, verdict, context, startedAt);
      } catch (error) {
        // A server (or a proxy) that cannot watch: poll instead.
        if (!(error instanceof KubeStatusError)) throw error;
        canWatch = false;
      }
      // A watch the server ended at once is not watched again without a pause.
      if (performance.now() - watchedFrom >= wait.intervalMs) continue;
    }
    const pause = Math.min(wait.intervalMs, deadline - performance.now());
    if (pause > 0) await sleep(pause, context.signal);
  }
  return waitResult(place, progress, undefined, context, startedAt);
}
