/**
 * fieldValidation=Strict (what kubectl >= 1.27 sends): unknown fields are a
 * 400, checked at the top level, in metadata and in a Deployment's spec.
 * Deeper levels and custom resources are not checked (no schemas are kept).
 */
import { isObject } from "./patch.ts";
import type { ResourceType } from "./resources.ts";
import { badRequest } from "./status.ts";

const metadataFields = new Set([
  "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
  "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields",
]);

const topLevel: Record<string, string[]> = {
  deployments: ["spec", "status"],
  configmaps: ["data", "binaryData", "immutable"],
  secrets: ["data", "stringData", "type", "immutable"],
  namespaces: ["spec", "status"],
};

const deploymentSpec = new Set(["replicas", "selector", "template", "strategy", "minReadySeconds", "revisionHistoryLimit", "paused", "progressDeadlineSeconds"]);

export function checkStrict(type: ResourceType, object: unknown, query: URLSearchParams, subresource?: string): void {
  if (query.get("fieldValidation") !== "Strict" || !isObject(object) || type.custom) return;
  const unknown: string[] = [];
  const allowed = new Set(["apiVersion", "kind", "metadata", ...(subresource === "scale" ? ["spec", "status"] : topLevel[type.resource] ?? [])]);
  for (const k of Object.keys(object)) if (!allowed.has(k)) unknown.push(k);
  if (isObject(object.metadata)) for (const k of Object.keys(object.metadata)) if (!metadataFields.has(k)) unknown.push(`metadata.${k}`);
  if (type.resource === "deployments" && !subresource && isObject(object.spec)) for (const k of Object.keys(object.spec)) if (!deploymentSpec.has(k)) unknown.push(`spec.${k}`);
  if (unknown.length) throw badRequest(`strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(", ")}`);
}
