import { expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { compileExpectations } from "../src/expr/index.ts";
import { expectationVariables, parseTarget, readTargetFile } from "../src/probe/index.ts";
import { repoRoot } from "./harness/cli.ts";

// Every example in the docs is a file that must load as it is.
test("every example target file parses, with valid targets and expectations", async () => {
  const files = (await readdir(`${repoRoot}examples`)).filter((f) => f.startsWith("probe-"));
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    const entries = await readTargetFile(`${repoRoot}examples/${file}`);
    expect(entries.length).toBeGreaterThan(0);
    const kinds = new Set<string>();
    for (const entry of entries) {
      kinds.add(parseTarget(entry.url, entry.where, { method: entry.method, headers: entry.headers, body: entry.body }).prober.kind);
      await compileExpectations(entry.expect, () => entry.where, expectationVariables);
    }
    expect([...kinds].sort()).toEqual(["dns", "grpc", "http", "ssh", "tcp"]);
  }
});

test("examples/self-healing validates: server, checks and rules with every gate option", async () => {
  const { runOpskit } = await import("./harness/cli.ts");
  // The tokens and the escalation's webhook are read from the environment; validate checks that they are set.
  const run = await runOpskit(["validate", "-c", "examples/self-healing"], { env: { OPSKIT_TOKEN: "example-token", OPSKIT_WEBHOOK_TOKEN: "example-webhook-token", ONCALL_WEBHOOK: "https://hooks.example.com/oncall" } });
  expect(run.stderr).toBe("");
  expect(run.stdout).toMatch(/^ok: 3 hosts, 1 workflow, 2 rules, 2 checks /);
  const { loadConfig } = await import("../src/config/index.ts");
  const { config } = await loadConfig({ cwd: repoRoot, path: "examples/self-healing" });
  const keys = new Set(config.rules.flatMap((rule) => Object.keys(rule)));
  for (const key of ["match", "matchRe", "when", "targets", "vars", "cooldown", "maxAttempts", "approval", "rateLimit", "circuitBreaker", "onInterrupted", "verify", "escalate"]) expect(keys.has(key)).toBe(true);
});
