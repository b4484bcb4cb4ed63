import { expect, test } from "bun:test";
import { registerSecret } from "../observe/index.ts";
import { commandEnvironment } from "./environment.ts";

const env = { PATH: "/bin", HOME: "/home/ops", LC_TIME: "C", AWS_PROFILE: "prod", OPSKIT_TOKEN: "tok-0123456789", DB_URL: "postgres://u:envtest-pass-55@db/x", HOOK: "envtest-hook-77" };

test("a command starts from the minimal base plus what its step declares", () => {
  expect(commandEnvironment({ MODE: "fast" }, "minimal", env)).toEqual({ PATH: "/bin", HOME: "/home/ops", LC_TIME: "C", MODE: "fast" });
  expect(commandEnvironment({}, "minimal", {}).PATH).toContain("/usr/bin");
});

test("inherit keeps the caller's environment minus opskit's variables and any variable holding a resolved secret", () => {
  registerSecret("envtest-pass-55");
  registerSecret("envtest-hook-77", "HOOK");
  expect(commandEnvironment({}, "inherit", env)).toEqual({ PATH: "/bin", HOME: "/home/ops", LC_TIME: "C", AWS_PROFILE: "prod" });
});
