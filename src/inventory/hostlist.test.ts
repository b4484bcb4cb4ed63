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

  test("a line that is not a host names file:line and the expected form", async () => {
    await expect(load("worker-1\nworker 2\n")).rejects.toThrow('hosts.txt:2: cannot read "worker 2" as a host');
    await expect(load("worker-1:99999\n")).rejects.toThrow("hosts.txt:1: port 99999 is out of range");
  });
});
