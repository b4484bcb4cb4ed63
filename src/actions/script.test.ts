import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileTemplate } from "../expr/index.ts";
import { spawnLocal } from "./local.ts";
import { classifyExit, parseExitMap, scriptAction, shebangInterpreter } from "./script.ts";
import type { ActionContext, ActionResult, RemoteHost } from "./types.ts";
import { scopeVariables } from "./variables.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-script-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** This machine as a RemoteHost, as the `local` target offers it; uploads are recorded. */
function localHost(uploads: string[]): RemoteHost {
  return {
    async run(command, options) {
      const { output, stopped } = await spawnLocal(command, { ...options, cwd: dir });
      if (stopped) throw stopped;
      return output;
    },
    async upload(content, remotePath, mode) {
      uploads.push(remotePath);
      await writeFile(remotePath, content);
      await chmod(remotePath, mode);
      return { changed: true, sha256: "" };
    },
  };
}

async function runScript(text: string, spec: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<{ result: ActionResult; uploads: string[]; description: string }> {
  const path = join(dir, `script-${crypto.randomUUID().slice(0, 8)}.sh`);
  await writeFile(path, text);
  const render = await scriptAction.compile({ path, ...spec } as never, {
    where: "workflows.w.steps.0",
    baseDir: dir,
    variables: scopeVariables,
    compileTemplate: (source, where, escape) => compileTemplate(source, where, scopeVariables, escape),
  });
  const rendered = render({ vars: { who: "it's me" }, target: {}, env: {}, steps: {} });
  const uploads: string[] = [];
  const host = localHost(uploads);
  const context: ActionContext = {
    target: { name: "local", address: "127.0.0.1", port: 0, labels: {}, vars: {} },
    host: async () => host,
    signal: new AbortController().signal,
    timeoutMs,
    baseDir: dir,
    maxOutputBytes: 64 * 1024,
  };
  return { result: await scriptAction.run(rendered, context), uploads, description: scriptAction.describe(rendered) };
}

describe("exit map", () => {
  test("reads a string or a map; codes not listed are ok for 0 and failed otherwise", () => {
    const map = parseExitMap("24=ok, 3=warning,1=failed", "here");
    expect(map).toEqual({ 24: "ok", 3: "warning", 1: "failed" });
    expect(parseExitMap({ "0": "failed" }, "here")).toEqual({ 0: "failed" });
    expect([24, 3, 1, 0, 2, null].map((code) => classifyExit(code, map))).toEqual(["ok", "warning", "failed", "ok", "failed", "failed"]);
    expect(() => parseExitMap("24=fine", "workflows.w.steps.0.script.exitMap")).toThrow(/workflows.w.steps.0.script.exitMap: invalid exit map/);
    expect(() => parseExitMap("300=ok", "here")).toThrow(/invalid exit map/);
  });

  test("a mapped exit code is ok, warning or failed, with the class and the raw code in data", async () => {
    const script = 'exit "$1"\n';
    const exitMap = "24=ok,3=warning,1=failed";
    const ok = (await runScript(script, { args: ["24"], exitMap })).result;
    expect([ok.ok, ok.exitCode, ok.data, ok.error]).toEqual([true, 24, { exitClass: "ok", exitCode: 24 }, undefined]);
    const warning = (await runScript(script, { args: ["3"], exitMap })).result;
    expect([warning.ok, warning.data?.exitClass, warning.error?.message]).toEqual([true, "warning", "warning: exit status 3 reads as a warning (exit map)"]);
    const failed = (await runScript(script, { args: ["1"], exitMap })).result;
    expect([failed.ok, failed.changed, failed.data?.exitClass, failed.error?.message]).toEqual([false, false, "failed", "exit status 1"]);
    const unlisted = (await runScript(script, { args: ["5"], exitMap })).result;
    expect([unlisted.ok, unlisted.data?.exitClass]).toEqual([false, "failed"]);
  });
});

describe("interpreter", () => {
  test("comes from the #! line: env is looked through, arguments are kept, none is /bin/sh", () => {
    expect(shebangInterpreter("#!/usr/bin/env python3\nprint(1)\n")).toBe("python3");
    expect(shebangInterpreter("#!/usr/bin/env -S python3 -u\n")).toBe("python3 -u");
    expect(shebangInterpreter("#!/bin/bash -e\n")).toBe("/bin/bash -e");
    expect(shebangInterpreter("#! /bin/sh")).toBe("/bin/sh");
    expect(shebangInterpreter("echo hi\n")).toBe("/bin/sh");
  });

  test("a python3 script runs under python3 from its #! line", async () => {
    const { result, description } = await runScript('#!/usr/bin/env python3\nimport sys\nprint("py", sys.version_info[0], sys.argv[1:])\n', { args: ["{{ vars.who }}"] });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`py 3 ["it's me"]\n`);
    expect(description).toEndWith("(via python3)");
  });

  test("the step's interpreter wins over the #! line", async () => {
    const { result } = await runScript("#!/bin/false\necho \"$0\" | grep -c opskit-script\n", { interpreter: "/bin/sh -e" });
    expect([result.ok, result.stdout]).toEqual([true, "1\n"]);
  });
});

describe("running", () => {
  test("a script that reads stdin gets EOF at once, not its own text", async () => {
    const { result } = await runScript('#!/bin/sh\nif read line; then echo "read: $line"; else echo eof; fi\nrest=$(cat); echo "rest: ${#rest}"\n', {}, 5_000);
    expect(result.ok).toBe(true);
    expect(result.stdout).toBe("eof\nrest: 0\n");
  });

  test("env reaches the script, quoted; the copy is mode 0700 in /tmp and removed afterwards", async () => {
    const { result, uploads } = await runScript('#!/bin/sh\nprintf "%s|%s|" "$GREETING" "$WHO"\nstat -c %a "$0"\n', { env: { GREETING: "hello $(id) `x`", WHO: "{{ vars.who }}" } });
    expect(result.stdout).toBe("hello $(id) `x`|it's me|700\n");
    expect(uploads).toHaveLength(1);
    expect(uploads[0]!).toMatch(/^\/tmp\/opskit-script-[0-9a-f]{12}-[0-9a-f]{8}-script-[\w-]+\.sh$/);
    expect(await Bun.file(uploads[0]!).exists()).toBe(false);
  });

  test("a timed-out script fails, says so, and its copy is removed", async () => {
    const started = performance.now();
    const { result, uploads } = await runScript("#!/bin/sh\nsleep 30\n", {}, 300);
    // A copied script is a remote one: its timeout is the SSH command timeout, for the whole step.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect([result.ok, result.error?.code, result.data?.exitClass]).toEqual([false, "E_SSH_COMMAND_TIMEOUT", "failed"]);
    expect(await Bun.file(uploads[0]!).exists()).toBe(false);
  });

  test("an invalid env name is a config error at compile time", async () => {
    await expect(runScript("true\n", { env: { "BAD-NAME": "x" } })).rejects.toThrow(/invalid variable name "BAD-NAME"/);
  });
});
