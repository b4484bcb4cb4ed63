/** Stored objects, one resourceVersion counter for all of them, and the event history watches replay. */
import type { ResourceType } from "./resources.ts";
import { clone } from "./patch.ts";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoredEvent {
  resourceVersion: number;
  type: EventType;
  resource: ResourceType;
  /** The object after the change (for DELETED, the last state with the deletion's resourceVersion). */
  object: any;
  /** The object before the change, for watches that filter: a change can move an object into or out of their selection. */
  previous?: any;
}

/** How many events a watch can resume from; an older resourceVersion is 410 Gone, as after an etcd compaction. */
const HISTORY = 10_000;

export class ObjectStore {
  private counter = 1000;
  private readonly objects = new Map<string, any>();
  private readonly history: StoredEvent[] = [];
  private readonly listeners = new Set<(event: StoredEvent) => void>();

  private key(type: ResourceType, namespace: string | undefined, name: string) {
    return `${type.group}/${type.resource}/${type.namespaced ? namespace ?? "" : ""}/${name}`;
  }

  get resourceVersion(): number {
    return this.counter;
  }

  /** The oldest resourceVersion a watch may start after. */
  get oldestResumable(): number {
    return this.history.length === HISTORY ? this.history[0]!.resourceVersion : 0;
  }

  get(type: ResourceType, namespace: string | undefined, name: string): any {
    return this.objects.get(this.key(type, namespace, name));
  }

  /** Objects of a type, ordered by namespace and name as etcd keys order them. */
  list(type: ResourceType, namespace?: string): any[] {
    const prefix = `${type.group}/${type.resource}/`;
    const out: any[] = [];
    for (const [k, v] of this.objects) {
      if (!k.startsWith(prefix)) continue;
      if (namespace !== undefined && type.namespaced && v.metadata.namespace !== namespace) continue;
      out.push(v);
    }
    return out.sort((a, b) => `${a.metadata.namespace ?? ""}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ""}/${b.metadata.name}`));
  }

  /** Stores an object under a new resourceVersion and tells watchers; returns the stored object. */
  put(type: ResourceType, object: any): any {
    const key = this.key(type, object.metadata.namespace, object.metadata.name);
    const previous = this.objects.get(key);
    const stored = clone(object);
    stored.metadata.resourceVersion = String(++this.counter);
    this.objects.set(key, stored);
    this.emit({ resourceVersion: this.counter, type: previous ? "MODIFIED" : "ADDED", resource: type, object: clone(stored), previous });
    return stored;
  }

  delete(type: ResourceType, namespace: string | undefined, name: string): any {
    const key = this.key(type, namespace, name);
    const previous = this.objects.get(key);
    if (!previous) return undefined;
    this.objects.delete(key);
    const gone = clone(previous);
    gone.metadata.resourceVersion = String(++this.counter);
    this.emit({ resourceVersion: this.counter, type: "DELETED", resource: type, object: gone, previous });
    return gone;
  }

  /** Events after `resourceVersion`, or undefined when they are no longer kept. */
  since(resourceVersion: number): StoredEvent[] | undefined {
    if (resourceVersion < this.oldestResumable) return undefined;
    return this.history.filter((e) => e.resourceVersion > resourceVersion);
  }

  subscribe(listener: (event: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: StoredEvent) {
    this.history.push(event);
    if (this.history.length > HISTORY) this.history.shift();
    for (const l of [...this.listeners]) l(event);
  }
}
