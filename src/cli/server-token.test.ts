import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadOrCreateToken } from "./server-token.ts";

const dir = mkdtempSync(join(tmpdir(), "opskit-token-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the first start creates a 0600 token and later starts read the same one", () => {
  const path = join(dir, "state", "server.token");
  const first = loadOrCreateToken(path);
  expect(first.created).toBe(true);
  expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(loadOrCreateToken(path)).toEqual({ token: first.token, created: false });
});

test("a token file that cannot be created is an error naming it and the fix, not a crash", () => {
  // A regular file where the state directory should be: no user, root included, can create it.
  const blocker = join(dir, "not-a-directory");
  writeFileSync(blocker, "");
  const path = join(blocker, "server.token");
  expect(() => loadOrCreateToken(path)).toThrow(expect.objectContaining({ code: "E_TOKEN_FILE", exitCode: 65, message: expect.stringContaining(path) }));
});
