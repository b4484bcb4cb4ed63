import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import fc from "fast-check";
import { shellQuote } from "../expr/index.ts";
import { becomeCommand, becomeOn, becomePrefix, becomeRefusal, becomeRun, type Become } from "./become.ts";

// becomeCommand is judged by the real /bin/sh and the real sudo (as root, so
// no password is asked): whatever the command holds, the become shell runs
// exactly it, as the become user.

const sudo: Become = { user: "nobody", method: "sudo", flags: [] };

function runAsRoot(command: string): { stdout: string; code: number } {
  const child = Bun.spawnSync(["/bin/sh", "-c", command], { stdout: "pipe", stderr: "pipe" });
  return { stdout: child.stdout.toString(), code: child.exitCode ?? -1 };
}

describe("becomeCommand", () => {
  test("wraps the command as one quoted argument of the method's shell", () => {
    expect(becomeCommand(sudo, "id -un")).toBe("sudo -n -u 'nobody' -- /bin/sh -c 'id -un'");
    expect(becomeCommand({ user: "www-data", method: "doas", flags: ["-s"] }, "a'b")).toBe("doas -n '-s' -u 'www-data' -- /bin/sh -c 'a'\\''b'");
    expect(becomeCommand({ user: "postgres", method: "su", flags: [] }, "psql")).toBe("su -s /bin/sh -c 'psql' 'postgres'");
    expect(becomePrefix({ user: "root", method: "sudo", flags: ["-H"] })).toBe("sudo -n -H -u root --");
  });

  const canSudo = process.getuid?.() === 0 && existsSync("/usr/bin/sudo");
  if (!canSudo && process.env.CI === "true") throw new Error("these tests need root and /usr/bin/sudo: sh scripts/setup.sh installs sudo");

  test.skipIf(!canSudo)("any text, as a command that prints it, reaches the become shell byte for byte and runs as the become user", () => {
    expect(runAsRoot(becomeCommand(sudo, "id -un")).stdout.trim()).toBe("nobody");
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }).filter((s) => !s.includes("\0")), (text) => {
        const printed = runAsRoot(becomeCommand(sudo, `printf '%s' ${shellQuote(text)}`));
        expect(printed).toEqual({ stdout: Buffer.from(text).toString(), code: 0 });
      }),
      { numRuns: 60 },
    );
  });

  test.skipIf(!canSudo)("becomeRun: the command as the shell's input (its own input empty), or as $1 keeping the input given", () => {
    const run = ([command, options]: ReturnType<typeof becomeRun>) => {
      const child = Bun.spawnSync(["/bin/sh", "-c", command], { stdin: new TextEncoder().encode(String(options.stdin ?? "")), stdout: "pipe" });
      return `${child.stdout.toString()}#${child.exitCode}`;
    };
    const options = { timeoutMs: 5000, signal: new AbortController().signal, maxOutputBytes: 4096 };
    expect(run(becomeRun(sudo, "printf '%s|' \"$(id -un)\"; cat; echo end", options))).toBe("nobody|end\n#0");
    expect(run(becomeRun(sudo, "printf '%s|' \"$(id -un)\"; cat; exit 3", { ...options, stdin: "input'$(x)" }))).toBe("nobody|input'$(x)#3");
    expect(run(becomeRun(sudo, "exit 7", options))).toBe("#7");
  });

  test("a method's password prompt is a refusal; the command's own failure is not", () => {
    expect(becomeRefusal(sudo, "web-1", 1, "sudo: a password is required\n")?.code).toBe("E_BECOME_PASSWORD");
    expect(becomeRefusal(sudo, "web-1", 1, "deploy is not in the sudoers file.\n")?.hint).toContain("NOPASSWD");
    expect(becomeRefusal({ ...sudo, method: "su" }, "web-1", 1, "su: Authentication failure\n")?.message).toContain("su on web-1");
    expect(becomeRefusal(sudo, "web-1", 2, "grep: no such file\n")).toBeUndefined();
    expect(becomeRefusal(sudo, "web-1", 0, "sudo: a password is required\n")).toBeUndefined();
  });
});

describe("becomeOn", () => {
  test("the step's (or workflow's) user and method, then the host's, then defaults.becomeMethod, sudo and root; flags follow the method chosen", () => {
    const defaults = { method: "doas" as const, flags: { sudo: ["-H"], doas: ["-s"] } };
    expect(becomeOn({ defaults }, undefined)).toEqual({ user: "root", method: "doas", flags: ["-s"] });
    expect(becomeOn({}, undefined)).toEqual({ user: "root", method: "sudo", flags: [] });
    expect(becomeOn({ defaults }, { user: "postgres", method: "sudo" })).toEqual({ user: "postgres", method: "sudo", flags: ["-H"] });
    expect(becomeOn({ user: "nobody", defaults }, { user: "postgres", method: "sudo" })).toEqual({ user: "nobody", method: "sudo", flags: ["-H"] });
    expect(becomeOn({ method: "su", defaults }, { user: "postgres", method: "sudo" })).toEqual({ user: "postgres", method: "su", flags: [] });
  });
});
