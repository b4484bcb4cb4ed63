import { expect, test } from "bun:test";
import { loadTestConfig } from "../../test/harness/config.ts";
import { ExitCode, isOpsError } from "../errors.ts";

async function loadError(schedule: string): Promise<{ message: string; exitCode: number }> {
  const yaml = `workflows:\n  tick:\n    schedule: ${schedule}\n    steps: [{ exec: "true" }]\n`;
  try {
    const made = await loadTestConfig(yaml);
    made.remove();
  } catch (error) {
    if (!isOpsError(error)) throw error;
    return { message: error.message, exitCode: error.exitCode };
  }
  throw new Error(`schedule: ${schedule} loaded`);
}

test("a cron expression with the wrong number of fields fails at load, at its file:line:col", async () => {
  const error = await loadError(`{ cron: "* * * *" }`);
  expect(error.exitCode).toBe(ExitCode.config);
  expect(error.message).toBe(`opskit.yaml:3:23: workflows.tick.schedule.cron: "* * * *" has 4 fields: a cron expression has five fields (minute hour day month weekday), or six with seconds first, e.g. "*/5 * * * *"`);
});

test("a field out of range, a zero step and a date that never comes fail at load, in the shorthand too", async () => {
  expect((await loadError(`"61 * * * *"`)).message).toBe(`opskit.yaml:3:15: workflows.tick.schedule: "61 * * * *" is not a cron expression: invalid value for minute: 61`);
  expect((await loadError(`"*/0 * * * * *"`)).message).toContain("illegal stepping");
  expect((await loadError(`{ cron: "0 0 30 2 *" }`)).message).toBe(`opskit.yaml:3:23: workflows.tick.schedule.cron: "0 0 30 2 *" never matches a date`);
});

test("an unknown time zone, a bad jitter and unknown choices fail at load", async () => {
  expect((await loadError(`{ cron: "* * * * *", timezone: Mars/Olympus }`)).message).toBe(`opskit.yaml:3:46: workflows.tick.schedule.timezone: an IANA time zone such as "UTC" or "Europe/Paris"`);
  expect((await loadError(`{ cron: "* * * * *", jitter: soon }`)).message).toMatch(/^opskit\.yaml:3:\d+: workflows\.tick\.schedule\.jitter: invalid value "soon": expected a duration/);
  expect((await loadError(`{ cron: "* * * * *", missed: always }`)).message).toMatch(/^opskit\.yaml:3:\d+: workflows\.tick\.schedule\.missed: "always" is not allowed/);
  expect((await loadError(`{ cron: "* * * * *", concurrency: queue }`)).message).toMatch(/^opskit\.yaml:3:\d+: workflows\.tick\.schedule\.concurrency: "queue" is not allowed/);
});

test("five and six fields, nicknames and every setting load", async () => {
  const made = await loadTestConfig(`workflows:
  a: { schedule: "*/5 * * * *", steps: [{ exec: "true" }] }
  b: { schedule: "*/2 * * * * *", steps: [{ exec: "true" }] }
  c: { schedule: "@daily", steps: [{ exec: "true" }] }
  d:
    schedule: { cron: "0 3 * * MON-FRI", timezone: America/New_York, jitter: 5m, concurrency: allow, missed: once }
    steps: [{ exec: "true" }]
`);
  try {
    expect(made.loaded.config.workflows.d!.schedule).toEqual({ cron: "0 3 * * MON-FRI", timezone: "America/New_York", jitter: "5m", concurrency: "allow", missed: "once" });
    expect(made.loaded.config.workflows.a!.schedule).toBe("*/5 * * * *");
  } finally {
    made.remove();
  }
});
