import { describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPolicy } from "./index.ts";

describe("loadPolicy", () => {
  test("reads deny and require, and points at file:line:col when it is wrong", async () => {
    const dir = await mkdtemp(join(tmpdir(), "opskit-policy-"));
    try {
      await writeFile(join(dir, "policy.yaml"), "deny:\n  commands: ['rm -rf *']\n  sudo: true\nrequire: { permissions: true }\n");
      const { where, ...policy } = await loadPolicy("policy.yaml", dir);
      expect(policy).toEqual({ source: "policy.yaml", deny: { commands: ["rm -rf *"], sudo: true }, require: { permissions: true } });
      expect(where?.(["deny", "sudo"])).toBe("policy.yaml:3:9");
      await writeFile(join(dir, "empty.yaml"), "# nothing denied yet\n");
      const { where: _, ...empty } = await loadPolicy("empty.yaml", dir);
      expect(empty).toEqual({ source: "empty.yaml", deny: {}, require: { permissions: false } });
      await writeFile(join(dir, "bad.yaml"), "deny:\n  comands: ['rm *']\n");
      await expect(loadPolicy("bad.yaml", dir)).rejects.toMatchObject({ code: "E_CONFIG_FIELD", message: expect.stringContaining("bad.yaml:2:3") });
      await writeFile(join(dir, "hosts.yaml"), "deny:\n  hosts: 'env in prod'\n");
      await expect(loadPolicy("hosts.yaml", dir)).rejects.toMatchObject({ code: "E_POLICY_SELECTOR", message: expect.stringContaining("hosts.yaml:2:10") });
      await expect(loadPolicy("missing.yaml", dir)).rejects.toMatchObject({ code: "E_POLICY_READ" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
