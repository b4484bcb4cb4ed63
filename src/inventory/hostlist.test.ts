import { describe, expect, test } from "bun:test";
import { hostListSource } from "./hostlist.ts";

const load = (text: string) => hostListSource.load(text, { file: "/p/hosts.txt", display: "hosts.txt", homeDir: "/home/u", env: {}, readText: () => Promise.reject(new Error("unused")) });

describe("host list source", () => {
  test("reads [user@]host[:port] per line, skipping blanks and # comments", async () => {
    const hosts = await load(["# workers", "worker-1", "", "ops@worker-2:2222  # the odd one", "worker-3:22", "admin@[2001:db8::7]:2200", "10.0.0.4"].join("\n"));
    expect(hosts.map(({ name, user, port, source }) => ({ name, user, port, source }))).toEqual([
      { name: "worker-1", user: undefined, port: undefined, source: "hosts.txt:2" },
      { name: "worker-2", user: "ops", port: 2222, source: "hosts.txt:4" },
      { name: "worker-3", user: undefined, port: 22, source: "hosts.txt:5" },
      { name: "2001:db8::7", user: "admin", port: 2200, source: "hosts.txt:6" },
      { name: "10.0.0.4", user: undefined, port: undefined, source: "hosts.txt:7" },
    ]);
  });

  test("a line that is not a host names file:line, the column and the expected form", async () => {
    await expect(load("worker-1\nworker 2\n")).rejects.toThrow('hosts.txt:2: column 7 of "worker 2": " " cannot be part of a host');
    await expect(load("worker-1:99999\n")).rejects.toThrow('hosts.txt:1: column 1 of "worker-1:99999": port 99999 of "worker-1:99999" is out of range');
    await expect(load("a\n  web[01-4\n")).rejects.toThrow('hosts.txt:2: column 6 of "web[01-4": "[" is not closed');
  });

  test("a line may be a host pattern: ranges, lists and steps as ClusterShell writes them", async () => {
    const hosts = await load(["web[01-03].example.com  # the web tier", "ops@db[1,3]:2222", "n[1-10/4]"].join("\n"));
    expect(hosts.map(({ name, user, port, source }) => ({ name, user, port, source }))).toEqual([
      { name: "web01.example.com", user: undefined, port: undefined, source: "hosts.txt:1" },
      { name: "web02.example.com", user: undefined, port: undefined, source: "hosts.txt:1" },
      { name: "web03.example.com", user: undefined, port: undefined, source: "hosts.txt:1" },
      { name: "db1", user: "ops", port: 2222, source: "hosts.txt:2" },
      { name: "db3", user: "ops", port: 2222, source: "hosts.txt:2" },
      { name: "n1", user: undefined, port: undefined, source: "hosts.txt:3" },
      { name: "n5", user: undefined, port: undefined, source: "hosts.txt:3" },
      { name: "n9", user: undefined, port: undefined, source: "hosts.txt:3" },
    ]);
  });
});
