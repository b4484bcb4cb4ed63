import { expect, test } from "bun:test";
import { configError, describeError } from "./errors.ts";
import { registerSecret } from "./observe/index.ts";

test("an error printed for a person has the registered secrets masked, in its message and its hint", () => {
  registerSecret("errors-test-secret-91c4");
  const error = configError("E_EXAMPLE", "upstream said: bad token errors-test-secret-91c4", "check errors-test-secret-91c4");
  expect(describeError(error)).toBe("upstream said: bad token ***\n  hint: check ***");
  expect(describeError(new Error("plain errors-test-secret-91c4"))).toBe("plain ***");
});
