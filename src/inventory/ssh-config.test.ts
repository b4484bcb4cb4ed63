import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { HostRecord } from "./types.ts";
import { sshConfigSource } from "./ssh-config.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "opskit-ssh-config-"));
  await mkdir(join(dir, "conf.d"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `files` are written relative to `homeDir` (default: the test directory). */
async function load(text: string, files: Record<string, string> = {}, homeDir = "/home/u"): Promise<Map<string, HostRecord>> {
  const base = homeDir === "/home/u" ? dir : homeDir;
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(base, name)), { recursive: true });
    await writeFile(join(base, name), content);
  }
  const file = join(dir, "config");
  await writeFile(file, text);
  const hosts = await sshConfigSource.load(text, { file, display: "config", homeDir, env: { USER: "me" }, readText: (path) => Bun.file(path).text() });
  return new Map(hosts.map((h) => [h.name, h]));
}

describe("ssh_config source", () => {
  test("Host blocks with concrete names become hosts; wildcard and negated patterns do not", async () => {
    const hosts = await load(["Host web-1 web-2", "  HostName 10.0.0.1", "Host *.internal !skip", "  User ops", "Host db-?", "  Port 2200"].join("\n"));
    expect([...hosts.keys()]).toEqual(["web-1", "web-2"]);
    expect(hosts.get("web-1")!.source).toBe("config:1");
  });

  test("the first value of a keyword wins across matching blocks, in file order", async () => {
    const hosts = await load(
      [
        "Host web-1",
        "  User alice",
        "Host web-2",
        "  HostName web-2.example.com",
        "Host *",
        "  User bob",
        "  Port 2222",
        "Host web-2",
        "  Port 22", // too late: Host * already set Port
      ].join("\n"),
    );
    expect(hosts.get("web-1")).toMatchObject({ user: "alice", port: 2222 });
    expect(hosts.get("web-2")).toMatchObject({ user: "bob", port: 2222, address: "web-2.example.com" });
  });

  test("global options before the first Host apply to every host", async () => {
    const hosts = await load(["User root", "Host a", "  User other"].join("\n"));
    expect(hosts.get("a")!.user).toBe("root");
  });

  test("IdentityFile accumulates and expands %d, %h, %r and %%", async () => {
    const hosts = await load(
      ["Host app", "  HostName app.example.com", "  User deploy", "  IdentityFile %d/.ssh/%r@%h", "Host *", "  IdentityFile ~/.ssh/id_ed25519", "  IdentityFile 100%%.key"].join("\n"),
    );
    expect(hosts.get("app")!.keys).toEqual(["/home/u/.ssh/deploy@app.example.com", "~/.ssh/id_ed25519", "100%.key"]);
  });

  test("HostName may use %h for the host alias", async () => {
    const hosts = await load(["Host web-1 web-2", "  HostName %h.prod.example.com"].join("\n"));
    expect(hosts.get("web-2")!.address).toBe("web-2.prod.example.com");
  });

  test("a negated pattern keeps a block from a host; ProxyJump none means no jump", async () => {
    const hosts = await load(["Host bastion", "  HostName 203.0.113.5", "Host web-1", "  ProxyJump none", "Host * !bastion", "  ProxyJump bastion", "Host db-1"].join("\n"));
    expect(hosts.get("db-1")!.proxyJump).toBe("bastion");
    expect(hosts.get("bastion")!.proxyJump).toBeUndefined();
    expect(hosts.get("web-1")!.proxyJump).toBeUndefined();
  });

  test("Keyword=value, quoted values, any case and comments are read as ssh reads them", async () => {
    const hosts = await load(['# fleet', "HOST web-1 # the first", '  hostname="10.0.0.9"', '  IdentityFile "/keys/my key"', "  port=2022"].join("\n"));
    expect(hosts.get("web-1")).toMatchObject({ address: "10.0.0.9", port: 2022, keys: ["/keys/my key"] });
  });

  test("Include reads other files (globs, relative to ~/.ssh as ssh reads them); inside a Host block it applies only there", async () => {
    const home = join(dir, "home");
    const hosts = await load(["Include conf.d/*.conf", "Host web-1", "  Include web-extra", "Host *", "  User fallback"].join("\n"), {
      ".ssh/conf.d/10-db.conf": "Host db-1\n  HostName 10.0.2.1\n  User postgres\n",
      ".ssh/conf.d/20-cache.conf": "Host cache-1\n  Port 6000\n",
      ".ssh/web-extra": "User webuser\nPort 2201\n",
    }, home);
    expect([...hosts.keys()].sort()).toEqual(["cache-1", "db-1", "web-1"]);
    expect(hosts.get("db-1")).toMatchObject({ address: "10.0.2.1", user: "postgres" });
    expect(hosts.get("web-1")).toMatchObject({ user: "webuser", port: 2201 });
    expect(hosts.get("cache-1")).toMatchObject({ user: "fallback", port: 6000 });
    expect(hosts.get("db-1")!.source).toBe(`${join(home, ".ssh/conf.d/10-db.conf")}:1`);
  });

  test("an Include whose pattern matches nothing, or whose directory is missing, is skipped as ssh skips it", async () => {
    const hosts = await load(["Include conf.d/*.none", "Include /nonexistent-dir/*.conf", "Include ~/missing/*", "Host web-1", "  Port 2022"].join("\n"));
    expect(hosts.get("web-1")).toMatchObject({ port: 2022 });
  });

  test("UserKnownHostsFile gives the host its known_hosts files; /dev/null and StrictHostKeyChecking no are noted, not followed", async () => {
    const hosts = await load(
      ["Host app", "  UserKnownHostsFile ~/.ssh/known_%h /etc/ssh/fleet_hosts", "Host lab", "  UserKnownHostsFile /dev/null", "  StrictHostKeyChecking accept-new", "Host plain", "  StrictHostKeyChecking yes"].join("\n"),
    );
    expect(hosts.get("app")).toMatchObject({ knownHostsFiles: ["~/.ssh/known_app", "/etc/ssh/fleet_hosts"] });
    expect(hosts.get("app")!.hostKeyNotes).toBeUndefined();
    expect(hosts.get("lab")!.knownHostsFiles).toBeUndefined();
    expect(hosts.get("lab")!.hostKeyNotes).toEqual([
      "config:5: StrictHostKeyChecking accept-new is not followed (opskit's defaults.hostKeyChecking decides)",
      "config:4: UserKnownHostsFile /dev/null is not followed (it would accept any host key)",
    ]);
    expect(hosts.get("plain")!.hostKeyNotes).toBeUndefined();
  });

  test("Match all and Match host apply; Match criteria that need a connection (exec, user) do not", async () => {
    const hosts = await load(
      ["Host web-1", "  HostName web-1.example.com", "Host db-1", "Match exec \"true\"", "  User never", "Match host *.example.com", "  User matched", "Match all", "  Port 2345"].join("\n"),
    );
    expect(hosts.get("web-1")).toMatchObject({ user: "matched", port: 2345 });
    expect(hosts.get("db-1")!.user).toBeUndefined();
    expect(hosts.get("db-1")!.port).toBe(2345);
  });

  test("a bad Port names file:line", async () => {
    await expect(load("Host a\n  Port http\n")).rejects.toThrow('config:2: Port "http" is not a port number');
  });
});
