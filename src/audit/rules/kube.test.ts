import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPolicy, registry, type AuditContext, type Hit } from "../index.ts";

// The audit's rules as they read kube steps: restarts and deletes across
// every cluster without a failure budget, deletes without permissions.kube,
// and operations or allowances the org policy's deny.kube forbids.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opskit-audit-kube-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function check(yaml: string, context: AuditContext = { stepTimeoutOf: () => "1m" }): Promise<Hit[]> {
  const hits: Hit[] = [];
  for (const set of registry.workflow) hits.push(...(await set.check({ path: join(dir, "opskit.yaml"), display: "opskit.yaml", language: "workflow", text: yaml }, context)));
  return hits.sort((a, b) => a.line - b.line || a.column - b.column);
}

const at = (hits: Hit[], rule: string) => hits.filter((h) => h.rule === rule).map((h) => `${h.line}:${h.column}`);

const workflow = (strategy: string, permissions: string, steps: string[]) => ["workflows:", "  w:", "    targets: env=prod", strategy, permissions, "    steps:", ...steps].filter(Boolean).join("\n") + "\n";

describe("kube steps", () => {
  test("OPS-WF-002: a restart or delete in every cluster at once, or rolling without maxFailures, is found at the verb", async () => {
    const steps = ["      - kube: { restart: deployment/api }", "      - kube: { get: deployment/api }", "      - kube: { delete: job/cleanup }"];
    expect(at(await check(workflow("", "    permissions: { hosts: env=prod, kube: ['*'] }", steps)), "OPS-WF-002")).toEqual(["6:26", "8:25"]);
    expect(at(await check(workflow("    strategy: { rolling: { batch: 1, maxFailures: 0 } }", "    permissions: { hosts: env=prod, kube: ['*'] }", steps)), "OPS-WF-002")).toEqual([]);
  });

  test("OPS-WF-008: a delete in a workflow without permissions.kube", async () => {
    const steps = ["      - kube: { delete: 'job/{{ vars.job }}' }", "      - kube: { restart: deployment/api }"];
    const rolling = "    strategy: { rolling: { batch: 1, maxFailures: 0 } }";
    const hits = await check(workflow(rolling, "    permissions: { hosts: env=prod }", steps));
    expect(at(hits, "OPS-WF-008")).toEqual(["7:25"]);
    expect(hits.find((h) => h.rule === "OPS-WF-008")!.message).toContain("deletes job/{{ vars.job }}");
    expect(at(await check(workflow(rolling, "    permissions: { hosts: env=prod, kube: ['delete job/*'] }", steps)), "OPS-WF-008")).toEqual([]);
  });

  test("OPS-POL-007: what the policy's deny.kube forbids, in a step (its namespace or any) and in permissions.kube", async () => {
    writeFileSync(join(dir, "policy.yaml"), "deny:\n  kube: ['delete *', 'restart kube-system/*']\n");
    const policy = await loadPolicy(join(dir, "policy.yaml"));
    const yaml = workflow("    strategy: { rolling: { batch: 1, maxFailures: 0 } }", "    permissions: { hosts: env=prod, kube: ['delete job/*', 'restart deployment/*'] }", [
      "      - kube: { delete: job/cleanup }",
      "      - kube: { restart: deployment/api, namespace: kube-system }",
      "      - kube: { restart: deployment/api, namespace: shop }",
      "      - kube: { restart: deployment/api }",
    ]);
    const hits = await check(yaml, { stepTimeoutOf: () => "1m", policy });
    expect(at(hits, "OPS-POL-007")).toEqual(["5:44", "7:25", "8:26", "10:26"]);
    expect(hits.find((h) => h.rule === "OPS-POL-007" && h.line === 8)!.message).toContain("deny.kube[1]");
  });
});
