import { describe, expect, test } from "bun:test";
import type { Action } from "../actions/index.ts";
import type { Permissions } from "../config/index.ts";
import { compilePermissions, type Policy } from "./index.ts";

const local = { name: "local", labels: {}, groups: [] };
const api = { name: "api-1", labels: { role: "api" }, groups: [] };
const db = { name: "db-1", labels: { role: "db", env: "prod" }, groups: [] };

async function guardFor(permissions: Permissions | undefined, policy?: Partial<Policy>, adHoc = false) {
  const full: Policy | undefined = policy ? { source: "policy.yaml", deny: {}, require: { permissions: false }, ...policy } : undefined;
  const guard = await compilePermissions("deploy", permissions, full, { baseDir: "/srv/ops", where: (key) => `opskit.yaml:9:7 (${key})`, adHoc });
  return guard!;
}

describe("compilePermissions", () => {
  test("nothing to check without permissions or a policy", async () => {
    expect(await compilePermissions("deploy", undefined, undefined, { baseDir: "/", where: () => "" })).toBeUndefined();
  });

  test("a declared workflow may run only what it lists, and says what it allows", async () => {
    const guard = await guardFor({ commands: ["systemctl restart api", "journalctl *"], hosts: "role=api" });
    expect(await guard("ssh", { command: "journalctl -u api" }, api)).toBeUndefined();
    const denied = await guard("ssh", { command: "rm -rf /var" }, api);
    expect(denied?.code).toBe("E_POLICY_DENIED");
    expect(denied?.exitCode).toBe(2);
    expect(denied?.message).toBe(`ssh command "rm -rf /var" is not in permissions.commands of workflow deploy (allowed: 'systemctl restart api', 'journalctl *')`);
    expect(denied?.denial).toEqual({ workflow: "deploy", kind: "commands", by: "workflow", rule: "permissions.commands" });
  });

  test("undeclared categories allow nothing", async () => {
    const guard = await guardFor({ hosts: "" });
    expect((await guard("exec", { command: "uptime" }, local))?.message).toContain("(none allowed)");
    expect((await guard("http", { url: "https://example.com/" }, local))?.denial.kind).toBe("http");
    const noHosts = await guardFor({ commands: ["*"] });
    expect((await noHosts("exec", { command: "uptime" }, local))?.message).toBe("target local is not in permissions.hosts of workflow deploy (none declared)");
  });

  test("templated values match as the shell reads them, quoting removed, and ssh env stays out of the way", async () => {
    const guard = await guardFor({ commands: ["systemctl restart api"], hosts: "" });
    expect(await guard("ssh", { command: "systemctl restart 'api'" }, api)).toBeUndefined();
    expect(await guard("ssh", { command: "export LEVEL='debug' ; systemctl restart 'api'" }, api)).toBeUndefined();
    expect(await guard("ssh", { command: "systemctl restart 'api; rm -rf /'" }, api)).toBeDefined();
  });

  test("sudo needs permissions.sudo, and the policy's deny.sudo beats it", async () => {
    const commands = ["sudo systemctl restart api"];
    const without = await guardFor({ commands, hosts: "" });
    expect((await without("ssh", { command: "sudo systemctl restart api" }, api))?.message).toBe(
      `ssh command "sudo systemctl restart api" uses sudo, and workflow deploy does not allow it (permissions.sudo is not true)`,
    );
    const withSudo = await guardFor({ commands, hosts: "", sudo: true });
    expect(await withSudo("ssh", { command: "sudo systemctl restart api" }, api)).toBeUndefined();
    const policy = await guardFor({ commands, hosts: "", sudo: true }, { deny: { sudo: true } });
    expect((await policy("ssh", { command: "sudo systemctl restart api" }, api))?.message).toBe(`ssh command "sudo systemctl restart api" uses sudo, denied by policy.yaml deny.sudo`);
  });

  test("policy denials win over the workflow's allowances, and apply to workflows without permissions", async () => {
    const policy = { deny: { commands: ["rm -rf *"], hosts: "env=prod", http: ["https://paste.example/*"] } };
    const declared = await guardFor({ commands: ["*"], hosts: "", http: ["*"] }, policy);
    expect((await declared("exec", { command: "rm -rf /var" }, local))?.message).toBe(`exec command "rm -rf /var" denied by policy.yaml deny.commands 'rm -rf *'`);
    expect((await declared("exec", { command: "uptime" }, db))?.message).toBe("target db-1 denied by policy.yaml deny.hosts 'env=prod'");
    const open = await guardFor(undefined, policy);
    expect(await open("exec", { command: "uptime" }, local)).toBeUndefined();
    expect((await open("http", { url: "HTTPS://PASTE.example/x" }, local))?.denial).toEqual({ workflow: "deploy", kind: "http", by: "policy", rule: "deny.http 'https://paste.example/*'" });
  });

  test("require.permissions refuses workflows without them, but not ad-hoc commands", async () => {
    const refused = await guardFor(undefined, { require: { permissions: true } });
    expect((await refused("exec", { command: "uptime" }, local))?.message).toBe("workflow deploy declares no permissions, and policy.yaml require.permissions requires every workflow to");
    const adHoc = await guardFor(undefined, { require: { permissions: true } }, true);
    expect(await adHoc("exec", { command: "uptime" }, local)).toBeUndefined();
  });

  test("scripts are checked as interpreter, path relative to the config, and quoted args; waits by what they poll", async () => {
    const guard = await guardFor({ commands: ["/bin/sh scripts/restart.sh *"], http: ["http://127.0.0.1:*"], hosts: "" });
    expect(await guard("script", { path: "/srv/ops/scripts/restart.sh", interpreter: "/bin/sh", args: ["api", "fast mode"] }, api)).toBeUndefined();
    expect((await guard("script", { path: "/srv/ops/scripts/wipe.sh", interpreter: "/bin/sh", args: [] }, api))?.message).toContain(`script command "/bin/sh scripts/wipe.sh"`);
    const wait = (kind: string, inner: unknown) => ({ action: { kind }, inner });
    expect(await guard("wait", wait("http", { url: "http://127.0.0.1:8080/health" }), api)).toBeUndefined();
    expect((await guard("wait", wait("probe", { url: "https://example.com/" }), api))?.message).toContain(`wait probe URL "https://example.com/" is not in permissions.http`);
    expect(await guard("copy", { src: "a", dest: "/etc/a", mode: 0o644 }, api)).toBeUndefined();
  });

  test("a notify URL given as a secret is checked resolved, and shown without its path", async () => {
    process.env.OPSKIT_TEST_POLICY_HOOK = "https://hooks.example/services/T0/B0/s3cr3t";
    const guard = await guardFor({ hosts: "", http: ["https://chat.example/*"] });
    const denied = await guard("notify", { url: "env:OPSKIT_TEST_POLICY_HOOK", body: {}, headers: {} }, local);
    expect(denied?.message).toBe(`notify URL "env:OPSKIT_TEST_POLICY_HOOK (https://hooks.example/…)" is not in permissions.http of workflow deploy (allowed: 'https://chat.example/*')`);
    expect(denied?.message).not.toContain("s3cr3t");
  });

  test("every action in the registry says what it touches, and the guard reads it from there: a new action needs no edit here", async () => {
    const { actions } = await import("../actions/index.ts");
    const registry = actions as Record<string, Action<any, any>>;
    for (const action of Object.values(registry)) expect({ kind: action.kind, subjects: typeof action.subjects }).toEqual({ kind: action.kind, subjects: "function" });
    registry.kubectl = { ...registry.exec!, kind: "kubectl", subjects: (rendered: { args: string }) => [{ category: "commands", label: "kubectl command", command: `kubectl ${rendered.args}` }] };
    try {
      const guard = await guardFor(undefined, { deny: { commands: ["kubectl delete *"] } });
      expect((await guard("kubectl", { args: "delete ns prod" }, local))?.message).toBe(`kubectl command "kubectl delete ns prod" denied by policy.yaml deny.commands 'kubectl delete *'`);
      expect(await guard("kubectl", { args: "get pods" }, local)).toBeUndefined();
    } finally {
      delete registry.kubectl;
    }
  });

  test("a bad hosts selector is a config error at its position", async () => {
    await expect(guardFor({ hosts: "role in api" })).rejects.toMatchObject({ code: "E_POLICY_SELECTOR", message: expect.stringContaining("opskit.yaml:9:7 (hosts)") });
  });
});
