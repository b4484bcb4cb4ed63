import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile, chmod, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { hostileValues, pwnedMarker } from "../../test/harness/hostile.ts";
import { fakeSystemd, type FakeSystemd } from "../../test/harness/systemctl.ts";
import { compileTemplate } from "../expr/index.ts";
import { spawnLocal } from "./local.ts";
import { systemdAction, systemctlLine } from "./systemd.ts";
import type { ActionContext, ActionResult, RemoteHost } from "./types.ts";
import { scopeVariables } from "./variables.ts";

// The systemd action on this machine's real /bin/sh, against a stand-in
// systemctl (test/harness/systemctl.ts): what it runs for each state, when it
// changes nothing, and that a unit name, whatever a template renders it to,
// is either refused or reaches systemctl as one argument, intact.

let dir: string;
let fake: FakeSystemd;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-systemd-"));
  fake = await fakeSystemd(join(dir, "fake"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => rmSync(pwnedMarker, { force: true }));

/** This machine as a RemoteHost, with the fake systemctl first in PATH. */
const localHost: RemoteHost = {
  local: true,
  async run(command, options) {
    const { output, stopped } = await spawnLocal(command, { ...options, cwd: dir, env: { PATH: `${fake.bin}:${process.env.PATH ?? "/usr/bin:/bin"}` } });
    if (stopped) throw stopped;
    return output;
  },
  upload: () => Promise.reject(new Error("systemd uploads nothing")),
};

async function render(spec: Record<string, unknown>, vars: Record<string, unknown> = {}) {
  const parsed = { sudo: false, ...spec };
  const renderer = await systemdAction.compile(parsed as never, {
    where: "workflows.w.steps[0]",
    baseDir: dir,
    variables: scopeVariables,
    compileTemplate: (source, where, escape) => compileTemplate(source, where, scopeVariables, escape),
  });
  return renderer({ vars, target: {}, env: {}, steps: {} });
}

async function run(spec: Record<string, unknown>, vars: Record<string, unknown> = {}): Promise<ActionResult> {
  const context: ActionContext = {
    target: { name: "local", address: "127.0.0.1", port: 0, labels: {}, vars: {} },
    host: async () => localHost,
    signal: new AbortController().signal,
    timeoutMs: 10_000,
    baseDir: dir,
    maxOutputBytes: 64 * 1024,
  };
  return systemdAction.run(await render(spec, vars), context);
}

const newCalls = async (before: number) => (await fake.calls()).slice(before);

describe("states", () => {
  test("started starts an inactive unit (changed) and leaves an active one alone (ok, one is-active call)", async () => {
    await fake.setUnit("web.service", "inactive");
    let before = (await fake.calls()).length;
    const started = await run({ unit: "web.service", state: "started" });
    expect([started.ok, started.changed, started.data]).toEqual([true, true, { unit: "web.service", state: "started" }]);
    expect(await newCalls(before)).toEqual(["[is-active][--quiet][web.service]", "[start][web.service]"]);
    expect(await fake.unitState("web.service")).toBe("active");

    before = (await fake.calls()).length;
    const again = await run({ unit: "web.service", state: "started" });
    expect([again.ok, again.changed]).toEqual([true, false]);
    expect(await newCalls(before)).toEqual(["[is-active][--quiet][web.service]"]);
  });

  test("stopped stops an active unit and leaves an inactive one alone", async () => {
    await fake.setUnit("db", "active");
    const stopped = await run({ unit: "db", state: "stopped" });
    expect([stopped.ok, stopped.changed, await fake.unitState("db")]).toEqual([true, true, "inactive"]);
    const before = (await fake.calls()).length;
    const again = await run({ unit: "db", state: "stopped" });
    expect([again.ok, again.changed]).toEqual([true, false]);
    expect(await newCalls(before)).toEqual(["[is-active][--quiet][db]"]);
  });

  test("restarted and reloaded always act, without asking first; a failed reload fails the step with systemctl's words", async () => {
    await fake.setUnit("api@2.service", "active");
    const before = (await fake.calls()).length;
    const restarted = await run({ unit: "api@{{ vars.n }}.service", state: "restarted" }, { n: 2 });
    const reloaded = await run({ unit: "api@2.service", state: "reloaded" });
    expect([restarted.changed, reloaded.changed, await fake.reloads("api@2.service")]).toEqual([true, true, 1]);
    expect(await newCalls(before)).toEqual(["[restart][api@2.service]", "[reload][api@2.service]"]);

    await fake.setUnit("idle", "inactive");
    const failed = await run({ unit: "idle", state: "reloaded" });
    expect([failed.ok, failed.changed, failed.exitCode, failed.error?.code]).toEqual([false, false, 1, "E_EXIT_STATUS"]);
    expect(failed.stderr).toContain("the unit is not active");
  });

  test("a unit systemctl does not know fails started and stopped at the is-active check, not as 'already so'", async () => {
    const result = await run({ unit: "nosuch", state: "stopped" });
    expect([result.ok, result.exitCode, result.error?.message]).toEqual([false, 4, "systemctl is-active: exit status 4"]);
    expect(result.stderr).toContain("could not be found");
  });

  test("sudo: true runs systemctl through sudo -n; the is-active check needs no sudo", async () => {
    await fake.setUnit("cache", "inactive");
    const before = (await fake.calls()).length;
    const result = await run({ unit: "cache", state: "started", sudo: true });
    expect(result.ok).toBe(true);
    expect(await newCalls(before)).toEqual(["[is-active][--quiet][cache]", "sudo [start][cache]"]);
  });

  test("describe and the permission subject read as the command a person would type", async () => {
    const rendered = await render({ unit: "{{ vars.unit }}", state: "restarted", sudo: true }, { unit: "nginx" });
    expect(systemdAction.describe(rendered)).toBe("systemd: sudo -n systemctl restart 'nginx'");
    expect(await systemdAction.subjects(rendered, { baseDir: dir })).toEqual([{ category: "commands", label: "systemd command", command: "sudo -n systemctl restart 'nginx'" }]);
    expect(systemdAction.describe(await render({ unit: "nginx", state: "started" }))).toBe("systemd: systemctl start 'nginx' (unless started)");
  });
});

describe("a unit name is one unit, whatever a template renders", () => {
  test("a rendered value that is not a unit name (globs, options, spaces, shell code) is refused before anything runs", async () => {
    for (const value of ["*", "nginx*", "web-[12]", "-.mount", "--root=/tmp", "a b", "x;id", "", "é.service", "a/b", "x".repeat(256)]) {
      await expect(render({ unit: "{{ vars.unit }}", state: "restarted" }, { unit: value })).rejects.toMatchObject({ code: "E_SYSTEMD_UNIT", message: expect.stringContaining("is not a unit name") });
    }
    for (const value of ["nginx", "api@2.service", "systemd-fsck@dev-disk-by\\x2duuid-1.service", "a:b_c.d", "x".repeat(255)]) {
      expect((await render({ unit: "{{ vars.unit }}", state: "restarted" }, { unit: value })) as unknown).toMatchObject({ unit: value });
    }
  });

  test("every hostile value is refused, or arrives as systemctl's one argument; none runs", async () => {
    const before = (await fake.calls()).length;
    const arrived: string[] = [];
    for (const { name, value } of hostileValues) {
      let rendered;
      try {
        rendered = await render({ unit: "{{ vars.unit }}", state: "restarted" }, { unit: value });
      } catch (error) {
        expect({ name, code: (error as { code?: string }).code }).toEqual({ name, code: "E_SYSTEMD_UNIT" });
        continue;
      }
      await fake.setUnit(value, "active");
      expect((await run({ unit: "{{ vars.unit }}", state: "restarted" }, { unit: value })).ok).toBe(true);
      arrived.push(`[restart][${value}]`);
    }
    expect(await newCalls(before)).toEqual(arrived);
    expect(existsSync(pwnedMarker)).toBe(false);
  });

  test("the command line carries any value as data: hostile and generated values reach systemctl byte for byte through the real sh", async () => {
    // Below the name check, on purpose: the second guard holds on its own.
    const bin = join(dir, "argv");
    const out = join(dir, "argv.out");
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, "systemctl"), `#!/bin/sh\nprintf '%s\\0' "$@" > '${out}'\n`);
    await chmod(join(bin, "systemctl"), 0o755);
    const received = async (unit: string, sudo: boolean): Promise<string[]> => {
      const { command } = systemctlLine("restart", { unit, state: "restarted", sudo });
      const shell = Bun.spawnSync(["/bin/sh"], { stdin: new TextEncoder().encode(command), env: { PATH: `${bin}:${fake.bin}:/usr/bin:/bin` }, stderr: "pipe" });
      expect(shell.exitCode).toBe(0);
      return (await readFile(out, "utf8")).split("\0").slice(0, -1);
    };
    // What a file holds is UTF-8: a lone surrogate reads back as U+FFFD, as it would in any argv.
    const asUtf8 = (text: string) => new TextDecoder().decode(new TextEncoder().encode(text));
    for (const { value } of hostileValues) expect(await received(value, false)).toEqual(["restart", asUtf8(value)]);
    expect(await received("$(touch /tmp/opskit-pwned)'\"", true)).toEqual(["restart", "$(touch /tmp/opskit-pwned)'\""]);
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !s.includes("\0")), async (value) => {
        expect(await received(value, false)).toEqual(["restart", asUtf8(value)]);
      }),
      { numRuns: 100 },
    );
    expect(existsSync(pwnedMarker)).toBe(false);
  });
});
