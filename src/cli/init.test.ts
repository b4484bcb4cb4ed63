import { describe, expect, test } from "bun:test";
import { parse } from "yaml";
import { hostileValues } from "../../test/harness/hostile.ts";
import { sshConfigHosts, starterConfig } from "./init.ts";

describe("sshConfigHosts", () => {
  test("concrete Host names with their own block's HostName, User and Port, first value winning; patterns, negations and Match blocks skipped", () => {
    const text = [
      "# comment",
      "Host *",
      "  User everyone",
      "Host a b",
      "  HostName 10.0.0.1",
      "  HostName 10.0.0.2",
      "Host c* !d ?e",
      "  User pattern",
      "host b",
      "  user=bee",
      "  PORT 2200",
      "Match host a",
      "  User matched",
    ].join("\n");
    expect(sshConfigHosts(text)).toEqual([
      { name: "a", hostName: "10.0.0.1" },
      { name: "b", hostName: "10.0.0.1", user: "bee", port: "2200" },
    ]);
  });

  test("no Host entries: none", () => {
    expect(sshConfigHosts("")).toEqual([]);
    expect(sshConfigHosts("Host *\n  ForwardAgent no\n")).toEqual([]);
  });
});

describe("starterConfig", () => {
  test("host names and addresses YAML would read as another type stay strings", () => {
    const config = parse(starterConfig([{ name: "yes", hostName: "1.10" }, { name: "0022", hostName: "null", user: "on", port: "x" }], "~/.ssh/config"));
    expect(config.inventory.hosts).toEqual({ yes: { address: "1.10" }, "0022": { address: "null", user: "on" } });
    expect(Object.keys(config)).toEqual(["defaults", "inventory", "checks", "workflows", "rules"]);
  });

  test("hostile values from an ssh config read back as the same strings, adding no keys", () => {
    // An empty User says nothing and is left out; every other value is kept as it is.
    for (const { name, value } of hostileValues.filter((entry) => entry.value !== "")) {
      const config = parse(starterConfig([{ name: value, hostName: value, user: value }], "~/.ssh/config"));
      expect({ name, hosts: config.inventory.hosts }).toEqual({ name, hosts: { [value]: { address: value, user: value } } });
      expect(Object.keys(config)).toEqual(["defaults", "inventory", "checks", "workflows", "rules"]);
    }
  });
});
