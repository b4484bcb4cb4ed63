import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../config/index.ts";
import { resolveInventory } from "./resolve.ts";
import type { Target } from "./types.ts";

let root: string;
let count = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "opskit-inventory-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes a project (opskit.yaml plus other files) and resolves its inventory. */
async function resolve(files: Record<string, string>, env: Record<string, string | undefined> = { HOME: "/home/u", USER: "me" }): Promise<Map<string, Target>> {
  const dir = join(root, `p${++count}`);
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const loaded = await loadConfig({ cwd: dir });
  const targets = await resolveInventory(loaded, { env, cwd: dir });
  return new Map(targets.map((t) => [t.name, t]));
}

const yaml = (lines: string[]) => `${lines.join("\n")}\n`;

describe("hosts and defaults", () => {
  test("address defaults to the name, port to defaults.port then 22, user to defaults.user then $USER then root", async () => {
    const plain = await resolve({ "opskit.yaml": yaml(["inventory:", "  hosts:", "    web-1:", "    web-2: { port: 2200, user: alice, address: 10.0.0.2 }"]) });
    expect(plain.get("web-1")).toMatchObject({ address: "web-1", port: 22, user: "me", keys: [], source: "opskit.yaml:3:5" });
    expect(plain.get("web-2")).toMatchObject({ address: "10.0.0.2", port: 2200, user: "alice" });
    const defaulted = await resolve({ "opskit.yaml": yaml(["defaults: { port: 2022, user: deploy }", "inventory:", "  hosts:", "    web-1: {}"]) });
    expect(defaulted.get("web-1")).toMatchObject({ port: 2022, user: "deploy" });
    const rootUser = await resolve({ "opskit.yaml": yaml(["inventory:", "  hosts:", "    web-1: {}"]) }, { HOME: "/home/u" });
    expect(rootUser.get("web-1")!.user).toBe("root");
  });

  test("keys come from the host, else defaults.key; ~ is the home directory and relative paths the config's directory", async () => {
    const targets = await resolve({
      "opskit.yaml": yaml(["defaults: { key: [~/.ssh/id_ed25519, keys/fleet] }", "inventory:", "  hosts:", "    a: {}", "    b: { key: /etc/keys/b }"]),
    });
    expect(targets.get("a")!.keys).toEqual(["/home/u/.ssh/id_ed25519", join(root, `p${count}`, "keys/fleet")]);
    expect(targets.get("b")!.keys).toEqual(["/etc/keys/b"]);
  });

  test("targets are sorted by name, numbers in order", async () => {
    const targets = await resolve({ "opskit.yaml": yaml(["inventory:", "  hosts: { web-10: {}, web-2: {}, db-1: {}, web-1: {} }"]) });
    expect([...targets.keys()]).toEqual(["db-1", "web-1", "web-2", "web-10"]);
  });
});

describe("groups", () => {
  const config = yaml([
    "inventory:",
    "  hosts:",
    "    web-1: { labels: { role: web, tier: custom }, vars: { port: 81 } }",
    "    web-2: { labels: { role: web } }",
    "    db-1: { labels: { role: db } }",
    "  groups:",
    "    prod:",
    "      children: [frontends]",
    "      hosts: [db-1]",
    "      labels: { env: prod, tier: backend }",
    "      vars: { ntp: ntp.prod, port: 80 }",
    "    frontends:",
    "      hosts: [web-1, web-2]",
    "      labels: { tier: frontend }",
    "      vars: { port: 8080 }",
  ]);

  test("members get the group's labels and vars; a nested group's win over its parent's, the host's own over both", async () => {
    const targets = await resolve({ "opskit.yaml": config });
    expect(targets.get("web-2")).toMatchObject({ labels: { role: "web", env: "prod", tier: "frontend" }, vars: { ntp: "ntp.prod", port: 8080 }, groups: ["frontends", "prod"] });
    expect(targets.get("web-1")).toMatchObject({ labels: { tier: "custom" }, vars: { port: 81 } });
    expect(targets.get("db-1")).toMatchObject({ labels: { env: "prod", tier: "backend" }, groups: ["prod"] });
  });

  test("an unknown member host is an error at its file:line:col", async () => {
    const run = resolve({ "opskit.yaml": yaml(["inventory:", "  hosts: { web-1: {} }", "  groups:", "    web:", "      hosts: [web-1, web-3]"]) });
    await expect(run).rejects.toThrow('opskit.yaml:5:22: group "web" lists unknown host "web-3"');
  });

  test("a member may be a host pattern: every host it names joins, and one not defined is an error", async () => {
    const hosts = ["inventory:", "  hosts: { web01: {}, web02: {}, web03: {}, db1: {} }", "  groups:", "    web:", "      labels: { role: web }"];
    const targets = await resolve({ "opskit.yaml": yaml([...hosts, "      hosts: ['web[01-02]', web03]"]) });
    expect([...targets.values()].filter((t) => t.groups.includes("web")).map((t) => t.name)).toEqual(["web01", "web02", "web03"]);
    await expect(resolve({ "opskit.yaml": yaml([...hosts, "      hosts: ['web[01-04]']"]) })).rejects.toThrow('opskit.yaml:6:15: group "web" lists unknown host "web04"');
    await expect(resolve({ "opskit.yaml": yaml([...hosts, "      hosts: ['web[01-']"]) })).rejects.toThrow('opskit.yaml:6:15: column 4 of "web[01-": "[" is not closed');
  });

  test("an unknown child group is an error at its file:line:col", async () => {
    const run = resolve({ "opskit.yaml": yaml(["inventory:", "  groups:", "    prod:", "      children:", "        - frontend"]) });
    await expect(run).rejects.toThrow('opskit.yaml:5:11: group "prod" lists unknown child group "frontend"');
  });

  test("a group that contains itself is an error", async () => {
    const run = resolve({ "opskit.yaml": yaml(["inventory:", "  groups:", "    a: { children: [b] }", "    b: { children: [a] }"]) });
    await expect(run).rejects.toThrow('contains itself (a > b > a)');
  });

  test("children may name a group from an Ansible source", async () => {
    const targets = await resolve({
      "opskit.yaml": yaml(["inventory:", "  groups:", "    prod: { children: [webservers], labels: { env: prod } }", "  sources:", "    - ansible: inventory.ini"]),
      "inventory.ini": "[webservers]\nweb-1\n[db]\ndb-1\n",
    });
    expect(targets.get("web-1")).toMatchObject({ labels: { env: "prod" }, groups: ["prod", "webservers"] });
    expect(targets.get("db-1")!.labels).toEqual({});
  });
});

describe("sources", () => {
  test("each kind yields targets with the source's labels added", async () => {
    const targets = await resolve({
      "opskit.yaml": yaml([
        "inventory:",
        "  sources:",
        "    - ssh_config: ssh_config",
        "      labels: { from: ssh }",
        "    - ansible: inventory.yml",
        "      labels: { from: ansible }",
        "    - hosts: hosts.txt",
        "      labels: { from: list }",
      ]),
      ssh_config: "Host bastion\n  HostName 203.0.113.1\n  User jump\n",
      "inventory.yml": "all:\n  children:\n    db:\n      hosts:\n        db-1:\n          ansible_host: 10.0.2.1\n",
      "hosts.txt": "worker-1:2200\n",
    });
    expect(targets.get("bastion")).toMatchObject({ address: "203.0.113.1", user: "jump", labels: { from: "ssh" }, source: "ssh_config:1" });
    expect(targets.get("db-1")).toMatchObject({ address: "10.0.2.1", groups: ["db"], labels: { from: "ansible" } });
    expect(targets.get("worker-1")).toMatchObject({ port: 2200, labels: { from: "list" } });
  });

  test("a host defined twice merges: later sources over earlier ones field by field, inventory.hosts last, groups united", async () => {
    const targets = await resolve({
      "opskit.yaml": yaml([
        "inventory:",
        "  hosts:",
        "    web-1: { labels: { role: web }, vars: { a: opskit } }",
        "  sources:",
        "    - ansible: one.ini",
        "    - ansible: two.ini",
      ]),
      "one.ini": "[web]\nweb-1 ansible_host=10.0.0.1 ansible_user=one a=one b=one\n",
      "two.ini": "[canary]\nweb-1 ansible_port=2222 b=two\n",
    });
    expect(targets.get("web-1")).toMatchObject({
      address: "10.0.0.1",
      user: "one",
      port: 2222,
      vars: { a: "opskit", b: "two" },
      labels: { role: "web" },
      groups: ["canary", "web"],
      source: "one.ini:2, two.ini:2, opskit.yaml:3:5",
    });
  });

  test("a missing source file is an error at the source entry", async () => {
    const run = resolve({ "opskit.yaml": yaml(["inventory:", "  sources:", "    - hosts: nope.txt"]) });
    await expect(run).rejects.toThrow("opskit.yaml:3:14: cannot read hosts source nope.txt");
  });
});

describe("become settings", () => {
  test("a host's becomeUser and becomeMethod win over its groups', a later group's over an earlier one's; none set, no become", async () => {
    const targets = await resolve({
      "opskit.yaml": yaml([
        "inventory:",
        "  hosts:",
        "    db-1: {}",
        "    db-2: { becomeUser: postgres }",
        "    web-1: {}",
        "  groups:",
        "    all-db: { hosts: [db-1, db-2], becomeUser: nobody, becomeMethod: doas }",
        "    zz-db: { hosts: [db-1], becomeMethod: su }",
      ]),
    });
    expect(targets.get("db-1")!.become).toEqual({ user: "nobody", method: "su" });
    expect(targets.get("db-2")!.become).toEqual({ user: "postgres", method: "doas" });
    expect(targets.get("web-1")!.become).toBeUndefined();
  });
});
