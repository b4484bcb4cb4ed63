import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openJournal } from "../src/journal/index.ts";
import { repoRoot, runOpskit } from "./harness/cli.ts";
import { hostileValues, pwnedMarker } from "./harness/hostile.ts";
import { alertmanagerNotification, collectOutput, startServe, writeConfig, type ServeProcess } from "./harness/serve.ts";

// The terraform action through the real CLI (`opskit run`, `opskit serve`,
// `opskit incidents approve`). No Terraform or OpenTofu can be installed on
// these machines: the binary is a stand-in (test/fixtures/terraform/terraform)
// that keeps the CLI's contract (-chdir, init, plan -out -detailed-exitcode,
// show -json, apply PLANFILE, their exit codes) and plans whatever plan
// document in the documented JSON format the working directory holds
// (test/fixtures/terraform/plans). It logs every call's argv exactly, so the
// tests assert what ran.
const standIn = join(repoRoot, "test/fixtures/terraform/terraform");
const plans = join(repoRoot, "test/fixtures/terraform/plans");

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "opskit-terraform-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Call {
  pid: number;
  /** TF_IN_AUTOMATION as the binary saw it. */
  automation: string;
  /** The arguments after the program name. */
  args: string[];
}

/** The stand-in's argv log: pid, TF_IN_AUTOMATION, argc, then each argument, NUL-terminated. */
function calls(dir: string): Call[] {
  const file = join(dir, "terraform-argv.log");
  if (!existsSync(file)) return [];
  const fields = new TextDecoder().decode(readFileSync(file)).split("\0");
  const out: Call[] = [];
  for (let i = 0; i + 2 < fields.length; ) {
    const count = Number(fields[i + 2]);
    out.push({ pid: Number(fields[i]), automation: fields[i + 1]!, args: fields.slice(i + 3, i + 3 + count) });
    i += 3 + count;
  }
  return out;
}
const verbs = (dir: string) => calls(dir).map((c) => c.args[1]);
const argOf = (call: Call | undefined, prefix: string) => call?.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
const sha256 = (bytes: Uint8Array) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

/** A config directory whose infra/ holds the plan fixture as the configuration to plan, and any stand-in controls. */
async function project(fixture: string, controls: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(root, "project-"));
  await mkdir(join(dir, "infra"));
  await copyFile(join(plans, fixture), join(dir, "infra", "plan.json"));
  for (const [name, text] of Object.entries(controls)) await writeFile(join(dir, "infra", name), text);
  return dir;
}

const workflow = (spec: Record<string, unknown>, extra = "") => `workflows:
  w:
${extra}    steps:
      - name: tf
        terraform: ${JSON.stringify({ binary: standIn, dir: "infra", ...spec })}
`;

async function run(dir: string, yaml: string, args: string[] = []) {
  await writeFile(join(dir, "opskit.yaml"), yaml);
  const result = await runOpskit(["run", "--journal", join(dir, "journal.db"), "-c", join(dir, "opskit.yaml"), "w", "--json", ...args], { cwd: dir });
  const events = result.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, any>);
  const step = events.find((e) => e.type === "step.finished");
  return { ...result, step, runId: events.find((e) => e.type === "run.started")?.runId as string };
}

const planFiles = async (dir: string) => Array.from(new Bun.Glob("*.tfplan").scanSync({ cwd: join(dir, "infra/.terraform/opskit-plans") }));

describe("terraform in opskit run", () => {
  test("no changes: init and plan ran with -input=false and TF_IN_AUTOMATION, the step is unchanged, nothing applied", async () => {
    const dir = await project("noop.json");
    const { code, step } = await run(dir, workflow({ apply: true }));
    expect(code).toBe(0);
    expect([step!.status, step!.result.data.plan, step!.result.data.applied]).toEqual(["ok", "unchanged", false]);
    const [init, plan, ...rest] = calls(dir);
    expect(init!.args).toEqual(["-chdir=infra", "init", "-input=false", "-no-color"]);
    expect(plan!.args.slice(0, 5)).toEqual(["-chdir=infra", "plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    expect(rest).toEqual([]);
    expect([init!.automation, plan!.automation]).toEqual(["1", "1"]);
    expect(await planFiles(dir)).toEqual([]);
  });

  test("changes: apply takes exactly the saved plan file that plan wrote, and the step result and journal hold its resource changes", async () => {
    const dir = await project("create.json");
    const { code, step, runId } = await run(dir, workflow({ apply: true }));
    expect(code).toBe(0);
    expect(verbs(dir)).toEqual(["init", "plan", "show", "apply"]);
    const [, plan, show, apply] = calls(dir);
    const saved = argOf(plan, "-out=")!;
    expect(saved).toMatch(/^\.terraform\/opskit-plans\/[0-9a-f-]+\.tfplan$/);
    expect(show!.args).toEqual(["-chdir=infra", "show", "-json", "-no-color", saved]);
    expect(apply!.args).toEqual(["-chdir=infra", "apply", "-input=false", "-no-color", saved]);
    // The stand-in logs the sha256 of the file it applied: the one recorded at plan time.
    const applied = (await readFile(join(dir, "infra/applied.log"), "utf8")).trim();
    expect(step!.status).toBe("changed");
    expect(step!.result.data).toMatchObject({
      plan: "changed",
      applied: true,
      sha256: applied,
      counts: { create: 1, update: 0, delete: 0, replace: 0, read: 0, forget: 0 },
      resourceChanges: [{ address: "aws_route53_record.www", type: "aws_route53_record", action: "create", actions: ["create"] }],
      outputChanges: [{ name: "www_fqdn", actions: ["create"] }],
    });
    expect(await planFiles(dir)).toEqual([]);
    const journal = await openJournal(join(dir, "journal.db"));
    try {
      const [recorded] = await journal.stepProgress(runId);
      expect(recorded!.result!.data).toMatchObject({ plan: "changed", applied: true, resourceChanges: [{ address: "aws_route53_record.www", action: "create" }] });
      // Values of the plan (before/after) are not the step's to keep.
      expect(JSON.stringify(recorded!.result!.data)).not.toContain("www.example.com");
    } finally {
      await journal.close();
    }
  });

  test("plan only (apply: false): changed, nothing applied; a failing plan fails the step with its error", async () => {
    const dir = await project("update.json");
    const planned = await run(dir, workflow({}));
    expect([planned.code, planned.step!.status, planned.step!.result.data.plan, planned.step!.result.data.applied]).toEqual([0, "changed", "changed", false]);
    expect(verbs(dir)).toEqual(["init", "plan", "show"]);
    await writeFile(join(dir, "infra/plan-error"), "Invalid provider configuration");
    const failed = await run(dir, workflow({ apply: true }));
    expect([failed.code, failed.step!.status, failed.step!.result.data.plan]).toEqual([2, "failed", "failed"]);
    expect(failed.step!.result.error).toMatchObject({ code: "E_TERRAFORM_PLAN", message: "terraform plan failed (exit status 1)" });
    expect(failed.step!.result.stderr).toContain("Invalid provider configuration");
    expect(verbs(dir).slice(3)).toEqual(["init", "plan"]);
    expect(await planFiles(dir)).toEqual([]);
  });

  test("a plan that destroys is refused, naming each address and the fix; allowDestroy: true applies it", async () => {
    const dir = await project("delete.json");
    await writeFile(join(dir, "opskit.yaml"), workflow({ apply: true }));
    const text = await runOpskit(["run", "--journal", join(dir, "journal.db"), "-c", join(dir, "opskit.yaml"), "w"], { cwd: dir });
    expect(text.code).toBe(2);
    expect(text.stdout).toContain("the plan would destroy aws_instance.old (delete_because_no_resource_config); refused: set allowDestroy: true on the step if it should, or review the plan first");
    expect(verbs(dir)).toEqual(["init", "plan", "show"]);
    const kept = await planFiles(dir);
    expect(kept).toHaveLength(1);
    expect(text.stdout).toContain(`show .terraform/opskit-plans/${kept[0]}`);

    const refused = await run(dir, workflow({ apply: true }));
    expect(refused.step!.result.error.code).toBe("E_TERRAFORM_DESTROY");
    expect(refused.step!.result.data).toMatchObject({ applied: false, refused: { gate: "allowDestroy", addresses: ["aws_instance.old"] } });
    expect(verbs(dir)).not.toContain("apply");

    const allowed = await run(dir, workflow({ apply: true, allowDestroy: true }));
    expect([allowed.code, allowed.step!.status, allowed.step!.result.data.applied]).toEqual([0, "changed", true]);
    expect(verbs(dir).at(-1)).toBe("apply");
  });

  test("replacements are refused in both orders (destroy first, create first)", async () => {
    for (const [fixture, address, order] of [
      ["replace-destroy-first.json", "aws_db_instance.main", "destroy, then create"],
      ["replace-create-first.json", "aws_instance.web", "create, then destroy"],
    ] as const) {
      const dir = await project(fixture);
      const { code, step } = await run(dir, workflow({ apply: true }));
      expect(code).toBe(2);
      expect(step!.result.error.code).toBe("E_TERRAFORM_DESTROY");
      expect(step!.result.error.message).toStartWith(`the plan would replace ${address} (${order}; `);
      expect(step!.result.data.counts.replace).toBe(1);
      expect(verbs(dir)).not.toContain("apply");
    }
  });

  test("maxChanges refuses a plan that changes more resources", async () => {
    const dir = await project("many.json");
    const { step } = await run(dir, workflow({ apply: true, maxChanges: 3 }));
    expect(step!.result.error.code).toBe("E_TERRAFORM_MAX_CHANGES");
    expect(step!.result.error.message).toContain("the plan would change 5 resources, more than maxChanges 3");
    expect(verbs(dir)).not.toContain("apply");
  });

  test("a plan file changed between plan and apply is refused and left as found", async () => {
    // tamper-after-show: the stand-in appends to the plan file once it has shown it, as another writer would.
    const dir = await project("update.json", { "tamper-after-show": "" });
    const { code, step } = await run(dir, workflow({ apply: true }));
    expect(code).toBe(2);
    expect(step!.result.error.code).toBe("E_TERRAFORM_PLAN_CHANGED");
    expect(step!.result.error.message).toContain("is not the one planned");
    expect(verbs(dir)).toEqual(["init", "plan", "show"]);
    expect(existsSync(join(dir, "infra/applied.log"))).toBe(false);
    expect(await planFiles(dir)).toHaveLength(1);
  });

  test("hostile --var values reach terraform as one argument each, unchanged", async () => {
    const dir = await project("update.json");
    const values = hostileValues.map((h) => h.value);
    const vars = Object.fromEntries(values.map((_, i) => [`v${i}`, `{{ vars.h${i} }}`]));
    const { code } = await run(dir, workflow({ vars }), values.map((value, i) => `--var=h${i}=${value}`));
    expect(code).toBe(0);
    const plan = calls(dir).find((c) => c.args[1] === "plan")!;
    // As any argv carries text: UTF-8, a lone surrogate as U+FFFD.
    const asArgv = (value: string) => new TextDecoder().decode(new TextEncoder().encode(value));
    expect(plan.args.filter((a) => a.startsWith("-var="))).toEqual(values.map((value, i) => `-var=v${i}=${asArgv(value)}`));
    expect(existsSync(pwnedMarker)).toBe(false);
  });

  test("it runs once per target: targets sharing a directory take turns, each with its own saved plan; a templated dir keeps them apart", async () => {
    const dir = await project("update.json", { "slow-plan": "1" });
    const fleet = `inventory:\n  hosts:\n    eu: { address: 192.0.2.1, labels: { stack: dns } }\n    us: { address: 192.0.2.2, labels: { stack: dns } }\n`;
    const targeted = (spec: Record<string, unknown>) => fleet + workflow({ apply: true, ...spec }, "    targets: stack=dns\n");
    const shared = await run(dir, targeted({}));
    expect(shared.code).toBe(0);
    // Both targets planned and applied in infra/, one after the other (the plans take a second each).
    expect(verbs(dir)).toEqual(["init", "plan", "show", "apply", "init", "plan", "show", "apply"]);
    const outs = calls(dir).filter((c) => c.args[1] === "plan").map((c) => argOf(c, "-out="));
    expect(new Set(outs).size).toBe(2);
    await mkdir(join(dir, "envs"));
    for (const name of ["eu", "us"]) await Bun.$`cp -r ${join(dir, "infra")} ${join(dir, "envs", name)}`.quiet();
    const apart = await run(dir, targeted({ dir: "envs/{{ target.name }}" }));
    expect(apart.code).toBe(0);
    const chdirs = calls(dir).slice(8).map((c) => c.args[0]);
    expect(chdirs.slice(0, 2).sort()).toEqual(["-chdir=envs/eu", "-chdir=envs/us"]);
  });

  test("a bare binary name is found on the step's PATH (tofu)", async () => {
    const dir = await project("update.json");
    await mkdir(join(dir, "bin"));
    await Bun.$`ln -s ${standIn} ${join(dir, "bin", "tofu")}`.quiet();
    const { code, step } = await run(dir, workflow({ binary: "tofu", env: { PATH: `${join(dir, "bin")}:/usr/bin:/bin` } }));
    expect([code, step!.status]).toEqual([0, "changed"]);
    expect(step!.description).toStartWith("terraform: tofu -chdir=infra plan ");
  });

  test("permissions judge the rendered command lines: plan allowed, apply denied, nothing runs", async () => {
    const dir = await project("create.json");
    const permissions = `    permissions: { hosts: name=local, commands: ['* -chdir=infra init *', '* -chdir=infra plan *'] }\n`;
    const { code, step } = await run(dir, workflow({ apply: true }, permissions));
    expect(code).toBe(2);
    expect(step!.result.error.code).toBe("E_POLICY_DENIED");
    expect(step!.result.error.message).toContain("terraform apply");
    expect(step!.result.error.message).toContain("-chdir=infra apply -input=false -no-color .terraform/opskit-plans/");
    expect(calls(dir)).toEqual([]);
    const planOnly = await run(dir, workflow({}, permissions));
    expect(planOnly.code).toBe(0);
  });
});

describe("examples/terraform", () => {
  test("validates and runs as written, terraform found on PATH, its credentials read from the environment", async () => {
    const dir = await mkdtemp(join(root, "example-"));
    await Bun.$`cp -r ${join(repoRoot, "examples/terraform")}/. ${dir}`.quiet();
    await mkdir(join(dir, "infra/dns"), { recursive: true });
    await copyFile(join(plans, "create.json"), join(dir, "infra/dns/plan.json"));
    await writeFile(join(dir, "infra/dns/prod.tfvars"), 'ttl = 300\n');
    await mkdir(join(dir, "bin"));
    await Bun.$`ln -s ${standIn} ${join(dir, "bin", "terraform")}`.quiet();
    const env = { PATH: `${join(dir, "bin")}:${process.env.PATH}`, AWS_ACCESS_KEY_ID: "AKIAEXAMPLEEXAMPLE", AWS_SECRET_ACCESS_KEY: "example-secret-key-0123456789" };
    const validated = await runOpskit(["validate", "-c", dir], { env });
    expect([validated.code, validated.stderr]).toEqual([0, ""]);
    const result = await runOpskit(["run", "--journal", join(dir, "journal.db"), "-c", dir, "reconcile-dns", "--var", "zone=corp.example", "--json"], { cwd: dir, env });
    expect(result.code).toBe(0);
    const steps = result.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).filter((e) => e.type === "step.finished");
    expect(steps.map((s) => [s.name, s.status])).toEqual([["dns", "changed"], ["report", "changed"]]);
    expect(steps[1].result.stdout).toBe("applied 1 resource changes to corp.example\n");
    expect(calls(dir).find((c) => c.args[1] === "plan")!.args.slice(-2)).toEqual(["-var-file=prod.tfvars", "-var=zone=corp.example"]);
    for (const file of ["journal.db", "journal.db-wal"].filter((f) => existsSync(join(dir, f)))) expect(readFileSync(join(dir, file)).includes(Buffer.from("example-secret-key-0123456789"))).toBe(false);
  });
});

describe("stopping terraform", () => {
  let child: { exitCode: number | null; kill(signal?: NodeJS.Signals): void } | undefined;
  afterEach(() => {
    if (child?.exitCode === null) child.kill("SIGKILL");
  });

  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const waitFor = async (what: string, until: () => boolean, timeoutMs = 20_000) => {
    for (const end = Date.now() + timeoutMs; !until(); await Bun.sleep(50)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  };

  test("Ctrl-C sends terraform SIGINT, which stops its apply cleanly; the run is interrupted", async () => {
    const dir = await project("create.json", { "slow-apply": "60" });
    await writeFile(join(dir, "opskit.yaml"), workflow({ apply: true }));
    const opskit = Bun.spawn([process.execPath, `${repoRoot}src/cli/main.ts`, "run", "--journal", join(dir, "journal.db"), "-c", join(dir, "opskit.yaml"), "w", "--json"], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1" },
      stdout: "pipe",
      stderr: "pipe",
    });
    child = opskit;
    const output = collectOutput(opskit);
    const signals = join(dir, "terraform-signals.log");
    await waitFor("the apply to start", () => existsSync(signals) && readFileSync(signals, "utf8").includes("slow"));
    opskit.kill("SIGINT");
    expect(await opskit.exited).toBe(130);
    await output.drained;
    const apply = calls(dir).find((c) => c.args[1] === "apply")!;
    expect(readFileSync(signals, "utf8").split("\n").filter(Boolean).slice(1)).toEqual(["INT"]);
    expect(alive(apply.pid)).toBe(false);
    expect(existsSync(join(dir, "infra/applied.log"))).toBe(false);
    const step = output.text().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).find((e) => e.type === "step.finished");
    expect(step.result.error.code).toBe("E_INTERRUPTED");
    expect(step.result.stderr).toContain("Gracefully shutting down");
  });

  test("a timeout gives terraform SIGINT, then SIGTERM after stopGrace when it keeps going", async () => {
    const dir = await project("create.json", { "slow-plan": "60", "ignore-int": "" });
    const started = performance.now();
    const { code, step } = await run(dir, workflow({ apply: true, stopGrace: "1s" }).replace("        terraform:", "        timeout: 2s\n        terraform:"));
    expect(code).toBe(2);
    expect(step!.result.error).toMatchObject({ code: "E_COMMAND_TIMEOUT", message: "terraform timed out after 2s" });
    expect(readFileSync(join(dir, "terraform-signals.log"), "utf8").split("\n").filter(Boolean).slice(1)).toEqual(["INT", "TERM"]);
    const plan = calls(dir).find((c) => c.args[1] === "plan")!;
    expect(alive(plan.pid)).toBe(false);
    expect(performance.now() - started).toBeLessThan(30_000);
  });
});

describe("terraform in opskit serve", () => {
  const running: ServeProcess[] = [];
  afterEach(async () => {
    for (const server of running.splice(0)) if (server.child.exitCode === null) await server.kill();
  });

  async function serveDrift(fixture: string): Promise<{ server: ServeProcess; dir: string }> {
    const dir = await project(fixture);
    const yaml = `workflows:
  infra:
    targets: local
    steps:
      - name: before
        exec: "echo ran >> before.log"
      - name: tf
        timeout: 30s
        terraform: ${JSON.stringify({ binary: standIn, dir: "infra", apply: true })}
    hooks:
      on_failure:
        - name: failed
          exec: "echo failed >> on-failure.log"
rules:
  - name: drift
    match: { alertname: Drift }
    run: infra
`;
    const server = await startServe(writeConfig(yaml, dir));
    running.push(server);
    expect((await server.post("/api/v1/alerts/alertmanager", alertmanagerNotification([{ labels: { alertname: "Drift", stack: "prod" } }]))).status).toBe(200);
    return { server, dir };
  }
  const timeline = (view: any) => view.events.map((e: any) => e.message).join("\n");
  const cli = (server: ServeProcess, args: string[]) => runOpskit([...args, "--server", server.url], { env: { OPSKIT_TOKEN: server.token ?? "" }, cwd: server.dir });

  test("a plan that would destroy holds the incident for approval with the plan summary; approving applies exactly that saved plan", async () => {
    const { server, dir } = await serveDrift("delete.json");
    const held = await server.waitFor("/api/v1/incidents/1", (v) => v.attempts[0]?.status === "awaiting_approval" && v);
    expect(timeline(held)).toContain("waiting: approval required for attempt 1 to go on");
    expect(timeline(held)).toContain("the plan would destroy aws_instance.old (delete_because_no_resource_config); Plan: 0 to add, 1 to change, 1 to destroy.");
    expect(held.attempts[0].detail).toContain("aws_instance.old");
    // Waiting is not failing: the workflow's on_failure hooks do not run for a held step.
    expect(existsSync(join(dir, "on-failure.log"))).toBe(false);
    const shown = await cli(server, ["incidents", "show", "1"]);
    expect(shown.stdout).toContain("the plan would destroy aws_instance.old");
    expect(verbs(dir)).toEqual(["init", "plan", "show"]);
    const saved = argOf(calls(dir)[1], "-out=")!;
    const planned = sha256(readFileSync(join(dir, "infra", saved)));
    expect(timeline(held)).toContain(`Saved plan sha256 ${planned.slice(0, 12)}`);

    const approved = await cli(server, ["incidents", "approve", "1"]);
    expect(approved.code).toBe(0);
    const done = await server.waitFor("/api/v1/incidents/1", (v) => v.attempts[0]?.status === "succeeded" && v);
    // No second plan: the approved run shows and applies the file planned before, whose bytes are those approved.
    expect(verbs(dir)).toEqual(["init", "plan", "show", "show", "apply"]);
    expect(calls(dir).at(-1)!.args).toEqual(["-chdir=infra", "apply", "-input=false", "-no-color", saved]);
    expect((await readFile(join(dir, "infra/applied.log"), "utf8")).trim()).toBe(planned);
    // The step before it finished in the held run and is not run again.
    expect((await readFile(join(dir, "before.log"), "utf8")).trim().split("\n")).toEqual(["ran"]);
    expect(timeline(done)).toContain("approved: attempt 1");
    expect(timeline(done)).toMatch(/continues run \S+: steps that finished there do not run again/);
    expect(existsSync(join(dir, "on-failure.log"))).toBe(false);
  });

  test("a held plan whose file changed before the approval is refused: nothing applied, the attempt fails", async () => {
    const { server, dir } = await serveDrift("replace-destroy-first.json");
    await server.waitFor("/api/v1/incidents/1", (v) => v.attempts[0]?.status === "awaiting_approval" && v);
    const saved = argOf(calls(dir)[1], "-out=")!;
    await appendFile(join(dir, "infra", saved), "\n# edited while it waited\n");
    expect((await cli(server, ["incidents", "approve", "1"])).code).toBe(0);
    const failed = await server.waitFor("/api/v1/incidents/1", (v) => v.attempts[0]?.status === "failed" && v);
    // Refused before Terraform read the changed file at all.
    expect(verbs(dir)).toEqual(["init", "plan", "show"]);
    expect(existsSync(join(dir, "infra/applied.log"))).toBe(false);
    // A refusal after the approval is a failure: on_failure runs, once.
    expect((await readFile(join(dir, "on-failure.log"), "utf8")).trim().split("\n")).toEqual(["failed"]);
    const journal = await openJournal(server.journal);
    try {
      const runs = await journal.listRuns();
      const steps = await journal.stepProgress(runs[0]!.id);
      expect(steps.find((s) => s.name === "tf")!.result!.error).toContain("is not the one planned");
    } finally {
      await journal.close();
    }
    expect(failed.attempts[0].detail).toContain("failed=1");
  });
});
