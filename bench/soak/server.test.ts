import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flapSchedule } from "./flaps.ts";
import { parseMetrics, soakConfig } from "./server.ts";

const root = new URL("../..", import.meta.url).pathname;

describe("soak server", () => {
  test("the figures are read from a /metrics text: event-loop p99 and max, checks down, incidents, remediations", () => {
    const text = [
      "# HELP opskit_nodejs_eventloop_lag_p99_seconds The 99th percentile of the recorded event loop delays.",
      "# TYPE opskit_nodejs_eventloop_lag_p99_seconds gauge",
      "opskit_nodejs_eventloop_lag_p99_seconds 0.0123",
      "opskit_nodejs_eventloop_lag_max_seconds 0.0456",
      'opskit_check_up{check="c0001"} 1',
      'opskit_check_up{check="c0050"} 0',
      'opskit_check_up{check="c0002"} 1',
      'opskit_incidents_opened_total{rule="soak-restart"} 7',
      'opskit_incidents_opened_total{rule="none"} 1',
      'opskit_incidents_resolved_total{how="alert"} 5',
      'opskit_remediations_total{rule="soak-restart",status="succeeded"} 6',
      'opskit_remediations_total{rule="soak-restart",status="failed"} 1',
      "",
    ].join("\n");
    const sample = parseMetrics(text);
    expect(sample.lagP99Seconds).toBe(0.0123);
    expect(sample.lagMaxSeconds).toBe(0.0456);
    expect(sample.down).toEqual(["c0050"]);
    expect(sample.reported).toBe(3);
    expect(sample.incidentsOpened).toBe(8);
    expect(sample.incidentsResolved).toBe(5);
    expect(sample.remediations).toEqual({ succeeded: 6, failed: 1 });
  });

  test("the config is one check per endpoint, the flapping ones labelled for the rule, and opskit validate accepts it", () => {
    const yaml = soakConfig(flapSchedule(200), [1111, 2222]);
    expect(yaml.match(/^ {2}- \{ name: c\d{4}/gm)).toHaveLength(200);
    expect(yaml.match(/^ {2}- \{ name: c\d{4}.*flap: "yes"/gm)).toHaveLength(2);
    expect(yaml).toContain('probe: "http://127.0.0.1:2222/c/1"');
    const dir = mkdtempSync(join(tmpdir(), "opskit-soak-config-"));
    try {
      writeFileSync(join(dir, "opskit.yaml"), yaml);
      const validate = Bun.spawnSync([process.execPath, `${root}/src/cli/main.ts`, "validate", "-c", dir], { env: { ...process.env, OPSKIT_SOAK_TOKEN: "t".repeat(32), NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
      expect(`${validate.exitCode} ${validate.stderr.toString()}`).toBe("0 ");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
