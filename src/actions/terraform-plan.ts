import { ExitCode, OpsError } from "../errors.ts";

/*
 * A saved Terraform (or OpenTofu) plan as `show -json PLANFILE` prints it,
 * read the way the documented JSON output format says to: reject a major
 * format_version it does not know, ignore fields it does not know, and find
 * every deletion by scanning a change's actions for "delete" (the format's
 * own advice: it covers ["delete"] and both replacement orders,
 * ["delete","create"] and ["create","delete"], and whatever combination a
 * later version adds). https://developer.hashicorp.com/terraform/internals/json-format
 */

/** How one resource change reads: the format's action lists named as `terraform plan` prints them. */
export type ChangeKind = "create" | "update" | "delete" | "replace" | "read" | "no-op" | "forget" | "other";

export interface ResourceChange {
  address: string;
  type: string;
  kind: ChangeKind;
  /** The format's actions as they are, e.g. ["create","delete"] (a create_before_destroy replacement). */
  actions: string[];
  /** action_reason: why it is replaced or deleted (replace_because_tainted, delete_because_no_resource_config, ...). */
  reason?: string;
  /** The deposed object's key: a leftover of a create_before_destroy that failed, to be deleted. */
  deposed?: string;
  /** replace_paths: the attributes that force the replacement. */
  replacePaths?: unknown[];
}

export type ChangeCounts = Record<"create" | "update" | "delete" | "replace" | "read" | "forget", number>;

export interface PlanSummary {
  formatVersion: string;
  /** Every resource change except no-ops, in the plan's order. */
  changes: ResourceChange[];
  counts: ChangeCounts;
  /** Outputs whose value changes, with what happens to each. */
  outputs: { name: string; actions: string[] }[];
}

/** Resource changes kept in a step's result (and the journal): a big plan is counted in full and listed in part. */
export const MAX_LISTED_CHANGES = 100;
const MAX_ADDRESS = 512;

function kindOf(actions: string[]): ChangeKind {
  const key = actions.join(",");
  switch (key) {
    case "create":
    case "update":
    case "delete":
    case "read":
    case "no-op":
    case "forget":
      return key;
    case "delete,create":
    case "create,delete":
      return "replace";
    default:
      // A combination a later format adds: a deletion still counts as one (the format's advice).
      return actions.includes("delete") ? (actions.includes("create") ? "replace" : "delete") : "other";
  }
}

/** Whether a change deletes an object: a deletion or either kind of replacement. */
export const destroys = (change: ResourceChange): boolean => change.actions.includes("delete");
/** Whether a change does anything to infrastructure (a data source read does not). */
export const acts = (change: ResourceChange): boolean => change.kind !== "no-op" && change.kind !== "read";

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);
const text = (value: unknown, max = MAX_ADDRESS): string | undefined => (typeof value === "string" ? (value.length > max ? `${value.slice(0, max - 3)}...` : value) : undefined);

function planFormatError(message: string): OpsError {
  return new OpsError({
    code: "E_TERRAFORM_PLAN_JSON",
    message: `show -json: ${message}`,
    hint: "opskit reads the documented plan format (format_version 0.x or 1.x); check the binary is terraform or tofu and its version prints it",
    exitCode: ExitCode.check,
  });
}

function actionsOf(change: unknown, where: string): string[] {
  const actions = isObject(change) ? change.actions : undefined;
  if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => typeof a === "string")) throw planFormatError(`${where}.actions is not a list of actions`);
  return actions as string[];
}

/** Reads `show -json` output; throws E_TERRAFORM_PLAN_JSON when it is not a plan in a format version this reads. */
export function readPlan(json: string): PlanSummary {
  let plan: unknown;
  try {
    plan = JSON.parse(json);
  } catch (error) {
    throw planFormatError(`not JSON (${(error as Error).message})`);
  }
  if (!isObject(plan) || typeof plan.format_version !== "string") throw planFormatError("no format_version: not a plan's JSON representation");
  const major = Number(plan.format_version.split(".")[0]);
  if (!(major === 0 || major === 1)) throw planFormatError(`format_version ${plan.format_version} is a major version this opskit does not read`);
  const listed = plan.resource_changes ?? [];
  if (!Array.isArray(listed)) throw planFormatError("resource_changes is not a list");
  const counts: ChangeCounts = { create: 0, update: 0, delete: 0, replace: 0, read: 0, forget: 0 };
  const changes: ResourceChange[] = [];
  listed.forEach((entry: unknown, i) => {
    const where = `resource_changes[${i}]`;
    if (!isObject(entry) || typeof entry.address !== "string") throw planFormatError(`${where} has no address`);
    const actions = actionsOf(entry.change, `${where}.change`);
    const kind = kindOf(actions);
    if (kind === "no-op") return;
    if (kind !== "other") counts[kind]++;
    const change = isObject(entry.change) ? entry.change : {};
    const reason = text(entry.action_reason, 100);
    const deposed = text(entry.deposed, 100);
    changes.push({
      address: text(entry.address)!,
      type: text(entry.type, 200) ?? "",
      kind,
      actions,
      ...(reason ? { reason } : {}),
      ...(deposed ? { deposed } : {}),
      ...(Array.isArray(change.replace_paths) && change.replace_paths.length > 0 ? { replacePaths: change.replace_paths.slice(0, 20) } : {}),
    });
  });
  const outputs = isObject(plan.output_changes)
    ? Object.entries(plan.output_changes).flatMap(([name, change]) => {
        const actions = actionsOf(change, `output_changes.${name}`);
        return actions.join(",") === "no-op" ? [] : [{ name: text(name, 200)!, actions }];
      })
    : [];
  return { formatVersion: plan.format_version, changes, counts, outputs };
}

/** Terraform's own count line: a replacement is one to add and one to destroy. */
export function countLine(counts: ChangeCounts): string {
  const add = counts.create + counts.replace;
  const destroy = counts.delete + counts.replace;
  return `Plan: ${add} to add, ${counts.update} to change, ${destroy} to destroy${counts.replace ? ` (${counts.replace} replaced)` : ""}.`;
}

const ORDER: Record<string, string> = { "delete,create": "destroy, then create", "create,delete": "create, then destroy" };

/** "aws_instance.web (replace: destroy, then create; replace_because_cannot_update)"; without the kind where the sentence names it. */
export function describeChange(change: ResourceChange, withKind = true): string {
  const order = ORDER[change.actions.join(",")];
  const kind = change.kind === "other" ? change.actions.join(", ") : change.kind;
  const how = [withKind ? kind : "", change.kind === "replace" && order ? order : ""].filter(Boolean).join(": ");
  const details = [how, change.deposed ? `deposed object ${change.deposed}` : "", change.reason ?? ""].filter(Boolean).join("; ");
  return details ? `${change.address} (${details})` : change.address;
}

/** Names at most `max`, then how many more. */
export function listSome(items: readonly string[], max = 20): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

export interface PlanGates {
  allowDestroy: boolean;
  maxChanges?: number;
}

/** A gate that refused a plan: which, and the changes it refused for. */
export interface PlanRefusal {
  gate: "allowDestroy" | "maxChanges";
  code: "E_TERRAFORM_DESTROY" | "E_TERRAFORM_MAX_CHANGES";
  /** What the plan would do that the gate refuses, one change a line's worth. */
  reason: string;
  fix: string;
  addresses: string[];
}

/**
 * The gates on what a plan would do, before it is applied: a plan that
 * deletes anything (a deletion, either replacement) unless allowDestroy,
 * and more changes than maxChanges. Pure, so every decision is tested.
 */
export function judgePlan(summary: PlanSummary, gates: PlanGates): PlanRefusal | undefined {
  const destroyed = summary.changes.filter(destroys);
  if (destroyed.length > 0 && !gates.allowDestroy) {
    const deletes = destroyed.filter((c) => c.kind !== "replace").map((c) => describeChange(c, false));
    const replaces = destroyed.filter((c) => c.kind === "replace").map((c) => describeChange(c, false));
    const parts = [...(deletes.length ? [`destroy ${listSome(deletes)}`] : []), ...(replaces.length ? [`replace ${listSome(replaces)}`] : [])];
    return {
      gate: "allowDestroy",
      code: "E_TERRAFORM_DESTROY",
      reason: `the plan would ${parts.join(" and ")}`,
      fix: "set allowDestroy: true on the step if it should, or review the plan first",
      addresses: destroyed.map((c) => c.address),
    };
  }
  const acting = summary.changes.filter(acts);
  if (gates.maxChanges !== undefined && acting.length > gates.maxChanges) {
    return {
      gate: "maxChanges",
      code: "E_TERRAFORM_MAX_CHANGES",
      reason: `the plan would change ${acting.length} resources, more than maxChanges ${gates.maxChanges}: ${listSome(acting.map((c) => describeChange(c)), 10)}`,
      fix: "raise maxChanges on the step if it should, or review the plan first",
      addresses: acting.map((c) => c.address),
    };
  }
  return undefined;
}
