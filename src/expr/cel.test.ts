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
    expect((await compile('duration > duration("1s")')).test(values)).toEqual({ passed: false });
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
