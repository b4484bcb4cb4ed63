/**
 * The Deployment controller's part that clients observe: a rolling update
 * that replaces pods one step at a time (maxSurge and maxUnavailable
 * respected), written to status as the real controller writes it
 * (observedGeneration, replicas, updatedReplicas, readyReplicas,
 * availableReplicas, unavailableReplicas, conditions Available and
 * Progressing). Pods are counted, not stored.
 */
import { createHash } from "node:crypto";
import { deepEqual, isObject } from "./patch.ts";

interface Pod {
  hash: string;
  ready: boolean;
}

interface RolloutState {
  pods: Pod[];
  /** New pods never become ready (an image that does not pull, a crashing container). */
  stalled: boolean;
  lastProgressMs: number;
  replicaSets: Set<string>;
}

type Deployment = any;

const timestamp = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  return JSON.stringify(v);
}

export const templateHash = (d: Deployment) => createHash("sha256").update(canonical(d.spec?.template ?? {})).digest("hex").slice(0, 10);

/** maxSurge rounds up and maxUnavailable down, both against spec.replicas; both 0 means one unavailable. */
function fenceposts(d: Deployment, desired: number): { surge: number; unavailable: number } {
  const resolve = (v: unknown, fallback: string, round: (x: number) => number) => {
    const value = v ?? fallback;
    if (typeof value === "number") return value;
    const m = String(value).match(/^(\d+)%$/);
    return m ? round((Number(m[1]) * desired) / 100) : Number(value) || 0;
  };
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  const surge = resolve(ru.maxSurge, "25%", Math.ceil);
  const unavailable = resolve(ru.maxUnavailable, "25%", Math.floor);
  return surge === 0 && unavailable === 0 ? { surge, unavailable: 1 } : { surge, unavailable };
}

export class DeploymentController {
  private readonly states = new Map<string, RolloutState>();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly stepMs: number,
    private readonly read: (namespace: string, name: string) => Deployment | undefined,
    private readonly list: () => Deployment[],
    private readonly writeStatus: (namespace: string, name: string, status: any) => void,
  ) {
    this.timer = setInterval(() => this.tick(), stepMs);
  }

  stop() {
    clearInterval(this.timer);
  }

  private key = (namespace: string, name: string) => `${namespace}/${name}`;

  private state(d: Deployment): RolloutState {
    const key = this.key(d.metadata.namespace, d.metadata.name);
    let s = this.states.get(key);
    if (!s) this.states.set(key, (s = { pods: [], stalled: false, lastProgressMs: Date.now(), replicaSets: new Set() }));
    return s;
  }

  /**
   * A Deployment stored without going through the API (seeded): its status,
   * if any, says how many pods run; without one it is already rolled out.
   */
  adopt(d: Deployment) {
    const s = this.state(d);
    const hash = templateHash(d);
    s.replicaSets.add(hash);
    const st = d.status;
    if (!isObject(st)) {
      s.pods = Array.from({ length: d.spec?.replicas ?? 1 }, () => ({ hash, ready: true }));
      this.reconcile(d.metadata.namespace, d.metadata.name, false);
      return;
    }
    const updated = Number(st.updatedReplicas ?? 0);
    const total = Math.max(Number(st.replicas ?? 0), updated);
    const ready = Number(st.readyReplicas ?? 0);
    s.pods = Array.from({ length: total }, (_, i) => ({ hash: i < updated ? hash : "seeded-old", ready: i >= updated ? i - updated < ready : i < ready }));
  }

  /** Called after every change to a Deployment's object; the controller notices at once, as the real one does. */
  changed(namespace: string, name: string) {
    setTimeout(() => this.reconcile(namespace, name, false), 0);
  }

  forget(namespace: string, name: string) {
    this.states.delete(this.key(namespace, name));
  }

  setStalled(namespace: string, name: string, stalled: boolean) {
    const d = this.read(namespace, name);
    if (!d) throw new Error(`no deployment ${namespace}/${name}`);
    this.state(d).stalled = stalled;
    if (!stalled) this.state(d).lastProgressMs = Date.now();
  }

  private tick() {
    for (const d of this.list()) this.reconcile(d.metadata.namespace, d.metadata.name, true);
  }

  /** One controller pass: at most one pod step when `step`, then status written if it changed. */
  private reconcile(namespace: string, name: string, step: boolean) {
    const d = this.read(namespace, name);
    if (!d) return;
    const s = this.state(d);
    const hash = templateHash(d);
    const newSet = !s.replicaSets.has(hash);
    s.replicaSets.add(hash);
    if (newSet) s.lastProgressMs = Date.now();
    const desired = d.spec?.replicas ?? 1;
    if (step && !d.spec?.paused && this.stepOnce(d, s, hash, desired)) s.lastProgressMs = Date.now();
    const status = this.status(d, s, hash, desired, newSet);
    if (!deepEqual(status, d.status ?? {})) this.writeStatus(namespace, name, status);
  }

  private stepOnce(d: Deployment, s: RolloutState, hash: string, desired: number): boolean {
    const fresh = s.pods.filter((p) => p.hash === hash);
    const old = s.pods.filter((p) => p.hash !== hash);
    const ready = s.pods.filter((p) => p.ready).length;
    const drop = (pod: Pod) => s.pods.splice(s.pods.indexOf(pod), 1);
    const unreadyNew = fresh.find((p) => !p.ready);
    if (unreadyNew && !s.stalled) return (unreadyNew.ready = true);
    const recreate = d.spec?.strategy?.type === "Recreate";
    if (old.length) {
      const victim = old.find((p) => !p.ready) ?? old[0]!;
      const { unavailable } = fenceposts(d, desired);
      if (recreate || !victim.ready || ready - 1 >= desired - unavailable) return !!drop(victim);
    }
    if (recreate && old.length) return false;
    const { surge } = fenceposts(d, desired);
    if (fresh.length < desired && s.pods.length < desired + (recreate ? 0 : surge)) return !!s.pods.push({ hash, ready: false });
    if (fresh.length > desired) return !!drop(fresh.find((p) => !p.ready) ?? fresh[0]!);
    return false;
  }

  private status(d: Deployment, s: RolloutState, hash: string, desired: number, newSet: boolean) {
    const updated = s.pods.filter((p) => p.hash === hash).length;
    const ready = s.pods.filter((p) => p.ready).length;
    const total = s.pods.length;
    const complete = updated === desired && total === desired && ready === desired;
    const { unavailable } = fenceposts(d, desired);
    const rsName = `${d.metadata.name}-${hash}`;
    const previous: any[] = Array.isArray(d.status?.conditions) ? d.status.conditions : [];
    const condition = (type: string, status: string, reason: string, message: string) => {
      const before = previous.find((c) => c.type === type);
      const now = timestamp();
      const same = before && before.status === status && before.reason === reason && before.message === message;
      return {
        type,
        status,
        lastUpdateTime: same ? before.lastUpdateTime : now,
        lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now,
        reason,
        message,
      };
    };
    const available = ready >= desired - unavailable
      ? condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
      : condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.");
    const deadlineMs = (d.spec?.progressDeadlineSeconds ?? 600) * 1000;
    const before = previous.find((c) => c.type === "Progressing");
    let progressing;
    if (d.spec?.paused) progressing = condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused");
    else if (complete) progressing = condition("Progressing", "True", "NewReplicaSetAvailable", `ReplicaSet "${rsName}" has successfully progressed.`);
    else if (Date.now() - s.lastProgressMs > deadlineMs) progressing = condition("Progressing", "False", "ProgressDeadlineExceeded", `ReplicaSet "${rsName}" has timed out progressing.`);
    else if (newSet) progressing = condition("Progressing", "True", "NewReplicaSetCreated", `Created new replica set "${rsName}"`);
    else if (before?.reason === "NewReplicaSetCreated" && before.message.includes(rsName) && total === 0) progressing = before;
    else progressing = condition("Progressing", "True", "ReplicaSetUpdated", `ReplicaSet "${rsName}" is progressing.`);
    const status: Record<string, unknown> = { observedGeneration: d.metadata.generation ?? 1 };
    const counts: [string, number][] = [
      ["replicas", total],
      ["updatedReplicas", updated],
      ["readyReplicas", ready],
      ["availableReplicas", ready],
      ["unavailableReplicas", Math.max(0, desired - ready)],
    ];
    for (const [k, v] of counts) if (v) status[k] = v;
    status.conditions = [available, progressing];
    return status;
  }
}
