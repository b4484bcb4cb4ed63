import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";
import { fleetConfigLines, startFleet, type Fleet } from "./harness/fleet.ts";
import { fakeSystemd, type FakeSystemd } from "./harness/systemctl.ts";

// The systemd action through `opskit run`, as users write it: on this machine
// (the local target, with the real systemctl and with a stand-in for it) and
// over real OpenSSH to a loopback fleet, with the org's permissions judging
// the systemctl line it will run.
let dir: string;
let fake: FakeSystemd;
let fleet: Fleet;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-systemd-cli-"));
  // The fleet's user runs the stand-in too: the directory must be open to it.
  await chmod(dir, 0o755);
  fake = await fakeSystemd(join(dir, "fake"));
  fleet = await startFleet({ size: 2, sshdConfig: [`SetEnv PATH=${fake.bin}:/usr/bin:/bin`] });
});

afterAll(async () => {
  await fleet?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function runWorkflow(lines: string[], args: string[] = [], env: Record<string, string> = {}) {
  const file = join(dir, `opskit-${crypto.randomUUID().slice(0, 8)}.yaml`);
  await writeFile(file, `${lines.join("\n")}\n`);
  const run = await runOpskit(["run", "--journal", join(dir, "journal.db"), "-c", file, "w", "--json", ...args], { cwd: dir, env });
  const events = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, any>);
  return { ...run, steps: events.filter((e) => e.type === "step.finished") };
}

describe("on this machine", () => {
  test("a templated unit is restarted, then left alone by started; the journal names the systemctl line", async () => {
    await fake.setUnit("api@blue.service", "inactive");
    const workflow = ["workflows:", "  w:", "    steps:", "      - systemd: { unit: 'api@{{ vars.color }}.service', state: restarted }", "      - systemd: { unit: 'api@{{ vars.color }}.service', state: started }"];
    const { code, steps } = await runWorkflow(workflow, ["--var", "color=blue"], { PATH: `${fake.bin}:${process.env.PATH}` });
    expect(code).toBe(0);
    expect(steps.map((s) => [s.status, s.description])).toEqual([
      ["changed", "systemd: systemctl restart 'api@blue.service'"],
      ["ok", "systemd: systemctl start 'api@blue.service' (unless started)"],
    ]);
    expect(await fake.unitState("api@blue.service")).toBe("active");
  });

  test("a --var that is not a unit name fails the step before systemctl runs", async () => {
    const before = (await fake.calls()).length;
    const { code, steps } = await runWorkflow(["workflows:", "  w:", "    steps:", "      - systemd: { unit: '{{ vars.unit }}', state: stopped }"], ["--var", "unit=nginx; touch /tmp/opskit-pwned"], {
      PATH: `${fake.bin}:${process.env.PATH}`,
    });
    expect(code).toBe(2);
    expect(steps[0]!.result.error).toMatchObject({ code: "E_SYSTEMD_UNIT" });
    expect((await fake.calls()).length).toBe(before);
  });

  test("permissions judge the systemctl line: restart allowed, stop denied, sudo denied unless allowed", async () => {
    await fake.setUnit("web", "active");
    const permitted = (state: string, sudo = false, allowSudo = false) => [
      "workflows:",
      "  w:",
      `    permissions: { commands: ['systemctl restart *', 'sudo -n systemctl restart *'], hosts: name=local${allowSudo ? ", sudo: true" : ""} }`,
      "    steps:",
      `      - systemd: { unit: web, state: ${state}, sudo: ${sudo} }`,
    ];
    const env = { PATH: `${fake.bin}:${process.env.PATH}` };
    expect((await runWorkflow(permitted("restarted"), [], env)).code).toBe(0);
    const stop = await runWorkflow(permitted("stopped"), [], env);
    expect([stop.code, stop.steps[0]!.result.error.code]).toEqual([2, "E_POLICY_DENIED"]);
    expect(stop.steps[0]!.result.error.message).toContain("systemctl stop 'web'");
    expect(await fake.unitState("web")).toBe("active");
    const sudo = await runWorkflow(permitted("restarted", true), [], env);
    expect([sudo.code, sudo.steps[0]!.result.error.code]).toEqual([2, "E_POLICY_DENIED"]);
    expect((await runWorkflow(permitted("restarted", true, true), [], env)).code).toBe(0);
  });

  test("with this machine's real systemctl, a unit it cannot start fails the step with systemctl's own message", async () => {
    const { code, steps } = await runWorkflow(["workflows:", "  w:", "    steps:", "      - systemd: { unit: opskit-test-no-such-unit, state: started }"]);
    expect(code).toBe(2);
    expect(steps[0]!.status).toBe("failed");
    expect(steps[0]!.result.stderr.trim()).not.toBe("");
  });
});

describe("over SSH", () => {
  test("each host's unit goes through the remote systemctl, the unit name one argument", async () => {
    await fake.setUnit("worker:1.service", "inactive");
    const before = (await fake.calls()).length;
    const { code, steps } = await runWorkflow([
      ...fleetConfigLines(fleet, { labels: () => ({ role: "app" }) }),
      "workflows:",
      "  w:",
      "    targets: role=app",
      "    strategy: { rolling: { batch: 1 } }",
      "    steps:",
      "      - systemd: { unit: 'worker:{{ vars.n }}.service', state: started }",
    ], ["--var", "n=1"]);
    expect(code).toBe(0);
    // One host starts it; the next finds it active (the stand-in's units are shared by the loopback hosts).
    expect(steps.map((s) => s.status)).toEqual(["changed", "ok"]);
    expect((await fake.calls()).slice(before)).toEqual([
      "[is-active][--quiet][worker:1.service]",
      "[start][worker:1.service]",
      "[is-active][--quiet][worker:1.service]",
    ]);
  });
});
