import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOpskit } from "./harness/cli.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-inventory-cli-"));
  await writeFile(
    join(dir, "opskit.yaml"),
    [
      "defaults: { user: deploy }",
      "inventory:",
      "  hosts:",
      "    web-1: { address: 10.0.1.1, labels: { role: web, zone: a } }",
      "    web-2: { address: 10.0.1.2, labels: { role: web, zone: b, canary: 'true' } }",
      "    web-10: { address: 10.0.1.10, port: 2222, labels: { role: web, zone: c } }",
      "    db-1: { address: 10.0.2.1, user: postgres, labels: { role: db, zone: a } }",
      "  groups:",
      "    frontends: { hosts: [web-1, web-2, web-10] }",
      "    prod: { children: [frontends], hosts: [db-1] }",
      "  sources:",
      "    - ssh_config: ssh_config",
      "      labels: { role: bastion }",
      "    - ansible: inventory.ini",
      "    - hosts: hosts.txt",
      "      labels: { role: worker }",
      "",
    ].join("\n"),
  );
  await writeFile(join(dir, "ssh_config"), "Host bastion\n  HostName 203.0.113.7\n  User jump\nHost *\n  Port 22\n");
  await writeFile(join(dir, "inventory.ini"), "[cache]\ncache-1 ansible_host=10.0.3.1 ansible_port=6022 ansible_user=redis\n");
  await writeFile(join(dir, "hosts.txt"), "# workers\nops@worker-1:2200\nworker-2\n");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const inventory = (...args: string[]) => runOpskit(["inventory", ...args], { cwd: dir });
const names = async (selector: string) => {
  const run = await inventory("--json", selector);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return run.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line).name);
};

describe("opskit inventory", () => {
  test("prints an aligned table sorted by name, then a count", async () => {
    const run = await inventory();
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        "NAME      ADDRESS         USER      GROUPS          LABELS",
        "bastion   203.0.113.7:22  jump      -               role=bastion",
        "cache-1   10.0.3.1:6022   redis     cache           -",
        "db-1      10.0.2.1:22     postgres  prod            role=db,zone=a",
        "web-1     10.0.1.1:22     deploy    frontends,prod  role=web,zone=a",
        "web-2     10.0.1.2:22     deploy    frontends,prod  canary=true,role=web,zone=b",
        "web-10    10.0.1.10:2222  deploy    frontends,prod  role=web,zone=c",
        "worker-1  worker-1:2200   ops       -               role=worker",
        "worker-2  worker-2:22     deploy    -               role=worker",
        "8 targets",
        "",
      ].join("\n"),
    );
  });

  test("--json prints one target per line with every field", async () => {
    const run = await inventory("--json", "name=cache-1");
    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      type: "target",
      name: "cache-1",
      address: "10.0.3.1",
      port: 6022,
      user: "redis",
      labels: {},
      vars: {},
      groups: ["cache"],
      keys: [],
      source: "inventory.ini:2",
    });
  });

  test.each([
    ["role=web", ["web-1", "web-2", "web-10"]],
    ["role==db", ["db-1"]],
    ["role!=web", ["bastion", "cache-1", "db-1", "worker-1", "worker-2"]],
    ["zone in (a,c)", ["db-1", "web-1", "web-10"]],
    ["zone notin (a,c)", ["bastion", "cache-1", "web-2", "worker-1", "worker-2"]],
    ["canary", ["web-2"]],
    ["role=web,!canary", ["web-1", "web-10"]],
    ["name=web-?", ["web-1", "web-2"]],
    ["name=*-1", ["cache-1", "db-1", "web-1", "worker-1"]],
    ["group=prod", ["db-1", "web-1", "web-2", "web-10"]],
    ["group in (cache,frontends),zone!=b", ["cache-1", "web-1", "web-10"]],
  ])("selects with %p", async (selector, expected) => {
    expect(await names(selector)).toEqual(expected);
  });

  test("a selector split across arguments is read as one", async () => {
    expect(await names("zone")).toHaveLength(4);
    const run = await inventory("--json", "zone", "in", "(b)");
    expect(run.stdout.trim().split("\n").map((l) => JSON.parse(l).name)).toEqual(["web-2"]);
  });

  test("no match is exit 0 with a count of zero", async () => {
    const run = await inventory("role=mainframe");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("0 targets match role=mainframe (of 8)\n");
  });

  test("a malformed selector is exit 64 with the selector, a caret at the column and the fix", async () => {
    const run = await inventory("role=web,zone in (a");
    expect(run.code).toBe(64);
    expect(run.stderr).toBe(
      ['opskit: invalid selector: expected ")" to close the set', "  role=web,zone in (a", "                     ^ column 20", "  hint: write a set as zone in (a,b)", ""].join("\n"),
    );
  });

  test("a malformed selector fails before the config is read", async () => {
    const run = await runOpskit(["inventory", "role in"], { cwd: tmpdir() });
    expect(run.code).toBe(64);
  });
});

describe("a CSV source", () => {
  test("its rows are targets: groups select, other columns are labels, the entry's labels apply, and opskit.yaml's host wins", async () => {
    const project = join(dir, "csv");
    await mkdir(project, { recursive: true });
    await writeFile(
      join(project, "opskit.yaml"),
      ["inventory:", "  hosts:", "    web-2: { port: 2200 }", "  sources:", "    - csv: cmdb.csv", "      labels: { dc: fra }", ""].join("\n"),
    );
    await writeFile(join(project, "cmdb.csv"), ["name,address,user,groups,role,owner", "web-1,10.0.1.1,deploy,frontends,web,team-a", 'web-2,10.0.1.2,,frontends prod,web,"team b, on call"', "db-1,10.0.2.1,postgres,prod,db,", ""].join("\n"));
    const run = await runOpskit(["inventory", "--json", "group=prod"], { cwd: project });
    expect([run.code, run.stderr]).toEqual([0, ""]);
    const targets = run.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(targets.map(({ name, address, port, user, groups, labels, source }) => ({ name, address, port, user, groups, labels, source }))).toEqual([
      { name: "db-1", address: "10.0.2.1", port: 22, user: "postgres", groups: ["prod"], labels: { dc: "fra", role: "db" }, source: "cmdb.csv:4" },
      { name: "web-2", address: "10.0.1.2", port: 2200, user: expect.any(String), groups: ["frontends", "prod"], labels: { dc: "fra", role: "web", owner: "team b, on call" }, source: "cmdb.csv:3, opskit.yaml:3:5" },
    ]);
  });

  test("a source entry names one kind, and the message lists every registered one", async () => {
    const project = join(dir, "csv-two");
    await mkdir(project, { recursive: true });
    await writeFile(join(project, "opskit.yaml"), ["inventory:", "  sources:", "    - { csv: a.csv, hosts: b.txt }", ""].join("\n"));
    const run = await runOpskit(["validate"], { cwd: project });
    expect(run.code).toBe(65);
    expect(run.stderr).toContain("opskit.yaml:3:7: inventory.sources[0]: give exactly one of ssh_config, ansible, hosts, csv or kubeconfig");
  });
});
