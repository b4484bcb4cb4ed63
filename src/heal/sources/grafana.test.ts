import { describe, expect, test } from "bun:test";
import { parseGrafanaPayload } from "./grafana.ts";
import { MAX_ALERTS } from "./payload.ts";
import { grafanaNotification, thrown } from "./testing.ts";

function grafanaAlert(queue: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    status: "firing",
    labels: { alertname: "QueueBacklog", grafana_folder: "billing", queue },
    annotations: { summary: `backlog on ${queue}` },
    startsAt: "2026-03-29T02:30:00.123456789+02:00",
    endsAt: "0001-01-01T00:00:00Z",
    generatorURL: "http://grafana:3000/alerting/grafana/aeq1xyz/view",
    fingerprint: "5d5d3b8f2b0c1a77",
    silenceURL: "http://grafana:3000/alerting/silence/new?matcher=queue%3Dbilling",
    dashboardURL: "",
    panelURL: "",
    values: { B: 1250, C: 1 },
    valueString: "[ var='B' labels={queue=billing} value=1250 ]",
    ...extra,
  };
}

describe("parseGrafanaPayload", () => {
  test("returns every alert with Grafana's fingerprint and times, ignoring Grafana's own fields", () => {
    const alerts = parseGrafanaPayload(grafanaNotification([grafanaAlert("billing"), grafanaAlert("search", { fingerprint: "0f0f0f0f0f0f0f0f" })]));
    expect(alerts).toHaveLength(2);
    expect(alerts[0]).toEqual({
      source: "grafana",
      fingerprint: "5d5d3b8f2b0c1a77",
      status: "firing",
      labels: { alertname: "QueueBacklog", grafana_folder: "billing", queue: "billing" },
      annotations: { summary: "backlog on billing" },
      startsAt: Date.UTC(2026, 2, 29, 0, 30, 0, 123),
      generatorURL: "http://grafana:3000/alerting/grafana/aeq1xyz/view",
    });
    expect(alerts[1]!.fingerprint).toBe("0f0f0f0f0f0f0f0f");
  });

  test("reads a resolved alert with its end time", () => {
    const [alert] = parseGrafanaPayload(grafanaNotification([grafanaAlert("billing", { status: "resolved", endsAt: "2026-03-29T00:41:07Z" })], { state: "ok" }));
    expect(alert).toMatchObject({ status: "resolved", endsAt: Date.UTC(2026, 2, 29, 0, 41, 7) });
  });

  test("refuses an Alertmanager body, a legacy dashboard alert and a missing version, saying what it reads", () => {
    expect(thrown(() => parseGrafanaPayload(grafanaNotification([], { version: "4" }))).message).toBe('version: Grafana Alerting webhook version "4" is not supported; opskit reads version "1"');
    const legacy = { title: "[Alerting] CPU", ruleId: 1, ruleName: "CPU", state: "alerting", evalMatches: [{ value: 100, metric: "cpu", tags: {} }], message: "hot" };
    const error = thrown(() => parseGrafanaPayload(legacy));
    expect(error.code).toBe("E_ALERT_PAYLOAD");
    expect(error.message).toContain("legacy dashboard alerting");
    const { version: _version, ...unversioned } = grafanaNotification([]);
    expect(thrown(() => parseGrafanaPayload(unversioned)).message).toStartWith("version: missing");
  });

  test("names the alert and field of a bad value", () => {
    expect(thrown(() => parseGrafanaPayload(grafanaNotification([grafanaAlert("a"), grafanaAlert("b", { startsAt: "soon" })]))).message).toBe('alerts[1].startsAt: not an RFC 3339 time: "soon"');
    expect(thrown(() => parseGrafanaPayload(grafanaNotification([grafanaAlert("a", { labels: { alertname: "A", n: 3 } })]))).message).toBe("alerts[0].labels.n: expected a string, got number 3");
  });

  test(`refuses more than ${MAX_ALERTS} alerts before reading any`, () => {
    const many = Array.from({ length: MAX_ALERTS + 1 }, () => ({}));
    expect(thrown(() => parseGrafanaPayload(grafanaNotification(many))).message).toBe(`alerts: ${MAX_ALERTS + 1} alerts in one notification; the limit is ${MAX_ALERTS}`);
  });
});
