import type { ResourceType } from "./resources.ts";

/** A Kubernetes Status object and the HTTP status it travels with. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}

export function statusFailure(code: number, reason: string, message: string, details?: Record<string, unknown>): ApiError {
  const body: Record<string, unknown> = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason };
  if (details) body.details = details;
  body.code = code;
  return new ApiError(code, body);
}

/** `deployments.apps` for grouped resources, `configmaps` for the core group, as the real server names them. */
export const qualifiedResource = (type: Pick<ResourceType, "group" | "resource">) =>
  type.group ? `${type.resource}.${type.group}` : type.resource;

const details = (type: ResourceType, name: string) => ({ name, ...(type.group ? { group: type.group } : {}), kind: type.resource });

export const notFound = (type: ResourceType, name: string) =>
  statusFailure(404, "NotFound", `${qualifiedResource(type)} "${name}" not found`, details(type, name));

export const alreadyExists = (type: ResourceType, name: string) =>
  statusFailure(409, "AlreadyExists", `${qualifiedResource(type)} "${name}" already exists`, details(type, name));

export const conflict = (type: ResourceType, name: string, why = "the object has been modified; please apply your changes to the latest version and try again") =>
  statusFailure(409, "Conflict", `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": ${why}`, details(type, name));

export const badRequest = (message: string) => statusFailure(400, "BadRequest", message);

export interface Cause {
  field: string;
  message: string;
  reason?: string;
}

/** 422 Invalid: `Deployment.apps "api" is invalid: spec.replicas: Invalid value: -1: must be ...`. */
export function invalid(kind: string, group: string, name: string, causes: Cause[]): ApiError {
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const summary = list.length === 1 ? list[0] : `[${list.join(", ")}]`;
  return statusFailure(422, "Invalid", `${qualifiedKind} "${name}" is invalid: ${summary}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: causes.map((c) => ({ reason: c.reason ?? "FieldValueInvalid", message: c.message, field: c.field })),
  });
}

export const unauthorized = () => statusFailure(401, "Unauthorized", "Unauthorized");

export function forbidden(user: string, verb: string, type: ResourceType, subresource: string | undefined, namespace: string | undefined, name: string | undefined): ApiError {
  const resource = subresource ? `${type.resource}/${subresource}` : type.resource;
  const subject = name ? `${qualifiedResource(type)} "${name}"` : qualifiedResource(type);
  const where = namespace ? ` in the namespace "${namespace}"` : " at the cluster scope";
  return statusFailure(
    403,
    "Forbidden",
    `${subject} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${type.group}"${where}`,
    { ...(name ? { name } : {}), ...(type.group ? { group: type.group } : {}), kind: type.resource },
  );
}
