import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { emptyConfig, loadConfig, type LoadedConfig } from "../config/index.ts";
import { adHocTargets } from "./ad-hoc.ts";
import type { Target } from "./types.ts";

let home: string;
let project: string;
let configured: LoadedConfig;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "opskit-adhoc-"));
  project = join(home, "project");
  await mkdir(join(home, ".ssh"), { recursive: true });
  await mkdir(project);
  await writeFile(
    join(home, ".ssh", "config"),
    ["Host bastion", "  HostName 192.0.2.1", "Host db*", "  User dba", "  Port 2200", "  IdentityFile ~/.ssh/db_key", "  ProxyJump bastion", "  UserKnownHostsFile ~/.ssh/known_db", "Host lab*", "  StrictHostKeyChecking no"].join("\n"),
  );
  await writeFile(join(project, "opskit.yaml"), "defaults: { user: deploy, port: 2022, key: keys/fleet }\n");
  await writeFile(join(project, "hosts.txt"), "# the web tier\nweb[1-2]\n\nroot@db1  # the primary\n");
  configured = await loadConfig({ cwd: project });
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const env = () => ({ HOME: home, USER: "me" });
const shape = ({ name, address, port, user, keys, proxyJump, knownHostsFiles, hostKeyNotes, source }: Target) => ({ name, address, port, user, keys, proxyJump, knownHostsFiles, hostKeyNotes, source });

describe("ad-hoc targets", () => {
  test("without a config: ~/.ssh/config applies as ssh would, then $USER and port 22; user@ and :port in the pattern win", async () => {
    const targets = await adHocTargets(await emptyConfig(project), "web1,admin@db2:22,lab3", { env: env(), cwd: project });
    expect(targets.map(shape)).toEqual([
      { name: "web1", address: "web1", port: 22, user: "me", keys: [], proxyJump: undefined, knownHostsFiles: undefined, hostKeyNotes: undefined, source: "-H" },
      {
        name: "admin@db2:22",
        address: "db2",
        port: 22,
        user: "admin",
        keys: [join(home, ".ssh", "db_key")],
        proxyJump: "bastion",
        knownHostsFiles: [join(home, ".ssh", "known_db")],
        hostKeyNotes: undefined,
        source: `-H, ${join(home, ".ssh", "config")}`,
      },
      {
        name: "lab3",
        address: "lab3",
        port: 22,
        user: "me",
        keys: [],
        proxyJump: undefined,
        knownHostsFiles: undefined,
        hostKeyNotes: [`${join(home, ".ssh", "config")}:10: StrictHostKeyChecking no is not followed (opskit's defaults.hostKeyChecking decides)`],
        source: `-H, ${join(home, ".ssh", "config")}`,
      },
    ]);
  });

  test("with a config: its defaults apply under ~/.ssh/config's settings", async () => {
    const [web, db] = await adHocTargets(configured, "web1,db2", { env: env(), cwd: project });
    expect(web).toMatchObject({ port: 2022, user: "deploy", keys: [join(project, "keys", "fleet")] });
    expect(db).toMatchObject({ port: 2200, user: "dba", keys: [join(home, ".ssh", "db_key")] });
  });

  test("@file reads a pattern a line, comments and blank lines skipped; each host names its file:line", async () => {
    const targets = await adHocTargets(configured, "@hosts.txt", { env: env(), cwd: project });
    expect(targets.map(({ name, user, source }) => ({ name, user, source }))).toEqual([
      { name: "web1", user: "deploy", source: "hosts.txt:2" },
      { name: "web2", user: "deploy", source: "hosts.txt:2" },
      { name: "root@db1", user: "root", source: `hosts.txt:4, ${join(home, ".ssh", "config")}` },
    ]);
    await expect(adHocTargets(configured, "@missing.txt", { env: env(), cwd: project })).rejects.toThrow(`-H @missing.txt: cannot read ${join(project, "missing.txt")}`);
  });
});
