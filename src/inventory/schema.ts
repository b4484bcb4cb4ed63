import type { z } from "zod";
import type { SchemaKit } from "../schema/index.ts";
import { inventorySources, type SourceKind } from "./registry.ts";

/** `inventory:` in opskit.yaml (hosts, groups, sources), declared here so the inventory reads a type of its own making. */
export function inventorySchema(kit: SchemaKit) {
  const { z, labels, exactlyOneOf, becomeUser, becomeMethod } = kit;
  const vars = z.record(z.string(), z.unknown());
  const host = z
    .object({
      address: z.string().min(1).optional().describe("host name or IP to connect to; defaults to the host's name"),
      port: z.number().int().min(1).max(65535).optional().describe("SSH port (default: defaults.port, then 22)"),
      user: z.string().min(1).optional().describe("SSH user (default: defaults.user)"),
      key: z.union([z.string(), z.array(z.string())]).optional().describe("private key file(s)"),
      proxyJump: z.string().optional().describe("bastion host name (from the inventory) or [user@]host[:port]"),
      labels: labels.default({}).describe("labels for selectors, e.g. { role: web, zone: a }"),
      vars: vars.default({}).describe("variables visible as target.vars"),
      becomeUser: becomeUser.optional().describe("the user a become step runs as on this host when neither the step nor its workflow names one (Ansible's ansible_become_user; default root)"),
      becomeMethod: becomeMethod.optional().describe("how a become step switches user on this host when neither the step nor its workflow says (Ansible's ansible_become_method); over defaults.becomeMethod"),
    })
    .strict();
  const group = z
    .object({
      hosts: z.array(z.string()).default([]).describe("member host names"),
      children: z.array(z.string()).default([]).describe("member groups"),
      labels: labels.default({}).describe("labels given to every member"),
      vars: vars.default({}).describe("variables given to every member (host vars win)"),
      becomeUser: becomeUser.optional().describe("becomeUser for every member (a host's own wins)"),
      becomeMethod: becomeMethod.optional().describe("becomeMethod for every member (a host's own wins)"),
    })
    .strict();
  const sourceKinds = Object.keys(inventorySources) as SourceKind[];
  const sourceFields = Object.fromEntries(sourceKinds.map((kind) => [kind, kit.schemaOf(inventorySources[kind].schema).optional()])) as { [K in SourceKind]: z.ZodOptional<z.ZodType<string>> };
  const source = exactlyOneOf(
    z
      .object({
        ...sourceFields,
        labels: labels.default({}).describe("labels given to every host from this source"),
      })
      .strict(),
    sourceKinds,
    "give",
  );
  return z
    .object({
      hosts: z.record(z.string(), host.nullable().transform((h) => h ?? host.parse({}))).default({}),
      groups: z.record(z.string(), group).default({}),
      sources: z.array(source).default([]),
    })
    .strict();
}

/** `inventory:` as loaded and validated. */
export type InventoryConfig = z.infer<ReturnType<typeof inventorySchema>>;
/** One entry under inventory.hosts. */
export type HostEntry = InventoryConfig["hosts"][string];
