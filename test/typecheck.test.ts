import { expect, test } from "bun:test";
import { repoRoot } from "./harness/cli.ts";

test("the whole code base type-checks under strict TypeScript", async () => {
  const tsc = Bun.spawn([`${repoRoot}node_modules/.bin/tsc`, "-p", repoRoot], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(tsc.stdout).text(), new Response(tsc.stderr).text(), tsc.exited]);
  expect(`${out}${err}`).toBe("");
  expect(code).toBe(0);
}, 120_000);
