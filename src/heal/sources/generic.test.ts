import { describe, expect, test } from "bun:test";
import { alertFingerprint } from "../alert.ts";
import { parseAlertmanagerPayload } from "./alertmanager.ts";
import { parseGenericPayload } from "./generic.ts";
import { MAX_ALERTS } from "./payload.ts";
import { amAlert, notification, thrown } from "./testing.ts";

describe("parseGenericPayload", () => {
  const now = Date.UTC(2026, 2, 29, 12, 0, 0);

  test("reads one alert object, with defaults for status and startsAt", () => {
    const alerts = parseGenericPayload({ labels: { alertname: "QueueBacklog", queue: "billing" }, annotations: { summary: "backlog" } }, now);
    expect(alerts).toEqual([
      {
        source: "generic",
        fingerprint: alertFingerprint({ alertname: "QueueBacklog", queue: "billing" }),
        status: "firing",
        labels: { alertname: "QueueBacklog", queue: "billing" },
        annotations: { summary: "backlog" },
        startsAt: now,
      },
    ]);
  });

  test("reads a list of alerts, keeping given times, fingerprints and status", () => {
    const alerts = parseGenericPayload(
      [
        { labels: { alertname: "A" }, startsAt: "2026-03-29T02:30:00.123+02:00", generatorURL: "http://grafana/d/1" },
        { labels: { alertname: "B" }, status: "resolved", startsAt: "2026-03-29T00:00:00Z", endsAt: "2026-03-29T00:05:00Z", fingerprint: "custom-1", extra: true },
      ],
      now,
    );
    expect(alerts).toHaveLength(2);
    expect(alerts[0]!.startsAt).toBe(Date.UTC(2026, 2, 29, 0, 30, 0, 123));
    expect(alerts[0]!.generatorURL).toBe("http://grafana/d/1");
    expect(alerts[1]).toMatchObject({ status: "resolved", fingerprint: "custom-1", endsAt: Date.UTC(2026, 2, 29, 0, 5) });
  });

  test("shares its fingerprint with the same alert through Alertmanager", () => {
    const labels = { alertname: "DiskFull", instance: "web-1", severity: "critical" };
    const [generic] = parseGenericPayload({ labels: { severity: "critical", instance: "web-1", alertname: "DiskFull" } }, now);
    const [viaAm] = parseAlertmanagerPayload(notification([amAlert("web-1", { labels })])).alerts;
    expect(generic!.fingerprint).toBe(viaAm!.fingerprint);
  });

  test("coerces number and boolean label values to strings", () => {
    const [alert] = parseGenericPayload({ labels: { alertname: "A", replicas: 3, canary: true }, annotations: { value: 0.5 } }, now);
    expect(alert!.labels).toEqual({ alertname: "A", replicas: "3", canary: "true" });
    expect(alert!.annotations).toEqual({ value: "0.5" });
  });

  test("rejects label values that are objects or null, naming them", () => {
    expect(thrown(() => parseGenericPayload({ labels: { alertname: "A", owner: { team: "x" } } }, now)).message).toBe("labels.owner: expected a string, got an object");
    expect(thrown(() => parseGenericPayload([{ labels: { alertname: "A" } }, { labels: { alertname: null } }], now)).message).toBe("[1].labels.alertname: expected a string, got null");
  });

  test("requires labels and an alertname", () => {
    const missingLabels = thrown(() => parseGenericPayload({ annotations: {} }, now));
    expect(missingLabels.message).toBe("labels: missing (expected an object of labels)");
    expect(missingLabels.code).toBe("E_ALERT_PAYLOAD");
    expect(missingLabels.hint).toContain("alertname");
    expect(thrown(() => parseGenericPayload([{ labels: { alertname: "A" } }, { labels: { service: "api" } }], now)).message).toBe("[1].labels.alertname: missing: every alert needs an alertname label");
    expect(thrown(() => parseGenericPayload({ labels: { alertname: "" } }, now)).message).toStartWith("labels.alertname: missing");
  });

  test("rejects malformed times and unknown statuses", () => {
    expect(thrown(() => parseGenericPayload({ labels: { alertname: "A" }, startsAt: "yesterday" }, now)).message).toBe('startsAt: not an RFC 3339 time: "yesterday"');
    expect(thrown(() => parseGenericPayload([{ labels: { alertname: "A" }, status: "ok" }], now)).message).toBe('[0].status: expected "firing" or "resolved", got "ok"');
  });

  test(`accepts up to ${MAX_ALERTS} alerts and rejects more`, () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ labels: { alertname: "A", i } }));
    expect(parseGenericPayload(many(MAX_ALERTS), now)).toHaveLength(MAX_ALERTS);
    expect(thrown(() => parseGenericPayload(many(MAX_ALERTS + 1), now)).message).toBe(`body: ${MAX_ALERTS + 1} alerts in one notification; the limit is ${MAX_ALERTS}`);
  });

  test("rejects a body that is neither an alert nor a list", () => {
    expect(thrown(() => parseGenericPayload("down", now)).message).toBe('body: expected an alert object, got "down"');
  });
});
