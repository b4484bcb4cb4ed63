import { describe, expect, test } from "bun:test";
import { celDuration, celTimestamp, compileExpectations } from "./index.ts";

const variables = ["status", "duration", "body", "tls", "answers", "when"] as const;
const compile = async (source: string) => (await compileExpectations([source], () => "--expect #1", variables))[0]!;

describe("CEL expectations", () => {
  test("compare ints, durations, strings, timestamps and lists", async () => {
    const values = {
      status: 200n,
      duration: celDuration(120.5),
      body: { text: "all ok", json: { status: "UP", n: 3 } },
      tls: { expiresIn: celDuration(400 * 3_600_000) },
      answers: [{ data: "10.0.0.1" }, { data: "10.0.0.2" }],
      when: celTimestamp(new Date("2026-01-02T03:04:05Z")),
    };
    for (const source of [
      "status == 200",
      "status in [200, 204]",
      'duration < duration("300ms") && duration > duration("120ms")',
      'tls.expiresIn > duration("336h")',
      'body.text.contains("ok") && body.json.status == "UP" && body.json.n == 3',
      'answers.exists(a, a.data == "10.0.0.2") && answers.size() == 2',
      'when < timestamp("2026-06-01T00:00:00Z")',
    ]) {
      expect({ source, outcome: (await compile(source)).test(values) }).toEqual({ source, outcome: { passed: true } });
    }
    expect((await compile('duration > duration("1s")')).test(values)).toEqual({ passed: false, actual: "duration = 120.5ms" });
  });

  test("a syntax error is a usage error that points at the column", async () => {
    const failure = await compile("status = 200").catch((error: unknown) => error as { code: string; exitCode: number; message: string });
    expect(failure).toMatchObject({ code: "E_EXPR_SYNTAX", exitCode: 64 });
    expect((failure as { message: string }).message).toContain("  status = 200\n         ^");
  });

  test("an unknown name fails at compile time; names bound by macros are allowed", async () => {
    await expect(compile("stauts == 200")).rejects.toMatchObject({ code: "E_EXPR_UNKNOWN" });
    await expect(compile("answers.all(x, x.data != '')")).resolves.toBeDefined();
  });

  test("a variable this result lacks is named in the error", async () => {
    expect((await compile("body.text == 'x'")).test({ status: 200n })).toEqual({ passed: false, error: 'no value for "body" in this result' });
  });

  test("a non-boolean result is an error, not a pass", async () => {
    expect((await compile("status + 1")).test({ status: 200n })).toEqual({ passed: false, error: "expression gave an int, not true or false" });
  });
});

describe("CEL types checked at compile time", () => {
  const typed = { status: "int", duration: "duration", body: { fields: { text: "string", json: "dyn" } }, headers: { map: "string" }, answers: { list: "dyn" } } as const;
  const compileTyped = async (source: string) => (await compileExpectations([source], () => "--expect #1", typed))[0]!;
  const failure = (source: string) => compileTyped(source).then(
    () => undefined,
    (error: { code: string; exitCode: number; message: string; hint: string }) => ({ code: error.code, exitCode: error.exitCode, message: error.message, hint: error.hint }),
  );

  test("a mismatched comparison is a usage error (64) with a hint that writes it in the variable's type", async () => {
    expect(await failure('status == "200"')).toEqual({ code: "E_EXPR_TYPE", exitCode: 64, message: '--expect #1: status == "200" compares an int with a string', hint: 'status is an int: compare with 200, not "200"' });
    expect(await failure('duration < "300ms"')).toMatchObject({ code: "E_EXPR_TYPE", exitCode: 64, hint: 'duration is a duration: write duration("300ms"), not "300ms"' });
    expect(await failure("duration < 300")).toMatchObject({ hint: 'duration is a duration: write duration("300ms"), not 300' });
    expect(await failure('status == 200 && headers["x-ok"] == 1')).toEqual({
      code: "E_EXPR_TYPE",
      exitCode: 64,
      message: '--expect #1: headers["x-ok"] == 1 compares a string with an int in expression: status == 200 && headers["x-ok"] == 1',
      hint: 'headers["x-ok"] is a string: compare with "1", not 1',
    });
    expect(await failure("status")).toMatchObject({ code: "E_EXPR_TYPE", message: "--expect #1: status is an int, not true or false", hint: "an expectation must be a condition, e.g. status == 200" });
  });

  test("what the declared types allow compiles: numbers of any kind, conversions, dyn fields, macros", async () => {
    for (const source of ["status == 200", "status >= 200.0", 'duration < duration("1s") && duration + duration("1s") > duration("0s")', 'body.json.status == "UP" || body.json.n == 3', 'string(status) == "200"', 'body.text.size() > 0 && body.text.contains("ok")', "answers.exists(a, a.ttl > 5)", 'headers["content-type"].startsWith("text/")']) {
      expect({ source, problem: await failure(source) }).toEqual({ source, problem: undefined });
    }
  });

  test("a false expectation reports the values of the names it read", async () => {
    const expectation = await compileTyped('status == 200 && body.text.contains("ok") && headers["x-env"] == "prod"');
    expect(expectation.test({ status: 503n, body: { text: "unavailable" }, headers: { "x-env": "prod" } })).toEqual({
      passed: false,
      actual: 'status = 503, body.text = "unavailable", headers["x-env"] = "prod"',
    });
  });
});
