import type { z } from "zod";
import type { BecomeMethod, ConfigPath, SchemaKit } from "../schema/index.ts";
import type { KubeTargetRef } from "../transport/kube/index.ts";
import type { InventoryConfig } from "./schema.ts";

/** A host opskit can act on, with everything resolved: defaults, groups, sources. */
export interface Target {
  name: string;
  address: string;
  port: number;
  user: string;
  labels: Record<string, string>;
  vars: Record<string, unknown>;
  groups: string[];
  /** Identity files: ~ expanded, relative paths against the config directory. */
  keys: string[];
  proxyJump?: string;
  /** known_hosts files for this host instead of defaults.knownHosts (ssh_config's UserKnownHostsFile); ~ expanded. */
  knownHostsFiles?: string[];
  /** Settings of its source that would have turned host key checking off and were not followed, each with file:line. */
  hostKeyNotes?: string[];
  /** Where it was defined, e.g. "opskit.yaml:12:5" or "/home/u/.ssh/config:14"; several joined by ", ". */
  source: string;
  /** A kubeconfig context (a kubeconfig source's target): acted on through the Kubernetes API, never over SSH. */
  kube?: KubeTargetRef;
  /** Its hosts' and groups' becomeUser and becomeMethod: what a become step uses when neither it nor its workflow says. */
  become?: HostBecome;
}

/** become settings of a host or group (Ansible's ansible_become_user and ansible_become_method). */
export interface HostBecome {
  user?: string;
  method?: BecomeMethod;
}

/** A host as one definition describes it, before merging, groups and defaults. */
export interface HostRecord {
  name: string;
  address?: string;
  port?: number;
  user?: string;
  keys?: string[];
  proxyJump?: string;
  /** ssh_config's UserKnownHostsFile, as written (~ not yet expanded). */
  knownHostsFiles?: string[];
  hostKeyNotes?: string[];
  labels: Record<string, string>;
  vars: Record<string, unknown>;
  /** Groups the source itself puts the host in (Ansible groups). */
  groups: string[];
  source: string;
  kube?: KubeTargetRef;
  become?: HostBecome;
}

export interface SourceContext {
  /** Absolute path of the source file. */
  file: string;
  /** The path as shown in messages. */
  display: string;
  homeDir: string;
  env: Record<string, string | undefined>;
  /** Reads another file (an ssh_config Include); rejects like Bun.file().text(). */
  readText(file: string): Promise<string>;
}

/** One kind of inventory source: a file format that yields hosts. */
export interface InventorySource {
  /** The key that names it under inventory.sources (ssh_config, ansible, hosts). */
  readonly kind: string;
  /** Its value under that key, as opskit.yaml writes it: the path of the file it reads, described for `opskit schema`. */
  readonly schema: (kit: SchemaKit) => z.ZodType<string>;
  load(text: string, context: SourceContext): Promise<HostRecord[]>;
}

/**
 * What the inventory reads of a loaded config: `inventory:`, the connection
 * defaults, the directory relative paths start from, and where each key was
 * written (for errors). A loaded config is one.
 */
export interface InventoryInput {
  config: {
    inventory: InventoryConfig;
    defaults: { user?: string | undefined; port?: number | undefined; key?: string | string[] | undefined };
  };
  baseDir: string;
  where(path: ConfigPath): string;
}
