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
